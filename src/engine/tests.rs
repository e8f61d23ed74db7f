//! Every measure checked against a plain computation over the same stored rows (decoded one by
//! one, without polars), on real data from `../shared/data` and on hand-made edge cases.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::panel::{evaluate, PanelContext};
use super::query::Frames;
use super::sink::recording::Recording;
use crate::dashboards::{self, Dashboard, Rules};
use crate::domain::{BudgetLine, BudgetVersion, Complaint, Rupiah, Status, DEFAULT_TIME_ZONE};
use crate::store::{Batch, Store, StoreSnapshot};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn board(text: &str) -> Dashboard {
    dashboards::parse(
        text,
        Path::new("test.toml"),
        &Rules::zone(DEFAULT_TIME_ZONE),
    )
    .unwrap_or_else(|e| panic!("{e:#?}"))
}

/// A panel's value, computed on a thread of its own as the engine does on the blocking pool
/// (polars' streaming engine must not run on a tokio worker).
fn value(d: &Dashboard, panel: &str, snap: &StoreSnapshot, now: DateTime<Utc>) -> Value {
    let p = d.panels.iter().find(|p| p.id == panel).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            let frames = Frames::new(snap);
            evaluate(d, p, &frames, &[], &PanelContext::default(), now).unwrap()
        })
        .join()
        .unwrap()
    })
}

/// The current complaints of a snapshot, decoded row by row.
fn current_complaints(snap: &StoreSnapshot) -> Vec<Complaint> {
    let view = snap.complaints();
    let frame = view.frame().unwrap();
    let current = frame
        .column(crate::store::CURRENT)
        .unwrap()
        .bool()
        .unwrap()
        .clone();
    current
        .into_iter()
        .enumerate()
        .filter(|(_, c)| *c == Some(true))
        .map(|(row, _)| {
            let (key, values) = view.row(row as u32).unwrap();
            let id = view
                .key(key)
                .into_iter()
                .find(|(n, _)| *n == "source_id")
                .unwrap()
                .1;
            view.with_decoder(&values, |d| d.complaint(id))
        })
        .collect()
}

fn counts<'a>(items: impl Iterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for i in items {
        *out.entry(i.to_owned()).or_default() += 1;
    }
    out
}

/// Linear-interpolated quantile (the same definition as numpy's default).
fn quantile(mut v: Vec<f64>, q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-3)
}

async fn la_store(dir: &Path) -> Store {
    let store = Store::open(dir, Default::default()).await.unwrap();
    let shared = repo("../shared/data/complaints");
    let files: Vec<PathBuf> = [
        "la311_2017-12_myla311_subset.csv",
        "la311_2018-12_mini.csv",
        "la311_2020-01_requests.csv",
    ]
    .iter()
    .map(|f| shared.join(f))
    .filter(|p| p.exists())
    .collect();
    assert!(
        !files.is_empty(),
        "the LA 311 samples are in ../shared/data/complaints"
    );
    let mapping = crate::ingest::mapping::Mapping::from_file(
        &repo("examples/mappings/la311.toml"),
        DEFAULT_TIME_ZONE,
    )
    .unwrap();
    let db = crate::db::MetaDb::connect(
        &crate::db::DatabaseTarget::Sqlite(dir.join("meta.sqlite")),
        &Default::default(),
    )
    .await
    .unwrap();
    let enricher = crate::ingest::Enricher::new(None);
    let summary = crate::ingest::import::import(
        &store,
        &db,
        &enricher,
        mapping,
        "la311",
        &files,
        &mut |_, _| {},
    )
    .await
    .unwrap();
    assert!(summary.stored > 20_000, "{summary:?}");
    store
}

