//! Follow-up delivery (P3): items wait in the outbox table; a notifier hands them on.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use meetdesk_store::outbox::{self, OutboxItem};

use crate::state::AppState;

/// Delivers one follow-up. Implementations must be safe to retry.
pub trait Notifier: Send + Sync + 'static {
    fn deliver(&self, item: &OutboxItem) -> impl std::future::Future<Output = Result<(), String>> + Send;
}

/// Sends follow-ups by e-mail over SMTP.
pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpNotifier {
    /// `url` as lettre reads it, e.g. `smtp://user:pass@mail.example.com:587?tls=required`.
    pub fn new(url: &str, from: &str) -> anyhow::Result<SmtpNotifier> {
        Ok(SmtpNotifier {
            transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.build(),
            from: from.parse()?,
        })
    }
}

impl Notifier for SmtpNotifier {
    async fn deliver(&self, item: &OutboxItem) -> Result<(), String> {
        let Some(to) = &item.recipient else { return Ok(()) };
        let to: Mailbox = to.parse().map_err(|e| format!("bad recipient: {e}"))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&item.subject)
            .body(item.body.clone())
            .map_err(|e| e.to_string())?;
        self.transport.send(email).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

const MAX_ATTEMPTS: i64 = 5;

/// Drains the outbox through `notifier` whenever something is added (and every 30 s for retries).
pub async fn run(state: AppState, notifier: impl Notifier) {
    loop {
        let pending = match state.store.conn().await {
            Ok(mut db) => outbox::pending(&mut db, MAX_ATTEMPTS, 50).await.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        for item in &pending {
            let claimed = match state.store.conn().await {
                Ok(mut db) => outbox::claim(&mut db, item).await.unwrap_or(false),
                Err(_) => false,
            };
            if !claimed {
                continue;
            }
            let result = notifier.deliver(item).await;
            if let Ok(mut db) = state.store.conn().await {
                let _ = match &result {
                    Ok(()) => outbox::mark_sent(&mut db, &item.id, state.clock.now_ms()).await,
                    Err(e) => outbox::mark_failed(&mut db, &item.id, e).await,
                };
            }
            if let Err(e) = result {
                tracing::warn!(outbox_id = %item.id, error = %e, "follow-up not delivered; will retry");
            }
        }
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(30), state.outbox_changed.notified()).await;
    }
}
