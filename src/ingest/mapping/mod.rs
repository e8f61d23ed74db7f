//! Declarative mappings from a source's records to a dataset's rows.
//!
//! A mapping (a TOML table, inline under `[[sources]]` or in a file such as
//! `examples/mappings/la311.toml`) names, for each field of the dataset, where its value comes
//! from (one or more columns or JSON keys, a template, a constant) and how to read it (time
//! formats and zone, number style, a value map, a status vocabulary). It is checked when loaded,
//! bound once per file header, and then maps each record to a row or to the reasons it cannot.
//! Owns no I/O: sources read, the worker writes.

mod collisions;
mod convert;
mod record;
mod rows;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::Value;

pub use collisions::{FileKeys, Keep, Settled};
pub use convert::{parse_number, parse_time, quote, Cell};
pub use record::{lookup, Fields, Held, Holding, Locator, Owned, Shift, TypedRow};
pub use rows::{Row, Rows};

use crate::domain::Dataset;
use crate::domain::{NumberStyle, StatusVocabulary};

/// Why a mapping cannot be used, one line per problem (`fields.created_at: unknown key 'formt'`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .problems.iter().map(|p| format!("{}: {p}", .origin)).collect::<Vec<_>>().join("\n"))]
pub struct MappingError {
    /// File or config key the mapping came from.
    pub origin: String,
    /// Every problem found.
    pub problems: Vec<String>,
}

/// A mapping as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingSpec {
    /// Dataset the rows go to: `complaints`, `budget_lines` or `service_events`.
    pub dataset: String,
    /// IANA zone for timestamps written without an offset; unset means the deployment's zone.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// How numbers are written: `auto`, `indonesian` (1.234.567,89) or `english`.
    #[serde(default)]
    pub number_style: NumberStyle,
    /// Budget lines only: derive `level` and `parent_code` from account-code prefixes.
    #[serde(default)]
    pub hierarchy: Option<Hierarchy>,
    /// Records of one pull that share a key and a version stamp but differ (a key collision):
    /// `quarantine` them all (the default), or keep the `first` or `last`, or — budget lines —
    /// `sum` their amounts into one line.
    #[serde(default)]
    pub keep: Keep,
    /// CSV reading options (files and imports).
    #[serde(default)]
    pub csv: CsvOptions,
    /// Where the records sit in a JSON document (`data.items`); unset: the document is an array.
    #[serde(default)]
    pub records: Option<String>,
    /// Spreadsheet to read in an XLSX workbook; unset means the first.
    #[serde(default)]
    pub sheet: Option<String>,
    /// Field name → rule (a column name, or a table of options).
    pub fields: BTreeMap<String, Value>,
}

/// How budget hierarchy levels are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hierarchy {
    /// A line's parent is the longest other account code in the same report that is a
    /// dot-segment prefix of its own; level = parent's level + 1.
    CodePrefix,
}

/// CSV options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsvOptions {
    /// Field separator, one character (`,`, `;`, `\t`, `|`).
    pub delimiter: char,
    /// Text encoding: `utf-8` (default), `windows-1252`, `iso-8859-1`, `utf-16le`, …
    pub encoding: String,
    /// Lines to skip before the header (report titles in exported spreadsheets).
    pub skip_lines: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: ',',
            encoding: "utf-8".to_owned(),
            skip_lines: 0,
        }
    }
}

/// A field's rule as written (when not just a column name).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    /// Column(s) or JSON key(s); the first with a value wins.
    #[serde(default)]
    column: OneOrMany,
    /// Text built from columns: `{kode_bps_daerah}:{kode_organisasi|nama_organisasi}`.
    template: Option<String>,
    /// A constant.
    value: Option<Value>,
    /// Used when every column is empty.
    default: Option<Value>,
    /// Time format(s) (chrono strftime, `rfc3339`, `unix`, `unix_ms`), tried in order.
    #[serde(default)]
    format: OneOrMany,
    /// Zone for this field's local times, overriding the mapping's.
    time_zone: Option<String>,
    /// Number style for this field.
    number_style: Option<NumberStyle>,
    /// Source value → value (matched ignoring case and surrounding spaces).
    #[serde(default)]
    map: BTreeMap<String, String>,
    /// Status words of a known system (`lapor`, `e_sambat`, `qlue`, `open311`).
    vocabulary: Option<StatusVocabulary>,
    /// Open311: the column holding `status_notes`.
    notes: Option<String>,
    /// Take the n-th run of digits of the value (e.g. the Unix time in `3403_1470526481.csv`).
    digits: Option<usize>,
}

