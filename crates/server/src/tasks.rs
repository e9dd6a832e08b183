//! Background work of a node: ring deadlines, presence heartbeats, event-log pruning, and on
//! PostgreSQL the LISTEN that wakes the event dispatcher when another node wrote events.

use std::time::Duration;

use meetdesk_store::{events, meets, presence, Backend};

use crate::state::AppState;

/// Longest the deadline sweeper sleeps without looking: bounds how late a ring ends when the
/// node that would have ended it died.
const SWEEP_MAX_SLEEP_MS: i64 = 1_000;

/// Ends rings and waits at their deadlines, from the deadlines stored in the database (so a
/// restarted node, or another node, ends them on time).
pub async fn deadlines(state: AppState) {
    loop {
        let now = state.clock.now_ms();
        // A read connection: polling must not queue behind (or hold up) writes.
        let (due, next) = match state.store.read_conn().await {
            Ok(mut db) => {
                let due = meets::due(&mut db, now, 100).await.unwrap_or_default();
                let next = meets::next_deadline(&mut db).await.ok().flatten();
                (due, next)
            }
            Err(_) => (Vec::new(), None),
        };
        for id in &due {
            if let Err(e) = crate::meeting::expire(&state, id).await {
                tracing::warn!(meet_id = %id, error = ?e, "could not apply a meet deadline");
            }
        }
        if due.len() == 100 {
            continue;
        }
        let wait = next.map_or(SWEEP_MAX_SLEEP_MS, |t| (t - now).clamp(0, SWEEP_MAX_SLEEP_MS));
        if wait == 0 && !due.is_empty() {
            continue;
        }
        let _ = tokio::time::timeout(
            Duration::from_millis(wait.max(1) as u64),
            state.deadlines_changed.notified(),
        )
        .await;
    }
}

pub async fn presence_heartbeat(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(20));
    loop {
        tick.tick().await;
        let now = state.clock.now_ms();
        if let Ok(mut db) = state.store.conn().await {
            let _ = presence::heartbeat(&mut db, &state.node_id, now).await;
            let _ = presence::sweep(&mut db, now - 5 * 60_000).await;
        }
    }
}

/// Events are kept a day; clients further behind get a resync.
pub async fn prune_events(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Ok(mut db) = state.store.conn().await {
            let _ = events::prune(&mut db, state.clock.now_ms() - 24 * 3_600_000).await;
        }
    }
}

/// PostgreSQL: wake the dispatcher on every commit of any node.
pub async fn listen(state: AppState) {
    if state.store.backend() != Backend::Postgres {
        return;
    }
    loop {
        match sqlx::postgres::PgListener::connect(state.store.url()).await {
            Ok(mut listener) => {
                if listener.listen(meetdesk_store::EVENTS_CHANNEL).await.is_ok() {
                    // Whatever was missed while not listening.
                    state.hub.wake();
                    while listener.recv().await.is_ok() {
                        state.hub.wake();
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "LISTEN connection failed; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Longest the call-record retention sweeper sleeps between looks.
const RETENTION_SWEEP_MS: u64 = 60_000;

/// Call records older than 6 months are deleted (P8), and old tombstones forgotten: in small
/// batches, each its own short transaction, yielding between them so the server keeps
/// answering. Uses the server clock; woken early by `history_sweep` (tests move the clock).
pub async fn record_retention(state: AppState) {
    loop {
        match crate::history::sweep(&state, state.clock.now_ms()).await {
            Ok(true) => {
                tokio::task::yield_now().await;
                continue;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = ?e, "call-record retention sweep failed; retrying later"),
        }
        let _ =
            tokio::time::timeout(Duration::from_millis(RETENTION_SWEEP_MS), state.history_sweep.notified())
                .await;
    }
}
