//! One WebSocket connection, served by one task that owns the socket: it parses and rate-limits
//! client messages, pings, and sends topic updates.
//!
//! The session sends each topic's pre-serialised frames. It never queues data: when it wakes it sends
//! the newest state of each followed topic (a patch when the client is exactly one step behind,
//! else a snapshot), so a slow client skips to the latest state instead of growing a buffer. A
//! client that does not take a frame within the send timeout is disconnected as a slow client.
//!
//! Here the event loop and the client's messages; following topics is [`follow`], map views
//! [`views`], the bounded socket [`outbox`].

use hashbrown::HashMap;
use std::sync::Arc;
use std::time::Duration;

// Tokio's clock (the same as the system's unless a test pauses it), so heartbeats and the rate
// limit can be tested with paused time.
use tokio::time::Instant;

use axum::extract::ws::{Message, WebSocket};
use chrono::Utc;
use futures_util::{Sink, Stream, StreamExt};
use tokio_util::sync::CancellationToken;

mod follow;
mod outbox;
mod views;

use super::access::{AccessPolicy, IpSlot};
use super::hub::frame;
use super::protocol::{ClientMessage, ServerMessage, Subscription, PROTOCOL_VERSION};
use super::screens::Screens;
use super::Hub;
use super::LiveSettings;
use crate::access::Principal;
use crate::telemetry::Metrics;
use outbox::Outbox;
use views::{check_view, ViewRequest, MAX_VIEWS};
pub use views::{ViewError, ViewSource, Views};

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
    pub views: Option<Views>,
}

/// A followed topic: the seq the client holds and where the hub keeps the topic.
struct Followed {
    delivered: u64,
    slot: usize,
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
    grant: Principal,
    peer: std::net::IpAddr,
    _slot: IpSlot,
) {
    let _connected = ctx.metrics.ws_connection();
    run(&mut socket, &ctx, &grant, &peer.to_string()).await;
}

