//! The metadata database on both backends: migrations apply, cursors round-trip.

use chrono::Utc;
use pantau::db::DatabaseSettings;
use pantau::db::DatabaseTarget;
use pantau::db::MetaDb;
use pantau::domain::settings::Secret;

use crate::helpers::{drop_schema, fresh_schema, postgres_url, Backend};

crate::tests! {
    per_backend cursors_round_trip_and_survive_a_reconnect_on_every_backend,
    async an_unreachable_database_is_named_without_its_password,
}

async fn cursors_round_trip_and_survive_a_reconnect_on_every_backend(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = DatabaseSettings::default();
    let target = match backend {
        Backend::Sqlite => DatabaseTarget::Sqlite(dir.path().join("meta.db")),
        Backend::Postgres => {
            settings.schema = Some(fresh_schema());
            DatabaseTarget::Postgres(Secret::new(postgres_url()))
        }
    };
    let db = MetaDb::connect(&target, &settings).await.unwrap();
    assert_eq!(db.load_cursor("lapor").await.unwrap(), None);
    db.save_cursor("lapor", "page-1", Utc::now()).await.unwrap();
    db.save_cursor("lapor", "page-2", Utc::now()).await.unwrap();
    db.save_cursor("qlue", "2026-11-22T00:00:00Z", Utc::now())
        .await
        .unwrap();
    db.close().await;

    // Reconnecting runs the migrations again (a no-op) and finds the cursors.
    let db = MetaDb::connect(&target, &settings).await.unwrap();
    assert_eq!(
        db.load_cursor("lapor").await.unwrap().as_deref(),
        Some("page-2"),
        "{backend:?}"
    );
    assert_eq!(
        db.load_cursor("qlue").await.unwrap().as_deref(),
        Some("2026-11-22T00:00:00Z")
    );
    db.close().await;
    if let Some(schema) = settings.schema {
        drop_schema(&schema).await;
    }
}

async fn an_unreachable_database_is_named_without_its_password() {
    let settings = DatabaseSettings {
        connect_timeout_secs: 1,
        ..DatabaseSettings::default()
    };
    let target = DatabaseTarget::Postgres(Secret::new("postgres://pantau:hunter2@127.0.0.1:1/x"));
    let err = MetaDb::connect(&target, &settings)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("database postgres://pantau:***@127.0.0.1:1/x: cannot connect"),
        "{err}"
    );
    assert!(!err.contains("hunter2"));
}
