//! Who may open a live connection, and follow which topics: tokens, browser origins, per-IP caps.
//!
//! Tokens come from a file (a secret, never logged): one per line, `ROLE TOKEN [PREFIX,…]`, where
//! ROLE is `display` (wall screens) or `viewer` (tablets, analysts) and the optional prefixes limit
//! the topics the token may follow. `#` starts a comment.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::LiveSettings;

/// What kind of client a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A wall screen.
    Display,
    /// A person's tablet or browser.
    Viewer,
    /// No token; allowed only where `live.anonymous` is on.
    Anonymous,
}

/// What an admitted connection may do.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The client's role.
    pub role: Role,
    /// Topic prefixes it may follow; empty means all.
    topic_prefixes: Vec<String>,
}

impl Grant {
    /// An anonymous grant that may follow every topic (for tests of the session alone).
    #[cfg(test)]
    pub(crate) fn anonymous_for_tests() -> Grant {
        Grant {
            role: Role::Anonymous,
            topic_prefixes: Vec::new(),
        }
    }

    /// Whether this connection may follow `topic`.
    pub fn allows(&self, topic: &str) -> bool {
        self.topic_prefixes.is_empty() || self.topic_prefixes.iter().any(|p| topic.starts_with(p))
    }
}

/// Why a connection was refused before the upgrade.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No token and anonymous access is off.
    #[error("a token is required (?token=… or Authorization: Bearer …)")]
    MissingToken,
    /// The token is not known.
    #[error("the token is not valid")]
    BadToken,
    /// A browser page from another site tried to connect.
    #[error("origin {0} is not allowed")]
    Origin(String),
    /// Too many connections from one address.
    #[error("at most {0} connections per address")]
    TooManyConnections(usize),
}

impl Denied {
    /// Stable code for the JSON error.
    pub fn code(&self) -> &'static str {
        match self {
            Denied::MissingToken => "token_required",
            Denied::BadToken => "token_invalid",
            Denied::Origin(_) => "origin_not_allowed",
            Denied::TooManyConnections(_) => "too_many_connections",
        }
    }
}

/// A token file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: live.tokens_file: {reason}")]
pub struct TokenFileError {
    path: String,
    line: usize,
    reason: String,
}

/// The access rules of one server; shared by every upgrade.
pub struct AccessPolicy {
    anonymous: bool,
    tokens: Vec<(String, Grant)>,
    allowed_origins: Vec<String>,
    max_per_ip: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// Holds one of an address's connection slots until dropped.
pub struct IpSlot {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

impl AccessPolicy {
    /// Builds the policy, reading the token file if one is configured.
    pub fn from_settings(settings: &LiveSettings) -> Result<AccessPolicy, TokenFileError> {
        let tokens = match &settings.tokens_file {
            Some(path) => read_tokens(path)?,
            None => Vec::new(),
        };
        Ok(AccessPolicy {
            anonymous: settings.anonymous,
            tokens,
            allowed_origins: settings
                .allowed_origins
                .iter()
                .map(|o| o.to_ascii_lowercase())
                .collect(),
            max_per_ip: settings.max_connections_per_ip,
            open: Arc::default(),
        })
    }

    /// Decides on a connection attempt. `host` is the request's Host header, used to accept the
    /// server's own pages; a request without `Origin` is not from a browser page and skips that check.
    pub fn admit(
        &self,
        token: Option<&str>,
        origin: Option<&str>,
        host: Option<&str>,
        ip: IpAddr,
    ) -> Result<(Grant, IpSlot), Denied> {
        if let Some(origin) = origin {
            let origin_lc = origin.to_ascii_lowercase();
            let same_site = host.is_some_and(|h| {
                let h = h.to_ascii_lowercase();
                origin_lc == format!("http://{h}") || origin_lc == format!("https://{h}")
            });
            if !same_site && !self.allowed_origins.contains(&origin_lc) {
                return Err(Denied::Origin(origin.chars().take(100).collect()));
            }
        }
        let grant = match token.filter(|t| !t.is_empty()) {
            Some(token) => self.grant_of(token).cloned().ok_or(Denied::BadToken)?,
            None if self.anonymous => Grant {
                role: Role::Anonymous,
                topic_prefixes: Vec::new(),
            },
            None => return Err(Denied::MissingToken),
        };
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max_per_ip {
            return Err(Denied::TooManyConnections(self.max_per_ip));
        }
        *count += 1;
        Ok((
            grant,
            IpSlot {
                ip,
                open: self.open.clone(),
            },
        ))
    }
}

impl AccessPolicy {
    /// Whether `token` is one of the configured tokens.
    pub fn knows(&self, token: &str) -> bool {
        self.grant_of(token).is_some()
    }

