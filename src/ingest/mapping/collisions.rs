//! Key collisions: two or more records of one pull that share a key *and* a version stamp but
//! differ. They are not versions of one record (a newer stamp is, and newest wins in the store):
//! they are distinct records whose identifiers collide, so no rule may pick one silently. By
//! default every record of a collision is quarantined with the reason; a mapping may say what its
//! source means instead (`keep = "first" | "last" | "sum"`).
//!
//! Records that repeat another exactly are not collisions: the store keeps one and counts the rest
//! as unchanged.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hash, Hasher};

use chrono::{DateTime, Utc};
// foldhash through hashbrown: every record of every pull is looked up once or twice.
use hashbrown::{DefaultHashBuilder, HashMap};
use serde::{Deserialize, Serialize};

use super::record::Held;
use crate::domain::{BudgetLine, Complaint, ServiceEvent};
use crate::store::Batch;

/// What to do with records of one pull that share a key and a version stamp.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// Quarantine every record of the collision, with the reason (the default: nothing is chosen
    /// silently).
    #[default]
    Quarantine,
    /// Keep the first record in delivery order; the others are merged away and counted.
    First,
    /// Keep the last record in delivery order; the others are merged away and counted.
    Last,
    /// Budget lines only: one line whose pagu, anggaran kas and realisasi are the sums of the
    /// records' (the source splits one line into parts); names and other fields are the first's.
    Sum,
}

impl Keep {
    /// The name as a mapping writes it.
    pub fn name(self) -> &'static str {
        match self {
            Keep::Quarantine => "quarantine",
            Keep::First => "first",
            Keep::Last => "last",
            Keep::Sum => "sum",
        }
    }
}

/// A record with a key and a version stamp.
pub(super) trait Keyed: PartialEq + Clone + Serialize {
    /// The key's parts, as the store orders them, for grouping and for the reason (borrowed
    /// where the key is one field, so grouping a pull allocates nothing per record).
    fn key_text(&self) -> Cow<'_, str>;
    /// The version stamp: a newer one is a new version, an equal one with other values a collision.
    fn stamp(&self) -> DateTime<Utc>;
    /// Every stored value, for telling a collision from an exact repeat across chunks.
    fn fingerprint(&self, h: &mut impl Hasher);
    /// Adds `other`'s amounts to this record's (`keep = "sum"`); false when the kind has none.
    fn add(&mut self, _other: &Self) -> bool {
        false
    }
}

impl Keyed for Complaint {
    fn key_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.source_id)
    }
    fn stamp(&self) -> DateTime<Utc> {
        self.updated_at
    }
    fn fingerprint(&self, h: &mut impl Hasher) {
        (
            &self.source_id,
            &self.category,
            &self.subcategory,
            &self.channel,
        )
            .hash(h);
        (&self.opd, self.status, self.out_of_jurisdiction).hash(h);
        (&self.kecamatan, &self.kelurahan).hash(h);
        (self.lat.map(f64::to_bits), self.lon.map(f64::to_bits)).hash(h);
        (self.created_at, self.updated_at, self.first_response_at).hash(h);
        (self.resolved_at, self.sla_due_at, self.rating).hash(h);
    }
}

impl Keyed for BudgetLine {
    fn key_text(&self) -> Cow<'_, str> {
        Cow::Owned(format!(
            "{}, {}, {}, {}, {}",
            self.fiscal_year,
            self.version.as_str(),
            self.opd,
            self.account_code,
            self.period
        ))
    }
    fn stamp(&self) -> DateTime<Utc> {
        self.updated_at
    }
    fn fingerprint(&self, h: &mut impl Hasher) {
        self.hash(h);
    }
    fn add(&mut self, other: &Self) -> bool {
        let sum = |a: crate::domain::Rupiah, b| a.checked_add(b);
        match (
            sum(self.pagu, other.pagu),
            sum(self.anggaran_kas, other.anggaran_kas),
            sum(self.realisasi, other.realisasi),
        ) {
            (Some(p), Some(k), Some(r)) => {
                (self.pagu, self.anggaran_kas, self.realisasi) = (p, k, r);
                true
            }
            _ => false,
        }
    }
}

