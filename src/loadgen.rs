//! `pantau loadgen`: a load generator of real WebSocket clients against a running Pantau.
//!
//! Opens N clients, each following one topic or a whole dashboard (every panel's topic, as a wall
//! screen does), and reports what they saw:
//! messages and bytes delivered per second, latency from the data's commit (`committed_at`) to the
//! client's receipt, sequence gaps, and the server's resident memory per connection (read from its
//! `/metrics`). It is a client of the public protocol only; it imports nothing else of Pantau.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadgenArgs {
    /// WebSocket URL of the server.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    pub url: String,
    /// Number of clients.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// Seconds to measure after every client is connected.
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// Topic every client follows.
    #[arg(long, default_value = "dashboards/overview/total")]
    pub topic: String,
    /// Follow every panel of this dashboard instead of one topic (`dashboards/ID/` prefix).
    #[arg(long, value_name = "ID")]
    pub dashboard: Option<String>,
    /// Access token, when the server requires one.
    #[arg(long, env = "PANTAU_LOADGEN_TOKEN")]
    pub token: Option<String>,
    /// Connections opened at the same time while ramping up.
    #[arg(long, default_value_t = 200)]
    pub connect_concurrency: usize,
    /// Seconds to wait after connecting before reading the server's memory.
    #[arg(long, default_value_t = 2)]
    pub settle: u64,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also report the latency of each topic (which panel's updates are late).
    #[arg(long)]
    pub by_topic: bool,
}

/// What the clients saw.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Clients asked for.
    pub clients: usize,
    /// Clients that connected, subscribed and got their snapshot.
    pub connected: usize,
    /// Seconds measured.
    pub seconds: f64,
    /// Snapshots and patches received during the measurement.
    pub messages: u64,
    /// Bytes of those messages.
    pub bytes: u64,
    /// `messages / seconds`.
    pub messages_per_second: f64,
    /// Commit-to-client latency percentiles in milliseconds.
    pub latency_ms: Percentiles,
    /// Patches whose seq was not the previous seq + 1 (a correct server sends none).
    pub gaps: u64,
    /// Snapshots received after the first (a slow client skipped to the latest state).
    pub resnapshots: u64,
    /// Server resident memory before the clients connected, if the server exposes it.
    pub server_rss_before: Option<u64>,
    /// Server resident memory with every client connected and subscribed.
    pub server_rss_connected: Option<u64>,
    /// `(connected - before) / connected`, in bytes.
    pub server_bytes_per_connection: Option<f64>,
    /// With `--by-topic`: each topic's messages and latency, by topic name.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub by_topic: std::collections::BTreeMap<String, Percentiles>,
}

