//! The metadata database on both backends: migrations apply, cursors round-trip.

use chrono::Utc;
use pantau::db::DatabaseSettings;
use pantau::db::DatabaseTarget;
use pantau::db::MetaDb;
use pantau::domain::settings::Secret;

use crate::helpers::{drop_schema, fresh_schema, postgres_url, Backend};

crate::tests! {
    per_backend cursors_round_trip_and_survive_a_reconnect_on_every_backend,
    per_backend the_audit_chain_finds_an_edited_or_removed_entry_on_every_backend,
    per_backend tokens_are_stored_hashed_and_revoked_for_good_on_every_backend,
    per_backend snapshot_usage_counts_an_owners_last_hour_and_bytes_on_every_backend,
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

/// A database of `backend` and a raw connection string to tamper with it behind Pantau's back.
async fn database(backend: Backend, dir: &std::path::Path) -> (MetaDb, DatabaseSettings, String) {
    let mut settings = DatabaseSettings::default();
    let (target, raw) = match backend {
        Backend::Sqlite => {
            let file = dir.join("meta.db");
            let raw = format!("sqlite://{}", file.display());
            (DatabaseTarget::Sqlite(file), raw)
        }
        Backend::Postgres => {
            let schema = fresh_schema();
            settings.schema = Some(schema.clone());
            let raw = format!("{}?options=-csearch_path%3D{schema}", postgres_url());
            (DatabaseTarget::Postgres(Secret::new(postgres_url())), raw)
        }
    };
    (
        MetaDb::connect(&target, &settings).await.unwrap(),
        settings,
        raw,
    )
}

async fn tamper(backend: Backend, raw: &str, sql: &str) {
    use sqlx::Connection;
    match backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(raw).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
            c.close().await.unwrap();
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(raw).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
            c.close().await.unwrap();
        }
    }
}

