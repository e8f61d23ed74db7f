//! The Prometheus metric families of one instance, served as text at `/metrics`.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of HTTP request metrics; `route` is the matched route pattern, never the raw path,
/// so a scanner cannot blow up the label cardinality.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// HTTP method.
    pub method: String,
    /// Matched route, e.g. `/api/datasets/{name}`, or `unmatched`.
    pub route: String,
    /// Response status code.
    pub status: u16,
}

/// Labels of HTTP latency: status left out to keep the histogram count small.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// HTTP method.
    pub method: String,
    /// Matched route pattern.
    pub route: String,
}

/// Labels of per-source metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// Source id from the configuration.
    pub source: String,
}

/// Labels of per-dataset metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DatasetLabels {
    /// Dataset name, e.g. `complaints`.
    pub dataset: String,
}

/// Labels of live-connection outcomes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Stable reason or error code, e.g. `heartbeat_timeout`, `token_invalid`.
    pub reason: String,
}

/// Labels of exports: the format and how it ended (`ok`, `refused`, `failed`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExportLabels {
    /// `csv`, `xlsx`, `parquet`, `geojson`, `json` or `snapshot`.
    pub format: String,
    /// `ok`, `refused` (a client error or too many at once) or `failed`.
    pub outcome: String,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Shared handle to the metric families; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_latency: LatencyFamily,
    http_connections: Gauge,
    http_connections_refused: Family<ReasonLabels, Counter>,
    ws_connections: Gauge,
    ws_subscriptions: Gauge,
    ws_messages_out: Counter,
    ws_bytes_out: Counter,
    ws_coalesced: Counter,
    ws_closed: Family<ReasonLabels, Counter>,
    ws_refused: Family<ReasonLabels, Counter>,
    rows_ingested: Family<DatasetLabels, Counter>,
    source_errors: Family<SourceLabels, Counter>,
    source_lag: Family<SourceLabels, Gauge<f64, AtomicU64>>,
    rows_quarantined: Family<SourceLabels, Counter>,
    exports: Family<ExportLabels, Counter>,
    export_rows: Counter,
    resident_memory: Gauge,
    store_heap: Family<DatasetLabels, Gauge>,
    store_rows: Family<DatasetLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every family registered (one per application, so tests do not mix).
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("pantau");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered",
            http_requests.clone(),
        );
        let http_latency = LatencyFamily::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            http_latency.clone(),
        );
        let http_connections = Gauge::default();
        registry.register(
            "http_connections",
            "Open TCP connections (HTTP and WebSocket)",
            http_connections.clone(),
        );
        let http_connections_refused = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "http_connections_refused",
            "Connections closed at once because a cap was reached, by reason \
             (too_many_connections, too_many_connections_per_address)",
            http_connections_refused.clone(),
        );
        let ws_connections = Gauge::default();
        registry.register(
            "ws_connections",
            "Open WebSocket connections",
            ws_connections.clone(),
        );
        let ws_subscriptions = Gauge::default();
        registry.register(
            "ws_subscriptions",
            "Topics followed over all WebSocket connections",
            ws_subscriptions.clone(),
        );
        let ws_messages_out = Counter::default();
        registry.register(
            "ws_messages_out",
            "Data messages sent to WebSocket clients",
            ws_messages_out.clone(),
        );
        let ws_bytes_out = Counter::default();
        registry.register(
            "ws_bytes_out",
            "Bytes of data messages sent to WebSocket clients",
            ws_bytes_out.clone(),
        );
        let ws_coalesced = Counter::default();
        registry.register(
            "ws_coalesced_updates",
            "Topic updates a slow client skipped because a newer state superseded them",
            ws_coalesced.clone(),
        );
        let ws_closed = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "ws_closed_by_server",
            "WebSocket connections the server closed, by reason (slow_client, heartbeat_timeout, …)",
            ws_closed.clone(),
        );
        let ws_refused = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "ws_refused",
            "WebSocket connections refused before the upgrade, and client messages refused, by code",
            ws_refused.clone(),
        );
        let rows_ingested = Family::<DatasetLabels, Counter>::default();
        registry.register(
            "rows_ingested",
            "Rows durably appended to the store",
            rows_ingested.clone(),
        );
        let source_errors = Family::<SourceLabels, Counter>::default();
        registry.register(
            "source_errors",
            "Failed pulls per source",
            source_errors.clone(),
        );
        let source_lag = Family::<SourceLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "source_lag_seconds",
            "Age of the newest record pulled from a source",
            source_lag.clone(),
        );
        let rows_quarantined = Family::<SourceLabels, Counter>::default();
        registry.register(
            "rows_quarantined",
            "Records a source delivered that were quarantined instead of stored",
            rows_quarantined.clone(),
        );
        let exports = Family::<ExportLabels, Counter>::default();
        registry.register(
            "exports",
            "Exports and snapshots, by format and outcome",
            exports.clone(),
        );
        let export_rows = Counter::default();
        registry.register(
            "export_rows",
            "Rows written by exports and snapshots",
            export_rows.clone(),
        );
        let resident_memory = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of this process (read at each scrape)",
            resident_memory.clone(),
        );
        let store_heap = Family::<DatasetLabels, Gauge>::default();
        registry.register(
            "store_heap_bytes",
            "Memory the store's hot table of a dataset holds: columns, keys and their index (read at each scrape)",
            store_heap.clone(),
        );
        let store_rows = Family::<DatasetLabels, Gauge>::default();
        registry.register(
            "store_rows",
            "Row versions in the store's hot table of a dataset (read at each scrape)",
            store_rows.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                resident_memory,
                store_heap,
                store_rows,
                http_requests,
                http_latency,
                http_connections,
                http_connections_refused,
                ws_connections,
                ws_subscriptions,
                ws_messages_out,
                ws_bytes_out,
                ws_coalesced,
                ws_closed,
                ws_refused,
                rows_ingested,
                source_errors,
                source_lag,
                rows_quarantined,
                exports,
                export_rows,
            }),
        }
    }

    /// Counts an export or snapshot that ended with `outcome`, and the rows it wrote.
    pub fn export(&self, format: &str, outcome: &str, rows: u64) {
        self.inner
            .exports
            .get_or_create(&ExportLabels {
                format: format.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.inner.export_rows.inc_by(rows);
    }

    /// Records one answered HTTP request.
    pub fn observe_http(&self, labels: HttpLabels, seconds: f64) {
        self.inner
            .http_latency
            .get_or_create(&RouteLabels {
                method: labels.method.clone(),
                route: labels.route.clone(),
            })
            .observe(seconds);
        self.inner.http_requests.get_or_create(&labels).inc();
    }

    /// Counts an open TCP connection for as long as the returned guard lives.
    pub fn http_connection(&self) -> ConnectionGuard {
        self.inner.http_connections.inc();
        ConnectionGuard {
            metrics: self.clone(),
        }
    }

    /// Counts a connection closed at once because a cap was reached.
    pub fn http_connection_refused(&self, reason: &str) {
        self.inner
            .http_connections_refused
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts a WebSocket connection for as long as the returned guard lives.
    pub fn ws_connection(&self) -> WsConnectionGuard {
        self.inner.ws_connections.inc();
        WsConnectionGuard {
            metrics: self.clone(),
        }
    }

    /// Changes the number of followed topics by `delta`.
    pub fn ws_subscriptions(&self, delta: i64) {
        self.inner.ws_subscriptions.inc_by(delta);
    }

    /// Topics followed right now, over all connections.
    pub fn ws_subscription_count(&self) -> i64 {
        self.inner.ws_subscriptions.get()
    }

    /// Counts one data message of `bytes` sent to a client.
    pub fn ws_message_out(&self, bytes: usize) {
        self.inner.ws_messages_out.inc();
        self.inner.ws_bytes_out.inc_by(bytes as u64);
    }

    /// Counts updates a client skipped because a newer state superseded them.
    pub fn ws_coalesced(&self, skipped: u64) {
        self.inner.ws_coalesced.inc_by(skipped);
    }

    /// Counts a connection the server closed.
    pub fn ws_closed(&self, reason: &str) {
        self.inner
            .ws_closed
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts a refused connection or client message.
    pub fn ws_refused(&self, code: &str) {
        self.inner
            .ws_refused
            .get_or_create(&ReasonLabels {
                reason: code.to_owned(),
            })
            .inc();
    }

    /// Adds rows durably appended to a dataset.
    pub fn rows_ingested(&self, dataset: &str, rows: u64) {
        self.inner
            .rows_ingested
            .get_or_create(&DatasetLabels {
                dataset: dataset.to_owned(),
            })
            .inc_by(rows);
    }

    /// Counts a failed pull.
    pub fn source_error(&self, source: &str) {
        self.inner
            .source_errors
            .get_or_create(&SourceLabels {
                source: source.to_owned(),
            })
            .inc();
    }

    /// Counts records a source delivered that went to the quarantine.
    pub fn rows_quarantined(&self, source: &str, rows: u64) {
        self.inner
            .rows_quarantined
            .get_or_create(&SourceLabels {
                source: source.to_owned(),
            })
            .inc_by(rows);
    }

    /// Sets how old the newest record of a source is.
    pub fn source_lag(&self, source: &str, seconds: f64) {
        self.inner
            .source_lag
            .get_or_create(&SourceLabels {
                source: source.to_owned(),
            })
            .set(seconds);
    }

    /// What a dataset's hot table holds now: row versions and bytes of memory.
    pub fn store_table(&self, dataset: &str, rows: u64, heap_bytes: usize) {
        let labels = DatasetLabels {
            dataset: dataset.to_owned(),
        };
        self.inner
            .store_rows
            .get_or_create(&labels)
            .set(i64::try_from(rows).unwrap_or(i64::MAX));
        self.inner
            .store_heap
            .get_or_create(&labels)
            .set(i64::try_from(heap_bytes).unwrap_or(i64::MAX));
    }

    /// The Prometheus text exposition of every family.
    pub fn render(&self) -> String {
        if let Some(bytes) = resident_memory_bytes() {
            self.inner.resident_memory.set(bytes as i64);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }
}

/// Resident set size of this process, from `/proc/self/status` (Linux); `None` elsewhere.
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Decrements the open-connection gauge when a WebSocket session ends, however it ends.
pub struct WsConnectionGuard {
    metrics: Metrics,
}

impl Drop for WsConnectionGuard {
    fn drop(&mut self) {
        self.metrics.inner.ws_connections.dec();
    }
}

/// Keeps an open TCP connection counted; dropping it uncounts the connection.
pub struct ConnectionGuard {
    metrics: Metrics,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.metrics.inner.http_connections.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_appear_in_the_exposition() {
        let metrics = Metrics::new();
        metrics.observe_http(
            HttpLabels {
                method: "GET".into(),
                route: "/healthz".into(),
                status: 200,
            },
            0.002,
        );
        metrics.rows_ingested("complaints", 3);
        let guard = metrics.ws_connection();
        let text = metrics.render();
        assert!(
            text.contains(
                "pantau_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("pantau_rows_ingested_total{dataset=\"complaints\"} 3"),
            "{text}"
        );
        assert!(text.contains("pantau_ws_connections 1"), "{text}");
        drop(guard);
        assert!(metrics.render().contains("pantau_ws_connections 0"));
    }
}
