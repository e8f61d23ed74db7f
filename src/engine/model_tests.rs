//! The query executor against a naive model: random complaints (new ones and newer versions of
//! earlier ones) appended in batches of random sizes — so the store holds many chunks, some
//! merged, some reloaded from a checkpoint — then random queries (filters, groups, buckets,
//! measures, now or as of a past moment) and tables, each compared with a plain computation
//! over the model's versions.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::panel::{evaluate_at, PanelContext};
use super::query::{groups, Frames, Moment};
use crate::dashboards::result::{Group, Key};
use crate::dashboards::{self, Rules};
use crate::domain::{Complaint, Status, DEFAULT_TIME_ZONE};
use crate::store::schema::STATUS_WORDS;
use crate::store::{Store, StoreOptions};

const CATEGORIES: [&str; 4] = ["Sampah", "Jalan Rusak", "Banjir", "PJU"];
const OPDS: [&str; 3] = ["DLH", "PUPR", "Dishub"];
const KELURAHAN: [&str; 3] = ["35.75.01.1001", "35.75.01.1002", "35.75.02.1001"];
const STATUSES: [Status; 8] = Status::ALL;

/// One version of a complaint in the model, times in minutes after `T0`.
#[derive(Debug, Clone)]
struct Version {
    key: usize,
    category: usize,
    opd: usize,
    status: usize,
    kelurahan: Option<usize>,
    created: i64,
    updated: i64,
    resolved: Option<i64>,
    due: Option<i64>,
    rating: Option<u8>,
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

fn secs(minutes: i64) -> i64 {
    at(minutes).timestamp()
}

impl Version {
    fn complaint(&self) -> Complaint {
        let mut c = Complaint::new(
            "test",
            &format!("c{}", self.key),
            CATEGORIES[self.category],
            OPDS[self.opd],
            at(self.created),
        );
        c.status = STATUSES[self.status];
        c.kelurahan = self.kelurahan.map(|k| KELURAHAN[k].parse().unwrap());
        c.updated_at = at(self.updated);
        c.resolved_at = self.resolved.map(at);
        c.sla_due_at = self.due.map(at);
        c.rating = self.rating;
        c
    }

    fn open(&self) -> bool {
        !matches!(STATUSES[self.status], Status::Resolved | Status::Rejected)
    }
}

/// An operation: a new complaint, or a newer version of an earlier one.
type Op = (bool, usize, [u8; 8]);

fn versions(ops: &[Op]) -> Vec<Version> {
    let mut out: Vec<Version> = Vec::new();
    let mut keys = 0usize;
    for (n, (update, pick, a)) in ops.iter().enumerate() {
        let a = a.map(usize::from);
        let previous = (*update && keys > 0)
            .then(|| {
                let key = pick % keys;
                out.iter().rev().find(|v| v.key == key).cloned()
            })
            .flatten();
        let (key, created, updated) = match previous {
            Some(p) => (p.key, p.created, p.updated + 1 + (a[0] * 97 % 900) as i64),
            None => {
                keys += 1;
                // Filed roughly in ingest order (as real complaints arrive), so chunks hold
                // narrow spans of time that windows can skip or take whole.
                let created = (n as i64 * 25 + (a[0] * 131 + a[1] * 37) as i64 % 180) % (7 * 1440);
                (keys - 1, created, created)
            }
        };
        out.push(Version {
            key,
            category: a[2] % CATEGORIES.len(),
            opd: a[3] % OPDS.len(),
            status: a[4] % STATUSES.len(),
            kelurahan: (a[5] % 4 < 3).then_some(a[5] % 3),
            created,
            updated,
            resolved: (a[6] % 3 == 0).then_some(created + (a[6] * 13) as i64),
            due: (a[7] % 4 != 0).then_some(created + (a[7] * 29 % 4000) as i64),
            rating: (a[1] % 3 == 0).then_some((a[1] % 5 + 1) as u8),
        });
    }
    out
}

/// The version of each key current at `minute` (all versions when `None`), with its row.
fn state(all: &[Version], minute: Option<i64>) -> Vec<(usize, &Version)> {
    let mut last: BTreeMap<usize, (usize, &Version)> = BTreeMap::new();
    for (row, v) in all.iter().enumerate() {
        if minute.is_none_or(|m| v.updated <= m) {
            last.insert(v.key, (row, v));
        }
    }
    last.into_values().collect()
}

/// A random query: filters, grouping and measures as dashboard text, with the same choices.
#[derive(Debug, Clone)]
struct Shape {
    statuses: Option<u8>,
    open: Option<bool>,
    created: Option<(i64, i64)>,
    kelurahan: Option<usize>,
    rating_min: Option<u8>,
    last_3d: bool,
    group: u8,
    bucket: bool,
    measures: u16,
}

const MEASURES: [&str; 11] = [
    r#"{ id = "n", fn = "count" }"#,
    r#"{ id = "stars", fn = "sum", of = "rating" }"#,
    r#"{ id = "avg", fn = "avg", of = "rating" }"#,
    r#"{ id = "first", fn = "min", of = "created_at" }"#,
    r#"{ id = "med", fn = "median", of = "resolve_hours" }"#,
    r#"{ id = "p90", fn = "p90", of = "resolve_hours" }"#,
    r#"{ id = "kinds", fn = "count_distinct", of = "category" }"#,
    r#"{ id = "late", fn = "sla_breached" }"#,
    r#"{ id = "soon", fn = "sla_at_risk", within = "12h" }"#,
    r#"{ id = "ontime", fn = "sla_within_pct" }"#,
    r#"{ id = "share", fn = "share" }"#,
];

const GROUPS: [&str; 4] = ["opd", "status", "kelurahan", "is_open"];

impl Shape {
    fn group_by(&self) -> Vec<&'static str> {
        let max = if self.bucket { 1 } else { 2 };
        (0..GROUPS.len())
            .filter(|i| self.group >> i & 1 == 1)
            .take(max)
            .map(|i| GROUPS[i])
            .collect()
    }

