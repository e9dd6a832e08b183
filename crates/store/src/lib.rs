//! Persistence for meetdesk: migrations and queries, on SQLite (embedded default) or
//! PostgreSQL (several server nodes), through sqlx's `Any` driver.
//!
//! **Architecture invariant:** the same SQL runs on both databases: `$n` placeholders, `TEXT`
//! and `BIGINT` columns only (flags are 0/1), times in Unix milliseconds. The only
//! per-database code is in [`Backend`] branches (event ordering and notification on
//! PostgreSQL, pragmas on SQLite) and the two migration folders.
//!
//! **API boundary:** plain row structs in, plain row structs out. No HTTP, no wire types.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

pub mod accounts;
pub mod chats;
pub mod events;
pub mod meets;
pub mod nodes;
pub mod outbox;
pub mod presence;
pub mod records;
pub mod rooms;
mod row;
pub mod suggest;

pub use sqlx::Transaction;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("unsupported database URL \"{0}\": use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// The database could not be opened or reached at start; the message says what to fix.
    #[error("{0}")]
    Open(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The channel PostgreSQL nodes LISTEN on; the payload is empty: "new events exist".
pub const EVENTS_CHANNEL: &str = "meetdesk_events";

/// Read-only SQLite connections beside the writer ([`Store::read_conn`]).
pub const SQLITE_READERS: u32 = 4;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// SQLite: read-only connections beside the one writer ([`Store::read_conn`]); PostgreSQL:
    /// the same pool.
    reads: AnyPool,
    backend: Backend,
    url: String,
}

impl Store {
    /// Connects and runs the migrations of that database.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let url = &with_sqlite_create(url, backend);
        let options = AnyConnectOptions::from_str(url).map_err(|e| open_error(url, backend, e))?;
        // One plain connection first: a refused or unreachable server, a missing file or a
        // read-only directory fails here at once with one clear message (a pool would retry
        // until its acquire timeout).
        let probe = tokio::time::timeout(OPEN_TIMEOUT, AnyConnection::connect_with(&options)).await;
        match probe {
            Ok(Ok(conn)) => drop(conn),
            Ok(Err(e)) => return Err(open_error(url, backend, e)),
            Err(_) => {
                return Err(StoreError::Open(format!(
                    "{} did not answer within {} s",
                    describe_url(url, backend),
                    OPEN_TIMEOUT.as_secs()
                )))
            }
        }
        let pool = match backend {
            // SQLite has one writer; one connection avoids "database is locked" on upgrades
            // from read to write transactions, and is plenty for one machine.
            Backend::Sqlite => AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        Ok(())
                    })
                })
                .connect_with(options.clone())
                .await
                .map_err(|e| open_error(url, backend, e))?,
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options.clone())
                .await
                .map_err(|e| open_error(url, backend, e))?,
        };
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await?;
        let reads = match backend {
            // WAL lets readers run beside the writer, each on the last commit; an in-memory
            // database is private to its connection, so it has only the one.
            Backend::Sqlite if !url.contains(":memory:") && !url.contains("mode=memory") => {
                AnyPoolOptions::new()
                    .max_connections(SQLITE_READERS)
                    .min_connections(0)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA query_only = ON").await?;
                            conn.execute("PRAGMA busy_timeout = 5000").await?;
                            Ok(())
                        })
                    })
                    .connect_lazy_with(options)
            }
            Backend::Sqlite | Backend::Postgres => pool.clone(),
        };
        Ok(Store { pool, reads, backend, url: url.to_owned() })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL the store was opened with (for a PostgreSQL LISTEN connection).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn begin(&self) -> Result<Transaction<'static, sqlx::Any>> {
        Ok(self.pool.begin().await?)
    }

    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.pool.acquire().await?)
    }

    /// A connection for reads only (statements outside a transaction; writes fail). On
    /// SQLite one of [`SQLITE_READERS`] beside the single writer, so polling and checks do not
    /// queue behind (or hold up) writes; each statement sees the last commit.
    pub async fn read_conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.reads.acquire().await?)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        let mut c = self.conn().await?;
        sqlx::query("SELECT 1").execute(&mut *c).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.reads.close().await;
        self.pool.close().await;
    }

    /// A secret shared by every node (signing meet links), created on first use.
    pub async fn secret(&self, name: &str, generate: impl FnOnce() -> String) -> Result<String> {
        let mut c = self.conn().await?;
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(generate())
            .execute(&mut *c)
            .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *c)
            .await?;
        Ok(value)
    }
}

/// How long `Store::open` waits for the database to answer its first connection.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// A SQLite URL without a `mode=` creates its file when missing (`mode=rwc`), as the default
/// database path does; `mode=ro`, `mode=rw` or `mode=memory` are kept as asked.
fn with_sqlite_create(url: &str, backend: Backend) -> String {
    if backend != Backend::Sqlite || url.contains("mode=") || url.contains(":memory:") {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}mode=rwc")
}

/// What the URL points at, for people, without its password or parameters.
fn describe_url(url: &str, backend: Backend) -> String {
    match backend {
        Backend::Sqlite => {
            let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
            let path = path.split('?').next().unwrap_or(path);
            format!("the SQLite database {path}")
        }
        Backend::Postgres => {
            let rest = url.split_once("://").map_or(url, |(_, r)| r);
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            let host = host.split(['/', '?']).next().unwrap_or(host);
            format!("the PostgreSQL server at {host}")
        }
    }
}

fn open_error(url: &str, backend: Backend, e: sqlx::Error) -> StoreError {
    let what = describe_url(url, backend);
    let why = match &e {
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Configuration(c) => format!("the URL is not valid: {c}"),
        sqlx::Error::Database(d) => d.message().to_owned(),
        other => other.to_string(),
    };
    let hint = match backend {
        Backend::Sqlite if why.contains("unable to open database file") => {
            " (does the directory exist, and may this user write in it?)"
        }
        Backend::Sqlite if why.contains("readonly") || why.contains("read-only") => {
            " (the file or its directory is read-only for this user)"
        }
        Backend::Postgres if matches!(e, sqlx::Error::Io(_)) => {
            " (is PostgreSQL running there and reachable?)"
        }
        _ => "",
    };
    StoreError::Open(format!("cannot open {what}: {why}{hint}"))
}

/// Every query function takes a connection, so it runs alike inside a transaction or not.
pub type Db = AnyConnection;

pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}
