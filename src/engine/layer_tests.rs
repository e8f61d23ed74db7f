//! Map layers that draw rows, checked against a plain computation over the same complaints:
//! which rows are points, how clusters and heat cells account for every located row in view.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration};
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::panel::{evaluate, PanelContext};
use super::query::Frames;
use crate::dashboards::{self, Rules};
use crate::domain::{Complaint, Status, DEFAULT_TIME_ZONE};
use crate::geo::{Boundaries, Catalog};
use crate::store::Store;

const BOARD: &str = r#"title = { id = "Peta", en = "Map" }
audience = "board"
[[panels]]
id = "points"
kind = "map"
title = { id = "t", en = "t" }
query.dataset = "complaints"
query.filter = [{ field = "is_open", equals = true }]
layer = { kind = "points", set = "kota_pasuruan_desa_kelurahan", max_features = 5000 }
[[panels]]
id = "too-many"
kind = "map"
title = { id = "t", en = "t" }
query.dataset = "complaints"
layer = { kind = "points", set = "kota_pasuruan_desa_kelurahan", max_features = 50 }
[[panels]]
id = "clusters"
kind = "map"
title = { id = "t", en = "t" }
query.dataset = "complaints"
layer = { kind = "clusters", set = "kota_pasuruan_desa_kelurahan", zoom = 14, cell = 64 }
[[panels]]
id = "heat"
kind = "map"
title = { id = "t", en = "t" }
query.dataset = "complaints"
query.filter = [{ field = "created_at", window = "last 24h" }]
layer = { kind = "heat", set = "kota_pasuruan_desa_kelurahan", cell = 16 }
[[panels]]
id = "rated"
kind = "map"
title = { id = "t", en = "t" }
query.dataset = "complaints"
layer = { kind = "heat", set = "kota_pasuruan_desa_kelurahan", weight = "rating" }
"#;

/// A status as the lifecycle word the layers send.
fn word(status: Status) -> String {
    serde_json::to_value(status)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn row_layers_account_for_every_located_row_in_view() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Default::default()).await.unwrap();
    let now = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
        .unwrap()
        .to_utc();
    let city = Boundaries::kota_pasuruan_kelurahan().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let statuses = [
        Status::Received,
        Status::InProgress,
        Status::Resolved,
        Status::Rejected,
    ];
    let mut complaints = Vec::new();
    for i in 0..3_000 {
        let region = &city.regions()[rng.random_range(0..city.regions().len())];
        let (lon, lat) = city.random_point_in(region, &mut rng);
        let created = now - Duration::minutes(rng.random_range(0..3 * 24 * 60));
        let mut c = Complaint::sample(&format!("C{i:05}"), "Sampah", created);
        c.status = statuses[i % statuses.len()];
        c.rating = (i % 7 != 0).then_some((i % 5 + 1) as u8);
        (c.lon, c.lat) = match i % 100 {
            0 => (None, None),              // no location: not on any map
            1 => (Some(106.8), Some(-6.2)), // Jakarta: outside the view
            _ => (Some(lon), Some(lat)),
        };
        complaints.push(c);
    }
    // In several batches: the located rows are gathered from several chunks.
    for batch in complaints.chunks(700) {
        store.append_complaints(batch.to_vec()).await.unwrap();
    }
    let snap = store.snapshot();
    assert!(snap.complaints().chunks().len() > 1);
    let board = dashboards::parse(BOARD, Path::new("t.toml"), &Rules::zone(DEFAULT_TIME_ZONE))
        .unwrap_or_else(|e| panic!("{e:#?}"));
    let context = PanelContext {
        geo: Some(Arc::new(Catalog::open(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("static/geo"),
        ))),
    };
    let value_with = |id: &str, context: &PanelContext| -> Value {
        let panel = board.panels.iter().find(|p| p.id == id).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| evaluate(&board, panel, &Frames::new(&snap), &[], context, now).unwrap())
                .join()
                .unwrap()
        })
    };
    let value = |id: &str| value_with(id, &context);
    // The plain computation: located rows inside the city.
    let in_view = |c: &&Complaint| c.lon.is_some() && c.lon != Some(106.8);
    let is_open = |c: &&Complaint| !matches!(c.status, Status::Resolved | Status::Rejected);

    // points: exactly the open, located rows in view, each where and as it was filed.
    let points = value("points");
    assert_eq!(points["layer"], "points");
    let expected: BTreeMap<String, &Complaint> = complaints
        .iter()
        .filter(in_view)
        .filter(is_open)
        .map(|c| (format!("test/{}", c.source_id), c))
        .collect();
    let got = points["points"].as_object().unwrap();
    assert_eq!(
        got.keys().collect::<BTreeSet<_>>(),
        expected.keys().collect::<BTreeSet<_>>()
    );
    assert_eq!(points["total"], expected.len());
    for (key, p) in got {
        let c = expected[key];
        assert!(
            (p["lon"].as_f64().unwrap() - c.lon.unwrap()).abs() < 2e-6,
            "{key}"
        );
        assert!(
            (p["lat"].as_f64().unwrap() - c.lat.unwrap()).abs() < 2e-6,
            "{key}"
        );
        assert_eq!(p["status"], word(c.status), "{key}");
    }
    let newest = expected
        .iter()
        .max_by_key(|(k, c)| (c.created_at.timestamp(), (*k).clone()))
        .unwrap()
        .0;
    assert_eq!(points["newest"], newest.as_str());

    // More rows than max_features: clusters instead, still every row in view.
    let capped = value("too-many");
    assert_eq!(capped["layer"], "clusters");
    let all_in_view = complaints.iter().filter(in_view).count() as u64;
    assert_eq!(capped["total"], all_in_view);
    let clusters = capped["clusters"].as_object().unwrap();
    assert!(clusters.len() <= 50);
    let sum: u64 = clusters
        .values()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, all_in_view);

    // Without the boundary set (not loaded), the rows frame themselves: every located row.
    let unframed = value_with("clusters", &PanelContext::default());
    let located = complaints.iter().filter(|c| c.lon.is_some()).count() as u64;
    assert_eq!(unframed["total"], located);

    // clusters at zoom 14: counts and status mixes add up to the rows per status.
    let layer = value("clusters");
    assert_eq!(layer["zoom"], 14);
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for c in layer["clusters"].as_object().unwrap().values() {
        let mix: u64 = c["mix"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(mix, c["count"].as_u64().unwrap(), "the mix adds up");
        for (status, n) in c["mix"].as_object().unwrap() {
            *by_status.entry(status.clone()).or_default() += n.as_u64().unwrap();
        }
    }
    let mut expected_by_status: BTreeMap<String, u64> = BTreeMap::new();
    for c in complaints.iter().filter(in_view) {
        *expected_by_status.entry(word(c.status)).or_default() += 1;
    }
    assert_eq!(by_status, expected_by_status);

    // heat of the last 24 hours: weights add up to the rows, `max` is the largest.
    let heat = value("heat");
    let day: Vec<_> = complaints
        .iter()
        .filter(in_view)
        .filter(|c| c.created_at > now - Duration::hours(24))
        .collect();
    let weights: Vec<u64> = heat["cells"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["weight"].as_u64().unwrap())
        .collect();
    assert_eq!(weights.iter().sum::<u64>(), day.len() as u64);
    assert_eq!(heat["max"], *weights.iter().max().unwrap());
    assert!(
        heat["zoom"].as_u64().unwrap() >= 12,
        "the city's zoom: {}",
        heat["zoom"]
    );

    // Heat weighed by the rating: the cells add up to the ratings of the rows in view (a row
    // without a rating weighs nothing), their counts to the rows.
    let rated = value("rated");
    assert_eq!(rated["weight"], "rating");
    let cells = rated["cells"].as_object().unwrap();
    let weight: f64 = cells.values().map(|c| c["weight"].as_f64().unwrap()).sum();
    let expected: f64 = complaints
        .iter()
        .filter(in_view)
        .filter_map(|c| c.rating)
        .map(f64::from)
        .sum();
    assert!((weight - expected).abs() < 1e-6, "{weight} vs {expected}");
    let rows: u64 = cells.values().map(|c| c["count"].as_u64().unwrap()).sum();
    assert_eq!(rows, complaints.iter().filter(in_view).count() as u64);
}

