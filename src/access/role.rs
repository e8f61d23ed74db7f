//! Roles and what each may do: the permission matrix of `docs/security.md`, in one table.

use serde::{Deserialize, Serialize};

/// What a request may touch. Every route of the API names the one it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Public reference data: boundary sets, region names, the API and dashboard schemas.
    Boundaries,
    /// Figures: dashboards, panel values and their exports, live topics and map views,
    /// snapshots of panels, the datasets' names and columns.
    Aggregates,
    /// Row-level data: dataset exports and dataset snapshots.
    Rows,
    /// The personal columns of rows (complaint text, reporter contact, exact address).
    PersonalFields,
    /// How the system runs: sources' health and last errors, screens, dashboard file errors, metrics.
    Operations,
    /// Records a source delivered and Pantau refused, as delivered (they carry personal data).
    Quarantine,
    /// Create, list and revoke access tokens.
    Tokens,
    /// Read and export the audit log.
    Audit,
    /// Make, list, disable local accounts and reset their passwords.
    Users,
}

impl Permission {
    /// Every permission, in the order of the matrix's columns.
    pub const ALL: [Permission; 9] = [
        Permission::Boundaries,
        Permission::Aggregates,
        Permission::Rows,
        Permission::PersonalFields,
        Permission::Operations,
        Permission::Quarantine,
        Permission::Tokens,
        Permission::Audit,
        Permission::Users,
    ];

    /// The permission's name in the API, errors and `docs/security.md`.
    pub fn name(self) -> &'static str {
        match self {
            Permission::Boundaries => "boundaries",
            Permission::Aggregates => "aggregates",
            Permission::Rows => "rows",
            Permission::PersonalFields => "personal_fields",
            Permission::Operations => "operations",
            Permission::Quarantine => "quarantine",
            Permission::Tokens => "tokens",
            Permission::Audit => "audit",
            Permission::Users => "users",
        }
    }
}

/// Who someone is to Pantau.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the instance: tokens, the audit log, everything else.
    Admin,
    /// Leadership: every figure, no rows and no personal data.
    Pimpinan,
    /// Rows and exports, without personal fields.
    Analyst,
    /// A wall screen: the figures of its own dashboards only.
    Wall,
    /// Monitoring (Prometheus, the operators' status board): metrics and sources' health.
    Monitor,
    /// Anyone: public reference data only (the open-data views join it with the catalogue).
    Public,
}

impl Role {
    /// Every role, in the order of the matrix's rows.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Pimpinan,
        Role::Analyst,
        Role::Wall,
        Role::Monitor,
        Role::Public,
    ];

    /// The role's name in tokens, settings and the API.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Pimpinan => "pimpinan",
            Role::Analyst => "analyst",
            Role::Wall => "wall",
            Role::Monitor => "monitor",
            Role::Public => "public",
        }
    }

    /// The role of a name, if it is one.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Whether the role carries `permission`: the matrix.
    pub fn grants(self, permission: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Admin => true,
            Role::Pimpinan => matches!(permission, P::Boundaries | P::Aggregates | P::Operations),
            Role::Analyst => matches!(permission, P::Boundaries | P::Aggregates | P::Rows),
            Role::Wall => matches!(permission, P::Boundaries | P::Aggregates),
            Role::Monitor => matches!(permission, P::Boundaries | P::Operations),
            Role::Public => matches!(permission, P::Boundaries),
        }
    }

    /// Whether the role reads rows, which anonymous access may only give when allowed outright.
    pub fn reads_rows(self) -> bool {
        self.grants(Permission::Rows)
    }
}

/// The matrix as a Markdown table, the one `docs/security.md` carries (a test compares them).
pub fn matrix_markdown() -> String {
    let mut out = String::from("| role |");
    for p in Permission::ALL {
        out.push_str(&format!(" {} |", p.name()));
    }
    out.push_str("\n|---|");
    for _ in Permission::ALL {
        out.push_str("---|");
    }
    for role in Role::ALL {
        out.push_str(&format!("\n| `{}` |", role.name()));
        for p in Permission::ALL {
            out.push_str(if role.grants(p) { " ✓ |" } else { " — |" });
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_none() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::parse("Admin"), None);
    }

    #[test]
    fn only_admin_manages_tokens_and_accounts_and_reads_the_audit_log() {
        for role in Role::ALL {
            let admin = role == Role::Admin;
            assert_eq!(role.grants(Permission::Tokens), admin, "{role:?}");
            assert_eq!(role.grants(Permission::Audit), admin, "{role:?}");
            assert_eq!(role.grants(Permission::Users), admin, "{role:?}");
            assert_eq!(role.grants(Permission::Quarantine), admin, "{role:?}");
        }
        assert!(!Role::Pimpinan.grants(Permission::PersonalFields));
        assert!(!Role::Analyst.grants(Permission::PersonalFields));
        assert!(!Role::Wall.reads_rows());
    }

    #[test]
    fn docs_security_carries_the_matrix_of_the_code() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/security.md"))
            .expect("docs/security.md");
        assert!(
            doc.contains(&matrix_markdown()),
            "docs/security.md must carry this table:\n{}",
            matrix_markdown()
        );
    }
}
