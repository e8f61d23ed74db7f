//! `[access]`: who a request without a credential is, where file tokens come from, how long the
//! audit log keeps entries.

use std::path::PathBuf;

use serde::Deserialize;

use super::Role;
use crate::domain::settings::Checks;

/// `[access]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AccessSettings {
    /// The role of a request without a credential, on every path (HTTP API, WebSocket, the
    /// pages' data): `none` (a token is needed everywhere but for health checks and the pages'
    /// files) or a role name (`public`, `wall`, `pimpinan`, `monitor`, `analyst`, `admin`).
    pub anonymous: String,
    /// Lets `anonymous` be a role that reads rows (`analyst`, `admin`): anyone who reaches the
    /// server then reads every row. Off unless set; `pantau demo` sets it on loopback only.
    pub allow_anonymous_rows: bool,
    /// Tokens kept in a file besides those in the database (`pantau token create`), one per
    /// line: `ROLE TOKEN [TOPIC_PREFIX,…]`. A secret: never logged.
    pub tokens_file: Option<PathBuf>,
    /// Days the audit log keeps an entry (older ones are removed once a day).
    pub audit_retention_days: u32,
    /// Seconds a server trusts its copy of the token table: a token created or revoked from
    /// the command line takes effect within this long (through the API at once).
    pub token_refresh_secs: u64,
    /// Refused credentials one address may present in a minute; past that it is answered 429
    /// for the rest of the minute, even with a good token (guessing gains nothing). A delay,
    /// never a ban.
    pub max_failures_per_minute: u32,
    /// Hours a login's session lasts at most.
    pub session_hours: u32,
    /// Minutes a session may go unused before it ends.
    pub session_idle_minutes: u32,
    /// Failed logins in a row an account may have before it is locked for `lockout_secs`.
    pub login_failures_before_lockout: u32,
    /// Seconds the first lockout lasts; each further failure doubles it.
    pub lockout_secs: u64,
    /// The longest lockout, in seconds: a delay, never a ban.
    pub lockout_max_secs: u64,
    /// Characters a chosen password has at least.
    pub min_password_length: usize,
    /// When session cookies carry `Secure`: `auto` (when the request came over HTTPS, as a
    /// reverse proxy's `X-Forwarded-Proto: https` says), `always` or `never`.
    pub secure_cookies: String,
}

impl Default for AccessSettings {
    fn default() -> Self {
        Self {
            anonymous: "none".into(),
            allow_anonymous_rows: false,
            tokens_file: None,
            audit_retention_days: 730,
            token_refresh_secs: 5,
            max_failures_per_minute: 20,
            session_hours: 12,
            session_idle_minutes: 120,
            login_failures_before_lockout: 5,
            lockout_secs: 30,
            lockout_max_secs: 900,
            min_password_length: 12,
            secure_cookies: "auto".into(),
        }
    }
}

impl AccessSettings {
    /// The role anonymous requests get, `None` when they get none (or the setting is invalid,
    /// which `check` reports).
    pub fn anonymous_role(&self) -> Option<Role> {
        Role::parse(&self.anonymous)
    }

    /// Opens the server to anyone as `role` (`pantau demo` on loopback, tests).
    pub fn open_to_anyone_as(&mut self, role: Role) {
        self.anonymous = role.name().to_owned();
        self.allow_anonymous_rows = role.reads_rows();
    }

    /// Checks the section; refuses anonymous access to rows unless allowed outright.
    pub fn check(&self, c: &mut Checks<'_>) {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
        let known = self.anonymous == "none" || self.anonymous_role().is_some();
        c.check(
            known,
            "anonymous",
            format!(
                "'{}' is not a role; use none or one of {}",
                self.anonymous.chars().take(40).collect::<String>(),
                names.join(", ")
            ),
        );
        if let Some(role) = self.anonymous_role() {
            c.check(
                !role.reads_rows() || self.allow_anonymous_rows,
                "anonymous",
                format!(
                    "'{}' lets anyone who reaches the server read every row; set \
                     access.allow_anonymous_rows = true if that is meant, or choose none, \
                     public, wall, pimpinan or monitor",
                    role.name()
                ),
            );
        }
        c.range(
            "audit_retention_days",
            self.audit_retention_days,
            1..=36_500,
        );
        c.range("token_refresh_secs", self.token_refresh_secs, 1..=3_600);
        c.range(
            "max_failures_per_minute",
            self.max_failures_per_minute,
            1..=1_000_000,
        );
        c.range("session_hours", self.session_hours, 1..=24 * 90);
        c.range(
            "session_idle_minutes",
            self.session_idle_minutes,
            1..=24 * 60 * 90,
        );
        c.range(
            "login_failures_before_lockout",
            self.login_failures_before_lockout,
            1..=1_000,
        );
        c.range("lockout_secs", self.lockout_secs, 1..=86_400);
        c.range(
            "lockout_max_secs",
            self.lockout_max_secs,
            self.lockout_secs.max(1)..=86_400,
        );
        c.range("min_password_length", self.min_password_length, 8..=256);
        c.check(
            ["auto", "always", "never"].contains(&self.secure_cookies.as_str()),
            "secure_cookies",
            format!(
                "'{}' is not one of auto, always, never",
                self.secure_cookies.chars().take(40).collect::<String>()
            ),
        );
    }
}