/// A string or a list of strings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "OneOrManyRepr")]
struct OneOrMany(Vec<String>);

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrManyRepr {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrManyRepr> for OneOrMany {
    fn from(r: OneOrManyRepr) -> Self {
        match r {
            OneOrManyRepr::One(s) => OneOrMany(vec![s]),
            OneOrManyRepr::Many(v) => OneOrMany(v),
        }
    }
}

/// What a dataset field holds, deciding how its value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Time,
    Float,
    Int,
    Money,
    Flag,
    Status,
    Region,
    Version,
    Outcome,
}

/// One field of a dataset as mappings see it.
struct Target {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn t(name: &'static str, kind: Kind, required: bool) -> Target {
    Target {
        name,
        kind,
        required,
    }
}

/// A constant from the mapping.
#[derive(Debug, Clone)]
enum Constant {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Constant {
    fn from_json(v: &Value) -> Option<Constant> {
        Some(match v {
            Value::String(s) => Constant::Text(s.clone()),
            Value::Bool(b) => Constant::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Constant::Int(i),
                None => Constant::Float(n.as_f64()?),
            },
            _ => return None,
        })
    }

    fn cell(&self) -> Cell<'_> {
        match self {
            Constant::Text(s) => Cell::Text(s),
            Constant::Int(i) => Cell::Int(*i),
            Constant::Float(f) => Cell::Float(*f),
            Constant::Bool(b) => Cell::Bool(*b),
        }
    }
}

/// A piece of a template.
#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    /// Column alternatives.
    Field(Vec<String>),
}

/// A field's rule, checked.
#[derive(Debug, Clone)]
struct Rule {
    columns: Vec<String>,
    template: Option<Vec<Part>>,
    value: Option<Constant>,
    default: Option<Constant>,
    formats: Vec<String>,
    zone: Tz,
    style: NumberStyle,
    map: HashMap<String, String>,
    vocabulary: Option<StatusVocabulary>,
    notes: Option<String>,
    digits: Option<usize>,
}

/// A checked mapping, ready to bind to a record layout.
#[derive(Debug, Clone)]
pub struct Mapping {
    dataset: Dataset,
    hierarchy: Option<Hierarchy>,
    keep: Keep,
    /// One rule per dataset field, in the dataset's field order; `None` when not mapped.
    rules: Vec<Option<Rule>>,
    /// The spec it came from (CSV options, record path, sheet).
    pub spec: MappingSpec,
}

/// How records are laid out: a header of column names, or JSON objects.
pub enum Layout<'a> {
    /// Tabular records with these column names.
    Header(&'a [String]),
    /// JSON objects, read by key.
    Json,
}

