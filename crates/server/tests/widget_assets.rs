//! `/widget/*` serves the built customer widget from `Config::widget_dir`, and says clearly
//! when there is none.

use meetdesk_server::Config;
use serde_json::Value;

async fn serve(widget_dir: &std::path::Path, db_dir: &std::path::Path) -> meetdesk_server::Server {
    let db = format!("sqlite://{}?mode=rwc", db_dir.join("x.db").display());
    let mut config = Config::new("127.0.0.1:0".parse().expect("addr"), db);
    config.widget_dir = widget_dir.to_owned();
    meetdesk_server::start(config).await.expect("server starts")
}

async fn get(url: &str) -> (u16, Option<String>, String) {
    let res = reqwest::get(url).await.expect("request");
    let status = res.status().as_u16();
    let ctype = res.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (status, ctype, res.text().await.expect("body"))
}

fn code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).expect("JSON error body");
    v["error"]["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn built_widget_files_are_served_and_missing_ones_answer_not_found() {
    let widget = tempfile::tempdir().expect("tempdir");
    let db = tempfile::tempdir().expect("tempdir");
    std::fs::write(widget.path().join("meetdesk.js"), "export const x = 1;\n").expect("write");
    std::fs::write(widget.path().join("interop.html"), "<!doctype html><p>hi</p>\n").expect("write");
    let server = serve(widget.path(), db.path()).await;
    let base = server.url();

    let (status, ctype, body) = get(&format!("{base}/widget/meetdesk.js")).await;
    assert_eq!(status, 200);
    assert_eq!(ctype.as_deref(), Some("text/javascript"));
    assert_eq!(body, "export const x = 1;\n");

    let (status, ctype, _) = get(&format!("{base}/widget/interop.html")).await;
    assert_eq!(status, 200);
    assert!(ctype.is_some_and(|c| c.starts_with("text/html")));

    let (status, _, body) = get(&format!("{base}/widget/nope.js")).await;
    assert_eq!((status, code(&body).as_str()), (404, "not_found"));
    // No escaping the directory.
    let (status, _, body) = get(&format!("{base}/widget/..%2F..%2FCargo.toml")).await;
    assert_eq!((status, code(&body).as_str()), (404, "not_found"));
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_built_widget_every_path_says_widget_not_built() {
    let empty = tempfile::tempdir().expect("tempdir");
    let db = tempfile::tempdir().expect("tempdir");
    let server = serve(&empty.path().join("dist"), db.path()).await;
    let base = server.url();
    for path in ["/widget/meetdesk.js", "/widget/interop.html", "/widget/"] {
        let (status, ctype, body) = get(&format!("{base}{path}")).await;
        assert_eq!((status, code(&body).as_str()), (404, "widget_not_built"), "{path}");
        assert_eq!(ctype.as_deref(), Some("application/json"));
        assert!(!body.contains(&empty.path().display().to_string()), "the directory is not disclosed");
    }
    server.shutdown().await;
}

#[test]
fn the_default_widget_dir_is_this_checkouts_widget_dist() {
    let dir = meetdesk_server::default_widget_dir();
    assert!(dir.ends_with("widget/dist"), "{}", dir.display());
    assert!(dir.parent().is_some_and(|w| w.join("package.json").is_file()), "{}", dir.display());
}