impl Keyed for ServiceEvent {
    fn key_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.event_id)
    }
    fn stamp(&self) -> DateTime<Utc> {
        self.updated_at()
    }
    fn fingerprint(&self, h: &mut impl Hasher) {
        self.hash(h);
    }
}

/// What settling one batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Records quarantined because they collide.
    pub quarantined: u64,
    /// Records folded into another by `keep = "first" | "last" | "sum"`.
    pub merged: u64,
}

/// One quarantined record: as delivered when held, else the row's JSON, and the reason.
pub(super) type Out = (Option<Held>, Option<serde_json::Value>, String);

/// Settles the key collisions within `batch`. `held` holds the records as delivered, parallel to
/// the batch (a batch made by a simulator holds none: its rows' JSON stands in). Returns the
/// records to quarantine as (record, reason).
pub(super) fn settle(batch: &mut Batch, held: &mut Vec<Held>, keep: Keep) -> (Settled, Vec<Out>) {
    match batch {
        Batch::Complaints(rows) => settle_rows(rows, held, keep),
        Batch::BudgetLines(rows) => settle_rows(rows, held, keep),
        Batch::ServiceEvents(rows) => settle_rows(rows, held, keep),
    }
}

fn settle_rows<T: Keyed>(
    rows: &mut Vec<T>,
    held: &mut Vec<Held>,
    keep: Keep,
) -> (Settled, Vec<Out>) {
    let mut settled = Settled::default();
    let mut out = Vec::new();
    if rows.len() < 2 {
        return (settled, out);
    }
    let groups = repeated_keys(rows);
    if groups.is_empty() {
        return (settled, out);
    }
    let mut drop = vec![false; rows.len()];
    for members in groups {
        let exact_repeats = members.iter().all(|&i| rows[i] == rows[members[0]]);
        // Exact repeats are one record delivered twice, except where the source splits lines.
        if exact_repeats && keep != Keep::Sum {
            continue;
        }
        let n = members.len() as u64;
        let summed = (keep == Keep::Sum)
            .then(|| {
                let mut sum = rows[members[0]].clone();
                members[1..]
                    .iter()
                    .all(|&i| sum.add(&rows[i]))
                    .then_some(sum)
            })
            .flatten();
        match (keep, summed) {
            (Keep::First | Keep::Last, _) => {
                let kept = if keep == Keep::First {
                    members[0]
                } else {
                    members[members.len() - 1]
                };
                for &i in members.iter().filter(|&&i| i != kept) {
                    drop[i] = true;
                }
                settled.merged += n - 1;
            }
            (Keep::Sum, Some(sum)) => {
                rows[members[0]] = sum;
                for &i in &members[1..] {
                    drop[i] = true;
                }
                settled.merged += n - 1;
            }
            // Quarantine, or a sum that does not fit.
            _ => {
                let text = rows[members[0]].key_text();
                let lines = lines_of(&members, held);
                let why = if keep == Keep::Sum {
                    " (their sum is out of range)"
                } else {
                    ""
                };
                let reason = format!("key collision: {n} records share ({text}){lines}{why}");
                for &i in &members {
                    drop[i] = true;
                    out.push(quarantined(rows, held, i, reason.clone()));
                }
                settled.quarantined += n;
            }
        }
    }
    remove_marked(rows, held, &drop);
    (settled, out)
}

/// Removes the rows marked in `drop`, and their held records when the batch holds them, keeping
/// the rest in delivery order.
fn remove_marked<T>(rows: &mut Vec<T>, held: &mut Vec<Held>, drop: &[bool]) {
    if !drop.iter().any(|d| *d) {
        return;
    }
    let mut marks = drop.iter();
    rows.retain(|_| !marks.next().is_some_and(|d| *d));
    if held.len() == drop.len() {
        let mut marks = drop.iter();
        held.retain(|_| !marks.next().is_some_and(|d| *d));
    }
}