impl Mapping {
    /// Reads and checks a mapping file.
    pub fn from_file(path: &Path, default_zone: Tz) -> Result<Arc<Mapping>, MappingError> {
        let origin = path.display().to_string();
        let fail = |p: String| MappingError {
            origin: origin.clone(),
            problems: vec![p],
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let spec: MappingSpec = toml::from_str(&text).map_err(|e| fail(e.to_string()))?;
        Mapping::new(spec, &origin, default_zone).map(Arc::new)
    }

    /// Checks a spec: known dataset and fields, required fields mapped, options that fit each
    /// field's type, valid zones.
    pub fn new(spec: MappingSpec, origin: &str, default_zone: Tz) -> Result<Mapping, MappingError> {
        let mut problems = Vec::new();
        let dataset = match Dataset::from_name(&spec.dataset) {
            Some(d) => d,
            None => {
                return Err(MappingError {
                    origin: origin.to_owned(),
                    problems: vec![format!(
                        "dataset '{}' is not one of complaints, budget_lines, service_events",
                        quote(&spec.dataset)
                    )],
                })
            }
        };
        let zone = match &spec.time_zone {
            None => default_zone,
            Some(z) => z.parse().unwrap_or_else(|_| {
                problems.push(format!("time_zone '{}' is not an IANA zone", quote(z)));
                default_zone
            }),
        };
        let targets = rows::targets(dataset);
        for name in spec.fields.keys() {
            if !targets.iter().any(|t| t.name == name) {
                let known: Vec<&str> = targets.iter().map(|t| t.name).collect();
                problems.push(format!(
                    "fields.{name}: {} has no field '{name}' (fields: {})",
                    spec.dataset,
                    known.join(", ")
                ));
            }
        }
        let mut rules = Vec::with_capacity(targets.len());
        for target in targets {
            let rule = match spec.fields.get(target.name) {
                None => None,
                Some(raw) => match compile_rule(target, raw, zone, spec.number_style) {
                    Ok(rule) => Some(rule),
                    Err(e) => {
                        problems.push(format!("fields.{}: {e}", target.name));
                        None
                    }
                },
            };
            if rule.is_none()
                && target.required
                && !spec.fields.contains_key(target.name)
                && !rows::derived(dataset, target.name, spec.hierarchy.is_some())
            {
                problems.push(format!("fields.{}: required, but not mapped", target.name));
            }
            rules.push(rule);
        }
        if spec.hierarchy.is_some() && dataset != Dataset::BudgetLines {
            problems.push("hierarchy applies to budget_lines only".to_owned());
        }
        if spec.keep == Keep::Sum && dataset != Dataset::BudgetLines {
            problems.push(
                "keep = \"sum\" applies to budget_lines only (complaints and service events have no amounts to sum)"
                    .to_owned(),
            );
        }
        if spec.csv.delimiter.len_utf8() != 1 {
            problems.push("csv.delimiter must be a single-byte character".to_owned());
        }
        if encoding_rs::Encoding::for_label(spec.csv.encoding.as_bytes()).is_none() {
            problems.push(format!(
                "csv.encoding '{}' is not known",
                quote(&spec.csv.encoding)
            ));
        }
        if !problems.is_empty() {
            return Err(MappingError {
                origin: origin.to_owned(),
                problems,
            });
        }
        Ok(Mapping {
            dataset,
            hierarchy: spec.hierarchy,
            keep: spec.keep,
            rules,
            spec,
        })
    }

    /// The dataset this mapping fills.
    pub fn dataset(&self) -> Dataset {
        self.dataset
    }

    /// What is done with records of one pull that share a key and a version stamp.
    pub fn keep(&self) -> Keep {
        self.keep
    }

    /// Resolves column names against a layout. A tabular header must hold, for every required
    /// field, at least one of its columns (compared ignoring case).
    pub fn bind(self: &Arc<Self>, layout: Layout<'_>) -> Result<Bound, MappingError> {
        let header: Vec<String> = match &layout {
            Layout::Header(h) => h.iter().map(|s| s.trim().to_owned()).collect(),
            Layout::Json => Vec::new(),
        };
        let locate = |name: &str| -> Option<Locator> {
            match layout {
                Layout::Header(_) => header
                    .iter()
                    .position(|h| h.eq_ignore_ascii_case(name.trim()))
                    .map(Locator::Column),
                Layout::Json => Some(Locator::Key(name.to_owned())),
            }
        };
        let mut problems = Vec::new();
        let mut slots = Vec::with_capacity(self.rules.len());
        for (target, rule) in rows::targets(self.dataset).iter().zip(&self.rules) {
            let Some(rule) = rule else {
                slots.push(Slot::default());
                continue;
            };
            let columns: Vec<(Locator, String)> = rule
                .columns
                .iter()
                .filter_map(|c| locate(c).map(|l| (l, c.clone())))
                .collect();
            let template = rule.template.as_ref().map(|parts| {
                parts
                    .iter()
                    .map(|p| match p {
                        Part::Literal(s) => BoundPart::Literal(s.clone()),
                        Part::Field(alts) => {
                            let found: Vec<Locator> =
                                alts.iter().filter_map(|c| locate(c)).collect();
                            if found.is_empty() {
                                problems.push(format!(
                                    "fields.{}: template column {} is not in the header",
                                    target.name,
                                    alts.join("|")
                                ));
                            }
                            BoundPart::Field(found)
                        }
                    })
                    .collect()
            });
            if !rule.columns.is_empty()
                && columns.is_empty()
                && rule.default.is_none()
                && target.required
            {
                problems.push(format!(
                    "fields.{}: none of the columns {} is in the header",
                    target.name,
                    rule.columns.join(", ")
                ));
            }
            slots.push(Slot {
                columns,
                template,
                notes: rule.notes.as_deref().and_then(locate),
            });
        }
        if !problems.is_empty() {
            return Err(MappingError {
                origin: format!("mapping for {}", self.dataset.name()),
                problems,
            });
        }
        Ok(Bound {
            mapping: self.clone(),
            slots,
            header,
        })
    }
}

/// A field's locators in one layout.
#[derive(Debug, Default)]
struct Slot {
    columns: Vec<(Locator, String)>,
    template: Option<Vec<BoundPart>>,
    notes: Option<Locator>,
}

#[derive(Debug)]
enum BoundPart {
    Literal(String),
    Field(Vec<Locator>),
}

/// A mapping bound to a layout: maps records to rows.
pub struct Bound {
    mapping: Arc<Mapping>,
    slots: Vec<Slot>,
    /// Column names of a tabular layout (for quarantine payloads).
    header: Vec<String>,
}

impl Bound {
    /// The record as JSON, for the quarantine.
    pub fn payload<R: Fields + ?Sized>(&self, record: &R) -> Value {
        record.payload(&self.header)
    }

