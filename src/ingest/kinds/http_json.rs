//! The `http_json` source: a generic JSON API (LAPOR!-, Qlue-, e-Sambat- or SIPD-style endpoints).
//!
//! A URL template carries the cursor (`{cursor}`: the newest record time seen, RFC 3339), the page
//! (`{page}`) or a page token (`{token}`); records sit at a path in each answer and are read with a
//! declarative mapping. Pages are followed by a next link, a page number or a token until a page
//! comes back empty, `max_pages` is reached or `max_pull_mib` of answers were read (then the next
//! pull continues at once). An auth
//! header takes its value from the environment, and URLs in messages have secrets removed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::SecondsFormat;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;

use super::files::records_at;
use super::{BuildContext, SourceSpec};
use crate::ingest::mapping::{Keep, lookup, Bound, Layout, Mapping, Rows};
use crate::ingest::{Pulled, Source, SourceError, SourceIdentity};
pub use crate::domain::settings::redact_url as redact;

/// Largest answer read (a misconfigured endpoint must not exhaust memory).
const MAX_BODY_BYTES: usize = 256 << 20;


/// `type = "http_json"` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpJsonConfig {
    /// URL template: `{cursor}`, `{page}` and `{token}` are replaced (URL-encoded).
    pub url: String,
    /// Where records sit in an answer (`data.items`); unset: the mapping's `records`, else the root.
    #[serde(default)]
    pub records: Option<String>,
    /// How to reach the next page.
    #[serde(default)]
    pub pagination: Pagination,
    /// `{cursor}` on the very first pull (e.g. `2026-01-01T00:00:00+07:00`).
    #[serde(default)]
    pub initial_cursor: String,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Header carrying the credential (e.g. `Authorization`)…
    #[serde(default)]
    pub auth_header: Option<String>,
    /// …and the environment variable holding its whole value (e.g. `Bearer eyJ…`).
    #[serde(default)]
    pub auth_env: Option<String>,
    /// Other origins (`https://cdn.example`) a `next_link` may lead to; they get no credential and
    /// none of `headers`. A link to an origin not listed fails the pull.
    #[serde(default)]
    pub follow_origins: Vec<String>,
    /// Pages read per pull at most.
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
    /// Megabytes of answers one pull reads at most; past it the pull ends after the page that
    /// crossed it and the next pull continues at once (memory stays bounded, however many pages).
    #[serde(default = "default_max_pull_mib")]
    pub max_pull_mib: f64,
    /// Seconds before a request is abandoned.
    #[serde(default = "super::open311::default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_max_pages() -> u32 {
    100
}

fn default_max_pull_mib() -> f64 {
    64.0
}

/// How an API pages its answers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pagination {
    /// One answer holds everything after the cursor.
    #[default]
    None,
    /// The answer holds the next page's URL at `path` (null or absent at the end).
    NextLink {
        /// Path of the link in the answer, e.g. `links.next`.
        path: String,
    },
    /// `{page}` counts up from `start` until a page is empty.
    Page {
        /// The first page's number.
        #[serde(default = "one")]
        start: u32,
    },
    /// The answer holds a token for the next page at `path`, sent as `{token}`.
    Token {
        /// Path of the token in the answer, e.g. `meta.next_cursor`.
        path: String,
    },
}

fn one() -> u32 {
    1
}

/// An HTTP client with a time limit per request.
#[derive(Clone)]
pub struct HttpClient(reqwest::Client);

impl HttpClient {
    /// A client abandoning requests after `timeout`.
    pub fn new(timeout: Duration) -> Result<HttpClient, String> {
        reqwest::Client::builder()
            .timeout(timeout)
            // A redirect would carry the configured headers (an API key among them) along: follow
            // one only within the origin it starts from.
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let from = attempt.previous().first().map(|u| u.origin());
                if attempt.previous().len() > 10 {
                    attempt.error("more than 10 redirects")
                } else if from.as_ref() == Some(&attempt.url().origin()) {
                    attempt.follow()
                } else {
                    let to = attempt.url().origin().ascii_serialization();
                    attempt.error(format!("redirected to another origin ({to}), not followed"))
                }
            }))
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("pantau/", env!("CARGO_PKG_VERSION")))
            .build()
            .map(HttpClient)
            .map_err(|e| format!("cannot build an HTTP client: {e}"))
    }
}

