//! The local cache: one SQLite file (rusqlite, WAL) with the agent's records, the sync cursor
//! and the deletes made offline. Readable without the server.
//!
//! A cache that cannot be opened, fails SQLite's `quick_check`, or carries a schema this code
//! does not know is deleted and created again empty ([`OpenState::Rebuilt`]): the server holds
//! every record, so the next sync pulls them all back and nothing is lost (only deletes made
//! offline and not yet sent go with the broken file).

use std::path::{Path, PathBuf};

use meetdesk_protocol as p;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::engine::{Output, PendingDelete};
use crate::HistoryError;

/// The schema this code writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

/// Migrations by version: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE records (
        id TEXT PRIMARY KEY,
        started_at INTEGER NOT NULL,
        created_seq INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX records_started ON records(started_at DESC, id);
    CREATE TABLE pending_deletes (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        idem_key TEXT NOT NULL UNIQUE,
        target TEXT NOT NULL
    );
"];

/// How the cache was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenState {
    /// An existing cache, as it was.
    Opened,
    /// There was none (first start, or it was removed): everything is pulled from the server.
    Created,
    /// It was unreadable and was started again: everything is pulled from the server. The UI
    /// says so ("Restoring your call history from the server; nothing is lost").
    Rebuilt { reason: String },
}

impl OpenState {
    /// Tell the user the history is being restored and nothing is lost.
    pub fn nothing_lost_notice(&self) -> bool {
        matches!(self, OpenState::Rebuilt { .. })
    }
}

/// The write-ahead log is copied into the database file (a checkpoint) once about this much
/// was written to it.
const CHECKPOINT_BYTES: usize = 4 << 20;

