//! Engine benchmark: a full recompute of every panel of the shipped Kota Pasuruan wall dashboard
//! over N complaints (10M by default), with DuckDB running the equivalent SQL over the same rows
//! in the same run.
//!
//! `cargo bench --bench engine` (`-- --rows N --runs R` for another size, `--dashboard FILE` for
//! another dashboard, `--no-duckdb` to skip the comparison). Needs `pip install duckdb pyarrow`
//! for the comparison; without it the DuckDB line says so.

mod common;

/// The allocator the `pantau` binary uses, so the bench measures what the server does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::DateTime;
use common::*;
use pantau::dashboards;
use pantau::dashboards::kinds::Sets;
use pantau::engine::panel::{evaluate, PanelContext};
use pantau::engine::query::Frames;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows = arg("--rows", 10_000_000);
    let runs = arg("--runs", 5) as usize;
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-engine");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let start = 1_767_200_000; // 2025-12-31T16:53:20Z; the rows cover the year after
                               // "Now" is the end of the data, so the day and 24-hour windows hold rows.
    let now = DateTime::from_timestamp(start + 31_536_000, 0).unwrap_or_default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // `--dashboard FILE`: another dashboard (e.g. the map wall, `dashboards/kota-pasuruan-peta.toml`).
    let board = dashboards::load_file(
        &arg_path(
            "--dashboard",
            root.join("dashboards/kota-pasuruan-wall.toml"),
        ),
        &dashboards::Rules::zone(pantau::domain::DEFAULT_TIME_ZONE),
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;

    let store = filled_store(&work.join("store"), rows, start).await?;
    let snapshot = store.snapshot();
    println!(
        "engine bench: wall dashboard `{}` ({} panels) over {rows} complaints, {runs} runs",
        board.id,
        board.panels.len()
    );

    let context = PanelContext {
        geo: Some(std::sync::Arc::new(pantau::geo::Catalog::open(
            &root.join("static/geo"),
        ))),
    };
    // Warm the boundary set (loaded once per process in the server).
    let _ = context.regions("kota_pasuruan_desa_kelurahan");
    let (totals, per_panel) = tokio::task::spawn_blocking(move || {
        let mut totals = Vec::new();
        let mut per_panel = vec![Vec::new(); board.panels.len()];
        for _ in 0..runs {
            let all = Instant::now();
            // What the engine does per recomputation: one set of frames for all panels.
            let frames = Frames::new(&snapshot);
            for (i, panel) in board.panels.iter().enumerate() {
                let t = Instant::now();
                let value = evaluate(&board, panel, &frames, &[], &context, now);
                per_panel[i].push((panel.id.clone(), t.elapsed()));
                if let Err(e) = value {
                    eprintln!("panel {}: {e}", panel.id);
                }
            }
            totals.push(all.elapsed());
        }
        (totals, per_panel)
    })
    .await?;
    let best = totals.iter().min().copied().unwrap_or_default();
    let pantau = median(totals);
    println!(
        "pantau full recompute: {:>8.1} ms median, {:.1} ms best",
        ms(pantau),
        ms(best)
    );
    for runs in &per_panel {
        let id = runs[0].0.clone();
        let m = median(runs.iter().map(|r| r.1).collect());
        println!("  {id:<16} {:>8.1} ms", ms(m));
    }
    println!("pantau_full_recompute_ms {:.1}", ms(pantau));

    if std::env::args().any(|a| a == "--no-duckdb") {
        let _ = std::fs::remove_dir_all(&work);
        return Ok(());
    }
    let parquet = work.join("complaints.parquet");
    write_parquet(&parquet, rows, start)?;
    let args = [
        parquet.into_os_string(),
        now.timestamp().to_string().into(),
        runs.to_string().into(),
    ];
    let text = run_duckdb(&root.join("benches/engine_duckdb.py"), &args);
    if let Some(duck) = text.and_then(|t| metric(&t, "duckdb_wall_ms")) {
        let verdict = if ms(pantau) <= duck {
            "faster"
        } else {
            "slower"
        };
        println!(
            "ratio: pantau is {:.2}× DuckDB's time ({verdict})",
            ms(pantau) / duck
        );
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
