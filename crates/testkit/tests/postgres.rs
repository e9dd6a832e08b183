#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use meetdesk_testkit::{free_port, Postgres};

fn postmaster_pid(pg: &Postgres) -> String {
    let text = std::fs::read_to_string(pg.dir().join("data/postmaster.pid")).unwrap();
    text.lines().next().unwrap().trim().to_owned()
}

fn wait_gone(pid: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Path::new("/proc").join(pid).exists() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[test]
fn starts_a_server_with_a_database_and_isolated_extra_databases() {
    let pg = Postgres::start().unwrap();
    assert_eq!(pg.url(), format!("postgres://postgres@127.0.0.1:{}/meetdesk", pg.port()));
    assert_eq!(pg.psql("meetdesk", "SELECT current_database()").unwrap().trim(), "meetdesk");
    assert_eq!(pg.psql("meetdesk", "SHOW server_encoding").unwrap().trim(), "UTF8");
    assert_eq!(pg.psql("meetdesk", "SHOW listen_addresses").unwrap().trim(), "127.0.0.1");
    let socket_dir = pg.psql("meetdesk", "SHOW unix_socket_directories").unwrap();
    assert!(Path::new(socket_dir.trim()).starts_with(pg.dir()), "{socket_dir}");

    let a = pg.new_database("iso_a").unwrap();
    assert_eq!(a, format!("postgres://postgres@127.0.0.1:{}/iso_a", pg.port()));
    pg.psql("iso_a", "CREATE TABLE t (x BIGINT); INSERT INTO t VALUES (7)").unwrap();
    assert_eq!(pg.psql("iso_a", "SELECT x FROM t").unwrap().trim(), "7");
    let other = pg.psql("meetdesk", "SELECT to_regclass('t') IS NULL").unwrap();
    assert_eq!(other.trim(), "t", "the table must not exist in another database");

    assert!(pg.new_database("iso_a").is_err(), "a second database of the same name");
    for bad in ["", "Upper", "1abc", "a-b", "a\"; DROP DATABASE meetdesk; --", &"x".repeat(64)] {
        assert!(pg.new_database(bad).is_err(), "{bad:?} must be refused");
    }
}

#[test]
fn parallel_servers_get_their_own_port_and_dir_and_drop_stops_and_deletes() {
    let servers: Vec<Postgres> = (0..3)
        .map(|_| std::thread::spawn(Postgres::start))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    let mut ports: Vec<u16> = servers.iter().map(Postgres::port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 3);
    let mut dirs: Vec<_> = servers.iter().map(|s| s.dir().to_path_buf()).collect();
    dirs.sort();
    dirs.dedup();
    assert_eq!(dirs.len(), 3);

    // Each is used from a thread other than the one that started it.
    for pg in &servers {
        assert_eq!(pg.psql("meetdesk", "SELECT 40 + 2").unwrap().trim(), "42");
    }

    for pg in servers {
        let pid = postmaster_pid(&pg);
        let dir = pg.dir().to_path_buf();
        let port = pg.port();
        let started = Instant::now();
        drop(pg);
        assert!(started.elapsed() < Duration::from_secs(10), "fast shutdown took {:?}", started.elapsed());
        assert!(wait_gone(&pid), "postmaster {pid} still runs after drop");
        assert!(!dir.exists(), "{} still exists after drop", dir.display());
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(), "port {port} still accepts");
    }
}

#[test]
fn free_port_can_be_bound() {
    let port = free_port();
    assert_ne!(port, 0);
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
}

/// Run by `a_killed_test_process_leaves_no_server_running` in a child process.
#[test]
fn helper_start_and_hang() {
    if std::env::var_os("TESTKIT_HELPER").is_none() {
        return;
    }
    let pg = Postgres::start().unwrap();
    println!("TESTKIT_HELPER pid={} dir={}", postmaster_pid(&pg), pg.dir().display());
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn a_killed_test_process_leaves_no_server_running() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "helper_start_and_hang", "--nocapture", "--test-threads=1"])
        .env("TESTKIT_HELPER", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let line = stdout
        .lines()
        .map(Result::unwrap)
        // libtest prints "test NAME ... " on the same line first.
        .find_map(|l| l.split_once("TESTKIT_HELPER ").map(|(_, rest)| rest.to_owned()))
        .expect("the helper never reported its server");
    let pid = line.split_whitespace().find_map(|w| w.strip_prefix("pid=")).unwrap().to_owned();
    let dir = line.split_whitespace().find_map(|w| w.strip_prefix("dir=")).unwrap().to_owned();
    assert!(Path::new("/proc").join(&pid).exists());

    child.kill().unwrap(); // SIGKILL: no destructor runs.
    child.wait().unwrap();
    assert!(wait_gone(&pid), "postmaster {pid} outlived its killed test process");
    // Its directory is left behind for the next start in another process to sweep (maybe
    // already done by a test process running in parallel).
    let _ = std::fs::remove_dir_all(&dir);
}