pub struct Cache {
    conn: Connection,
    path: PathBuf,
    /// Bytes of records written since the last checkpoint (about).
    unchecked: usize,
    /// The checkpoint running beside us, if any.
    checkpointer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Cache {
    fn drop(&mut self) {
        if let Some(h) = self.checkpointer.take() {
            let _ = h.join();
        }
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("path", &self.path).finish()
    }
}

fn remove_files(path: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(PathBuf::from(p)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Cache {
    /// Opens (or creates) the cache of `account` (e.g. server URL and agent id) at `path`.
    /// A cache of another account is emptied first.
    pub fn open(path: &Path, account: &str) -> Result<(Cache, OpenState), HistoryError> {
        let existed = path.exists();
        match Cache::try_open(path) {
            Ok(cache) => {
                let state = if existed { OpenState::Opened } else { OpenState::Created };
                cache.bind_account(account)?;
                Ok((cache, state))
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(path = %path.display(), error = %reason, "call-history cache unreadable; rebuilding it from the server");
                remove_files(path)?;
                let cache = Cache::try_open(path)?;
                cache.bind_account(account)?;
                Ok((cache, OpenState::Rebuilt { reason }))
            }
        }
    }

    fn try_open(path: &Path) -> Result<Cache, HistoryError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(HistoryError::Corrupt(format!("journal mode {mode}")));
        }
        // Checkpoints run on their own thread ([`Cache::checkpoint_when_due`]): a commit never
        // waits for the log to be copied and synced into the database file.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;",
        )?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(HistoryError::Corrupt(check));
        }
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if !(0..=SCHEMA_VERSION).contains(&version) {
            return Err(HistoryError::Corrupt(format!("unknown schema version {version}")));
        }
        for (v, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (v + 1) as i64)?;
            tx.commit()?;
        }
        let cache = Cache { conn, path: path.to_owned(), unchecked: 0, checkpointer: None };
        // Every table must read (a file that is SQLite but not ours fails here).
        cache.cursor()?;
        cache.pending()?;
        cache.conn.query_row("SELECT COUNT(*) FROM records", [], |r| r.get::<_, i64>(0))?;
        Ok(cache)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, HistoryError> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    fn bind_account(&self, account: &str) -> Result<(), HistoryError> {
        if self.meta("account")?.as_deref() == Some(account) {
            return Ok(());
        }
        let tx = self.conn.unchecked_transaction()?;
        tx.execute_batch("DELETE FROM records; DELETE FROM pending_deletes; DELETE FROM meta;")?;
        tx.execute("INSERT INTO meta (key, value) VALUES ('account', ?1)", [account])?;
        tx.commit()?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cursor of the last page applied (0: nothing pulled yet).
    pub fn cursor(&self) -> Result<i64, HistoryError> {
        Ok(self.meta("cursor")?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Deletes made here and not yet acknowledged by the server, oldest first.
    pub fn pending(&self) -> Result<Vec<PendingDelete>, HistoryError> {
        let mut stmt = self.conn.prepare("SELECT idem_key, target FROM pending_deletes ORDER BY n")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (key, target) = row?;
            out.push(PendingDelete { key, target: serde_json::from_str(&target)? });
        }
        Ok(out)
    }

    /// The cached records, newest first.
    pub fn records(&self) -> Result<Vec<p::CallRecordView>, HistoryError> {
        let mut stmt = self.conn.prepare("SELECT body FROM records ORDER BY started_at DESC, id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for body in rows {
            out.push(serde_json::from_str(&body?)?);
        }
        Ok(out)
    }

    pub fn record(&self, id: &str) -> Result<Option<p::CallRecordView>, HistoryError> {
        let body: Option<String> =
            self.conn.query_row("SELECT body FROM records WHERE id = ?1", [id], |r| r.get(0)).optional()?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// A user's delete: gone from the cache at once, and queued for the server, together.
    pub fn delete_locally(&mut self, d: &PendingDelete) -> Result<(), HistoryError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        match &d.target {
            p::DeleteTarget::Record { id } => {
                tx.execute("DELETE FROM records WHERE id = ?1", [id])?;
            }
            p::DeleteTarget::All { through } => {
                tx.execute("DELETE FROM records WHERE created_seq <= ?1", [through.unwrap_or(i64::MAX)])?;
            }
        }
        tx.execute(
            "INSERT INTO pending_deletes (idem_key, target) VALUES (?1, ?2)",
            params![d.key, serde_json::to_string(&d.target)?],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Performs one engine output in one transaction.
    pub fn apply(&mut self, output: &Output) -> Result<(), HistoryError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut written = 0;
        match output {
            Output::ApplyPage { reset, upserts, deletes, cursor } => {
                written = upserts.iter().map(|r| r.body.len() + 2 * r.id.len() + 32).sum::<usize>()
                    + 64 * deletes.len();
                if *reset {
                    tx.execute("DELETE FROM records", [])?;
                }
                {
                    let mut put = tx.prepare_cached(
                        "INSERT INTO records (id, started_at, created_seq, body) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at,
                             created_seq = excluded.created_seq, body = excluded.body",
                    )?;
                    for r in upserts {
                        put.execute(params![r.id, r.started_at, r.created_seq, r.body])?;
                    }
                    let mut del = tx.prepare_cached("DELETE FROM records WHERE id = ?1")?;
                    for id in deletes {
                        del.execute([id])?;
                    }
                }
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('cursor', ?1)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [cursor.to_string()],
                )?;
            }
            Output::Forget { keys } => {
                let mut del = tx.prepare_cached("DELETE FROM pending_deletes WHERE idem_key = ?1")?;
                for k in keys {
                    del.execute([k])?;
                }
            }
        }
        tx.commit()?;
        self.unchecked += written;
        self.checkpoint_when_due();
        Ok(())
    }

    /// Once about [`CHECKPOINT_BYTES`] were written, copies the write-ahead log into the
    /// database file on a thread of its own (SQLite's automatic checkpoint, off this thread):
    /// a passive checkpoint, which neither waits for nor blocks this connection. (Closing the
    /// cache checkpoints what is left.)
    fn checkpoint_when_due(&mut self) {
        if self.unchecked < CHECKPOINT_BYTES || self.checkpointer.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        self.unchecked = 0;
        let path = self.path.clone();
        self.checkpointer = Some(std::thread::spawn(move || {
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let done = Connection::open_with_flags(&path, flags)
                .and_then(|c| c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0)));
            if let Err(e) = done {
                tracing::debug!(path = %path.display(), error = %e, "call-history cache checkpoint failed");
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_garbage_file_is_rebuilt_and_says_nothing_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
        let (cache, state) = Cache::open(&path, "acct").unwrap();
        assert!(state.nothing_lost_notice(), "{state:?}");
        assert_eq!(cache.cursor().unwrap(), 0, "pulls everything again");
        drop(cache);
        let (_, state) = Cache::open(&path, "acct").unwrap();
        assert_eq!(state, OpenState::Opened);
    }

    #[test]
    fn a_missing_file_is_created_and_another_account_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let (mut cache, state) = Cache::open(&path, "a").unwrap();
        assert_eq!(state, OpenState::Created);
        cache
            .apply(&Output::ApplyPage { reset: false, upserts: Vec::new(), deletes: Vec::new(), cursor: 9 })
            .unwrap();
        drop(cache);
        assert_eq!(Cache::open(&path, "a").unwrap().0.cursor().unwrap(), 9);
        assert_eq!(Cache::open(&path, "b").unwrap().0.cursor().unwrap(), 0);
    }
}
