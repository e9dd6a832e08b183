//! `meetdesk-bench-history`: call-history sync as the desktop app does it (meetdesk-history
//! over HTTP into a rusqlite cache) against a real server (in-process, 127.0.0.1).
//!
//! One agent (bob) gets `--records` records (written straight into the store, in bulk).
//! - **cold sync**: a new cache file, `History::sync` until everything is pulled; `--cold-runs`
//!   times, each with a fresh file.
//! - **warm sync**: then `--warm-runs` times: one change on the server (a record deleted from
//!   bob's other device), and the time of the next `History::sync` on the warm cache.
//!
//! On a temp SQLite file, and with `--postgres` on a throwaway PostgreSQL (meetdesk-testkit).
//! Prints a markdown table (see docs/benchmarks.md).

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use meetdesk_history::http::HttpTransport;
use meetdesk_history::History;
use meetdesk_store::records::{self, CallRecord};
use serde_json::json;

#[derive(Debug, Parser)]
#[command(about = "Cold and warm call-history sync (desktop cache ← server)")]
struct Args {
    /// Records of the agent.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    #[arg(long, default_value_t = 3)]
    cold_runs: usize,
    #[arg(long, default_value_t = 50)]
    warm_runs: usize,
    /// Also run on a throwaway PostgreSQL server.
    #[arg(long)]
    postgres: bool,
    /// Only PostgreSQL.
    #[arg(long)]
    postgres_only: bool,
    /// Changes per page the cache asks for.
    #[arg(long, default_value_t = meetdesk_history::engine::PAGE_LIMIT)]
    page: u32,
}

struct Row {
    database: &'static str,
    cold: Vec<Duration>,
    warm: Vec<Duration>,
    cached: usize,
    pull_only: Duration,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn sign_in(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = http
        .post(format!("{base}/api/auth/sign-in"))
        .json(&json!({"email": "bob@demo.test", "password": "demo"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    v["token"].as_str().map(str::to_owned).context("no token")
}

async fn seed(store: &meetdesk_store::Store, n: usize, now: i64) -> anyhow::Result<()> {
    let rows: Vec<CallRecord> = (0..n)
        .map(|k| CallRecord {
            id: format!("rec_bench_{k:07}"),
            channel_id: "ch_demo".into(),
            agent_id: "ag_bob".into(),
            meet_id: format!("meet_bench_{k:07}"),
            direction: ["incoming", "outgoing", "missed", "invited"][k % 4].into(),
            scope_kind: if k % 4 == 3 { "team_group".into() } else { "user_chat".into() },
            media: if k % 5 == 0 { "video".into() } else { "audio".into() },
            chat_id: Some("chat_mina".into()),
            room_id: None,
            counterpart_kind: "customer".into(),
            counterpart_id: "cus_mina".into(),
            counterpart_name: "Mina Park".into(),
            invited_by_id: None,
            invited_by_name: None,
            started_at: now - (n - k) as i64 * 60_000,
            answered_at: Some(now - (n - k) as i64 * 60_000 + 5_000),
            ended_at: Some(now - (n - k) as i64 * 60_000 + 120_000),
            handled: false,
            created_seq: 0,
            seq: 0,
            deleted_at: None,
        })
        .collect();
    for chunk in rows.chunks(10_000) {
        let mut tx = store.begin().await?;
        records::insert_bulk(&mut tx, store.backend(), chunk, meetdesk_server::history::record_body).await?;
        tx.commit().await?;
    }
    // Records written over months have long been vacuumed; rows bulk-loaded a moment ago have
    // not (PostgreSQL would otherwise do it, and set every row's hint bits, during the first
    // cold runs).
    if store.backend() == meetdesk_store::Backend::Postgres {
        sqlx::query("VACUUM ANALYZE call_records").execute(&mut *store.conn().await?).await?;
    }
    Ok(())
}

async fn run(database: &'static str, url: &str, args: &Args, dir: &std::path::Path) -> anyhow::Result<Row> {
    let mut config = meetdesk_server::Config::new("127.0.0.1:0".parse()?, url);
    config.demo = true;
    let server = meetdesk_server::start(config).await?;
    let base = server.url();
    seed(&server.state.store, args.records, server.state.clock.now_ms()).await?;
    let http = reqwest::Client::new();
    let token = sign_in(&http, &base).await?;
    let phone = sign_in(&http, &base).await?;
    let account = format!("{base} ag_bob");

    let mut cold = Vec::new();
    let mut history = None;
    for run in 0..args.cold_runs.max(1) {
        let path = dir.join(format!("{database}-cold-{run}.db"));
        let start = Instant::now();
        let mut h =
            History::open(&path, &account, HttpTransport::new(&base, &token))?.with_page_limit(args.page);
        h.sync().await?;
        cold.push(start.elapsed());
        eprintln!("{database}: cold run {run}: {:.2} s", start.elapsed().as_secs_f64());
        history = Some(h);
    }
    // The same pull without the cache: server + HTTP + JSON only.
    let transport = HttpTransport::new(&base, &token);
    let start = Instant::now();
    let mut since = 0;
    loop {
        let page = meetdesk_history::Transport::changes(&transport, since, args.page).await?;
        since = page.cursor;
        if !page.has_more {
            break;
        }
    }
    let pull_only = start.elapsed();
    let mut h = history.context("no cold run")?;
    let cached = h.records()?.len();
    anyhow::ensure!(cached == args.records, "cold sync cached {cached} of {} records", args.records);

    let mut warm = Vec::new();
    for k in 0..args.warm_runs {
        let id = format!("rec_bench_{k:07}");
        http.delete(format!("{base}/api/history/records/{id}"))
            .bearer_auth(&phone)
            .send()
            .await?
            .error_for_status()?;
        let start = Instant::now();
        let report = h.sync().await?;
        warm.push(start.elapsed());
        anyhow::ensure!(report.deletes == 1, "warm sync saw {report:?}");
    }
    drop(h);
    server.shutdown().await;
    cold.sort();
    warm.sort();
    Ok(Row { database, cold, warm, cached, pull_only })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let mut rows = Vec::new();
    if !args.postgres_only {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("server.db").display());
        rows.push(rt.block_on(run("SQLite", &url, &args, dir.path()))?);
    }
    if args.postgres || args.postgres_only {
        let pg = meetdesk_testkit::Postgres::start()?;
        rows.push(rt.block_on(run("PostgreSQL", &pg.url(), &args, dir.path()))?);
        drop(pg);
    }
    println!(
        "| server database | records | page | cold runs | cold min s | cold max s | pull without cache s | warm runs | warm p50 ms | warm p90 ms | warm max ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {:.2} |",
            r.database,
            r.cached,
            args.page,
            r.cold.len(),
            pct(&r.cold, 0.0).as_secs_f64(),
            pct(&r.cold, 1.0).as_secs_f64(),
            r.pull_only.as_secs_f64(),
            r.warm.len(),
            ms(pct(&r.warm, 0.5)),
            ms(pct(&r.warm, 0.9)),
            ms(pct(&r.warm, 1.0)),
        );
    }
    Ok(())
}
