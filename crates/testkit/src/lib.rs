//! Test-only helpers for meetdesk (a dev-dependency; never linked into a shipped binary).
//!
//! * [`Postgres`] starts a throwaway **real** PostgreSQL server for one test (or one test
//!   binary): its own temporary directory, its own free port on 127.0.0.1, its unix socket
//!   inside that directory, `trust` authentication for the `postgres` role, UTF8. Dropping it
//!   stops the server (fast shutdown) and deletes the directory. Several servers may run at
//!   once, in one process and across processes (cargo-nextest runs each test in its own).
//! * [`free_port`] finds a TCP port on 127.0.0.1 that nothing listens on.
//! * [`pulse::PulseAudio`]: a private PulseAudio server with a virtual microphone and speaker
//!   (null sinks) for real-device audio tests; [`turn::TurnServer`]: a private coturn on
//!   127.0.0.1 with one static user. Both stop when dropped.
//! * [`generated::assert_fresh`]: keeps a directory of generated files (TypeScript bindings)
//!   equal to what a test renders, failing when it was stale.
//! * [`relay::Relay`]: a lossy UDP relay in front of a server's media port range (random loss,
//!   jitter, link cuts) for impairment tests and benches (async, on tokio).
//!
//! The API is synchronous on purpose: it works from plain `#[test]`s and from
//! `#[tokio::test]`s alike (it blocks the calling thread for the second or two that `initdb`
//! and the server start take, which is fine in a test).
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! let pg = meetdesk_testkit::Postgres::start()?;
//! let url = pg.url(); // postgres://postgres@127.0.0.1:PORT/meetdesk
//! let other = pg.new_database("second")?; // an empty database of its own on the same server
//! # let _ = (url, other);
//! # Ok(())
//! # }
//! ```
//!
//! Requirements: PostgreSQL's server binaries (Debian: `apt-get install postgresql`; they are
//! looked up in `$MEETDESK_PG_BIN`, then `/usr/lib/postgresql/<newest>/bin`, then
//! `pg_config --bindir`, then `PATH`). `initdb` and `postgres` refuse to run as root, so
//! when the tests run as root the server runs as the `postgres` system user (through
//! `setpriv`, from util-linux) and the temporary directory is handed to that user.
//!
//! If the test process dies without dropping the server (SIGKILL, abort, or a server kept in a
//! `static`), the server still stops: it is started with a parent-death signal (SIGINT, a
//! fast shutdown) tied to a supervisor thread. Directories left behind that way are removed
//! by the next [`Postgres::start`] once their owning process is gone.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Once};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context, Result};

mod child;
pub mod front;
pub mod generated;
pub mod pulse;
pub mod relay;
pub mod turn;

/// Prefix of the temporary directories (also how stale ones are recognised).
const DIR_PREFIX: &str = "meetdesk-pg-";
/// The database [`Postgres::url`] points at.
const DEFAULT_DATABASE: &str = "meetdesk";
/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the readiness loop tries to connect.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Attempts with a fresh port when another process took ours first.
const PORT_ATTEMPTS: usize = 5;
/// How long a fast shutdown may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A free TCP port on 127.0.0.1: bound, read back, and released.
///
/// Another process can take the port between this call and its use; callers that start a
/// server on it should retry with a new port when the bind fails (as [`Postgres::start`]
/// does).
///
/// # Panics
/// If no port can be bound on 127.0.0.1 at all (no loopback interface).
pub fn free_port() -> u16 {
    try_free_port().expect("cannot bind any TCP port on 127.0.0.1")
}

fn try_free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// A throwaway PostgreSQL server, stopped and deleted on drop. See the crate docs.
pub struct Postgres {
    port: u16,
    bin: PathBuf,
    // Field order matters: the supervisor (stopping the server on drop) goes before the
    // directory (deleted on drop). Only its `Drop` is used.
    _supervisor: Supervisor,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").field("port", &self.port).field("dir", &self.dir.path()).finish()
    }
}

