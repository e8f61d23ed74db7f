//! How a query field's value is read from a part's columns, row by row: labels as their codes,
//! times and amounts as stored integers, coordinates in degrees, durations in hours.

use super::columns::{Col, Part};
use super::QueryError;
use crate::dashboards::fields::{Derived, Origin, QueryField};
use crate::domain::Dataset;
use crate::store::schema::{complaint_col, service_col, Storage, STATUS_WORDS};
use crate::store::DatasetSchema;

/// A value as a query means it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Scalar {
    /// A code, seconds, sen or a whole number.
    Int(i64),
    /// Degrees or hours.
    Float(f64),
    /// True or false.
    Bool(bool),
}

impl Scalar {
    /// The value as a number (booleans 0 and 1).
    pub(super) fn number(self) -> f64 {
        match self {
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
            Scalar::Bool(b) => f64::from(u8::from(b)),
        }
    }
}

/// An integer a condition compares: a stored column (seconds, sen, codes) or a service event's
/// deadline (request time plus the SLA target).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Int {
    /// A stored column.
    Col(usize),
    /// `requested_at + sla_target_minutes × 60`.
    ServiceDue,
}

/// What "open" means for a dataset: a lifecycle code that is not one of the closing ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct OpenRule {
    /// The lifecycle column (complaint status, service outcome).
    pub col: usize,
    /// Codes that close an item, a bit each.
    pub closed: u64,
}

impl OpenRule {
    /// The rule of `dataset` (budget lines have none).
    pub(super) fn of(dataset: Dataset) -> Option<OpenRule> {
        let code = |w: &str| STATUS_WORDS.iter().position(|s| *s == w).unwrap_or(63);
        match dataset {
            Dataset::Complaints => Some(OpenRule {
                col: complaint_col::STATUS,
                closed: (1 << code("resolved")) | (1 << code("rejected")),
            }),
            // Anything but pending (code 0) has ended.
            Dataset::ServiceEvents => Some(OpenRule {
                col: service_col::OUTCOME,
                closed: !1,
            }),
            Dataset::BudgetLines => None,
        }
    }

    /// Whether lifecycle code `code` is open.
    #[inline]
    pub(super) fn is_open(self, code: i64) -> bool {
        !(0..64).contains(&code) || self.closed >> code & 1 == 0
    }

    /// The codes (below 64) that are open, or closed, a bit each.
    pub(super) fn codes(self, open: bool) -> u64 {
        if open {
            !self.closed
        } else {
            self.closed
        }
    }
}

/// How to read a field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Access {
    /// A label's dictionary code (or a fixed word's position).
    Code(usize),
    /// A stored boolean.
    Truth(usize),
    /// Derived: not closed.
    Open(OpenRule),
    /// A stored integer (seconds, sen, a count) or the service deadline.
    Int(Int),
    /// A coordinate, degrees.
    Degrees(usize),
    /// Hours from `from` to `to` (to the clock when `to` is `None`).
    Hours {
        /// The start column.
        from: usize,
        /// The end column; `None`: now.
        to: Option<usize>,
    },
    /// A field this dataset does not have (validation keeps them out): always missing.
    Missing,
}

impl Access {
    /// How `field` of `dataset` is read.
    pub(super) fn of(dataset: Dataset, field: &QueryField) -> Access {
        match field.origin {
            Origin::Column(c) => match dataset.schema().fields[c].storage {
                Storage::Dict16 | Storage::Dict32 | Storage::Enum(_) => Access::Code(c),
                Storage::Bool => Access::Truth(c),
                Storage::Coord => Access::Degrees(c),
                Storage::Time | Storage::Money | Storage::U8 | Storage::U16 | Storage::U32 => {
                    Access::Int(Int::Col(c))
                }
            },
            Origin::Derived(d) => match (dataset, d) {
                (_, Derived::IsOpen) => OpenRule::of(dataset).map_or(Access::Missing, Access::Open),
                (Dataset::Complaints, Derived::ResolveHours) => Access::Hours {
                    from: complaint_col::CREATED_AT,
                    to: Some(complaint_col::RESOLVED_AT),
                },
                (Dataset::Complaints, Derived::FirstResponseHours) => Access::Hours {
                    from: complaint_col::CREATED_AT,
                    to: Some(complaint_col::FIRST_RESPONSE_AT),
                },
                (Dataset::Complaints, Derived::AgeHours) => Access::Hours {
                    from: complaint_col::CREATED_AT,
                    to: None,
                },
                (Dataset::ServiceEvents, Derived::DurationHours) => Access::Hours {
                    from: service_col::REQUESTED_AT,
                    to: Some(service_col::COMPLETED_AT),
                },
                (Dataset::ServiceEvents, Derived::SlaDueAt) => Access::Int(Int::ServiceDue),
                _ => Access::Missing,
            },
        }
    }

    /// The integer this access reads, when it reads one.
    pub(super) fn int(self) -> Option<Int> {
        match self {
            Access::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The value at row `i`, `None` when missing.
    #[inline]
    pub(super) fn read(self, cols: &Cols, i: usize) -> Option<Scalar> {
        match self {
            Access::Code(c) => cols.col(c).int(i).map(Scalar::Int),
            Access::Truth(c) => cols.col(c).int(i).map(|v| Scalar::Bool(v != 0)),
            Access::Open(rule) => cols
                .col(rule.col)
                .int(i)
                .map(|code| Scalar::Bool(rule.is_open(code))),
            Access::Int(int) => cols.int(int, i).map(Scalar::Int),
            Access::Degrees(c) => cols.col(c).int(i).map(|v| Scalar::Float(v as f64 / 1e6)),
            Access::Hours { from, to } => {
                let start = cols.col(from).int(i)?;
                let end = match to {
                    Some(to) => cols.col(to).int(i)?,
                    None => cols.now,
                };
                Some(Scalar::Float((end - start) as f64 / 3600.0))
            }
            Access::Missing => None,
        }
    }
}

/// A part's columns as typed slices, with the clock the derived fields read.
pub(super) struct Cols<'a> {
    cols: Vec<Col<'a>>,
    /// Rows in the part.
    pub len: usize,
    /// The clock (seconds), for durations up to now.
    pub now: i64,
}

impl<'a> Cols<'a> {
    /// Every column of `part`.
    pub(super) fn new(part: &Part<'a>, dataset: Dataset, now: i64) -> Result<Cols<'a>, QueryError> {
        let cols = (0..=dataset.schema().fields.len())
            .map(|c| part.col(c))
            .collect::<Result<_, _>>()?;
        Ok(Cols {
            cols,
            len: part.len,
            now,
        })
    }

    /// Column `c` (the schema's; the key id after the last).
    #[inline]
    pub(super) fn col(&self, c: usize) -> &Col<'a> {
        &self.cols[c]
    }

    /// The integer `int` at row `i`.
    #[inline]
    pub(super) fn int(&self, int: Int, i: usize) -> Option<i64> {
        match int {
            Int::Col(c) => self.col(c).int(i),
            Int::ServiceDue => {
                let requested = self.col(service_col::REQUESTED_AT).int(i)?;
                let minutes = self.col(service_col::SLA_TARGET_MINUTES).int(i)?;
                Some(requested + minutes * 60)
            }
        }
    }
}
