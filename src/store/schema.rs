//! The three datasets' column layouts: what each hot column holds and how it is stored.
//!
//! Every stored value is an integer underneath (dictionary code, seconds, micro-degrees, sen), which
//! keeps a complaint version near 50 bytes and lets one generic table serve every dataset.

use polars::prelude::DataType;
use serde::Serialize;

use crate::domain::Dataset;

/// A dataset's column layout: [`Dataset`] is vocabulary ([`crate::domain`]); how the store lays
/// its columns out is the store's.
pub trait DatasetSchema {
    /// Its column layout.
    fn schema(self) -> &'static Schema;
}

impl DatasetSchema for Dataset {
    fn schema(self) -> &'static Schema {
        match self {
            Dataset::Complaints => &COMPLAINTS,
            Dataset::BudgetLines => &BUDGET_LINES,
            Dataset::ServiceEvents => &SERVICE_EVENTS,
        }
    }
}

/// How a column's values are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// A label stored as a 16-bit code into the column's dictionary (up to 65,536 labels: region
    /// codes fit, since one deployment serves one province at most — Jawa Timur has 8,501 desa).
    Dict16,
    /// A label stored as a 32-bit code into the column's dictionary (account codes and names).
    Dict32,
    /// An instant, seconds since 1970-01-01 UTC, 32-bit (to 2106).
    Time,
    /// A WGS84 coordinate in micro-degrees (about 0.1 m).
    Coord,
    /// Rupiah in sen, exact.
    Money,
    /// A small unsigned number.
    U8,
    /// An unsigned number up to 65,535.
    U16,
    /// An unsigned number up to 4,294,967,295.
    U32,
    /// One of a fixed list of words, stored as its position.
    Enum(&'static [&'static str]),
    /// True or false.
    Bool,
}

impl Storage {
    /// The polars type of the hot column.
    pub fn dtype(self) -> DataType {
        match self {
            Storage::Dict16 | Storage::U16 => DataType::UInt16,
            Storage::Dict32 | Storage::Time | Storage::U32 => DataType::UInt32,
            Storage::Coord => DataType::Int32,
            Storage::Money => DataType::Int64,
            Storage::U8 | Storage::Enum(_) => DataType::UInt8,
            Storage::Bool => DataType::Boolean,
        }
    }

    /// Bytes per value in memory (booleans take a bit; counted as one byte here).
    pub fn width(self) -> usize {
        match self {
            Storage::U8 | Storage::Enum(_) | Storage::Bool => 1,
            Storage::Dict16 | Storage::U16 => 2,
            Storage::Dict32 | Storage::Time | Storage::U32 | Storage::Coord => 4,
            Storage::Money => 8,
        }
    }

    /// The largest value the column can hold.
    pub(crate) fn max(self) -> i64 {
        match self {
            Storage::U8 | Storage::Enum(_) => u8::MAX.into(),
            Storage::Dict16 | Storage::U16 => u16::MAX.into(),
            Storage::Dict32 | Storage::Time | Storage::U32 => u32::MAX.into(),
            Storage::Coord => i32::MAX.into(),
            Storage::Money => i64::MAX,
            Storage::Bool => 1,
        }
    }

    /// The type name shown by `GET /api/datasets/{name}/schema`.
    pub fn logical_type(self) -> &'static str {
        match self {
            Storage::Dict16 | Storage::Dict32 | Storage::Enum(_) => "string",
            Storage::Time => "timestamp",
            Storage::Coord => "float",
            Storage::Money => "rupiah",
            Storage::U8 | Storage::U16 | Storage::U32 => "integer",
            Storage::Bool => "boolean",
        }
    }

    /// Stored as a code into a dictionary of labels.
    pub fn is_dict(self) -> bool {
        matches!(self, Storage::Dict16 | Storage::Dict32)
    }
}

/// One column of a dataset.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Field {
    /// Column name.
    pub name: &'static str,
    /// How values are stored.
    pub storage: Storage,
    /// Whether a value may be missing.
    pub nullable: bool,
    /// What the column means.
    pub description: &'static str,
}

