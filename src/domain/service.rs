//! Public-service levels (e-Monev): one event per service request handled by a unit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::RegionCode;

/// How a service request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceOutcome {
    /// Still open.
    Pending,
    /// Delivered (document issued, ambulance arrived, water restored…).
    Completed,
    /// Withdrawn by the requester.
    Cancelled,
    /// Could not be delivered.
    Failed,
}

/// One service request and, once done, its completion.
///
/// The dataset is append-only: events are never deleted, and a re-pulled event with the same
/// (source, event_id) replaces the earlier report of it only when it is newer (e.g. now completed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceEvent {
    /// The source that reported it.
    pub source: String,
    /// The event's id within its source; with `source` the key.
    pub event_id: String,
    /// Which service (e.g. `KTP-el`, `Ambulans 112`, `Perizinan IMB`).
    pub service: String,
    /// The office or unit that delivered it.
    pub unit: String,
    /// Kelurahan/desa (or kecamatan) where it was requested, when known.
    pub region: Option<RegionCode>,
    /// When it was requested.
    pub requested_at: DateTime<Utc>,
    /// When it was completed, cancelled or failed.
    pub completed_at: Option<DateTime<Utc>>,
    /// The service-level target for this service, in minutes.
    pub sla_target_minutes: u32,
    /// How it ended (pending while open).
    pub outcome: ServiceOutcome,
}

impl ServiceEvent {
    /// The time this report describes: completion if done, else the request.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.completed_at.unwrap_or(self.requested_at)
    }

    /// Every reason this event cannot be stored (empty when it can).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, value) in [
            ("source", &self.source),
            ("event_id", &self.event_id),
            ("service", &self.service),
            ("unit", &self.unit),
        ] {
            if value.trim().is_empty() {
                out.push(format!("{name} is empty"));
            }
        }
        match (self.completed_at, self.outcome) {
            (Some(done), _) if done < self.requested_at => {
                out.push("completed_at is before requested_at".to_owned())
            }
            (Some(_), ServiceOutcome::Pending) => {
                out.push("a pending event cannot have completed_at".to_owned())
            }
            (None, o) if o != ServiceOutcome::Pending => {
                out.push(format!("outcome {o:?} needs completed_at"))
            }
            _ => {}
        }
        out
    }
}
