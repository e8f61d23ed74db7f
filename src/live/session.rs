//! One WebSocket connection, served by one task that owns the socket: it parses and rate-limits
//! client messages, pings, and sends topic updates.
//!
//! The session sends each topic's pre-serialised frames. It never queues data: when it wakes it sends
//! the newest state of each followed topic (a patch when the client is exactly one step behind,
//! else a snapshot), so a slow client skips to the latest state instead of growing a buffer. A
//! client that does not take a frame within the send timeout is disconnected as a slow client.

use hashbrown::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use chrono::Utc;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::access::{AccessPolicy, Grant, IpSlot};
use super::hub::frame;
use super::protocol::{ClientMessage, ServerMessage, Subscription, PROTOCOL_VERSION};
use super::screens::Screens;
use super::Hub;
use super::LiveSettings;
use crate::telemetry::Metrics;

/// How long a closing connection waits for the client's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Bounds on what one client may do.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// Largest client message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Most topics one connection may follow.
    pub max_topics: usize,
    /// Client messages per second; a burst of twice as many is tolerated.
    pub messages_per_second: u32,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// A client silent this long is closed with `heartbeat_timeout`.
    pub idle_timeout: Duration,
    /// Refused messages tolerated before the connection is closed.
    pub max_errors: u32,
    /// A frame the client does not take within this time makes it a slow client, closed.
    pub send_timeout: Duration,
    /// Least time between two writes of updates: closer updates go out together.
    pub min_send_interval: Duration,
}

impl SessionLimits {
    /// The limits configured under `[live]`.
    pub fn from_settings(live: &LiveSettings) -> Self {
        Self {
            max_message_bytes: live.max_message_bytes,
            max_topics: live.max_topics,
            messages_per_second: live.messages_per_second,
            ping_interval: Duration::from_secs(live.ping_interval_secs),
            idle_timeout: Duration::from_secs(live.idle_timeout_secs),
            max_errors: live.max_errors,
            send_timeout: Duration::from_secs(10),
            min_send_interval: Duration::from_millis(live.min_send_interval_ms),
        }
    }
}

/// Everything a session needs from the server.
pub struct SessionContext {
    /// Topics.
    pub hub: Hub,
    /// Connection gauges and counters.
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
    /// Who may connect.
    pub access: AccessPolicy,
    /// Named wall screens and how they are doing.
    pub screens: Screens,
    /// Computes map layers for a client's view (`view` messages); `None`: views are refused.
    pub views: Option<Arc<dyn ViewSource>>,
}

/// Most views one connection may hold at once.
const MAX_VIEWS: usize = 8;

/// Why a view could not be computed: a stable error code and a message for a person.
#[derive(Debug)]
pub struct ViewError {
    /// `unknown_topic` or `invalid_message`.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
}

/// Computes the features of a map topic inside a view. Implemented by the engine (live knows
/// nothing of the store); called on a blocking thread.
pub trait ViewSource: Send + Sync {
    /// The layer value of `topic` inside `bbox` (west, south, east, north) at `zoom`.
    fn features(&self, topic: &str, bbox: [f64; 4], zoom: u8) -> Result<Value, ViewError>;
}

/// A followed topic: the seq the client holds and where the hub keeps the topic.
struct Followed {
    delivered: u64,
    slot: usize,
}

/// A client's view of one map topic.
struct ViewRequest {
    bbox: [f64; 4],
    zoom: u8,
    /// The topic seq the last `features` was computed at.
    sent: u64,
}

/// Checks a view: a real bounding box (west < east, south < north, inside the map) and zoom.
fn check_view(bbox: [f64; 4], zoom: u8) -> Result<(), String> {
    let [w, s, e, n] = bbox;
    let ok = bbox.iter().all(|v| v.is_finite())
        && (-180.0..=180.0).contains(&w)
        && (-180.0..=180.0).contains(&e)
        && (-85.06..=85.06).contains(&s)
        && (-85.06..=85.06).contains(&n)
        && w < e
        && s < n;
    if !ok {
        return Err(
            "bbox is [west, south, east, north] in degrees, west < east and south < north".into(),
        );
    }
    if zoom > 22 {
        return Err("zoom is 0 to 22".into());
    }
    Ok(())
}

