//! Local accounts: people who log in with a name and a password, and the browser sessions a
//! login opens. Passwords are kept as argon2id hashes (the OWASP parameters: 19 MiB, 2 passes);
//! a new or reset account gets a one-time password its owner must replace at the first login.
//! Repeated failures lock an account for a while that doubles with each further failure, never
//! for good. A session is a random cookie secret (kept as SHA-256) with a CSRF token of its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use rand::{Rng, RngCore};

use super::tokens::{hash_secret, is_id, micros, parse_dashboards};
use super::{AccessSettings, AuditEvent, AuditLog, Outcome, Principal, Refusal, Role, Via};
use crate::db::{hex, DbError, MetaDb, NewSession, UserRow};

/// An account to make.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Its login name: 1–64 of `a-z 0-9 . _ -`, starting with a letter or digit.
    pub name: String,
    /// The name pages show; the login name when empty.
    pub display_name: String,
    /// Its role (not `wall`: a screen is a token's, not a person's).
    pub role: Role,
    /// Dashboards it may see; empty is all.
    pub dashboards: Vec<String>,
}

/// An account as shown to administrators and to its owner: never its password hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserInfo {
    /// The login name.
    pub name: String,
    /// The name pages show.
    pub display_name: String,
    /// Its role.
    pub role: Role,
    /// Its dashboards; `["*"]` is all.
    pub dashboards: Vec<String>,
    /// Whether its owner must choose a password before anything else.
    pub must_change_password: bool,
    /// Failed logins since the last good one.
    pub failed_logins: i64,
    /// No login is tried before this.
    pub locked_until: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Who made it.
    pub created_by: String,
    /// When its password was last set.
    pub password_changed_at: DateTime<Utc>,
    /// When it was disabled.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// Why an account could not be made or changed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The request is not a valid account, or the password is too weak.
    #[error("{0}")]
    Invalid(String),
    /// The name is taken (perhaps by a disabled account).
    #[error("an account named '{0}' exists already (disabled accounts keep their names)")]
    NameTaken(String),
    /// No enabled account has that name.
    #[error("no enabled account is named '{0}'")]
    NotFound(String),
    /// The current password given was wrong.
    #[error("the current password is not right")]
    WrongPassword,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Why a login failed. The name or the password being wrong are one answer, so that a login
/// page tells nobody which names exist.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown name, wrong password or disabled account.
    #[error("wrong name or password")]
    Failed,
    /// Too many failures for this account: wait this many seconds.
    #[error("too many failed logins for this account; try again in {0} s")]
    Locked(u64),
    /// Too many refused credentials from this address this minute.
    #[error("too many failed logins from this address; try again in {0} s")]
    Throttled(u64),
    /// The body is not a login.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl LoginError {
    /// Stable code for the JSON error.
    pub fn code(&self) -> &'static str {
        match self {
            LoginError::Failed => "login_failed",
            LoginError::Locked(_) => "account_locked",
            LoginError::Throttled(_) => "too_many_failures",
            LoginError::Invalid(_) => "invalid_login",
            LoginError::Db(_) => "internal",
        }
    }
}

/// A login that succeeded: the cookie's secret and the CSRF token, both shown only now.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    /// The session cookie's value.
    pub secret: String,
    /// The token state-changing requests of this session carry in `X-CSRF-Token`.
    pub csrf: String,
    /// When the session ends at the latest.
    pub expires_at: DateTime<Utc>,
    /// The account.
    pub user: UserInfo,
}

/// A session's principal and the hash of its CSRF token.
#[derive(Debug, Clone)]
pub struct SessionGrant {
    /// Who, with the account's role and reach as they are now.
    pub principal: Principal,
    /// SHA-256 of the session's CSRF token, hex.
    pub csrf_hash: String,
}

