//! One error type for every handler: an HTTP status, a stable code and a human message.
//! Internal causes are logged once here and never sent to the client.

use std::borrow::Cow;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use meetdesk_meet::rule::Refusal;
use meetdesk_meet::MeetError;
use meetdesk_protocol::{ErrorBody, ErrorDetail};

#[derive(Debug)]
pub enum AppError {
    Client { status: StatusCode, code: &'static str, message: Cow<'static, str>, meet_id: Option<String> },
    Internal(anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        AppError::Client { status, code, message: message.into(), meet_id: None }
    }

    /// Names the meet the error is about (`meet_in_progress`: the one to join instead).
    pub fn with_meet(self, id: String) -> Self {
        match self {
            AppError::Client { status, code, message, .. } => {
                AppError::Client { status, code, message, meet_id: Some(id) }
            }
            internal => internal,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// `what` is the kind of thing, e.g. "chat". Also used for things that exist but the
    /// caller may not see, so ids of other channels and chats reveal nothing.
    pub fn not_found(what: &'static str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("No such {what}."))
    }

    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Client { code, .. } => code,
            AppError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, message, meet_id) = match self {
            AppError::Client { status, code, message, meet_id } => (status, code, message, meet_id),
            AppError::Internal(err) => {
                tracing::error!(error = %format!("{err:#}"), "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    Cow::Borrowed("Something went wrong on the server; it has been logged."),
                    None,
                )
            }
        };
        let body = ErrorBody {
            error: ErrorDetail { code: code.to_owned(), message: message.into_owned(), meet_id },
        };
        (status, axum::Json(body)).into_response()
    }
}

impl From<meetdesk_store::StoreError> for AppError {
    fn from(e: meetdesk_store::StoreError) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> Self {
        let status = match r {
            Refusal::NoOperatorSeat | Refusal::NotChatManager | Refusal::NotRoomMember => {
                StatusCode::FORBIDDEN
            }
            _ => StatusCode::CONFLICT,
        };
        let error = Self::new(status, r.code(), r.message());
        match r {
            Refusal::MeetInProgress(id) => error.with_meet(id.0),
            _ => error,
        }
    }
}

impl From<MeetError> for AppError {
    fn from(e: MeetError) -> Self {
        let status = match e {
            MeetError::LinkExpired | MeetError::Ended => StatusCode::GONE,
            _ => StatusCode::CONFLICT,
        };
        Self::new(status, e.code(), e.message())
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("Invalid request body: {}", e.body_text()),
            ),
            JsonRejection::JsonSyntaxError(_) => {
                Self::bad_request("invalid_json", "The request body is not valid JSON.")
            }
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as JSON with `Content-Type: application/json`.",
            ),
            JsonRejection::BytesRejection(_) => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is too large.",
            ),
            _ => Self::bad_request("invalid_body", "The request body could not be read."),
        }
    }
}

impl From<PathRejection> for AppError {
    fn from(_: PathRejection) -> Self {
        Self::bad_request("invalid_path", "The URL path is not valid.")
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        Self::bad_request("invalid_query", format!("Invalid query string: {}", r.body_text()))
    }
}

/// `Json` whose rejections answer in our error shape.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);
