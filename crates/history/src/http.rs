//! The HTTP adapter: the sync calls against a meetdesk server.
//!
//! A page with more after it makes the adapter ask for the next one at once, in the
//! background, while the cache stores this one ([`HttpTransport::changes`]).

use std::sync::{Arc, Mutex};

use meetdesk_protocol as p;

use crate::{Page, Transport, TransportError};

type Fetch = tokio::task::JoinHandle<Result<Page, TransportError>>;

/// The next page, asked for ahead: `(since, limit)` and the request.
#[derive(Debug)]
struct Ahead {
    since: i64,
    limit: u32,
    fetch: Fetch,
}

/// Talks to `base` (e.g. `https://support.example.com`) as the agent holding `token`.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    base: String,
    token: String,
    ahead: Arc<Mutex<Option<Ahead>>>,
}

impl HttpTransport {
    pub fn new(base: &str, token: &str) -> HttpTransport {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        HttpTransport {
            client,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            ahead: Arc::default(),
        }
    }

    fn take_ahead(&self) -> Option<Ahead> {
        self.ahead.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    async fn fetch(client: reqwest::Client, url: String, token: String) -> Result<Page, TransportError> {
        let resp = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| TransportError::Unreachable(e.to_string()))?;
        Page::from_json(&Self::body(resp).await?).map_err(|e| TransportError::Decode(e.to_string()))
    }

    fn changes_url(&self, since: i64, limit: u32) -> String {
        format!("{}/api/history/changes?since={since}&limit={limit}", self.base)
    }

    async fn read<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, TransportError> {
        let bytes = Self::body(resp).await?;
        serde_json::from_slice(&bytes).map_err(|e| TransportError::Decode(e.to_string()))
    }

    /// The body of a successful answer.
    async fn body(resp: reqwest::Response) -> Result<bytes::Bytes, TransportError> {
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| TransportError::Unreachable(e.to_string()))?;
        if !status.is_success() {
            let err: Option<p::ErrorBody> = serde_json::from_slice(&bytes).ok();
            let (code, message) = match err {
                Some(b) => (b.error.code, b.error.message),
                None => (String::new(), String::from_utf8_lossy(&bytes).into_owned()),
            };
            return Err(TransportError::Server { status: status.as_u16(), code, message });
        }
        Ok(bytes)
    }
}

impl Transport for HttpTransport {
    /// A page asked for ahead is used only right after the one before it: any other call drops
    /// it. It cannot end a round either (its `has_more: false` is as old as the request): the
    /// engine is told to ask once more, so the last word is always a fresh answer.
    async fn changes(&self, since: i64, limit: u32) -> Result<Page, TransportError> {
        let (mut page, was_ahead) = match self.take_ahead() {
            Some(a) if (a.since, a.limit) == (since, limit) => {
                (a.fetch.await.map_err(|e| TransportError::Unreachable(e.to_string()))??, true)
            }
            other => {
                if let Some(a) = other {
                    a.fetch.abort();
                }
                (
                    Self::fetch(self.client.clone(), self.changes_url(since, limit), self.token.clone())
                        .await?,
                    false,
                )
            }
        };
        if page.has_more {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let next = Self::fetch(
                    self.client.clone(),
                    self.changes_url(page.cursor, limit),
                    self.token.clone(),
                );
                let fetch = rt.spawn(next);
                *self.ahead.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(Ahead { since: page.cursor, limit, fetch });
            }
        }
        page.has_more |= was_ahead;
        Ok(page)
    }

    async fn push_deletes(&self, req: &p::DeletesRequest) -> Result<p::DeletesResponse, TransportError> {
        if let Some(a) = self.take_ahead() {
            a.fetch.abort();
        }
        let resp = self
            .client
            .post(format!("{}/api/history/deletes", self.base))
            .bearer_auth(&self.token)
            .json(req)
            .send()
            .await
            .map_err(|e| TransportError::Unreachable(e.to_string()))?;
        Self::read(resp).await
    }
}
