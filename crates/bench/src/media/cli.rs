//! One `meetdesk-cli` process and the JSON lines it prints (read as they come).

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::{Env, AGENT_EMAIL, AGENT_PASSWORD};

/// How long a line that must come may take (a failure bound, not a pause).
pub const WAIT: Duration = Duration::from_secs(60);

pub struct CliProc {
    name: String,
    child: Child,
    pub pid: u32,
    lines: mpsc::UnboundedReceiver<Value>,
    /// Every line read so far, in order.
    pub seen: Vec<Value>,
    stderr: Arc<Mutex<String>>,
}

impl CliProc {
    pub fn spawn(exe: &Path, name: &str, args: &[&str]) -> anyhow::Result<CliProc> {
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let pid = child.id().unwrap_or(0);
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().context("no stdout")?;
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let v = serde_json::from_str::<Value>(&line)
                    .unwrap_or_else(|_| serde_json::json!({"event": "not_json", "line": line}));
                let _ = tx.send(v);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let err = child.stderr.take().context("no stderr")?;
        tokio::spawn(async move {
            let mut reader = BufReader::new(err).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        Ok(CliProc { name: name.to_owned(), child, pid, lines, seen: Vec::new(), stderr })
    }

    fn failure(&self, what: &str) -> anyhow::Error {
        let lines: Vec<String> = self.seen.iter().map(Value::to_string).collect();
        let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        anyhow::anyhow!("{}: {what}\nlines:\n{}\nstderr:\n{stderr}", self.name, lines.join("\n"))
    }

    /// The first line (read already or to come) with this `event` for which `pred` holds.
    pub async fn event_where(&mut self, event: &str, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        if let Some(v) = self.seen.iter().find(|v| v["event"] == event && pred(v)) {
            return Ok(v.clone());
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(v)) => {
                    self.seen.push(v.clone());
                    if v["event"] == event && pred(&v) {
                        return Ok(v);
                    }
                }
                Ok(None) => return Err(self.failure(&format!("exited before printing {event}"))),
                Err(_) => return Err(self.failure(&format!("no {event} within {WAIT:?}"))),
            }
        }
    }

    pub async fn event(&mut self, event: &str) -> anyhow::Result<Value> {
        self.event_where(event, |_| true).await
    }

    /// The line of `event` about `meet_id`.
    pub async fn meet_event(&mut self, event: &str, meet_id: &str) -> anyhow::Result<Value> {
        self.event_where(event, |v| v["meet_id"] == meet_id).await
    }

    /// Waits for the process to exit (successfully) and reads the lines it left.
    pub async fn exit(&mut self) -> anyhow::Result<ExitStatus> {
        let status = match tokio::time::timeout(WAIT, self.child.wait()).await {
            Ok(s) => s?,
            Err(_) => return Err(self.failure(&format!("still running after {WAIT:?}"))),
        };
        // The reader ends at EOF, shortly after the exit.
        while let Ok(Some(v)) = tokio::time::timeout(Duration::from_secs(5), self.lines.recv()).await {
            self.seen.push(v);
        }
        if !status.success() {
            return Err(self.failure(&format!("exited with {status}")));
        }
        Ok(status)
    }

    /// Kills the process (it is waiting for rings: nothing to finish).
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

/// Bob (`agent --answer auto`, who answers Mina's meets), playing `play` and recording into
/// `record`, once signed in; `args` say what else he does.
pub async fn agent(env: &Env, args: &[&str], play: &Path, record: &Path) -> anyhow::Result<CliProc> {
    let mut all = vec!["agent", "--server", &env.base, "--email", AGENT_EMAIL, "--password", AGENT_PASSWORD];
    all.extend(["--answer", "auto"].iter().chain(args));
    let mut agent = spawn_playing(env, "agent", &all, play, record)?;
    agent.event("signed_in").await?;
    Ok(agent)
}

/// Mina (`customer --start-meet`): presses Meet, plays `play` and records into `record`;
/// `args` say what else she does (`--hangup-after …`).
pub fn customer(env: &Env, name: &str, args: &[&str], play: &Path, record: &Path) -> anyhow::Result<CliProc> {
    let mut all = vec!["customer", "--server", &env.base, "--link", &env.mina_link, "--start-meet"];
    all.extend_from_slice(args);
    spawn_playing(env, name, &all, play, record)
}

fn spawn_playing(
    env: &Env,
    name: &str,
    args: &[&str],
    play: &Path,
    record: &Path,
) -> anyhow::Result<CliProc> {
    let (play, record) = (play.display().to_string(), record.display().to_string());
    let all: Vec<&str> = args.iter().copied().chain(["--play", &play, "--record", &record]).collect();
    CliProc::spawn(&env.cli, name, &all)
}

/// A field of a line as milliseconds.
pub fn ms(v: &Value, field: &str) -> anyhow::Result<f64> {
    match v[field].as_f64() {
        Some(x) => Ok(x),
        None => bail!("{field} missing in {v}"),
    }
}
