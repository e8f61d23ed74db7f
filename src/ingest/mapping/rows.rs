//! From a bound mapping and a record to a dataset row: the fields of each dataset, how each
//! value is read, and the batch-level budget hierarchy.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::collisions::{self, FileKeys, Out, Settled};
use super::convert::{digit_run, quote, Cell};
use super::record::{Fields, Held, Holding, Locator};
use super::{normalise, Bound, BoundPart, Hierarchy, Kind, Rule, Target};
use crate::domain::Dataset;
use crate::domain::{
    BudgetLine, BudgetVersion, Complaint, RegionCode, Rupiah, ServiceEvent, ServiceOutcome, Status,
};
use crate::store::Batch;

use Kind::*;

/// Complaint fields, in the order of the `c` constants.
const COMPLAINT: &[Target] = &[
    super::t("source_id", Text, true),
    super::t("category", Text, true),
    super::t("subcategory", Text, false),
    super::t("channel", Text, false),
    super::t("opd", Text, true),
    super::t("status", Status, true),
    super::t("out_of_jurisdiction", Flag, false),
    super::t("kecamatan", Region, false),
    super::t("kelurahan", Region, false),
    super::t("lat", Float, false),
    super::t("lon", Float, false),
    super::t("created_at", Time, true),
    super::t("updated_at", Time, false),
    super::t("first_response_at", Time, false),
    super::t("resolved_at", Time, false),
    super::t("sla_due_at", Time, false),
    super::t("rating", Int, false),
];

/// Budget line fields, in the order of the `b` constants.
const BUDGET: &[Target] = &[
    super::t("fiscal_year", Int, true),
    super::t("version", Version, false),
    super::t("opd", Text, true),
    super::t("account_code", Text, true),
    super::t("period", Int, true),
    super::t("level", Int, true),
    super::t("parent_code", Text, false),
    super::t("account_name", Text, false),
    super::t("pagu", Money, true),
    super::t("anggaran_kas", Money, false),
    super::t("realisasi", Money, true),
    super::t("updated_at", Time, true),
];

/// Service event fields, in the order of the `s` constants.
const SERVICE: &[Target] = &[
    super::t("event_id", Text, true),
    super::t("service", Text, true),
    super::t("unit", Text, true),
    super::t("region", Region, false),
    super::t("requested_at", Time, true),
    super::t("completed_at", Time, false),
    super::t("sla_target_minutes", Int, true),
    super::t("outcome", Outcome, true),
];

pub(super) fn targets(dataset: Dataset) -> &'static [Target] {
    match dataset {
        Dataset::Complaints => COMPLAINT,
        Dataset::BudgetLines => BUDGET,
        Dataset::ServiceEvents => SERVICE,
    }
}

/// A required field the mapping may leave out because it is derived.
pub(super) fn derived(dataset: Dataset, field: &str, hierarchy: bool) -> bool {
    dataset == Dataset::BudgetLines && field == "level" && hierarchy
}

/// A canonical status by its snake_case name (`in_progress`, or `In Progress`). Runs for every
/// complaint read, so the names are made once, from the statuses' own serde names.
pub(super) fn parse_status(name: &str) -> Option<Status> {
    serde_json::from_value(Value::String(normalise(name).replace(' ', "_"))).ok()
}

/// One mapped row.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// A complaint version.
    Complaint(Complaint),
    /// A budget line.
    Budget(BudgetLine),
    /// A service event.
    Service(ServiceEvent),
}

/// Mapped rows of one dataset, and the records that could not be mapped.
#[derive(Debug)]
pub struct Rows {
    /// Rows ready for the store.
    pub batch: Batch,
    /// Records refused: raw payload and the reasons, joined for a person to read.
    pub refused: Vec<(Value, String)>,
    /// Newest record time among the rows (for the lag metric).
    pub newest: Option<DateTime<Utc>>,
    /// Key collisions settled so far (quarantined, merged by the mapping's `keep`).
    pub collisions: Settled,
    /// The records as delivered, parallel to `batch` while it is being collected (empty for
    /// rows made elsewhere), so a collision quarantines what the source sent.
    held: Vec<Held>,
    /// Where the held CSV records are packed.
    holding: Holding,
    /// Budget lines waiting for the batch-level hierarchy, with their records.
    pending_budget: Vec<(BudgetLine, Held)>,
}

