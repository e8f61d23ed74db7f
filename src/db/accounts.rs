//! Local accounts and their browser sessions. A password is kept only as its argon2id hash; a
//! session's cookie secret and CSRF token only as SHA-256. Failed logins and the lockout they
//! cause are rows here, so every node of a cluster counts the same failures.

use chrono::{DateTime, Utc};

use super::{DbError, MetaDb};

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    /// Row id.
    pub id: i64,
    /// The login name (unique, also after the account is disabled).
    pub name: String,
    /// The name shown on pages.
    pub display_name: String,
    /// The role's name.
    pub role: String,
    /// Dashboards the account may see: ids joined by `,`, or `*` for all.
    pub dashboards: String,
    /// The password's argon2id hash as a PHC string (salt and parameters included).
    pub password_hash: String,
    /// True until its owner chooses a password (after `add` and `reset-password`).
    pub must_change_password: bool,
    /// Failed logins since the last good one.
    pub failed_logins: i64,
    /// No login is tried before this moment.
    pub locked_until: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Who made it.
    pub created_by: String,
    /// When its password was last set.
    pub password_changed_at: DateTime<Utc>,
    /// When it was disabled, if it was.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A session as a request sees it: the session and its account's current state, read together
/// so that a disabled account or a changed role counts at the next request.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    /// The account's name.
    pub user_name: String,
    /// SHA-256 of the session's CSRF token, hex.
    pub csrf_hash: String,
    /// When it was last used (written at most once a minute).
    pub last_seen: DateTime<Utc>,
    /// When it ends whatever happens.
    pub expires_at: DateTime<Utc>,
    /// When it was ended (logout, password change, account disabled).
    pub ended_at: Option<DateTime<Utc>>,
    /// The account's role now.
    pub role: String,
    /// The account's dashboards now.
    pub dashboards: String,
    /// Whether the account must choose a password first.
    pub must_change_password: bool,
    /// When the account was disabled.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A new session's record.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the cookie's secret, hex.
    pub hash: String,
    /// The account.
    pub user_name: String,
    /// SHA-256 of the CSRF token, hex.
    pub csrf_hash: String,
    /// Where the login came from.
    pub address: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it ends at the latest.
    pub expires_at: DateTime<Utc>,
}

const USER_COLUMNS: &str = "SELECT id, name, display_name, role, dashboards, password_hash, \
     must_change_password, failed_logins, locked_until, created_at, created_by, \
     password_changed_at, disabled_at FROM users";