#[tokio::test]
async fn la_311_panels_match_a_plain_computation_over_the_stored_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = la_store(dir.path()).await;
    let snap = store.snapshot();
    let rows = current_complaints(&snap);
    let d = dashboards::load_file(
        &repo("dashboards/la-311.toml"),
        &Rules::zone(DEFAULT_TIME_ZONE),
    )
    .unwrap();
    let now = Utc::now();

    let total = value(&d, "total", &snap, now);
    assert_eq!(total["value"], json!(rows.len()));
    let categories = counts(rows.iter().map(|c| c.category.as_str()));
    assert_eq!(total["measures"]["categories"], json!(categories.len()));

    // Status funnel: every lifecycle state, counts as stored.
    let status = value(&d, "status", &snap, now);
    let words: Vec<String> = rows
        .iter()
        .map(|c| {
            serde_json::to_value(c.status)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let by_status = counts(words.iter().map(String::as_str));
    for (word, stage) in status["stages"].as_object().unwrap() {
        assert_eq!(
            stage["n"],
            json!(by_status.get(word).copied().unwrap_or(0)),
            "{word}"
        );
    }

    // Categories: top 10 by count, the rest in `other`, shares of the whole.
    let cat = value(&d, "category", &snap, now);
    let mut ranked: Vec<(&String, &u64)> = categories.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (name, n) in ranked.iter().take(10) {
        let g = &cat["groups"][name.as_str()];
        assert_eq!(g["measures"]["n"], json!(n), "{name}");
        assert!(close(
            &g["measures"]["share"],
            **n as f64 / rows.len() as f64 * 100.0
        ));
        let hours: Vec<f64> = rows
            .iter()
            .filter(|c| &c.category == *name)
            .filter_map(|c| {
                c.resolved_at
                    .map(|r| (r - c.created_at).num_seconds() as f64 / 3600.0)
            })
            .collect();
        match quantile(hours, 0.5) {
            Some(m) => assert!(
                close(&g["measures"]["median_close_hours"], m),
                "{name}: {g}"
            ),
            None => assert!(g["measures"]["median_close_hours"].is_null()),
        }
    }
    let rest: u64 = ranked.iter().skip(10).map(|(_, n)| **n).sum();
    assert_eq!(cat["other"]["measures"]["n"], json!(rest));
    assert_eq!(cat["total"]["rows"], json!(rows.len()));

    // Agencies with median and p90 hours to close.
    let agency = value(&d, "agency", &snap, now);
    for (opd, n) in counts(rows.iter().map(|c| c.opd.as_str())) {
        let g = &agency["groups"][opd.as_str()];
        assert_eq!(g["measures"]["n"], json!(n), "{opd}");
        let hours: Vec<f64> = rows
            .iter()
            .filter(|c| c.opd == opd)
            .filter_map(|c| {
                c.resolved_at
                    .map(|r| (r - c.created_at).num_seconds() as f64 / 3600.0)
            })
            .collect();
        if let Some(p90) = quantile(hours, 0.9) {
            assert!(close(&g["measures"]["p90_close_hours"], p90), "{opd}: {g}");
        }
    }

    // Overall close time.
    let hours: Vec<f64> = rows
        .iter()
        .filter_map(|c| {
            c.resolved_at
                .map(|r| (r - c.created_at).num_seconds() as f64 / 3600.0)
        })
        .collect();
    let close_time = value(&d, "close-time", &snap, now);
    assert!(close(
        &close_time["value"],
        quantile(hours.clone(), 0.5).unwrap()
    ));
    let mean = hours.iter().sum::<f64>() / hours.len() as f64;
    assert!(close(&close_time["measures"]["avg"], mean));

    // Requests per local (Pacific) day and month, daylight saving included.
    let la = chrono_tz::America::Los_Angeles;
    let per_day = value(&d, "per-day", &snap, now);
    let by_day = counts(
        rows.iter()
            .map(|c| {
                c.created_at
                    .with_timezone(&la)
                    .format("%Y-%m-%d")
                    .to_string()
            })
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    );
    let points = per_day["points"].as_object().unwrap();
    assert_eq!(points.len(), by_day.len());
    for (bucket, p) in points {
        assert_eq!(p["n"], json!(by_day[&bucket[..10]]), "{bucket}");
        // Local midnight, with the offset of that day (-08:00 or -07:00).
        assert!(
            bucket.ends_with("T00:00:00-08:00") || bucket.ends_with("T00:00:00-07:00"),
            "{bucket}"
        );
    }
    // The ten oldest open requests, oldest first (times in Pacific time).
    let table = value(&d, "longest-open", &snap, now);
    let mut open: Vec<DateTime<Utc>> = rows
        .iter()
        .filter(|c| !c.status.is_closed())
        .map(|c| c.created_at)
        .collect();
    open.sort();
    let shown: Vec<String> = table["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            table["rows"][k.as_str().unwrap()]["created_at"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let expected: Vec<String> = open
        .iter()
        .take(10)
        .map(|t| crate::domain::format_local(*t, la))
        .collect();
    assert_eq!(shown, expected);
    let per_month = value(&d, "per-month", &snap, now);
    let months: u64 = per_month["points"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p["n"].as_u64().unwrap())
        .sum();
    assert_eq!(months, rows.len() as u64);
}

#[tokio::test]
async fn panels_after_a_restart_from_a_checkpoint_equal_those_before() {
    let dir = tempfile::tempdir().unwrap();
    let shipped: Vec<Dashboard> = std::fs::read_dir(repo("dashboards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| dashboards::load_file(&p, &Rules::zone(DEFAULT_TIME_ZONE)).unwrap())
        .collect();
    assert!(shipped.len() >= 5);
    let now = Utc::now();
    let all = |snap: &StoreSnapshot| -> Vec<(String, Value)> {
        shipped
            .iter()
            .flat_map(|d| {
                d.panels
                    .iter()
                    .map(|p| (format!("{}/{}", d.id, p.id), value(d, &p.id, snap, now)))
            })
            .collect()
    };
    let before = {
        let store = la_store(dir.path()).await;
        store.checkpoint().await.unwrap();
        all(&store.snapshot())
    };
    // The import's checkpoint is what a restarted server loads; every panel of every shipped
    // dashboard computes over the imported chunks (KPIs there once hit a polars panic, see
    // `query::plan`) and computes the same after the restart.
    let store = Store::open(dir.path(), Default::default()).await.unwrap();
    for ((panel, expected), (_, after)) in before.iter().zip(all(&store.snapshot())) {
        assert_eq!(&after, expected, "{panel}");
    }
}

fn complaint(id: &str, created: DateTime<Utc>) -> Complaint {
    Complaint::sample(id, "Sampah", created)
}

#[tokio::test]
async fn local_days_split_at_midnight_wib_and_wita() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Default::default()).await.unwrap();
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    // 23:59:59 and 00:00:00 WIB on 22/23 November; 00:00 WIB is 01:00 WITA.
    store
        .append_complaints(vec![
            complaint("a", t("2026-11-22T16:59:59Z")),
            complaint("b", t("2026-11-22T17:00:00Z")),
            complaint("c", t("2026-11-22T15:59:59Z")),
        ])
        .await
        .unwrap();
    let snap = store.snapshot();
    let body = |zone: &str| {
        format!(
            r#"title = {{ id = "t", en = "t" }}
audience = "board"
time_zone = "{zone}"
[[panels]]
id = "days"
kind = "timeseries"
title = {{ id = "t", en = "t" }}
query.dataset = "complaints"
query.bucket = {{ field = "created_at", size = "day" }}
query.measures = [{{ id = "n", fn = "count" }}]
[[panels]]
id = "today"
kind = "kpi"
title = {{ id = "t", en = "t" }}
query.dataset = "complaints"
query.filter = [{{ field = "created_at", window = "today" }}]
query.measures = [{{ id = "n", fn = "count" }}]
"#
        )
    };
    let now = t("2026-11-22T20:00:00Z"); // 03:00 WIB / 04:00 WITA on the 23rd
    let zones = [
        (
            "Asia/Jakarta",
            json!({"2026-11-22T00:00:00+07:00": {"n": 2}, "2026-11-23T00:00:00+07:00": {"n": 1}}),
            1,
        ),
        (
            "Asia/Makassar",
            json!({"2026-11-22T00:00:00+08:00": {"n": 1}, "2026-11-23T00:00:00+08:00": {"n": 2}}),
            2,
        ),
    ];
    for (zone, days, today) in zones {
        let d = board(&body(zone));
        assert_eq!(value(&d, "days", &snap, now)["points"], days, "{zone}");
        assert_eq!(value(&d, "today", &snap, now)["value"], today, "{zone}");
    }
}

#[tokio::test]
async fn sla_measures_follow_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Default::default()).await.unwrap();
    let now = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .unwrap()
        .to_utc();
    let h = Duration::hours;
    let with = |id: &str, due: i64, status: Status, resolved: Option<i64>| {
        let mut c = complaint(id, now - h(48));
        c.sla_due_at = Some(now + h(due));
        c.status = status;
        c.resolved_at = resolved.map(|r| now + h(r));
        c.first_response_at = Some(now - h(48) + h(due.abs() + 1));
        c.updated_at = now - h(1);
        c
    };
    store
        .append_complaints(vec![
            with("late", -2, Status::InProgress, None),    // breached
            with("soon", 3, Status::Assigned, None),       // at risk within 4h
            with("later", 30, Status::Received, None),     // neither
            with("ontime", 1, Status::Resolved, Some(-5)), // closed before due
            with("overdue", -10, Status::Resolved, Some(-1)), // closed after due
        ])
        .await
        .unwrap();
    let d = board(
        r#"title = { id = "t", en = "t" }
audience = "board"
[[panels]]
id = "sla"
kind = "kpi"
title = { id = "t", en = "t" }
query.dataset = "complaints"
query.measures = [
  { id = "breached", fn = "sla_breached" },
  { id = "at_risk", fn = "sla_at_risk", within = "4h" },
  { id = "within", fn = "sla_within_pct" },
  { id = "open", fn = "count" },
]
query.filter = [{ field = "is_open", equals = true }]
[[panels]]
id = "closed"
kind = "kpi"
title = { id = "t", en = "t" }
query.dataset = "complaints"
query.measures = [{ id = "within", fn = "sla_within_pct" }, { id = "ttfr", fn = "time_to_first_response" }]
"#,
    );
    let snap = store.snapshot();
    let v = value(&d, "sla", &snap, now);
    assert_eq!(v["measures"]["breached"], 1);
    assert_eq!(v["measures"]["at_risk"], 1);
    assert_eq!(v["measures"]["open"], 3);
    let closed = value(&d, "closed", &snap, now);
    assert_eq!(closed["value"], 50.0);
    // First responses after 3, 4, 31, 2 and 11 hours: median 4.
    assert_eq!(closed["measures"]["ttfr"], 4.0);
    // Four hours later, with no new data: "soon" is breached, "later" not yet at risk.
    let v = value(&d, "sla", &snap, now + h(4));
    assert_eq!(v["measures"]["breached"], 2);
    assert_eq!(v["measures"]["at_risk"], 0);
    let v = value(&d, "sla", &snap, now + h(27));
    assert_eq!(v["measures"]["at_risk"], 1);
}