/// GETs `url` and reads the answer as JSON, mapping each failure to a reason an operator can act on.
pub async fn get_json(
    client: &HttpClient,
    url: &str,
    headers: &[(String, String)],
) -> Result<(Value, usize), SourceError> {
    let target = redact(url);
    let mut request = client.0.get(url).header("Accept", "application/json");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let unreachable = |e: reqwest::Error| SourceError::Unreachable {
        target: target.clone(),
        reason: if e.is_timeout() {
            "no answer in time".to_owned()
        } else if e.is_connect() {
            format!("cannot connect: {}", root_cause(&e))
        } else {
            root_cause(&e)
        },
    };
    let mut response = request.send().await.map_err(unreachable)?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(SourceError::Malformed {
                target,
                reason: format!("answer larger than {} MiB", MAX_BODY_BYTES >> 20),
            });
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        return Err(SourceError::Status {
            target,
            status: status.as_u16(),
            body: crate::ingest::mapping::quote(&String::from_utf8_lossy(&body)),
        });
    }
    let document = serde_json::from_slice(&body).map_err(|e| SourceError::Malformed {
        target,
        reason: format!("not valid JSON ({} bytes): {e}", body.len()),
    })?;
    Ok((document, body.len()))
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut at = e;
    while let Some(next) = at.source() {
        at = next;
    }
    at.to_string()
}

/// `scheme://host[:port]` of an http(s) URL, or why it is not one.
pub fn origin_of(url: &str) -> Result<String, String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("'{}' is not a URL: {e}", redact(url)))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("'{}' is not an http(s) URL", redact(url)));
    }
    Ok(parsed.origin().ascii_serialization())
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The generic JSON API source.
pub struct HttpJson {
    identity: SourceIdentity,
    config: HttpJsonConfig,
    client: HttpClient,
    headers: Vec<(String, String)>,
    /// The configured URL's origin: the only one that gets `headers`.
    origin: String,
    /// Further origins a next link may lead to, without `headers`.
    follow: Vec<String>,
    bound: Bound,
    records: Option<String>,
}