    fn measure_ids(&self) -> Vec<usize> {
        let ids: Vec<usize> = (0..MEASURES.len())
            .filter(|i| self.measures >> i & 1 == 1)
            .collect();
        if ids.is_empty() {
            vec![0]
        } else {
            ids
        }
    }

    fn toml(&self) -> String {
        let mut filters = Vec::new();
        if let Some(set) = self.statuses {
            let words: Vec<String> = (0..8)
                .filter(|i| set >> i & 1 == 1)
                .map(|i| format!("\"{}\"", STATUS_WORDS[i]))
                .collect();
            if !words.is_empty() {
                filters.push(format!(
                    r#"{{ field = "status", in = [{}] }}"#,
                    words.join(", ")
                ));
            }
        }
        if let Some(open) = self.open {
            filters.push(format!(r#"{{ field = "is_open", equals = {open} }}"#));
        }
        if let Some((from, to)) = self.created {
            filters.push(format!(
                r#"{{ field = "created_at", min = "{}", max = "{}" }}"#,
                at(from).to_rfc3339(),
                at(to).to_rfc3339()
            ));
        }
        if let Some(k) = self.kelurahan {
            filters.push(format!(
                r#"{{ field = "kelurahan", equals = "{}" }}"#,
                KELURAHAN[k]
            ));
        }
        if let Some(r) = self.rating_min {
            filters.push(format!(r#"{{ field = "rating", min = {r} }}"#));
        }
        if self.last_3d {
            filters.push(r#"{ field = "created_at", window = "last 3d" }"#.to_owned());
        }
        let groups = self.group_by();
        let kind = if self.bucket {
            "timeseries"
        } else if groups.is_empty() {
            "kpi"
        } else {
            "breakdown"
        };
        let measures: Vec<&str> = self.measure_ids().iter().map(|&i| MEASURES[i]).collect();
        let mut text = format!(
            "title = {{ id = \"t\", en = \"t\" }}\naudience = \"board\"\n[[panels]]\nid = \"p\"\nkind = \"{kind}\"\ntitle = {{ id = \"t\", en = \"t\" }}\nquery.dataset = \"complaints\"\nquery.filter = [{}]\nquery.measures = [{}]\n",
            filters.join(", "),
            measures.join(", ")
        );
        if !groups.is_empty() {
            let quoted: Vec<String> = groups.iter().map(|g| format!("\"{g}\"")).collect();
            text.push_str(&format!("query.group_by = [{}]\n", quoted.join(", ")));
        }
        if self.bucket {
            text.push_str("query.bucket = { field = \"created_at\", size = \"day\" }\n");
        }
        text
    }

    fn passes(&self, v: &Version, now: i64) -> bool {
        self.statuses
            .filter(|set| *set != 0)
            .is_none_or(|set| set >> v.status & 1 == 1)
            && self.open.is_none_or(|o| v.open() == o)
            && self
                .created
                .is_none_or(|(from, to)| v.created >= from && v.created < to)
            && self.kelurahan.is_none_or(|k| v.kelurahan == Some(k))
            && self
                .rating_min
                .is_none_or(|r| v.rating.is_some_and(|x| x >= r))
            && (!self.last_3d || (secs(v.created) >= now - 3 * 86_400 && secs(v.created) < now))
    }

    fn key(&self, v: &Version) -> Vec<String> {
        let mut key: Vec<String> = self
            .group_by()
            .iter()
            .map(|g| match *g {
                "opd" => OPDS[v.opd].to_owned(),
                "status" => STATUS_WORDS[v.status].to_owned(),
                "kelurahan" => v
                    .kelurahan
                    .map_or("-".to_owned(), |k| KELURAHAN[k].to_owned()),
                _ => v.open().to_string(),
            })
            .collect();
        if self.bucket {
            // Days in WIB (UTC+7).
            let local = secs(v.created) + 7 * 3600;
            key.push((local - local.rem_euclid(86_400) - 7 * 3600).to_string());
        }
        key
    }

    /// The model's groups: key → (rows, measure values).
    fn expected(&self, rows: &[&Version], now: i64) -> BTreeMap<Vec<String>, (u64, Vec<Value>)> {
        let mut groups: BTreeMap<Vec<String>, Vec<&Version>> = BTreeMap::new();
        for v in rows.iter().filter(|v| self.passes(v, now)) {
            groups.entry(self.key(v)).or_default().push(v);
        }
        if groups.is_empty() && self.group_by().is_empty() && !self.bucket {
            groups.insert(Vec::new(), Vec::new());
        }
        let total: usize = groups.values().map(Vec::len).sum();
        groups
            .into_iter()
            .map(|(k, vs)| {
                let values = self
                    .measure_ids()
                    .iter()
                    .map(|&m| measure(m, &vs, total, now))
                    .collect();
                (k, (vs.len() as u64, values))
            })
            .collect()
    }
}

fn quantile(mut v: Vec<f64>, q: f64) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    json!(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

fn pct(part: usize, whole: usize) -> Value {
    if whole == 0 {
        Value::Null
    } else {
        json!(part as f64 / whole as f64 * 100.0)
    }
}

fn measure(m: usize, vs: &[&Version], total: usize, now: i64) -> Value {
    let ratings: Vec<f64> = vs.iter().filter_map(|v| v.rating).map(f64::from).collect();
    let hours: Vec<f64> = vs
        .iter()
        .filter_map(|v| v.resolved.map(|r| (r - v.created) as f64 / 60.0))
        .collect();
    let due = |v: &Version| v.due.map(secs);
    match m {
        0 => json!(vs.len()),
        1 => json!(ratings.iter().sum::<f64>()),
        2 if ratings.is_empty() => Value::Null,
        2 => json!(ratings.iter().sum::<f64>() / ratings.len() as f64),
        3 => vs
            .iter()
            .map(|v| v.created)
            .min()
            .map_or(Value::Null, |m| json!(at(m))),
        4 => quantile(hours, 0.5),
        5 => quantile(hours, 0.9),
        6 => {
            let kinds: std::collections::BTreeSet<usize> = vs.iter().map(|v| v.category).collect();
            json!(kinds.len())
        }
        7 => json!(vs
            .iter()
            .filter(|v| v.open() && due(v).is_some_and(|d| d < now))
            .count()),
        8 => json!(vs
            .iter()
            .filter(|v| v.open() && due(v).is_some_and(|d| d >= now && d < now + 12 * 3600))
            .count()),
        9 => {
            let closed: Vec<&&Version> = vs
                .iter()
                .filter(|v| !v.open() && v.resolved.is_some() && v.due.is_some())
                .collect();
            let on_time = closed.iter().filter(|v| v.resolved <= v.due).count();
            pct(on_time, closed.len())
        }
        _ => pct(vs.len(), total),
    }
}

/// Equal as the engine rounds: numbers to 4 decimals, everything else exactly.
fn same(actual: &Value, expected: &Value) -> bool {
    match (actual.as_f64(), expected.as_f64()) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-4 * b.abs().max(1.0),
        _ => actual == expected,
    }
}

/// The groups a query gave, as key → (rows, measures).
fn actual_groups(groups: Vec<Group>) -> BTreeMap<Vec<String>, (u64, Vec<Value>)> {
    groups
        .into_iter()
        .map(|g| {
            let key = g
                .keys
                .iter()
                .map(|k| match k {
                    Key::Text(t) => t.clone(),
                    Key::Time(t) => t.to_string(),
                    Key::Missing => "-".to_owned(),
                })
                .collect();
            (key, (g.rows, g.values))
        })
        .collect()
}

fn run(ops: &[Op], cuts: &[usize], reload: Option<usize>, shapes: &[(Shape, Option<i64>)]) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let all = versions(ops);
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), StoreOptions::default())
            .await
            .unwrap();
        let mut from = 0usize;
        for (b, cut) in cuts.iter().chain([&usize::MAX]).enumerate() {
            let to = from.saturating_add(*cut).min(all.len());
            if to > from {
                let batch = all[from..to].iter().map(Version::complaint).collect();
                store.append_complaints(batch).await.unwrap();
            }
            from = to;
            if reload == Some(b) {
                store.checkpoint().await.unwrap();
                drop(store);
                store = Store::open(dir.path(), StoreOptions::default())
                    .await
                    .unwrap();
            }
        }
        let snap = store.snapshot();
        let now_minute = 8 * 1440;
        for (shape, as_of) in shapes {
            let d = dashboards::parse(
                &shape.toml(),
                Path::new("model.toml"),
                &Rules::zone(DEFAULT_TIME_ZONE),
            )
            .unwrap_or_else(|e| panic!("{e:#?}\n{}", shape.toml()));
            let minute = as_of.unwrap_or(now_minute);
            let (now, current) = (secs(minute), state(&all, as_of.map(|_| minute)));
            let rows: Vec<&Version> = current.iter().map(|(_, v)| *v).collect();
            let query = d.panels[0].query.as_ref().unwrap();
            let moment = Moment {
                now: at(minute),
                as_of: as_of.is_some(),
                tz: DEFAULT_TIME_ZONE,
                fiscal_start: 1,
            };
            let groups = std::thread::scope(|s| {
                s.spawn(|| groups(query, &Frames::new(&snap), &moment).unwrap())
                    .join()
                    .unwrap()
            });
            let expected = shape.expected(&rows, now);
            let context = || format!("{}\nas of {as_of:?}\n{groups:#?}", shape.toml());
            let actual = actual_groups(groups.clone());
            assert_eq!(
                actual.keys().collect::<Vec<_>>(),
                expected.keys().collect::<Vec<_>>(),
                "{}",
                context()
            );
            for (k, (n, vals)) in &expected {
                let (rows, got) = &actual[k];
                assert_eq!(rows, n, "{k:?}\n{}", context());
                for (a, e) in got.iter().zip(vals) {
                    assert!(same(a, e), "{k:?}: {a} != {e}\n{}", context());
                }
            }
        }
        check_tables(&snap, &all, now_minute);
    });
}

