//! The app's controller: the session (sign-in, the keychain, start signed in, sign-out), the
//! event socket it keeps for a signed-in session, the inbox's reads, and the session's meets
//! (rings, the meet this device is in: `meet.rs`'s task). Tauri commands only call into it;
//! what the UI must hear goes out through [`Emit`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use meetdesk_client::api::{self, Api};
use meetdesk_client::events::{self, SocketConfig, SocketMsg};
use meetdesk_protocol::{ChatView, Event, EventBody, Me, MessageView, SessionResponse, SignInRequest};
use tokio::sync::{mpsc, Mutex};

use crate::history::CallHistory;
use crate::keychain::{Saved, SessionStore};
use crate::meet::{Meets, Request};
use crate::settings::MeetMedia;
use crate::types::{ChatFilter, CommandError, Connection, HistoryStatus, MeetUiState, SessionState};

/// How the controller reaches the UI (Tauri's event system in the app).
pub trait Emit: Send + Sync + 'static {
    fn session_changed(&self, state: &SessionState);
    fn server_event(&self, event: &Event);
    fn meet_changed(&self, state: &MeetUiState);
    /// The call history changed (`history.rs`).
    fn history_changed(&self, _status: &HistoryStatus) {}
}

pub struct Desktop {
    store: Arc<dyn SessionStore>,
    emit: Arc<dyn Emit>,
    /// Where the call-history caches live (the app's data directory); none: no history.
    history_dir: Option<PathBuf>,
    /// The microphone permission and the picked devices, for meets (`settings.rs`); set once
    /// at start ([`Desktop::set_media`]), else the system's with nothing picked.
    media: std::sync::OnceLock<MeetMedia>,
    inner: Mutex<Inner>,
}

struct Inner {
    state: SessionState,
    api: Option<Api>,
    /// The session's meets (rings, the current meet), while signed in.
    meets: Option<Meets>,
    /// The session's call history (its local cache and sync), while signed in.
    history: Option<CallHistory>,
    /// The event socket and its forwarder; aborted on sign-out.
    tasks: Vec<tauri::async_runtime::JoinHandle<()>>,
    /// Bumped on every sign-in and sign-out so a task of an older session changes nothing.
    generation: u64,
}

const DEVICE_NAME: &str = "meetdesk desktop";
/// A request the agent waits for gets this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

impl Desktop {
    pub fn new(
        store: Arc<dyn SessionStore>,
        emit: Arc<dyn Emit>,
        history_dir: Option<PathBuf>,
    ) -> Arc<Desktop> {
        Arc::new(Desktop {
            store,
            emit,
            history_dir,
            media: std::sync::OnceLock::new(),
            inner: Mutex::new(Inner {
                state: SessionState::Starting { server: None, error: None },
                api: None,
                meets: None,
                history: None,
                tasks: Vec::new(),
                generation: 0,
            }),
        })
    }

    pub async fn state(&self) -> SessionState {
        self.inner.lock().await.state.clone()
    }

