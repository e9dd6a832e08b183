//! Follow-ups to offline customers reach them by e-mail when SMTP is configured (P3).
#![allow(clippy::unwrap_used)]

mod common;

use meetdesk_protocol as p;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A minimal SMTP receiver on 127.0.0.1: accepts every message and hands over its DATA.
async fn smtp_sink() -> (u16, mpsc::UnboundedReceiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let (mut rcpt, mut data, mut in_data) = (String::new(), String::new(), false);
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            let _ = tx.send((rcpt.clone(), std::mem::take(&mut data)));
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            data.push_str(&line);
                            data.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250 sink\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        rcpt = line[8..].trim().trim_matches(['<', '>']).to_owned();
                        b"250 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        b"354 go\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_customer_gets_the_meet_link_by_email() {
    let (port, mut mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    let mut config = meetdesk_server::Config::new("127.0.0.1:0".parse().unwrap(), db);
    config.demo = true;
    config.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
    config.smtp_from = Some("Demo support <support@demo.test>".into());
    let server = meetdesk_server::start(config).await.unwrap();
    let http = reqwest::Client::new();
    let base = server.url();
    let session: p::SessionResponse = http
        .post(format!("{base}/api/auth/sign-in"))
        .json(&json!({"email": "bob@demo.test", "password": "demo"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let meet: p::MeetView = http
        .post(format!("{base}/api/meets"))
        .bearer_auth(&session.token)
        .json(&json!({"target": {"kind": "user_chat", "chat_id": "chat_mina"}, "media": "audio"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meet.state, p::MeetState::WaitingForLink);
    let (to, data) = tokio::time::timeout(common::WAIT, mails.recv()).await.unwrap().unwrap();
    assert_eq!(to, "mina@example.com");
    assert!(data.contains(&format!("/m/{}?t=", meet.id)), "the e-mail carries the meet link: {data}");
    assert!(data.contains("Bob Baker would like to talk with you"), "{data}");
    server.shutdown().await;
}
