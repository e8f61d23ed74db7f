//! The three datasets Pantau holds: complaints, budget lines and service events.

use serde::Serialize;

/// A dataset: what rows of one kind are called in APIs, files, dashboards and sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    /// Citizen complaints (mutable entities, one version per change).
    Complaints,
    /// APBD budget execution lines (corrected by later reports).
    BudgetLines,
    /// Public-service events (e-Monev).
    ServiceEvents,
}

impl Dataset {
    /// Every dataset, in a stable order.
    pub const ALL: [Dataset; 3] = [
        Dataset::Complaints,
        Dataset::BudgetLines,
        Dataset::ServiceEvents,
    ];

    /// The dataset's name in APIs and files.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Complaints => "complaints",
            Dataset::BudgetLines => "budget_lines",
            Dataset::ServiceEvents => "service_events",
        }
    }

    /// The dataset called `name`, if any.
    pub fn from_name(name: &str) -> Option<Dataset> {
        Dataset::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Its columns that are personal data (UU 27/2022): a complaint's exact coordinates point at
    /// where the reporter is, often their home. Only callers with the `personal_fields`
    /// permission read them; exports for others leave them out and say so.
    pub fn personal_columns(self) -> &'static [&'static str] {
        match self {
            Dataset::Complaints => &["lat", "lon"],
            Dataset::BudgetLines | Dataset::ServiceEvents => &[],
        }
    }

    /// Its position in [`Dataset::ALL`], for arrays indexed by dataset.
    pub fn index(self) -> usize {
        self as usize
    }
}
