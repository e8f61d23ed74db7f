//! The WebSocket protocol, version 1: JSON text frames with a `type` member.
//! Documented with example exchanges in `docs/protocol.md`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Protocol version announced in `hello`; bumped on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

/// Messages the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a> {
    /// First message of every connection.
    Hello {
        /// Protocol version spoken.
        protocol: u32,
        /// Identifies this server process (changes on restart).
        server_id: &'a str,
        /// Software name and version.
        server: &'a str,
        /// Server clock, for clients to estimate skew.
        server_time: DateTime<Utc>,
        /// Deployment name shown on screens.
        deployment: &'a str,
        /// IANA zone for showing times.
        time_zone: &'a str,
        /// Topics that exist now.
        topics: Vec<String>,
    },
    /// The full value of a topic.
    Snapshot {
        /// Topic name.
        topic: &'a str,
        /// Sequence number of this value.
        seq: u64,
        /// When the data behind it was committed.
        committed_at: Option<DateTime<Utc>>,
        /// The value.
        data: &'a Value,
    },
    /// Changes from `seq - 1` to `seq` as an RFC 7396 merge patch.
    Patch {
        /// Topic name.
        topic: &'a str,
        /// Sequence number after applying.
        seq: u64,
        /// When the data behind it was committed.
        committed_at: Option<DateTime<Utc>>,
        /// The merge patch.
        merge: &'a Value,
    },
    /// How fresh each source's data is; sent after `hello` and whenever a source's state changes.
    SourceStatus {
        /// Increases by one per change.
        seq: u64,
        /// `[{id, kind, dataset, state, last_error?}]`, `state` = starting/fresh/stale/failing.
        sources: &'a Value,
    },
    /// Answer to a client `ping`.
    Pong {
        /// The client's id, echoed.
        id: Option<Value>,
        /// Server clock.
        server_time: DateTime<Utc>,
    },
    /// Something the client sent was refused; the connection stays open unless a `bye` follows.
    Error {
        /// Stable machine-readable code.
        code: &'a str,
        /// Explanation for a person.
        message: String,
    },
    /// A followed topic no longer exists (its dashboard panel was removed); the client drops it.
    Removed {
        /// Topic name.
        topic: &'a str,
        /// The last sequence number it had.
        seq: u64,
    },
    /// The features of a map layer inside a client's view (`view`), at the topic's `seq`; sent
    /// again whenever the topic moves.
    Features {
        /// Topic name.
        topic: &'a str,
        /// The topic's sequence number the features were computed at.
        seq: u64,
        /// When the data behind them was committed.
        committed_at: Option<DateTime<Utc>>,
        /// The view: west, south, east, north (degrees).
        bbox: [f64; 4],
        /// The view's zoom.
        zoom: u8,
        /// The layer's value for the view (as the topic's, at most 5,000 features).
        data: &'a Value,
    },
    /// The server is closing the connection, and why.
    Bye {
        /// `shutdown`, `heartbeat_timeout`, `too_many_errors`, …
        reason: &'a str,
    },
}

/// Messages a client sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Follow topics; with `last_seq` a reconnecting client is sent nothing it already has.
    Subscribe {
        /// Topics to follow.
        #[serde(default)]
        topics: Vec<Subscription>,
        /// Follow every topic whose name starts with one of these, now and later (a whole
        /// dashboard: `dashboards/{id}/`); `topics` may carry the last seqs of some of them.
        #[serde(default)]
        prefixes: Vec<String>,
    },
    /// Stop following topics (and prefixes).
    Unsubscribe {
        /// Topic names.
        #[serde(default)]
        topics: Vec<String>,
        /// Prefixes followed with `subscribe`; their topics are dropped too.
        #[serde(default)]
        prefixes: Vec<String>,
    },
    /// A named wall screen reports itself (on connect and with each heartbeat), for `/api/screens`.
    Screen {
        /// Name from the page URL (`?screen=…`): 1–64 of `A-Z a-z 0-9 . _ -`.
        name: String,
        /// The page or dashboard shown.
        #[serde(default)]
        page: String,
        /// Age of the data on screen, in seconds.
        #[serde(default)]
        data_age_s: Option<f64>,
        /// Whether the page shows its data as stale.
        #[serde(default)]
        stale: bool,
    },
    /// Ask for the features of a followed points/clusters/heat map topic inside a bounding box
    /// at a zoom (a map that pans and zooms); without `bbox`, stop.
    View {
        /// A followed map topic.
        topic: String,
        /// West, south, east, north in degrees.
        #[serde(default)]
        bbox: Option<[f64; 4]>,
        /// Web-map zoom, 0-22.
        #[serde(default)]
        zoom: Option<u8>,
    },
    /// Heartbeat / round-trip probe.
    Ping {
        /// Echoed in the `pong`.
        #[serde(default)]
        id: Option<Value>,
    },
}

/// One topic a client wants.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// Topic name.
    pub topic: String,
    /// The last sequence number the client holds, if reconnecting.
    #[serde(default)]
    pub last_seq: Option<u64>,
}
