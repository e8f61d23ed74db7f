//! The metadata database: SQLite by default, PostgreSQL in production, through sqlx.
//!
//! Owns connections, migrations and the small relational records (source cursors now; users,
//! snapshots and the audit log later). Must not hold columnar data: that is the store's.
//! Queries are checked at run time (`query_as`) and tested against both backends.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, PgPool, SqlitePool};

use crate::config::{DatabaseSettings, DatabaseTarget};

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
        // With WAL, NORMAL is durable across process crashes; a cursor is re-pulled at worst on power loss.
        .synchronous(SqliteSynchronous::Normal)
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