    /// At start: a saved session whose server still accepts it signs in; one the server
    /// refuses is cleared; an unreachable server is retried with backoff.
    pub async fn restore(self: Arc<Self>) {
        let store = self.store.clone();
        let saved = match blocking(move || store.load()).await {
            Ok(Ok(saved)) => saved,
            Ok(Err(e)) | Err(e) => {
                tracing::warn!(error = %e, "no session read from the keychain");
                let notice = Some(e.to_string());
                self.set_if(0, SessionState::SignedOut { server: suggested_server(), notice }).await;
                return;
            }
        };
        let Some(saved) = saved else {
            self.set_if(0, SessionState::SignedOut { server: suggested_server(), notice: None }).await;
            return;
        };
        let mut backoff = std::time::Duration::from_millis(500);
        loop {
            let api = match Api::with_timeout(&saved.server, REQUEST_TIMEOUT) {
                Ok(api) => api.with_token(&saved.token),
                Err(e) => {
                    self.set_if(0, SessionState::SignedOut { server: None, notice: Some(e.message()) }).await;
                    return;
                }
            };
            match api.get::<Me>("/api/me").await {
                Ok(me) => {
                    let mut inner = self.inner.lock().await;
                    if inner.generation != 0 {
                        return; // the agent signed in or out meanwhile
                    }
                    self.start_session(&mut inner, api, me, saved.device_id.clone());
                    return;
                }
                Err(e) if e.is_unauthorized() => {
                    tracing::info!("the saved session was refused by its server; cleared");
                    let store = self.store.clone();
                    let _ = blocking(move || store.clear()).await;
                    let notice = Some("Your session has ended. Please sign in again.".to_owned());
                    self.set_if(0, SessionState::SignedOut { server: Some(saved.server.clone()), notice })
                        .await;
                    return;
                }
                Err(e) => {
                    let state = SessionState::Starting {
                        server: Some(saved.server.clone()),
                        error: Some(e.message()),
                    };
                    if !self.set_if(0, state).await {
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(std::time::Duration::from_secs(15));
                }
            }
        }
    }

    pub async fn sign_in(
        self: &Arc<Self>,
        server: &str,
        email: &str,
        password: &str,
    ) -> Result<SessionState, CommandError> {
        let server = api::normalize_server_url(server).map_err(|m| CommandError::new("bad_input", m))?;
        if email.trim().is_empty() || password.is_empty() {
            return Err(CommandError::new("bad_input", "Enter your e-mail and password."));
        }
        let anon = Api::with_timeout(&server, REQUEST_TIMEOUT)?;
        let body = SignInRequest {
            email: email.trim().to_owned(),
            password: password.to_owned(),
            device_name: Some(DEVICE_NAME.to_owned()),
        };
        let session: SessionResponse = anon.post("/api/auth/sign-in", &body).await?;
        let api = anon.with_token(&session.token);
        let me: Me = api.get("/api/me").await?;
        let saved = Saved {
            server: server.clone(),
            token: session.token.clone(),
            device_id: session.device_id.clone(),
        };
        let store = self.store.clone();
        if let Err(e) = blocking(move || store.save(&saved)).await.and_then(|r| r) {
            // Without the keychain the session could not survive a restart, and a plain file
            // is not an option: give the session back to the server and say why.
            let _ = api.post::<()>("/api/auth/sign-out", &()).await;
            return Err(e.into());
        }
        let mut inner = self.inner.lock().await;
        self.stop_session(&mut inner);
        self.start_session(&mut inner, api, me, session.device_id);
        Ok(inner.state.clone())
    }

    pub async fn sign_out(self: &Arc<Self>) -> Result<SessionState, CommandError> {
        // Leave a meet first (best effort, bounded): the others should not wait for a device
        // that is gone.
        let meets = self.inner.lock().await.meets.clone();
        if let Some(meets) = meets {
            if meets.state().call.is_some() {
                let _ = tokio::time::timeout(Duration::from_secs(5), meets.request(Request::HangUp)).await;
            }
        }
        let (api, server) = {
            let mut inner = self.inner.lock().await;
            let api = inner.api.take();
            self.stop_session(&mut inner);
            let server = api.as_ref().map(|a| a.base().to_owned());
            self.set(&mut inner, SessionState::SignedOut { server: server.clone(), notice: None });
            (api, server)
        };
        let store = self.store.clone();
        let cleared = blocking(move || store.clear()).await.and_then(|r| r);
        if let Some(api) = api {
            // Best effort: an unreachable server's session expires on its own; the token is
            // gone from this machine either way.
            if let Err(e) = api.post::<()>("/api/auth/sign-out", &()).await {
                tracing::info!(error = %e, "sign-out not confirmed by the server");
            }
        }
        cleared?;
        Ok(SessionState::SignedOut { server, notice: None })
    }

    pub async fn list_chats(&self, filter: ChatFilter) -> Result<Vec<ChatView>, CommandError> {
        let api = self.api().await?;
        Ok(api.get(&format!("/api/chats?filter={}", filter.as_str())).await?)
    }

    pub async fn chat_messages(&self, chat_id: &str) -> Result<Vec<MessageView>, CommandError> {
        if chat_id.is_empty() || !chat_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(CommandError::new("bad_input", "No such chat."));
        }
        let api = self.api().await?;
        Ok(api.get(&format!("/api/chats/{chat_id}/messages")).await?)
    }

    /// The meets as they stand (empty when signed out).
    pub async fn meet_state(&self) -> MeetUiState {
        self.inner.lock().await.meets.as_ref().map(Meets::state).unwrap_or_default()
    }

    /// Hands a request to the session's meet task.
    pub async fn meet_request(&self, request: Request) -> Result<MeetUiState, CommandError> {
        let meets = self.inner.lock().await.meets.clone();
        meets.ok_or_else(|| CommandError::new("signed_out", "Not signed in."))?.request(request).await
    }

    /// The microphone permission and the settings meets use (once, before the first sign-in).
    pub fn set_media(&self, media: MeetMedia) {
        if self.media.set(media).is_err() {
            tracing::warn!("the meets' media was set already");
        }
    }

    pub fn media(&self) -> MeetMedia {
        self.media.get_or_init(MeetMedia::system_defaults).clone()
    }

    /// The session's call history.
    pub async fn history(&self) -> Result<CallHistory, CommandError> {
        let history = self.inner.lock().await.history.clone();
        history.ok_or_else(|| CommandError::new("signed_out", "Not signed in."))
    }