fn line(
    opd: &str,
    code: &str,
    level: u8,
    period: u8,
    pagu: i64,
    kas: i64,
    real: i64,
) -> BudgetLine {
    BudgetLine {
        source: "apbd".into(),
        fiscal_year: 2026,
        version: BudgetVersion::Murni,
        opd: opd.into(),
        account_code: code.into(),
        period,
        level,
        parent_code: (level > 1).then(|| format!("{opd}.5")),
        account_name: code.into(),
        pagu: Rupiah::from_rupiah(pagu).unwrap(),
        anggaran_kas: Rupiah::from_rupiah(kas).unwrap(),
        realisasi: Rupiah::from_rupiah(real).unwrap(),
        updated_at: DateTime::from_timestamp(1_790_000_000 + i64::from(period), 0).unwrap(),
    }
}

#[tokio::test]
async fn budget_sums_take_one_level_and_the_latest_period_of_each_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Default::default()).await.unwrap();
    let rows = vec![
        // Dinkes: two children summing to the parent, reported for May and (cumulative) June.
        line("1.02", "1.02.5", 1, 5, 1_000, 400, 300),
        line("1.02", "1.02.5.1", 2, 5, 600, 250, 200),
        line("1.02", "1.02.5.2", 2, 5, 400, 150, 100),
        line("1.02", "1.02.5", 1, 6, 1_000, 500, 450),
        line("1.02", "1.02.5.1", 2, 6, 600, 300, 300),
        line("1.02", "1.02.5.2", 2, 6, 400, 200, 150),
        // Disdik reported only to May.
        line("1.01", "1.01.5", 1, 5, 3_000, 1_000, 1_500),
        line("1.01", "1.01.5.1", 2, 5, 3_000, 1_000, 1_500),
    ];
    store.append(Batch::BudgetLines(rows)).await.unwrap();
    let d = board(
        r#"title = { id = "t", en = "t" }
audience = "board"
[[panels]]
id = "opd"
kind = "progress"
title = { id = "t", en = "t" }
thresholds = { green = 0, amber = -5, measure = "deviation" }
query.dataset = "budget_lines"
query.filter = [{ field = "level", equals = 1 }]
query.group_by = ["opd"]
query.measures = [
  { id = "serapan", fn = "serapan" },
  { id = "plan", fn = "plan_pct" },
  { id = "deviation", fn = "deviation" },
  { id = "realisasi", fn = "sum", of = "realisasi" },
]
[[panels]]
id = "children"
kind = "kpi"
title = { id = "t", en = "t" }
query.dataset = "budget_lines"
query.filter = [{ field = "level", equals = 2 }]
query.measures = [{ id = "realisasi", fn = "sum", of = "realisasi" }, { id = "serapan", fn = "serapan" }]
[[panels]]
id = "may"
kind = "kpi"
title = { id = "t", en = "t" }
query.dataset = "budget_lines"
query.filter = [{ field = "level", equals = 1 }, { field = "period", max = 6 }]
query.measures = [{ id = "realisasi", fn = "sum", of = "realisasi" }]
"#,
    );
    let snap = store.snapshot();
    let now = Utc::now();
    let opd = value(&d, "opd", &snap, now);
    let dinkes = &opd["groups"]["1.02"];
    assert_eq!(dinkes["measures"]["serapan"], 45.0);
    assert_eq!(dinkes["measures"]["plan"], 50.0);
    assert_eq!(dinkes["measures"]["deviation"], -5.0);
    assert_eq!(dinkes["measures"]["realisasi"], "450.00");
    assert_eq!(dinkes["status"], "amber");
    assert_eq!(opd["groups"]["1.01"]["measures"]["serapan"], 50.0);
    // Total: June's Dinkes plus May's Disdik, exact Rupiah, no level counted twice.
    assert_eq!(opd["total"]["measures"]["realisasi"], "1950.00");
    let children = value(&d, "children", &snap, now);
    assert_eq!(children["measures"]["realisasi"], "1950.00");
    assert_eq!(children["measures"]["serapan"], 48.75);
    // Up to May only.
    assert_eq!(value(&d, "may", &snap, now)["value"], "1800.00");
}

