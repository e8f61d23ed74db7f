//! Region assignment benchmark: 1,000,000 points against the 34 kelurahan of Kota Pasuruan and the
//! 365 desa/kelurahan of Kabupaten Pasuruan, with shapely's STRtree on the same points in the same
//! run. Run with `cargo bench --bench region_assign`; results go to docs/performance.md.
//!
//! Points are uniform over each set's bounding box (seeded), so a fair share falls outside every
//! region and near boundaries, as complaint coordinates do.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use pantau::geo::{Boundaries, RegionIndex};
use rand::{Rng, SeedableRng};

const POINTS: usize = 1_000_000;
const RUNS: usize = 5;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!(
        "region assignment of {POINTS} points, best of {RUNS} runs, {} threads",
        threads()
    );
    for name in [
        "kota_pasuruan_desa_kelurahan",
        "kab_pasuruan_desa_kelurahan",
    ] {
        let file = root.join("static/geo").join(format!("{name}.geojson"));
        let set = Boundaries::from_file(&file).expect("shipped boundaries load");
        let built = Instant::now();
        let index = RegionIndex::new(std::sync::Arc::new(set.clone()));
        let build_ms = built.elapsed().as_secs_f64() * 1e3;
        let extent = index.extent();
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let points: Vec<(f64, f64)> = (0..POINTS)
            .map(|_| {
                (
                    rng.random_range(extent.min().x..extent.max().x),
                    rng.random_range(extent.min().y..extent.max().y),
                )
            })
            .collect();

        let mut best_parallel = f64::MAX;
        let mut assigned = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let result = index.locate_all(&points);
            best_parallel = best_parallel.min(started.elapsed().as_secs_f64());
            assigned = result.iter().filter(|r| r.is_some()).count();
        }
        let mut best_single = f64::MAX;
        for _ in 0..RUNS {
            let started = Instant::now();
            let found = points
                .iter()
                .filter(|p| index.locate(p.0, p.1).is_some())
                .count();
            best_single = best_single.min(started.elapsed().as_secs_f64());
            assert_eq!(found, assigned);
        }
        let ours = POINTS as f64 / best_parallel;
        println!(
            "{name}: {} regions, index built in {build_ms:.1} ms ({:.1} % boundary cells); \
             {:.2} M points/s on all cores, {:.2} M points/s on one; {assigned} points inside a region",
            set.regions().len(),
            index.boundary_share() * 100.0,
            ours / 1e6,
            POINTS as f64 / best_single / 1e6,
        );

        // The same points for shapely.
        let bin = std::env::temp_dir().join(format!("pantau-points-{name}.f64"));
        let bytes: Vec<u8> = points
            .iter()
            .flat_map(|(x, y)| x.to_le_bytes().into_iter().chain(y.to_le_bytes()))
            .collect();
        std::fs::write(&bin, bytes).expect("write points");
        let output = Command::new("python3")
            .arg(root.join("benches/region_assign_shapely.py"))
            .arg(&file)
            .arg(&bin)
            .arg(RUNS.to_string())
            .output();
        match output {
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                let rate: f64 = text
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("points_per_s="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN);
                print!("{name}: shapely STRtree: {}", text.trim());
                println!("; ratio pantau/shapely = {:.1}x", ours / rate);
            }
            Ok(out) => println!(
                "{name}: shapely run failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => println!("{name}: shapely not run ({e}); pip install shapely numpy"),
        }
        let _ = std::fs::remove_file(&bin);
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
