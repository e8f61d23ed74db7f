//! The metadata database: SQLite by default, PostgreSQL in production, through sqlx.
//!
//! Owns connections, migrations and the small relational records (source cursors, quarantine,
//! processed files, snapshot records, access tokens, accounts and sessions, the audit log). Must not hold columnar data: that is the store's.
//! Queries are checked at run time (`query_as`) and tested against both backends.

mod settings;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, PgPool, SqlitePool};

pub use access::{AuditFilter, AuditRow, TokenRow, GENESIS};
pub use accounts::{NewSession, SessionRow, UserRow};
pub use settings::{DatabaseSettings, DatabaseTarget};

/// Why a metadata database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database could not be opened or reached.
    #[error("database {target}: cannot connect: {source}")]
    Connect {
        /// The redacted target.
        target: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed to apply.
    #[error("database {target}: migration failed: {source}")]
    Migrate {
        /// The redacted target.
        target: String,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// Runs `$body` with `$pool` bound to whichever backend's pool `$db` holds (the body is the same
/// text for both; sqlx checks it against each driver).
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            MetaDb::Sqlite($pool) => $body,
            MetaDb::Postgres($pool) => $body,
        }
    };
}

// After the macro, which they use.
mod access;
mod accounts;

/// A record to quarantine: the source's payload (JSON) and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineEntry {
    /// The record as the source delivered it, as JSON text.
    pub payload: String,
    /// Every reason it was refused, for a person to read.
    pub reason: String,
}

/// A quarantined record as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct QuarantinedRecord {
    /// Row id (pages and reprocessing refer to it).
    pub id: i64,
    /// The source that delivered it.
    pub source_id: String,
    /// The record as JSON text.
    pub payload: String,
    /// Why it was refused (the latest attempt's reasons).
    pub reason: String,
    /// When it was first refused.
    pub first_seen: DateTime<Utc>,
    /// When it was last refused (a re-pull or a reprocess).
    pub last_seen: DateTime<Utc>,
}

/// A drop-folder file once settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedFile {
    /// SHA-256 of the content, hex.
    pub content_hash: String,
    /// The name it arrived under.
    pub file_name: String,
    /// `done`, or `failed: reason`.
    pub outcome: String,
    /// Rows appended to the store.
    pub rows_stored: u64,
    /// Records quarantined.
    pub rows_quarantined: u64,
}

/// A snapshot's record: what was frozen, when, by whom, and the checksum of its files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct SnapshotRecord {
    /// Citable id (`20261127-215003-a1b2c3`).
    pub id: String,
    /// `dashboard` or `dataset`.
    pub kind: String,
    /// The dashboard id or dataset name.
    pub target: String,
    /// The request as JSON (filters, columns, panels).
    pub request: String,
    /// The moment the data is as of.
    pub as_of: DateTime<Utc>,
    /// When it was taken.
    pub created_at: DateTime<Utc>,
    /// Who took it (as they gave it).
    pub created_by: String,
    /// What it is for.
    pub description: String,
    /// The store commit read.
    pub store_seq: i64,
    /// Rows frozen (dataset rows, or panel rows).
    pub rows: i64,
    /// Bytes of its files.
    pub bytes: i64,
    /// SHA-256 of its data file, hex.
    pub sha256: String,
    /// Whose quota it counts against: `token:<name>` or `ip:<address>`.
    pub owner: String,
}

/// What one owner's snapshots take: how many were taken since a moment, and their bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotUsage {
    /// Snapshots taken since the moment asked about.
    pub taken_since: i64,
    /// Bytes of all the owner's snapshots.
    pub bytes: i64,
}

/// SHA-256 of a text, hex: the identity of a quarantined payload, what is kept of a token's
/// secret, an audit entry's link in its chain.
pub fn payload_hash(payload: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(payload.as_bytes()))
}

pub use crate::domain::hex;

/// A pool on one of the supported backends; cheap to clone.
#[derive(Clone, Debug)]
pub enum MetaDb {
    /// The embedded default.
    Sqlite(SqlitePool),
    /// Production and multi-node deployments.
    Postgres(PgPool),
}

