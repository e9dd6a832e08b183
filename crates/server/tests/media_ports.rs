//! `--media-ports` (and `MEETDESK_MEDIA_PORTS`): a bad range stops the binary at once with a
//! message that names the flag and what is wrong.
#![allow(clippy::unwrap_used)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_meetdesk-server");

fn refused(args: &[&str], env: Option<&str>) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("MEETDESK_MEDIA_PORTS");
    if let Some(v) = env {
        cmd.env("MEETDESK_MEDIA_PORTS", v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} {env:?} was accepted: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn a_bad_media_port_range_is_refused_with_a_clear_message() {
    let e = refused(&["--media-ports", "40999-40000"], None);
    assert!(e.contains("--media-ports") && e.contains("40999-40000 is empty"), "{e}");
    let e = refused(&["--media-ports", "40000-"], None);
    assert!(e.contains("expected START-END"), "{e}");
    let e = refused(&["--media-ports", "0-10"], None);
    assert!(e.contains("\"0\" is not a port number"), "{e}");
    let e = refused(&[], Some("40000-99999"));
    assert!(e.contains("\"99999\" is not a port number"), "{e}");
}
