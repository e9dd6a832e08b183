//! The server's HTTP API: JSON in and out, `Authorization: Bearer`, and its error shape
//! (`{"error": {"code", "message"}}`) kept as a typed error so callers can act on the code.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// How long one request may take (a media offer waits for the server's ICE gathering).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error status.
    #[error("{method} {path}: {status} {code}: {message}")]
    Status { method: &'static str, path: String, status: u16, code: String, message: String },
    /// The request did not get an answer (connection refused, timeout, …).
    #[error("{method} {path}: {source}")]
    Transport {
        method: &'static str,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    /// The answer was not what the API documents.
    #[error("{method} {path}: unexpected answer: {why}")]
    Decode { method: &'static str, path: String, why: String },
}

impl ApiError {
    /// The error code the server gave, if it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Status { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// One server, with or without a session.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// `base` is the server's URL (`http://host:port`), without `/api`.
    pub fn new(base: &str) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build()?;
        Ok(Api { http, base: base.trim_end_matches('/').to_owned(), token: None })
    }

    pub fn with_token(&self, token: &str) -> Api {
        Api { token: Some(token.to_owned()), ..self.clone() }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.send("GET", path, None::<&()>).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, ApiError> {
        self.send("POST", path, Some(body)).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, ApiError> {
        let url = format!("{}{}", self.base, path);
        let mut req = match method {
            "GET" => self.http.get(&url),
            _ => self.http.post(&url),
        };
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let transport = |source| ApiError::Transport { method, path: path.to_owned(), source };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            let detail = serde_json::from_str::<meetdesk_protocol::ErrorBody>(&text).ok();
            let (code, message) = match detail {
                Some(b) => (b.error.code, b.error.message),
                None => ("http_error".to_owned(), text.chars().take(200).collect()),
            };
            return Err(ApiError::Status { method, path: path.to_owned(), status, code, message });
        }
        serde_json::from_str(&text).map_err(|e| ApiError::Decode {
            method,
            path: path.to_owned(),
            why: e.to_string(),
        })
    }
}