/// The positions of rows that share a key and a stamp with another, grouped, in delivery order.
/// Each row's (key, stamp) is hashed once and the hashes sorted, so only rows whose hashes are
/// equal are compared (a pull of distinct keys costs a hash and a sort, nothing per key).
fn repeated_keys<T: Keyed>(rows: &[T]) -> Vec<Vec<usize>> {
    let hasher = DefaultHashBuilder::default();
    let mut order: Vec<(u64, usize)> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| (hasher.hash_one((&*row.key_text(), row.stamp())), i))
        .collect();
    order.sort_unstable();
    let mut groups = Vec::new();
    for run in order
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|run| run.len() > 1)
    {
        // Equal hashes almost always mean an equal key and stamp; group exactly all the same.
        let mut members: Vec<usize> = run.iter().map(|&(_, i)| i).collect();
        while let Some(&head) = members.first() {
            let same = |i: &usize| {
                rows[*i].stamp() == rows[head].stamp()
                    && rows[*i].key_text() == rows[head].key_text()
            };
            let (group, rest): (Vec<usize>, Vec<usize>) = members.iter().partition(|i| same(i));
            if group.len() > 1 {
                groups.push(group);
            }
            members = rest;
        }
    }
    groups.sort_unstable();
    groups
}

/// ` (lines 85, 88)` when the records came from a CSV file, else nothing.
fn lines_of(members: &[usize], held: &[Held]) -> String {
    let lines: Vec<String> = members
        .iter()
        .filter_map(|&i| held.get(i)?.line())
        .map(|l| l.to_string())
        .collect();
    if lines.len() == members.len() {
        format!(" (lines {})", lines.join(", "))
    } else {
        String::new()
    }
}

fn quarantined<T: Serialize>(rows: &[T], held: &[Held], i: usize, reason: String) -> Out {
    match held.get(i) {
        Some(h) if held.len() == rows.len() => (Some(h.clone()), None, reason),
        _ => (None, serde_json::to_value(&rows[i]).ok(), reason),
    }
}

/// The keys a file has delivered so far, so that a collision between two chunks of one file is
/// found too (a chunk is 50,000 records; a file may hold millions). Keys are remembered as 64-bit
/// hashes with the version stamp and a fingerprint of the values: about 40 bytes per key.
#[derive(Default)]
pub struct FileKeys {
    seen: HashMap<u64, (i64, u64)>,
    hasher: DefaultHashBuilder,
}

impl FileKeys {
    /// Checks the rows of a settled chunk against the earlier chunks of the file and remembers
    /// them. A row that collides with an earlier chunk's row (already stored) is taken out:
    /// quarantined with the reason, or — `keep = "first"` — merged away; `keep = "last"` lets it
    /// through, and the store's newest-arrival rule makes it the current line.
    pub(super) fn check(
        &mut self,
        batch: &mut Batch,
        held: &mut Vec<Held>,
        keep: Keep,
    ) -> (Settled, Vec<Out>) {
        match batch {
            Batch::Complaints(rows) => self.check_rows(rows, held, keep),
            Batch::BudgetLines(rows) => self.check_rows(rows, held, keep),
            Batch::ServiceEvents(rows) => self.check_rows(rows, held, keep),
        }
    }

    fn check_rows<T: Keyed>(
        &mut self,
        rows: &mut Vec<T>,
        held: &mut Vec<Held>,
        keep: Keep,
    ) -> (Settled, Vec<Out>) {
        let mut settled = Settled::default();
        let mut out = Vec::new();
        let mut drop = vec![false; rows.len()];
        for (i, row) in rows.iter().enumerate() {
            let text = row.key_text();
            let key = self.hasher.hash_one(&*text);
            let mut h = self.hasher.build_hasher();
            row.fingerprint(&mut h);
            let print = h.finish();
            let stamp = row.stamp().timestamp_micros();
            match self.seen.get(&key) {
                Some(&(s, p)) if s == stamp && p != print => match keep {
                    Keep::Last => {
                        self.seen.insert(key, (stamp, print));
                    }
                    Keep::First => {
                        drop[i] = true;
                        settled.merged += 1;
                    }
                    Keep::Quarantine | Keep::Sum => {
                        drop[i] = true;
                        settled.quarantined += 1;
                        let why = if keep == Keep::Sum {
                            "cannot be summed with it, it is already stored"
                        } else {
                            "already stored"
                        };
                        let reason = format!(
                            "key collision: shares ({text}) and its version with an earlier record of this file ({why})"
                        );
                        out.push(quarantined(rows, held, i, reason));
                    }
                },
                Some(&(s, _)) if s > stamp => {}
                _ => {
                    self.seen.insert(key, (stamp, print));
                }
            }
        }
        remove_marked(rows, held, &drop);
        (settled, out)
    }
}