/// The session: one task owns the socket and waits on whatever comes first — a client message,
/// a topic change, the ping timer or shutdown. Generic over the socket so any transport works.
pub(super) async fn run<S>(socket: &mut S, ctx: &SessionContext, grant: &Principal, peer: &str)
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
        id: NEXT_SESSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        screen: None,
        views: HashMap::new(),
    };
    let stop = state.serve(&mut out, ctx, grant).await;
    ctx.metrics.ws_subscriptions(-(state.followed.len() as i64));
    if let Some(name) = &state.screen {
        ctx.screens.disconnected(name, state.id);
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
/// Numbers sessions for the screen registry.
static NEXT_SESSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

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
    /// This connection's number, unique in the process (holds its screen name).
    id: u64,
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
        grant: &Principal,
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

    /// Checks one frame from the client and acts on it.
    async fn receive<S: Sink<Message> + Unpin>(
        &mut self,
        message: Message,
        out: &mut Outbox<'_, S>,
        ctx: &SessionContext,
        grant: &Principal,
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
                    // One name per connection: a page that renames itself would fill the list.
                    Ok(report) if self.screen.as_ref().is_some_and(|n| *n != report.name) => (
                        "invalid_message",
                        format!(
                            "this connection reports as screen '{}'; reconnect to use another name",
                            self.screen.as_deref().unwrap_or_default()
                        ),
                    ),
                    // A screen's token names the screen: it reports as that one only.
                    Ok(report) if grant.screen.as_ref().is_some_and(|n| *n != report.name) => (
                        "not_allowed",
                        format!(
                            "this token belongs to screen '{}'",
                            grant.screen.as_deref().unwrap_or_default()
                        ),
                    ),
                    Ok(report) => {
                        let name = report.name.clone();
                        match ctx.screens.report(report, &self.peer, self.id) {
                            Ok(()) => {
                                self.screen = Some(name);
                                return Ok(());
                            }
                            Err(reason) => ("invalid_message", reason),
                        }
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
        self.refuse(vec![Refusal::new(code, message)], out, ctx)
            .await
    }

    /// Answers what one client message had refused: each refusal counted (by code, in
    /// `pantau_ws_refused_total`), one `error` frame per code in one write however many there
    /// were, and the message counted once toward `max_errors`.
    async fn refuse<S: Sink<Message> + Unpin>(
        &mut self,
        refusals: Vec<Refusal>,
        out: &mut Outbox<'_, S>,
        ctx: &SessionContext,
    ) -> Result<(), Stop> {
        if refusals.is_empty() {
            return Ok(());
        }
        let mut groups: Vec<(&'static str, Vec<String>)> = Vec::new();
        for Refusal { code, message } in refusals {
            ctx.metrics.ws_refused(code);
            match groups.iter_mut().find(|(c, _)| *c == code) {
                Some((_, messages)) => messages.push(message),
                None => groups.push((code, vec![message])),
            }
        }
        for (code, messages) in groups {
            let message = match messages.len() {
                1 => messages.into_iter().next().unwrap_or_default(),
                n => {
                    let shown = messages
                        .iter()
                        .take(MAX_LISTED)
                        .cloned()
                        .collect::<Vec<_>>();
                    let more = n.saturating_sub(MAX_LISTED);
                    let tail = if more > 0 {
                        format!("; and {more} more")
                    } else {
                        String::new()
                    };
                    format!("{n} refused: {}{tail}", shown.join("; "))
                }
            };
            out.feed_control(frame(&ServerMessage::Error { code, message }))
                .await?;
        }
        out.flush().await?;
        self.errors += 1;
        if self.errors > ctx.limits.max_errors {
            return Err(Stop::Bye("too_many_errors"));
        }
        Ok(())
    }
}

/// Refusals of one kind listed in one error frame at most; the rest are counted.
const MAX_LISTED: usize = 10;

/// Why one part of a client message was not done.
pub(super) struct Refusal {
    code: &'static str,
    message: String,
}

impl Refusal {
    pub(super) fn new(code: &'static str, message: String) -> Refusal {
        Refusal { code, message }
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
        grant: &Principal,
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
                let refused = if let Err(reason) = check_view(bbox, zoom) {
                    Some(Refusal::new("invalid_message", reason))
                } else if !self.followed.contains_key(&topic) {
                    Some(Refusal::new(
                        "invalid_message",
                        format!("follow '{shown}' (subscribe) before asking for a view of it"),
                    ))
                } else if !self.views.contains_key(&topic) && self.views.len() >= MAX_VIEWS {
                    Some(Refusal::new(
                        "too_many_topics",
                        format!("one connection may hold at most {MAX_VIEWS} map views"),
                    ))
                } else {
                    None
                };
                if let Some(refused) = refused {
                    return self.refuse(vec![refused], out, ctx).await;
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
                let mut refused = Vec::new();
                // A topic named twice is followed (and sent) once.
                let mut named = std::collections::HashSet::new();
                topics.retain(|t| named.insert(t.topic.clone()));
                for prefix in prefixes {
                    let shown: String = prefix.chars().take(100).collect();
                    if prefix.is_empty() || prefix.len() > 200 {
                        refused.push(Refusal::new(
                            "invalid_message",
                            "a prefix is 1-200 characters".into(),
                        ));
                        continue;
                    }
                    if !grant.may_follow(&prefix) {
                        refused.push(Refusal::new(
                            "not_allowed",
                            format!("this token may not follow '{shown}'"),
                        ));
                        continue;
                    }
                    if !self.prefixes.contains(&prefix) {
                        if self.prefixes.len() >= ctx.limits.max_topics {
                            refused
                                .push(Refusal::new("too_many_topics", "too many prefixes".into()));
                            continue;
                        }
                        // Its topics now; `send_updates` adds those that appear later.
                        for name in ctx.hub.topic_names_under(&prefix) {
                            if named.insert(name.clone()) {
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
                    if let Err(refusal) = self.follow(wanted, out, ctx, grant).await? {
                        refused.push(refusal);
                        continue;
                    }
                    out.flush().await?;
                }
                self.refuse(refused, out, ctx).await
            }
        }
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
mod tests;
