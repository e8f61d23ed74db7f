//! One WebSocket connection: a reader that parses client messages and a writer that owns the socket.
//!
//! The writer sends each topic's pre-serialised frames. It never queues data: when it wakes it sends
//! the newest state of each followed topic (a patch when the client is exactly one step behind,
//! else a snapshot), so a slow client skips to the latest state instead of growing a buffer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use chrono::Utc;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::hub::frame;
use super::protocol::{ClientMessage, ServerMessage, PROTOCOL_VERSION};
use super::Hub;
use crate::telemetry::Metrics;

/// Bounds on what one client may do.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// Largest client message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Most topics one connection may follow.
    pub max_topics: usize,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// A client silent this long is closed with `heartbeat_timeout`.
    pub idle_timeout: Duration,
    /// Refused messages tolerated before the connection is closed.
    pub max_errors: u32,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 * 1024,
            max_topics: 256,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            max_errors: 20,
        }
    }
}

/// Everything a session needs from the server.
pub struct SessionContext {
    /// Topics.
    pub hub: Hub,
    /// Connection gauge.
    pub metrics: Metrics,
    /// Cancelled when the server shuts down; sessions say `bye`.
    pub shutdown: CancellationToken,
    /// Identifies this server process in `hello`.
    pub server_id: String,
    /// Deployment name for `hello`.
    pub deployment: String,
    /// IANA zone for `hello`.
    pub time_zone: String,
    /// Per-client bounds.
    pub limits: SessionLimits,
}

/// What the reader hands the writer.
enum Inbound {
    Message(ClientMessage),
    Refused { code: &'static str, message: String },
}

/// Serves one upgraded WebSocket until either side ends it.
pub async fn serve_socket(socket: WebSocket, ctx: Arc<SessionContext>) {
    let _connected = ctx.metrics.ws_connection();
    let (sink, stream) = socket.split();
    run(sink, stream, &ctx).await;
}

/// The session, generic over the socket halves so it can run over any transport.
async fn run<S, R>(mut sink: S, mut stream: R, ctx: &SessionContext)
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let started = Instant::now();
    let last_seen = AtomicU64::new(0);
    let (inbound_tx, mut inbound_rx) = mpsc::channel::<Inbound>(16);
    let max_bytes = ctx.limits.max_message_bytes;

