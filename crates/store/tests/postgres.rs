//! The checks of `sqlite.rs`, against a throwaway real PostgreSQL server (meetdesk-testkit).
#![allow(clippy::unwrap_used)]

use anyhow::Context;
use meetdesk_store::{accounts, events, Backend, Store};
use meetdesk_testkit::Postgres;

#[tokio::test]
async fn migrations_run_and_placeholders_bind_by_number() -> anyhow::Result<()> {
    let pg = Postgres::start()?;
    let url = pg.url();
    let store = Store::open(&url).await?;
    assert_eq!(store.backend(), Backend::Postgres);
    let mut c = store.conn().await?;
    let ch = accounts::Channel {
        id: "c1".into(),
        name: "Demo".into(),
        widget_key: "demo".into(),
        audio_enabled: true,
        video_enabled: false,
    };
    assert!(accounts::insert_channel(&mut c, &ch, 1).await?);
    assert!(!accounts::insert_channel(&mut c, &ch, 1).await?);
    // $3 before $1 in the text: must still bind by number.
    accounts::set_channel_media(&mut c, "c1", false, true).await?;
    let got = accounts::channel_by_id(&mut c, "c1").await?.context("channel c1 not found")?;
    assert!(!got.audio_enabled && got.video_enabled);
    let a = events::insert(&mut c, store.backend(), "c1", "{}", "{}", 5).await?;
    let b = events::insert(&mut c, store.backend(), "c1", "{}", "{}", 6).await?;
    assert!(b > a);
    assert_eq!(events::after(&mut c, a, 10).await?.len(), 1);
    drop(c);
    // Re-opening runs no migration twice.
    store.close().await;
    let reopened = Store::open(&url).await?;
    let mut c = reopened.conn().await?;
    assert!(accounts::channel_by_id(&mut c, "c1").await?.is_some());
    drop(c);
    reopened.close().await;

    // Another database on the same server starts empty (isolation between tests).
    let other = Store::open(&pg.new_database("second")?).await?;
    let mut c = other.conn().await?;
    assert!(accounts::channel_by_id(&mut c, "c1").await?.is_none());
    drop(c);
    other.close().await;
    Ok(())
}
