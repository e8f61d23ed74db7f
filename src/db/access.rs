//! The access records: tokens (only their SHA-256 is kept) and the audit log, an append-only
//! chain where each entry carries the hash of the one before it.

use chrono::{DateTime, Utc};

use super::{DbError, MetaDb};

/// A stored token: everything but the secret, which is never kept.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenRow {
    /// Row id.
    pub id: i64,
    /// The name people know it by (unique, also after it is revoked).
    pub name: String,
    /// SHA-256 of the secret, hex.
    pub hash: String,
    /// The role's name.
    pub role: String,
    /// The wall screen it belongs to, if it is a screen's.
    pub screen: Option<String>,
    /// Dashboards it may see: ids joined by `,`, or `*` for all.
    pub dashboards: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Who made it.
    pub created_by: String,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct AuditRow {
    /// Position in the chain: 1, 2, 3… without gaps.
    pub id: i64,
    /// When it happened (microseconds, UTC).
    pub at: DateTime<Utc>,
    /// Who: a token's name, `anonymous`, or `cli:<user>` for the command line.
    pub actor: String,
    /// How they were known: `token`, `token_file`, `anonymous`, `cli`.
    pub actor_kind: String,
    /// From where: the client's address, or `local` for the command line.
    pub address: String,
    /// What was done (`export.dataset`, `token.create`, `request.denied`…).
    pub action: String,
    /// What it was done to (a dataset, dashboard, token or route).
    pub resource: String,
    /// The details as JSON: filters, columns, format, scope applied, reason of a refusal.
    pub detail: String,
    /// Rows returned, where rows were.
    pub rows: Option<i64>,
    /// `ok`, `denied` or `failed`.
    pub outcome: String,
    /// The hash of the entry before (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over `prev_hash` and this entry's fields, hex.
    pub hash: String,
}

/// The audit entries to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only actions starting with this (`export.` for every export).
    pub action_prefix: Option<String>,
    /// Only this outcome.
    pub outcome: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
    /// Entries with a smaller id than this (the previous page's last).
    pub before_id: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// The hash that begins the chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const TOKEN_COLUMNS: &str = "SELECT id, name, hash, role, screen, dashboards, created_at, \
     created_by, expires_at, revoked_at FROM tokens";
const AUDIT_COLUMNS: &str = "SELECT id, at, actor, actor_kind, address, action, resource, \
     detail, rows, outcome, prev_hash, hash FROM audit_log";

impl MetaDb {
    /// Stores a new token; `Ok(false)` when its name is taken.
    pub async fn insert_token(&self, t: &TokenRow) -> Result<bool, DbError> {
        const SQL: &str = "INSERT INTO tokens (name, hash, role, screen, dashboards, created_at, \
             created_by, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL) \
             ON CONFLICT (name) DO NOTHING";
        let done = with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(&t.name)
                .bind(&t.hash)
                .bind(&t.role)
                .bind(&t.screen)
                .bind(&t.dashboards)
                .bind(t.created_at)
                .bind(&t.created_by)
                .bind(t.expires_at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// Every token, revoked ones too, oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenRow>, DbError> {
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, TokenRow>(&format!("{TOKEN_COLUMNS} ORDER BY id"))
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// Marks a token revoked; `Ok(false)` when no live token has that name.
    pub async fn revoke_token(&self, name: &str, at: DateTime<Utc>) -> Result<bool, DbError> {
        const SQL: &str =
            "UPDATE tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL";
        let done = with_pool!(self, pool => {
            sqlx::query(SQL).bind(at).bind(name).execute(pool).await?.rows_affected()
        });
        Ok(done == 1)
    }

    /// Appends an entry to the audit log: gives it the next id and chains it to the last entry
    /// with `hash_of(prev_hash, entry)`. Returns the stored entry. The caller serialises its own
    /// appends; PostgreSQL also takes a transaction lock, for several nodes. Two processes on
    /// one SQLite file cannot fork the chain (the id is the key): one of them fails, and retries.
    pub async fn append_audit(
        &self,
        mut entry: AuditRow,
        hash_of: impl Fn(&AuditRow) -> String,
    ) -> Result<AuditRow, DbError> {
        const LAST: &str = "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1";
        const INSERT: &str = "INSERT INTO audit_log (id, at, actor, actor_kind, address, action, \
             resource, detail, rows, outcome, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if matches!(self, MetaDb::Postgres(_)) {
                // Any fixed key: every node appending to this database waits its turn.
                sqlx::query("SELECT pg_advisory_xact_lock(7270616)")
                    .execute(&mut *tx)
                    .await?;
            }
            let last: Option<(i64, String)> =
                sqlx::query_as(LAST).fetch_optional(&mut *tx).await?;
            let (last_id, prev) = last.unwrap_or((0, GENESIS.to_owned()));
            entry.id = last_id + 1;
            entry.prev_hash = prev;
            entry.hash = hash_of(&entry);
            sqlx::query(INSERT)
                .bind(entry.id)
                .bind(entry.at)
                .bind(&entry.actor)
                .bind(&entry.actor_kind)
                .bind(&entry.address)
                .bind(&entry.action)
                .bind(&entry.resource)
                .bind(&entry.detail)
                .bind(entry.rows)
                .bind(&entry.outcome)
                .bind(&entry.prev_hash)
                .bind(&entry.hash)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(entry)
    }

    /// Audit entries matching `filter`, newest first.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>, DbError> {
        // Each condition is on or off by its own parameter, so one statement serves every filter.
        let sql = format!(
            "{AUDIT_COLUMNS} WHERE ($1 IS NULL OR actor = $1) \
             AND ($2 IS NULL OR substr(action, 1, length($2)) = $2) \
             AND ($3 IS NULL OR outcome = $3) \
             AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5) \
             AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7"
        );
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, AuditRow>(&sql)
                .bind(&filter.actor)
                .bind(&filter.action_prefix)
                .bind(&filter.outcome)
                .bind(filter.since)
                .bind(filter.until)
                .bind(filter.before_id)
                .bind(i64::from(filter.limit))
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// Audit entries in chain order from `after_id` on, at most `limit` (for verification).
    pub async fn audit_chain(&self, after_id: i64, limit: u32) -> Result<Vec<AuditRow>, DbError> {
        let sql = format!("{AUDIT_COLUMNS} WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, AuditRow>(&sql)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// Removes entries older than `before`, keeping at least the newest; returns how many went.
    /// The chain then begins at the oldest entry kept, whose `prev_hash` names what was removed.
    pub async fn prune_audit(&self, before: DateTime<Utc>) -> Result<u64, DbError> {
        const SQL: &str = "DELETE FROM audit_log WHERE at < $1 \
             AND id < (SELECT MAX(id) FROM audit_log)";
        let done = with_pool!(self, pool => {
            sqlx::query(SQL).bind(before).execute(pool).await?.rows_affected()
        });
        Ok(done)
    }
}
