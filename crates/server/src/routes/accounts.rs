//! Sign-in, sessions, the signed-in agent, channel settings (P1) and the agent list.

use axum::extract::State;
use axum::http::StatusCode;
use meetdesk_protocol::{self as p, EventBody};
use meetdesk_store::accounts::{self, Session};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{self, new_id, Auth, AGENT_SESSION_MS};
use crate::error::{AppError, AppResult, Json};
use crate::hub::{publish, Audience};
use crate::state::AppState;
use crate::views;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
        .routes(routes!(me))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(list_agents))
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, body = p::Health)))]
pub async fn healthz(State(state): State<AppState>) -> AppResult<Json<p::Health>> {
    state.store.ping().await?;
    Ok(Json(p::Health {
        status: "ok".into(),
        node_id: state.node_id.clone(),
        database: state.store.backend().name().into(),
    }))
}

/// Signs an agent in on a new device.
#[utoipa::path(post, path = "/api/auth/sign-in", request_body = p::SignInRequest,
    responses((status = 200, body = p::SessionResponse), (status = 401, body = p::ErrorBody)))]
async fn sign_in(
    State(state): State<AppState>,
    Json(req): Json<p::SignInRequest>,
) -> AppResult<Json<p::SessionResponse>> {
    let bad = || AppError::unauthorized("bad_credentials", "Wrong e-mail or password.");
    if req.email.len() > 320 || req.password.len() > 1024 {
        return Err(bad());
    }
    let agent = {
        let mut db = state.store.conn().await?;
        accounts::agent_by_email(&mut db, req.email.trim()).await?
    };
    let Some(agent) = agent else {
        // Spend the same time as a real check so timing does not reveal which e-mails exist.
        let password = req.password.clone();
        let _ =
            tokio::task::spawn_blocking(move || auth::verify_password(&password, auth::dummy_hash())).await;
        return Err(bad());
    };
    let hash = agent.password_hash.clone();
    let password = req.password.clone();
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    if !ok {
        return Err(bad());
    }
    let now = state.clock.now_ms();
    let (token, token_hash) = auth::new_token();
    let session = Session {
        id: new_id("dev"),
        channel_id: agent.channel_id.clone(),
        agent_id: Some(agent.id.clone()),
        customer_id: None,
        meet_id: None,
        device_name: req.device_name.map(|d| d.chars().take(100).collect()),
        created_at: now,
        expires_at: now + AGENT_SESSION_MS,
        revoked_at: None,
    };
    let mut db = state.store.conn().await?;
    accounts::insert_session(&mut db, &session, &token_hash).await?;
    tracing::info!(agent_id = %agent.id, device_id = %session.id, "signed in");
    Ok(Json(p::SessionResponse {
        token,
        device_id: session.id,
        expires_at: session.expires_at,
        agent: views::agent_view(&agent),
    }))
}

/// Signs this device out: its token stops working at once.
#[utoipa::path(post, path = "/api/auth/sign-out", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = p::ErrorBody)))]
async fn sign_out(State(state): State<AppState>, Auth(who): Auth) -> AppResult<StatusCode> {
    let mut db = state.store.conn().await?;
    accounts::revoke_session(&mut db, who.device_id(), state.clock.now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/me", security(("bearer" = [])),
    responses((status = 200, body = p::Me), (status = 401, body = p::ErrorBody)))]
async fn me(State(state): State<AppState>, Auth(who): Auth) -> AppResult<Json<p::Me>> {
    let agent = who.agent()?;
    let mut db = state.store.conn().await?;
    let channel = accounts::channel_by_id(&mut db, &agent.channel_id)
        .await?
        .ok_or_else(|| AppError::not_found("channel"))?;
    Ok(Json(p::Me {
        agent: views::agent_view(agent),
        device_id: who.device_id().to_owned(),
        channel: p::ChannelView {
            id: channel.id.clone(),
            name: channel.name.clone(),
            settings: p::ChannelSettings {
                audio_enabled: channel.audio_enabled,
                video_enabled: channel.video_enabled,
            },
        },
    }))
}

#[utoipa::path(get, path = "/api/channel/settings", security(("bearer" = [])),
    responses((status = 200, body = p::ChannelSettings), (status = 401, body = p::ErrorBody)))]
async fn get_settings(State(state): State<AppState>, Auth(who): Auth) -> AppResult<Json<p::ChannelSettings>> {
    let mut db = state.store.conn().await?;
    let channel = accounts::channel_by_id(&mut db, who.channel_id())
        .await?
        .ok_or_else(|| AppError::not_found("channel"))?;
    Ok(Json(p::ChannelSettings {
        audio_enabled: channel.audio_enabled,
        video_enabled: channel.video_enabled,
    }))
}

/// P1: admins switch meets on or off (audio and video separately).
#[utoipa::path(put, path = "/api/channel/settings", security(("bearer" = [])), request_body = p::ChannelSettings,
    responses((status = 200, body = p::ChannelSettings), (status = 403, body = p::ErrorBody)))]
async fn put_settings(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(req): Json<p::ChannelSettings>,
) -> AppResult<Json<p::ChannelSettings>> {
    who.agent()?;
    if !who.is_admin() {
        return Err(AppError::forbidden("admin_only", "Only admins can change channel settings."));
    }
    let now = state.clock.now_ms();
    let mut tx = state.store.begin().await?;
    accounts::set_channel_media(&mut tx, who.channel_id(), req.audio_enabled, req.video_enabled).await?;
    let audience = Audience { channel_agents: true, channel_customers: true, ..Audience::default() };
    publish(
        &mut tx,
        &state.store,
        who.channel_id(),
        &audience,
        &EventBody::SettingsUpdated { settings: req },
        now,
    )
    .await?;
    tx.commit().await.map_err(meetdesk_store::StoreError::from)?;
    state.hub.wake();
    Ok(Json(req))
}

#[utoipa::path(get, path = "/api/agents", security(("bearer" = [])),
    responses((status = 200, body = Vec<p::AgentView>), (status = 403, body = p::ErrorBody)))]
async fn list_agents(State(state): State<AppState>, Auth(who): Auth) -> AppResult<Json<Vec<p::AgentView>>> {
    let agent = who.agent()?;
    let mut db = state.store.conn().await?;
    let agents = accounts::agents_of_channel(&mut db, &agent.channel_id).await?;
    Ok(Json(agents.iter().map(views::agent_view).collect()))
}
