//! Which connections a server takes once `access` has said who they are: browser origins and
//! per-address caps.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use super::LiveSettings;

/// Why a connection was refused before the upgrade.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
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
            Denied::Origin(_) => "origin_not_allowed",
            Denied::TooManyConnections(_) => "too_many_connections",
        }
    }
}

/// The connection rules of one server; shared by every upgrade.
pub struct AccessPolicy {
    allowed_origins: Vec<String>,
    per_ip: AddressSlots,
}

/// Counts open connections per address against a cap; the HTTP listener and the WebSocket
/// upgrade each keep one.
#[derive(Clone)]
pub struct AddressSlots {
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl AddressSlots {
    /// At most `max` connections per address.
    pub fn new(max: usize) -> AddressSlots {
        AddressSlots {
            max,
            open: Arc::default(),
        }
    }

    /// One of `ip`'s slots, or `None` when it holds `max` already.
    pub fn take(&self, ip: IpAddr) -> Option<IpSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(IpSlot {
            ip,
            open: self.open.clone(),
        })
    }

    /// The cap.
    pub fn max(&self) -> usize {
        self.max
    }
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
    /// The policy of `[live]`.
    pub fn from_settings(settings: &LiveSettings) -> AccessPolicy {
        AccessPolicy {
            allowed_origins: settings
                .allowed_origins
                .iter()
                .map(|o| o.to_ascii_lowercase())
                .collect(),
            per_ip: AddressSlots::new(settings.max_connections_per_ip),
        }
    }

    /// Decides on a connection attempt. `host` is the request's Host header, used to accept the
    /// server's own pages; a request without `Origin` is not from a browser page and skips that check.
    pub fn admit(
        &self,
        origin: Option<&str>,
        host: Option<&str>,
        ip: IpAddr,
    ) -> Result<IpSlot, Denied> {
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
        self.per_ip
            .take(ip)
            .ok_or(Denied::TooManyConnections(self.per_ip.max()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_per_ip: usize) -> AccessPolicy {
        AccessPolicy::from_settings(&LiveSettings {
            allowed_origins: vec!["https://Dashboard.Example.go.id".into()],
            max_connections_per_ip: max_per_ip,
            ..LiveSettings::default()
        })
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn origins_must_be_the_servers_own_or_listed() {
        let p = policy(10);
        let host = Some("127.0.0.1:8080");
        assert!(p.admit(Some("http://127.0.0.1:8080"), host, IP).is_ok());
        assert!(p
            .admit(Some("https://dashboard.example.go.id"), host, IP)
            .is_ok());
        assert_eq!(
            p.admit(Some("http://evil.example"), host, IP).err(),
            Some(Denied::Origin("http://evil.example".into()))
        );
    }

    #[test]
    fn the_per_ip_cap_frees_slots_when_connections_end() {
        let p = policy(2);
        let a = p.admit(None, None, IP).unwrap();
        let _b = p.admit(None, None, IP).unwrap();
        assert_eq!(
            p.admit(None, None, IP).err(),
            Some(Denied::TooManyConnections(2))
        );
        let other: IpAddr = "10.0.0.9".parse().unwrap();
        assert!(
            p.admit(None, None, other).is_ok(),
            "other addresses are not affected"
        );
        drop(a);
        assert!(p.admit(None, None, IP).is_ok());
    }
}