/// Latency percentiles, milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    /// Samples taken.
    pub samples: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    fn of(mut micros: Vec<u32>) -> Self {
        if micros.is_empty() {
            return Self::default();
        }
        micros.sort_unstable();
        let at = |q: f64| {
            let index = ((micros.len() as f64 - 1.0) * q).round() as usize;
            f64::from(micros[index]) / 1000.0
        };
        Self {
            samples: micros.len(),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// Per-client tallies, merged at the end.
#[derive(Default)]
struct Tally {
    messages: u64,
    bytes: u64,
    gaps: u64,
    resnapshots: u64,
    latencies_us: Vec<u32>,
    /// With `--by-topic`: latencies per topic.
    by_topic: std::collections::HashMap<String, Vec<u32>>,
}

/// Runs the load and returns the report.
pub async fn run(args: &LoadgenArgs) -> anyhow::Result<Report> {
    if args.clients == 0 {
        bail!("--clients must be at least 1");
    }
    let metrics_url = metrics_url(&args.url)?;
    let http = reqwest::Client::new();
    let server_rss_before = server_rss(&http, &metrics_url).await;

    let (measure_tx, measure_rx) = watch::channel(Phase::Connecting);
    let ready = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let mut tasks = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        let args = args.clone();
        let phase = measure_rx.clone();
        let ready = ready.clone();
        let failed = failed.clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let result = client(&args, phase, &ready, gate).await;
            if result.is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            result.ok()
        }));
    }
    // Wait until every client is ready or has failed (bounded: 2 minutes).
    let ramp_deadline = Instant::now() + Duration::from_secs(120);
    while (ready.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed)) < args.clients as u64 {
        if Instant::now() > ramp_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connected = ready.load(Ordering::Relaxed) as usize;
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let server_rss_connected = server_rss(&http, &metrics_url).await;

    let started = Instant::now();
    let _ = measure_tx.send(Phase::Measuring);
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    let _ = measure_tx.send(Phase::Done);
    let seconds = started.elapsed().as_secs_f64();

    let mut total = Tally::default();
    for task in tasks {
        if let Ok(Some(tally)) = task.await {
            total.messages += tally.messages;
            total.bytes += tally.bytes;
            total.gaps += tally.gaps;
            total.resnapshots += tally.resnapshots;
            total.latencies_us.extend(tally.latencies_us);
            for (topic, latencies) in tally.by_topic {
                total.by_topic.entry(topic).or_default().extend(latencies);
            }
        }
    }
    let per_connection = match (server_rss_before, server_rss_connected) {
        (Some(before), Some(after)) if connected > 0 => {
            Some((after as f64 - before as f64) / connected as f64)
        }
        _ => None,
    };
    Ok(Report {
        clients: args.clients,
        connected,
        seconds,
        messages: total.messages,
        bytes: total.bytes,
        messages_per_second: total.messages as f64 / seconds,
        latency_ms: Percentiles::of(total.latencies_us),
        gaps: total.gaps,
        resnapshots: total.resnapshots,
        server_rss_before,
        server_rss_connected,
        server_bytes_per_connection: per_connection,
        by_topic: total
            .by_topic
            .into_iter()
            .map(|(topic, latencies)| (topic, Percentiles::of(latencies)))
            .collect(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Measuring,
    Done,
}

/// One client: connect, subscribe, then count what arrives while measuring.
async fn client(
    args: &LoadgenArgs,
    mut phase: watch::Receiver<Phase>,
    ready: &AtomicU64,
    gate: Arc<Semaphore>,
) -> anyhow::Result<Tally> {
    let mut request = args.url.as_str().into_client_request()?;
    if let Some(token) = &args.token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
    }
    // Small buffers: 5,000 clients in one process would otherwise reserve hundreds of megabytes,
    // and the codec zero-fills its read buffer before every read.
    let config = WebSocketConfig::default()
        .read_buffer_size(2 * 1024)
        .write_buffer_size(0);
    let permit = gate.acquire_owned().await?;
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::connect_async_with_config(request, Some(config), true),
    )
    .await
    .context("connect timed out")??;
    let subscribe = match &args.dashboard {
        Some(id) => {
            serde_json::json!({"type": "subscribe", "prefixes": [format!("dashboards/{id}/")]})
        }
        None => serde_json::json!({"type": "subscribe", "topics": [{"topic": args.topic}]}),
    };
    ws.send(Message::text(subscribe.to_string())).await?;
    // The seq this client holds per topic.
    let mut last_seq: hashbrown::HashMap<String, u64> = Default::default();
    // Wait for the first snapshot before counting this client as ready.
    while last_seq.is_empty() {
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                if field(&text, &TYPE) == Some("snapshot") {
                    if let (Some(topic), Some(seq)) = (field(&text, &TOPIC), seq_of(&text)) {
                        last_seq.insert(topic.to_owned(), seq);
                    }
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => bail!("no snapshot"),
        }
    }
    drop(permit);
    ready.fetch_add(1, Ordering::Relaxed);

    let mut tally = Tally::default();
    loop {
        let measuring = *phase.borrow() == Phase::Measuring;
        let message = tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow() == Phase::Done {
                    break;
                }
                continue;
            }
            message = ws.next() => message,
        };
        let Some(Ok(message)) = message else { break };
        let Message::Text(text) = message else {
            continue;
        };
        let kind = field(&text, &TYPE);
        if !matches!(kind, Some("patch") | Some("snapshot")) {
            continue;
        }
        let seq = seq_of(&text);
        let topic = field(&text, &TOPIC).unwrap_or_default();
        let held = last_seq.get(topic).copied();
        if measuring {
            tally.messages += 1;
            tally.bytes += text.len() as u64;
            if let Some(committed) = field(&text, &COMMITTED_AT).and_then(utc_micros) {
                let micros = Utc::now().timestamp_micros() - committed;
                let micros = micros.clamp(0, i64::from(u32::MAX)) as u32;
                tally.latencies_us.push(micros);
                if args.by_topic {
                    match tally.by_topic.get_mut(topic) {
                        Some(list) => list.push(micros),
                        None => {
                            tally.by_topic.insert(topic.to_owned(), vec![micros]);
                        }
                    }
                }
            }
            match kind {
                Some("patch") if seq != held.map(|s| s + 1) => tally.gaps += 1,
                // A snapshot of a topic already held: the client skipped to the latest state.
                Some("snapshot") if held.is_some() => tally.resnapshots += 1,
                _ => {}
            }
        }
        if let Some(seq) = seq {
            // No allocation for a topic already held (every message but the first per topic).
            match last_seq.get_mut(topic) {
                Some(held) => *held = seq,
                None => {
                    last_seq.insert(topic.to_owned(), seq);
                }
            }
        }
    }
    let _ = ws.close(None).await;
    Ok(tally)
}