impl Rows {
    /// An empty collection for `dataset`.
    pub fn new(dataset: Dataset) -> Rows {
        Rows {
            batch: match dataset {
                Dataset::Complaints => Batch::Complaints(Vec::new()),
                Dataset::BudgetLines => Batch::BudgetLines(Vec::new()),
                Dataset::ServiceEvents => Batch::ServiceEvents(Vec::new()),
            },
            refused: Vec::new(),
            newest: None,
            collisions: Settled::default(),
            held: Vec::new(),
            holding: Holding::default(),
            pending_budget: Vec::new(),
        }
    }

    /// An empty collection that packs its held records into `holding`'s buffers (a file reader
    /// hands the same buffers from one chunk to the next).
    pub fn with_holding(dataset: Dataset, holding: Holding) -> Rows {
        Rows {
            holding,
            ..Rows::new(dataset)
        }
    }

    /// The held records' buffers, emptied, for the next batch (the rows are settled).
    pub fn take_holding(&mut self) -> Holding {
        let mut holding = std::mem::take(&mut self.holding);
        holding.clear();
        holding
    }

    /// Rows made elsewhere (a simulator), with their newest time.
    pub fn of(batch: Batch) -> Rows {
        let newest = match &batch {
            Batch::Complaints(v) => v.iter().map(|c| c.updated_at).max(),
            Batch::BudgetLines(v) => v.iter().map(|b| b.updated_at).max(),
            Batch::ServiceEvents(v) => v.iter().map(ServiceEvent::updated_at).max(),
        };
        Rows {
            batch,
            refused: Vec::new(),
            newest,
            collisions: Settled::default(),
            held: Vec::new(),
            holding: Holding::default(),
            pending_budget: Vec::new(),
        }
    }

    /// The records this collection accounts for: rows, refusals, and records merged into
    /// another by the mapping's `keep`.
    pub fn len(&self) -> usize {
        self.batch.len()
            + self.refused.len()
            + self.pending_budget.len()
            + self.collisions.merged as usize
    }

    /// True when nothing was collected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends another collection of the same dataset.
    pub fn extend(&mut self, other: Rows) {
        match (&mut self.batch, other.batch) {
            (Batch::Complaints(a), Batch::Complaints(b)) => a.extend(b),
            (Batch::BudgetLines(a), Batch::BudgetLines(b)) => a.extend(b),
            (Batch::ServiceEvents(a), Batch::ServiceEvents(b)) => a.extend(b),
            _ => unreachable!("rows of another dataset"),
        }
        self.refused.extend(other.refused);
        let shift = self.holding.append(other.holding);
        self.held
            .extend(other.held.into_iter().map(|h| h.shifted(shift)));
        self.pending_budget.extend(
            other
                .pending_budget
                .into_iter()
                .map(|(line, h)| (line, h.shifted(shift))),
        );
        self.collisions.quarantined += other.collisions.quarantined;
        self.collisions.merged += other.collisions.merged;
        self.newest = self.newest.max(other.newest);
    }

    fn push(&mut self, row: Row, held: Held) {
        self.held.push(held);
        let at = match &row {
            Row::Complaint(c) => c.updated_at,
            Row::Budget(b) => b.updated_at,
            Row::Service(s) => s.updated_at(),
        };
        self.newest = self.newest.max(Some(at));
        match (&mut self.batch, row) {
            (Batch::Complaints(v), Row::Complaint(c)) => v.push(c),
            (Batch::BudgetLines(v), Row::Budget(b)) => v.push(b),
            (Batch::ServiceEvents(v), Row::Service(s)) => v.push(s),
            // A mapping produces rows of its own dataset only.
            _ => unreachable!("row of another dataset"),
        }
    }
}

