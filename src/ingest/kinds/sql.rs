//! The `sql` source: rows of a PostgreSQL, MySQL/MariaDB or SQLite table or query, pulled incrementally by a
//! cursor column (an id or an update time), read with a declarative mapping.
//!
//! Each pull asks for the rows whose cursor column is greater than the stored cursor, in cursor
//! order, `batch_rows` at a time. When a page is full, the rows sharing its last cursor value are
//! left for the next pull (so rows with equal values are never split across pulls and skipped);
//! a page holding a single value is completed with every row of that value.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Column, PgPool, Row as _, SqlitePool, TypeInfo, ValueRef};

use super::{BuildContext, SourceSpec};
use crate::ingest::mapping::{Keep, Layout, Mapping, Owned, Rows, TypedRow};
use crate::ingest::{Pulled, Source, SourceError, SourceIdentity};

/// `type = "sql"` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlConfig {
    /// `postgres://…` or `sqlite://path`; prefer `url_env` when the URL holds a password.
    #[serde(default)]
    pub url: Option<String>,
    /// Environment variable holding the URL.
    #[serde(default)]
    pub url_env: Option<String>,
    /// A table name or a `SELECT` statement.
    pub query: String,
    /// Column that only grows for new or changed rows (an id or an update time).
    pub cursor_column: String,
    /// Rows per pull at most.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: u32,
}

fn default_batch_rows() -> u32 {
    10_000
}

enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
    MySql(sqlx::MySqlPool),
}

/// The SQL source.
pub struct SqlSource {
    identity: SourceIdentity,
    config: SqlConfig,
    mapping: Arc<Mapping>,
    url: String,
    pool: Option<Pool>,
    /// PostgreSQL type of the cursor column, learned on the first pull that needs it.
    cursor_type: Option<String>,
}

impl SqlSource {
    /// A SQL source; checks the settings and reads the URL from the environment now. Connects on
    /// the first pull, so a database that is down marks the source failing instead of stopping the server.
    pub fn new(
        id: &str,
        interval: Duration,
        config: SqlConfig,
        mapping: Arc<Mapping>,
    ) -> Result<SqlSource, String> {
        let url = match (&config.url, &config.url_env) {
            (Some(url), None) => url.clone(),
            (None, Some(var)) => std::env::var(var)
                .map_err(|_| format!("url_env: environment variable {var} is not set"))?,
            _ => return Err("give exactly one of url or url_env".to_owned()),
        };
        let url = match url.strip_prefix("mariadb://") {
            Some(rest) => format!("mysql://{rest}"),
            None => url,
        };
        if !["postgres://", "postgresql://", "sqlite:", "mysql://"]
            .iter()
            .any(|p| url.starts_with(p))
        {
            return Err(
                "url must start with postgres://, mysql:// (or mariadb://) or sqlite:".to_owned(),
            );
        }
        if !is_identifier(&config.cursor_column) {
            return Err(format!(
                "cursor_column '{}' must be a plain column name (letters, digits, _)",
                config.cursor_column
            ));
        }
        Ok(SqlSource {
            identity: SourceIdentity {
                id: id.to_owned(),
                kind: "sql",
                dataset: mapping.dataset(),
                interval,
            },
            config,
            mapping,
            url,
            pool: None,
            cursor_type: None,
        })
    }

    /// The query as a subquery: a bare table name becomes `SELECT * FROM name`.
    fn subquery(&self) -> String {
        let q = self.config.query.trim().trim_end_matches(';');
        if q.split('.').all(is_identifier) {
            format!("(SELECT * FROM {q}) AS q")
        } else {
            format!("({q}) AS q")
        }
    }

    fn target(&self) -> String {
        // Never the URL (it may hold a password): the source id and the query.
        format!(
            "sql source {} ({})",
            self.identity.id,
            crate::ingest::mapping::quote(&self.config.query)
        )
    }

