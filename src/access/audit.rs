//! The audit log: who did what, when, from where, to what, with what outcome — append-only and
//! chained by hash, so a removed or edited entry is found (`pantau audit verify`).
//!
//! Each entry's hash is SHA-256 over the previous entry's hash and the entry's fields, each
//! written as `length:value` so no choice of field text can make two entries hash alike.

use std::fmt::Write as _;
use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};

use super::tokens::micros;
use super::Principal;
use crate::db::{AuditFilter, AuditRow, DbError, MetaDb, GENESIS};

/// How a decision ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Ok,
    /// Refused by access rules.
    Denied,
    /// Allowed but failed.
    Failed,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

/// One thing to write down.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    action: String,
    resource: String,
    detail: serde_json::Value,
    rows: Option<u64>,
    outcome: Outcome,
}

impl AuditEvent {
    /// `action` (`export.dataset`, `token.create`…) on `resource`, outcome ok, no details.
    pub fn new(action: &str, resource: &str) -> AuditEvent {
        AuditEvent {
            action: action.to_owned(),
            resource: resource.chars().take(500).collect(),
            detail: serde_json::Value::Object(Default::default()),
            rows: None,
            outcome: Outcome::Ok,
        }
    }

    /// With details (filters, columns, format, scope, reason).
    pub fn detail(mut self, detail: serde_json::Value) -> AuditEvent {
        self.detail = detail;
        self
    }

    /// With the number of rows handed out.
    pub fn rows(mut self, rows: u64) -> AuditEvent {
        self.rows = Some(rows);
        self
    }