impl Bound {
    /// Maps one record into `rows` (or its refusal). `source` is the source id rows carry.
    pub fn collect<R: Fields + ?Sized>(&self, record: &R, source: &str, rows: &mut Rows) {
        match self.map(record, source) {
            Ok(Row::Budget(line)) if self.mapping.hierarchy.is_some() => {
                let held = record.hold(&mut rows.holding);
                rows.pending_budget.push((line, held));
            }
            Ok(row) => {
                let held = record.hold(&mut rows.holding);
                rows.push(row, held);
            }
            Err(reasons) => rows.refused.push((self.payload(record), reasons)),
        }
    }

    /// Ends a batch (one pull, one page, one chunk of a file): applies the budget hierarchy to
    /// the lines collected since the last call, then settles the key collisions among them.
    pub fn finish(&self, rows: &mut Rows) {
        self.finish_with(rows, None);
    }

    /// [`finish`](Self::finish) for one chunk of a file, also settling collisions with the
    /// file's earlier chunks (already stored), which `seen` remembers.
    pub fn finish_chunk(&self, rows: &mut Rows, seen: &mut FileKeys) {
        self.finish_with(rows, Some(seen));
    }

    fn finish_with(&self, rows: &mut Rows, seen: Option<&mut FileKeys>) {
        self.apply_hierarchy(rows);
        let keep = self.mapping.keep;
        let (settled, out) = collisions::settle(&mut rows.batch, &mut rows.held, keep);
        self.settled(rows, settled, out);
        if let Some(seen) = seen {
            let (settled, out) = seen.check(&mut rows.batch, &mut rows.held, keep);
            self.settled(rows, settled, out);
        }
        // Settled: the rows now go to the store as they are.
        rows.held.clear();
        rows.holding.clear();
    }

    fn settled(&self, rows: &mut Rows, settled: Settled, out: Vec<Out>) {
        rows.collisions.quarantined += settled.quarantined;
        rows.collisions.merged += settled.merged;
        for (held, json, reason) in out {
            let payload = match held {
                Some(h) => h.payload(&self.header, &rows.holding),
                None => json.unwrap_or_default(),
            };
            rows.refused.push((payload, reason));
        }
    }

    fn apply_hierarchy(&self, rows: &mut Rows) {
        let pending = std::mem::take(&mut rows.pending_budget);
        if pending.is_empty() {
            return;
        }
        let Some(Hierarchy::CodePrefix) = self.mapping.hierarchy else {
            return;
        };
        for (line, held) in code_prefix_hierarchy(pending) {
            let mut problems = line.problems();
            if line.level == 0 && !line.account_code.is_empty() {
                problems = vec![format!(
                    "account_code '{}' has an empty segment, so its place in the hierarchy is unknown",
                    quote(&line.account_code)
                )];
            }
            if problems.is_empty() {
                rows.push(Row::Budget(line), held);
            } else {
                let payload = held.payload(&self.header, &rows.holding);
                rows.refused.push((payload, problems.join("; ")));
            }
        }
    }

    /// Maps one record, or says every reason it cannot be.
    pub fn map<R: Fields + ?Sized>(&self, record: &R, source: &str) -> Result<Row, String> {
        let mut r = Reader {
            bound: self,
            record,
            problems: Vec::new(),
        };
        let row = match self.mapping.dataset {
            Dataset::Complaints => Row::Complaint(complaint(&mut r, source)),
            Dataset::BudgetLines => Row::Budget(budget(&mut r, source)),
            Dataset::ServiceEvents => Row::Service(service(&mut r, source)),
        };
        if !r.problems.is_empty() {
            return Err(r.problems.join("; "));
        }
        let problems = match &row {
            Row::Complaint(c) => c.problems(),
            // Level and parent may still come from the hierarchy: checked in `finish`.
            Row::Budget(_) if self.mapping.hierarchy.is_some() => Vec::new(),
            Row::Budget(b) => b.problems(),
            Row::Service(s) => s.problems(),
        };
        if problems.is_empty() {
            Ok(row)
        } else {
            Err(problems.join("; "))
        }
    }
}

/// Reads the fields of one record, collecting problems instead of stopping at the first.
struct Reader<'b, R: ?Sized> {
    bound: &'b Bound,
    record: &'b R,
    problems: Vec<String>,
}

/// A value before conversion: borrowed from the record, or built by a template, map or digits rule.
enum Raw<'a> {
    Cell(Cell<'a>),
    Text(String),
}