    async fn pool(&mut self) -> Result<&Pool, SourceError> {
        if self.pool.is_none() {
            let unreachable = |e: sqlx::Error| SourceError::Unreachable {
                target: self.target(),
                reason: e.to_string(),
            };
            let pool = if self.url.starts_with("sqlite:") {
                let options: SqliteConnectOptions = self
                    .url
                    .parse::<SqliteConnectOptions>()
                    .map_err(unreachable)?
                    .read_only(true);
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(Duration::from_secs(10))
                        .connect_with(options)
                        .await
                        .map_err(unreachable)?,
                )
            } else if self.url.starts_with("mysql://") {
                Pool::MySql(
                    sqlx::mysql::MySqlPoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(Duration::from_secs(10))
                        .connect(&self.url)
                        .await
                        .map_err(unreachable)?,
                )
            } else {
                Pool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(Duration::from_secs(10))
                        .connect(&self.url)
                        .await
                        .map_err(unreachable)?,
                )
            };
            self.pool = Some(pool);
        }
        Ok(self.pool.as_ref().expect("set above"))
    }

    async fn pull_inner(&mut self, cursor: Option<String>) -> Result<Pulled, SourceError> {
        let result = self.fetch(cursor.as_deref()).await;
        if matches!(result, Err(SourceError::Unreachable { .. })) {
            // A broken connection is re-made on the next attempt.
            self.pool = None;
        }
        let (header, records, next) = result?;
        let full = records.len() as u64 >= u64::from(self.config.batch_rows);
        let mut rows = Rows::new(self.mapping.dataset());
        if records.is_empty() {
            return Ok(Pulled {
                rows,
                cursor: None,
                more: false,
            });
        }
        let bound =
            self.mapping
                .bind(Layout::Header(&header))
                .map_err(|e| SourceError::Malformed {
                    target: self.target(),
                    reason: e.problems.join("; "),
                })?;
        for record in &records {
            bound.collect(record, &self.identity.id, &mut rows);
        }
        bound.finish(&mut rows);
        Ok(Pulled {
            rows,
            cursor: next,
            more: full,
        })
    }

    /// Header, rows and the cursor after them. Rows sharing the page's last cursor value stay
    /// together: they are left for the next pull, or, when they fill the page, the page grows
    /// until it holds all of them.
    async fn fetch(
        &mut self,
        cursor: Option<&str>,
    ) -> Result<(Vec<String>, Vec<TypedRow>, Option<String>), SourceError> {
        let mut limit = self.config.batch_rows.max(1);
        loop {
            let (header, mut rows, mut keys) = self.query(cursor, limit).await?;
            if (rows.len() as u64) < u64::from(limit) {
                let next = keys.last().cloned();
                return Ok((header, rows, next));
            }
            let last = keys.last().cloned();
            if let Some(keep) = keys.iter().rposition(|k| Some(k) != last.as_ref()) {
                rows.truncate(keep + 1);
                keys.truncate(keep + 1);
                let next = keys.last().cloned();
                return Ok((header, rows, next));
            }
            limit = limit.saturating_mul(2);
        }
    }

    /// One page of at most `limit` rows after `cursor`: header, rows and each row's cursor value.
    async fn query(
        &mut self,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<String>, Vec<TypedRow>, Vec<String>), SourceError> {
        let from = self.subquery();
        let col = self.config.cursor_column.clone();
        let target = self.target();
        let failed = |e: sqlx::Error| match e {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                SourceError::Unreachable {
                    target: target.clone(),
                    reason: e.to_string(),
                }
            }
            other => SourceError::Malformed {
                target: target.clone(),
                reason: other.to_string(),
            },
        };
        let cursor_type = self.cursor_type.clone();
        let pool = self.pool().await?;
        Ok(match pool {
            Pool::Postgres(pg) => {
                let cast = match (&cursor_type, cursor) {
                    (_, None) => String::new(),
                    (Some(t), Some(_)) => t.clone(),
                    (None, Some(_)) => {
                        let sql = format!("SELECT pg_typeof(q.{col})::text FROM {from} LIMIT 1");
                        let found: Option<(String,)> = sqlx::query_as(&sql)
                            .fetch_optional(pg)
                            .await
                            .map_err(failed)?;
                        match found {
                            Some((t,))
                                if t.chars()
                                    .all(|c| c.is_ascii_alphanumeric() || " _()".contains(c)) =>
                            {
                                t
                            }
                            _ => return Ok((Vec::new(), Vec::new(), Vec::new())),
                        }
                    }
                };
                let filter = if cursor.is_some() {
                    format!("WHERE q.{col} > CAST($1 AS {cast})")
                } else {
                    String::new()
                };
                let sql = format!(
                    "SELECT row_to_json(q)::text, (q.{col})::text FROM {from} {filter} ORDER BY q.{col} LIMIT {limit}"
                );
                let mut query = sqlx::query_as::<_, (String, Option<String>)>(&sql);
                if let Some(c) = cursor {
                    query = query.bind(c);
                }
                let fetched = query.fetch_all(pg).await.map_err(failed)?;
                if !cast.is_empty() {
                    self.cursor_type = Some(cast);
                }
                let mut header = Vec::new();
                let mut rows = Vec::with_capacity(fetched.len());
                let mut keys = Vec::with_capacity(fetched.len());
                for (json, key) in fetched {
                    let value: Value =
                        serde_json::from_str(&json).map_err(|e| SourceError::Malformed {
                            target: self.target(),
                            reason: e.to_string(),
                        })?;
                    let Value::Object(object) = value else {
                        continue;
                    };
                    if header.is_empty() {
                        header = object.keys().cloned().collect();
                    }
                    rows.push(header.iter().map(|k| json_owned(object.get(k))).collect());
                    keys.push(key.unwrap_or_default());
                }
                (header, rows, keys)
            }
            Pool::Sqlite(lite) => {
                let sql = typed_query(&from, &col, cursor.is_some(), limit);
                let query = bind_cursor(sqlx::query(&sql), cursor);
                let fetched = query.fetch_all(lite).await.map_err(failed)?;
                typed_page(&fetched, sqlite_owned)
            }
            Pool::MySql(my) => {
                let sql = typed_query(&from, &col, cursor.is_some(), limit);
                let query = bind_cursor(sqlx::query(&sql), cursor);
                let fetched = query.fetch_all(my).await.map_err(failed)?;
                typed_page(&fetched, mysql_owned)
            }
        })
    }
}

