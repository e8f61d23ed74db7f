//! The `open311` source: a GeoReport v2 endpoint (`services.json`, `requests.json`).
//!
//! GeoReport's `start_date`/`end_date` filter on `requested_datetime`, so a status change of an
//! older request is only seen by asking for its window again. The source walks forward in windows
//! of at most `window_days` from `since`; once caught up, every pull asks again for the last
//! `lookback_hours`, and the store's upserts absorb the requests seen before. Paging (`page`,
//! `page_size`, a common extension) is used when `page_size` is set. The cursor is the start of the
//! next window and the next page: `2020-01-01T00:00:00Z#2`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;

use super::http_json::{get_json, redact, HttpClient};
use super::{BuildContext, SourceSpec};
use crate::ingest::mapping::{Keep, Bound, Layout, Mapping, MappingSpec, Rows};
use crate::ingest::{Pulled, Source, SourceError, SourceIdentity};
use crate::domain::Dataset;

/// How the fields of a GeoReport v2 request map onto a complaint.
const MAPPING: &str = r#"
dataset = "complaints"
[fields]
source_id = "service_request_id"
category = { column = ["service_name", "service_code"] }
opd = { column = "agency_responsible", default = "Belum ditentukan" }
status = { column = "status", vocabulary = "open311", notes = "status_notes" }
created_at = "requested_datetime"
updated_at = { column = ["updated_datetime", "requested_datetime"] }
sla_due_at = "expected_datetime"
lat = "lat"
lon = "long"
"#;

/// `type = "open311"` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Open311Config {
    /// Endpoint base, e.g. `https://city.example/open311/v2` (`services.json` is appended).
    pub base_url: String,
    /// `jurisdiction_id`, for endpoints serving several cities.
    #[serde(default)]
    pub jurisdiction_id: Option<String>,
    /// Environment variable holding an `api_key`, if the endpoint wants one.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Start of the first window; unset means 30 days before the first pull.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// Longest window asked for at once (the spec lets servers cap a window at 90 days).
    #[serde(default = "default_window_days")]
    pub window_days: u32,
    /// Once caught up, how far back each pull looks again for status changes.
    #[serde(default = "default_lookback_hours")]
    pub lookback_hours: u32,
    /// Requests per page; unset: no paging parameters are sent.
    #[serde(default)]
    pub page_size: Option<u32>,
    /// Seconds before a request is abandoned.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_window_days() -> u32 {
    7
}
fn default_lookback_hours() -> u32 {
    24
}
pub(super) fn default_timeout_secs() -> u64 {
    30
}

/// The Open311 source.
pub struct Open311 {
    identity: SourceIdentity,
    config: Open311Config,
    client: HttpClient,
    api_key: Option<String>,
    bound: Bound,
    /// service_code → service_name, from `services.json`.
    services: Option<HashMap<String, String>>,
}