    pub(crate) async fn api(&self) -> Result<Api, CommandError> {
        self.inner.lock().await.api.clone().ok_or_else(|| CommandError::new("signed_out", "Not signed in."))
    }

    fn set(&self, inner: &mut Inner, state: SessionState) {
        inner.state = state;
        self.emit.session_changed(&inner.state);
    }

    /// Sets the state unless another session began since `generation`; false if it did.
    async fn set_if(&self, generation: u64, state: SessionState) -> bool {
        let mut inner = self.inner.lock().await;
        if inner.generation != generation {
            return false;
        }
        self.set(&mut inner, state);
        true
    }

    fn stop_session(&self, inner: &mut Inner) {
        inner.generation += 1;
        for task in inner.tasks.drain(..) {
            task.abort();
        }
        if inner.meets.take().is_some() {
            self.emit.meet_changed(&MeetUiState::default());
        }
        inner.history = None;
    }

    fn start_session(self: &Arc<Self>, inner: &mut Inner, api: Api, me: Me, device_id: String) {
        inner.generation += 1;
        let generation = inner.generation;
        let token = api.token().unwrap_or_default().to_owned();
        let (tx, rx) = mpsc::unbounded_channel();
        let socket = events::run(api.base().to_owned(), token, SocketConfig::default(), tx);
        let (meets, meet_task) =
            Meets::start(api.clone(), device_id.clone(), self.emit.clone(), self.media());
        inner.tasks.push(tauri::async_runtime::spawn(socket));
        inner.tasks.push(tauri::async_runtime::spawn(meet_task));
        let history = self.history_dir.as_deref().map(|dir| {
            let (history, sync_task) = CallHistory::start(dir, api.clone(), &me.agent.id, self.emit.clone());
            inner.tasks.push(tauri::async_runtime::spawn(sync_task));
            history
        });
        inner.tasks.push(tauri::async_runtime::spawn(self.clone().forward(
            generation,
            rx,
            meets.clone(),
            history.clone(),
        )));
        inner.meets = Some(meets);
        inner.history = history;
        let state = SessionState::SignedIn {
            server: api.base().to_owned(),
            agent: me.agent,
            channel: me.channel,
            device_id,
            connection: Connection::Connecting,
        };
        inner.api = Some(api);
        self.set(inner, state);
    }

    /// Hands the socket's events to the UI and keeps `connection` true.
    async fn forward(
        self: Arc<Self>,
        generation: u64,
        mut rx: mpsc::UnboundedReceiver<SocketMsg>,
        meets: Meets,
        history: Option<CallHistory>,
    ) {
        while let Some(msg) = rx.recv().await {
            match msg {
                SocketMsg::Open => {}
                SocketMsg::Event(event) => {
                    if matches!(event.body, EventBody::Hello { .. }) {
                        self.set_connection(generation, Connection::Online).await;
                    }
                    meets.event(&event);
                    if let Some(history) = &history {
                        history.on_event(&event);
                    }
                    self.emit.server_event(&event);
                }
                SocketMsg::Reconnecting { why, .. } => {
                    tracing::info!(%why, "event socket dropped; reconnecting");
                    self.set_connection(generation, Connection::Offline).await;
                }
                SocketMsg::Refused { .. } => {
                    let mut inner = self.inner.lock().await;
                    if inner.generation != generation {
                        return;
                    }
                    let server = inner.api.take().map(|a| a.base().to_owned());
                    self.stop_session(&mut inner);
                    let notice = Some("Your session has ended. Please sign in again.".to_owned());
                    self.set(&mut inner, SessionState::SignedOut { server, notice });
                    drop(inner);
                    let store = self.store.clone();
                    let _ = blocking(move || store.clear()).await;
                    return;
                }
            }
        }
    }

    async fn set_connection(&self, generation: u64, to: Connection) {
        let mut inner = self.inner.lock().await;
        if inner.generation != generation {
            return;
        }
        if let SessionState::SignedIn { connection, .. } = &inner.state {
            if *connection != to {
                let mut state = inner.state.clone();
                if let SessionState::SignedIn { connection, .. } = &mut state {
                    *connection = to;
                }
                self.set(&mut inner, state);
            }
        }
    }
}

/// Runs blocking keychain work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, crate::keychain::KeychainError> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| crate::keychain::KeychainError::new(format!("keychain task failed: {e}")))
}

/// The server the sign-in form offers when no session is saved: `MEETDESK_SERVER` if set
/// (`scripts/run-demo.sh` points it at the demo server).
fn suggested_server() -> Option<String> {
    std::env::var("MEETDESK_SERVER").ok().and_then(|s| api::normalize_server_url(&s).ok())
}
