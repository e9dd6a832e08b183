//! Server-side preparation: bench agents and sessions written straight into the store (no
//! argon2 per socket), and the demo customer's session through the public API.

use anyhow::{bail, Context};
use meetdesk_protocol as p;
use meetdesk_server::auth::{self, AGENT_SESSION_MS};
use meetdesk_server::clock::Clock;
use meetdesk_server::demo::CHANNEL_ID;
use meetdesk_store::accounts::{self, Agent, Session};
use meetdesk_store::Store;
use serde_json::json;

/// The e-mail of the agent used for the sign-in benchmark (password `demo`).
pub const SIGNIN_EMAIL: &str = "signin@bench.test";
/// The assignee of `chat_mina` in the demo data.
pub const ASSIGNEE: &str = "ag_bob";
pub const CHAT: &str = "chat_mina";

/// Tokens of the sockets the benchmark opens.
pub struct Tokens {
    /// The assignee's devices (bob).
    pub assignee: Vec<String>,
    /// The idle crowd: devices of bench agents, never the assignee.
    pub idle: Vec<String>,
}

/// Opens the database (running the migrations), seeds the demo channel, and inserts
/// `ceil(idle / per_agent)` bench agents (plus the sign-in agent) and one session per socket,
/// in one transaction. The server is started on the database afterwards.
pub async fn prepare(
    database: &str,
    idle: usize,
    per_agent: usize,
    assignee_devices: usize,
) -> anyhow::Result<Tokens> {
    let store = Store::open(database).await.context("opening the database")?;
    let now = Clock::default().now_ms();
    meetdesk_server::demo::seed(&store, now).await.context("seeding the demo channel")?;
    let tokens = sessions(&store, now, idle, per_agent, assignee_devices).await;
    store.close().await;
    tokens
}

async fn sessions(
    store: &Store,
    now: i64,
    idle: usize,
    per_agent: usize,
    assignee_devices: usize,
) -> anyhow::Result<Tokens> {
    let per_agent = per_agent.max(1);
    // A real argon2 hash of "demo": every bench agent can sign in like the demo agents.
    let hash = tokio::task::spawn_blocking(|| auth::hash_password(meetdesk_server::demo::PASSWORD)).await??;
    let mut tx = store.begin().await?;
    let agent = |id: String, email: String, name: String| Agent {
        id,
        channel_id: CHANNEL_ID.to_owned(),
        email,
        name,
        password_hash: hash.clone(),
        role: "agent".into(),
        seat: true,
    };
    accounts::insert_agent(
        &mut tx,
        &agent("ag_bench_signin".into(), SIGNIN_EMAIL.into(), "Sign-in Bench".into()),
        now,
    )
    .await?;
    let agents = idle.div_ceil(per_agent);
    for i in 0..agents {
        let a = agent(
            format!("ag_bench_{i:05}"),
            format!("bench{i:05}@bench.test"),
            format!("Bench Agent {i:05}"),
        );
        accounts::insert_agent(&mut tx, &a, now).await?;
    }
    let session = |agent_id: String| -> (Session, String, String) {
        let (token, hash) = auth::new_token();
        let s = Session {
            id: auth::new_id("dev"),
            channel_id: CHANNEL_ID.to_owned(),
            agent_id: Some(agent_id),
            customer_id: None,
            meet_id: None,
            device_name: Some("meetdesk-bench".into()),
            created_at: now,
            expires_at: now + AGENT_SESSION_MS,
            revoked_at: None,
        };
        (s, token, hash)
    };
    let mut tokens = Tokens { assignee: Vec::new(), idle: Vec::new() };
    for _ in 0..assignee_devices {
        let (s, token, hash) = session(ASSIGNEE.to_owned());
        accounts::insert_session(&mut tx, &s, &hash).await?;
        tokens.assignee.push(token);
    }
    for i in 0..idle {
        let (s, token, hash) = session(format!("ag_bench_{:05}", i / per_agent));
        accounts::insert_session(&mut tx, &s, &hash).await?;
        tokens.idle.push(token);
    }
    tx.commit().await.context("committing bench sessions")?;
    Ok(tokens)
}

/// A customer session for Mina (demo chat `chat_mina`, assigned to bob), through the demo
/// directory's resume link, as the widget would.
pub async fn customer_token(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let dir: p::DemoDirectory = http
        .get(format!("{base}/api/demo"))
        .send()
        .await?
        .error_for_status()
        .context("GET /api/demo (is the server in --demo mode?)")?
        .json()
        .await?;
    let Some(mina) = dir.customers.iter().find(|c| c.chat_id == CHAT) else {
        bail!("the demo directory has no {CHAT}");
    };
    let Some(resume) = mina.link.split("resume=").nth(1) else {
        bail!("unexpected demo link {}", mina.link);
    };
    let session: p::CustomerSessionResponse = http
        .post(format!("{base}/api/widget/resume"))
        .json(&json!({ "token": resume }))
        .send()
        .await?
        .error_for_status()
        .context("POST /api/widget/resume")?
        .json()
        .await?;
    Ok(session.token)
}
