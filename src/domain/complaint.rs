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
    /// Paused (LAPOR! "Tunda"): waiting for the citizen or another party.
    OnHold,
    /// Done; the citizen may still rate or reopen it.
    Resolved,
    /// Not handled: out of jurisdiction, duplicate or invalid.
    Rejected,
    /// Resolved once, then reopened by the citizen or an operator.
    Reopened,
}

/// A complaint system whose status words Pantau maps onto [`Status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusVocabulary {
    /// LAPOR! SP4N, the national complaint system.
    Lapor,
    /// e-Sambat, the regional complaint channel of several Jawa Timur governments.
    ESambat,
    /// Qlue, the citizen-reporting app.
    Qlue,
    /// Open311 GeoReport v2: `open`/`closed`, refined by `status_notes`.
    Open311,
}

/// A source status read in the canonical lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappedStatus {
    /// The canonical state.
    pub status: Status,
    /// The source said the complaint is not this government's to handle (LAPOR! "Bukan Wewenang").
    pub out_of_jurisdiction: bool,
}

/// A status word that a vocabulary does not know; the record is quarantined with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("status '{status}' is not a known {vocabulary:?} status")]
pub struct UnknownStatus {
    vocabulary: StatusVocabulary,
    status: String,
}

use Status::{Assigned, InProgress, OnHold, Received, Rejected, Reopened, Resolved, Verified};

/// LAPOR! SP4N status words (normalised: lower case, single spaces).
const LAPOR: &[(&str, Status)] = &[
    ("belum terverifikasi", Received),
    ("menunggu verifikasi", Received),
    ("baru", Received),
    ("verifikasi", Verified),
    ("terverifikasi", Verified),
    ("diverifikasi", Verified),
    ("disposisi", Assigned),
    ("didisposisikan", Assigned),
    ("diteruskan", Assigned),
    ("tindak lanjut", InProgress),
    ("ditindaklanjuti", InProgress),
    ("proses", InProgress),
    ("diproses", InProgress),
    ("tunda", OnHold),
    ("ditunda", OnHold),
    ("selesai", Resolved),
    ("bukan wewenang", Rejected),
    ("arsipkan", Rejected),
    ("diarsipkan", Rejected),
    ("arsip", Rejected),
    ("dibuka kembali", Reopened),
];

/// e-Sambat status words.
const E_SAMBAT: &[(&str, Status)] = &[
    ("baru", Received),
    ("menunggu", Received),
    ("tindak lanjut", Assigned),
    ("proses", InProgress),
    ("diproses", InProgress),
    ("selesai", Resolved),
    ("ditolak", Rejected),
    ("dibuka kembali", Reopened),
];

/// Qlue status words (the app shows Indonesian or English).
const QLUE: &[(&str, Status)] = &[
    ("menunggu", Received),
    ("wait", Received),
    ("proses", InProgress),
    ("process", InProgress),
    ("selesai", Resolved),
    ("complete", Resolved),
    ("ditolak", Rejected),
];

/// Open311 `status_notes` phrases that refine `open`/`closed` (first match wins).
const OPEN311_NOTES: &[(&str, Status, bool)] = &[
    ("referred", Rejected, true),
    ("transferred", Rejected, true),
    ("jurisdiction", Rejected, true),
    ("cancel", Rejected, false),
    ("duplicate", Rejected, false),
    ("invalid", Rejected, false),
    ("reopen", Reopened, false),
    ("pending", InProgress, false),
    ("in progress", InProgress, false),
    ("assigned", Assigned, false),
];

impl Status {
    /// Every state, in lifecycle order (the order of their stored codes).
    pub const ALL: [Status; 8] = [
        Status::Received,
        Status::Verified,
        Status::Assigned,
        Status::InProgress,
        Status::OnHold,
        Status::Resolved,
        Status::Rejected,
        Status::Reopened,
    ];

    /// Reads a source's status word (and, for Open311, its `status_notes`) in the canonical lifecycle.
    pub fn from_source(
        vocabulary: StatusVocabulary,
        status: &str,
        notes: Option<&str>,
    ) -> Result<MappedStatus, UnknownStatus> {
        let word = normalise(status);
        let unknown = || UnknownStatus {
            vocabulary,
            status: status.chars().take(60).collect(),
        };
        let table = match vocabulary {
            StatusVocabulary::Lapor => LAPOR,
            StatusVocabulary::ESambat => E_SAMBAT,
            StatusVocabulary::Qlue => QLUE,
            StatusVocabulary::Open311 => return open311(&word, notes).ok_or_else(unknown),
        };
        let status = table
            .iter()
            .find(|(w, _)| *w == word)
            .map(|(_, s)| *s)
            .ok_or_else(unknown)?;
        Ok(MappedStatus {
            status,
            out_of_jurisdiction: vocabulary == StatusVocabulary::Lapor && word == "bukan wewenang",
        })
    }