impl MetaDb {
    /// Stores a new account; `Ok(false)` when its name is taken.
    pub async fn insert_user(&self, u: &UserRow) -> Result<bool, DbError> {
        const SQL: &str = "INSERT INTO users (name, display_name, role, dashboards, \
             password_hash, must_change_password, failed_logins, locked_until, created_at, \
             created_by, password_changed_at, disabled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, NULL, $7, $8, $9, NULL) \
             ON CONFLICT (name) DO NOTHING";
        let done = with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(&u.name)
                .bind(&u.display_name)
                .bind(&u.role)
                .bind(&u.dashboards)
                .bind(&u.password_hash)
                .bind(u.must_change_password)
                .bind(u.created_at)
                .bind(&u.created_by)
                .bind(u.password_changed_at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// Every account, disabled ones too, oldest first.
    pub async fn users(&self) -> Result<Vec<UserRow>, DbError> {
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, UserRow>(&format!("{USER_COLUMNS} ORDER BY id"))
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// The account named `name`.
    pub async fn user(&self, name: &str) -> Result<Option<UserRow>, DbError> {
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, UserRow>(&format!("{USER_COLUMNS} WHERE name = $1"))
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }

    /// Counts a failed login of `name` and returns the count, in one statement, so that
    /// logins tried at once (on one node or several) all count.
    pub async fn count_login_failure(&self, name: &str) -> Result<i64, DbError> {
        const SQL: &str = "UPDATE users SET failed_logins = failed_logins + 1 WHERE name = $1 \
             RETURNING failed_logins";
        let count: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(SQL).bind(name).fetch_optional(pool).await?
        });
        Ok(count.unwrap_or(0))
    }

    /// Sets the moment before which no login of `name` is tried (a lockout).
    pub async fn set_locked_until(&self, name: &str, until: DateTime<Utc>) -> Result<(), DbError> {
        const SQL: &str = "UPDATE users SET locked_until = $1 WHERE name = $2";
        with_pool!(self, pool => {
            sqlx::query(SQL).bind(until).bind(name).execute(pool).await?.rows_affected()
        });
        Ok(())
    }

    /// Clears an account's failed logins and lockout (a good login).
    pub async fn clear_login_failures(&self, name: &str) -> Result<(), DbError> {
        const SQL: &str = "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE name = $1";
        with_pool!(self, pool => {
            sqlx::query(SQL).bind(name).execute(pool).await?.rows_affected()
        });
        Ok(())
    }

    /// Sets an account's password hash; clears failures and lockout. `Ok(false)` when no
    /// enabled account has that name.
    pub async fn set_password(
        &self,
        name: &str,
        hash: &str,
        must_change: bool,
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        const SQL: &str = "UPDATE users SET password_hash = $1, must_change_password = $2, \
             password_changed_at = $3, failed_logins = 0, locked_until = NULL \
             WHERE name = $4 AND disabled_at IS NULL";
        let done = with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(hash)
                .bind(must_change)
                .bind(at)
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// Disables an account and ends its sessions; `Ok(false)` when no enabled account has
    /// that name.
    pub async fn disable_user(&self, name: &str, at: DateTime<Utc>) -> Result<bool, DbError> {
        const SQL: &str =
            "UPDATE users SET disabled_at = $1 WHERE name = $2 AND disabled_at IS NULL";
        let done = with_pool!(self, pool => {
            sqlx::query(SQL).bind(at).bind(name).execute(pool).await?.rows_affected()
        });
        if done == 1 {
            self.end_sessions_of(name, None, at).await?;
        }
        Ok(done == 1)
    }

    /// Stores a new session.
    pub async fn insert_session(&self, s: &NewSession) -> Result<(), DbError> {
        const SQL: &str = "INSERT INTO sessions (hash, user_name, csrf_hash, address, created_at, \
             last_seen, expires_at, ended_at) VALUES ($1, $2, $3, $4, $5, $5, $6, NULL)";
        with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(&s.hash)
                .bind(&s.user_name)
                .bind(&s.csrf_hash)
                .bind(&s.address)
                .bind(s.created_at)
                .bind(s.expires_at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// The session whose cookie hashes to `hash`, with its account's current state.
    pub async fn session(&self, hash: &str) -> Result<Option<SessionRow>, DbError> {
        const SQL: &str = "SELECT s.user_name, s.csrf_hash, s.last_seen, s.expires_at, \
             s.ended_at, u.role, u.dashboards, u.must_change_password, u.disabled_at \
             FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.hash = $1";
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, SessionRow>(SQL).bind(hash).fetch_optional(pool).await?
        });
        Ok(row)
    }

    /// Notes that a session was used at `at`.
    pub async fn touch_session(&self, hash: &str, at: DateTime<Utc>) -> Result<(), DbError> {
        const SQL: &str = "UPDATE sessions SET last_seen = $1 WHERE hash = $2";
        with_pool!(self, pool => {
            sqlx::query(SQL).bind(at).bind(hash).execute(pool).await?.rows_affected()
        });
        Ok(())
    }

    /// Ends one session; `Ok(false)` when it had ended already.
    pub async fn end_session(&self, hash: &str, at: DateTime<Utc>) -> Result<bool, DbError> {
        const SQL: &str = "UPDATE sessions SET ended_at = $1 WHERE hash = $2 AND ended_at IS NULL";
        let done = with_pool!(self, pool => {
            sqlx::query(SQL).bind(at).bind(hash).execute(pool).await?.rows_affected()
        });
        Ok(done == 1)
    }

    /// Ends every live session of `user` but `keep`; returns how many ended.
    pub async fn end_sessions_of(
        &self,
        user: &str,
        keep: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<u64, DbError> {
        const SQL: &str = "UPDATE sessions SET ended_at = $1 WHERE user_name = $2 \
             AND ended_at IS NULL AND ($3 IS NULL OR hash <> $3)";
        let done = with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(at)
                .bind(user)
                .bind(keep)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done)
    }

    /// Removes sessions that ended or expired before `before`; returns how many went.
    pub async fn prune_sessions(&self, before: DateTime<Utc>) -> Result<u64, DbError> {
        const SQL: &str = "DELETE FROM sessions WHERE expires_at < $1 OR ended_at < $1";
        let done = with_pool!(self, pool => {
            sqlx::query(SQL).bind(before).execute(pool).await?.rows_affected()
        });
        Ok(done)
    }
}