impl Raw<'_> {
    fn cell(&self) -> Cell<'_> {
        match self {
            Raw::Cell(c) => *c,
            Raw::Text(t) => Cell::Text(t),
        }
    }
}

impl<'b, R: Fields + ?Sized> Reader<'b, R> {
    fn rule(&self, i: usize) -> Option<&'b Rule> {
        self.bound.mapping.rules[i].as_ref()
    }

    fn name(&self, i: usize) -> &'static str {
        targets(self.bound.mapping.dataset)[i].name
    }

    /// The raw value of field `i` after template, alternatives, default, digits and map.
    fn raw(&mut self, i: usize) -> Option<Raw<'b>> {
        let rule = self.rule(i)?;
        let slot = &self.bound.slots[i];
        let mut raw = if let Some(c) = &rule.value {
            Some(Raw::Cell(c.cell()))
        } else if let Some(parts) = &slot.template {
            let mut text = String::new();
            let mut complete = true;
            for part in parts {
                match part {
                    BoundPart::Literal(s) => text.push_str(s),
                    BoundPart::Field(alts) => match alts.iter().find_map(|l| self.record.cell(l)) {
                        Some(c) => text.push_str(&c.text()),
                        None => complete = false,
                    },
                }
            }
            complete.then_some(Raw::Text(text))
        } else {
            slot.columns
                .iter()
                .find_map(|(l, _)| self.record.cell(l))
                .map(Raw::Cell)
        };
        if raw.is_none() {
            raw = rule.default.as_ref().map(|c| Raw::Cell(c.cell()));
        }
        let mut raw = raw?;
        if let Some(n) = rule.digits {
            let text = raw.cell().text();
            match digit_run(&text, n) {
                Some(d) => raw = Raw::Text(d.to_owned()),
                None => {
                    let name = self.name(i);
                    self.problems
                        .push(format!("{name}: '{}' has no digit run {n}", quote(&text)));
                    return None;
                }
            }
        }
        if !rule.map.is_empty() {
            let key = normalise(&raw.cell().text());
            if let Some(mapped) = rule.map.get(&key) {
                raw = Raw::Text(mapped.clone());
            }
        }
        Some(raw)
    }

    /// Where field `i` was read from, for messages.
    fn origin(&self, i: usize) -> String {
        let slot = &self.bound.slots[i];
        match slot.columns.first() {
            Some((_, name)) => format!("{} (column {name})", self.name(i)),
            None => self.name(i).to_owned(),
        }
    }

    /// Converts field `i`, recording a problem when its value cannot be read or a required value is missing.
    fn read<T>(
        &mut self,
        i: usize,
        convert: impl FnOnce(Cell<'_>, &Rule) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.raw(i);
        let target = &targets(self.bound.mapping.dataset)[i];
        match (raw, self.rule(i)) {
            (Some(raw), Some(rule)) => match convert(raw.cell(), rule) {
                Ok(v) => Some(v),
                Err(e) => {
                    let origin = self.origin(i);
                    self.problems.push(format!("{origin}: {e}"));
                    None
                }
            },
            _ => {
                if target.required
                    && !derived(
                        self.bound.mapping.dataset,
                        target.name,
                        self.bound.mapping.hierarchy.is_some(),
                    )
                {
                    let origin = self.origin(i);
                    self.problems.push(format!("{origin}: no value"));
                }
                None
            }
        }
    }

    fn text(&mut self, i: usize) -> Option<String> {
        self.read(i, |c, _| Ok(c.text()))
    }

    fn time(&mut self, i: usize) -> Option<DateTime<Utc>> {
        self.read(i, |c, r| c.time(&r.formats, r.zone))
    }

    fn float(&mut self, i: usize) -> Option<f64> {
        self.read(i, |c, r| c.float(r.style))
    }

    fn int<T: TryFrom<i64>>(&mut self, i: usize) -> Option<T> {
        self.read(i, |c, r| {
            let v = c.int(r.style)?;
            T::try_from(v).map_err(|_| format!("{v} is out of range"))
        })
    }

    fn money(&mut self, i: usize) -> Option<Rupiah> {
        self.read(i, |c, r| c.money(r.style))
    }

    fn flag(&mut self, i: usize) -> Option<bool> {
        self.read(i, |c, _| c.flag())
    }

    fn region(&mut self, i: usize) -> Option<RegionCode> {
        self.read(i, |c, _| {
            c.text().parse::<RegionCode>().map_err(|e| e.to_string())
        })
    }

    /// The status, and whether the source said it is not this government's to handle.
    fn status(&mut self, i: usize) -> Option<(Status, bool)> {
        let notes_at: Option<&Locator> = self.bound.slots[i].notes.as_ref();
        let notes: Option<String> = notes_at.and_then(|l| self.record.cell(l)).map(|c| c.text());
        self.read(i, |c, rule| {
            // The field's map has already been applied: `word` is a vocabulary word or, when the
            // map named one, a canonical status.
            let word = c.text();
            if let Some(vocabulary) = rule.vocabulary {
                return match Status::from_source(vocabulary, &word, notes.as_deref()) {
                    Ok(m) => Ok((m.status, m.out_of_jurisdiction)),
                    Err(e) => parse_status(&word).map(|s| (s, false)).ok_or(e.to_string()),
                };
            }
            parse_status(&word).map(|s| (s, false)).ok_or_else(|| {
                format!(
                    "'{}' is not a known status (add it to the field's map)",
                    quote(&word)
                )
            })
        })
    }
}