#[tokio::test]
async fn a_kpi_compares_with_its_value_as_of_a_day_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Default::default()).await.unwrap();
    let now = Utc::now();
    let mut old = complaint("1", now - Duration::days(3));
    old.updated_at = now - Duration::days(3);
    let mut fresh = complaint("2", now - Duration::hours(2));
    fresh.updated_at = now - Duration::hours(2);
    store
        .append_complaints(vec![old.clone(), fresh])
        .await
        .unwrap();
    // Complaint 1 was resolved an hour ago: open yesterday, closed now.
    let mut resolved = old;
    resolved.status = Status::Resolved;
    resolved.resolved_at = Some(now - Duration::hours(1));
    resolved.updated_at = now - Duration::hours(1);
    store.append_complaints(vec![resolved]).await.unwrap();
    let d = board(
        r#"title = { id = "t", en = "t" }
audience = "board"
[[panels]]
id = "open"
kind = "kpi"
title = { id = "t", en = "t" }
compare = "1d"
thresholds = { green = 0, amber = 5, better = "lower" }
query.dataset = "complaints"
query.filter = [{ field = "is_open", equals = true }]
query.measures = [{ id = "open", fn = "count" }]
"#,
    );
    let v = value(&d, "open", &store.snapshot(), now);
    assert_eq!(v["value"], 1);
    assert_eq!(v["previous"], 1);
    assert_eq!(v["change"], 0.0);
    assert_eq!(v["status"], "amber");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_window_rolls_with_the_clock_alone_and_a_commit_moves_its_panels() {
    use crate::dashboards::topic;
    let dir = tempfile::tempdir().unwrap();
    let boards = tempfile::tempdir().unwrap();
    std::fs::write(
        boards.path().join("roll.toml"),
        r#"title = { id = "t", en = "t" }
audience = "board"
[[panels]]
id = "recent"
kind = "kpi"
title = { id = "t", en = "t" }
query.dataset = "complaints"
query.filter = [{ field = "created_at", window = "last 2s" }]
query.measures = [{ id = "n", fn = "count" }]
[[panels]]
id = "all"
kind = "kpi"
title = { id = "t", en = "t" }
query.dataset = "complaints"
query.measures = [{ id = "n", fn = "count" }]
"#,
    )
    .unwrap();
    let store = Store::open(dir.path(), Default::default()).await.unwrap();
    store
        .append_complaints(vec![complaint("1", Utc::now())])
        .await
        .unwrap();
    let hub = Arc::new(Recording::default());
    let board = runner(boards.path(), &hub, std::time::Duration::from_millis(200));
    let value = |panel: &str| hub.get(&topic("roll", panel)).unwrap()["value"].clone();
    let computed = board.publish_all(store.snapshot()).await;
    assert_eq!(value("recent"), 1);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(board.run(store.clone(), computed, shutdown.clone()));

    // No data arrives; the window rolls past the complaint.
    let waited = std::time::Instant::now();
    while value("recent") != 0 {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(10),
            "the window never rolled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // A commit moves the panels of its dataset.
    store
        .append_complaints(vec![complaint("2", Utc::now())])
        .await
        .unwrap();
    while value("all") != 2 {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(10),
            "the commit was not seen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    running.await.unwrap();
}

/// Complaints as a live source sends them: new ones over 30 hours from `start`, and newer
/// versions of earlier ones (status changes, resolutions, ratings); seeded, so repeatable.
struct Churn {
    start: DateTime<Utc>,
    seed: u64,
    filed: u64,
}

impl Churn {
    fn new(start: DateTime<Utc>) -> Self {
        Churn {
            start,
            seed: 7,
            filed: 0,
        }
    }

    fn rand(&mut self, n: u64) -> u64 {
        self.seed = self
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.seed >> 33) % n
    }

    /// Round `round`'s batch: 40 new complaints and 15 newer versions.
    fn batch(&mut self, round: i64) -> Vec<Complaint> {
        const CATEGORIES: [&str; 3] = ["Sampah", "Jalan Rusak", "Banjir"];
        const OPDS: [&str; 2] = ["DLH", "PUPR"];
        const STATUSES: [Status; 4] = [
            Status::Received,
            Status::InProgress,
            Status::Resolved,
            Status::Rejected,
        ];
        let mut batch = Vec::new();
        for _ in 0..40 {
            let created = self.start + Duration::minutes(self.rand(30 * 60) as i64);
            let (category, opd) = (self.rand(3) as usize, self.rand(2) as usize);
            let id = format!("T-{}", self.filed);
            let mut c = Complaint::new("t", &id, CATEGORIES[category], OPDS[opd], created);
            c.sla_due_at = Some(created + Duration::hours(self.rand(48) as i64));
            self.filed += 1;
            batch.push(c);
        }
        for _ in 0..15 {
            let id = self.rand(self.filed);
            let created = self.start + Duration::minutes((id * 37 % 1800) as i64);
            let (category, opd) = (CATEGORIES[(id % 3) as usize], OPDS[(id % 2) as usize]);
            let mut c = Complaint::new("t", &format!("T-{id}"), category, opd, created);
            c.status = STATUSES[self.rand(4) as usize];
            c.updated_at = created + Duration::minutes(60 * 24 + round * 10 + self.rand(9) as i64);
            if matches!(c.status, Status::Resolved | Status::Rejected) {
                c.resolved_at = Some(created + Duration::minutes(self.rand(3000) as i64));
                c.rating = Some(1 + self.rand(5) as u8);
            }
            c.sla_due_at = Some(created + Duration::hours(24));
            batch.push(c);
        }
        batch
    }
}

/// Decomposable panels of every shape: counts by labels, sums and averages of derived hours,
/// SLA counters, shares, rates over a window, buckets, filters on labels, numbers and times.
const TRACKED: &str = r#"
title = { id = "Uji", en = "Test" }
audience = "board"

[[panels]]
id = "open"
kind = "kpi"
title = { id = "a", en = "a" }
query.dataset = "complaints"
query.filter = [{ field = "is_open", equals = true }]
query.measures = [{ id = "n", fn = "count" }, { id = "late", fn = "sla_breached" }, { id = "soon", fn = "sla_at_risk", within = "6h" }]

[[panels]]
id = "per-opd"
kind = "breakdown"
title = { id = "b", en = "b" }
query.dataset = "complaints"
query.group_by = ["opd", "status"]
query.measures = [{ id = "n", fn = "count" }, { id = "share", fn = "share" }, { id = "within", fn = "sla_within_pct" }, { id = "hours", fn = "avg", of = "resolve_hours" }, { id = "sum", fn = "sum", of = "resolve_hours" }]

[[panels]]
id = "per-hour"
kind = "timeseries"
title = { id = "c", en = "c" }
query.dataset = "complaints"
query.filter = [{ field = "created_at", window = "last 24h" }, { field = "category", in = ["Sampah", "Jalan Rusak"] }]
query.bucket = { field = "created_at", size = "hour" }
query.measures = [{ id = "n", fn = "count" }, { id = "rate", fn = "rate_per_hour" }]

[[panels]]
id = "rated"
kind = "funnel"
title = { id = "d", en = "d" }
query.dataset = "complaints"
query.filter = [{ field = "rating", min = 2 }]
query.group_by = ["status"]
query.measures = [{ id = "n", fn = "count" }, { id = "stars", fn = "sum", of = "rating" }]
"#;

#[tokio::test]
async fn incremental_sums_follow_commits_exactly_as_a_full_computation() {
    use super::incremental::Tracked;
    use super::query::{groups, Moment};
    let d = board(TRACKED);
    assert!(d.panels.iter().all(super::panel::incremental));
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), Default::default()).await.unwrap();
    let start = DateTime::parse_from_rfc3339("2026-11-20T00:00:00Z")
        .unwrap()
        .to_utc();
    let now = start + Duration::hours(30);
    let at = Moment {
        now,
        as_of: false,
        tz: DEFAULT_TIME_ZONE,
        fiscal_start: 1,
    };
    let mut churn = Churn::new(start);
    let mut tracked: Vec<Option<Tracked>> = vec![None; d.panels.len()];
    let mut followed = 0;
    for round in 0..25 {
        if round == 15 {
            // A restart renumbers rows: the sums are rebuilt from every row, then followed again.
            store.checkpoint().await.unwrap();
            drop(store);
            store = Store::open(dir.path(), Default::default()).await.unwrap();
        }
        let batch = churn.batch(round);
        store.append(Batch::Complaints(batch)).await.unwrap();
        let snap = store.snapshot();
        let (snap, d2) = (snap.clone(), d.clone());
        let checked = std::thread::spawn(move || {
            let frames = Frames::new(&snap);
            let mut out = Vec::new();
            let mut by_deltas = 0;
            for (i, p) in d2.panels.iter().enumerate() {
                let q = p.query.as_ref().unwrap();
                let t = match tracked[i].take() {
                    Some(mut t) => match t.forward(q, &frames, snap.seq, &at) {
                        Some(applied) => {
                            applied.unwrap();
                            by_deltas += 1;
                            t
                        }
                        None => Tracked::full(q, &frames, snap.seq, &at, None).unwrap(),
                    },
                    None => Tracked::full(q, &frames, snap.seq, &at, None).unwrap(),
                };
                let mut inc = t.groups(q, &frames, &at);
                let mut full = groups(q, &frames, &at).unwrap();
                inc.sort_by(|a, b| a.keys.cmp(&b.keys));
                full.sort_by(|a, b| a.keys.cmp(&b.keys));
                out.push((p.id.clone(), inc, full));
                tracked[i] = Some(t);
            }
            (out, tracked, by_deltas)
        })
        .join()
        .unwrap();
        tracked = checked.1;
        followed += checked.2;
        for (panel, inc, full) in checked.0 {
            assert_eq!(inc.len(), full.len(), "round {round}, {panel}: groups");
            for (a, b) in inc.iter().zip(&full) {
                assert_eq!(
                    (&a.keys, a.rows),
                    (&b.keys, b.rows),
                    "round {round}, {panel}"
                );
                for (x, y) in a.values.iter().zip(&b.values) {
                    match (x.as_f64(), y.as_f64()) {
                        (Some(x), Some(y)) => {
                            assert!((x - y).abs() < 1e-3, "round {round}, {panel}: {x} vs {y}")
                        }
                        _ => assert_eq!(x, y, "round {round}, {panel}"),
                    }
                }
            }
        }
    }
    // Every round but the first and the one after the restart followed the deltas.
    assert_eq!(followed, 23 * d.panels.len());
}

