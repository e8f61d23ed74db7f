//! Entry point for the fuzz target of the WebSocket session (`fuzz/`, cargo-fuzz) and for the
//! test that replays its corpus: the client's frames drive a real session over an in-memory
//! socket. Nothing in the product calls this.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::Message;
use futures_util::{Sink, Stream};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::session::{run, SessionContext, SessionLimits};
use super::{AccessPolicy, Hub, LiveSettings, Screens};
use crate::access::{Principal, Role};
use crate::telemetry::Metrics;

/// A client that says its frames, then hangs up; what the server sends is kept.
struct Client {
    says: VecDeque<Message>,
    heard: Vec<Message>,
}

impl Stream for Client {
    type Item = Result<Message, axum::Error>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.says.pop_front().map(Ok))
    }
}

impl Sink<Message> for Client {
    type Error = axum::Error;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        self.heard.push(item);
        Ok(())
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

struct Bench {
    runtime: tokio::runtime::Runtime,
    ctx: Arc<SessionContext>,
}

thread_local! {
    static BENCH: Bench = Bench::new();
}

impl Bench {
    fn new() -> Bench {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("fuzz runtime: {e}"));
        let hub = Hub::new(16);
        for (topic, data) in [
            ("dashboards/wall/backlog", json!({"value": 1200})),
            (
                "dashboards/wall/per_opd",
                json!({"rows": [["DLH", 4], ["PUPR", 9]]}),
            ),
            (
                "dashboards/peta/points",
                json!({"type": "FeatureCollection", "features": []}),
            ),
        ] {
            hub.publish(topic, None, data);
        }
        let mut limits = SessionLimits::from_settings(&LiveSettings::default());
        // Every frame of an input is handled (no rate limit), and no write waits for the clock.
        limits.messages_per_second = 1_000_000;
        limits.min_send_interval = Duration::ZERO;
        let ctx = Arc::new(SessionContext {
            hub,
            metrics: Metrics::new(),
            shutdown: CancellationToken::new(),
            server_id: "fuzz".into(),
            deployment: "Kota Pasuruan".into(),
            time_zone: "Asia/Jakarta".into(),
            limits,
            access: AccessPolicy::from_settings(&LiveSettings::default()),
            screens: Screens::default(),
            views: None,
        });
        Bench { runtime, ctx }
    }
}

/// Client frames, one per line of `bytes` (a line that is not UTF-8 is sent as a binary frame):
/// the session answers every one with well-formed JSON frames naming their type, ends when the
/// client hangs up, and leaves no subscription counted behind.
pub fn ws_session(bytes: &[u8]) {
    heard(bytes);
}

/// The types of the frames the server sent, in order.
fn heard(bytes: &[u8]) -> Vec<String> {
    let says: VecDeque<Message> = bytes
        .split(|b| *b == b'\n')
        .take(200)
        .map(|line| match std::str::from_utf8(line) {
            Ok(text) => Message::Text(text.to_owned().into()),
            Err(_) => Message::Binary(line.to_vec().into()),
        })
        .collect();
    BENCH.with(|bench| {
        let mut client = Client {
            says,
            heard: Vec::new(),
        };
        let grant = Principal::anonymous(Role::Admin);
        let ended = bench.runtime.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(10),
                run(&mut client, &bench.ctx, &grant, "127.0.0.1"),
            )
            .await
        });
        assert!(
            ended.is_ok(),
            "the session did not end when the client hung up"
        );
        let mut types = Vec::new();
        for message in &client.heard {
            if let Message::Text(text) = message {
                let value: Value = match serde_json::from_str(text.as_str()) {
                    Ok(v) => v,
                    Err(e) => panic!(
                        "the server sent a frame that is not JSON ({e}): {}",
                        text.as_str()
                    ),
                };
                let Some(kind) = value.get("type").and_then(Value::as_str) else {
                    panic!("a server frame without a type: {}", text.as_str());
                };
                types.push(kind.to_owned());
            }
        }
        let subscribed = bench.ctx.metrics.ws_subscription_count();
        assert_eq!(
            subscribed, 0,
            "a finished session left subscriptions counted"
        );
        types
    })
}

#[cfg(test)]
mod tests {
    /// The target reaches a real session: a subscription is answered with snapshots, a ping
    /// with a pong, a bad frame with an error.
    #[test]
    fn client_frames_drive_a_real_session() {
        let said = [
            r#"{"type":"subscribe","prefixes":["dashboards/wall/"]}"#,
            r#"{"type":"ping","id":7}"#,
            r#"{"type":"nonsense"}"#,
        ]
        .join("\n");
        let types = super::heard(said.as_bytes());
        assert_eq!(
            types.first().map(String::as_str),
            Some("hello"),
            "{types:?}"
        );
        assert_eq!(
            types.iter().filter(|t| *t == "snapshot").count(),
            2,
            "{types:?}"
        );
        assert!(types.iter().any(|t| t == "pong"), "{types:?}");
        assert!(types.iter().any(|t| t == "error"), "{types:?}");
    }
}