/// The page query for the drivers whose rows are read column by column (`?` placeholders).
fn typed_query(from: &str, col: &str, after_cursor: bool, limit: u32) -> String {
    let filter = if after_cursor {
        format!("WHERE q.{col} > ?")
    } else {
        String::new()
    };
    format!(
        "SELECT q.*, q.{col} AS pantau_cursor FROM {from} {filter} ORDER BY q.{col} LIMIT {limit}"
    )
}

/// Binds a typed cursor (`i:42`, `f:1.5`, `t:2026-11-01 09:00:00`) as its own type, so the
/// database compares numbers as numbers.
fn bind_cursor<'q, DB: sqlx::Database>(
    query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    cursor: Option<&str>,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let Some(c) = cursor else {
        return query;
    };
    match c.split_once(':') {
        Some(("i", v)) => query.bind(v.parse::<i64>().unwrap_or(i64::MIN)),
        Some(("f", v)) => query.bind(v.parse::<f64>().unwrap_or(f64::MIN)),
        Some((_, v)) => query.bind(v.to_owned()),
        None => query.bind(c.to_owned()),
    }
}

/// Header, typed rows and typed cursor values of a page whose last column is the cursor.
fn typed_page<R: sqlx::Row>(
    fetched: &[R],
    owned: fn(&R, usize) -> Option<Owned>,
) -> (Vec<String>, Vec<TypedRow>, Vec<String>) {
    let mut header: Vec<String> = Vec::new();
    let mut rows = Vec::with_capacity(fetched.len());
    let mut keys = Vec::with_capacity(fetched.len());
    for row in fetched {
        let width = row.columns().len();
        if header.is_empty() {
            header = row.columns()[..width - 1]
                .iter()
                .map(|c| c.name().to_owned())
                .collect();
        }
        let mut typed: TypedRow = (0..width).map(|i| owned(row, i)).collect();
        keys.push(match typed.pop().flatten() {
            Some(Owned::Int(i)) => format!("i:{i}"),
            Some(Owned::Float(f)) => format!("f:{f}"),
            Some(Owned::Text(t)) => format!("t:{t}"),
            Some(Owned::Time(t)) => format!("t:{}", t.format("%Y-%m-%d %H:%M:%S%.f")),
            _ => String::new(),
        });
        rows.push(typed);
    }
    (header, rows, keys)
}