/// Why a session stops.
enum Stop {
    /// The socket is gone or stuck: nothing more can be sent.
    Gone,
    /// The client closed the connection.
    ClosedByClient,
    /// Close with a `bye` carrying this reason.
    Bye(&'static str),
}

/// Serves one upgraded WebSocket until either side ends it. `_slot` holds the client address's
/// connection slot for as long as the session lives.
pub async fn serve_socket(
    mut socket: WebSocket,
    ctx: Arc<SessionContext>,
    grant: Grant,
    peer: std::net::IpAddr,
    _slot: IpSlot,
) {
    let _connected = ctx.metrics.ws_connection();
    run(&mut socket, &ctx, &grant, &peer.to_string()).await;
}

/// The session: one task owns the socket and waits on whatever comes first — a client message,
/// a topic change, the ping timer or shutdown. Generic over the socket so any transport works.
async fn run<S>(socket: &mut S, ctx: &SessionContext, grant: &Grant, peer: &str)
where
    S: Sink<Message> + Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let mut out = Outbox {
        socket,
        metrics: &ctx.metrics,
        send_timeout: ctx.limits.send_timeout,
    };
    let mut state = Session {
        bell: ctx.hub.bell(),
        followed: HashMap::new(),
        prefixes: Vec::new(),
        names_seen: 0,
        errors: 0,
        bucket: Bucket::new(ctx.limits.messages_per_second),
        last_seen: Instant::now(),
        status_sent: 0,
        peer: peer.to_owned(),
        screen: None,
        views: HashMap::new(),
    };
    let stop = state.serve(&mut out, ctx, grant).await;
    ctx.metrics.ws_subscriptions(-(state.followed.len() as i64));
    if let Some(name) = &state.screen {
        ctx.screens.disconnected(name);
    }
    if let Stop::Bye(reason) = stop {
        ctx.metrics.ws_closed(reason);
        out.bye(reason).await;
        // Closing handshake: give the client a moment to read our close and answer it, so it
        // sees the `bye` instead of a reset connection.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(message)) = out.socket.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

/// What a session remembers between events.
struct Session {
    /// Rung by the hub when a followed topic (or the sources' status) changed.
    bell: super::hub::Bell,
    /// Followed topics and the seq the client holds for each.
    followed: HashMap<String, Followed>,
    /// Prefixes followed: topics that appear under them are followed too.
    prefixes: Vec<String>,
    /// The hub's topic-names version last looked at for `prefixes`.
    names_seen: u64,
    /// Refused client messages so far.
    errors: u32,
    /// Client message rate limit.
    bucket: Bucket,
    /// When the client last sent any frame (pongs included).
    last_seen: Instant,
    /// Seq of the last `source_status` sent.
    status_sent: u64,
    /// Client address, for the screen list.
    peer: String,
    /// The screen name this connection reported, once it did.
    screen: Option<String>,
    /// Map views asked for, by topic.
    views: HashMap<String, ViewRequest>,
}

impl Session {
    /// The event loop; returns why it stopped.
    async fn serve<S>(
        &mut self,
        out: &mut Outbox<'_, S>,
        ctx: &SessionContext,
        grant: &Grant,
    ) -> Stop
    where
        S: Sink<Message> + Stream<Item = Result<Message, axum::Error>> + Unpin,
    {
        let hello = frame(&ServerMessage::Hello {
            protocol: PROTOCOL_VERSION,
            server_id: &ctx.server_id,
            server: concat!("pantau/", env!("CARGO_PKG_VERSION")),
            server_time: Utc::now(),
            deployment: &ctx.deployment,
            time_zone: &ctx.time_zone,
            topics: ctx.hub.topic_names(),
        });
        if let Err(stop) = out.control(hello).await {
            return stop;
        }
        if let Err(stop) = self.send_source_status(out, ctx).await {
            return stop;
        }
        let mut ping = tokio::time::interval(ctx.limits.ping_interval);
        ping.tick().await;
        // Updates rung in while the last write is younger than the minimum interval wait and
        // go out together.
        let mut pending = false;
        let mut next_send = tokio::time::Instant::now();
        loop {
            let step = tokio::select! {
                _ = ctx.shutdown.cancelled() => Err(Stop::Bye("shutdown")),
                incoming = out.socket.next() => match incoming {
                    Some(Ok(message)) => {
                        self.last_seen = Instant::now();
                        self.receive(message, out, ctx, grant).await
                    }
                    None | Some(Err(_)) => Err(Stop::Gone),
                },
                () = self.bell.notified(), if !pending => {
                    if tokio::time::Instant::now() >= next_send {
                        // The last write is old enough: no reason to wait.
                        next_send = tokio::time::Instant::now() + ctx.limits.min_send_interval;
                        self.send_all(out, ctx).await
                    } else {
                        pending = true;
                        Ok(())
                    }
                }
                () = tokio::time::sleep_until(next_send), if pending => {
                    pending = false;
                    next_send = tokio::time::Instant::now() + ctx.limits.min_send_interval;
                    self.send_all(out, ctx).await
                }
                _ = ping.tick() => {
                    if self.last_seen.elapsed() > ctx.limits.idle_timeout {
                        Err(Stop::Bye("heartbeat_timeout"))
                    } else {
                        out.send(Message::Ping(Default::default())).await
                    }
                }
            };
            if let Err(stop) = step {
                return stop;
            }
        }
    }

    /// Sends the sources' freshness if it changed, then every followed topic that moved.
    async fn send_all<S: Sink<Message> + Unpin>(
        &mut self,
        out: &mut Outbox<'_, S>,
        ctx: &SessionContext,
    ) -> Result<(), Stop> {
        self.send_source_status(out, ctx).await?;
        self.send_updates(out, ctx).await
    }

    /// Sends the sources' freshness if it changed since the client last got it.
    async fn send_source_status<S: Sink<Message> + Unpin>(
        &mut self,
        out: &mut Outbox<'_, S>,
        ctx: &SessionContext,
    ) -> Result<(), Stop> {
        match ctx.hub.source_status() {
            Some((seq, frame)) if seq > self.status_sent => {
                self.status_sent = seq;
                out.control(frame).await
            }
            _ => Ok(()),
        }
    }

    /// Checks one frame from the client and acts on it.
    async fn receive<S: Sink<Message> + Unpin>(
        &mut self,
        message: Message,
        out: &mut Outbox<'_, S>,
        ctx: &SessionContext,
        grant: &Grant,
    ) -> Result<(), Stop> {
        let limits = &ctx.limits;
        let refused = match message {
            Message::Close(_) => return Err(Stop::ClosedByClient),
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
            _ if !self.bucket.take() => (
                "rate_limited",
                format!(
                    "at most {} messages per second; this one was dropped",
                    limits.messages_per_second
                ),
            ),
            Message::Text(text) if text.len() > limits.max_message_bytes => (
                "message_too_large",
                format!("messages are limited to {} bytes", limits.max_message_bytes),
            ),
            Message::Text(text) => match serde_json::from_str::<ClientMessage>(&text) {
                Ok(ClientMessage::Screen {
                    name,
                    page,
                    data_age_s,
                    stale,
                }) => match screen_report(name, page, data_age_s, stale) {
                    Ok(report) => {
                        if self.screen.as_ref().is_some_and(|n| *n != report.name) {
                            ctx.screens
                                .disconnected(self.screen.as_deref().unwrap_or_default());
                        }
                        let first = self.screen.as_deref() != Some(report.name.as_str());
                        self.screen = Some(report.name.clone());
                        ctx.screens.report(report, &self.peer, first);
                        return Ok(());
                    }
                    Err(reason) => ("invalid_message", reason),
                },
                Ok(message) => return self.handle(message, out, ctx, grant).await,
                Err(e) => ("invalid_message", format!("not a protocol message: {e}")),
            },
            Message::Binary(_) => (
                "binary_not_supported",
                "this protocol uses JSON text frames".to_owned(),
            ),
        };
        let (code, message) = refused;
        self.errors += 1;
        ctx.metrics.ws_refused(code);
        out.error(code, message).await?;
        if self.errors > limits.max_errors {
            return Err(Stop::Bye("too_many_errors"));
        }
        Ok(())
    }
}

/// Checks a screen's report: a name an operator can read, bounded text, a sane data age.
fn screen_report(
    name: String,
    page: String,
    data_age_s: Option<f64>,
    stale: bool,
) -> Result<super::screens::Report, String> {
    let name_ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !name_ok {
        return Err("screen name must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-'".into());
    }
    if page.chars().count() > 64 || page.chars().any(char::is_control) {
        return Err("screen page must be at most 64 printable characters".into());
    }
    if data_age_s.is_some_and(|age| !age.is_finite() || age < 0.0) {
        return Err("data_age_s must be a number of seconds, 0 or more".into());
    }
    Ok(super::screens::Report {
        name,
        page,
        data_age_s,
        stale,
    })
}

impl Session {
    /// Handles one client message.
    async fn handle<S: Sink<Message> + Unpin>(
        &mut self,
        message: ClientMessage,
        out: &mut Outbox<'_, S>,
        ctx: &SessionContext,
        grant: &Grant,
    ) -> Result<(), Stop> {
        match message {
            // Screen reports are handled by the session before they get here.
            ClientMessage::Screen { .. } => Ok(()),
            ClientMessage::Ping { id } => {
                let pong = frame(&ServerMessage::Pong {
                    id,
                    server_time: Utc::now(),
                });
                out.control(pong).await
            }
            ClientMessage::View { topic, bbox, zoom } => {
                let Some(bbox) = bbox else {
                    self.views.remove(&topic);
                    return Ok(());
                };
                let zoom = zoom.unwrap_or(14);
                let shown: String = topic.chars().take(100).collect();
                if let Err(reason) = check_view(bbox, zoom) {
                    return out.error("invalid_message", reason).await;
                }
                if !self.followed.contains_key(&topic) {
                    return out
                        .error(
                            "invalid_message",
                            format!("follow '{shown}' (subscribe) before asking for a view of it"),
                        )
                        .await;
                }
                if !self.views.contains_key(&topic) && self.views.len() >= MAX_VIEWS {
                    return out
                        .error(
                            "too_many_topics",
                            format!("one connection may hold at most {MAX_VIEWS} map views"),
                        )
                        .await;
                }
                let request = ViewRequest {
                    bbox,
                    zoom,
                    sent: 0,
                };
                self.send_view(&topic, request, out, ctx).await?;
                out.flush().await
            }
            ClientMessage::Unsubscribe { topics, prefixes } => {
                self.views.retain(|topic, _| {
                    !topics.contains(topic) && !prefixes.iter().any(|p| topic.starts_with(p))
                });
                for prefix in &prefixes {
                    ctx.hub.unfollow_prefix(prefix, &self.bell);
                }
                self.prefixes.retain(|p| !prefixes.contains(p));
                let before = self.followed.len();
                let (hub, bell) = (&ctx.hub, &self.bell);
                self.followed.retain(|topic, _| {
                    let keep =
                        !topics.contains(topic) && !prefixes.iter().any(|p| topic.starts_with(p));
                    if !keep {
                        hub.unfollow(topic, bell);
                    }
                    keep
                });
                ctx.metrics
                    .ws_subscriptions(self.followed.len() as i64 - before as i64);
                Ok(())
            }
            ClientMessage::Subscribe {
                mut topics,
                prefixes,
            } => {
                for prefix in prefixes {
                    let shown: String = prefix.chars().take(100).collect();
                    if prefix.is_empty() || prefix.len() > 200 {
                        out.error("invalid_message", "a prefix is 1-200 characters".into())
                            .await?;
                        continue;
                    }
                    if !grant.allows(&prefix) {
                        out.error(
                            "not_allowed",
                            format!("this token may not follow '{shown}'"),
                        )
                        .await?;
                        continue;
                    }
                    if !self.prefixes.contains(&prefix) {
                        if self.prefixes.len() >= ctx.limits.max_topics {
                            out.error("too_many_topics", "too many prefixes".into())
                                .await?;
                            continue;
                        }
                        // Its topics now; `send_updates` adds those that appear later.
                        for name in ctx.hub.topic_names_under(&prefix) {
                            if !topics.iter().any(|t| t.topic == name) {
                                topics.push(Subscription {
                                    topic: name,
                                    last_seq: None,
                                });
                            }
                        }
                        ctx.hub.follow_prefix(&prefix, &self.bell);
                        self.prefixes.push(prefix);
                    }
                }
                // Snapshots are written one by one: a burst of them all at once would leave
                // the connection's write buffer that large for its whole life.
                for wanted in topics {
                    self.follow(wanted, out, ctx, grant).await?;
                    out.flush().await?;
                }
                Ok(())
            }
        }
    }

    /// Starts following one topic: nothing if the client is current, the missed patches while
    /// the hub still holds them, else the full value.
    async fn follow<S: Sink<Message> + Unpin>(
        &mut self,
        wanted: Subscription,
        out: &mut Outbox<'_, S>,
        ctx: &SessionContext,
        grant: &Grant,
    ) -> Result<(), Stop> {
        let name: String = wanted.topic.chars().take(100).collect();
        if !grant.allows(&wanted.topic) {
            return out
                .error("not_allowed", format!("this token may not follow '{name}'"))
                .await;
        }
        let Some(state) = ctx.hub.get(&wanted.topic) else {
            return out
                .error("unknown_topic", format!("no topic named '{name}'"))
                .await;
        };
        if !self.followed.contains_key(&wanted.topic) {
            if self.followed.len() >= ctx.limits.max_topics {
                let limit = ctx.limits.max_topics;
                return out
                    .error(
                        "too_many_topics",
                        format!("one connection may follow at most {limit} topics"),
                    )
                    .await;
            }
            ctx.metrics.ws_subscriptions(1);
        }
        let missed = wanted
            .last_seq
            .and_then(|seq| ctx.hub.patches_since(&wanted.topic, seq));
        let delivered = match (wanted.last_seq, missed) {
            (Some(seq), _) if seq == state.seq => seq,
            (Some(seq), Some(patches)) => {
                let mut last = seq;
                for (patch_seq, patch) in patches {
                    out.feed(patch).await?;
                    last = patch_seq;
                }
                last
            }
            _ => {
                out.feed(state.snapshot_frame.clone()).await?;
                state.seq
            }
        };
        ctx.hub.follow(&wanted.topic, &self.bell);
        self.followed.insert(
            wanted.topic,
            Followed {
                delivered,
                slot: state.slot,
            },
        );
        Ok(())
    }

    /// Computes `view` of `topic` at the topic's current seq and feeds it as `features`; keeps
    /// the view for later updates. A view that cannot be computed is answered with an `error`
    /// and not kept.
    async fn send_view<S: Sink<Message> + Unpin>(
        &mut self,
        topic: &str,
        mut view: ViewRequest,
        out: &mut Outbox<'_, S>,
        ctx: &SessionContext,
    ) -> Result<(), Stop> {
        let Some(source) = ctx.views.clone() else {
            return out
                .error(
                    "invalid_message",
                    "this server computes no map views".into(),
                )
                .await;
        };
        let Some(state) = ctx.hub.get(topic) else {
            return out
                .error("unknown_topic", "the topic no longer exists".into())
                .await;
        };
        let (name, bbox, zoom) = (topic.to_owned(), view.bbox, view.zoom);
        let computed = tokio::task::spawn_blocking(move || source.features(&name, bbox, zoom))
            .await
            .unwrap_or_else(|e| {
                Err(ViewError {
                    code: "invalid_message",
                    message: format!("the view could not be computed: {e}"),
                })
            });
        let data = match computed {
            Ok(data) => data,
            Err(e) => return out.error(e.code, e.message).await,
        };
        out.feed_control(frame(&ServerMessage::Features {
            topic,
            seq: state.seq,
            committed_at: state.committed_at,
            bbox,
            zoom,
            data: &data,
        }))
        .await?;
        view.sent = state.seq;
        self.views.insert(topic.to_owned(), view);
        Ok(())
    }

    /// Sends the newest state of every followed topic that moved — all of them in one flush —,
    /// follows topics that appeared under a followed prefix, and tells of followed topics that
    /// were removed.
    async fn send_updates<S: Sink<Message> + Unpin>(
        &mut self,
        out: &mut Outbox<'_, S>,
        ctx: &SessionContext,
    ) -> Result<(), Stop> {
        let names = ctx.hub.names_version();
        let appeared: Vec<String> = if !self.prefixes.is_empty() && names != self.names_seen {
            self.names_seen = names;
            self.prefixes
                .iter()
                .flat_map(|p| ctx.hub.topic_names_under(p))
                .filter(|t| !self.followed.contains_key(t))
                .collect()
        } else {
            Vec::new()
        };
        let mut removed = Vec::new();
        let mut frames = Vec::new();
        let states = ctx.hub.get_slots(self.followed.values().map(|f| f.slot));
        for ((topic, Followed { delivered, .. }), state) in self.followed.iter_mut().zip(states) {
            let Some(state) = state else {
                removed.push((topic.clone(), *delivered));
                continue;
            };
            if state.seq <= *delivered {
                continue;
            }
            frames.push(match &state.patch_frame {
                Some(patch) if state.seq == *delivered + 1 => patch.clone(),
                _ => {
                    ctx.metrics.ws_coalesced(state.seq - *delivered - 1);
                    state.snapshot_frame.clone()
                }
            });
            *delivered = state.seq;
        }
        for frame in frames {
            out.feed(frame).await?;
        }
        // Views of topics that moved are computed again at the new seq — after the updates
        // already fed have gone out, so a view being computed holds nothing else back.
        let moved: Vec<String> = self
            .views
            .iter()
            .filter(|(topic, view)| {
                self.followed
                    .get(*topic)
                    .is_some_and(|f| f.delivered > view.sent)
            })
            .map(|(topic, _)| topic.clone())
            .collect();
        if !moved.is_empty() {
            out.flush().await?;
        }
        for topic in moved {
            if let Some(view) = self.views.remove(&topic) {
                self.send_view(&topic, view, out, ctx).await?;
            }
        }
        for (topic, seq) in removed {
            self.views.remove(&topic);
            self.followed.remove(&topic);
            ctx.hub.unfollow(&topic, &self.bell);
            ctx.metrics.ws_subscriptions(-1);
            out.feed_control(frame(&ServerMessage::Removed { topic: &topic, seq }))
                .await?;
        }
        for topic in appeared {
            if let Some(state) = ctx.hub.get(&topic) {
                if self.followed.len() < ctx.limits.max_topics {
                    ctx.metrics.ws_subscriptions(1);
                    out.feed(state.snapshot_frame.clone()).await?;
                    ctx.hub.follow(&topic, &self.bell);
                    self.followed.insert(
                        topic,
                        Followed {
                            delivered: state.seq,
                            slot: state.slot,
                        },
                    );
                }
            }
        }
        out.flush().await
    }
}

/// The socket with its sending bookkeeping: every send is bounded by the send timeout.
struct Outbox<'a, S> {
    socket: &'a mut S,
    metrics: &'a Metrics,
    send_timeout: Duration,
}

/// Bounds a socket operation by the send timeout: a client that takes nothing in that time is a
/// slow client, dropped.
async fn bounded<E>(
    metrics: &Metrics,
    timeout: Duration,
    op: impl std::future::Future<Output = Result<(), E>>,
) -> Result<(), Stop> {
    let mut op = std::pin::pin!(op);
    // Nearly always done at once (the socket has room): no timer for that. Otherwise the same
    // operation goes on under the timer, from where it stopped.
    let done = match op.as_mut().now_or_never() {
        Some(done) => Ok(done),
        None => tokio::time::timeout(timeout, op).await,
    };
    match done {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Stop::Gone),
        Err(_) => {
            metrics.ws_closed("slow_client");
            Err(Stop::Gone)
        }
    }
}

