//! Tokens: named, hashed at rest, with a role, an optional screen and dashboards, an expiry,
//! revocable. The database holds those `pantau token create` and the API make; a file may hold
//! more (`access.tokens_file`). A presented secret is hashed once (SHA-256) and looked up by its
//! hash, so what timing could tell is about the hash, never the secret.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::RngCore;

use super::{AccessSettings, AuditEvent, AuditLog, Principal, Refusal, Role, Via};
use crate::db::{hex, DbError, MetaDb, TokenRow};

/// How a new secret begins: people and secret scanners recognise it.
const PREFIX: &str = "pantau_";

/// A token to make.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Its name: 1–64 of `a-z 0-9 . _ -`, starting with a letter or digit.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The wall screen it is for (role `wall` only).
    pub screen: Option<String>,
    /// Dashboards it may see; empty is all (every role but `wall`, which must name them or `*`).
    pub dashboards: Vec<String>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token as shown to administrators: never its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Its screen.
    pub screen: Option<String>,
    /// Its dashboards; `["*"]` is all.
    pub dashboards: Vec<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Who made it.
    pub created_by: String,
    /// When it expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Why a token could not be made or revoked.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The request is not a valid token.
    #[error("{0}")]
    Invalid(String),
    /// The name is taken (perhaps by a revoked token).
    #[error("a token named '{0}' exists already (revoked tokens keep their names)")]
    NameTaken(String),
    /// No live token has that name.
    #[error("no live token is named '{0}'")]
    NotFound(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A token file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: access.tokens_file: {reason}")]
pub struct TokenFileError {
    path: String,
    line: usize,
    reason: String,
}

/// A database token as the registry keeps it.
#[derive(Debug, Clone)]
struct Known {
    principal: Principal,
    expires_at: Option<DateTime<Utc>>,
    revoked: bool,
}

struct Cache {
    by_hash: HashMap<String, Known>,
    loaded: Instant,
}

/// Every token a server accepts.
pub struct TokenRegistry {
    db: MetaDb,
    file: HashMap<String, Principal>,
    cache: RwLock<Cache>,
    refresh: Duration,
    reloading: tokio::sync::Mutex<()>,
    /// When each (token, address) was last audited as used, to write that once an hour.
    used: Mutex<HashMap<(String, IpAddr), Instant>>,
}

impl TokenRegistry {
    /// Reads the tokens file and the token table.
    pub async fn open(
        settings: &AccessSettings,
        db: MetaDb,
    ) -> Result<TokenRegistry, super::SetupError> {
        let file = match &settings.tokens_file {
            Some(path) => read_file(path)?,
            None => HashMap::new(),
        };
        let registry = TokenRegistry {
            db,
            file,
            cache: RwLock::new(Cache {
                by_hash: HashMap::new(),
                loaded: Instant::now(),
            }),
            refresh: Duration::from_secs(settings.token_refresh_secs),
            reloading: tokio::sync::Mutex::new(()),
            used: Mutex::new(HashMap::new()),
        };
        registry.reload().await?;
        Ok(registry)
    }

    /// The principal of a presented secret.
    pub async fn principal_of(&self, secret: &str) -> Result<Principal, Refusal> {
        if secret.len() > 512 {
            return Err(Refusal::BadToken);
        }
        let hash = hash_secret(secret);
        if let Some(principal) = self.file.get(&hash) {
            return Ok(principal.clone());
        }
        if self.stale() {
            let _one = self.reloading.lock().await;
            if self.stale() {
                if let Err(e) = self.reload().await {
                    // Keep the copy we have: a database hiccup must not lock every screen out.
                    tracing::warn!(error = %e, "Cannot re-read the token table; using the copy in memory.");
                    self.cache.write().unwrap_or_else(|p| p.into_inner()).loaded = Instant::now();
                }
            }
        }
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        let known = cache.by_hash.get(&hash).ok_or(Refusal::BadToken)?;
        if known.revoked {
            return Err(Refusal::Revoked);
        }
        if known.expires_at.is_some_and(|at| at <= Utc::now()) {
            return Err(Refusal::Expired);
        }
        Ok(known.principal.clone())
    }

    /// True the first time in an hour that this token is used from `address`.
    pub(crate) fn first_use_this_hour(&self, principal: &Principal, address: IpAddr) -> bool {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if used.len() > 100_000 {
            used.retain(|_, at| now.duration_since(*at) < Duration::from_secs(3600));
        }
        let key = (principal.name.clone(), address);
        match used.get(&key) {
            Some(at) if now.duration_since(*at) < Duration::from_secs(3600) => false,
            _ => {
                used.insert(key, now);
                true
            }
        }
    }

    fn stale(&self) -> bool {
        self.cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .loaded
            .elapsed()
            >= self.refresh
    }

    async fn reload(&self) -> Result<(), DbError> {
        let rows = self.db.tokens().await?;
        let by_hash = rows
            .into_iter()
            .filter_map(|row| {
                let Some(role) = Role::parse(&row.role) else {
                    tracing::warn!(token = %row.name, role = %row.role, "Token with an unknown role ignored.");
                    return None;
                };
                let dashboards = parse_dashboards(&row.dashboards);
                let principal =
                    Principal::new(row.name, Via::Token, role, row.screen, dashboards, None);
                let known = Known {
                    principal,
                    expires_at: row.expires_at,
                    revoked: row.revoked_at.is_some(),
                };
                Some((row.hash, known))
            })
            .collect();
        *self.cache.write().unwrap_or_else(|p| p.into_inner()) = Cache {
            by_hash,
            loaded: Instant::now(),
        };
        Ok(())
    }

    /// Makes a token; returns its secret (shown once, never stored) and what was stored.
    /// The creation is audited.
    pub async fn create(
        &self,
        audit: &AuditLog,
        by: &Principal,
        address: &str,
        new: NewToken,
    ) -> Result<(String, TokenInfo), TokenError> {
        check_new(&new)?;
        let secret = generate_secret();
        let row = TokenRow {
            id: 0,
            name: new.name.clone(),
            hash: hash_secret(&secret),
            role: new.role.name().to_owned(),
            screen: new.screen.clone(),
            dashboards: if new.dashboards.is_empty() {
                "*".to_owned()
            } else {
                new.dashboards.join(",")
            },
            created_at: micros(Utc::now()),
            created_by: by.name.clone(),
            expires_at: new.expires_at.map(micros),
            revoked_at: None,
        };
        if !self.db.insert_token(&row).await? {
            return Err(TokenError::NameTaken(new.name));
        }
        self.reload().await?;
        let info = info_of(row);
        let event = AuditEvent::new("token.create", &format!("token/{}", info.name))
            .detail(serde_json::json!({"role": info.role, "screen": info.screen,
                "dashboards": info.dashboards, "expires_at": info.expires_at}));
        audit.record(by, address, event).await?;
        Ok((secret, info))
    }

    /// Revokes a token by name, at once for this server; audited.
    pub async fn revoke(
        &self,
        audit: &AuditLog,
        by: &Principal,
        address: &str,
        name: &str,
    ) -> Result<(), TokenError> {
        if !self.db.revoke_token(name, micros(Utc::now())).await? {
            return Err(TokenError::NotFound(name.chars().take(64).collect()));
        }
        self.reload().await?;
        audit
            .record(
                by,
                address,
                AuditEvent::new("token.revoke", &format!("token/{name}")),
            )
            .await?;
        Ok(())
    }

    /// Every database token, revoked ones too, oldest first.
    pub async fn list(&self) -> Result<Vec<TokenInfo>, DbError> {
        Ok(self.db.tokens().await?.into_iter().map(info_of).collect())
    }
}

fn info_of(row: TokenRow) -> TokenInfo {
    TokenInfo {
        name: row.name,
        role: Role::parse(&row.role).unwrap_or(Role::Public),
        screen: row.screen,
        dashboards: parse_dashboards(&row.dashboards).unwrap_or_else(|| vec!["*".into()]),
        created_at: row.created_at,
        created_by: row.created_by,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    }
}

/// `*` is every dashboard (`None`); otherwise the ids.
pub(super) fn parse_dashboards(text: &str) -> Option<Vec<String>> {
    (text != "*").then(|| {
        text.split(',')
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

/// Timestamps keep microseconds, what both databases store, so a value reads back equal.
pub(crate) fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at)
}

fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", hex(&bytes))
}

/// SHA-256 of a secret, hex: what the database keeps. Secrets are 256 random bits, so a fast
/// hash is enough (a slow one is for passwords people choose).
pub(crate) fn hash_secret(secret: &str) -> String {
    crate::db::payload_hash(secret)
}

pub(super) fn is_id(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text.as_bytes()[0].is_ascii_alphanumeric()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

fn check_new(new: &NewToken) -> Result<(), TokenError> {
    let invalid = |m: String| Err(TokenError::Invalid(m));
    if !is_id(&new.name, 64) {
        return invalid(
            "a token's name is 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
                .into(),
        );
    }
    let all = new.dashboards.iter().any(|d| d == "*");
    if all && new.dashboards.len() > 1 {
        return invalid("'*' (every dashboard) stands alone".into());
    }
    if let Some(bad) = new.dashboards.iter().find(|d| *d != "*" && !is_id(d, 100)) {
        let bad: String = bad.chars().take(40).collect();
        return invalid(format!("'{bad}' is not a dashboard id"));
    }
    if new.dashboards.len() > 100 {
        return invalid("at most 100 dashboards per token".into());
    }
    match (new.role, &new.screen) {
        (Role::Wall, _) if new.dashboards.is_empty() => {
            return invalid(
                "a wall token names its dashboards (--dashboard ID, repeatable; '*' for all)"
                    .into(),
            )
        }
        (Role::Wall, Some(screen)) if !is_id(screen, 64) => {
            return invalid(
                "a screen's name is 1-64 of a-z, 0-9, '.', '_', '-' (e.g. lobby-left)".into(),
            )
        }
        (Role::Wall, _) => {}
        (_, Some(_)) => return invalid("only a wall token belongs to a screen".into()),
        (_, None) => {}
    }
    if new.expires_at.is_some_and(|at| at <= Utc::now()) {
        return invalid("the expiry is in the past".into());
    }
    Ok(())
}

/// Reads the tokens file as a server would, for `pantau check`.
pub fn check_tokens_file(path: &Path) -> Result<(), TokenFileError> {
    read_file(path).map(drop)
}

fn read_file(path: &Path) -> Result<HashMap<String, Principal>, TokenFileError> {
    let fail = |line, reason: String| TokenFileError {
        path: path.display().to_string(),
        line,
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(0, format!("cannot read: {e}")))?;
    let mut tokens = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.split('#').next().unwrap_or("").trim();
        let mut parts = line.split_whitespace();
        let Some(role_name) = parts.next() else {
            continue;
        };
        // `display` and `viewer` are the names of the first release: a screen, a person's tablet.
        let role = match role_name {
            "display" => Role::Wall,
            "viewer" => Role::Pimpinan,
            other => Role::parse(other).ok_or_else(|| {
                let other: String = other.chars().take(20).collect();
                let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
                fail(
                    number,
                    format!("role '{other}' must be one of {}", names.join(", ")),
                )
            })?,
        };
        let token = parts
            .next()
            .ok_or_else(|| fail(number, "a token must follow the role".into()))?;
        if token.len() < 16 {
            // The token itself is never echoed.
            return Err(fail(number, "tokens must be at least 16 characters".into()));
        }
        let topics: Option<Vec<String>> = parts.next().map(|p| {
            p.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        });
        if parts.next().is_some() {
            return Err(fail(number, "expected ROLE TOKEN [PREFIX,…]".into()));
        }
        let principal = Principal::new(
            format!("file:{number}"),
            Via::TokenFile,
            role,
            None,
            None,
            topics,
        );
        if tokens.insert(hash_secret(token), principal).is_some() {
            return Err(fail(number, "the same token appears twice".into()));
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str, role: Role, screen: Option<&str>, dashboards: &[&str]) -> NewToken {
        NewToken {
            name: name.into(),
            role,
            screen: screen.map(str::to_owned),
            dashboards: dashboards.iter().map(|d| d.to_string()).collect(),
            expires_at: None,
        }
    }

    #[test]
    fn new_tokens_are_checked_before_anything_is_stored() {
        let ok = |t: NewToken| check_new(&t).map_err(|e| e.to_string());
        assert!(ok(new(
            "lobby-left",
            Role::Wall,
            Some("lobby-left"),
            &["overview"]
        ))
        .is_ok());
        assert!(ok(new("bappeda.1", Role::Analyst, None, &[])).is_ok());
        let refused = [
            new("", Role::Analyst, None, &[]),
            new("Lobby", Role::Analyst, None, &[]),
            new("-x", Role::Analyst, None, &[]),
            new(&"x".repeat(65), Role::Analyst, None, &[]),
            new("w", Role::Wall, Some("lobby"), &[]),
            new("w", Role::Wall, Some("Lobby Left"), &["overview"]),
            new("w", Role::Wall, None, &["*", "overview"]),
            new("w", Role::Wall, None, &["../etc"]),
            new("a", Role::Analyst, Some("lobby"), &[]),
        ];
        for t in refused {
            assert!(ok(t.clone()).is_err(), "{t:?} was accepted");
        }
        let mut past = new("old", Role::Analyst, None, &[]);
        past.expires_at = Some(Utc::now() - chrono::TimeDelta::seconds(1));
        assert!(ok(past).unwrap_err().contains("past"));
    }

    #[test]
    fn secrets_are_random_prefixed_and_stored_only_as_their_hash() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 64);
        let hash = hash_secret(&a);
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(&a[PREFIX.len()..]));
    }

    #[test]
    fn the_tokens_file_maps_old_role_names_and_refuses_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(
            &path,
            "# screens\ndisplay wall-token-0123456789\nviewer narrow-token-0123456789 budget/\nanalyst analyst-token-0123456789\n",
        )
        .unwrap();
        let tokens = read_file(&path).unwrap();
        let wall = &tokens[&hash_secret("wall-token-0123456789")];
        assert_eq!((wall.role, wall.name.as_str()), (Role::Wall, "file:2"));
        let narrow = &tokens[&hash_secret("narrow-token-0123456789")];
        assert!(narrow.may_follow("budget/x") && !narrow.may_follow("dashboards/x/y"));
        assert_eq!(
            tokens[&hash_secret("analyst-token-0123456789")].role,
            Role::Analyst
        );

        for (text, reason) in [
            (
                "root token-0123456789abcdef\n",
                "role 'root' must be one of",
            ),
            ("display short\n", "at least 16"),
            ("display\n", "a token must follow"),
            ("display a-token-0123456789 x y\n", "expected ROLE TOKEN"),
            (
                "display a-token-0123456789\nviewer a-token-0123456789\n",
                "twice",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = read_file(&path).unwrap_err().to_string();
            assert!(e.contains(reason), "{text:?}: {e}");
            assert!(!e.contains("0123456789"), "the token is echoed: {e}");
        }
    }
}