    /// True once the complaint left the backlog (resolved or rejected).
    pub fn is_closed(self) -> bool {
        matches!(self, Resolved | Rejected)
    }
}

fn open311(word: &str, notes: Option<&str>) -> Option<MappedStatus> {
    let closed = match word {
        "open" => false,
        "closed" => true,
        _ => return None,
    };
    let notes = notes.map(normalise).unwrap_or_default();
    let refined = OPEN311_NOTES
        .iter()
        .filter(|(phrase, status, _)| notes.contains(phrase) && status.is_closed() == closed)
        .map(|(_, status, ooj)| (*status, *ooj))
        .next();
    let (status, out_of_jurisdiction) = refined.unwrap_or(if closed {
        (Resolved, false)
    } else {
        (Received, false)
    });
    Some(MappedStatus {
        status,
        out_of_jurisdiction,
    })
}

/// Lower case, `_`/`-` as spaces, single spaces, trimmed.
fn normalise(raw: &str) -> String {
    raw.to_lowercase()
        .replace(['_', '-'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// One version of a complaint as a source reported it.
///
/// The citizen's free text (description, name, phone) is deliberately not part of it: it may hold
/// personal data and no KPI needs it, so it stays in the source system that owns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Complaint {
    /// The source that reported it (a source id from the configuration).
    pub source: String,
    /// The complaint's id within its source; with `source` the key.
    pub source_id: String,
    /// Topic of the complaint as the source names it (e.g. `Jalan Rusak`).
    pub category: String,
    /// Finer topic within the category, when the source has one.
    #[serde(default)]
    pub subcategory: Option<String>,
    /// How the citizen reached the government (`web`, `android`, `whatsapp`, `112`, …).
    #[serde(default)]
    pub channel: Option<String>,
    /// Agency (OPD) responsible for handling it.
    pub opd: String,
    /// Current lifecycle state.
    pub status: Status,
    /// The source said it is not this government's to handle (LAPOR! "Bukan Wewenang").
    #[serde(default)]
    pub out_of_jurisdiction: bool,
    /// Kecamatan where it happened, when known; derived from `kelurahan` when only that is given.
    #[serde(default)]
    pub kecamatan: Option<RegionCode>,
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
    /// When the government first answered the citizen, if it has.
    #[serde(default)]
    pub first_response_at: Option<DateTime<Utc>>,
    /// When it was resolved (or rejected), if it was.
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// When it must be resolved by under the service-level agreement, if one applies.
    #[serde(default)]
    pub sla_due_at: Option<DateTime<Utc>>,
    /// The citizen's rating of the handling, 1 (bad) to 5 (good), once given.
    #[serde(default)]
    pub rating: Option<u8>,
}

impl Complaint {
    /// A complaint just received at `at`, with no location, timings or rating yet.
    pub fn new(
        source: &str,
        source_id: &str,
        category: &str,
        opd: &str,
        at: DateTime<Utc>,
    ) -> Self {
        Complaint {
            source: source.to_owned(),
            source_id: source_id.to_owned(),
            category: category.to_owned(),
            subcategory: None,
            channel: None,
            opd: opd.to_owned(),
            status: Status::Received,
            out_of_jurisdiction: false,
            kecamatan: None,
            kelurahan: None,
            lat: None,
            lon: None,
            created_at: at,
            updated_at: at,
            first_response_at: None,
            resolved_at: None,
            sla_due_at: None,
            rating: None,
        }
    }

    /// The kecamatan code as text, given or derived (no allocation).
    pub fn kecamatan_str(&self) -> Option<&str> {
        match (&self.kecamatan, &self.kelurahan) {
            (Some(kec), _) => Some(kec.as_str()),
            (None, Some(kel)) => kel.as_str().rsplit_once('.').map(|(kec, _)| kec),
            (None, None) => None,
        }
    }

    /// Every reason this version cannot be stored (empty when it can).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.source.trim().is_empty() {
            out.push("source is empty".to_owned());
        }
        if self.source_id.trim().is_empty() {
            out.push("source_id is empty".to_owned());
        }
        if self.category.trim().is_empty() {
            out.push("category is empty".to_owned());
        }
        match (self.lat, self.lon) {
            (Some(lat), Some(lon)) => {
                if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                    out.push(format!("location {lat},{lon} is outside WGS84 bounds"));
                }
            }
            (None, None) => {}
            _ => out.push("lat and lon must be given together".to_owned()),
        }
        if self.updated_at < self.created_at {
            out.push("updated_at is before created_at".to_owned());
        }
        for (name, at) in [
            ("first_response_at", self.first_response_at),
            ("resolved_at", self.resolved_at),
        ] {
            if at.is_some_and(|at| at < self.created_at) {
                out.push(format!("{name} is before created_at"));
            }
        }
        if let Some(r) = self.rating.filter(|r| !(1..=5).contains(r)) {
            out.push(format!("rating {r} is outside 1..=5"));
        }
        if let (Some(kec), Some(kel)) = (&self.kecamatan, &self.kelurahan) {
            if kel.parent().as_ref() != Some(kec) {
                out.push(format!("kelurahan {kel} is not in kecamatan {kec}"));
            }
        }
        out
    }
}