async fn the_audit_chain_finds_an_edited_or_removed_entry_on_every_backend(backend: Backend) {
    use pantau::access::{AuditEvent, AuditLog, Outcome, Principal, Role};
    use pantau::db::AuditFilter;
    let dir = tempfile::tempdir().unwrap();
    let (db, settings, raw) = database(backend, dir.path()).await;
    let log = AuditLog::new(db.clone());
    let who = Principal::anonymous(Role::Analyst);
    for i in 0..6u64 {
        let event = AuditEvent::new("export.dataset", "datasets/complaints")
            .detail(serde_json::json!({"n": i, "text": "a'b\"c"}))
            .rows(i * 10);
        log.record(&who, "10.0.0.7", event).await.unwrap();
    }
    let denied = AuditEvent::new("request.denied", "GET /api/audit").outcome(Outcome::Denied);
    log.record(&who, "10.0.0.8", denied).await.unwrap();

    let report = log.verify().await.unwrap();
    assert_eq!(
        (report.entries, report.broken.clone()),
        (7, None),
        "{backend:?}"
    );
    assert_eq!(report.first_id, Some(1));
    let filter = |f: AuditFilter| f;
    let page = log
        .entries(&filter(AuditFilter {
            action_prefix: Some("export.".into()),
            limit: 4,
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        [6, 5, 4, 3],
        "{backend:?}"
    );
    let next = log
        .entries(&AuditFilter {
            action_prefix: Some("export.".into()),
            before_id: Some(3),
            limit: 4,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(next.iter().map(|e| e.id).collect::<Vec<_>>(), [2, 1]);
    let refused = log
        .entries(&AuditFilter {
            outcome: Some("denied".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (refused.len(), refused[0].address.as_str()),
        (1, "10.0.0.8")
    );
    let since_future = log
        .entries(&AuditFilter {
            since: Some(Utc::now() + chrono::TimeDelta::hours(1)),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(since_future.is_empty());

    // An edited row count is found, naming the entry.
    tamper(backend, &raw, "UPDATE audit_log SET rows = 0 WHERE id = 3").await;
    let broken = log
        .verify()
        .await
        .unwrap()
        .broken
        .expect("an edit goes unseen");
    assert!(
        broken.contains("entry 3 was changed"),
        "{backend:?}: {broken}"
    );
    // Put back as written, the entry verifies again.
    tamper(backend, &raw, "UPDATE audit_log SET rows = 20 WHERE id = 3").await;
    assert_eq!(log.verify().await.unwrap().broken, None);
    tamper(backend, &raw, "DELETE FROM audit_log WHERE id = 4").await;
    let broken = log
        .verify()
        .await
        .unwrap()
        .broken
        .expect("a removal goes unseen");
    assert!(broken.contains("entries 4 to 4 are missing"), "{broken}");

    // Retention removes what is older than it keeps (here entries 1-5, dated back behind
    // Pantau's back; 4 is gone already) and says so; the chain then starts at entry 6.
    let old = match backend {
        Backend::Sqlite => {
            "UPDATE audit_log SET at = '2020-01-01 00:00:00.000000+00:00' WHERE id <= 5"
        }
        Backend::Postgres => "UPDATE audit_log SET at = '2020-01-01T00:00:00Z' WHERE id <= 5",
    };
    tamper(backend, &raw, old).await;
    assert_eq!(log.prune(2).await.unwrap(), 4, "{backend:?}");
    let report = log.verify().await.unwrap();
    assert_eq!(report.broken, None, "{backend:?}");
    assert_eq!((report.first_id, report.entries), (Some(6), 3));
    let newest = log
        .entries(&AuditFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(newest[0].action, "audit.prune");
    db.close().await;
    if let Some(schema) = settings.schema {
        drop_schema(&schema).await;
    }
}

async fn tokens_are_stored_hashed_and_revoked_for_good_on_every_backend(backend: Backend) {
    use pantau::access::{
        AccessSettings, AuditLog, NewToken, Principal, Refusal, Role, TokenRegistry,
    };
    let dir = tempfile::tempdir().unwrap();
    let (db, settings, raw) = database(backend, dir.path()).await;
    let registry = TokenRegistry::open(&AccessSettings::default(), db.clone())
        .await
        .unwrap();
    let log = AuditLog::new(db.clone());
    let admin = Principal::cli();
    let new = NewToken {
        name: "lobby-left".into(),
        role: Role::Wall,
        screen: Some("lobby-left".into()),
        dashboards: vec!["kota-pasuruan-wall".into()],
        expires_at: Some(Utc::now() + chrono::TimeDelta::days(30)),
    };
    let (secret, info) = registry
        .create(&log, &admin, "local", new.clone())
        .await
        .unwrap();
    assert!(secret.starts_with("pantau_"));
    let principal = registry.principal_of(&secret).await.unwrap();
    assert_eq!(
        (principal.name.as_str(), principal.role),
        ("lobby-left", Role::Wall)
    );
    assert!(principal.may_follow("dashboards/kota-pasuruan-wall/open"));
    assert!(!principal.may_follow("dashboards/kota-pasuruan-kpi/open"));
    assert_eq!(info.dashboards, ["kota-pasuruan-wall"]);
    assert!(matches!(
        registry.create(&log, &admin, "local", new).await,
        Err(pantau::access::TokenError::NameTaken(_))
    ));

    // The database holds no secret: a full dump does not contain it.
    let dump = match backend {
        Backend::Sqlite => {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&raw).await.unwrap();
            let rows: Vec<(String, String)> = sqlx::query_as("SELECT name, hash FROM tokens")
                .fetch_all(&mut c)
                .await
                .unwrap();
            format!("{rows:?}")
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&raw).await.unwrap();
            let rows: Vec<(String, String)> = sqlx::query_as("SELECT name, hash FROM tokens")
                .fetch_all(&mut c)
                .await
                .unwrap();
            format!("{rows:?}")
        }
    };
    assert!(
        dump.contains("lobby-left") && !dump.contains(&secret[7..]),
        "{dump}"
    );

    registry
        .revoke(&log, &admin, "local", "lobby-left")
        .await
        .unwrap();
    assert_eq!(registry.principal_of(&secret).await, Err(Refusal::Revoked));
    assert!(registry
        .revoke(&log, &admin, "local", "lobby-left")
        .await
        .is_err());
    assert_eq!(
        registry.principal_of("pantau_guess").await,
        Err(Refusal::BadToken)
    );
    let listed = registry.list().await.unwrap();
    assert!(listed[0].revoked_at.is_some());
    let actions: Vec<String> = log
        .entries(&pantau::db::AuditFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {} {}", e.actor, e.action, e.resource))
        .collect();
    assert!(
        actions
            .iter()
            .any(|a| a.ends_with("token.create token/lobby-left")),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|a| a.ends_with("token.revoke token/lobby-left")),
        "{actions:?}"
    );
    db.close().await;
    if let Some(schema) = settings.schema {
        drop_schema(&schema).await;
    }
}

async fn snapshot_usage_counts_an_owners_last_hour_and_bytes_on_every_backend(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (db, settings, _) = database(backend, dir.path()).await;
    let now = Utc::now();
    let record = |id: &str, owner: &str, age_minutes: i64, bytes: i64| pantau::db::SnapshotRecord {
        id: id.into(),
        kind: "dataset".into(),
        target: "complaints".into(),
        request: "{}".into(),
        as_of: now,
        created_at: now - chrono::TimeDelta::minutes(age_minutes),
        created_by: "analis".into(),
        description: String::new(),
        store_seq: 1,
        rows: 1,
        bytes,
        sha256: "00".into(),
        owner: owner.into(),
    };
    for r in [
        record("a-now", "token:analis", 1, 3_000_000_000),
        record("a-old", "token:analis", 120, 2_000_000_000),
        record("b-now", "ip:10.0.0.7", 5, 7),
    ] {
        db.insert_snapshot(&r).await.unwrap();
    }
    let hour_ago = now - chrono::TimeDelta::hours(1);
    let usage = db.snapshot_usage("token:analis", hour_ago).await.unwrap();
    assert_eq!(
        (usage.taken_since, usage.bytes),
        (1, 5_000_000_000),
        "{backend:?}"
    );
    let usage = db.snapshot_usage("ip:10.0.0.7", hour_ago).await.unwrap();
    assert_eq!((usage.taken_since, usage.bytes), (1, 7), "{backend:?}");
    let usage = db.snapshot_usage("token:nobody", hour_ago).await.unwrap();
    assert_eq!((usage.taken_since, usage.bytes), (0, 0), "{backend:?}");
    assert_eq!(
        db.snapshot("a-old").await.unwrap().unwrap().owner,
        "token:analis"
    );
    db.close().await;
    if let Some(schema) = settings.schema {
        drop_schema(&schema).await;
    }
}