/// The accounts of one instance and the sessions they open.
pub struct Accounts {
    db: MetaDb,
    session_ttl: chrono::TimeDelta,
    idle: chrono::TimeDelta,
    lockout: Lockout,
    min_password: usize,
    /// `access.secure_cookies`: `auto`, `always` or `never`.
    secure_cookies: String,
    /// Failed logins for names no account has, so that such a name locks as a real one would
    /// and a lockout message tells nobody which names exist.
    unknown: Mutex<HashMap<String, (u32, Instant)>>,
    /// At most this many password hashes are computed at once (each takes 19 MiB and tens of
    /// milliseconds): a flood of logins waits instead of exhausting the machine.
    hashing: tokio::sync::Semaphore,
}

/// How long failed logins in a row lock an account.
#[derive(Debug, Clone, Copy)]
struct Lockout {
    /// Failures before the first lockout.
    threshold: u32,
    /// The first lockout.
    base: Duration,
    /// The longest.
    max: Duration,
}

impl Lockout {
    /// How long the `failed`-th failure in a row locks: none before the threshold, then the
    /// base delay, doubling with each further failure up to the maximum.
    fn after(self, failed: u32) -> Option<Duration> {
        let over = failed.checked_sub(self.threshold)?;
        let factor = 2u32.saturating_pow(over.min(20));
        Some(self.base.saturating_mul(factor).min(self.max))
    }
}

/// Argon2id with its default (OWASP) parameters: m = 19 MiB, t = 2, p = 1.
fn argon() -> Argon2<'static> {
    Argon2::default()
}

/// The hash of a password, as a PHC string.
fn hash_password(password: &str) -> Result<String, UserError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| UserError::Invalid(format!("cannot make a salt: {e}")))?;
    argon()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Invalid(format!("cannot hash the password: {e}")))
}

/// Whether `password` is the one `stored` hashes (argon2 compares in constant time).
fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        argon()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash no password matches, checked for unknown names so that they take as long as known ones.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let mut random = [0u8; 32];
        rand::rng().fill_bytes(&mut random);
        hash_password(&hex(&random)).unwrap_or_default()
    })
}

/// A one-time password: 20 characters people read out without confusing them (no 0/O, 1/l),
/// in groups of five; about 100 random bits.
fn one_time_password() -> String {
    const LETTERS: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let chars: Vec<char> = (0..20)
        .map(|_| LETTERS[rng.random_range(0..LETTERS.len())] as char)
        .collect();
    chars
        .chunks(5)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex(&bytes))
}

fn info_of(row: UserRow) -> UserInfo {
    UserInfo {
        name: row.name,
        display_name: row.display_name,
        role: Role::parse(&row.role).unwrap_or(Role::Public),
        dashboards: parse_dashboards(&row.dashboards).unwrap_or_else(|| vec!["*".into()]),
        must_change_password: row.must_change_password,
        failed_logins: row.failed_logins,
        locked_until: row.locked_until,
        created_at: row.created_at,
        created_by: row.created_by,
        password_changed_at: row.password_changed_at,
        disabled_at: row.disabled_at,
    }
}

impl Accounts {
    /// The accounts of `db`, with the `[access]` rules for sessions, lockout and passwords.
    pub fn new(settings: &AccessSettings, db: MetaDb) -> Accounts {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Accounts {
            db,
            session_ttl: chrono::TimeDelta::hours(i64::from(settings.session_hours)),
            idle: chrono::TimeDelta::minutes(i64::from(settings.session_idle_minutes)),
            lockout: Lockout {
                threshold: settings.login_failures_before_lockout,
                base: Duration::from_secs(settings.lockout_secs),
                max: Duration::from_secs(settings.lockout_max_secs),
            },
            min_password: settings.min_password_length,
            secure_cookies: settings.secure_cookies.clone(),
            unknown: Mutex::new(HashMap::new()),
            hashing: tokio::sync::Semaphore::new(cores.max(1)),
        }
    }

