//! Access: turns a request's credential into a [`Principal`] (who, with which role and reach),
//! decides what it may do, and writes the audit log where those decisions are made.
//!
//! Owns roles and the permission matrix, tokens (hashed at rest), the anonymous rule that every
//! path shares, and the audit chain. Must not know HTTP or WebSocket framing: `http` and `live`
//! hand it a credential and an address and act on its answer.

mod accounts;
mod audit;
mod principal;
mod role;
mod settings;
mod tokens;

pub use accounts::{Accounts, LoggedIn, LoginError, NewUser, SessionGrant, UserError, UserInfo};
pub use audit::{AuditEvent, AuditLog, ChainReport, Outcome};
pub use principal::{Principal, Via};
pub use role::{matrix_markdown, Permission, Role};
pub use settings::AccessSettings;
pub use tokens::{
    check_tokens_file, NewToken, TokenError, TokenFileError, TokenInfo, TokenRegistry,
};

use std::net::IpAddr;

use crate::db::{DbError, MetaDb};

/// What a request presents to say who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A token: the bearer header, or `?token=` where a header cannot be set.
    Token(String),
    /// A session cookie. A request that changes state (`changes_state`) must carry the
    /// session's CSRF token (`csrf`, the `X-CSRF-Token` header) as well: a cookie is sent by the
    /// browser on its own, a header only by the page.
    Session {
        /// The cookie's value.
        secret: String,
        /// The `X-CSRF-Token` header.
        csrf: Option<String>,
        /// Whether the request's method changes state (anything but GET, HEAD, OPTIONS).
        changes_state: bool,
    },
}

/// Whether two hex digests are equal, in time that depends only on their length.
fn same_digest(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No credential, and anonymous requests get no role.
    #[error(
        "a token is required (Authorization: Bearer …, or ?token=… where a header cannot be set)"
    )]
    MissingToken,
    /// A credential nobody issued.
    #[error("the token is not valid")]
    BadToken,
    /// A token past its expiry.
    #[error("the token has expired")]
    Expired,
    /// A token revoked by an administrator.
    #[error("the token has been revoked")]
    Revoked,
    /// Known, but the role does not carry the permission.
    #[error("role {role} may not do this (needs {permission})")]
    Forbidden {
        /// The principal's role.
        role: &'static str,
        /// The permission it lacks.
        permission: &'static str,
    },
    /// Known and permitted in general, but not for this resource (a wall's other dashboards).
    #[error("not allowed for {0}")]
    OutOfReach(String),
    /// This address presented too many refused credentials this minute.
    #[error("too many refused tokens from this address; try again in {0} s")]
    Throttled(u64),
    /// A session cookie that is unknown, ended, expired or idle too long, or whose account
    /// was disabled.
    #[error("the session has ended; log in again")]
    SessionEnded,
    /// A state-changing request by session without the session's CSRF token.
    #[error("this request needs the session's CSRF token in the X-CSRF-Token header")]
    Csrf,
    /// An account that logged in with a one-time password and has not chosen its own.
    #[error("choose a new password first (POST /api/session/password)")]
    PasswordChangeRequired,
    /// The credential could not be checked (the metadata database did not answer).
    #[error("the credential cannot be checked now; try again")]
    Unavailable,
}

impl Refusal {
    /// Stable code for the JSON error.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::MissingToken => "token_required",
            Refusal::BadToken => "token_invalid",
            Refusal::Expired => "token_expired",
            Refusal::Revoked => "token_revoked",
            Refusal::Forbidden { .. } | Refusal::OutOfReach(_) => "forbidden",
            Refusal::Throttled(_) => "too_many_failures",
            Refusal::SessionEnded => "session_expired",
            Refusal::Csrf => "csrf_failed",
            Refusal::PasswordChangeRequired => "password_change_required",
            Refusal::Unavailable => "unavailable",
        }
    }

    /// Whether the credential itself failed (401) rather than its rights (403) or its address
    /// (429).
    pub fn is_unauthenticated(&self) -> bool {
        !matches!(
            self,
            Refusal::Forbidden { .. }
                | Refusal::OutOfReach(_)
                | Refusal::Throttled(_)
                | Refusal::Csrf
                | Refusal::PasswordChangeRequired
                | Refusal::Unavailable
        )
    }
}