/// A dataset's columns; the first `Field` whose `version_time` is set orders versions.
#[derive(Debug, Serialize)]
pub struct Schema {
    /// What a row is, for people.
    pub description: &'static str,
    /// Names of the key's parts, in key order (`source_id`/`event_id` live in the key index only).
    pub key: &'static [&'static str],
    /// Columns in storage order.
    pub fields: &'static [Field],
    /// Index of the column whose value orders versions of one key (newest wins).
    pub version_column: usize,
    /// Index of the column used for the hot window (retention) of append-only datasets.
    pub time_column: usize,
    /// Events are never superseded as entities: retention drops them by `time_column` even when
    /// they are the current report (complaints and budget lines keep their current versions hot).
    pub append_only: bool,
}

impl Schema {
    /// The position of the column called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// Bytes per row of the hot columns (without the key id and current flag).
    pub fn row_width(&self) -> usize {
        self.fields.iter().map(|f| f.storage.width()).sum()
    }
}

const fn field(
    name: &'static str,
    storage: Storage,
    nullable: bool,
    description: &'static str,
) -> Field {
    Field {
        name,
        storage,
        nullable,
        description,
    }
}

use Storage::*;

/// Lifecycle states in the order of [`crate::domain::Status`].
pub const STATUS_WORDS: &[&str] = &[
    "received",
    "verified",
    "assigned",
    "in_progress",
    "on_hold",
    "resolved",
    "rejected",
    "reopened",
];

/// Budget versions in the order of [`crate::domain::BudgetVersion`].
pub const BUDGET_VERSION_WORDS: &[&str] = &["murni", "perubahan"];

/// Service outcomes in the order of [`crate::domain::ServiceOutcome`].
pub const OUTCOME_WORDS: &[&str] = &["pending", "completed", "cancelled", "failed"];

/// Complaint column positions, shared by the encoder and by readers.
pub mod complaint_col {
    pub const SOURCE: usize = 0;
    pub const CATEGORY: usize = 1;
    pub const SUBCATEGORY: usize = 2;
    pub const CHANNEL: usize = 3;
    pub const OPD: usize = 4;
    pub const STATUS: usize = 5;
    pub const OUT_OF_JURISDICTION: usize = 6;
    pub const KECAMATAN: usize = 7;
    pub const KELURAHAN: usize = 8;
    pub const LAT: usize = 9;
    pub const LON: usize = 10;
    pub const CREATED_AT: usize = 11;
    pub const UPDATED_AT: usize = 12;
    pub const FIRST_RESPONSE_AT: usize = 13;
    pub const RESOLVED_AT: usize = 14;
    pub const SLA_DUE_AT: usize = 15;
    pub const RATING: usize = 16;
}

static COMPLAINTS: Schema = Schema {
    description:
        "One version of a citizen complaint; the newest per (source, source_id) is current.",
    key: &["source", "source_id"],
    fields: &[
        field("source", Dict16, false, "Source id from the configuration."),
        field("category", Dict16, false, "Topic as the source names it."),
        field(
            "subcategory",
            Dict16,
            true,
            "Finer topic, when the source has one.",
        ),
        field(
            "channel",
            Dict16,
            true,
            "How the citizen reached the government.",
        ),
        field(
            "opd",
            Dict16,
            false,
            "Agency (OPD) responsible for handling it.",
        ),
        field(
            "status",
            Enum(STATUS_WORDS),
            false,
            "Canonical lifecycle state.",
        ),
        field(
            "out_of_jurisdiction",
            Bool,
            false,
            "Not this government's to handle.",
        ),
        field("kecamatan", Dict16, true, "Kemendagri kecamatan code."),
        field("kelurahan", Dict16, true, "Kemendagri kelurahan/desa code."),
        field("lat", Coord, true, "WGS84 latitude."),
        field("lon", Coord, true, "WGS84 longitude."),
        field("created_at", Time, false, "When the citizen filed it."),
        field(
            "updated_at",
            Time,
            false,
            "When the source last changed it.",
        ),
        field(
            "first_response_at",
            Time,
            true,
            "First answer to the citizen.",
        ),
        field(
            "resolved_at",
            Time,
            true,
            "When it was resolved or rejected.",
        ),
        field("sla_due_at", Time, true, "Service-level deadline."),
        field("rating", U8, true, "Citizen's rating, 1 to 5."),
    ],
    version_column: complaint_col::UPDATED_AT,
    time_column: complaint_col::UPDATED_AT,
    append_only: false,
};