impl Postgres {
    /// Creates a cluster in a new temporary directory, starts it on a free port of 127.0.0.1,
    /// waits (a bounded loop of real connection attempts) until it accepts connections, and
    /// creates the database that [`Postgres::url`] names.
    ///
    /// Takes about one to three seconds, most of it `initdb`.
    pub fn start() -> Result<Postgres> {
        sweep_stale_dirs();
        let bin = find_bin_dir()?;
        let run_as = if is_root()? { Some(SystemUser::lookup("postgres")?) } else { None };

        let dir = tempfile::Builder::new().prefix(DIR_PREFIX).tempdir().context("creating a temp dir")?;
        fs::write(dir.path().join("owner.pid"), std::process::id().to_string())?;
        let sock = dir.path().join("sock");
        fs::create_dir(&sock)?;
        if let Some(user) = &run_as {
            for p in [dir.path(), sock.as_path()] {
                std::os::unix::fs::chown(p, Some(user.uid), Some(user.gid))
                    .with_context(|| format!("chown {} to the postgres user", p.display()))?;
            }
        }
        let data = dir.path().join("data");

        let initdb = run(as_user(run_as.as_ref(), None, &bin.join("initdb"))?
            .current_dir(dir.path())
            .args(["--username=postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
            .arg("--pgdata")
            .arg(&data))?;
        if !initdb.status.success() {
            let hint = if run_as.is_some() {
                "\n(as root, initdb runs as the postgres user, which must be able to reach the temp dir: \
                 check TMPDIR's permissions)"
            } else {
                ""
            };
            bail!(
                "initdb failed in {} ({}):\n{}{hint}",
                dir.path().display(),
                initdb.status,
                output_text(&initdb)
            );
        }

        let log_path = dir.path().join("postgres.log");
        let mut last_error = anyhow!("no attempt made");
        for _ in 0..PORT_ATTEMPTS {
            let port = try_free_port().context("finding a free port")?;
            let log = fs::File::create(&log_path)?;
            let mut server = as_user(run_as.as_ref(), Some("INT"), &bin.join("postgres"))?;
            server
                .current_dir(dir.path())
                .arg("-D")
                .arg(&data)
                .arg("-p")
                .arg(port.to_string())
                .arg("-k")
                .arg(&sock)
                .args(["-c", "listen_addresses=127.0.0.1"])
                // A test server: durability buys nothing here, speed does.
                .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log);
            let mut stop = as_user(run_as.as_ref(), None, &bin.join("pg_ctl"))?;
            stop.current_dir(dir.path())
                .arg("stop")
                .arg("-D")
                .arg(&data)
                .args(["-m", "fast", "-w", "-s", "-t"])
                .arg(STOP_TIMEOUT.as_secs().to_string());
            let supervisor = Supervisor::spawn(server, stop)?;
            let client = Client { bin: &bin, dir: dir.path(), port };
            match wait_ready(&client, &data, &supervisor, &log_path) {
                Ok(()) => {
                    let pg = Postgres { port, bin, _supervisor: supervisor, dir };
                    pg.create_database(DEFAULT_DATABASE)?;
                    return Ok(pg);
                }
                Err(StartError { port_taken: true, error }) => {
                    // Another process bound the port first: same cluster, new port.
                    drop(supervisor);
                    last_error = error;
                }
                Err(StartError { error, .. }) => return Err(error),
            }
        }
        Err(last_error.context(format!("postgres found no free port in {PORT_ATTEMPTS} attempts")))
    }

    /// `postgres://postgres@127.0.0.1:PORT/meetdesk`: the database created by [`Postgres::start`].
    pub fn url(&self) -> String {
        self.client().url(DEFAULT_DATABASE)
    }

    /// The TCP port the server listens on (on 127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory: `data/` (the cluster), `sock/` (its unix socket) and
    /// `postgres.log` (the server's output).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Creates an empty database `name` on this server and returns its URL, so that tests
    /// sharing one server do not see each other's tables. `name` must be a plain identifier
    /// (`[a-z_][a-z0-9_]*`, at most 63 bytes) not used yet on this server.
    pub fn new_database(&self, name: &str) -> Result<String> {
        self.create_database(name)?;
        Ok(self.client().url(name))
    }

    /// Runs SQL with `psql` on `database` and returns what it printed (unaligned, tuples only:
    /// one row a line, columns separated by `|`). Handy for looking at what a test left behind.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String> {
        self.client().psql(database, sql)
    }