impl MetaDb {
    /// Opens (creating a SQLite file if needed) and migrates the metadata database.
    pub async fn connect(
        target: &DatabaseTarget,
        settings: &DatabaseSettings,
    ) -> Result<Self, DbError> {
        let label = format!("{target:?}");
        let timeout = Duration::from_secs(settings.connect_timeout_secs);
        let connect_err = |source| DbError::Connect {
            target: label.clone(),
            source,
        };
        let migrate_err = |source| DbError::Migrate {
            target: label.clone(),
            source,
        };
        match target {
            DatabaseTarget::Sqlite(path) => {
                let pool = SqlitePoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(timeout)
                    .connect_with(sqlite_options(path))
                    .await
                    .map_err(connect_err)?;
                sqlx::migrate!("migrations/sqlite")
                    .run(&pool)
                    .await
                    .map_err(migrate_err)?;
                Ok(MetaDb::Sqlite(pool))
            }
            DatabaseTarget::Postgres(url) => {
                let mut options = PgConnectOptions::from_str(url.expose())
                    .map_err(connect_err)?
                    .log_statements(tracing::log::LevelFilter::Debug);
                if let Some(schema) = &settings.schema {
                    create_schema(&options, schema, timeout)
                        .await
                        .map_err(connect_err)?;
                    options = options.options([("search_path", schema.as_str())]);
                }
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(timeout)
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                sqlx::migrate!("migrations/postgres")
                    .run(&pool)
                    .await
                    .map_err(migrate_err)?;
                Ok(MetaDb::Postgres(pool))
            }
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            MetaDb::Sqlite(_) => "sqlite",
            MetaDb::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers a query.
    pub async fn ping(&self) -> Result<(), DbError> {
        match self {
            MetaDb::Sqlite(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
            MetaDb::Postgres(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// The stored cursor of a source, if it has pulled before.
    pub async fn load_cursor(&self, source_id: &str) -> Result<Option<String>, DbError> {
        const SQL: &str = "SELECT cursor FROM source_cursors WHERE source_id = $1";
        let row: Option<(String,)> = match self {
            MetaDb::Sqlite(pool) => {
                sqlx::query_as(SQL)
                    .bind(source_id)
                    .fetch_optional(pool)
                    .await?
            }
            MetaDb::Postgres(pool) => {
                sqlx::query_as(SQL)
                    .bind(source_id)
                    .fetch_optional(pool)
                    .await?
            }
        };
        Ok(row.map(|(cursor,)| cursor))
    }

    /// Stores a source's cursor; call only after the batch it covers is durable.
    pub async fn save_cursor(
        &self,
        source_id: &str,
        cursor: &str,
        at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        const SQL: &str = "INSERT INTO source_cursors (source_id, cursor, updated_at) \
                           VALUES ($1, $2, $3) \
                           ON CONFLICT (source_id) DO UPDATE \
                           SET cursor = excluded.cursor, updated_at = excluded.updated_at";
        match self {
            MetaDb::Sqlite(pool) => {
                sqlx::query(SQL)
                    .bind(source_id)
                    .bind(cursor)
                    .bind(at)
                    .execute(pool)
                    .await?;
            }
            MetaDb::Postgres(pool) => {
                sqlx::query(SQL)
                    .bind(source_id)
                    .bind(cursor)
                    .bind(at)
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Makes a pull's quarantined records and its new cursor durable together, after the pull's
    /// batch is in the store. A record quarantined before (same source, same payload) is updated,
    /// not added again, so a re-pull after a crash duplicates nothing.
    pub async fn commit_pull(
        &self,
        source_id: &str,
        cursor: Option<&str>,
        quarantined: &[QuarantineEntry],
        at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        const QUARANTINE: &str = "INSERT INTO quarantine \
             (source_id, payload_hash, payload, reason, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (source_id, payload_hash) DO UPDATE \
             SET reason = excluded.reason, last_seen = excluded.last_seen";
        const CURSOR: &str = "INSERT INTO source_cursors (source_id, cursor, updated_at) \
             VALUES ($1, $2, $3) \
             ON CONFLICT (source_id) DO UPDATE \
             SET cursor = excluded.cursor, updated_at = excluded.updated_at";
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for entry in quarantined {
                sqlx::query(QUARANTINE)
                    .bind(source_id)
                    .bind(payload_hash(&entry.payload))
                    .bind(&entry.payload)
                    .bind(&entry.reason)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(cursor) = cursor {
                sqlx::query(CURSOR)
                    .bind(source_id)
                    .bind(cursor)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// A page of a source's quarantine, oldest first, after id `after` (0 for the first page).
    pub async fn quarantine(
        &self,
        source_id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<QuarantinedRecord>, DbError> {
        const SQL: &str = "SELECT id, source_id, payload, reason, first_seen, last_seen \
             FROM quarantine WHERE source_id = $1 AND id > $2 ORDER BY id LIMIT $3";
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, QuarantinedRecord>(SQL)
                .bind(source_id)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// Settles reprocessed records: `stored` ids leave the quarantine, `still` ids get their new reason.
    pub async fn settle_quarantine(
        &self,
        stored: &[i64],
        still: &[(i64, String)],
        at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for id in stored {
                sqlx::query("DELETE FROM quarantine WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            for (id, reason) in still {
                sqlx::query("UPDATE quarantine SET reason = $1, last_seen = $2 WHERE id = $3")
                    .bind(reason)
                    .bind(at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// How a drop-folder source already settled a file with this content, if it did.
    pub async fn processed_file(
        &self,
        source_id: &str,
        content_hash: &str,
    ) -> Result<Option<String>, DbError> {
        const SQL: &str =
            "SELECT outcome FROM processed_files WHERE source_id = $1 AND content_hash = $2";
        let row: Option<(String,)> = with_pool!(self, pool => {
            sqlx::query_as(SQL).bind(source_id).bind(content_hash).fetch_optional(pool).await?
        });
        Ok(row.map(|(o,)| o))
    }

    /// Records a settled file (`done`, `skipped: …` or `failed: reason`); its records' quarantine
    /// was committed with each chunk.
    pub async fn record_file(
        &self,
        source_id: &str,
        file: &ProcessedFile,
        at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        const SQL: &str = "INSERT INTO processed_files \
             (source_id, content_hash, file_name, outcome, rows_stored, rows_quarantined, processed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (source_id, content_hash) DO UPDATE SET outcome = excluded.outcome, \
             file_name = excluded.file_name, rows_stored = excluded.rows_stored, \
             rows_quarantined = excluded.rows_quarantined, processed_at = excluded.processed_at";
        with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(source_id)
                .bind(&file.content_hash)
                .bind(&file.file_name)
                .bind(&file.outcome)
                .bind(file.rows_stored as i64)
                .bind(file.rows_quarantined as i64)
                .bind(at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Records a snapshot whose files are in place.
    pub async fn insert_snapshot(&self, record: &SnapshotRecord) -> Result<(), DbError> {
        const SQL: &str = "INSERT INTO snapshots (id, kind, target, request, as_of, created_at, \
             created_by, description, store_seq, rows, bytes, sha256, owner) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
        with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(&record.id)
                .bind(&record.kind)
                .bind(&record.target)
                .bind(&record.request)
                .bind(record.as_of)
                .bind(record.created_at)
                .bind(&record.created_by)
                .bind(&record.description)
                .bind(record.store_seq)
                .bind(record.rows)
                .bind(record.bytes)
                .bind(&record.sha256)
                .bind(&record.owner)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// A snapshot's record by id.
    pub async fn snapshot(&self, id: &str) -> Result<Option<SnapshotRecord>, DbError> {
        const SQL: &str = "SELECT id, kind, target, request, as_of, created_at, created_by, \
             description, store_seq, rows, bytes, sha256, owner FROM snapshots WHERE id = $1";
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, SnapshotRecord>(SQL).bind(id).fetch_optional(pool).await?
        });
        Ok(row)
    }

    /// Snapshots newest first, `limit` of them, those taken before `before` (a previous page's
    /// last id) when given.
    pub async fn snapshots(
        &self,
        before: Option<&SnapshotRecord>,
        limit: u32,
    ) -> Result<Vec<SnapshotRecord>, DbError> {
        const COLUMNS: &str = "SELECT id, kind, target, request, as_of, created_at, created_by, \
             description, store_seq, rows, bytes, sha256, owner FROM snapshots";
        let rows = with_pool!(self, pool => {
            match before {
                Some(b) => {
                    sqlx::query_as::<_, SnapshotRecord>(&format!(
                        "{COLUMNS} WHERE created_at < $1 OR (created_at = $1 AND id < $2) \
                         ORDER BY created_at DESC, id DESC LIMIT $3"
                    ))
                    .bind(b.created_at)
                    .bind(&b.id)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?
                }
                None => {
                    sqlx::query_as::<_, SnapshotRecord>(&format!(
                        "{COLUMNS} ORDER BY created_at DESC, id DESC LIMIT $1"
                    ))
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?
                }
            }
        });
        Ok(rows)
    }

    /// What `owner`'s snapshots take: how many since `since`, and all their bytes.
    pub async fn snapshot_usage(
        &self,
        owner: &str,
        since: DateTime<Utc>,
    ) -> Result<SnapshotUsage, DbError> {
        const SQL: &str = "SELECT COUNT(CASE WHEN created_at >= $2 THEN 1 END), \
             CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM snapshots WHERE owner = $1";
        let (taken_since, bytes): (i64, i64) = with_pool!(self, pool => {
            sqlx::query_as(SQL).bind(owner).bind(since).fetch_one(pool).await?
        });
        Ok(SnapshotUsage { taken_since, bytes })
    }

    /// Waits for in-flight queries and closes every connection (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        match self {
            MetaDb::Sqlite(pool) => pool.close().await,
            MetaDb::Postgres(pool) => pool.close().await,
        }
    }
}

fn sqlite_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit is on disk before it returns. With WAL, NORMAL survives a process crash but
        // not a power cut, and a client told "201 saved" (a snapshot) must find it after one. The
        // metadata database commits once per pull, file or request, so the extra fsync is cheap.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
}

/// Creates the PostgreSQL schema Pantau's tables live in, if missing.
async fn create_schema(
    options: &PgConnectOptions,
    schema: &str,
    timeout: Duration,
) -> Result<(), sqlx::Error> {
    let connect = sqlx::PgConnection::connect_with(options);
    let mut conn = tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    // The name is validated by the configuration (a-z, 0-9, _), so quoting it is safe.
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .execute(&mut conn)
        .await?;
    conn.close().await
}

#[cfg(test)]
mod tests {
    use sqlx::{ConnectOptions, Row};

    #[tokio::test]
    async fn sqlite_commits_are_durable_before_they_return() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = super::sqlite_options(&dir.path().join("meta.db"))
            .connect()
            .await
            .unwrap();
        let mode: i64 = sqlx::query("PRAGMA synchronous")
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get(0);
        assert_eq!(mode, 2, "synchronous = FULL");
        let journal: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get(0);
        assert_eq!(journal, "wal");
    }
}
