//! The fields a dashboard query may name: every stored column of a dataset plus a few derived
//! ones (durations, "is open", the service deadline), each with the type that decides which
//! filters and measures fit it.

use serde::Serialize;

use crate::domain::Dataset;
use crate::store::schema::{complaint_col, service_col, Storage};
use crate::store::DatasetSchema;

/// What kind of value a field holds, for validation and output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// A label (dictionary or fixed word list): filter by equality, group by it.
    Label,
    /// An instant.
    Time,
    /// A number.
    Number,
    /// Rupiah, exact.
    Money,
    /// True or false.
    Bool,
    /// A duration in hours (derived).
    Hours,
}

impl FieldType {
    /// Whether sums, averages and percentiles make sense.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Number | FieldType::Money | FieldType::Hours
        )
    }
}

/// A value computed from stored columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Derived {
    /// Complaints: not resolved or rejected; service events: still pending.
    IsOpen,
    /// Complaints: hours from filing to resolution (empty while unresolved).
    ResolveHours,
    /// Complaints: hours from filing to the first answer (empty until answered).
    FirstResponseHours,
    /// Complaints: hours since filing, at the moment of computing (moves with the clock).
    AgeHours,
    /// Service events: hours from request to completion (empty while pending).
    DurationHours,
    /// Service events: request time plus the SLA target.
    SlaDueAt,
}

/// Where a field's values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A stored column, by position in the dataset's schema.
    Column(usize),
    /// Computed from stored columns.
    Derived(Derived),
}

/// A field a query can name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryField {
    /// Its name in dashboard files.
    pub name: &'static str,
    /// Its type.
    pub ty: FieldType,
    /// Where its values come from.
    pub origin: Origin,
    /// Whether the stored column is a fixed word list (its words are known at load).
    pub words: Option<&'static [&'static str]>,
}

impl QueryField {
    /// True when its value depends on the clock, so results move with time alone.
    pub fn moves_with_clock(&self) -> bool {
        self.origin == Origin::Derived(Derived::AgeHours)
    }
}

fn derived(dataset: Dataset) -> &'static [(&'static str, FieldType, Derived)] {
    match dataset {
        Dataset::Complaints => &[
            ("is_open", FieldType::Bool, Derived::IsOpen),
            ("resolve_hours", FieldType::Hours, Derived::ResolveHours),
            (
                "first_response_hours",
                FieldType::Hours,
                Derived::FirstResponseHours,
            ),
            ("age_hours", FieldType::Hours, Derived::AgeHours),
        ],
        Dataset::ServiceEvents => &[
            ("is_open", FieldType::Bool, Derived::IsOpen),
            ("duration_hours", FieldType::Hours, Derived::DurationHours),
            ("sla_due_at", FieldType::Time, Derived::SlaDueAt),
        ],
        Dataset::BudgetLines => &[],
    }
}

/// Every field of `dataset`: stored columns first, then derived ones.
pub fn fields(dataset: Dataset) -> Vec<QueryField> {
    let stored = dataset
        .schema()
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| QueryField {
            name: f.name,
            ty: match f.storage {
                Storage::Dict16 | Storage::Dict32 | Storage::Enum(_) => FieldType::Label,
                Storage::Time => FieldType::Time,
                Storage::Money => FieldType::Money,
                Storage::Bool => FieldType::Bool,
                Storage::Coord | Storage::U8 | Storage::U16 | Storage::U32 => FieldType::Number,
            },
            origin: Origin::Column(i),
            words: match f.storage {
                Storage::Enum(words) => Some(words),
                _ => None,
            },
        });
    let computed = derived(dataset).iter().map(|(name, ty, d)| QueryField {
        name,
        ty: *ty,
        origin: Origin::Derived(*d),
        words: None,
    });
    stored.chain(computed).collect()
}

/// The field of `dataset` called `name`.
pub fn field(dataset: Dataset, name: &str) -> Option<QueryField> {
    fields(dataset).into_iter().find(|f| f.name == name)
}

/// The column holding the SLA deadline and what "open" means, for the SLA measures.
pub fn sla_support(dataset: Dataset) -> bool {
    matches!(dataset, Dataset::Complaints | Dataset::ServiceEvents)
}

/// Region fields a choropleth can colour by (Kemendagri codes).
pub fn is_region(dataset: Dataset, field: &QueryField) -> bool {
    match (dataset, field.origin) {
        (Dataset::Complaints, Origin::Column(c)) => {
            c == complaint_col::KECAMATAN || c == complaint_col::KELURAHAN
        }
        (Dataset::ServiceEvents, Origin::Column(c)) => c == service_col::REGION,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_and_derived_fields_have_types() {
        let status = field(Dataset::Complaints, "status").unwrap();
        assert_eq!(status.ty, FieldType::Label);
        assert!(status.words.unwrap().contains(&"resolved"));
        assert_eq!(
            field(Dataset::BudgetLines, "pagu").unwrap().ty,
            FieldType::Money
        );
        assert_eq!(
            field(Dataset::Complaints, "resolve_hours").unwrap().ty,
            FieldType::Hours
        );
        assert!(field(Dataset::Complaints, "age_hours")
            .unwrap()
            .moves_with_clock());
        assert!(field(Dataset::BudgetLines, "is_open").is_none());
    }
}
