//! The server's HTTP API: JSON in and out over `meetdesk-protocol` types, `Authorization:
//! Bearer`, and the server's error shape (`{"error": {"code", "message"}}`) kept as a typed
//! [`ApiError`] so callers can act on the code and show the message.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// How long one request may take by default (a media offer waits for the server's ICE
/// gathering). [`Api::with_timeout`] sets another.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A failed request. `Display` names the request (`POST /api/meets: 409 ended: …`), for logs;
/// [`ApiError::message`] is the part for people, [`ApiError::code`] the part for code.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // fields: the request (`method`, `path`) and what came back
pub enum ApiError {
    /// The server answered with an error status.
    #[error("{method} {path}: {status} {code}: {message}")]
    Status { method: &'static str, path: String, status: u16, code: String, message: String },
    /// No answer (refused, timed out, bad URL, …).
    #[error("{method} {path}: the server did not answer: {source}")]
    Transport {
        method: &'static str,
        path: String,
        /// Without the URL (the path is in the error already).
        #[source]
        source: reqwest::Error,
    },
    /// An answer that is not what the API documents.
    #[error("{method} {path}: unexpected answer from the server: {why}")]
    Decode { method: &'static str, path: String, why: String },
    /// The HTTP client could not be set up (TLS backend).
    #[error("the HTTP client could not be set up: {0}")]
    Setup(#[source] reqwest::Error),
}

impl ApiError {
    /// A stable code: the server's own (`ended`, `not_in_meet`, …) when it answered with an
    /// error, else `offline` (no answer) or `bad_answer`.
    pub fn code(&self) -> &str {
        match self {
            ApiError::Status { code, .. } => code,
            ApiError::Transport { .. } | ApiError::Setup(_) => "offline",
            ApiError::Decode { .. } => "bad_answer",
        }
    }

    /// The HTTP status, when the server answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The session is no longer valid (expired, revoked, or signed out elsewhere).
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// What to tell people: the server's message, or what went wrong on the way.
    pub fn message(&self) -> String {
        match self {
            ApiError::Status { message, .. } => message.clone(),
            ApiError::Transport { source, .. } => format!("the server did not answer: {source}"),
            ApiError::Decode { why, .. } => format!("unexpected answer from the server: {why}"),
            ApiError::Setup(source) => format!("the server did not answer: {source}"),
        }
    }
}

/// `http://host:port` (or https) without a trailing slash or `/api`; anything else is refused
/// with a message for people.
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

/// One server, with or without a session token. Cheap to clone (one connection pool).
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

impl Api {
    /// `base` is the server's URL (`http://host:port`), without `/api`; requests time out
    /// after [`REQUEST_TIMEOUT`].
    pub fn new(base: &str) -> Result<Api, ApiError> {
        Api::with_timeout(base, REQUEST_TIMEOUT)
    }

    /// [`Api::new`] with another per-request timeout.
    pub fn with_timeout(base: &str, timeout: Duration) -> Result<Api, ApiError> {
        let http = reqwest::Client::builder().timeout(timeout).build().map_err(ApiError::Setup)?;
        Ok(Api { http, base: base.trim_end_matches('/').to_owned(), token: None })
    }

    /// The same server with a session.
    pub fn with_token(&self, token: &str) -> Api {
        Api { token: Some(token.to_owned()), ..self.clone() }
    }

    /// The server's URL, as given (without a trailing slash).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The session token, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `GET base + path`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.send("GET", path, self.http.get(self.url(path))).await
    }

    /// `POST base + path` with a JSON body. A route that answers with no body reads as `()`.
    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, ApiError> {
        self.send("POST", path, self.http.post(self.url(path)).json(body)).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: &'static str,
        path: &str,
        mut req: reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let transport = |e: reqwest::Error| ApiError::Transport {
            method,
            path: path.to_owned(),
            source: e.without_url(),
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            let (code, message) = match serde_json::from_str::<meetdesk_protocol::ErrorBody>(&text) {
                Ok(b) => (b.error.code, b.error.message),
                Err(_) => {
                    let excerpt: String = text.chars().take(200).collect();
                    tracing::debug!(method, path, status, body = %excerpt, "error answer without an error body");
                    ("http_error".to_owned(), format!("The server answered {status}."))
                }
            };
            return Err(ApiError::Status { method, path: path.to_owned(), status, code, message });
        }
        // Some routes (sign-out) answer with no body.
        let text = if text.is_empty() { "null" } else { text.as_str() };
        serde_json::from_str(text).map_err(|e| ApiError::Decode {
            method,
            path: path.to_owned(),
            why: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn server_urls_are_normalized_or_refused() {
        assert_eq!(normalize_server_url(" http://127.0.0.1:8780/ ").as_deref(), Ok("http://127.0.0.1:8780"));
        assert_eq!(normalize_server_url("https://desk.example/api").as_deref(), Ok("https://desk.example"));
        assert!(normalize_server_url("desk.example").is_err());
        assert!(normalize_server_url("http://").is_err());
    }

    /// A server that answers every request with `status` and `body`, once per connection.
    async fn answering(status: &'static str, body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn an_error_answer_keeps_the_servers_code_message_and_status() {
        let base =
            answering("409 Conflict", r#"{"error":{"code":"ended","message":"The meet has ended."}}"#).await;
        let api = Api::new(&base).unwrap().with_token("secret");
        let e = api.post::<()>("/api/meets/mt_1/hangup", &()).await.unwrap_err();
        assert_eq!((e.code(), e.status(), e.message().as_str()), ("ended", Some(409), "The meet has ended."));
        assert_eq!(e.to_string(), "POST /api/meets/mt_1/hangup: 409 ended: The meet has ended.");
        assert!(!format!("{api:?}").contains("secret"));
    }

    #[tokio::test]
    async fn an_error_without_the_error_shape_and_no_answer_have_codes_too() {
        let base = answering("502 Bad Gateway", "<html>proxy</html>").await;
        let e = Api::new(&base).unwrap().get::<()>("/api/me").await.unwrap_err();
        assert_eq!((e.code(), e.status()), ("http_error", Some(502)));
        assert!(!e.is_unauthorized());
        let base = answering("401 Unauthorized", r#"{"error":{"code":"unauthorized","message":"x"}}"#).await;
        assert!(Api::new(&base).unwrap().get::<()>("/api/me").await.unwrap_err().is_unauthorized());
        let e = Api::new("http://127.0.0.1:9").unwrap().get::<()>("/api/me").await.unwrap_err();
        assert_eq!((e.code(), e.status()), ("offline", None));
    }

    #[tokio::test]
    async fn an_empty_success_reads_as_unit() {
        let base = answering("200 OK", "").await;
        Api::new(&base).unwrap().post::<()>("/api/auth/sign-out", &()).await.unwrap();
    }
}
