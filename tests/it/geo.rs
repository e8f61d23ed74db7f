//! `/api/geo`: boundary sets as valid RFC 7946 GeoJSON, simplified per zoom, cached by ETag,
//! compressed, with clear errors.

use serde_json::Value;

use crate::helpers::spawn_quiet_app;

crate::tests! {
    async boundary_sets_are_valid_geojson_simplified_per_zoom_and_cached,
    async unknown_sets_and_bad_zooms_are_clear_errors,
    async region_names_of_every_shipped_set_are_served_by_code_and_cached,
}

/// Twice the signed area of a ring (positive = counter-clockwise).
fn signed_area(ring: &[Value]) -> f64 {
    ring.windows(2)
        .map(|w| {
            let (a, b) = (&w[0], &w[1]);
            a[0].as_f64().unwrap() * b[1].as_f64().unwrap()
                - b[0].as_f64().unwrap() * a[1].as_f64().unwrap()
        })
        .sum()
}

/// Checks RFC 7946 rules on every polygon; returns the number of positions.
fn check_feature_collection(doc: &Value, text: &str) -> usize {
    assert_eq!(doc["type"], "FeatureCollection");
    let mut positions = 0;
    for feature in doc["features"].as_array().unwrap() {
        let code = feature["properties"]["kode"].as_str().unwrap();
        assert_eq!(feature["id"], code);
        let geometry = &feature["geometry"];
        let polygons: Vec<&Value> = match geometry["type"].as_str().unwrap() {
            "Polygon" => vec![&geometry["coordinates"]],
            "MultiPolygon" => geometry["coordinates"].as_array().unwrap().iter().collect(),
            other => panic!("{code}: unexpected geometry {other}"),
        };
        for polygon in polygons {
            for (i, ring) in polygon.as_array().unwrap().iter().enumerate() {
                let ring = ring.as_array().unwrap();
                assert!(ring.len() >= 4, "{code}: a ring needs at least 4 positions");
                assert_eq!(ring.first(), ring.last(), "{code}: ring not closed");
                for position in ring {
                    let (lon, lat) = (position[0].as_f64().unwrap(), position[1].as_f64().unwrap());
                    assert!(
                        (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat),
                        "{code}: lon/lat order"
                    );
                    // Indonesia lies south of the equator and east of 95°E: catches swapped axes.
                    assert!(
                        lon > 95.0 && lat < 6.0,
                        "{code}: lon/lat swapped? {position}"
                    );
                }
                positions += ring.len();
                let area = signed_area(ring);
                if i == 0 {
                    assert!(
                        area > 0.0,
                        "{code}: exterior ring must be counter-clockwise"
                    );
                } else {
                    assert!(area < 0.0, "{code}: hole must be clockwise");
                }
            }
        }
    }
    // No coordinate carries more than 6 decimals.
    for number in text.split(['[', ']', ',']) {
        if let Some((_, decimals)) = number.split_once('.') {
            if number
                .trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.')
            {
                assert!(decimals.len() <= 6, "too many decimals: {number}");
            }
        }
    }
    positions
}

async fn boundary_sets_are_valid_geojson_simplified_per_zoom_and_cached() {
    let app = spawn_quiet_app().await;
    let sets: Value = app.get("/api/geo").await.json().await.unwrap();
    let names: Vec<&str> = sets["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for expected in [
        "kota_pasuruan_desa_kelurahan",
        "kota_pasuruan_kecamatan",
        "kab_pasuruan_desa_kelurahan",
        "kab_pasuruan_kecamatan",
        "kab_gresik_desa_kelurahan",
        "kab_gresik_kecamatan",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }

    let full = app.get("/api/geo/kab_gresik_desa_kelurahan").await;
    assert_eq!(full.status(), 200);
    assert_eq!(full.headers()["content-type"], "application/geo+json");
    let etag = full.headers()["etag"].to_str().unwrap().to_owned();
    let text = full.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["features"].as_array().unwrap().len(), 356);
    let detailed = check_feature_collection(&doc, &text);

    let coarse_text = app
        .get("/api/geo/kab_gresik_desa_kelurahan?zoom=9")
        .await
        .text()
        .await
        .unwrap();
    let coarse: Value = serde_json::from_str(&coarse_text).unwrap();
    assert_eq!(
        coarse["features"].as_array().unwrap().len(),
        356,
        "no region dropped"
    );
    let simplified = check_feature_collection(&coarse, &coarse_text);
    assert!(
        simplified * 10 < detailed * 9,
        "zoom 9 should drop detail: {simplified} vs {detailed}"
    );

    // Unchanged geometry is not sent again.
    let again = app
        .client
        .get(app.url("/api/geo/kab_gresik_desa_kelurahan"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    // Compressed for clients that accept it.
    let gzip = app
        .client
        .get(app.url("/api/geo/kab_gresik_desa_kelurahan"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    assert!(
        gzip.bytes().await.unwrap().len() * 3 < text.len(),
        "gzip should shrink GeoJSON well"
    );
    app.stop().await;
}

async fn unknown_sets_and_bad_zooms_are_clear_errors() {
    let app = spawn_quiet_app().await;
    let missing = app.get("/api/geo/atlantis").await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("sets: kab_gresik_desa_kelurahan"));
    for zoom in ["23", "-1", "abc", "1.5"] {
        let bad = app
            .get(&format!("/api/geo/kota_pasuruan_kecamatan?zoom={zoom}"))
            .await;
        assert_eq!(bad.status(), 400, "zoom={zoom}");
        let body: Value = bad.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_parameter");
    }
    app.stop().await;
}

async fn region_names_of_every_shipped_set_are_served_by_code_and_cached() {
    let app = spawn_quiet_app().await;
    let response = app.get("/api/regions").await;
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let regions = body["regions"].as_object().unwrap();
    // Kota Pasuruan: 4 kecamatan and 34 kelurahan, by their Kemendagri codes.
    assert_eq!(regions["35.75.01"]["name"], "Gadingrejo");
    assert_eq!(regions["35.75.01"]["set"], "kota_pasuruan_kecamatan");
    let kota: Vec<_> = regions
        .iter()
        .filter(|(code, _)| code.starts_with("35.75."))
        .collect();
    assert_eq!(kota.len(), 4 + 34, "{kota:?}");
    // The other shipped regions are there too (Kabupaten Pasuruan 35.14, Gresik 35.25).
    assert!(regions.keys().any(|c| c.starts_with("35.14.")));
    assert!(regions.keys().any(|c| c.starts_with("35.25.")));
    assert!(regions
        .values()
        .all(|r| !r["name"].as_str().unwrap().is_empty()));
    let again = app
        .client
        .get(app.url("/api/regions"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    app.stop().await;
}
