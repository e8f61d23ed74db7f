//! Who a request is, and how far its rights reach.

use super::{Permission, Refusal, Role};

/// How a principal was recognised (the audit log's `actor_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A token from the database.
    Token,
    /// A token from `access.tokens_file`.
    TokenFile,
    /// A browser session opened by a login.
    Session,
    /// No credential: the anonymous role.
    Anonymous,
    /// The command line on the server's machine.
    Cli,
    /// The server itself (retention).
    System,
}

impl Via {
    /// The name in the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Via::Token => "token",
            Via::TokenFile => "token_file",
            Via::Session => "session",
            Via::Anonymous => "anonymous",
            Via::Cli => "cli",
            Via::System => "system",
        }
    }
}

/// A recognised requester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// A token's name, `anonymous`, or `cli:<user>`.
    pub name: String,
    /// How it was recognised.
    pub via: Via,
    /// Its role.
    pub role: Role,
    /// The wall screen a screen's token belongs to.
    pub screen: Option<String>,
    /// Dashboards it may see; `None` is all.
    dashboards: Option<Vec<String>>,
    /// Live topic prefixes it may follow (tokens file); `None` is all.
    topics: Option<Vec<String>>,
    /// An account that must choose a password before it may do anything else.
    password_change_required: bool,
}

impl Principal {
    /// A principal with the given reach.
    pub(crate) fn new(
        name: String,
        via: Via,
        role: Role,
        screen: Option<String>,
        dashboards: Option<Vec<String>>,
        topics: Option<Vec<String>>,
    ) -> Principal {
        Principal {
            name,
            via,
            role,
            screen,
            dashboards,
            topics,
            password_change_required: false,
        }
    }

    /// The same principal, allowed nothing until it has chosen a password.
    pub(crate) fn needing_password_change(mut self) -> Principal {
        self.password_change_required = true;
        self
    }

    /// Whether it must choose a password before anything else.
    pub fn must_change_password(&self) -> bool {
        self.password_change_required
    }

    /// Anyone, as `role`.
    pub fn anonymous(role: Role) -> Principal {
        Principal::new("anonymous".into(), Via::Anonymous, role, None, None, None)
    }

    /// A person at the server's command line (audit entries of `pantau token …`).
    pub fn cli() -> Principal {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        let user: String = user.chars().take(64).collect();
        Principal::new(
            format!("cli:{user}"),
            Via::Cli,
            Role::Admin,
            None,
            None,
            None,
        )
    }

    /// The server itself, for what it does on its own (audit retention).
    pub fn system() -> Principal {
        Principal::new("pantau".into(), Via::System, Role::Admin, None, None, None)
    }

    /// Whoever presented a refused credential (or none): named for the audit log only.
    pub(crate) fn unknown(presented_token: bool) -> Principal {
        let name = if presented_token {
            "unknown-token"
        } else {
            "anonymous"
        };
        Principal::new(name.into(), Via::Anonymous, Role::Public, None, None, None)
    }

    /// Whether its role carries `permission`.
    pub fn may(&self, permission: Permission) -> bool {
        !self.password_change_required && self.role.grants(permission)
    }

    /// `Ok` when its role carries `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), Refusal> {
        if self.password_change_required {
            Err(Refusal::PasswordChangeRequired)
        } else if self.may(permission) {
            Ok(())
        } else {
            Err(Refusal::Forbidden {
                role: self.role.name(),
                permission: permission.name(),
            })
        }
    }

    /// Whether it may see dashboard `id` (its figures, panels, exports and topics).
    pub fn may_see_dashboard(&self, id: &str) -> bool {
        self.may(Permission::Aggregates)
            && self
                .dashboards
                .as_ref()
                .is_none_or(|list| list.iter().any(|d| d == id))
    }

    /// `Ok` when it may see dashboard `id`.
    pub fn require_dashboard(&self, id: &str) -> Result<(), Refusal> {
        self.require(Permission::Aggregates)?;
        if self.may_see_dashboard(id) {
            Ok(())
        } else {
            Err(Refusal::OutOfReach(format!("dashboard {id}")))
        }
    }

    /// Whether it may follow live topic (or prefix) `topic`.
    pub fn may_follow(&self, topic: &str) -> bool {
        if !self.may(Permission::Aggregates) {
            return false;
        }
        let in_topics = self
            .topics
            .as_ref()
            .is_none_or(|prefixes| prefixes.iter().any(|p| topic.starts_with(p.as_str())));
        // Dashboards limit the dashboards' topics; others (the sources' health, which every
        // screen shows as data ages) are not theirs to limit. A prefix that reaches into the
        // dashboards' names ("d", "dashboards/") is theirs.
        let all = crate::dashboards::TOPICS;
        let outside = !topic.starts_with(all) && !all.starts_with(topic);
        let in_dashboards = match &self.dashboards {
            None => true,
            Some(_) if outside => true,
            Some(list) => list.iter().any(|d| {
                let own = crate::dashboards::topic(d, "");
                // A prefix the client asks for may be the dashboard's own prefix or longer.
                topic.starts_with(&own)
            }),
        };
        in_topics && in_dashboards
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(dashboards: &[&str]) -> Principal {
        Principal::new(
            "lobby".into(),
            Via::Token,
            Role::Wall,
            Some("lobby-left".into()),
            Some(dashboards.iter().map(|d| d.to_string()).collect()),
            None,
        )
    }

    #[test]
    fn a_wall_follows_only_its_own_dashboards() {
        let w = wall(&["overview"]);
        assert!(w.may_follow("dashboards/overview/total"));
        assert!(w.may_follow("dashboards/overview/"));
        assert!(!w.may_follow("dashboards/overview-secret/total"));
        assert!(!w.may_follow("dashboards/"));
        assert!(!w.may_follow("d"));
        assert!(!w.may_follow(""));
        // The sources' health, which a wall shows as its data ages.
        assert!(w.may_follow("sources/health"));
        assert!(!w.may_follow("dashboards/budget/total"));
        assert!(w.may_see_dashboard("overview"));
        assert!(!w.may_see_dashboard("budget"));
        assert_eq!(
            w.require_dashboard("budget"),
            Err(Refusal::OutOfReach("dashboard budget".into()))
        );
        assert!(w.require(Permission::Rows).is_err());
    }

    #[test]
    fn file_prefixes_narrow_and_a_public_principal_follows_nothing() {
        let narrow = Principal::new(
            "file:2".into(),
            Via::TokenFile,
            Role::Pimpinan,
            None,
            None,
            Some(vec!["dashboards/budget/".into()]),
        );
        assert!(narrow.may_follow("dashboards/budget/total"));
        assert!(!narrow.may_follow("dashboards/overview/total"));
        assert!(!Principal::anonymous(Role::Public).may_follow("dashboards/budget/total"));
        assert!(Principal::anonymous(Role::Pimpinan).may_follow("dashboards/x/y"));
    }
}