/// Why access could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The tokens file is unusable.
    #[error(transparent)]
    TokenFile(#[from] TokenFileError),
    /// The token table could not be read.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The access decisions of one server; shared by every request.
pub struct Access {
    anonymous: Option<Role>,
    tokens: TokenRegistry,
    accounts: Accounts,
    audit: AuditLog,
    max_failures: u32,
    /// Refused credentials per address in the current minute: (minute's start, count).
    failures: std::sync::Mutex<std::collections::HashMap<IpAddr, (std::time::Instant, u32)>>,
}

impl Access {
    /// Reads the tokens file and the token table.
    pub async fn open(settings: &AccessSettings, db: MetaDb) -> Result<Access, SetupError> {
        Ok(Access {
            anonymous: settings.anonymous_role(),
            tokens: TokenRegistry::open(settings, db.clone()).await?,
            accounts: Accounts::new(settings, db.clone()),
            audit: AuditLog::new(db),
            max_failures: settings.max_failures_per_minute,
            failures: Default::default(),
        })
    }

    /// Seconds until `address` may present a credential again, if it is throttled.
    pub(crate) fn throttled(&self, address: IpAddr) -> Option<u64> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let (since, count) = failures.get(&address)?;
        let elapsed = since.elapsed().as_secs();
        (*count >= self.max_failures && elapsed < 60).then(|| 60 - elapsed)
    }

    /// Counts a refused credential from `address`; true when this one reaches the limit.
    pub(crate) fn count_failure(&self, address: IpAddr) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        if failures.len() > 100_000 {
            failures.retain(|_, (since, _)| now.duration_since(*since).as_secs() < 60);
        }
        let entry = failures.entry(address).or_insert((now, 0));
        if now.duration_since(entry.0).as_secs() >= 60 {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 == self.max_failures
    }

    /// Who presents `credential` (or nothing) from `address`: a token's or a session's
    /// principal, the anonymous role's, or a refusal — which is audited, as is a token's first
    /// use from an address each hour.
    pub async fn authenticate(
        &self,
        credential: Option<&Credential>,
        address: IpAddr,
        resource: &str,
    ) -> Result<Principal, Refusal> {
        let token = match credential {
            Some(Credential::Token(secret)) if !secret.is_empty() => Some(secret.as_str()),
            _ => None,
        };
        if token.is_some() {
            if let Some(wait) = self.throttled(address) {
                return Err(Refusal::Throttled(wait));
            }
        }
        let found = match (token, credential) {
            (Some(secret), _) => self.tokens.principal_of(secret).await,
            (
                None,
                Some(Credential::Session {
                    secret,
                    csrf,
                    changes_state,
                }),
            ) => self
                .accounts
                .session(secret)
                .await
                .and_then(|grant| check_csrf(grant, csrf.as_deref(), *changes_state)),
            _ => self
                .anonymous
                .map(Principal::anonymous)
                .ok_or(Refusal::MissingToken),
        };
        match &found {
            Ok(principal) => {
                if principal.via == Via::Token
                    && self.tokens.first_use_this_hour(principal, address)
                {
                    self.audit
                        .record_quietly(principal, address, AuditEvent::new("token.use", resource))
                        .await;
                }
            }
            Err(refusal) => {
                // The refused credential is never written down, only that one was refused.
                let who = Principal::unknown(token.is_some());
                self.deny(&who, address, resource, refusal).await;
                // Session secrets are 256 random bits too, but a stale cookie is an everyday
                // thing (the session ended); only refused tokens count toward the throttle.
                if token.is_some() && self.count_failure(address) {
                    let event = AuditEvent::new("address.throttled", &address.to_string())
                        .detail(serde_json::json!({"failures": self.max_failures, "for_secs": 60}))
                        .outcome(Outcome::Denied);
                    self.audit.record_quietly(&who, address, event).await;
                }
            }
        }
        found
    }

    /// [`Access::authenticate`], then [`Access::authorize`] for `permission`: what every
    /// guarded path asks.
    pub async fn admit(
        &self,
        credential: Option<&Credential>,
        permission: Permission,
        address: IpAddr,
        resource: &str,
    ) -> Result<Principal, Refusal> {
        let principal = self.authenticate(credential, address, resource).await?;
        self.authorize(&principal, permission, address, resource)
            .await?;
        Ok(principal)
    }

    /// Whether `principal` may use `permission` on `resource`; a refusal is audited.
    pub async fn authorize(
        &self,
        principal: &Principal,
        permission: Permission,
        address: IpAddr,
        resource: &str,
    ) -> Result<(), Refusal> {
        match principal.require(permission) {
            Ok(()) => Ok(()),
            Err(refusal) => {
                self.deny(principal, address, resource, &refusal).await;
                Err(refusal)
            }
        }
    }

    /// Audits a refusal: of a credential, a permission, or one decided elsewhere from the
    /// principal's reach (a wall's other dashboard).
    pub async fn deny(
        &self,
        principal: &Principal,
        address: IpAddr,
        resource: &str,
        refusal: &Refusal,
    ) {
        let event = AuditEvent::new("request.denied", resource)
            .detail(serde_json::json!({"code": refusal.code(), "reason": refusal.to_string()}))
            .outcome(Outcome::Denied);
        self.audit.record_quietly(principal, address, event).await;
    }

    /// The tokens.
    pub fn tokens(&self) -> &TokenRegistry {
        &self.tokens
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The local accounts and their sessions.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Checks a login from `address`: an address past `access.max_failures_per_minute` refused
    /// credentials waits out the minute first, and a failed login counts as one.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        address: IpAddr,
    ) -> Result<LoggedIn, LoginError> {
        if let Some(wait) = self.throttled(address) {
            return Err(LoginError::Throttled(wait));
        }
        let result = self
            .accounts
            .login(&self.audit, name, password, address)
            .await;
        if matches!(result, Err(LoginError::Failed)) && self.count_failure(address) {
            let who = Principal::unknown(true);
            let event = AuditEvent::new("address.throttled", &address.to_string())
                .detail(serde_json::json!({"failures": self.max_failures, "for_secs": 60}))
                .outcome(Outcome::Denied);
            self.audit.record_quietly(&who, address, event).await;
        }
        result
    }
}

/// A session's principal, if the request carries the session's CSRF token where it must.
fn check_csrf(
    grant: SessionGrant,
    csrf: Option<&str>,
    changes_state: bool,
) -> Result<Principal, Refusal> {
    if !changes_state {
        return Ok(grant.principal);
    }
    match csrf {
        Some(given)
            if given.len() <= 512 && same_digest(&tokens::hash_secret(given), &grant.csrf_hash) =>
        {
            Ok(grant.principal)
        }
        _ => Err(Refusal::Csrf),
    }
}
