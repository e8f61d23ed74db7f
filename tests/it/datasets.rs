//! `/api/datasets` over the running demo, and the store's checkpoints inside the application.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{eventually, spawn_app_with, spawn_quiet_app, AppOptions, Backend};

crate::tests! {
    async datasets_list_rows_and_the_schema_describes_typed_columns,
    async an_unknown_dataset_is_a_json_404_naming_the_known_ones,
}

async fn datasets_list_rows_and_the_schema_describes_typed_columns() {
    let app = spawn_app_with(
        AppOptions {
            backend: Backend::Sqlite,
            simulator: true,
        },
        |s| s.store.checkpoint_interval_secs = 1,
    )
    .await;
    // The simulator files complaints: the listing follows.
    let complaints = eventually("complaints are listed", Duration::from_secs(5), || async {
        let body: Value = app.get("/api/datasets").await.json().await.unwrap();
        let complaints = body["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == "complaints")
            .cloned()
            .unwrap();
        if complaints["rows"].as_u64().unwrap() > 0 {
            Ok(complaints)
        } else {
            Err(complaints)
        }
    })
    .await;
    assert!(complaints["versions"].as_u64() >= complaints["rows"].as_u64());
    assert!(complaints["updated_at"].is_string());
    let body: Value = app.get("/api/datasets").await.json().await.unwrap();
    let names: Vec<&str> = body["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["complaints", "budget_lines", "service_events"]);

    let schema: Value = app
        .get("/api/datasets/budget_lines/schema")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        schema["key"],
        serde_json::json!(["fiscal_year", "version", "opd", "account_code", "period"])
    );
    let field = |name: &str| {
        schema["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no field {name}"))
    };
    assert_eq!(field("pagu")["type"], "rupiah");
    assert_eq!(field("pagu")["storage"], "i64");
    assert_eq!(
        field("version")["values"],
        serde_json::json!(["murni", "perubahan"])
    );
    assert_eq!(field("account_code")["key"], true);
    let complaints: Value = app
        .get("/api/datasets/complaints/schema")
        .await
        .json()
        .await
        .unwrap();
    let first = &complaints["fields"][1];
    assert_eq!(
        first["name"], "source_id",
        "key parts outside the columns are listed too"
    );
    assert_eq!(complaints["version_column"], "updated_at");

    // The periodic checkpoint runs inside the application.
    let checkpoints = app.data_dir.path().join("store/checkpoints");
    eventually(
        &format!("a checkpoint under {}", checkpoints.display()),
        Duration::from_secs(6),
        || async {
            std::fs::read_dir(&checkpoints)
                .map(|d| {
                    d.flatten()
                        .any(|e| e.path().join("manifest.json").is_file())
                })
                .unwrap_or(false)
                .then_some(())
        },
    )
    .await;
    app.stop().await;
}

async fn an_unknown_dataset_is_a_json_404_naming_the_known_ones() {
    let app = spawn_quiet_app().await;
    let response = app.get("/api/datasets/pengaduan/schema").await;
    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(
        body["error"]["message"],
        "no dataset 'pengaduan'; known: complaints, budget_lines, service_events"
    );
    app.stop().await;
}