    /// The grant of a configured token, compared in constant time.
    fn grant_of(&self, token: &str) -> Option<&Grant> {
        self.tokens
            .iter()
            .find(|(known, _)| constant_time_eq(known.as_bytes(), token.as_bytes()))
            .map(|(_, grant)| grant)
    }
}

/// Compares without stopping at the first difference, so timing does not reveal a token's prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn read_tokens(path: &Path) -> Result<Vec<(String, Grant)>, TokenFileError> {
    let fail = |line, reason: String| TokenFileError {
        path: path.display().to_string(),
        line,
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(0, format!("cannot read: {e}")))?;
    let mut tokens: Vec<(String, Grant)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let role = match parts.next() {
            Some("display") => Role::Display,
            Some("viewer") => Role::Viewer,
            Some(other) => {
                let other: String = other.chars().take(20).collect();
                return Err(fail(
                    number,
                    format!("role '{other}' must be display or viewer"),
                ));
            }
            None => continue,
        };
        let token = parts
            .next()
            .ok_or_else(|| fail(number, "a token must follow the role".into()))?;
        if token.len() < 16 {
            // The token itself is never echoed.
            return Err(fail(number, "tokens must be at least 16 characters".into()));
        }
        if tokens.iter().any(|(t, _)| t == token) {
            return Err(fail(number, "the same token appears twice".into()));
        }
        let topic_prefixes = parts
            .next()
            .map(|p| {
                p.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if parts.next().is_some() {
            return Err(fail(number, "expected ROLE TOKEN [PREFIX,…]".into()));
        }
        tokens.push((
            token.to_owned(),
            Grant {
                role,
                topic_prefixes,
            },
        ));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(anonymous: bool, tokens: &str, max_per_ip: usize) -> AccessPolicy {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, tokens).unwrap();
        let settings = LiveSettings {
            anonymous,
            tokens_file: Some(path),
            allowed_origins: vec!["https://Dashboard.Example.go.id".into()],
            max_connections_per_ip: max_per_ip,
            ..LiveSettings::default()
        };
        AccessPolicy::from_settings(&settings).unwrap()
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn tokens_roles_and_topic_prefixes() {
        let p = policy(false, "# wall\ndisplay wall-token-0123456789\nviewer view-token-0123456789 overview/,budget/\n", 10);
        assert_eq!(
            p.admit(None, None, None, IP).err(),
            Some(Denied::MissingToken)
        );
        assert_eq!(
            p.admit(Some("nope"), None, None, IP).err(),
            Some(Denied::BadToken)
        );
        let (grant, _slot) = p
            .admit(Some("wall-token-0123456789"), None, None, IP)
            .unwrap();
        assert_eq!(grant.role, Role::Display);
        assert!(grant.allows("anything/at-all"));
        let (grant, _slot) = p
            .admit(Some("view-token-0123456789"), None, None, IP)
            .unwrap();
        assert_eq!(grant.role, Role::Viewer);
        assert!(grant.allows("overview/complaints") && !grant.allows("admin/x"));
    }

    #[test]
    fn origins_must_be_the_servers_own_or_listed() {
        let p = policy(true, "", 10);
        let host = Some("127.0.0.1:8080");
        assert!(p
            .admit(None, Some("http://127.0.0.1:8080"), host, IP)
            .is_ok());
        assert!(p
            .admit(None, Some("https://dashboard.example.go.id"), host, IP)
            .is_ok());
        assert_eq!(
            p.admit(None, Some("http://evil.example"), host, IP).err(),
            Some(Denied::Origin("http://evil.example".into()))
        );
    }

    #[test]
    fn the_per_ip_cap_frees_slots_when_connections_end() {
        let p = policy(true, "", 2);
        let a = p.admit(None, None, None, IP).unwrap();
        let _b = p.admit(None, None, None, IP).unwrap();
        assert_eq!(
            p.admit(None, None, None, IP).err(),
            Some(Denied::TooManyConnections(2))
        );
        let other: IpAddr = "10.0.0.9".parse().unwrap();
        assert!(
            p.admit(None, None, None, other).is_ok(),
            "other addresses are not affected"
        );
        drop(a);
        assert!(p.admit(None, None, None, IP).is_ok());
    }

    #[test]
    fn bad_token_files_name_the_line_without_echoing_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        for (text, reason) in [
            (
                "admin abcdefghijklmnopqrstu\n",
                ":1: live.tokens_file: role 'admin'",
            ),
            (
                "\ndisplay short\n",
                ":2: live.tokens_file: tokens must be at least 16",
            ),
            (
                "viewer aaaaaaaaaaaaaaaaaaaa\nviewer aaaaaaaaaaaaaaaaaaaa\n",
                ":2: live.tokens_file: the same token",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let settings = LiveSettings {
                tokens_file: Some(path.clone()),
                ..LiveSettings::default()
            };
            let err = AccessPolicy::from_settings(&settings)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(reason), "{err}");
            assert!(!err.contains("aaaaaaaa") && !err.contains("short"), "{err}");
        }
    }
}