    /// Whether a session's cookies carry `Secure`, for a request that came over HTTPS or not.
    pub fn secure_cookies(&self, over_https: bool) -> bool {
        match self.secure_cookies.as_str() {
            "always" => true,
            "never" => false,
            _ => over_https,
        }
    }

    /// How long a session lasts at most.
    pub fn session_ttl(&self) -> chrono::TimeDelta {
        self.session_ttl
    }

    async fn hashed(&self, password: String) -> Result<String, UserError> {
        let _turn = self.hashing.acquire().await;
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| UserError::Invalid(format!("hashing stopped: {e}")))?
    }

    async fn verified(&self, password: String, stored: String) -> bool {
        let _turn = self.hashing.acquire().await;
        tokio::task::spawn_blocking(move || verify_password(&password, &stored))
            .await
            .unwrap_or(false)
    }

    /// Makes an account with a one-time password (returned, shown once); audited.
    pub async fn add(
        &self,
        audit: &AuditLog,
        by: &Principal,
        address: &str,
        new: NewUser,
    ) -> Result<(String, UserInfo), UserError> {
        if !is_id(&new.name, 64) {
            return Err(UserError::Invalid(
                "name must be 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
                    .into(),
            ));
        }
        if new.role == Role::Wall {
            return Err(UserError::Invalid(
                "role wall is for screens: make a token (pantau token create --role wall)".into(),
            ));
        }
        let display = new.display_name.trim();
        if display.chars().count() > 120 || display.chars().any(char::is_control) {
            return Err(UserError::Invalid(
                "display name must be at most 120 characters, without control characters".into(),
            ));
        }
        if new.dashboards.iter().any(|d| d != "*" && !is_id(d, 100)) {
            return Err(UserError::Invalid(
                "dashboards are ids (a-z, 0-9, '.', '_', '-') or '*'".into(),
            ));
        }
        let password = one_time_password();
        let now = micros(Utc::now());
        let row = UserRow {
            id: 0,
            name: new.name.clone(),
            display_name: if display.is_empty() {
                new.name.clone()
            } else {
                display.to_owned()
            },
            role: new.role.name().to_owned(),
            dashboards: if new.dashboards.is_empty() || new.dashboards.iter().any(|d| d == "*") {
                "*".to_owned()
            } else {
                new.dashboards.join(",")
            },
            password_hash: self.hashed(password.clone()).await?,
            must_change_password: true,
            failed_logins: 0,
            locked_until: None,
            created_at: now,
            created_by: by.name.clone(),
            password_changed_at: now,
            disabled_at: None,
        };
        if !self.db.insert_user(&row).await? {
            return Err(UserError::NameTaken(new.name));
        }
        let info = info_of(row);
        let event = AuditEvent::new("user.create", &format!("user/{}", info.name)).detail(
            serde_json::json!({"role": info.role, "dashboards": info.dashboards,
                "display_name": info.display_name}),
        );
        audit.record(by, address, event).await?;
        Ok((password, info))
    }

    /// Every account, disabled ones too, oldest first.
    pub async fn list(&self) -> Result<Vec<UserInfo>, DbError> {
        Ok(self.db.users().await?.into_iter().map(info_of).collect())
    }

    /// Gives an account a new one-time password (returned), ends its sessions and lifts a
    /// lockout; audited.
    pub async fn reset_password(
        &self,
        audit: &AuditLog,
        by: &Principal,
        address: &str,
        name: &str,
    ) -> Result<String, UserError> {
        let password = one_time_password();
        let hash = self.hashed(password.clone()).await?;
        let now = micros(Utc::now());
        if !self.db.set_password(name, &hash, true, now).await? {
            return Err(UserError::NotFound(name.chars().take(64).collect()));
        }
        self.db.end_sessions_of(name, None, now).await?;
        let event = AuditEvent::new("user.reset_password", &format!("user/{name}"));
        audit.record(by, address, event).await?;
        Ok(password)
    }

    /// Disables an account for good and ends its sessions; audited.
    pub async fn disable(
        &self,
        audit: &AuditLog,
        by: &Principal,
        address: &str,
        name: &str,
    ) -> Result<(), UserError> {
        if !self.db.disable_user(name, micros(Utc::now())).await? {
            return Err(UserError::NotFound(name.chars().take(64).collect()));
        }
        let event = AuditEvent::new("user.disable", &format!("user/{name}"));
        audit.record(by, address, event).await?;
        Ok(())
    }

    /// Counts a failed login for a name no account has; true while that name is "locked".
    fn unknown_name_locked(&self, name: &str, failed_now: bool) -> Option<u64> {
        let mut unknown = self.unknown.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if unknown.len() > 10_000 {
            unknown.retain(|_, (_, at)| now.duration_since(*at) < self.lockout.max);
        }
        let key: String = name.chars().take(64).collect();
        let entry = unknown.entry(key).or_insert((0, now));
        if let Some(delay) = self.lockout.after(entry.0) {
            let waited = now.duration_since(entry.1);
            if waited < delay {
                return Some((delay - waited).as_secs().max(1));
            }
        }
        if failed_now {
            *entry = (entry.0 + 1, now);
        }
        None
    }

    /// Checks `password` for `name`; on success opens a session. Every outcome is audited with
    /// the name given (never the password).
    pub async fn login(
        &self,
        audit: &AuditLog,
        name: &str,
        password: &str,
        address: IpAddr,
    ) -> Result<LoggedIn, LoginError> {
        let name: String = name.trim().chars().take(64).collect();
        if password.len() > 1024 {
            return Err(LoginError::Invalid(
                "the password is longer than 1024 bytes".into(),
            ));
        }
        let who = Principal::new(name.clone(), Via::Session, Role::Public, None, None, None);
        let failed = |reason: &'static str| {
            AuditEvent::new("login.failed", &format!("user/{name}"))
                .detail(serde_json::json!({"reason": reason}))
                .outcome(Outcome::Denied)
        };
        let Some(user) = self.db.user(&name).await? else {
            if let Some(wait) = self.unknown_name_locked(&name, false) {
                audit.record_quietly(&who, address, failed("locked")).await;
                return Err(LoginError::Locked(wait));
            }
            // As long as a wrong password for a real account takes.
            self.verified(password.to_owned(), decoy_hash().to_owned())
                .await;
            self.unknown_name_locked(&name, true);
            audit
                .record_quietly(&who, address, failed("unknown_name"))
                .await;
            return Err(LoginError::Failed);
        };
        let now = Utc::now();
        if let Some(until) = user.locked_until.filter(|at| *at > now) {
            audit.record_quietly(&who, address, failed("locked")).await;
            let wait = (until - now).num_seconds().max(1);
            return Err(LoginError::Locked(wait as u64));
        }
        let good = self
            .verified(password.to_owned(), user.password_hash.clone())
            .await;
        if !good || user.disabled_at.is_some() {
            if good {
                audit
                    .record_quietly(&who, address, failed("disabled"))
                    .await;
                return Err(LoginError::Failed);
            }
            let count = self.db.count_login_failure(&name).await?;
            let locked = self
                .lockout
                .after(u32::try_from(count).unwrap_or(u32::MAX))
                .map(|d| micros(now + chrono::TimeDelta::from_std(d).unwrap_or_default()));
            if let Some(until) = locked {
                self.db.set_locked_until(&name, until).await?;
            }
            let reason = if locked.is_some() {
                "wrong_password_locked"
            } else {
                "wrong_password"
            };
            let event = failed(reason).detail(serde_json::json!({"reason": reason,
                "failed_logins": count, "locked_until": locked}));
            audit.record_quietly(&who, address, event).await;
            return Err(LoginError::Failed);
        }
        if user.failed_logins != 0 || user.locked_until.is_some() {
            self.db.clear_login_failures(&name).await?;
        }
        let secret = random_secret("pantau_s_");
        let csrf = random_secret("");
        let expires_at = micros(now + self.session_ttl);
        self.db
            .insert_session(&NewSession {
                hash: hash_secret(&secret),
                user_name: name.clone(),
                csrf_hash: hash_secret(&csrf),
                address: address.to_string(),
                created_at: micros(now),
                expires_at,
            })
            .await?;
        let role = Role::parse(&user.role).unwrap_or(Role::Public);
        let who = Principal::new(name.clone(), Via::Session, role, None, None, None);
        let event = AuditEvent::new("login.ok", &format!("user/{name}")).detail(
            serde_json::json!({"must_change_password": user.must_change_password,
                "expires_at": expires_at}),
        );
        audit.record_quietly(&who, address, event).await;
        Ok(LoggedIn {
            secret,
            csrf,
            expires_at,
            user: info_of(UserRow {
                failed_logins: 0,
                locked_until: None,
                ..user
            }),
        })
    }

    /// The principal of a session cookie's secret: the account's role and reach as they are
    /// now. An unknown, ended, expired or idle session, or a disabled account, is refused.
    pub async fn session(&self, secret: &str) -> Result<SessionGrant, Refusal> {
        if secret.len() > 512 {
            return Err(Refusal::SessionEnded);
        }
        let hash = hash_secret(secret);
        let row = match self.db.session(&hash).await {
            Ok(Some(row)) => row,
            Ok(None) => return Err(Refusal::SessionEnded),
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read the session table.");
                return Err(Refusal::Unavailable);
            }
        };
        let now = Utc::now();
        let over = row.ended_at.is_some()
            || row.disabled_at.is_some()
            || row.expires_at <= now
            || row.last_seen + self.idle <= now;
        if over {
            return Err(Refusal::SessionEnded);
        }
        if now - row.last_seen >= chrono::TimeDelta::minutes(1) {
            if let Err(e) = self.db.touch_session(&hash, micros(now)).await {
                tracing::warn!(error = %e, "Cannot note a session's use.");
            }
        }
        let Some(role) = Role::parse(&row.role) else {
            return Err(Refusal::SessionEnded);
        };
        let dashboards = parse_dashboards(&row.dashboards);
        let mut principal =
            Principal::new(row.user_name, Via::Session, role, None, dashboards, None);
        if row.must_change_password {
            principal = principal.needing_password_change();
        }
        Ok(SessionGrant {
            principal,
            csrf_hash: row.csrf_hash,
        })
    }

    /// Ends the session of `secret` (logout); audited.
    pub async fn logout(
        &self,
        audit: &AuditLog,
        by: &Principal,
        address: &str,
        secret: &str,
    ) -> Result<(), DbError> {
        self.db
            .end_session(&hash_secret(secret), micros(Utc::now()))
            .await?;
        let event = AuditEvent::new("logout", &format!("user/{}", by.name));
        audit.record(by, address, event).await.map(|_| ())
    }

    /// The account of a principal that came by session.
    pub async fn user(&self, name: &str) -> Result<Option<UserInfo>, DbError> {
        Ok(self.db.user(name).await?.map(info_of))
    }

    /// Replaces the password of `name` after checking its current one; ends its other
    /// sessions (the one of `keep_secret` stays). Audited.
    pub async fn change_password(
        &self,
        audit: &AuditLog,
        by: &Principal,
        address: IpAddr,
        current: &str,
        new: &str,
        keep_secret: &str,
    ) -> Result<(), UserError> {
        let name = by.name.as_str();
        let user = self
            .db
            .user(name)
            .await?
            .filter(|u| u.disabled_at.is_none())
            .ok_or_else(|| UserError::NotFound(name.to_owned()))?;
        if current.len() > 1024
            || !self
                .verified(current.to_owned(), user.password_hash.clone())
                .await
        {
            let event = AuditEvent::new("user.change_password", &format!("user/{name}"))
                .detail(serde_json::json!({"reason": "wrong_current_password"}))
                .outcome(Outcome::Denied);
            audit.record_quietly(by, address, event).await;
            return Err(UserError::WrongPassword);
        }
        check_new_password(self.min_password, name, current, new)?;
        let hash = self.hashed(new.to_owned()).await?;
        let now = micros(Utc::now());
        self.db.set_password(name, &hash, false, now).await?;
        let ended = self
            .db
            .end_sessions_of(name, Some(&hash_secret(keep_secret)), now)
            .await?;
        let event = AuditEvent::new("user.change_password", &format!("user/{name}"))
            .detail(serde_json::json!({"other_sessions_ended": ended}));
        audit.record(by, &address.to_string(), event).await?;
        Ok(())
    }

    /// Removes sessions that ended or expired more than a day ago.
    pub async fn prune(&self) -> Result<u64, DbError> {
        self.db
            .prune_sessions(Utc::now() - chrono::TimeDelta::days(1))
            .await
    }
}

