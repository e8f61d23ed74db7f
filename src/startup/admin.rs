//! `pantau token …`, `pantau user …` and `pantau audit verify`: the access records of an
//! instance, from its command line. They open only the metadata database, so they run beside a
//! running server (which sees a new or revoked token within `access.token_refresh_secs`, and a
//! new, disabled or reset account at its next request).

use chrono::{DateTime, Utc};

use crate::access::{
    AccessSettings, Accounts, AuditLog, ChainReport, NewToken, NewUser, Principal, TokenInfo,
    TokenRegistry, UserInfo,
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

/// What `pantau user …` does.
#[derive(Debug)]
pub enum UserJob {
    /// Make an account.
    Add(NewUser),
    /// List the accounts.
    List,
    /// Disable an account.
    Disable(String),
    /// Give an account a new one-time password.
    ResetPassword(String),
}

/// What a [`UserJob`] gives back.
#[derive(Debug)]
pub enum UserDone {
    /// The account made and its one-time password.
    Added(String, UserInfo),
    /// Every account.
    Listed(Vec<UserInfo>),
    /// The account is disabled.
    Disabled,
    /// The new one-time password.
    Reset(String),
}

/// Runs `job` on the metadata database; changes are audited as the command line's user.
pub async fn users(settings: &Settings, job: UserJob) -> anyhow::Result<UserDone> {
    std::fs::create_dir_all(&settings.data.dir)?;
    let target = settings.database_target()?;
    let db = MetaDb::connect(&target, &settings.database).await?;
    let accounts = Accounts::new(&settings.access, db.clone());
    let audit = AuditLog::new(db.clone());
    let by = Principal::cli();
    let done = match job {
        UserJob::Add(new) => accounts
            .add(&audit, &by, "local", new)
            .await
            .map(|(password, info)| UserDone::Added(password, info)),
        UserJob::List => accounts
            .list()
            .await
            .map(UserDone::Listed)
            .map_err(Into::into),
        UserJob::Disable(name) => accounts
            .disable(&audit, &by, "local", &name)
            .await
            .map(|()| UserDone::Disabled),
        UserJob::ResetPassword(name) => accounts
            .reset_password(&audit, &by, "local", &name)
            .await
            .map(UserDone::Reset),
    };
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