#[test]
fn row_layers_are_checked_at_load() {
    let problems = |layer: &str, query: &str| {
        let text = format!(
            "title = {{ id = \"t\", en = \"t\" }}\naudience = \"board\"\n[[panels]]\nid = \"m\"\nkind = \"map\"\ntitle = {{ id = \"t\", en = \"t\" }}\n{query}\nlayer = {layer}\n"
        );
        match dashboards::parse(&text, Path::new("t.toml"), &Rules::zone(DEFAULT_TIME_ZONE)) {
            Ok(_) => String::new(),
            Err(e) => format!("{e:?}"),
        }
    };
    let complaints = "query.dataset = \"complaints\"";
    assert_eq!(
        problems("{ kind = \"points\", set = \"s\" }", complaints),
        ""
    );
    for (layer, query, reason) in [
        ("{ kind = \"dots\", set = \"s\" }", complaints, "unknown layer kind `dots`"),
        ("{ kind = \"points\", set = \"s\", zoom = 3 }", complaints, "zoom is 8 to 20"),
        ("{ kind = \"heat\", set = \"s\", cell = 4 }", complaints, "cell is 8 to 256"),
        ("{ kind = \"points\", set = \"s\", max_features = 9000 }", complaints, "max_features is 1 to 5000"),
        ("{ kind = \"clusters\", set = \"s\", method = \"quantile\" }", complaints, "belongs to choropleth"),
        ("{ kind = \"choropleth\", set = \"s\", zoom = 12 }", "query.dataset = \"complaints\"\nquery.group_by = [\"kelurahan\"]\nquery.measures = [{ id = \"n\", fn = \"count\" }]", "belongs to points"),
        ("{ kind = \"points\", set = \"s\" }", "query.dataset = \"complaints\"\nquery.measures = [{ id = \"n\", fn = \"count\" }]", "draws rows: drop measures"),
        ("{ kind = \"points\", set = \"s\" }", "query.dataset = \"budget_lines\"", "needs a dataset with lat and lon"),
        (
            "{ kind = \"points\", set = \"s\", weight = \"rating\" }",
            complaints,
            "`weight` belongs to heat layers",
        ),
        (
            "{ kind = \"heat\", set = \"s\", weight = \"category\" }",
            complaints,
            "not a number, hours or money field",
        ),
        (
            "{ kind = \"heat\", set = \"s\", weight = \"nope\" }",
            complaints,
            "unknown field `nope`",
        ),
    ] {
        let found = problems(layer, query);
        assert!(found.contains(reason), "{layer}: expected “{reason}” in {found}");
    }
}