/// A MySQL/MariaDB value: exact decimals as text, DATETIME as local wall-clock text (read in the
/// mapping's zone), TIMESTAMP as an instant.
fn mysql_owned(row: &sqlx::mysql::MySqlRow, i: usize) -> Option<Owned> {
    let raw = row.try_get_raw(i).ok()?;
    if raw.is_null() {
        return None;
    }
    let kind = raw.type_info().name().to_owned();
    let kind = kind.trim_end_matches(" UNSIGNED");
    match kind {
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
            row.try_get_unchecked::<i64, _>(i).ok().map(Owned::Int)
        }
        "BOOLEAN" => row.try_get::<bool, _>(i).ok().map(Owned::Bool),
        "FLOAT" => row
            .try_get::<f32, _>(i)
            .ok()
            .map(|f| Owned::Float(f.into())),
        "DOUBLE" => row.try_get::<f64, _>(i).ok().map(Owned::Float),
        "DATETIME" => row
            .try_get::<chrono::NaiveDateTime, _>(i)
            .ok()
            .map(|t| Owned::Text(t.format("%Y-%m-%d %H:%M:%S%.f").to_string())),
        "DATE" => row
            .try_get::<chrono::NaiveDate, _>(i)
            .ok()
            .map(|d| Owned::Text(d.to_string())),
        "TIMESTAMP" => row
            .try_get::<chrono::DateTime<chrono::Utc>, _>(i)
            .ok()
            .map(Owned::Time),
        _ => row.try_get_unchecked::<String, _>(i).ok().map(Owned::Text),
    }
}

fn json_owned(value: Option<&Value>) -> Option<Owned> {
    Some(match value? {
        Value::Null => return None,
        Value::Bool(b) => Owned::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Owned::Int(i),
            None => Owned::Float(n.as_f64()?),
        },
        Value::String(s) => Owned::Text(s.clone()),
        other => Owned::Text(other.to_string()),
    })
}

fn sqlite_owned(row: &sqlx::sqlite::SqliteRow, i: usize) -> Option<Owned> {
    let raw = row.try_get_raw(i).ok()?;
    if raw.is_null() {
        return None;
    }
    let kind = raw.type_info().name().to_owned();
    match kind.as_str() {
        "INTEGER" | "BOOLEAN" => row.try_get::<i64, _>(i).ok().map(Owned::Int),
        "REAL" => row.try_get::<f64, _>(i).ok().map(Owned::Float),
        _ => row.try_get::<String, _>(i).ok().map(Owned::Text),
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

impl Source for SqlSource {
    fn identity(&self) -> &SourceIdentity {
        &self.identity
    }

    fn keep(&self) -> Option<Keep> {
        Some(self.mapping.keep())
    }

    fn pull(&mut self, cursor: Option<String>) -> BoxFuture<'_, Result<Pulled, SourceError>> {
        Box::pin(self.pull_inner(cursor))
    }
}

impl SourceSpec for SqlConfig {
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Source>, String> {
        Ok(Box::new(SqlSource::new(
            ctx.id,
            ctx.interval,
            self.clone(),
            ctx.load_mapping()?,
        )?))
    }
}
