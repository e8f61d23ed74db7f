//! `[server]`: the HTTP listener, the static pages and how long requests and shutdown may take.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::domain::settings::Checks;

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// Address and port to listen on; several instances need different ports.
    pub listen: SocketAddr,
    /// Directory of the static pages; unset means `./static`, else the one next to the sources.
    pub static_dir: Option<PathBuf>,
    /// How long a graceful shutdown may take before the process exits anyway.
    pub shutdown_timeout_secs: u64,
    /// Upper bound on one HTTP request (not WebSocket sessions), so a stuck handler cannot pile up.
    pub request_timeout_secs: u64,
    /// Seconds a connection may take to send a request's headers (and may sit idle between
    /// requests); a client that dribbles bytes (slowloris) is cut off after this.
    pub header_read_timeout_secs: u64,
    /// Open connections (HTTP and WebSocket) this server holds at once; more are answered 503
    /// and closed. Keep it below the process's open-file limit (`ulimit -n`).
    pub max_connections: usize,
    /// Open connections one client address may hold at once; more are answered 429 and closed.
    pub max_connections_per_ip: usize,
    /// Host names clients use to reach this server (the `Host` header; no port). IP addresses
    /// and `localhost` are always accepted; a request naming any other host is refused (a web
    /// page cannot then reach the server by DNS rebinding). `"*"` accepts every name — only
    /// behind a proxy that checks the name itself.
    pub allowed_hosts: Vec<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            static_dir: None,
            shutdown_timeout_secs: 10,
            request_timeout_secs: 30,
            header_read_timeout_secs: 15,
            max_connections: 2048,
            max_connections_per_ip: 512,
            allowed_hosts: Vec::new(),
        }
    }
}

impl ServerSettings {
    /// The graceful shutdown budget.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    /// The bound on one request.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The static directory to serve: configured, `./static`, or the one shipped with the sources.
    pub fn resolved_static_dir(&self) -> PathBuf {
        if let Some(dir) = &self.static_dir {
            return dir.clone();
        }
        let local = PathBuf::from("static");
        if local.join("index.html").is_file() {
            return local;
        }
        Path::new(env!("CARGO_MANIFEST_DIR")).join("static")
    }

    /// Checks the section.
    pub fn check(&self, c: &mut Checks<'_>) {
        c.range("shutdown_timeout_secs", self.shutdown_timeout_secs, 1..=300);
        c.range("request_timeout_secs", self.request_timeout_secs, 1..=3600);
        c.range(
            "header_read_timeout_secs",
            self.header_read_timeout_secs,
            1..=300,
        );
        c.range("max_connections", self.max_connections, 16..=1_000_000);
        c.range(
            "max_connections_per_ip",
            self.max_connections_per_ip,
            1..=self.max_connections.max(1),
        );
        for name in &self.allowed_hosts {
            c.check(
                name == "*" || HostRule::valid_name(name),
                "allowed_hosts",
                format!(
                    "'{}' is not a host name (give names like \"pantau.example.go.id\", without \
                     scheme or port, or \"*\")",
                    name.chars().take(100).collect::<String>()
                ),
            );
        }
    }

    /// The rule on `Host` headers these settings give.
    pub fn host_rule(&self) -> HostRule {
        HostRule::new(&self.allowed_hosts)
    }

    /// The limits of the listener loop.
    pub fn connection_limits(&self) -> super::server::ConnectionLimits {
        super::server::ConnectionLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
        }
    }
}

/// Which `Host` a request may name: any IP address, `localhost`, and the configured names.
///
/// An attacker's web page can point its own domain at this server's address (DNS rebinding);
/// the browser then sends that domain as `Host` and treats the server as the page's own origin.
/// Refusing unknown names closes that door; IP addresses cannot be rebound, so they stay open.
#[derive(Debug, Clone)]
pub struct HostRule {
    any: bool,
    names: Vec<String>,
}

impl HostRule {
    /// The rule for `allowed_hosts` (names as configured; `"*"` accepts all).
    pub fn new(allowed: &[String]) -> HostRule {
        HostRule {
            any: allowed.iter().any(|n| n == "*"),
            names: allowed.iter().map(|n| normalise(n)).collect(),
        }
    }

    /// Whether a `Host` header value (`name`, `name:port`, `[v6]:port`) is acceptable.
    pub fn allows(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        let name = normalise(strip_port(host));
        name == "localhost"
            || name.parse::<std::net::IpAddr>().is_ok()
            || self.names.contains(&name)
    }

    /// Whether only IP addresses and `localhost` are accepted (no names configured).
    pub fn names_only_loopback(&self) -> bool {
        !self.any && self.names.is_empty()
    }

    /// Whether `name` is a DNS host name: labels of letters, digits and `-`, dot-separated.
    fn valid_name(name: &str) -> bool {
        let name = name.strip_suffix('.').unwrap_or(name);
        !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    }
}

/// The name part of a `Host` value: without `:port`, and without the brackets of an IPv6 address.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_ip_addresses_localhost_or_configured_names() {
        let rule = HostRule::new(&["Pantau.Pasuruankota.go.id".to_owned()]);
        for ok in [
            "127.0.0.1:8080",
            "10.1.2.3",
            "[::1]:8080",
            "localhost:8080",
            "LOCALHOST",
            "pantau.pasuruankota.go.id",
            "pantau.pasuruankota.go.id.:443",
        ] {
            assert!(rule.allows(ok), "{ok}");
        }
        for refused in [
            "evil.example:8080",
            "pantau.pasuruankota.go.id.evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8080",
            "",
        ] {
            assert!(!rule.allows(refused), "{refused}");
        }
        assert!(HostRule::new(&["*".to_owned()]).allows("anything.example"));
        assert!(HostRule::new(&[]).names_only_loopback());
    }

    #[test]
    fn allowed_hosts_must_be_names() {
        for good in ["pantau.example.go.id", "wall-1", "x.y."] {
            assert!(HostRule::valid_name(good), "{good}");
        }
        for bad in [
            "https://pantau.example",
            "pantau.example:8080",
            "",
            "-a.b",
            "a..b",
            "a b",
        ] {
            assert!(!HostRule::valid_name(bad), "{bad}");
        }
    }
}