/// The built-in GeoReport v2 mapping (GeoReport times carry their offset, so no zone is needed).
pub fn mapping() -> Result<Arc<Mapping>, String> {
    let spec: MappingSpec = toml::from_str(MAPPING).map_err(|e| e.to_string())?;
    Mapping::new(spec, "open311 built-in mapping", chrono_tz::UTC)
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

impl Open311 {
    /// An Open311 source; reads its API key from the environment now, so a missing one fails at start.
    pub fn new(id: &str, interval: Duration, config: Open311Config) -> Result<Open311, String> {
        let mapping = mapping()?;
        let bound = mapping.bind(Layout::Json).map_err(|e| e.to_string())?;
        let api_key = match &config.api_key_env {
            None => None,
            Some(var) => Some(
                std::env::var(var)
                    .map_err(|_| format!("api_key_env: environment variable {var} is not set"))?,
            ),
        };
        if !config.base_url.starts_with("http://") && !config.base_url.starts_with("https://") {
            return Err(format!(
                "base_url '{}' is not an http(s) URL",
                config.base_url
            ));
        }
        Ok(Open311 {
            identity: SourceIdentity {
                id: id.to_owned(),
                kind: "open311",
                dataset: Dataset::Complaints,
                interval,
            },
            client: HttpClient::new(Duration::from_secs(config.timeout_secs))?,
            config,
            api_key,
            bound,
            services: None,
        })
    }

    fn url(&self, file: &str, params: &[(&str, String)]) -> String {
        let mut url = format!("{}/{file}", self.config.base_url.trim_end_matches('/'));
        let mut all: Vec<(&str, String)> = params.to_vec();
        if let Some(j) = &self.config.jurisdiction_id {
            all.push(("jurisdiction_id", j.clone()));
        }
        if let Some(key) = &self.api_key {
            all.push(("api_key", key.clone()));
        }
        for (i, (k, v)) in all.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.push_str(&super::http_json::encode(v));
        }
        url
    }

    async fn pull_inner(&mut self, cursor: Option<String>) -> Result<Pulled, SourceError> {
        if self.services.is_none() {
            let url = self.url("services.json", &[]);
            let (document, _) = get_json(&self.client, &url, &[]).await?;
            let list = document.as_array().ok_or_else(|| SourceError::Malformed {
                target: redact(&url),
                reason: "services.json is not an array".to_owned(),
            })?;
            self.services = Some(
                list.iter()
                    .filter_map(|s| {
                        Some((
                            s.get("service_code")?.as_str()?.to_owned(),
                            s.get("service_name")?.as_str()?.to_owned(),
                        ))
                    })
                    .collect(),
            );
        }
        let now = Utc::now();
        let (start, page) = parse_cursor(cursor.as_deref(), self.config.since, now)?;
        let end =
            (start + chrono::Duration::days(i64::from(self.config.window_days.max(1)))).min(now);
        let mut params = vec![
            (
                "start_date",
                start.to_rfc3339_opts(SecondsFormat::Secs, true),
            ),
            ("end_date", end.to_rfc3339_opts(SecondsFormat::Secs, true)),
        ];
        if let Some(size) = self.config.page_size {
            params.push(("page", page.to_string()));
            params.push(("page_size", size.to_string()));
        }
        let url = self.url("requests.json", &params);
        let (document, _) = get_json(&self.client, &url, &[]).await?;
        let Value::Array(requests) = document else {
            return Err(SourceError::Malformed {
                target: redact(&url),
                reason: "requests.json is not an array of requests".to_owned(),
            });
        };
        let mut rows = Rows::new(Dataset::Complaints);
        let services = self.services.as_ref();
        for mut request in requests.iter().cloned() {
            // A request without a service name takes it from services.json.
            if request
                .get("service_name")
                .and_then(Value::as_str)
                .is_none()
            {
                let name = request
                    .get("service_code")
                    .and_then(Value::as_str)
                    .and_then(|code| services?.get(code))
                    .cloned();
                if let (Some(name), Some(object)) = (name, request.as_object_mut()) {
                    object.insert("service_name".to_owned(), Value::String(name));
                }
            }
            self.bound.collect(&request, &self.identity.id, &mut rows);
        }
        self.bound.finish(&mut rows);
        let full_page = self
            .config
            .page_size
            .is_some_and(|size| requests.len() as u64 >= u64::from(size));
        let (next, more) = if full_page {
            (format_cursor(start, page + 1), true)
        } else if end < now {
            (format_cursor(end, 1), true)
        } else {
            let lookback = now - chrono::Duration::hours(i64::from(self.config.lookback_hours));
            (format_cursor(start.max(lookback), 1), false)
        };
        Ok(Pulled {
            rows,
            cursor: Some(next),
            more,
        })
    }
}

fn format_cursor(start: DateTime<Utc>, page: u32) -> String {
    format!(
        "{}#{page}",
        start.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

fn parse_cursor(
    cursor: Option<&str>,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, u32), SourceError> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok((since.unwrap_or(now - chrono::Duration::days(30)), 1));
    };
    let bad = |reason: &str| SourceError::BadCursor {
        cursor: cursor.to_owned(),
        reason: reason.to_owned(),
    };
    let (time, page) = cursor.split_once('#').unwrap_or((cursor, "1"));
    let start = DateTime::parse_from_rfc3339(time)
        .map_err(|_| bad("expected an RFC 3339 time"))?
        .with_timezone(&Utc);
    let page = page
        .parse()
        .map_err(|_| bad("expected a page number after '#'"))?;
    Ok((start, page))
}

impl Source for Open311 {
    fn identity(&self) -> &SourceIdentity {
        &self.identity
    }

    fn keep(&self) -> Option<Keep> {
        Some(self.bound.mapping().keep())
    }

    fn pull(&mut self, cursor: Option<String>) -> BoxFuture<'_, Result<Pulled, SourceError>> {
        Box::pin(self.pull_inner(cursor))
    }
}


impl SourceSpec for Open311Config {
    fn mapping(&self, ctx: &BuildContext<'_>) -> Result<Option<Arc<Mapping>>, String> {
        if ctx.mapping.is_some() {
            return Err("mapping: open311 has a built-in mapping".to_owned());
        }
        mapping().map(Some)
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Source>, String> {
        self.mapping(ctx)?;
        Ok(Box::new(Open311::new(ctx.id, ctx.interval, self.clone())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_named() {
        let now = Utc::now();
        let start = DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = format_cursor(start, 3);
        assert_eq!(parse_cursor(Some(&c), None, now).unwrap(), (start, 3));
        assert_eq!(parse_cursor(None, Some(start), now).unwrap(), (start, 1));
        assert!(matches!(
            parse_cursor(Some("yesterday"), None, now),
            Err(SourceError::BadCursor { .. })
        ));
    }
}