impl HttpJson {
    /// A JSON API source; reads its credential from the environment now, so a missing one fails at start.
    pub fn new(
        id: &str,
        interval: Duration,
        config: HttpJsonConfig,
        mapping: Arc<Mapping>,
    ) -> Result<HttpJson, String> {
        let mut headers: Vec<(String, String)> = config.headers.clone().into_iter().collect();
        match (&config.auth_header, &config.auth_env) {
            (Some(header), Some(var)) => {
                let value = std::env::var(var)
                    .map_err(|_| format!("auth_env: environment variable {var} is not set"))?;
                headers.push((header.clone(), value));
            }
            (None, None) => {}
            _ => return Err("auth_header and auth_env go together".to_owned()),
        }
        if matches!(config.pagination, Pagination::Page { .. }) && !config.url.contains("{page}") {
            return Err("pagination kind = \"page\" needs {page} in the url".to_owned());
        }
        if matches!(config.pagination, Pagination::Token { .. }) && !config.url.contains("{token}")
        {
            return Err("pagination kind = \"token\" needs {token} in the url".to_owned());
        }
        let records = config
            .records
            .clone()
            .or_else(|| mapping.spec.records.clone());
        let origin = origin_of(&config.url.replace(['{', '}'], "")).map_err(|e| format!("url: {e}"))?;
        let follow = config
            .follow_origins
            .iter()
            .map(|o| origin_of(o).map_err(|e| format!("follow_origins: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let bound = mapping.bind(Layout::Json).map_err(|e| e.to_string())?;
        Ok(HttpJson {
            identity: SourceIdentity {
                id: id.to_owned(),
                kind: "http_json",
                dataset: mapping.dataset(),
                interval,
            },
            client: HttpClient::new(Duration::from_secs(config.timeout_secs))?,
            config,
            headers,
            origin,
            follow,
            bound,
            records,
        })
    }

    fn url(&self, cursor: &str, page: u32, token: &str) -> String {
        self.config
            .url
            .replace("{cursor}", &encode(cursor))
            .replace("{page}", &page.to_string())
            .replace("{token}", &encode(token))
    }

    /// The headers a request to `url` carries: all of them on the configured origin, none on an
    /// origin of `follow_origins`; any other origin is refused.
    fn headers_for(&self, url: &str) -> Result<&[(String, String)], SourceError> {
        let refuse = |reason: String| SourceError::Malformed {
            target: redact(url),
            reason,
        };
        let origin = origin_of(url).map_err(refuse)?;
        if origin == self.origin {
            Ok(self.headers.as_slice())
        } else if self.follow.contains(&origin) {
            Ok(&[][..])
        } else {
            Err(refuse(format!(
                "the next page is on another origin ({origin}), not followed: the credential goes only to {}; list it in follow_origins to read it without the credential",
                self.origin
            )))
        }
    }

    async fn pull_inner(&mut self, cursor: Option<String>) -> Result<Pulled, SourceError> {
        let cursor = cursor.unwrap_or_else(|| self.config.initial_cursor.clone());
        let mut rows = Rows::new(self.bound.mapping().dataset());
        let mut page = match self.config.pagination {
            Pagination::Page { start } => start,
            _ => 1,
        };
        let mut url = self.url(&cursor, page, "");
        let mut more = false;
        let budget = (self.config.max_pull_mib * 1024.0 * 1024.0) as usize;
        let mut read_bytes = 0usize;
        for read in 1..=self.config.max_pages.max(1) {
            let (document, bytes) = get_json(&self.client, &url, self.headers_for(&url)?).await?;
            read_bytes += bytes;
            let records = records_at(&document, self.records.as_deref()).map_err(|reason| {
                SourceError::Malformed {
                    target: redact(&url),
                    reason,
                }
            })?;
            for record in &records {
                self.bound.collect(record, &self.identity.id, &mut rows);
            }
            let next = match &self.config.pagination {
                Pagination::None => None,
                Pagination::NextLink { path } => match lookup(&document, path)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                {
                    // A relative link is read against the page it came from.
                    Some(link) => Some(
                        reqwest::Url::parse(&url)
                            .and_then(|base| base.join(link))
                            .map(|u| u.to_string())
                            .map_err(|e| SourceError::Malformed {
                                target: redact(&url),
                                reason: format!(
                                    "next link '{}' is not a URL: {e}",
                                    crate::ingest::mapping::quote(link)
                                ),
                            })?,
                    ),
                    None => None,
                },
                Pagination::Page { .. } if records.is_empty() => None,
                Pagination::Page { .. } => {
                    page += 1;
                    Some(self.url(&cursor, page, ""))
                }
                Pagination::Token { path } => lookup(&document, path)
                    .and_then(|v| match v {
                        Value::String(s) if !s.is_empty() => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .map(|token| self.url(&cursor, page, &token)),
            };
            match next {
                None => break,
                Some(next) => {
                    url = next;
                    more = read == self.config.max_pages.max(1) || read_bytes >= budget;
                    if read_bytes >= budget {
                        break;
                    }
                }
            }
        }
        self.bound.finish(&mut rows);
        let next_cursor = rows
            .newest
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
        Ok(Pulled {
            rows,
            cursor: next_cursor,
            more,
        })
    }
}

impl Source for HttpJson {
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


impl SourceSpec for HttpJsonConfig {
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Source>, String> {
        if !(0.01..=4096.0).contains(&self.max_pull_mib) {
            return Err(format!(
                "max_pull_mib: must be 0.01..=4096, got {}",
                self.max_pull_mib
            ));
        }
        Ok(Box::new(HttpJson::new(
            ctx.id,
            ctx.interval,
            self.clone(),
            ctx.load_mapping()?,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_values_encoded() {
        assert_eq!(
            redact("https://x/api?since=1&api_key=abc&Token=t"),
            "https://x/api?since=1&api_key=***&Token=***"
        );
        assert_eq!(
            encode("2026-01-01T00:00:00+07:00"),
            "2026-01-01T00%3A00%3A00%2B07%3A00"
        );
    }
}