/// Panels that do not move with the clock: tracked ones (counts, sums, averages by labels) and
/// ones that need every row (a median, a table).
const LANES: &str = r#"
title = { id = "Uji", en = "Test" }
audience = "board"

[[panels]]
id = "per-opd"
kind = "breakdown"
title = { id = "b", en = "b" }
query.dataset = "complaints"
query.group_by = ["opd", "status"]
query.measures = [{ id = "n", fn = "count" }, { id = "share", fn = "share" }, { id = "hours", fn = "avg", of = "resolve_hours" }]

[[panels]]
id = "rated"
kind = "funnel"
title = { id = "d", en = "d" }
query.dataset = "complaints"
query.filter = [{ field = "rating", min = 2 }]
query.group_by = ["status"]
query.measures = [{ id = "n", fn = "count" }, { id = "stars", fn = "sum", of = "rating" }]

[[panels]]
id = "median"
kind = "breakdown"
title = { id = "m", en = "m" }
query.dataset = "complaints"
query.group_by = ["category"]
query.measures = [{ id = "hours", fn = "median", of = "resolve_hours" }]

[[panels]]
id = "newest"
kind = "table"
title = { id = "t", en = "t" }
top = 5
sort = "-created_at"
columns = ["created_at", "category", "opd", "status"]
query.dataset = "complaints"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_lanes_leave_every_panel_equal_to_a_full_computation_after_a_stream_of_commits() {
    use crate::dashboards::topic;
    let dir = tempfile::tempdir().unwrap();
    let boards = tempfile::tempdir().unwrap();
    std::fs::write(boards.path().join("lanes.toml"), LANES).unwrap();
    let d = board(LANES);
    let (tracked, untracked): (Vec<_>, Vec<_>) =
        d.panels.iter().partition(|p| super::panel::incremental(p));
    assert_eq!((tracked.len(), untracked.len()), (2, 2));
    let store = Store::open(dir.path(), Default::default()).await.unwrap();
    let start = DateTime::parse_from_rfc3339("2026-11-20T00:00:00Z")
        .unwrap()
        .to_utc();
    let mut churn = Churn::new(start);
    store
        .append(Batch::Complaints(churn.batch(0)))
        .await
        .unwrap();
    let hub = Arc::new(Recording::default());
    // No clock tick during the test: tracked panels move by the fast lane alone.
    let board_runner = runner(boards.path(), &hub, std::time::Duration::from_secs(3600));
    let computed = board_runner.publish_all(store.snapshot()).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(board_runner.run(store.clone(), computed, shutdown.clone()));
    // Commits arrive while passes run: some are gathered into one pass, some land mid-pass.
    for round in 1..40 {
        store
            .append(Batch::Complaints(churn.batch(round)))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis((round % 4 * 7) as u64)).await;
    }
    let snap = store.snapshot();
    let now = Utc::now();
    let expected: Vec<(String, Value)> = d
        .panels
        .iter()
        .map(|p| (p.id.clone(), value(&d, &p.id, &snap, now)))
        .collect();
    let waited = std::time::Instant::now();
    loop {
        let differing: Vec<&str> = expected
            .iter()
            .filter(|(id, v)| hub.get(&topic("lanes", id)).is_none_or(|s| s != *v))
            .map(|(id, _)| id.as_str())
            .collect();
        if differing.is_empty() {
            break;
        }
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(20),
            "panels {differing:?} never reached the full computation's value"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    running.await.unwrap();
}

/// The dashboard runner over the files in `dir`, publishing to `sink`, its clock ticking every
/// `clock`.
fn runner(
    dir: &std::path::Path,
    sink: &Arc<Recording>,
    clock: std::time::Duration,
) -> super::board::Board {
    super::board::Board {
        catalog: dashboards::Catalog::open(dir, Rules::zone(DEFAULT_TIME_ZONE)),
        sink: sink.clone(),
        health: Default::default(),
        context: Default::default(),
        clock,
        coalesce: std::time::Duration::from_millis(5),
    }
}
