//! `--database` as operators write it: a SQLite URL for a file that does not exist yet creates
//! it (as the default path does); each mistake stops the binary with one line that says what
//! is wrong, exit code 2, and no backtrace unless `RUST_BACKTRACE` asks for one.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_meetdesk-server");

fn server(database: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["--listen", "127.0.0.1:0", "--database", database])
        .env_remove("RUST_BACKTRACE")
        .env_remove("MEETDESK_DATABASE")
        .stdin(Stdio::null());
    cmd
}

/// Runs the server on `database`, which must be refused; returns its one line of stderr.
fn refused(database: &str) -> String {
    let out = server(database).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{database}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{database}: one line, no backtrace: {stderr}");
    assert!(lines[0].starts_with("meetdesk-server: "), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Backtrace"), "{stderr}");
    lines[0].to_owned()
}

#[test]
fn a_sqlite_url_for_a_new_file_creates_it_and_the_server_starts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.db");
    for url in [format!("sqlite://{}", db.display()), format!("sqlite:{}?cache=shared", db.display())] {
        let mut child = server(&url).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let started =
            lines.by_ref().map_while(Result::ok).any(|l| l.contains("meetdesk server listening on"));
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(started, "{url}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(db.exists(), "{url} created the file");
    }
}

#[test]
fn a_database_url_an_operator_gets_wrong_is_refused_in_one_line() {
    // Not a database we speak.
    let e = refused("mysql://root@localhost/meetdesk");
    assert!(
        e.contains("unsupported database URL") && e.contains("sqlite://PATH") && e.contains("postgres://"),
        "{e}"
    );
    let e = refused("meetdesk.db");
    assert!(e.contains("unsupported database URL"), "{e}");

    // PostgreSQL that is not there: says where, never the password.
    let port = meetdesk_testkit::free_port();
    let e = refused(&format!("postgres://meetdesk:s3cret@127.0.0.1:{port}/meetdesk"));
    assert!(e.contains(&format!("the PostgreSQL server at 127.0.0.1:{port}")), "{e}");
    assert!(e.contains("refused") && e.contains("is PostgreSQL running"), "{e}");
    assert!(!e.contains("s3cret"), "the password stays out of the message: {e}");

    // A directory that does not exist, and one this user may not write in.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/meetdesk.db");
    let e = refused(&format!("sqlite://{}", missing.display()));
    assert!(e.contains(&format!("the SQLite database {}", missing.display())), "{e}");
    assert!(e.contains("may this user write in it"), "{e}");
    let read_only = read_only_dir(dir.path());
    let e = refused(&format!("sqlite://{}", read_only.join("meetdesk.db").display()));
    assert!(e.contains("cannot open the SQLite database") && e.contains("may this user write in it"), "{e}");

    // Asked read-only, for a file that does not exist: not created.
    let e = refused(&format!("sqlite://{}?mode=ro", dir.path().join("absent.db").display()));
    assert!(e.contains("cannot open the SQLite database"), "{e}");
    assert!(!dir.path().join("absent.db").exists());
}

#[test]
fn rust_backtrace_asks_for_the_whole_story() {
    let out = server("mysql://x").env("RUST_BACKTRACE", "1").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsupported database URL"), "{stderr}");
    assert!(stderr.lines().count() > 1, "the chain and backtrace: {stderr}");
}

/// A directory no file can be created in: mode 0555, or, for a user that writes anyway
/// (root), a directory of /proc.
fn read_only_dir(parent: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = parent.join("read-only");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::File::create(dir.join("probe")).is_ok() {
        return std::path::PathBuf::from("/proc/self");
    }
    dir
}