/// The rules a chosen password follows.
fn check_new_password(min: usize, name: &str, current: &str, new: &str) -> Result<(), UserError> {
    let length = new.chars().count();
    let weak = |why: String| Err(UserError::Invalid(why));
    if length < min {
        return weak(format!(
            "the new password must have at least {} characters",
            min
        ));
    }
    if new.len() > 1024 {
        return weak("the new password is longer than 1024 bytes".into());
    }
    if new == current {
        return weak("the new password must differ from the current one".into());
    }
    if new.to_lowercase().contains(&name.to_lowercase()) {
        return weak("the new password must not contain the account's name".into());
    }
    let distinct: std::collections::HashSet<char> = new.chars().collect();
    if distinct.len() < 5 {
        return weak("the new password must use at least 5 different characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_hash_is_argon2id_and_verifies_only_its_password() {
        let hash = hash_password("kelurahan-bugul-kidul").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("kelurahan-bugul-kidul", &hash));
        assert!(!verify_password("kelurahan-bugul-kidul ", &hash));
        assert!(!verify_password("kelurahan-bugul-kidul", "not a hash"));
        assert!(!verify_password("", decoy_hash()));
        // Salted: the same password hashes differently each time.
        assert_ne!(hash, hash_password("kelurahan-bugul-kidul").unwrap());
    }

    #[test]
    fn one_time_passwords_are_readable_and_distinct() {
        let a = one_time_password();
        assert_eq!(a.len(), 23);
        assert_eq!(a.split('-').count(), 4);
        assert!(a
            .chars()
            .all(|c| c == '-' || (c.is_ascii_alphanumeric() && !"0o1l".contains(c))));
        assert_ne!(a, one_time_password());
    }

    #[test]
    fn the_lockout_doubles_from_the_threshold_up_to_its_maximum() {
        let lockout = Lockout {
            threshold: 5,
            base: Duration::from_secs(30),
            max: Duration::from_secs(900),
        };
        let secs = |n| lockout.after(n).map(|d| d.as_secs());
        assert_eq!(secs(4), None);
        assert_eq!(secs(5), Some(30));
        assert_eq!(secs(6), Some(60));
        assert_eq!(secs(9), Some(480));
        assert_eq!(secs(10), Some(900));
        assert_eq!(secs(u32::MAX), Some(900));
    }

    #[test]
    fn a_chosen_password_follows_the_rules() {
        let check = |new: &str| {
            check_new_password(12, "camat.bugul", "abcd-efgh-ijkm-npqr-stuv", new)
                .map_err(|e| e.to_string())
        };
        assert!(check("Bromo tengger 2027!").is_ok());
        assert!(check("short").unwrap_err().contains("at least 12"));
        assert!(check("xxCAMAT.BUGULxx").unwrap_err().contains("name"));
        assert!(check("abcd-efgh-ijkm-npqr-stuv")
            .unwrap_err()
            .contains("differ"));
        assert!(check("aaaaaaaaaaaaaaab")
            .unwrap_err()
            .contains("5 different"));
    }
}