    /// With another outcome.
    pub fn outcome(mut self, outcome: Outcome) -> AuditEvent {
        self.outcome = outcome;
        self
    }
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainReport {
    /// Entries checked.
    pub entries: u64,
    /// The first entry's id (after retention removed older ones it is above 1).
    pub first_id: Option<i64>,
    /// The newest entry's id and hash: note them elsewhere to detect a cut tail later.
    pub head: Option<(i64, String)>,
    /// The first break found, if any.
    pub broken: Option<String>,
}

/// Writes and reads the audit log.
#[derive(Clone)]
pub struct AuditLog {
    db: MetaDb,
    /// This server's appends one at a time (each reads the chain's end, then writes after it).
    append: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl AuditLog {
    /// The log in `db`.
    pub fn new(db: MetaDb) -> AuditLog {
        AuditLog {
            db,
            append: std::sync::Arc::default(),
        }
    }

    /// Appends `event` by `who` from `address` (`local` for the command line).
    pub async fn record(
        &self,
        who: &Principal,
        address: &str,
        event: AuditEvent,
    ) -> Result<AuditRow, DbError> {
        let entry = AuditRow {
            id: 0,
            at: micros(Utc::now()),
            actor: who.name.clone(),
            actor_kind: who.via.name().to_owned(),
            address: address.to_owned(),
            action: event.action,
            resource: event.resource,
            detail: event.detail.to_string(),
            rows: event.rows.map(|r| i64::try_from(r).unwrap_or(i64::MAX)),
            outcome: event.outcome.name().to_owned(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        let _one_at_a_time = self.append.lock().await;
        // Another process appending to the same file at the same moment makes one attempt
        // fail (the id is taken, or SQLite is busy); the next attempt follows its entry.
        let mut attempt = 0;
        loop {
            match self.db.append_audit(entry.clone(), entry_hash).await {
                Err(e) if attempt < 4 => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "Audit append retried.");
                    tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
                }
                done => return done,
            }
        }
    }

    /// Appends, logging (not returning) a failure: for refusals, whose answer must not wait on
    /// or fail with the database.
    pub async fn record_quietly(&self, who: &Principal, address: IpAddr, event: AuditEvent) {
        if let Err(e) = self.record(who, &address.to_string(), event).await {
            tracing::error!(error = %e, "Cannot write the audit log.");
        }
    }

    /// Entries matching `filter`, newest first.
    pub async fn entries(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>, DbError> {
        self.db.audit(filter).await
    }

    /// Walks the whole chain: ids without gaps, each `prev_hash` the hash before it, each hash
    /// recomputed from its fields.
    pub async fn verify(&self) -> Result<ChainReport, DbError> {
        let mut report = ChainReport {
            entries: 0,
            first_id: None,
            head: None,
            broken: None,
        };
        let mut after = 0;
        let mut previous: Option<(i64, String)> = None;
        loop {
            let page = self.db.audit_chain(after, 1000).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.id;
            for entry in page {
                report.entries += 1;
                if let Some(problem) = break_at(previous.as_ref(), &entry) {
                    report.broken = Some(problem);
                    return Ok(report);
                }
                report.first_id.get_or_insert(entry.id);
                previous = Some((entry.id, entry.hash.clone()));
            }
        }
        report.head = previous;
        Ok(report)
    }

    /// Removes entries older than `days` (the newest always stays) and records that it did.
    pub async fn prune(&self, days: u32) -> Result<u64, DbError> {
        let before = Utc::now() - chrono::TimeDelta::days(i64::from(days));
        let removed = {
            let _one_at_a_time = self.append.lock().await;
            self.db.prune_audit(before).await?
        };
        if removed > 0 {
            let event = AuditEvent::new("audit.prune", "audit_log").detail(serde_json::json!({
                "removed": removed, "older_than": before.to_rfc3339_opts(SecondsFormat::Secs, true)
            }));
            self.record(&Principal::system(), "local", event).await?;
        }
        Ok(removed)
    }
}

/// What is wrong between `previous` and `entry`, if anything.
fn break_at(previous: Option<&(i64, String)>, entry: &AuditRow) -> Option<String> {
    match previous {
        Some((id, _)) if entry.id != id + 1 => {
            return Some(format!(
                "entries {} to {} are missing (after {id} comes {})",
                id + 1,
                entry.id - 1,
                entry.id
            ))
        }
        Some((_, hash)) if entry.prev_hash != *hash => {
            return Some(format!(
                "entry {} does not follow entry {}: its prev_hash is not that entry's hash",
                entry.id,
                entry.id - 1
            ))
        }
        // The chain's start: only entry 1 must begin at the genesis hash; a later first entry
        // is where retention cut, and its prev_hash stands for what was removed.
        None if entry.id == 1 && entry.prev_hash != GENESIS => {
            return Some("entry 1 does not begin the chain".into())
        }
        _ => {}
    }
    (entry_hash(entry) != entry.hash).then(|| {
        format!(
            "entry {} was changed after it was written (its hash does not match its fields)",
            entry.id
        )
    })
}

/// The hash an entry must carry.
pub(crate) fn entry_hash(e: &AuditRow) -> String {
    let rows = e.rows.map(|r| r.to_string()).unwrap_or_default();
    let at = timestamp(e.at);
    let mut text = String::new();
    for field in [
        e.prev_hash.as_str(),
        &e.id.to_string(),
        &at,
        &e.actor,
        &e.actor_kind,
        &e.address,
        &e.action,
        &e.resource,
        &e.detail,
        &rows,
        &e.outcome,
    ] {
        let _ = write!(text, "{}:{field}", field.len());
    }
    crate::db::payload_hash(&text)
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, prev: &str) -> AuditRow {
        let mut e = AuditRow {
            id,
            at: micros(Utc::now()),
            actor: "lobby".into(),
            actor_kind: "token".into(),
            address: "10.0.0.1".into(),
            action: "export.dataset".into(),
            resource: "datasets/complaints".into(),
            detail: "{}".into(),
            rows: Some(3),
            outcome: "ok".into(),
            prev_hash: prev.into(),
            hash: String::new(),
        };
        e.hash = entry_hash(&e);
        e
    }

    #[test]
    fn a_changed_field_or_a_missing_entry_breaks_the_chain() {
        let first = entry(1, GENESIS);
        let second = entry(2, &first.hash);
        assert_eq!(break_at(None, &first), None);
        let link = Some((1, first.hash.clone()));
        assert_eq!(break_at(link.as_ref(), &second), None);

        let mut edited = second.clone();
        edited.rows = Some(30);
        assert!(break_at(link.as_ref(), &edited)
            .unwrap()
            .contains("changed"));
        let third = entry(3, &second.hash);
        assert!(break_at(link.as_ref(), &third).unwrap().contains("missing"));
        let forged = entry(2, GENESIS);
        assert!(break_at(link.as_ref(), &forged)
            .unwrap()
            .contains("does not follow"));
        assert!(break_at(None, &entry(1, &first.hash)).is_some());
        // Where retention cut, the first kept entry stands on its own.
        assert_eq!(break_at(None, &entry(40, &first.hash)), None);
    }

    #[test]
    fn fields_cannot_be_shifted_into_each_other() {
        let a = entry(1, GENESIS);
        let mut b = a.clone();
        b.actor = "lobbytoken".into();
        b.actor_kind = String::new();
        assert_ne!(entry_hash(&a), entry_hash(&b));
    }
}
