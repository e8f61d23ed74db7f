//! Map views: a client's box and zoom over a followed map topic, computed by a [`ViewSource`]
//! (the engine's layers, connected in `startup`) on a blocking thread, sent as `features` and sent
//! again whenever the topic moves.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Message;
use futures_util::Sink;
use serde_json::Value;
use tokio::sync::Semaphore;

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

/// The map-view computer with a bound on how many views are computed at once across every
/// session: each takes a blocking thread and CPU, and a crowd of clients asking together must
/// not take them all.
#[derive(Clone)]
pub struct Views {
    source: Arc<dyn ViewSource>,
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl Views {
    /// `source`, computing at most `max_concurrent` views at once; a view waits up to `wait` for
    /// its turn and is then refused with `server_busy`.
    pub fn new(source: Arc<dyn ViewSource>, max_concurrent: usize, wait: Duration) -> Views {
        Views {
            source,
            slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
            wait,
        }
    }

    /// Computes one view in its turn.
    async fn compute(&self, topic: String, bbox: [f64; 4], zoom: u8) -> Result<Value, ViewError> {
        let Ok(Ok(permit)) =
            tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await
        else {
            return Err(ViewError {
                code: "server_busy",
                message: "the server is computing many map views; ask again shortly".into(),
            });
        };
        let source = self.source.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            source.features(&topic, bbox, zoom)
        })
        .await
        .unwrap_or_else(|e| {
            Err(ViewError {
                code: "invalid_message",
                message: format!("the view could not be computed: {e}"),
            })
        })
    }
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
        let Some(views) = ctx.views.clone() else {
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
        let computed = views.compute(name, bbox, zoom).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that takes `0` to compute a view.
    struct Slow(Duration);

    impl ViewSource for Slow {
        fn features(&self, topic: &str, _bbox: [f64; 4], _zoom: u8) -> Result<Value, ViewError> {
            std::thread::sleep(self.0);
            Ok(Value::String(topic.to_owned()))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn views_beyond_the_bound_wait_their_turn_then_are_refused() {
        let views = Views::new(
            Arc::new(Slow(Duration::from_millis(600))),
            1,
            Duration::from_millis(100),
        );
        let bbox = [112.8, -7.7, 112.95, -7.6];
        let first = tokio::spawn({
            let views = views.clone();
            async move { views.compute("a".into(), bbox, 12).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = views.compute("b".into(), bbox, 12).await;
        assert_eq!(second.unwrap_err().code, "server_busy");
        assert_eq!(first.await.unwrap().unwrap(), Value::String("a".into()));
        // Once the first is done, the slot is free again.
        assert!(views.compute("c".into(), bbox, 12).await.is_ok());
    }
}