/// Budget line column positions.
pub mod budget_col {
    pub const SOURCE: usize = 0;
    pub const FISCAL_YEAR: usize = 1;
    pub const VERSION: usize = 2;
    pub const OPD: usize = 3;
    pub const ACCOUNT_CODE: usize = 4;
    pub const PERIOD: usize = 5;
    pub const LEVEL: usize = 6;
    pub const PARENT_CODE: usize = 7;
    pub const ACCOUNT_NAME: usize = 8;
    pub const PAGU: usize = 9;
    pub const ANGGARAN_KAS: usize = 10;
    pub const REALISASI: usize = 11;
    pub const UPDATED_AT: usize = 12;
}

static BUDGET_LINES: Schema = Schema {
    description: "One APBD realisation line per fiscal year, version, OPD, account and month; \
                  sum one hierarchy level at a time.",
    key: &["fiscal_year", "version", "opd", "account_code", "period"],
    fields: &[
        field("source", Dict16, false, "Source id from the configuration."),
        field("fiscal_year", U16, false, "Fiscal year (tahun anggaran)."),
        field(
            "version",
            Enum(BUDGET_VERSION_WORDS),
            false,
            "murni or perubahan.",
        ),
        field("opd", Dict16, false, "Code of the agency (OPD)."),
        field(
            "account_code",
            Dict32,
            false,
            "Account code (kode rekening).",
        ),
        field(
            "period",
            U8,
            false,
            "Month 1-12 the cumulative figures run to.",
        ),
        field("level", U8, false, "Depth in the hierarchy, 1 at the top."),
        field(
            "parent_code",
            Dict32,
            true,
            "Account code of the enclosing line.",
        ),
        field(
            "account_name",
            Dict32,
            false,
            "Name of the account (uraian).",
        ),
        field("pagu", Money, false, "Allocation for the year, Rupiah."),
        field(
            "anggaran_kas",
            Money,
            false,
            "Planned disbursement to the period, Rupiah.",
        ),
        field(
            "realisasi",
            Money,
            false,
            "Spent to the end of the period, Rupiah.",
        ),
        field(
            "updated_at",
            Time,
            false,
            "When the source produced the figures.",
        ),
    ],
    version_column: budget_col::UPDATED_AT,
    time_column: budget_col::UPDATED_AT,
    append_only: false,
};

/// Service event column positions.
pub mod service_col {
    pub const SOURCE: usize = 0;
    pub const SERVICE: usize = 1;
    pub const UNIT: usize = 2;
    pub const REGION: usize = 3;
    pub const REQUESTED_AT: usize = 4;
    pub const COMPLETED_AT: usize = 5;
    pub const SLA_TARGET_MINUTES: usize = 6;
    pub const OUTCOME: usize = 7;
    pub const UPDATED_AT: usize = 8;
}

static SERVICE_EVENTS: Schema = Schema {
    description: "One public-service request and its completion (e-Monev).",
    key: &["source", "event_id"],
    fields: &[
        field("source", Dict16, false, "Source id from the configuration."),
        field("service", Dict16, false, "Which service."),
        field("unit", Dict16, false, "Office or unit that delivered it."),
        field(
            "region",
            Dict16,
            true,
            "Kemendagri code where it was requested.",
        ),
        field("requested_at", Time, false, "When it was requested."),
        field("completed_at", Time, true, "When it ended."),
        field(
            "sla_target_minutes",
            U32,
            false,
            "Service-level target, minutes.",
        ),
        field(
            "outcome",
            Enum(OUTCOME_WORDS),
            false,
            "pending, completed, cancelled or failed.",
        ),
        field(
            "updated_at",
            Time,
            false,
            "Completion if done, else the request.",
        ),
    ],
    version_column: service_col::UPDATED_AT,
    time_column: service_col::REQUESTED_AT,
    append_only: true,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complaint_version_fits_in_45_bytes_of_columns() {
        // 4 more for the key id and a bit for the current flag; keys are counted in table/.
        assert_eq!(Dataset::Complaints.schema().row_width(), 45);
    }

    #[test]
    fn names_round_trip() {
        for d in Dataset::ALL {
            assert_eq!(Dataset::from_name(d.name()), Some(d));
        }
    }
}
