//! Live engine benchmark: complaints arriving at a steady rate (10,000 records/s by default) on
//! top of a history of N complaints, with the dashboard runner of the server keeping the shipped
//! Kota Pasuruan wall current. For every commit it measures how long until every followed panel
//! topic carries a value that includes it: the fast lane's panels, and apart the `newest` table of
//! the slow lane.
//!
//! `cargo bench --bench engine_live -- --history 1000000 --seconds 30` (also `--rate R`,
//! `--batch-ms B`, `--clock-ms C`, `--dashboard FILE`; `RUST_LOG=pantau::engine=debug` logs each lane's passes). Two latencies are reported per commit:
//! - *stamp → topic*: from the commit's `committed_at` (stamped before the batch is encoded,
//!   written and fsynced) to the moment the last followed topic reflected it — what a client
//!   sees as data age;
//! - *announce → topic*: from `append` returning (the new snapshot announced to readers) to the
//!   same moment — the engine's own share.

mod common;

/// The allocator the `pantau` binary uses, so the bench measures what the server does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use pantau::dashboards;
use pantau::dashboards::topic;
use pantau::domain::{Complaint, Status};
use pantau::engine::board::Board;
use pantau::engine::panel::PanelContext;
use pantau::live::Hub;

/// The wall panels followed: the ones a batch of new complaints changes every time — four kept
/// by the fast lane, then the `newest` table, computed from every row by the slow lane (reported
/// on its own line).
const FOLLOWED: [&str; 5] = ["map", "open", "per-opd", "per-kecamatan", "newest"];
/// How many of [`FOLLOWED`] are fast-lane panels.
const FAST: usize = 4;

/// A topic update seen by the follower: which topic, when, and the commit it reflects.
struct Seen {
    topic: usize,
    at: DateTime<Utc>,
    committed_at: DateTime<Utc>,
}

/// A commit made by the feeder: its stamp and when `append` returned.
struct Made {
    committed_at: DateTime<Utc>,
    announced: DateTime<Utc>,
}

/// A new complaint `i` reported now.
fn arriving(i: u64, start: i64, now: DateTime<Utc>) -> Complaint {
    Complaint {
        status: Status::Received,
        created_at: now,
        updated_at: now,
        sla_due_at: Some(now + chrono::Duration::hours(72)),
        resolved_at: None,
        rating: None,
        ..complaint(i, start)
    }
}

