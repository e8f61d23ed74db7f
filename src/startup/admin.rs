//! `pantau token …` and `pantau audit verify`: the access records of an instance, from its
//! command line. They open only the metadata database, so they run beside a running server
//! (which sees a new or revoked token within `access.token_refresh_secs`).

use chrono::{DateTime, Utc};

use crate::access::{
    AccessSettings, AuditLog, ChainReport, NewToken, Principal, TokenInfo, TokenRegistry,
};
use crate::config::Settings;
use crate::db::MetaDb;

async fn open(settings: &Settings) -> anyhow::Result<(MetaDb, TokenRegistry)> {
    std::fs::create_dir_all(&settings.data.dir)?;
    let target = settings.database_target()?;
    let db = MetaDb::connect(&target, &settings.database).await?;
    // The database's tokens only: the tokens file is the server's to read.
    let only_db = AccessSettings {
        tokens_file: None,
        ..settings.access.clone()
    };
    let registry = TokenRegistry::open(&only_db, db.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((db, registry))
}

/// Makes a token; returns its secret and record.
pub async fn create_token(
    settings: &Settings,
    new: NewToken,
) -> anyhow::Result<(String, TokenInfo)> {
    let (db, registry) = open(settings).await?;
    let made = registry
        .create(&AuditLog::new(db.clone()), &Principal::cli(), "local", new)
        .await;
    db.close().await;
    Ok(made?)
}

/// Every token of the database.
pub async fn list_tokens(settings: &Settings) -> anyhow::Result<Vec<TokenInfo>> {
    let (db, registry) = open(settings).await?;
    let list = registry.list().await;
    db.close().await;
    Ok(list?)
}

/// Revokes a token by name.
pub async fn revoke_token(settings: &Settings, name: &str) -> anyhow::Result<()> {
    let (db, registry) = open(settings).await?;
    let done = registry
        .revoke(&AuditLog::new(db.clone()), &Principal::cli(), "local", name)
        .await;
    db.close().await;
    Ok(done?)
}

/// Walks the audit chain.
pub async fn verify_audit(settings: &Settings) -> anyhow::Result<ChainReport> {
    let target = settings.database_target()?;
    let db = MetaDb::connect(&target, &settings.database).await?;
    let report = AuditLog::new(db.clone()).verify().await;
    db.close().await;
    Ok(report?)
}

/// `--expires`: a number of days (`90d`), hours (`12h`), or a moment in the deployment's zone.
pub fn parse_expiry(text: &str, settings: &Settings) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    let span = |n: &str, unit: i64| {
        n.parse::<i64>()
            .ok()
            .filter(|n| (1..=36_500 * 24).contains(n))
            .map(|n| Utc::now() + chrono::TimeDelta::hours(n * unit))
    };
    if let Some(at) = text.strip_suffix('d').and_then(|n| span(n, 24)) {
        return Ok(at);
    }
    if let Some(at) = text.strip_suffix('h').and_then(|n| span(n, 1)) {
        return Ok(at);
    }
    crate::domain::parse_instant(text, settings.deployment.tz()).map_err(|e| {
        format!("--expires: '{text}' is neither a span like 90d or 12h nor a moment: {e}")
    })
}
