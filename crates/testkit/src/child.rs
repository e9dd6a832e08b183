//! Daemons that a test owns: started with a parent-death signal, stopped (SIGTERM, then
//! SIGKILL) when dropped, and waited for by polling a condition with a deadline.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How often a readiness condition is checked.
pub(crate) const POLL: Duration = Duration::from_millis(20);
/// How long a daemon may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A command that runs `program` with SIGTERM as its parent-death signal (through `setpriv`,
/// from util-linux, when it is there), so that the daemon stops even when the test process
/// dies without dropping its guard. The signal follows the *thread* that spawns it: start
/// daemons from the test's own thread.
pub(crate) fn command(program: &str) -> Command {
    match find_in_path("setpriv") {
        Some(setpriv) => {
            let mut cmd = Command::new(setpriv);
            cmd.args(["--pdeathsig", "TERM", "--", program]);
            cmd
        }
        None => Command::new(program),
    }
}

/// Is `program` on `PATH` (or in /usr/bin, /usr/sbin)?
pub(crate) fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin"), PathBuf::from("/bin")])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Fails with an install hint when `program` is missing.
pub(crate) fn require(program: &str, package: &str) -> Result<()> {
    if find_in_path(program).is_none() {
        bail!("`{program}` not found: install the Debian package {package} (scripts/test.sh does)");
    }
    Ok(())
}

/// A child process stopped on drop.
#[derive(Debug)]
pub(crate) struct Owned {
    name: String,
    child: Child,
}

impl Owned {
    pub(crate) fn spawn(name: &str, cmd: &mut Command) -> Result<Owned> {
        let child = cmd.stdin(Stdio::null()).spawn().with_context(|| format!("starting {name}"))?;
        Ok(Owned { name: name.to_owned(), child })
    }

    pub(crate) fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Has it exited (and how)?
    pub(crate) fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    /// SIGTERM, a bounded wait, then SIGKILL. Idempotent.
    pub(crate) fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        // No libc (the workspace forbids unsafe code): kill(1).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            thread::sleep(POLL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for it to exit by itself, at most `timeout`.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!("{} still running after {timeout:?}", self.name);
            }
            thread::sleep(POLL);
        }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `ready` until it returns `Ok(Some(_))`, fails as soon as `daemon` exits, or after
/// `timeout`. `what` names the condition for the error.
pub(crate) fn wait_until<T>(
    daemon: &mut Owned,
    timeout: Duration,
    what: &str,
    log: &Path,
    mut ready: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = ready()? {
            return Ok(v);
        }
        if let Some(status) = daemon.exited() {
            bail!("{} exited ({status}) before {what}; its log:\n{}", daemon.name, read_tail(log));
        }
        if Instant::now() >= deadline {
            bail!("{} not ready within {timeout:?}: {what}; its log:\n{}", daemon.name, read_tail(log));
        }
        thread::sleep(POLL);
    }
}

/// The last few kilobytes of a log file (for error messages).
pub(crate) fn read_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(4000);
    let start = (start..text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
    text[start..].to_owned()
}
