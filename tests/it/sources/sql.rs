//! The `sql` source against a real SQLite file, the machine's PostgreSQL and its MariaDB: pages
//! that keep equal cursor values together, and only new or changed rows pulled again.

use super::{current_rows, source, spawn_with_sources, wait_source};
use crate::helpers::postgres_url;

crate::tests! {
    async sql_source_pulls_incrementally_from_a_sqlite_file,
    needs(Postgres) async sql_source_pulls_incrementally_from_postgres,
    needs(MariaDb) async sql_source_pulls_incrementally_from_mariadb,
}

const SQL_MAPPING: &str = r#"
[mapping]
dataset = "complaints"
time_zone = "Asia/Jakarta"
[mapping.fields]
source_id = "tiket"
category = "kategori"
opd = "dinas"
created_at = "dibuat"
updated_at = "diubah"
status = { column = "status", vocabulary = "e_sambat" }
"#;

async fn sql_source_pulls(url: &str, table: &str, exec: impl AsyncFnMut(&str)) {
    let mut exec = exec;
    let insert = |from: u32, to: u32, changed: &str| {
        (from..to)
            .map(|i| {
                format!(
                    "('T-{i:03}', 'Sampah', 'DLH', 'proses', '2026-11-01 08:00:00', '{changed}')"
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    // 25 rows, many sharing one change time, read 10 at a time: ties must not be skipped.
    exec(&format!(
        "INSERT INTO {table} (tiket, kategori, dinas, status, dibuat, diubah) VALUES {}",
        insert(0, 12, "2026-11-01 09:00:00")
    ))
    .await;
    exec(&format!(
        "INSERT INTO {table} (tiket, kategori, dinas, status, dibuat, diubah) VALUES {}",
        insert(12, 25, "2026-11-01 10:00:00")
    ))
    .await;
    let config = source(&format!(
        "id = \"simda\"\ntype = \"sql\"\ninterval_secs = 0.2\nurl = \"{url}\"\nquery = \"{table}\"\ncursor_column = \"diubah\"\nbatch_rows = 10\n{SQL_MAPPING}"
    ));
    let app = spawn_with_sources(vec![config]).await;
    wait_source(&app, "simda", "25 rows", |s| {
        s["rows_in"].as_u64() >= Some(25)
    })
    .await;
    assert_eq!(current_rows(&app, "complaints").await, 25);
    // Five new rows and a status change arrive later; the cursor picks up only those.
    exec(&format!(
        "INSERT INTO {table} (tiket, kategori, dinas, status, dibuat, diubah) VALUES {}",
        insert(25, 30, "2026-11-01 11:00:00")
    ))
    .await;
    exec(&format!("UPDATE {table} SET status = 'selesai', diubah = '2026-11-01 12:00:00' WHERE tiket = 'T-003'")).await;
    let status = wait_source(&app, "simda", "the new rows", |s| {
        s["rows_in"].as_u64() >= Some(31)
    })
    .await;
    assert_eq!(
        status["rows_in"], 31,
        "only new and changed rows are pulled again"
    );
    assert_eq!(current_rows(&app, "complaints").await, 30);
    app.stop().await;
}

async fn sql_source_pulls_incrementally_from_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("simda.db");
    let url = format!("sqlite://{}", path.display());
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::query("CREATE TABLE aduan (id INTEGER PRIMARY KEY, tiket TEXT, kategori TEXT, dinas TEXT, status TEXT, dibuat TEXT, diubah TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    let p = pool.clone();
    sql_source_pulls(&url, "aduan", async move |sql: &str| {
        sqlx::query(sql).execute(&p).await.unwrap();
    })
    .await;
}

async fn sql_source_pulls_incrementally_from_postgres() {
    let table = format!("aduan_{:08x}", rand::random::<u32>());
    let pool = sqlx::PgPool::connect(&postgres_url()).await.unwrap();
    sqlx::query(&format!(
        "CREATE TABLE {table} (id BIGSERIAL PRIMARY KEY, tiket TEXT, kategori TEXT, dinas TEXT, status TEXT, dibuat TIMESTAMP, diubah TIMESTAMP)"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let p = pool.clone();
    sql_source_pulls(&postgres_url(), &table, async move |sql: &str| {
        sqlx::query(sql).execute(&p).await.unwrap();
    })
    .await;
    sqlx::query(&format!("DROP TABLE {table}"))
        .execute(&pool)
        .await
        .unwrap();
}

async fn sql_source_pulls_incrementally_from_mariadb() {
    let url = crate::harness::mysql_url();
    let pool = sqlx::MySqlPool::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("MariaDB/MySQL at {url}: {e}"));
    let table = format!("aduan_{:08x}", rand::random::<u32>());
    sqlx::query(&format!(
        "CREATE TABLE {table} (id BIGINT AUTO_INCREMENT PRIMARY KEY, tiket VARCHAR(20), kategori VARCHAR(50), dinas VARCHAR(50), status VARCHAR(20), dibuat DATETIME, diubah DATETIME)"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let p = pool.clone();
    sql_source_pulls(&url, &table, async move |sql: &str| {
        sqlx::query(sql).execute(&p).await.unwrap();
    })
    .await;
    sqlx::query(&format!("DROP TABLE {table}"))
        .execute(&pool)
        .await
        .unwrap();
}
