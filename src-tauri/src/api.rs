//! The server's HTTP API as the desktop uses it: JSON in and out, `Authorization: Bearer`, and
//! the server's error shape (`{"error": {"code", "message"}}`) kept so the UI can show it.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error status.
    #[error("{message}")]
    Status { status: u16, code: String, message: String },
    /// No answer (refused, timed out, bad URL, …).
    #[error("the server did not answer: {0}")]
    Transport(String),
    /// An answer that is not what the API documents.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

impl ApiError {
    /// The session is no longer valid (expired, revoked, or signed out elsewhere).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ApiError::Status { status: 401, .. })
    }

    pub fn code(&self) -> &str {
        match self {
            ApiError::Status { code, .. } => code,
            ApiError::Transport(_) => "offline",
            ApiError::Decode(_) => "bad_answer",
        }
    }
}

/// One server, with or without a session token.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl std::fmt::Debug for Api {
    // Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("base", &self.base).field("signed_in", &self.token.is_some()).finish()
    }
}

/// `http://host:port` (or https) without a trailing slash or `/api`; anything else is refused.
pub fn normalize_server_url(input: &str) -> Result<String, String> {
    let trimmed = input.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/api").unwrap_or(trimmed);
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| "The server URL starts with http:// or https://.".to_owned())?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err("The server URL has no host.".to_owned());
    }
    Ok(trimmed.to_owned())
}

impl Api {
    pub fn new(base: &str) -> Result<Api, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ApiError::Transport(e.to_string()))?;
        Ok(Api { http, base: base.to_owned(), token: None })
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
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, ApiError> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn send<T: DeserializeOwned>(&self, mut req: reqwest::RequestBuilder) -> Result<T, ApiError> {
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
        if !(200..300).contains(&status) {
            return Err(match serde_json::from_str::<meetdesk_protocol::ErrorBody>(&text) {
                Ok(b) => ApiError::Status { status, code: b.error.code, message: b.error.message },
                Err(_) => ApiError::Status {
                    status,
                    code: "http_error".to_owned(),
                    message: format!("The server answered {status}."),
                },
            });
        }
        // Some routes (sign-out) answer with no body.
        let text = if text.is_empty() { "null" } else { text.as_str() };
        serde_json::from_str(text).map_err(|e| ApiError::Decode(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_server_url;

    #[test]
    fn server_urls_are_normalized_or_refused() {
        assert_eq!(normalize_server_url(" http://127.0.0.1:8780/ ").as_deref(), Ok("http://127.0.0.1:8780"));
        assert_eq!(normalize_server_url("https://desk.example/api").as_deref(), Ok("https://desk.example"));
        assert!(normalize_server_url("desk.example").is_err());
        assert!(normalize_server_url("http://").is_err());
    }
}