/// A searcher for a member's opening, built once: every client reads every message with them.
type Opening = std::sync::LazyLock<memchr::memmem::Finder<'static>>;

static TYPE: Opening = Opening::new(|| memchr::memmem::Finder::new("\"type\":\""));
static TOPIC: Opening = Opening::new(|| memchr::memmem::Finder::new("\"topic\":\""));
static SEQ: Opening = Opening::new(|| memchr::memmem::Finder::new("\"seq\":"));
static COMMITTED_AT: Opening = Opening::new(|| memchr::memmem::Finder::new("\"committed_at\":\""));

/// The text after `opening` up to the next `"` (a JSON string member, read without parsing).
fn field<'a>(text: &'a str, opening: &memchr::memmem::Finder) -> Option<&'a str> {
    let start = opening.find(text.as_bytes())? + opening.needle().len();
    let end = memchr::memchr(b'"', &text.as_bytes()[start..])?;
    text.get(start..start + end)
}

fn seq_of(text: &str) -> Option<u64> {
    let start = SEQ.find(text.as_bytes())? + SEQ.needle().len();
    let digits = &text.as_bytes()[start..];
    let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    (n > 0).then(|| {
        digits[..n]
            .iter()
            .fold(0u64, |v, d| v.wrapping_mul(10) + u64::from(d - b'0'))
    })
}

/// Microseconds since 1970 of an RFC 3339 UTC time as the server writes it
/// (`2026-11-22T13:15:00.983Z`), read directly; any other form through chrono.
fn utc_micros(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |v, d| v * 10 + i64::from(d - b'0')))
    };
    let fixed = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b.last() == Some(&b'Z');
    let fast = fixed.then(|| {
        let date = chrono::NaiveDate::from_ymd_opt(
            i32::try_from(num(0..4)?).ok()?,
            u32::try_from(num(5..7)?).ok()?,
            u32::try_from(num(8..10)?).ok()?,
        )?;
        let days = i64::from(chrono::Datelike::num_days_from_ce(&date) - 719_163);
        let secs = days * 86_400 + num(11..13)? * 3600 + num(14..16)? * 60 + num(17..19)?;
        let fraction = match b.get(19) {
            Some(b'.') => {
                let digits = &b[20..b.len() - 1];
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                let micros: i64 = digits
                    .iter()
                    .take(6)
                    .fold(0i64, |v, d| v * 10 + i64::from(d - b'0'));
                micros * 10i64.pow(6 - digits.len().min(6) as u32)
            }
            Some(b'Z') if b.len() == 20 => 0,
            _ => return None,
        };
        Some(secs * 1_000_000 + fraction)
    });
    fast.flatten().or_else(|| {
        text.parse::<DateTime<Utc>>()
            .ok()
            .map(|t| t.timestamp_micros())
    })
}