/// Complaint field positions.
mod c {
    pub const SOURCE_ID: usize = 0;
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

fn complaint<R: Fields + ?Sized>(r: &mut Reader<'_, R>, source: &str) -> Complaint {
    let source_id = r.text(c::SOURCE_ID).unwrap_or_default();
    let category = r.text(c::CATEGORY).unwrap_or_default();
    let opd = r.text(c::OPD).unwrap_or_default();
    let (status, said_ooj) = r.status(c::STATUS).unwrap_or((Status::Received, false));
    let created_at = r.time(c::CREATED_AT).unwrap_or_default();
    let updated_at = r.time(c::UPDATED_AT).unwrap_or(created_at);
    let mut row = Complaint::new(source, &source_id, &category, &opd, created_at);
    row.updated_at = updated_at;
    row.status = status;
    row.subcategory = r.text(c::SUBCATEGORY);
    row.channel = r.text(c::CHANNEL);
    row.out_of_jurisdiction = r.flag(c::OUT_OF_JURISDICTION).unwrap_or(false) || said_ooj;
    row.kecamatan = r.region(c::KECAMATAN);
    row.kelurahan = r.region(c::KELURAHAN);
    row.lat = r.float(c::LAT);
    row.lon = r.float(c::LON);
    // A (0, 0) location is how many exports spell "no location".
    if row.lat == Some(0.0) && row.lon == Some(0.0) {
        row.lat = None;
        row.lon = None;
    }
    row.first_response_at = r.time(c::FIRST_RESPONSE_AT);
    row.resolved_at = r.time(c::RESOLVED_AT);
    row.sla_due_at = r.time(c::SLA_DUE_AT);
    row.rating = r.int(c::RATING);
    row
}

/// Budget field positions.
mod b {
    pub const FISCAL_YEAR: usize = 0;
    pub const VERSION: usize = 1;
    pub const OPD: usize = 2;
    pub const ACCOUNT_CODE: usize = 3;
    pub const PERIOD: usize = 4;
    pub const LEVEL: usize = 5;
    pub const PARENT_CODE: usize = 6;
    pub const ACCOUNT_NAME: usize = 7;
    pub const PAGU: usize = 8;
    pub const ANGGARAN_KAS: usize = 9;
    pub const REALISASI: usize = 10;
    pub const UPDATED_AT: usize = 11;
}

fn budget<R: Fields + ?Sized>(r: &mut Reader<'_, R>, source: &str) -> BudgetLine {
    let version = r
        .read(b::VERSION, |c, _| match normalise(&c.text()).as_str() {
            "murni" | "apbd" | "original" => Ok(BudgetVersion::Murni),
            "perubahan" | "p-apbd" | "papbd" | "revised" => Ok(BudgetVersion::Perubahan),
            other => Err(format!("'{}' is neither murni nor perubahan", quote(other))),
        })
        .unwrap_or(BudgetVersion::Murni);
    BudgetLine {
        source: source.to_owned(),
        fiscal_year: r.int(b::FISCAL_YEAR).unwrap_or_default(),
        version,
        opd: r.text(b::OPD).unwrap_or_default(),
        account_code: r.text(b::ACCOUNT_CODE).unwrap_or_default(),
        period: r.int(b::PERIOD).unwrap_or_default(),
        level: r.int(b::LEVEL).unwrap_or_default(),
        parent_code: r.text(b::PARENT_CODE),
        account_name: r.text(b::ACCOUNT_NAME).unwrap_or_default(),
        pagu: r.money(b::PAGU).unwrap_or_default(),
        anggaran_kas: r.money(b::ANGGARAN_KAS).unwrap_or_default(),
        realisasi: r.money(b::REALISASI).unwrap_or_default(),
        updated_at: r.time(b::UPDATED_AT).unwrap_or_default(),
    }
}

/// Service event field positions.
mod s {
    pub const EVENT_ID: usize = 0;
    pub const SERVICE: usize = 1;
    pub const UNIT: usize = 2;
    pub const REGION: usize = 3;
    pub const REQUESTED_AT: usize = 4;
    pub const COMPLETED_AT: usize = 5;
    pub const SLA_TARGET_MINUTES: usize = 6;
    pub const OUTCOME: usize = 7;
}

fn service<R: Fields + ?Sized>(r: &mut Reader<'_, R>, source: &str) -> ServiceEvent {
    let outcome = r
        .read(s::OUTCOME, |c, _| {
            serde_json::from_value::<ServiceOutcome>(Value::String(normalise(&c.text()))).map_err(
                |_| {
                    format!(
                        "'{}' is not an outcome (pending, completed, cancelled, failed)",
                        quote(&c.text())
                    )
                },
            )
        })
        .unwrap_or(ServiceOutcome::Pending);
    ServiceEvent {
        source: source.to_owned(),
        event_id: r.text(s::EVENT_ID).unwrap_or_default(),
        service: r.text(s::SERVICE).unwrap_or_default(),
        unit: r.text(s::UNIT).unwrap_or_default(),
        region: r.region(s::REGION),
        requested_at: r.time(s::REQUESTED_AT).unwrap_or_default(),
        completed_at: r.time(s::COMPLETED_AT),
        sla_target_minutes: r.int(s::SLA_TARGET_MINUTES).unwrap_or_default(),
        outcome,
    }
}

/// Levels and parents from account-code prefixes, per report (year, version, OPD, period).
/// A code with an empty segment gets no level, so validation refuses it with a reason.
fn code_prefix_hierarchy(lines: Vec<(BudgetLine, Held)>) -> Vec<(BudgetLine, Held)> {
    type Report = (u16, BudgetVersion, String, u8);
    let mut codes: HashMap<Report, HashMap<String, u8>> = HashMap::new();
    let well_formed =
        |code: &str| !code.is_empty() && code.split('.').all(|s| !s.trim().is_empty());
    // Shorter codes first, so a parent's level is known before its children's.
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by_key(|&i| lines[i].0.account_code.split('.').count());
    let mut lines: Vec<Option<(BudgetLine, Held)>> = lines.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(lines.len());
    for i in order {
        let Some((mut line, payload)) = lines[i].take() else {
            continue;
        };
        let code = line.account_code.trim().to_owned();
        if well_formed(&code) {
            let report = (
                line.fiscal_year,
                line.version,
                line.opd.clone(),
                line.period,
            );
            let known = codes.entry(report).or_default();
            let segments: Vec<&str> = code.split('.').collect();
            let parent = (1..segments.len())
                .rev()
                .map(|n| segments[..n].join("."))
                .find(|p| known.contains_key(p));
            line.level = match &parent {
                Some(p) => known[p].saturating_add(1),
                None => 1,
            };
            line.parent_code = parent;
            known.insert(code, line.level);
        } else if !code.is_empty() {
            line.level = 0;
            line.parent_code = None;
            line.account_code = code;
        }
        out.push((line, payload));
    }
    out
}
