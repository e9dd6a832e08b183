//! A private TURN server (coturn's `turnserver`) on 127.0.0.1 for one test.
//!
//! [`TurnServer::start`] runs `turnserver` in the foreground on a free UDP port of 127.0.0.1,
//! UDP only (no TCP, TLS, DTLS, no telnet CLI), long-term credentials with one static user, a
//! relay on 127.0.0.1, and **loopback peers allowed** (coturn refuses to relay to 127.0.0.0/8
//! by default, and every test peer lives there). No configuration file is read (`-n`); its
//! user database and pid file are in a temporary directory; its log (verbose) goes to a file
//! there, readable with [`TurnServer::log`]. Dropping it stops the server.
//!
//! Needs Debian's `coturn`.

use std::fs;
use std::net::{Ipv4Addr, UdpSocket};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::child::{self, Owned};

const START_TIMEOUT: Duration = Duration::from_secs(20);
const PORT_ATTEMPTS: usize = 5;
/// The realm of the long-term credentials.
pub const REALM: &str = "meetdesk.test";

/// A running coturn; stopped on drop.
#[derive(Debug)]
pub struct TurnServer {
    daemon: Owned,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl TurnServer {
    /// Starts coturn with one user `username` / `password` and waits (reading its log,
    /// bounded) until its UDP listener is open. Retries on another port when the chosen one
    /// was taken in between.
    pub fn start(username: &str, password: &str) -> Result<TurnServer> {
        child::require("turnserver", "coturn")?;
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            match Self::try_start(username, password) {
                Ok(server) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("coturn did not start")))
    }

    fn try_start(username: &str, password: &str) -> Result<TurnServer> {
        let dir = tempfile::Builder::new().prefix("meetdesk-turn-").tempdir().context("temp dir")?;
        let port = free_udp_port()?;
        let log = dir.path().join("turnserver.log");
        let log_file = fs::File::create(&log).context("creating the coturn log")?;
        let mut cmd = child::command("turnserver");
        cmd.arg("-n")
            .args(["--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1"])
            .arg("--listening-port")
            .arg(port.to_string())
            .args(["--no-tcp", "--no-tls", "--no-dtls", "--no-tcp-relay", "--no-cli"])
            .arg("--allow-loopback-peers")
            .args(["--lt-cred-mech", "--realm", REALM])
            .arg("--user")
            .arg(format!("{username}:{password}"))
            .arg("--userdb")
            .arg(dir.path().join("turndb"))
            .arg("--pidfile")
            .arg(dir.path().join("turnserver.pid"))
            .args(["--log-file", "stdout", "--simple-log", "--verbose"])
            .current_dir(dir.path())
            .stdout(log_file)
            .stderr(Stdio::null());
        let mut daemon = Owned::spawn("turnserver", &mut cmd)?;
        let listening = format!("UDP listener opened on: 127.0.0.1:{port}");
        let log_path = log.clone();
        child::wait_until(&mut daemon, START_TIMEOUT, &listening, &log, || {
            Ok(fs::read_to_string(&log_path).unwrap_or_default().contains(&listening).then_some(()))
        })?;
        Ok(TurnServer { daemon, port, log, _dir: dir })
    }

    /// The URL to hand to ICE: `turn:127.0.0.1:PORT?transport=udp`.
    pub fn url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=udp", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything coturn logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Is the server still running?
    pub fn is_running(&mut self) -> bool {
        self.daemon.exited().is_none()
    }
}

/// A UDP port on 127.0.0.1 that nothing was bound to a moment ago.
pub fn free_udp_port() -> Result<u16> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a UDP port on 127.0.0.1")?;
    Ok(socket.local_addr()?.port())
}