/// Table panels: the newest complaints and the earliest deadlines of open ones (ties in row
/// order, rows without a value last), now and as of a past moment.
fn check_tables(snap: &crate::store::StoreSnapshot, all: &[Version], now_minute: i64) {
    let text = r#"title = { id = "t", en = "t" }
audience = "board"
[[panels]]
id = "newest"
kind = "table"
title = { id = "t", en = "t" }
top = 7
sort = "-created_at"
columns = ["created_at", "status"]
query.dataset = "complaints"
[[panels]]
id = "due"
kind = "table"
title = { id = "t", en = "t" }
top = 9
sort = "sla_due_at"
columns = ["sla_due_at", "opd"]
query.dataset = "complaints"
query.filter = [{ field = "is_open", equals = true }]
"#;
    let d = dashboards::parse(
        text,
        Path::new("tables.toml"),
        &Rules::zone(DEFAULT_TIME_ZONE),
    )
    .unwrap();
    for minute in [now_minute, now_minute / 2] {
        let as_of = minute != now_minute;
        let current = state(all, as_of.then_some(minute));
        for (p, top) in [(0usize, 7usize), (1, 9)] {
            let mut rows: Vec<(Option<i64>, usize, usize)> = current
                .iter()
                .filter(|(_, v)| p == 0 || v.open())
                .map(|(row, v)| {
                    let value = if p == 0 { Some(-v.created) } else { v.due };
                    (value, *row, v.key)
                })
                .collect();
            // Ties go in the order keys were first stored.
            rows.sort_by_key(|(v, row, key)| (v.is_none(), *v, *key, *row));
            let expected: Vec<String> = rows
                .iter()
                .take(top)
                .map(|(_, _, k)| format!("test/c{k}"))
                .collect();
            let value = std::thread::scope(|s| {
                s.spawn(|| {
                    let frames = Frames::new(snap);
                    evaluate_at(
                        &d,
                        &d.panels[p],
                        &frames,
                        &[],
                        &PanelContext::default(),
                        at(minute),
                        as_of,
                    )
                    .unwrap()
                })
                .join()
                .unwrap()
            });
            let order: Vec<String> = value["order"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap().to_owned())
                .collect();
            assert_eq!(
                order, expected,
                "table {} as of {minute}: {value:#}",
                d.panels[p].id
            );
        }
    }
}

