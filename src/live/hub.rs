//! The hub: the current value of every topic, its sequence number and its pre-serialised frames.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::watch;

use super::protocol::ServerMessage;

/// One topic's current state, shared by every session.
#[derive(Debug)]
pub struct TopicState {
    /// Topic name, e.g. `overview/complaints`.
    pub topic: String,
    /// Increases by one on every change of the value.
    pub seq: u64,
    /// When the data behind this value was committed to the store.
    pub committed_at: Option<DateTime<Utc>>,
    /// The full value.
    pub data: Value,
    /// `snapshot` message, serialised once.
    pub snapshot_frame: Utf8Bytes,
    /// `patch` message from `seq - 1` to `seq`, serialised once; absent for the first value.
    pub patch_frame: Option<Utf8Bytes>,
}

/// Handle to the topics; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    /// A std lock: held only to swap an `Arc`, never across an await.
    topics: RwLock<HashMap<String, Arc<TopicState>>>,
    /// Bumped after every change so sessions wake and look at the topics they follow.
    changed: watch::Sender<u64>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Self {
        let (changed, _) = watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                topics: RwLock::new(HashMap::new()),
                changed,
            }),
        }
    }

    /// Sets a topic's value. Returns the new sequence number, or `None` when the value did not change
    /// (then nothing is sent to anyone).
    pub fn publish(
        &self,
        topic: &str,
        committed_at: Option<DateTime<Utc>>,
        data: Value,
    ) -> Option<u64> {
        let mut topics = self.inner.topics.write().unwrap_or_else(|p| p.into_inner());
        let previous = topics.get(topic);
        if previous.is_some_and(|p| p.data == data) {
            return None;
        }
        let seq = previous.map_or(1, |p| p.seq + 1);
        let patch_frame = previous.map(|p| {
            frame(&ServerMessage::Patch {
                topic,
                seq,
                committed_at,
                merge: &merge_patch(&p.data, &data),
            })
        });
        let snapshot_frame = frame(&ServerMessage::Snapshot {
            topic,
            seq,
            committed_at,
            data: &data,
        });
        topics.insert(
            topic.to_owned(),
            Arc::new(TopicState {
                topic: topic.to_owned(),
                seq,
                committed_at,
                data,
                snapshot_frame,
                patch_frame,
            }),
        );
        drop(topics);
        self.inner.changed.send_modify(|n| *n += 1);
        Some(seq)
    }

    /// The current state of a topic.
    pub fn get(&self, topic: &str) -> Option<Arc<TopicState>> {
        self.inner
            .topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(topic)
            .cloned()
    }

    /// Names of all topics, sorted.
    pub fn topic_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Wakes whenever any topic changed; a slow watcher sees only that something changed.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }
}

pub(super) fn frame(message: &ServerMessage<'_>) -> Utf8Bytes {
    // Our message types serialise infallibly (string keys, no non-finite floats from the engine).
    Utf8Bytes::from(serde_json::to_string(message).unwrap_or_else(|e| {
        tracing::error!(error = %e, "Cannot serialise a live message.");
        String::from(r#"{"type":"error","code":"internal","message":"serialisation failed"}"#)
    }))
}

/// An RFC 7396 JSON merge patch that turns `old` into `new` (only changed members).
pub fn merge_patch(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = serde_json::Map::new();
            for (key, value) in new {
                match old.get(key) {
                    Some(previous) if previous == value => {}
                    Some(previous) => {
                        patch.insert(key.clone(), merge_patch(previous, value));
                    }
                    None => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            for key in old.keys().filter(|k| !new.contains_key(*k)) {
                patch.insert(key.clone(), Value::Null);
            }
            Value::Object(patch)
        }
        _ => new.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Applies a merge patch as RFC 7396 describes, to check `merge_patch` against.
    fn apply(target: &mut Value, patch: &Value) {
        match (target, patch) {
            (Value::Object(t), Value::Object(p)) => {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        apply(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
            (t, p) => *t = p.clone(),
        }
    }

    #[test]
    fn merge_patches_carry_only_changes_and_rebuild_the_value() {
        let old = json!({"total": 5, "by": {"a": 1, "b": 4}, "gone": 1, "list": [1, 2]});
        let new = json!({"total": 6, "by": {"a": 1, "b": 5}, "list": [1, 2]});
        let patch = merge_patch(&old, &new);
        assert_eq!(patch, json!({"total": 6, "by": {"b": 5}, "gone": null}));
        let mut rebuilt = old.clone();
        apply(&mut rebuilt, &patch);
        assert_eq!(rebuilt, new);
    }

    #[test]
    fn unchanged_values_are_not_published() {
        let hub = Hub::new();
        assert_eq!(hub.publish("t", None, json!({"n": 1})), Some(1));
        assert_eq!(hub.publish("t", None, json!({"n": 1})), None);
        assert_eq!(hub.publish("t", None, json!({"n": 2})), Some(2));
        let state = hub.get("t").unwrap();
        let patch: Value = serde_json::from_str(state.patch_frame.as_ref().unwrap()).unwrap();
        assert_eq!(patch["type"], "patch");
        assert_eq!(patch["seq"], 2);
        assert_eq!(patch["merge"], json!({"n": 2}));
    }
}