impl<S: Sink<Message> + Unpin> Outbox<'_, S> {
    async fn send(&mut self, message: Message) -> Result<(), Stop> {
        bounded(self.metrics, self.send_timeout, self.socket.send(message)).await
    }

    /// Queues a data message (snapshot or patch) without flushing, counted in the delivery
    /// metrics: the updates of one wake go out in one write.
    async fn feed(&mut self, frame: Utf8Bytes) -> Result<(), Stop> {
        self.metrics.ws_message_out(frame.len());
        self.feed_control(frame).await
    }

    /// Queues a message that carries no data, without flushing.
    async fn feed_control(&mut self, frame: Utf8Bytes) -> Result<(), Stop> {
        let message = Message::Text(frame);
        bounded(self.metrics, self.send_timeout, self.socket.feed(message)).await
    }

    /// Sends what was queued.
    async fn flush(&mut self) -> Result<(), Stop> {
        bounded(self.metrics, self.send_timeout, self.socket.flush()).await
    }

    /// A protocol message that carries no data (hello, pong, error).
    async fn control(&mut self, frame: Utf8Bytes) -> Result<(), Stop> {
        self.send(Message::Text(frame)).await
    }

    async fn error(&mut self, code: &'static str, message: String) -> Result<(), Stop> {
        self.control(frame(&ServerMessage::Error { code, message }))
            .await
    }

    /// Tells the client why it is being closed, then closes (1001 going away / 1008 policy).
    async fn bye(&mut self, reason: &'static str) {
        if self
            .control(frame(&ServerMessage::Bye { reason }))
            .await
            .is_err()
        {
            return;
        }
        let code = if reason == "shutdown" { 1001 } else { 1008 };
        let close = Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }));
        let _ = self.send(close).await;
    }
}