    fn client(&self) -> Client<'_> {
        Client { bin: &self.bin, dir: self.dir.path(), port: self.port }
    }

    fn create_database(&self, name: &str) -> Result<()> {
        check_identifier(name)?;
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))
            .with_context(|| format!("creating database {name:?}"))?;
        Ok(())
    }
}

/// What talks to a server: `psql` over TCP.
struct Client<'a> {
    bin: &'a Path,
    dir: &'a Path,
    port: u16,
}

impl Client<'_> {
    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn psql(&self, database: &str, sql: &str) -> Result<String> {
        let out = self.psql_output(database, sql)?;
        if !out.status.success() {
            bail!("psql on {database:?} failed ({}): {}", out.status, output_text(&out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn psql_output(&self, database: &str, sql: &str) -> Result<Output> {
        run(Command::new(self.bin.join("psql"))
            // Nothing from the caller's environment (PG* variables) or ~/.psqlrc changes what runs.
            .env_clear()
            .env("PGCONNECT_TIMEOUT", "5")
            .env("LC_ALL", "C")
            .current_dir(self.dir)
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-w",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-d")
            .arg(database)
            .arg("-c")
            .arg(sql))
    }
}

struct StartError {
    /// The server exited because its port was taken (retry on another one).
    port_taken: bool,
    error: anyhow::Error,
}

/// Polls with real connections until the server answers, exits, or [`START_TIMEOUT`] passes.
/// The answer must come from *this* cluster (`data_directory`): when another process's server
/// took the port first, ours fails to bind and exits while theirs would answer.
fn wait_ready(
    client: &Client<'_>,
    data: &Path,
    supervisor: &Supervisor,
    log_path: &Path,
) -> Result<(), StartError> {
    let expected = data.to_string_lossy();
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if supervisor.exited() {
            let log = tail(log_path);
            let port_taken = log.contains("Address already in use")
                || log.contains("could not bind")
                || log.contains("could not create any TCP/IP sockets");
            return Err(StartError {
                port_taken,
                error: anyhow!("postgres exited while starting on port {}; its log:\n{log}", client.port),
            });
        }
        let attempt = client.psql_output("postgres", "SHOW data_directory");
        if matches!(&attempt, Ok(out) if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == expected)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            let last = match attempt {
                Ok(out) => output_text(&out),
                Err(e) => format!("{e:#}"),
            };
            return Err(StartError {
                port_taken: false,
                error: anyhow!(
                    "postgres did not accept connections on port {} within {START_TIMEOUT:?}; last try: {last}\n\
                     its log:\n{}",
                    client.port,
                    tail(log_path)
                ),
            });
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// Owns the postmaster process from a thread of its own that lives exactly as long as the
/// server: the parent-death signal (set by `setpriv --pdeathsig`) fires when the *thread*
/// that spawned the child ends, so the server must not be spawned from a test's thread (a
/// server kept in a `static` would die with the first test).
struct Supervisor {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    exited: Arc<AtomicBool>,
}

impl Supervisor {
    fn spawn(mut server: Command, mut stop: Command) -> Result<Supervisor> {
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let exited = Arc::new(AtomicBool::new(false));
        let exited_flag = Arc::clone(&exited);
        let thread = thread::Builder::new()
            .name("testkit-postgres".into())
            .spawn(move || {
                let mut child = match server.spawn() {
                    Ok(child) => child,
                    Err(e) => {
                        exited_flag.store(true, Ordering::SeqCst);
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                loop {
                    match stop_rx.recv_timeout(Duration::from_millis(50)) {
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                        Err(RecvTimeoutError::Timeout) => {
                            if !exited_flag.load(Ordering::SeqCst) && !matches!(child.try_wait(), Ok(None)) {
                                exited_flag.store(true, Ordering::SeqCst);
                            }
                        }
                    }
                }
                shut_down(&mut child, &mut stop);
            })
            .context("spawning the supervisor thread")?;
        let spawned = ready_rx.recv().map_err(|_| anyhow!("the supervisor thread died"))?;
        let supervisor = Supervisor { stop: Some(stop_tx), thread: Some(thread), exited };
        spawned.context("starting postgres")?;
        Ok(supervisor)
    }

    fn exited(&self) -> bool {
        self.exited.load(Ordering::SeqCst)
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Fast shutdown (`pg_ctl stop -m fast`: SIGINT), bounded; SIGKILL when that does not work.
fn shut_down(child: &mut Child, stop: &mut Command) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    let _ = stop.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Ok(Some(_)) | Err(_) => return,
        }
    }
}

#[derive(Clone, Debug)]
struct SystemUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl SystemUser {
    fn lookup(name: &str) -> Result<SystemUser> {
        let id = |flag: &str| -> Result<u32> {
            let out = run(Command::new("id").arg(flag).arg(name))?;
            if !out.status.success() {
                bail!(
                    "running as root, so PostgreSQL must run as the {name:?} system user, which does not \
                     exist (Debian's postgresql package creates it): {}",
                    output_text(&out)
                );
            }
            String::from_utf8_lossy(&out.stdout).trim().parse().context("parsing the output of `id`")
        };
        Ok(SystemUser { name: name.to_owned(), uid: id("-u")?, gid: id("-g")? })
    }
}

/// A command running `program` as `user` (when root) through `setpriv`, with `pdeathsig`
/// (a signal name such as "INT") sent to it when the spawning thread ends.
fn as_user(user: Option<&SystemUser>, pdeathsig: Option<&str>, program: &Path) -> Result<Command> {
    if user.is_none() && pdeathsig.is_none() {
        return Ok(Command::new(program));
    }
    let Some(setpriv) = find_in_path("setpriv") else {
        if user.is_some() {
            bail!(
                "running as root needs `setpriv` (Debian package util-linux) to run PostgreSQL as postgres"
            );
        }
        return Ok(Command::new(program));
    };
    let mut cmd = Command::new(setpriv);
    if let Some(user) = user {
        cmd.arg("--reuid").arg(&user.name).arg("--regid").arg(user.gid.to_string()).arg("--init-groups");
        cmd.env("HOME", "/var/lib/postgresql").env("USER", &user.name).env("LOGNAME", &user.name);
    }
    if let Some(signal) = pdeathsig {
        cmd.arg("--pdeathsig").arg(signal);
    }
    cmd.arg("--").arg(program);
    Ok(cmd)
}

fn is_root() -> Result<bool> {
    // The effective uid is the third field of "Uid:" in /proc/self/status (no libc call:
    // the workspace forbids unsafe code).
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        if let Some(euid) =
            status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|ids| ids.split_whitespace().nth(1))
        {
            return Ok(euid == "0");
        }
    }
    let out = run(Command::new("id").arg("-u"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// PostgreSQL's server binaries: `$MEETDESK_PG_BIN`, then Debian's newest
/// `/usr/lib/postgresql/<version>/bin`, then `pg_config --bindir`, then `PATH`.
fn find_bin_dir() -> Result<PathBuf> {
    let complete =
        |dir: &Path| ["initdb", "postgres", "pg_ctl", "psql"].iter().all(|b| dir.join(b).is_file());
    if let Some(dir) = std::env::var_os("MEETDESK_PG_BIN") {
        let dir = PathBuf::from(dir);
        if complete(&dir) {
            return Ok(dir);
        }
        bail!("MEETDESK_PG_BIN={} lacks initdb, postgres, pg_ctl or psql", dir.display());
    }
    let mut newest: Option<(Vec<u32>, PathBuf)> = None;
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(version) = name.to_str().and_then(|v| v.split('.').map(|p| p.parse().ok()).collect())
            else {
                continue;
            };
            let dir = entry.path().join("bin");
            if complete(&dir) && newest.as_ref().is_none_or(|(v, _)| version > *v) {
                newest = Some((version, dir));
            }
        }
    }
    if let Some((_, dir)) = newest {
        return Ok(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").stderr(Stdio::null()).output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && complete(&dir) {
            return Ok(dir);
        }
    }
    if let Some(dir) = find_in_path("initdb").and_then(|p| p.parent().map(Path::to_path_buf)) {
        if complete(&dir) {
            return Ok(dir);
        }
    }
    bail!(
        "PostgreSQL server binaries (initdb, postgres, pg_ctl, psql) not found: install them \
         (Debian: apt-get install postgresql) or set MEETDESK_PG_BIN to their directory"
    )
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Removes directories of earlier runs whose owning process is gone (a test process that was
/// killed, or kept its server in a `static`). Their servers have stopped by then (parent-death
/// signal). Once per process; errors are ignored.
fn sweep_stale_dirs() {
    static SWEEP: Once = Once::new();
    SWEEP.call_once(|| {
        let Ok(entries) = fs::read_dir(std::env::temp_dir()) else { return };
        if !Path::new("/proc/self").exists() {
            return;
        }
        let alive = |pid: &str| pid.parse::<u32>().is_ok() && Path::new("/proc").join(pid).exists();
        for entry in entries.flatten() {
            let path = entry.path();
            if !entry.file_name().to_string_lossy().starts_with(DIR_PREFIX) || !path.is_dir() {
                continue;
            }
            let owner = fs::read_to_string(path.join("owner.pid")).unwrap_or_default();
            let owner = owner.trim();
            let stale = if owner.is_empty() {
                // Just being created by someone, or very old: only the latter.
                older_than(&path, Duration::from_secs(600))
            } else {
                !alive(owner)
            };
            let postmaster = fs::read_to_string(path.join("data/postmaster.pid")).unwrap_or_default();
            let server_running = postmaster.lines().next().is_some_and(|pid| alive(pid.trim()));
            if stale && !server_running {
                let _ = fs::remove_dir_all(&path);
            }
        }
    });
}

fn older_than(path: &Path, age: Duration) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|d| d > age)
}

fn check_identifier(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if !first_ok
        || name.len() > 63
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        bail!("database name {name:?} is not a plain identifier ([a-z_][a-z0-9_]*, at most 63 bytes)");
    }
    Ok(())
}

fn run(cmd: &mut Command) -> Result<Output> {
    let program = cmd.get_program().to_owned();
    cmd.stdin(Stdio::null()).output().with_context(|| format!("running {}", display(&program)))
}

fn display(program: &OsStr) -> String {
    program.to_string_lossy().into_owned()
}

fn output_text(out: &Output) -> String {
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text.trim().to_owned()
}

/// The last few kilobytes of a log file.
fn tail(path: &Path) -> String {
    let read = || -> io::Result<String> {
        let mut file = fs::File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(4096)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    read().unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Another cluster answering on "our" port (it took the port first, ours failed to bind)
    /// must not pass for ours: the start is retried on a new port instead.
    #[test]
    fn a_foreign_server_on_the_port_is_not_taken_for_ours() {
        let other = Postgres::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("postgres.log");
        fs::write(&log_path, "LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use\n")
            .unwrap();
        // "Our" server: exits at once, as a postmaster that could not bind does.
        let ours = Supervisor::spawn(Command::new("true"), Command::new("true")).unwrap();
        let client = Client { bin: &other.bin, dir: dir.path(), port: other.port };
        let started = Instant::now();
        let err = wait_ready(&client, &dir.path().join("data"), &ours, &log_path).unwrap_err();
        assert!(err.port_taken, "{:#}", err.error);
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_server_can_live_in_a_static() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Postgres>();
    }

    #[test]
    fn identifiers() {
        for ok in ["a", "_x", "t_1", &"z".repeat(63)] {
            assert!(check_identifier(ok).is_ok(), "{ok}");
        }
        for bad in ["", "A", "1a", "a b", "a-b", "ä", &"z".repeat(64)] {
            assert!(check_identifier(bad).is_err(), "{bad}");
        }
    }
}