/// Tables over large chunks filed in time order, as real complaints are (so chunks are ruled out
/// by their ranges once a top is held), some keys updated later, some without a deadline: the
/// same rows as the model, now and as of a past moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_over_large_chunks_filed_in_time_order_agree_with_the_model() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let (rows, span) = (24_000usize, 10 * 1440i64);
    let (mut all, mut latest): (Vec<Version>, Vec<usize>) = (Vec::new(), Vec::new());
    for n in 0..rows {
        let status = rng.random_range(0..STATUSES.len());
        let version = if n > 100 && rng.random_bool(0.2) {
            let key = rng.random_range(0..latest.len());
            let previous = &all[latest[key]];
            Version {
                status,
                updated: previous.updated + rng.random_range(1..600),
                resolved: rng.random_bool(0.5).then_some(previous.created + 90),
                ..previous.clone()
            }
        } else {
            let created = n as i64 * span / rows as i64 + rng.random_range(0..30);
            latest.push(all.len());
            Version {
                key: latest.len() - 1,
                category: rng.random_range(0..CATEGORIES.len()),
                opd: rng.random_range(0..OPDS.len()),
                status,
                kelurahan: Some(rng.random_range(0..KELURAHAN.len())),
                created,
                updated: created,
                resolved: None,
                due: rng
                    .random_bool(0.9)
                    .then(|| created + rng.random_range(60..3 * 1440)),
                rating: None,
            }
        };
        latest[version.key] = all.len();
        all.push(version);
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default())
        .await
        .unwrap();
    let mut from = 0;
    for size in [9_000, 7_000, 5_000, 3_000] {
        let batch = all[from..from + size].iter().map(Version::complaint);
        store.append_complaints(batch.collect()).await.unwrap();
        from += size;
    }
    let snap = store.snapshot();
    assert!(snap.complaints().chunks().len() > 1);
    check_tables(&snap, &all, span + 60);
}

