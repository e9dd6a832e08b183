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

#[tokio::test]
async fn widget_files_may_be_loaded_by_other_sites_and_are_cached_briefly() {
    let widget = tempfile::tempdir().expect("tempdir");
    let db = tempfile::tempdir().expect("tempdir");
    std::fs::write(widget.path().join("meetdesk.js"), "export const x = 1;\n").expect("write");
    let server = serve(widget.path(), db.path()).await;
    let url = format!("{}/widget/meetdesk.js", server.url());
    let http = reqwest::Client::new();
    let header = |res: &reqwest::Response, name: &str| {
        res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    };

    let res = http.get(&url).header("origin", "https://shop.example").send().await.expect("request");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(header(&res, "cross-origin-resource-policy").as_deref(), Some("cross-origin"));
    assert_eq!(header(&res, "x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(header(&res, "cache-control").as_deref(), Some("public, max-age=300"));
    // Revalidation still works.
    let modified = header(&res, "last-modified").expect("Last-Modified");
    let res = http.get(&url).header("if-modified-since", &modified).send().await.expect("request");
    assert_eq!(res.status().as_u16(), 304);
    assert_eq!(header(&res, "cache-control").as_deref(), Some("public, max-age=300"));
    assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some("*"));

    // The build's precompressed copy goes to browsers that accept it, the file itself to others.
    std::fs::write(widget.path().join("meetdesk.js.gz"), b"gzip bytes").expect("write");
    let res = http.get(&url).header("accept-encoding", "gzip, deflate").send().await.expect("request");
    assert_eq!(header(&res, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(header(&res, "cache-control").as_deref(), Some("public, max-age=300"));
    assert_eq!(res.bytes().await.expect("body").as_ref(), b"gzip bytes");
    let res = http.get(&url).header("accept-encoding", "identity").send().await.expect("request");
    assert_eq!(header(&res, "content-encoding"), None);
    assert_eq!(res.text().await.expect("body"), "export const x = 1;\n");

    // A missing file is not cached, but its JSON error is readable cross-origin.
    let res = http.get(format!("{}/widget/nope.js", server.url())).send().await.expect("request");
    assert_eq!(res.status().as_u16(), 404);
    assert_eq!(header(&res, "cache-control"), None);
    assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(code(&res.text().await.expect("body")), "not_found");
    server.shutdown().await;
}

#[tokio::test]
async fn the_api_answers_cross_origin_preflights_and_requests() {
    let widget = tempfile::tempdir().expect("tempdir");
    let db = tempfile::tempdir().expect("tempdir");
    let server = serve(widget.path(), db.path()).await;
    let http = reqwest::Client::new();
    let header = |res: &reqwest::Response, name: &str| {
        res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned).unwrap_or_default()
    };

    for (method, path) in
        [("GET", "/api/chats/x"), ("POST", "/api/meets/m1/link-status"), ("PATCH", "/api/chats/x")]
    {
        let res = http
            .request(reqwest::Method::OPTIONS, format!("{}{path}", server.url()))
            .header("origin", "https://shop.example")
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "authorization, content-type")
            .send()
            .await
            .expect("request");
        assert!(res.status().is_success(), "{method} {path}: {}", res.status());
        assert_eq!(header(&res, "access-control-allow-origin"), "*", "{path}");
        assert!(header(&res, "access-control-allow-methods").contains(method), "{method} {path}");
        let allowed = header(&res, "access-control-allow-headers").to_ascii_lowercase();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"), "{allowed}");
        assert_eq!(header(&res, "access-control-max-age"), "3600");
        assert_eq!(header(&res, "access-control-allow-credentials"), "");
    }

    // The request itself: answers (here a refusal) are readable from the other origin.
    let res = http
        .get(format!("{}/api/chats/x", server.url()))
        .header("origin", "https://shop.example")
        .bearer_auth("nope")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(header(&res, "access-control-allow-origin"), "*");

    // A method no route takes still answers 405 in the API's shape.
    let res = http.delete(format!("{}/api/openapi.json", server.url())).send().await.expect("request");
    assert_eq!(res.status().as_u16(), 405);
    assert_eq!(code(&res.text().await.expect("body")), "method_not_allowed");
    let res = http.put(format!("{}/healthz", server.url())).send().await.expect("request");
    assert_eq!(res.status().as_u16(), 405);
    assert_eq!(code(&res.text().await.expect("body")), "method_not_allowed");
    server.shutdown().await;
}
