#![allow(clippy::unwrap_used)]

use meetdesk_store::{accounts, events, Store};

#[tokio::test]
async fn migrations_run_and_placeholders_bind_by_number() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = Store::open(&url).await.unwrap();
    let mut c = store.conn().await.unwrap();
    let ch = accounts::Channel {
        id: "c1".into(),
        name: "Demo".into(),
        widget_key: "demo".into(),
        audio_enabled: true,
        video_enabled: false,
    };
    assert!(accounts::insert_channel(&mut c, &ch, 1).await.unwrap());
    assert!(!accounts::insert_channel(&mut c, &ch, 1).await.unwrap());
    // $3 before $1 in the text: must still bind by number.
    accounts::set_channel_media(&mut c, "c1", false, true).await.unwrap();
    let got = accounts::channel_by_id(&mut c, "c1").await.unwrap().unwrap();
    assert!(!got.audio_enabled && got.video_enabled);
    let a = events::insert(&mut c, store.backend(), "c1", "{}", "{}", 5).await.unwrap();
    let b = events::insert(&mut c, store.backend(), "c1", "{}", "{}", 6).await.unwrap();
    assert!(b > a);
    assert_eq!(events::after(&mut c, a, 10).await.unwrap().len(), 1);
    drop(c);
    // Re-opening runs no migration twice.
    store.close().await;
    Store::open(&url).await.unwrap();
}