    /// The mapping this was bound from.
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }
}

fn compile_rule(
    target: &Target,
    raw: &Value,
    zone: Tz,
    style: NumberStyle,
) -> Result<Rule, String> {
    let spec: RuleSpec = match raw {
        Value::String(column) => RuleSpec {
            column: OneOrMany(vec![column.clone()]),
            ..RuleSpec::default()
        },
        Value::Object(_) => serde_json::from_value(raw.clone()).map_err(|e| e.to_string())?,
        other => {
            return Err(format!(
                "expected a column name or a table of options, found {other}"
            ))
        }
    };
    let sources = [
        !spec.column.0.is_empty(),
        spec.template.is_some(),
        spec.value.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if sources != 1 {
        return Err("give exactly one of column, template or value".to_owned());
    }
    let kind_is = |kinds: &[Kind]| kinds.contains(&target.kind);
    if !spec.format.0.is_empty() && !kind_is(&[Kind::Time]) {
        return Err("format applies to times only".to_owned());
    }
    if spec.vocabulary.is_some() && !kind_is(&[Kind::Status]) {
        return Err("vocabulary applies to status only".to_owned());
    }
    if spec.notes.is_some() && spec.vocabulary != Some(StatusVocabulary::Open311) {
        return Err("notes applies to the open311 vocabulary only".to_owned());
    }
    let zone = match &spec.time_zone {
        None => zone,
        Some(z) => z
            .parse()
            .map_err(|_| format!("time_zone '{}' is not an IANA zone", quote(z)))?,
    };
    let constant = |v: &Option<Value>, what: &str| -> Result<Option<Constant>, String> {
        v.as_ref()
            .map(|v| {
                Constant::from_json(v)
                    .ok_or_else(|| format!("{what} must be text, a number or true/false"))
            })
            .transpose()
    };
    let template = spec.template.as_deref().map(parse_template).transpose()?;
    let map = spec
        .map
        .iter()
        .map(|(k, v)| (normalise(k), v.clone()))
        .collect();
    if target.kind == Kind::Status && spec.vocabulary.is_none() {
        // Without a vocabulary every mapped value must be a canonical status.
        for (word, status) in &spec.map {
            if rows::parse_status(status).is_none() {
                return Err(format!(
                    "map: '{word}' → '{status}' is not a status (received, verified, assigned, in_progress, on_hold, resolved, rejected, reopened)"
                ));
            }
        }
    }
    Ok(Rule {
        columns: spec.column.0,
        template,
        value: constant(&spec.value, "value")?,
        default: constant(&spec.default, "default")?,
        formats: spec.format.0,
        zone,
        style: spec.number_style.unwrap_or(style),
        map,
        vocabulary: spec.vocabulary,
        notes: spec.notes,
        digits: spec.digits,
    })
}

/// `{a|b}-{c}` → parts; `{{` and `}}` are literal braces.
fn parse_template(text: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                if name.trim().is_empty() {
                    return Err(format!("template '{}' has an empty {{}}", quote(text)));
                }
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Field(
                    name.split('|').map(|s| s.trim().to_owned()).collect(),
                ));
            }
            '}' => return Err(format!("template '{}' has an unmatched }}", quote(text))),
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(parts)
}

/// Lower case, single spaces, trimmed: how map keys and source values are compared. One
/// allocation: it runs for every mapped value of every record.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        if word.is_ascii() {
            out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            out.push_str(&word.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests;
