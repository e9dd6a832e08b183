//! The HTTP adapter: the sync calls against a meetdesk server.

use meetdesk_protocol as p;

use crate::{Transport, TransportError};

/// Talks to `base` (e.g. `https://support.example.com`) as the agent holding `token`.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl HttpTransport {
    pub fn new(base: &str, token: &str) -> HttpTransport {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        HttpTransport { client, base: base.trim_end_matches('/').to_owned(), token: token.to_owned() }
    }

    async fn read<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, TransportError> {
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
        serde_json::from_slice(&bytes).map_err(|e| TransportError::Decode(e.to_string()))
    }
}

impl Transport for HttpTransport {
    async fn changes(&self, since: i64, limit: u32) -> Result<p::ChangesPage, TransportError> {
        let resp = self
            .client
            .get(format!("{}/api/history/changes?since={since}&limit={limit}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| TransportError::Unreachable(e.to_string()))?;
        Self::read(resp).await
    }

    async fn push_deletes(&self, req: &p::DeletesRequest) -> Result<p::DeletesResponse, TransportError> {
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