/// `ws://host:port/ws` → `http://host:port/metrics`.
fn metrics_url(ws_url: &str) -> anyhow::Result<String> {
    let (scheme, rest) = ws_url
        .split_once("://")
        .context("--url must look like ws://HOST:PORT/ws")?;
    let host = rest.split('/').next().unwrap_or(rest);
    let http = match scheme {
        "ws" => "http",
        "wss" => "https",
        other => bail!("--url scheme must be ws or wss, not {other}"),
    };
    Ok(format!("{http}://{host}/metrics"))
}

async fn server_rss(http: &reqwest::Client, url: &str) -> Option<u64> {
    let text = http.get(url).send().await.ok()?.text().await.ok()?;
    text.lines()
        .find(|l| l.starts_with("pantau_process_resident_memory_bytes "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "clients connected     {} of {}",
            self.connected, self.clients
        )?;
        writeln!(f, "measured              {:.1} s", self.seconds)?;
        writeln!(
            f,
            "delivered             {} messages, {:.0} messages/s, {:.1} MB/s",
            self.messages,
            self.messages_per_second,
            self.bytes as f64 / self.seconds / 1e6
        )?;
        let l = &self.latency_ms;
        writeln!(
            f,
            "commit → client       p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
            l.p50, l.p90, l.p99, l.max, l.samples
        )?;
        writeln!(
            f,
            "sequence gaps         {} (resnapshots after skipping: {})",
            self.gaps, self.resnapshots
        )?;
        match self.server_bytes_per_connection {
            Some(bytes) => write!(
                f,
                "server memory         {:.1} KiB per connection ({} → {} bytes resident)",
                bytes / 1024.0,
                self.server_rss_before.unwrap_or(0),
                self.server_rss_connected.unwrap_or(0)
            ),
            None => write!(f, "server memory         not exposed by the server"),
        }?;
        for (topic, l) in &self.by_topic {
            write!(
                f,
                "\n  {topic:<44} p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms  ({} messages)",
                l.p50, l.p99, l.max, l.samples
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_from_protocol_frames() {
        let frame = r#"{"type":"patch","topic":"overview/complaints","seq":42,"committed_at":"2026-11-22T13:15:00.983Z","merge":{}}"#;
        assert_eq!(field(frame, &TYPE), Some("patch"));
        assert_eq!(field(frame, &TOPIC), Some("overview/complaints"));
        assert_eq!(seq_of(frame), Some(42));
        assert_eq!(
            field(frame, &COMMITTED_AT),
            Some("2026-11-22T13:15:00.983Z")
        );
        // Read directly, the same instant chrono reads, for every precision the server writes.
        for t in [
            "2026-11-22T13:15:00.983Z",
            "2026-11-22T13:15:00Z",
            "2026-11-22T13:15:00.983412Z",
            "2026-11-22T13:15:00.983412789Z",
            "1999-02-28T23:59:59.5Z",
            "2026-11-22T20:15:00.983+07:00",
        ] {
            let chrono = t.parse::<DateTime<Utc>>().unwrap().timestamp_micros();
            assert_eq!(utc_micros(t), Some(chrono), "{t}");
        }
        assert_eq!(utc_micros("not a time"), None);
        assert_eq!(
            metrics_url("ws://127.0.0.1:18080/ws").unwrap(),
            "http://127.0.0.1:18080/metrics"
        );
        assert!(metrics_url("http://x/ws").is_err());
    }

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let p = Percentiles::of((1..=100).map(|ms| ms * 1000).collect());
        assert_eq!((p.p50, p.p99, p.max), (51.0, 99.0, 100.0));
        assert_eq!(Percentiles::of(Vec::new()).samples, 0);
    }
}
