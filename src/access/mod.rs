//! Access: turns a request's credential into a [`Principal`] (who, with which role and reach),
//! decides what it may do, and writes the audit log where those decisions are made.
//!
//! Owns roles and the permission matrix, tokens (hashed at rest), the anonymous rule that every
//! path shares, and the audit chain. Must not know HTTP or WebSocket framing: `http` and `live`
//! hand it a credential and an address and act on its answer.

mod audit;
mod principal;
mod role;
mod settings;
mod tokens;

pub use audit::{AuditEvent, AuditLog, ChainReport, Outcome};
pub use principal::{Principal, Via};
pub use role::{matrix_markdown, Permission, Role};
pub use settings::AccessSettings;
pub use tokens::{
    check_tokens_file, NewToken, TokenError, TokenFileError, TokenInfo, TokenRegistry,
};

use std::net::IpAddr;

use crate::db::{DbError, MetaDb};

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
        }
    }

    /// Whether the credential itself failed (401) rather than its rights (403).
    pub fn is_unauthenticated(&self) -> bool {
        !matches!(self, Refusal::Forbidden { .. } | Refusal::OutOfReach(_))
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
    audit: AuditLog,
}

impl Access {
    /// Reads the tokens file and the token table.
    pub async fn open(settings: &AccessSettings, db: MetaDb) -> Result<Access, SetupError> {
        Ok(Access {
            anonymous: settings.anonymous_role(),
            tokens: TokenRegistry::open(settings, db.clone()).await?,
            audit: AuditLog::new(db),
        })
    }

    /// Who presents `secret` (or nothing) from `address`: a token's principal, the anonymous
    /// role's, or a refusal — which is audited, as is a token's first use from an address each hour.
    pub async fn authenticate(
        &self,
        secret: Option<&str>,
        address: IpAddr,
        resource: &str,
    ) -> Result<Principal, Refusal> {
        let found = match secret.filter(|s| !s.is_empty()) {
            Some(secret) => self.tokens.principal_of(secret).await,
            None => self
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
                let who = Principal::unknown(secret.is_some());
                let event = AuditEvent::new("request.denied", resource)
                    .detail(serde_json::json!({"code": refusal.code()}))
                    .outcome(Outcome::Denied);
                self.audit.record_quietly(&who, address, event).await;
            }
        }
        found
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

    /// Audits a refusal decided elsewhere from the principal's reach (a wall's other dashboard).
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
}