#[cfg(test)]
impl Complaint {
    /// A received complaint in kelurahan 35.75.01.1001 created and updated at `at` (for tests).
    pub(crate) fn sample(id: &str, category: &str, at: DateTime<Utc>) -> Complaint {
        Complaint {
            kelurahan: Some("35.75.01.1001".parse().expect("valid code")),
            ..Complaint::new("test", id, category, "DLH", at)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: StatusVocabulary, status: &str, notes: Option<&str>) -> (Status, bool) {
        let m = Status::from_source(v, status, notes).unwrap();
        (m.status, m.out_of_jurisdiction)
    }

    #[test]
    fn lapor_words_map_onto_the_lifecycle() {
        use StatusVocabulary::Lapor;
        assert_eq!(map(Lapor, "Verifikasi", None), (Verified, false));
        assert_eq!(map(Lapor, "  TINDAK  lanjut ", None), (InProgress, false));
        assert_eq!(map(Lapor, "Tunda", None), (OnHold, false));
        assert_eq!(map(Lapor, "Bukan Wewenang", None), (Rejected, true));
        assert_eq!(map(Lapor, "Arsipkan", None), (Rejected, false));
        assert_eq!(map(Lapor, "Selesai", None), (Resolved, false));
    }

    #[test]
    fn e_sambat_and_qlue_words_map_onto_the_lifecycle() {
        use StatusVocabulary::{ESambat, Qlue};
        assert_eq!(map(ESambat, "tindak lanjut", None).0, Assigned);
        assert_eq!(map(ESambat, "proses", None).0, InProgress);
        assert_eq!(map(ESambat, "selesai", None).0, Resolved);
        assert_eq!(map(ESambat, "ditolak", None).0, Rejected);
        assert_eq!(map(Qlue, "menunggu", None).0, Received);
        assert_eq!(map(Qlue, "proses", None).0, InProgress);
        assert_eq!(map(Qlue, "selesai", None).0, Resolved);
    }

    #[test]
    fn open311_status_notes_refine_open_and_closed() {
        use StatusVocabulary::Open311;
        // The LA 311 statuses as the derived GeoReport file carries them in status_notes.
        assert_eq!(map(Open311, "closed", Some("Closed")), (Resolved, false));
        assert_eq!(map(Open311, "closed", Some("Cancelled")), (Rejected, false));
        assert_eq!(
            map(Open311, "closed", Some("Referred Out")),
            (Rejected, true)
        );
        assert_eq!(map(Open311, "open", Some("Pending")), (InProgress, false));
        assert_eq!(map(Open311, "open", Some("Open")), (Received, false));
        assert_eq!(map(Open311, "open", None), (Received, false));
        // A closing phrase on an open request does not close it.
        assert_eq!(
            map(Open311, "open", Some("cancel requested")),
            (Received, false)
        );
    }

    #[test]
    fn unknown_words_are_refused_with_the_vocabulary_named() {
        let err = Status::from_source(StatusVocabulary::Qlue, "Bukan Wewenang", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "status 'Bukan Wewenang' is not a known Qlue status"
        );
        assert!(Status::from_source(StatusVocabulary::Open311, "acknowledged", None).is_err());
    }
}
