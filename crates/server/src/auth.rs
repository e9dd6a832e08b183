//! Passwords (argon2), session tokens (random, stored hashed, expiring, revocable) and the
//! principal every request acts as.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use meetdesk_store::accounts::{self, Agent, Session};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::state::AppState;

pub const AGENT_SESSION_MS: i64 = 30 * 24 * 3600 * 1000;
pub const CUSTOMER_SESSION_MS: i64 = 90 * 24 * 3600 * 1000;

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A real argon2 hash of a random password: checked against on unknown e-mails so that a
/// failed sign-in takes the same time either way.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&new_id("x")).unwrap_or_default())
}

/// A fresh bearer token and the hash that is stored (the token itself never is).
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    Agent {
        agent: Agent,
        device_id: String,
    },
    Customer {
        customer_id: String,
        channel_id: String,
        device_id: String,
        /// A session opened from a meet link reaches that meet only.
        meet_scope: Option<String>,
    },
}

impl Principal {
    pub fn channel_id(&self) -> &str {
        match self {
            Principal::Agent { agent, .. } => &agent.channel_id,
            Principal::Customer { channel_id, .. } => channel_id,
        }
    }

    pub fn device_id(&self) -> &str {
        match self {
            Principal::Agent { device_id, .. } | Principal::Customer { device_id, .. } => device_id,
        }
    }

    pub fn agent(&self) -> Result<&Agent, AppError> {
        match self {
            Principal::Agent { agent, .. } => Ok(agent),
            Principal::Customer { .. } => Err(AppError::forbidden("agents_only", "Only agents can do this.")),
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::Agent { agent, .. } if agent.is_admin())
    }
}

/// Resolves a bearer token to a principal, checking expiry and revocation. Every request does
/// this, so it reads on a reader connection (SQLite: beside the one writer, never queued
/// behind it).
pub async fn authenticate(state: &AppState, token: &str) -> Result<(Principal, Session), AppError> {
    let mut db = state.store.read_conn().await?;
    let session = accounts::session_by_token_hash(&mut db, &token_hash(token))
        .await?
        .ok_or_else(|| AppError::unauthorized("invalid_token", "The session token is not valid."))?;
    if session.revoked_at.is_some() {
        return Err(AppError::unauthorized("revoked_token", "This session was signed out."));
    }
    if session.expires_at <= state.clock.now_ms() {
        return Err(AppError::unauthorized("expired_token", "This session has expired; sign in again."));
    }
    let principal = match (&session.agent_id, &session.customer_id) {
        (Some(agent_id), _) => {
            let agent = accounts::agent_by_id(&mut db, agent_id)
                .await?
                .ok_or_else(|| AppError::unauthorized("invalid_token", "The session token is not valid."))?;
            Principal::Agent { agent, device_id: session.id.clone() }
        }
        (None, Some(customer_id)) => Principal::Customer {
            customer_id: customer_id.clone(),
            channel_id: session.channel_id.clone(),
            device_id: session.id.clone(),
            meet_scope: session.meet_id.clone(),
        },
        (None, None) => {
            return Err(AppError::unauthorized("invalid_token", "The session token is not valid."))
        }
    };
    Ok((principal, session))
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::trim)
}

/// Extractor: the authenticated caller (agent or customer).
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| {
            AppError::unauthorized("missing_token", "Send `Authorization: Bearer <token>` (sign in first).")
        })?;
        let (principal, _) = authenticate(state, token).await?;
        Ok(Auth(principal))
    }
}
