//! The server under test, in a child process: this binary re-executed as
//! `meetdesk-bench serve --database … --threads …`, calling `meetdesk_server::start` the way
//! `meetdesk-server` does (same log filter), and stopping when its stdin closes.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use meetdesk_server::Config;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout};

const READY: &str = "meetdesk-bench server listening on ";

/// Raises the soft open-file limit to at least `need` (and the hard one where allowed).
pub fn raise_nofile(need: u64) -> anyhow::Result<u64> {
    use rlimit::Resource;
    let (soft, hard) = Resource::NOFILE.get()?;
    if soft >= need {
        return Ok(soft);
    }
    if Resource::NOFILE.set(need, hard.max(need)).is_ok() {
        return Ok(need);
    }
    Resource::NOFILE.set(hard, hard)?;
    if hard < need {
        bail!(
            "RLIMIT_NOFILE hard limit is {hard}, the benchmark needs {need} per process \
             (raise `ulimit -Hn`, or use fewer --sockets)"
        );
    }
    Ok(hard)
}

/// `meetdesk-bench serve`: runs the server until stdin closes.
pub fn serve(database: &str, threads: usize) -> anyhow::Result<()> {
    raise_nofile(16_384)?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("meetdesk-server")
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut config = Config::new(([127, 0, 0, 1], 0).into(), database);
        config.demo = true;
        let server = meetdesk_server::start(config).await?;
        println!("{READY}{}", server.addr);
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while let Ok(n) = stdin.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
        server.shutdown().await;
        anyhow::Ok(())
    })
}

/// The running child.
pub struct Child {
    pub addr: SocketAddr,
    pub pid: u32,
    child: tokio::process::Child,
    stdin: Option<ChildStdin>,
    _stdout: BufReader<ChildStdout>,
}

impl Child {
    /// Starts the server on `database` (already prepared); its log goes to `log`.
    pub async fn spawn(database: &str, threads: usize, log: &Path) -> anyhow::Result<Child> {
        let exe = std::env::current_exe().context("locating this binary")?;
        let log = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = tokio::process::Command::new(exe)
            .args(["serve", "--database", database, "--threads", &threads.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting the server process")?;
        let pid = child.id().unwrap_or(0);
        let stdin = child.stdin.take();
        let Some(stdout) = child.stdout.take() else { bail!("no stdout from the server process") };
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(120), stdout.read_line(&mut line))
            .await
            .context("the server did not start within 120 s")??;
        let Some(addr) = line.trim().strip_prefix(READY) else {
            let status = child.try_wait()?;
            bail!("the server process did not start (said {line:?}, status {status:?}); see its log");
        };
        let addr = addr.parse().with_context(|| format!("parsing the server address {addr:?}"))?;
        Ok(Child { addr, pid, child, stdin, _stdout: stdout })
    }

    /// Closes its stdin (graceful shutdown) and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        drop(self.stdin.take());
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    bail!("the server process exited with {status}");
                }
            }
            Err(_) => {
                self.child.kill().await?;
                bail!("the server process did not stop within 30 s; killed");
            }
        }
        Ok(())
    }
}
