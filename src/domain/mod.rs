//! The vocabulary of Pantau: complaints, budget lines, service events, Kemendagri region codes,
//! Rupiah and the deployment's time zone.
//!
//! Owns plain types and their rules. Must not do I/O or know about storage, HTTP or polars.
//!
//! Indonesian terms kept where they are the real words:
//! - *pengaduan*: a citizen complaint;
//! - *kecamatan*: district, the level below a kabupaten/kota;
//! - *kelurahan* / *desa*: urban / rural village, the level below a kecamatan;
//! - *OPD* (organisasi perangkat daerah): a regional government agency that handles complaints;
//! - *APBD*: the regional budget; *pagu*: an allocation; *anggaran kas*: the planned disbursement
//!   per period; *realisasi*: what was actually spent to date; *serapan*: realisasi ÷ pagu.

pub mod budget;
pub mod complaint;
pub mod dataset;
pub mod health;
pub mod money;
pub mod region;
pub mod service;
pub mod settings;
pub mod table;
pub mod time;

pub use budget::{BudgetLine, BudgetVersion};
pub use complaint::{Complaint, MappedStatus, Status, StatusVocabulary, UnknownStatus};
pub use dataset::Dataset;
pub use health::{Freshness, SourceHealth, SourceStatus};
pub use money::{MoneyError, NumberStyle, Rupiah};
pub use region::{RegionCode, RegionCodeError, RegionLevel};
pub use service::{ServiceEvent, ServiceOutcome};
pub use time::{format_local, parse_instant, InstantError, LocalClock, DEFAULT_TIME_ZONE};

/// Bytes as lower-case hex (how content hashes are stored and shown).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
