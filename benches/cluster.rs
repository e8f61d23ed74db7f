//! Cluster layer benchmark: 1,000,000 complaints spread over the real kelurahan of Kota Pasuruan,
//! clustered for a whole-city view at zoom 14 on a 3840×2160 wall (64-pixel cells, at most 5,000
//! clusters). Run with `cargo bench --bench cluster`; results go to docs/performance.md.

use std::time::Instant;

use pantau::geo::cluster::{cluster, project, View, WorldPoint};
use pantau::geo::Boundaries;
use rand::{Rng, SeedableRng};

const POINTS: usize = 1_000_000;
const RUNS: usize = 20;

fn main() {
    let set = Boundaries::kota_pasuruan_kelurahan().expect("shipped boundaries load");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let lon_lat: Vec<(f64, f64)> = (0..POINTS)
        .map(|_| {
            let region = &set.regions()[rng.random_range(0..set.regions().len())];
            set.random_point_in(region, &mut rng)
        })
        .collect();
    let status: Vec<u8> = (0..POINTS).map(|_| rng.random_range(0..8)).collect();

    let started = Instant::now();
    let points: Vec<WorldPoint> = lon_lat.iter().filter_map(|&(x, y)| project(x, y)).collect();
    let project_ms = started.elapsed().as_secs_f64() * 1e3;

    let (min_lon, max_lon) = lon_lat
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (min_lat, max_lat) = lon_lat
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let city = View::from_lon_lat((min_lon, min_lat), (max_lon, max_lat)).expect("finite extent");

    let mut best = f64::MAX;
    let mut clusters = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        clusters = cluster(&points, &status, 8, city, 14, 64, 5_000);
        best = best.min(started.elapsed().as_secs_f64());
    }
    let total: u32 = clusters.iter().map(|c| c.count).sum();
    assert_eq!(total as usize, POINTS);
    println!(
        "cluster layer: {POINTS} points → {} clusters (zoom 14, 64 px cells) in {:.2} ms (best of {RUNS}, one thread); \
         projecting the points once took {project_ms:.1} ms",
        clusters.len(),
        best * 1e3
    );
}
