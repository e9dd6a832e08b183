//! Migration 0004 (`call_records.body`) on a database that already holds records: they keep
//! working (the feed renders them, the retention sweeper's `fill_bodies` stores theirs), and
//! every later change writes the body again. On SQLite and on a throwaway PostgreSQL.
#![allow(clippy::unwrap_used)]

use meetdesk_store::records::{self, CallRecord, FeedRow};
use meetdesk_store::Store;
use meetdesk_testkit::Postgres;

/// A stand-in for the server's wire JSON.
fn render(r: &CallRecord) -> meetdesk_store::Result<String> {
    Ok(format!(r#"{{"id":"{}","handled":{}}}"#, r.id, r.handled))
}

async fn records_from_before_bodies_keep_working(url: &str, flavour: &str) {
    // The schema before 0004, with one record written by the old code.
    let old = tempfile::tempdir().unwrap();
    let dir = format!("{}/migrations/{flavour}", env!("CARGO_MANIFEST_DIR"));
    for f in ["0001_init.sql", "0002_call_records.sql", "0003_meets_ongoing_on_node.sql"] {
        std::fs::copy(format!("{dir}/{f}"), old.path().join(f)).unwrap();
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::migrate::Migrator::new(old.path()).await.unwrap().run(&pool).await.unwrap();
    sqlx::query(
        "INSERT INTO call_records (id, channel_id, agent_id, meet_id, direction, scope_kind, media,
             counterpart_kind, counterpart_id, counterpart_name, started_at, handled, created_seq, seq)
         VALUES ('rec_old', 'ch', 'ag', 'm_old', 'missed', 'user_chat', 'audio',
             'customer', 'cus', 'Mina', 1, 0, 1, 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE call_record_seq SET value = 1").execute(&pool).await.unwrap();
    pool.close().await;

    let store = Store::open(url).await.unwrap();
    let backend = store.backend();
    let mut tx = store.begin().await.unwrap();
    let new = CallRecord {
        id: "rec_new".into(),
        meet_id: "m_new".into(),
        ..records::get(&mut tx, "rec_old").await.unwrap().unwrap()
    };
    records::insert(&mut tx, backend, &new, render).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    let mut c = store.conn().await.unwrap();
    let body = |id: &str, handled: bool| Some(format!(r#"{{"id":"{id}","handled":{handled}}}"#));
    let expected = vec![
        FeedRow { seq: 1, id: "rec_old".into(), body: body("rec_old", false) },
        FeedRow { seq: 2, id: "rec_new".into(), body: body("rec_new", false) },
    ];
    assert_eq!(records::feed(&mut c, "ag", 0, 10, render).await.unwrap(), expected, "the old one rendered");
    assert_eq!(records::fill_bodies(&mut c, 10, render).await.unwrap(), 1);
    assert_eq!(records::fill_bodies(&mut c, 10, render).await.unwrap(), 0, "filled once");
    let stored: Option<String> = sqlx::query_scalar("SELECT body FROM call_records WHERE id = 'rec_old'")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(stored, body("rec_old", false));
    assert_eq!(records::feed(&mut c, "ag", 0, 10, render).await.unwrap(), expected, "the same, stored");

    // Changes write the body again; a tombstone has none.
    let changed = records::mark_handled(&mut c, backend, "ch", "cus", render).await.unwrap();
    assert_eq!(changed.len(), 2);
    records::delete_one(&mut c, backend, "ag", "rec_new", 9).await.unwrap().unwrap();
    assert_eq!(
        records::feed(&mut c, "ag", 2, 10, render).await.unwrap(),
        vec![
            FeedRow { seq: 3, id: "rec_old".into(), body: body("rec_old", true) },
            FeedRow { seq: 5, id: "rec_new".into(), body: None },
        ]
    );
}

#[tokio::test]
async fn sqlite_records_from_before_bodies_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    records_from_before_bodies_keep_working(&url, "sqlite").await;
}

#[tokio::test]
async fn postgres_records_from_before_bodies_keep_working() {
    let pg = Postgres::start().unwrap();
    records_from_before_bodies_keep_working(&pg.url(), "postgres").await;
}
