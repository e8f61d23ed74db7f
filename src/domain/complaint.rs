//! Complaints (pengaduan): mutable entities keyed by (source, source_id).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::RegionCode;

/// Where a complaint is in its life. The canonical lifecycle every source's statuses map onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Received, not yet checked.
    Received,
    /// Checked and accepted as a real complaint.
    Verified,
    /// Handed to the responsible OPD.
    Assigned,
    /// The OPD is working on it.
    InProgress,
    /// Done; the citizen may still rate or reopen it.
    Resolved,
    /// Not handled: out of jurisdiction, duplicate or invalid.
    Rejected,
    /// Resolved once, then reopened by the citizen or an operator.
    Reopened,
}

/// One version of a complaint as a source reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Complaint {
    /// The source that reported it (a source id from the configuration).
    pub source: String,
    /// The complaint's id within its source; with `source` the key.
    pub source_id: String,
    /// Topic of the complaint as the source names it (e.g. `Jalan Rusak`).
    pub category: String,
    /// Agency (OPD) responsible for handling it.
    pub opd: String,
    /// Current lifecycle state.
    pub status: Status,
    /// Kelurahan/desa where it happened, when known.
    pub kelurahan: Option<RegionCode>,
    /// WGS84 latitude, when the citizen shared a location.
    pub lat: Option<f64>,
    /// WGS84 longitude, when the citizen shared a location.
    pub lon: Option<f64>,
    /// When the citizen filed it.
    pub created_at: DateTime<Utc>,
    /// When the source last changed it; the newest version wins.
    pub updated_at: DateTime<Utc>,
}
