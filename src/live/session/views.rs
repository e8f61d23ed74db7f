//! Map views: a client's box and zoom over a followed map topic, computed by a [`ViewSource`]
//! (the engine's layers, connected in `startup`) on a blocking thread, sent as `features` and sent
//! again whenever the topic moves.

use axum::extract::ws::Message;
use futures_util::Sink;
use serde_json::Value;

use super::outbox::Outbox;
use super::{Session, SessionContext, Stop};
use crate::live::hub::frame;
use crate::live::protocol::ServerMessage;

/// Most views one connection may hold at once.
pub(super) const MAX_VIEWS: usize = 8;

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

/// A client's view of one map topic.
pub(super) struct ViewRequest {
    pub(super) bbox: [f64; 4],
    pub(super) zoom: u8,
    /// The topic seq the last `features` was computed at.
    pub(super) sent: u64,
}

/// Checks a view: a real bounding box (west < east, south < north, inside the map) and zoom.
pub(super) fn check_view(bbox: [f64; 4], zoom: u8) -> Result<(), String> {
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

impl Session {
    /// Computes `view` of `topic` at the topic's current seq and feeds it as `features`; keeps
    /// the view for later updates. A view that cannot be computed is answered with an `error`
    /// and not kept.
    pub(super) async fn send_view<S: Sink<Message> + Unpin>(
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
}