/// A token bucket: `rate` per second, bursts up to twice that.
struct Bucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl Bucket {
    fn new(per_second: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        Self {
            tokens: rate * 2.0,
            rate,
            burst: rate * 2.0,
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::sync::Mutex;
    use tokio::sync::mpsc;
    use tokio::sync::Semaphore;

    /// An in-memory client: frames the server sends are recorded, each send waits for a permit
    /// (the client "reading"); what the client says comes from a channel.
    struct Transport {
        sent: Arc<Mutex<Vec<Value>>>,
        reading: Arc<Semaphore>,
        incoming: mpsc::UnboundedSender<Result<Message, axum::Error>>,
    }

    fn context(send_timeout: Duration) -> (Arc<SessionContext>, Hub, Metrics) {
        let hub = Hub::new(16);
        let metrics = Metrics::new();
        let mut limits = SessionLimits::from_settings(&LiveSettings::default());
        limits.send_timeout = send_timeout;
        let ctx = Arc::new(SessionContext {
            hub: hub.clone(),
            metrics: metrics.clone(),
            shutdown: CancellationToken::new(),
            server_id: "test".into(),
            deployment: "Kota Pasuruan".into(),
            time_zone: "Asia/Jakarta".into(),
            limits,
            access: AccessPolicy::from_settings(&LiveSettings::default()).unwrap(),
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
                if let Message::Text(text) = &message {
                    sent.lock()
                        .unwrap()
                        .push(serde_json::from_str(text).unwrap());
                }
                Ok::<_, axum::Error>((sent, reading))
            },
        );
        let grant = Grant::anonymous_for_tests();
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
        fn start_send(
            mut self: std::pin::Pin<&mut Self>,
            item: Message,
        ) -> Result<(), Self::Error> {
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
}
