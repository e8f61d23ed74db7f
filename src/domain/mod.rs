//! The vocabulary of Pantau: complaints, Kemendagri region codes and the deployment's time zone.
//!
//! Owns plain types and their rules. Must not do I/O or know about storage, HTTP or polars.
//!
//! Indonesian terms kept where they are the real words:
//! - *pengaduan*: a citizen complaint;
//! - *kecamatan*: district, the level below a kabupaten/kota;
//! - *kelurahan* / *desa*: urban / rural village, the level below a kecamatan;
//! - *OPD* (organisasi perangkat daerah): a regional government agency that handles complaints.

pub mod complaint;
pub mod region;
pub mod time;

pub use complaint::{Complaint, Status};
pub use region::{RegionCode, RegionCodeError, RegionLevel};
pub use time::{format_local, DEFAULT_TIME_ZONE};
