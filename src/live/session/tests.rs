//! Sessions over an in-memory transport: a slow client skips to the latest state, a stuck one
//! is dropped.

use super::*;
use crate::live::access::AccessPolicy;
use crate::live::screens::Screens;
use crate::live::{Hub, LiveSettings};
use crate::telemetry::Metrics;
use axum::extract::ws::Message;
use futures_util::{Sink, Stream};
use serde_json::{json, Value};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// An in-memory client: frames the server sends are recorded, each send waits for a permit
/// (the client "reading"); what the client says comes from a channel.
struct Transport {
    sent: Arc<Mutex<Vec<Value>>>,
    reading: Arc<Semaphore>,
    incoming: mpsc::UnboundedSender<Result<Message, axum::Error>>,
}

fn context(send_timeout: Duration) -> (Arc<SessionContext>, Hub, Metrics) {
    let mut limits = SessionLimits::from_settings(&LiveSettings::default());
    limits.send_timeout = send_timeout;
    context_with(limits)
}

fn context_with(limits: SessionLimits) -> (Arc<SessionContext>, Hub, Metrics) {
    let hub = Hub::new(16);
    let metrics = Metrics::new();
    let ctx = Arc::new(SessionContext {
        hub: hub.clone(),
        metrics: metrics.clone(),
        shutdown: CancellationToken::new(),
        server_id: "test".into(),
        deployment: "Kota Pasuruan".into(),
        time_zone: "Asia/Jakarta".into(),
        limits,
        access: AccessPolicy::from_settings(&LiveSettings::default()),
        screens: Screens::default(),
        views: None,
    });
    (ctx, hub, metrics)
}

fn start(ctx: Arc<SessionContext>) -> (Transport, tokio::task::JoinHandle<()>) {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let reading = Arc::new(Semaphore::new(0));
    let (incoming, stream) = mpsc::unbounded_channel();
    let sink = futures_util::sink::unfold(
        (sent.clone(), reading.clone()),
        |(sent, reading), message: Message| async move {
            reading.acquire().await.expect("semaphore open").forget();
            match &message {
                Message::Text(text) => sent
                    .lock()
                    .unwrap()
                    .push(serde_json::from_str(text).unwrap()),
                Message::Close(Some(frame)) => {
                    sent.lock().unwrap().push(json!({"close": frame.code}))
                }
                _ => {}
            }
            Ok::<_, axum::Error>((sent, reading))
        },
    );
    let grant = crate::access::Principal::anonymous(crate::access::Role::Admin);
    let handle = tokio::spawn(async move {
        let mut socket = Socket {
            sink: Box::pin(sink),
            stream,
        };
        run(&mut socket, &ctx, &grant, "127.0.0.1").await;
    });
    (
        Transport {
            sent,
            reading,
            incoming,
        },
        handle,
    )
}

/// Joins the two halves into one value that is both `Sink` and `Stream`, like a WebSocket.
struct Socket<K> {
    sink: std::pin::Pin<Box<K>>,
    stream: mpsc::UnboundedReceiver<Result<Message, axum::Error>>,
}

impl<K: Sink<Message, Error = axum::Error>> Sink<Message> for Socket<K> {
    type Error = axum::Error;
    fn poll_ready(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.sink.as_mut().poll_ready(cx)
    }
    fn start_send(mut self: std::pin::Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        self.sink.as_mut().start_send(item)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.sink.as_mut().poll_flush(cx)
    }
    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.sink.as_mut().poll_close(cx)
    }
}

impl<K> Stream for Socket<K> {
    type Item = Result<Message, axum::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.stream.poll_recv(cx)
    }
}

impl Transport {
    fn say(&self, value: Value) {
        let text = Message::Text(value.to_string().into());
        self.incoming.send(Ok(text)).unwrap();
    }

    fn sent(&self) -> Vec<Value> {
        self.sent.lock().unwrap().clone()
    }

    async fn wait_sent(&self, count: usize) {
        for _ in 0..1000 {
            if self.sent().len() >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("expected {count} frames, got {:?}", self.sent());
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_skips_to_the_latest_state() {
    let (ctx, hub, metrics) = context(Duration::from_secs(30));
    hub.publish("t", None, json!({"n": 1}));
    let (client, session) = start(ctx.clone());
    client.reading.add_permits(2); // hello and the snapshot
    client.say(json!({"type": "subscribe", "topics": [{"topic": "t"}]}));
    client.wait_sent(2).await;

    // The client stops reading while ten updates are published.
    for n in 2..=11 {
        hub.publish("t", None, json!({"n": n}));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    client.reading.add_permits(100);
    for _ in 0..1000 {
        if client.sent().last().map(|f| f["seq"].clone()) == Some(json!(11)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let kinds: Vec<(String, u64)> = client
        .sent()
        .iter()
        .skip(1)
        .map(|f| {
            (
                f["type"].as_str().unwrap().to_owned(),
                f["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    // The update in flight when it stopped, then straight to the newest state.
    assert_eq!(
        kinds,
        [
            ("snapshot".into(), 1),
            ("patch".into(), 2),
            ("snapshot".into(), 11)
        ],
    );
    assert_eq!(client.sent().last().unwrap()["data"], json!({"n": 11}));
    assert!(metrics
        .render()
        .contains("pantau_ws_coalesced_updates_total 8"));
    ctx.shutdown.cancel();
    session.await.unwrap();
}

#[tokio::test]
async fn a_client_that_takes_nothing_within_the_send_timeout_is_dropped() {
    let (ctx, hub, metrics) = context(Duration::from_millis(100));
    hub.publish("t", None, json!({"n": 1}));
    let (client, session) = start(ctx);
    client.reading.add_permits(2);
    client.say(json!({"type": "subscribe", "topics": [{"topic": "t"}]}));
    client.wait_sent(2).await;
    hub.publish("t", None, json!({"n": 2}));
    // Never reads again: the session must end by itself, not wait forever.
    tokio::time::timeout(Duration::from_secs(5), session)
        .await
        .expect("a stuck client held its session")
        .unwrap();
    assert!(metrics
        .render()
        .contains("pantau_ws_closed_by_server_total{reason=\"slow_client\"} 1"));
}

/// With paused time: a client that takes every frame but never answers (no pong, no message) is
/// closed once it has been silent for the idle timeout — `bye` with its reason, then a close
/// frame 1008 — and the close is counted.
#[tokio::test(start_paused = true)]
async fn a_client_that_stops_answering_heartbeats_is_closed_with_a_reason() {
    let mut limits = SessionLimits::from_settings(&LiveSettings::default());
    limits.ping_interval = Duration::from_secs(1);
    limits.idle_timeout = Duration::from_secs(2);
    let (ctx, _hub, metrics) = context_with(limits);
    let (client, session) = start(ctx);
    client.reading.add_permits(1_000);
    // Silence: the session pings every second and gives up after two of them.
    tokio::time::timeout(Duration::from_secs(10), session)
        .await
        .expect("a silent client kept its session")
        .unwrap();
    let sent = client.sent();
    let bye = sent.iter().find(|f| f["type"] == "bye").unwrap();
    assert_eq!(bye["reason"], "heartbeat_timeout");
    assert_eq!(sent.last().unwrap(), &json!({"close": 1008}));
    assert!(metrics
        .render()
        .contains("pantau_ws_closed_by_server_total{reason=\"heartbeat_timeout\"} 1"));
}