/// Rows without a sort value come last in key order, even when a later chunk holds no value at
/// all (its range unknown, so it is read first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_put_rows_without_a_value_last_in_key_order() {
    let open = STATUSES
        .iter()
        .position(|s| *s == Status::Received)
        .unwrap();
    let all: Vec<Version> = (0..20)
        .map(|n| Version {
            key: n,
            category: 0,
            opd: 0,
            status: open,
            kelurahan: None,
            created: n as i64,
            updated: n as i64,
            resolved: None,
            due: (n == 3).then_some(500),
            rating: None,
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default())
        .await
        .unwrap();
    for batch in all.chunks(10) {
        let batch = batch.iter().map(Version::complaint).collect();
        store.append_complaints(batch).await.unwrap();
    }
    let snap = store.snapshot();
    assert_eq!(snap.complaints().chunks().len(), 2);
    check_tables(&snap, &all, 1440);
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        (
            prop::option::weighted(0.3, any::<u8>()),
            prop::option::weighted(0.3, any::<bool>()),
            prop::option::weighted(0.3, (0i64..5 * 1440, 1i64..4 * 1440)),
            prop::option::weighted(0.2, 0usize..3),
            prop::option::weighted(0.2, 1u8..6),
            prop::bool::weighted(0.2),
        ),
        0u8..16,
        prop::bool::weighted(0.25),
        1u16..(1 << MEASURES.len()),
    )
        .prop_map(
            |(
                (statuses, open, created, kelurahan, rating_min, last_3d),
                group,
                bucket,
                measures,
            )| {
                Shape {
                    statuses,
                    open,
                    created: created.map(|(a, len)| (a, a + len)),
                    kelurahan,
                    rating_min,
                    last_3d,
                    group,
                    bucket,
                    measures,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn queries_agree_with_a_naive_model(
        ops in prop::collection::vec((prop::bool::weighted(0.3), any::<usize>(), any::<[u8; 8]>()), 1..400),
        cuts in prop::collection::vec(1usize..40, 1..60),
        reload in prop::option::weighted(0.3, 0usize..20),
        shapes in prop::collection::vec((shape(), prop::option::weighted(0.3, 1440i64..8 * 1440)), 1..8),
    ) {
        run(&ops, &cuts, reload, &shapes);
    }
}