    let reader = async {
        while let Some(Ok(message)) = stream.next().await {
            last_seen.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            let inbound = match message {
                Message::Text(text) if text.len() > max_bytes => Inbound::Refused {
                    code: "message_too_large",
                    message: format!("messages are limited to {max_bytes} bytes"),
                },
                Message::Text(text) => match serde_json::from_str::<ClientMessage>(&text) {
                    Ok(message) => Inbound::Message(message),
                    Err(e) => Inbound::Refused {
                        code: "invalid_message",
                        message: format!("not a protocol message: {e}"),
                    },
                },
                Message::Binary(_) => Inbound::Refused {
                    code: "binary_not_supported",
                    message: "this protocol uses JSON text frames".to_owned(),
                },
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            if inbound_tx.send(inbound).await.is_err() {
                break;
            }
        }
    };

    let writer = async {
        let hello = frame(&ServerMessage::Hello {
            protocol: PROTOCOL_VERSION,
            server_id: &ctx.server_id,
            server: concat!("pantau/", env!("CARGO_PKG_VERSION")),
            server_time: Utc::now(),
            deployment: &ctx.deployment,
            time_zone: &ctx.time_zone,
            topics: ctx.hub.topic_names(),
        });
        if sink.send(Message::Text(hello)).await.is_err() {
            return;
        }
        let mut followed: HashMap<String, u64> = HashMap::new();
        let mut changes = ctx.hub.changes();
        let mut ping = tokio::time::interval(ctx.limits.ping_interval);
        ping.tick().await;
        let mut errors = 0u32;
        loop {
            let outcome = tokio::select! {
                _ = ctx.shutdown.cancelled() => Err("shutdown"),
                inbound = inbound_rx.recv() => match inbound {
                    None => return,
                    Some(Inbound::Message(message)) => {
                        handle(message, &mut followed, &mut sink, ctx).await
                    }
                    Some(Inbound::Refused { code, message }) => {
                        errors += 1;
                        let sent = send_error(&mut sink, code, message).await;
                        if errors > ctx.limits.max_errors { Err("too_many_errors") } else { sent }
                    }
                },
                changed = changes.changed() => match changed {
                    Ok(()) => send_updates(&mut followed, &mut sink, &ctx.hub).await,
                    Err(_) => Err("shutdown"),
                },
                _ = ping.tick() => {
                    let silent_ms = (started.elapsed().as_millis() as u64)
                        .saturating_sub(last_seen.load(Ordering::Relaxed));
                    if Duration::from_millis(silent_ms) > ctx.limits.idle_timeout {
                        Err("heartbeat_timeout")
                    } else {
                        sink.send(Message::Ping(Default::default())).await.map_err(|_| "")
                    }
                }
            };
            if let Err(reason) = outcome {
                if !reason.is_empty() {
                    say_bye(&mut sink, reason).await;
                }
                return;
            }
        }
    };

    tokio::select! {
        _ = reader => {}
        _ = writer => {}
    }
}

/// Handles one client message. `Err` carries the reason to close with ("" = socket gone).
async fn handle<S: Sink<Message> + Unpin>(
    message: ClientMessage,
    followed: &mut HashMap<String, u64>,
    sink: &mut S,
    ctx: &SessionContext,
) -> Result<(), &'static str> {
    match message {
        ClientMessage::Ping { id } => {
            let pong = frame(&ServerMessage::Pong {
                id,
                server_time: Utc::now(),
            });
            sink.send(Message::Text(pong)).await.map_err(|_| "")
        }
        ClientMessage::Unsubscribe { topics } => {
            for topic in topics {
                followed.remove(&topic);
            }
            Ok(())
        }
        ClientMessage::Subscribe { topics } => {
            for wanted in topics {
                let Some(state) = ctx.hub.get(&wanted.topic) else {
                    let name: String = wanted.topic.chars().take(100).collect();
                    send_error(sink, "unknown_topic", format!("no topic named '{name}'")).await?;
                    continue;
                };
                if !followed.contains_key(&wanted.topic) && followed.len() >= ctx.limits.max_topics
                {
                    let limit = ctx.limits.max_topics;
                    send_error(
                        sink,
                        "too_many_topics",
                        format!("one connection may follow at most {limit} topics"),
                    )
                    .await?;
                    continue;
                }
                // A resuming client that already holds the current value gets nothing;
                // anyone else gets the full value now.
                if wanted.last_seq != Some(state.seq) {
                    send_text(sink, state.snapshot_frame.clone()).await?;
                }
                followed.insert(wanted.topic, state.seq);
            }
            Ok(())
        }
    }
}

/// Sends the newest state of every followed topic that moved.
async fn send_updates<S: Sink<Message> + Unpin>(
    followed: &mut HashMap<String, u64>,
    sink: &mut S,
    hub: &Hub,
) -> Result<(), &'static str> {
    for (topic, delivered) in followed.iter_mut() {
        let Some(state) = hub.get(topic) else {
            continue;
        };
        if state.seq <= *delivered {
            continue;
        }
        let frame = match &state.patch_frame {
            Some(patch) if state.seq == *delivered + 1 => patch.clone(),
            _ => state.snapshot_frame.clone(),
        };
        send_text(sink, frame).await?;
        *delivered = state.seq;
    }
    Ok(())
}

async fn send_text<S: Sink<Message> + Unpin>(
    sink: &mut S,
    text: Utf8Bytes,
) -> Result<(), &'static str> {
    sink.send(Message::Text(text)).await.map_err(|_| "")
}

async fn send_error<S: Sink<Message> + Unpin>(
    sink: &mut S,
    code: &'static str,
    message: String,
) -> Result<(), &'static str> {
    send_text(sink, frame(&ServerMessage::Error { code, message })).await
}

/// Tells the client why it is being closed, then closes (1001 going away / 1008 policy).
async fn say_bye<S: Sink<Message> + Unpin>(sink: &mut S, reason: &'static str) {
    let _ = send_text(sink, frame(&ServerMessage::Bye { reason })).await;
    let code = if reason == "shutdown" { 1001 } else { 1008 };
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })))
        .await;
}