/// History complaint `i` resolved now (a newer version of a row already in the store).
fn resolving(i: u64, start: i64, now: DateTime<Utc>) -> Complaint {
    Complaint {
        status: Status::Resolved,
        updated_at: now,
        resolved_at: Some(now),
        rating: Some(4),
        ..complaint(i, start)
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn millis(d: chrono::Duration) -> f64 {
    d.num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        // `RUST_LOG=pantau::engine=debug` shows each lane's passes and their times.
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let history = arg("--history", 1_000_000);
    let seconds = arg("--seconds", 30);
    let rate = arg("--rate", 10_000);
    let batch_ms = arg("--batch-ms", 50).max(1);
    let per_batch = (rate * batch_ms / 1000).max(1);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-engine-live");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("dashboards"))?;
    // `--dashboard FILE`: another version of the wall (same id and panel ids) to compare.
    let dashboard = arg_path(
        "--dashboard",
        root.join("dashboards/kota-pasuruan-wall.toml"),
    );
    std::fs::copy(&dashboard, work.join("dashboards/kota-pasuruan-wall.toml"))?;
    let start = 1_767_200_000; // the history covers 2026
    let store = filled_store(&work.join("store"), history, start).await?;
    let catalog = dashboards::Catalog::open(
        &work.join("dashboards"),
        dashboards::Rules::zone(pantau::domain::DEFAULT_TIME_ZONE),
    );
    if let Some(e) = catalog.errors().first() {
        anyhow::bail!("wall dashboard invalid: {e}");
    }
    let settings = pantau::dashboards::DashboardSettings::default();
    let hub = Hub::new(64);
    // The feeder acts as an ingest worker: each batch is a pull, recorded in the sources' health.
    let health = pantau::domain::SourceHealth::default();
    health.register(
        "lapor",
        "lapor",
        "complaints",
        Duration::from_millis(batch_ms),
    );
    let board = Board {
        catalog,
        sink: std::sync::Arc::new(hub.clone()),
        health: health.clone(),
        context: Arc::new(PanelContext {
            geo: Some(Arc::new(pantau::geo::Catalog::open(
                &root.join("static/geo"),
            ))),
        }),
        clock: Duration::from_millis(arg("--clock-ms", settings.clock_ms)),
        coalesce: Duration::from_millis(settings.coalesce_ms),
    };
    let computed = board.publish_all(store.snapshot()).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let runner = tokio::spawn(board.run(store.clone(), computed, shutdown.clone()));
    println!(
        "engine live bench: wall dashboard over {history} complaints of history, {rate} records/s \
         in {per_batch}-record batches every {batch_ms} ms for {seconds} s \
         (clock {} ms, coalesce {} ms)",
        arg("--clock-ms", settings.clock_ms),
        settings.coalesce_ms
    );

    // The follower: like a WebSocket session, woken by the hub when a followed topic changes.
    let names: Vec<String> = FOLLOWED
        .iter()
        .map(|p| topic("kota-pasuruan-wall", p))
        .collect();
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let follower = {
        let (hub, names, seen, stop) = (hub.clone(), names.clone(), seen.clone(), shutdown.clone());
        tokio::spawn(async move {
            let bell = hub.bell();
            let mut last = vec![0u64; names.len()];
            loop {
                for name in &names {
                    hub.follow(name, &bell);
                }
                for (i, name) in names.iter().enumerate() {
                    let Some(state) = hub.get(name) else { continue };
                    if state.seq != last[i] {
                        last[i] = state.seq;
                        if let Some(committed_at) = state.committed_at {
                            let at = Utc::now();
                            let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                            seen.push(Seen {
                                topic: i,
                                at,
                                committed_at,
                            });
                        }
                    }
                }
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = bell.notified() => {}
                }
            }
        })
    };

    // The feeder: four in five records are new complaints, one in five resolves an older one;
    // after each commit the pull's success goes to the sources' health, as an ingest worker does.
    let mut made = Vec::new();
    let mut ticks = tokio::time::interval(Duration::from_millis(batch_ms));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let batches = seconds * 1000 / batch_ms;
    let (mut next_new, mut next_old) = (history, 0u64);
    let began = std::time::Instant::now();
    for _ in 0..batches {
        ticks.tick().await;
        let now = Utc::now();
        let batch: Vec<Complaint> = (0..per_batch)
            .map(|k| {
                if k % 5 == 4 && history > 0 {
                    next_old = (next_old + 7_919) % history;
                    resolving(next_old, start, now)
                } else {
                    next_new += 1;
                    arriving(next_new, start, now)
                }
            })
            .collect();
        let commit = store.append_complaints(batch).await?;
        let announced = Utc::now();
        health.succeeded("lapor", per_batch, 0, Some(now));
        made.push(Made {
            committed_at: commit.committed_at,
            announced,
        });
    }
    let fed = began.elapsed();
    // Let the last commits through.
    tokio::time::sleep(Duration::from_secs(2)).await;
    shutdown.cancel();
    let _ = follower.await;
    let _ = runner.await;

    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|p| p.into_inner()));
    // Per commit: the first moment each followed topic carried it (or a later commit); the
    // commit is on the wall when the last of them did.
    let warmup = made.len() / 10;
    // Latencies (from the stamp, from the announcement) until every topic of `topics` carried
    // each commit, sorted, and how many commits never reached them.
    let latencies = |topics: std::ops::Range<usize>| {
        let (mut stamp, mut announce, mut missing) = (Vec::new(), Vec::new(), 0);
        for m in &made[warmup..] {
            let reached: Option<Vec<DateTime<Utc>>> = topics
                .clone()
                .map(|t| {
                    seen.iter()
                        .filter(|s| s.topic == t && s.committed_at >= m.committed_at)
                        .map(|s| s.at)
                        .min()
                })
                .collect();
            match reached.and_then(|r| r.into_iter().max()) {
                Some(at) => {
                    stamp.push(millis(at - m.committed_at));
                    announce.push(millis(at - m.announced).max(0.0));
                }
                None => missing += 1,
            }
        }
        stamp.sort_by(f64::total_cmp);
        announce.sort_by(f64::total_cmp);
        (stamp, announce, missing)
    };
    let (stamp, announce, missing) = latencies(0..FAST);
    // The table changes only when its top rows do (times are stored in seconds: batches within
    // one second tie), so it is measured per update: the age of the data it was computed from.
    let mut table: Vec<f64> = seen
        .iter()
        .filter(|s| s.topic == FAST && s.committed_at >= made[warmup].committed_at)
        .map(|s| millis(s.at - s.committed_at))
        .collect();
    table.sort_by(f64::total_cmp);
    let records = batches * per_batch;
    println!(
        "fed {records} records in {} commits over {:.1} s ({:.0} records/s); \
         {} commits measured after a {warmup}-commit warm-up, {missing} never seen",
        made.len(),
        fed.as_secs_f64(),
        records as f64 / fed.as_secs_f64(),
        stamp.len()
    );
    let line = |label: &str, v: &[f64]| {
        println!(
            "  {label:<17} p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
            percentile(v, 50.0),
            percentile(v, 99.0),
            v.last().copied().unwrap_or(f64::NAN)
        );
    };
    line("stamp → topic", &stamp);
    line("announce → topic", &announce);
    // The choropleth alone (issue 7: a map's values after a batch).
    let (map_stamp, map_announce, _) = latencies(0..1);
    println!("  the choropleth (`map`) alone:");
    line("stamp → topic", &map_stamp);
    line("announce → topic", &map_announce);
    println!(
        "  slow lane, the `newest` table: {} updates, the age of their data when published:",
        table.len()
    );
    line("stamp → topic", &table);
    println!("pantau_live_p99_ms {:.2}", percentile(&stamp, 99.0));
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
