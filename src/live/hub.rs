//! The hub: the current value of every topic, its sequence number and its pre-serialised frames,
//! and who follows what.
//!
//! Each session has a doorbell ([`Bell`]) and tells the hub which topics and prefixes it
//! follows; a publish rings only the bells of the changed topics' followers (once per bell, however
//! many of its topics changed), so five thousand screens of one dashboard are not woken by a
//! topic none of them follows.

use std::collections::VecDeque;

// foldhash through hashbrown: topic names are hashed for every followed topic of every session
// at every wake-up.
use hashbrown::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};

use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::watch;

use super::protocol::ServerMessage;

/// One topic's current state, shared by every session.
#[derive(Debug)]
pub struct TopicState {
    /// Topic name, e.g. `dashboards/overview/total`.
    pub topic: String,
    /// The topic's slot in the hub, for [`Hub::get_slots`]; kept if the topic is removed and
    /// comes back.
    pub slot: usize,
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

/// A session's doorbell: rung when something it follows changed.
pub type Bell = Arc<tokio::sync::Notify>;

/// Who follows what: bells by topic and by prefix, and every bell (for the sources' status).
#[derive(Default)]
struct Followers {
    topics: HashMap<String, Vec<Weak<tokio::sync::Notify>>>,
    prefixes: Vec<(String, Weak<tokio::sync::Notify>)>,
    everyone: Vec<Weak<tokio::sync::Notify>>,
}

/// Rings each live bell (a bell rung twice before it is heard wakes its session once); drops the
/// dead ones from `bells`.
fn ring(bells: &mut Vec<Weak<tokio::sync::Notify>>) {
    bells.retain(|weak| match weak.upgrade() {
        Some(bell) => {
            bell.notify_one();
            true
        }
        None => false,
    });
}

/// Handle to the topics; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    /// A std lock: held only to swap an `Arc`, never across an await.
    topics: RwLock<Topics>,
    /// Patches kept per topic for resume.
    history: usize,
    /// The current `source_status` message: seq, value, frame.
    source_status: RwLock<(u64, Value, Option<Utf8Bytes>)>,
    /// Last sequence number of each removed topic, so a topic that comes back (a dashboard file
    /// restored) continues its numbering and a resuming client never mistakes new values for old.
    retired: RwLock<HashMap<String, u64>>,
    /// Bumped after every change so sessions wake and look at the topics they follow.
    changed: watch::Sender<u64>,
    /// Bumped when a topic appears or is removed, so sessions following prefixes look again.
    names: std::sync::atomic::AtomicU64,
    /// The sessions' bells by what they follow.
    followers: Mutex<Followers>,
}

/// The topics by slot, and the slot of each name: a session reads what it follows by slot
/// number, without hashing topic names on every wake-up.
#[derive(Default)]
struct Topics {
    /// Each topic by its slot; `None` while the topic is removed.
    slots: Vec<Option<Entry>>,
    /// The slot of every topic ever published (a topic that comes back keeps its slot).
    slot_of: HashMap<String, usize>,
}

impl Topics {
    fn get(&self, topic: &str) -> Option<&Entry> {
        self.slots.get(*self.slot_of.get(topic)?)?.as_ref()
    }

    fn contains(&self, topic: &str) -> bool {
        self.get(topic).is_some()
    }

    /// The slot of `topic`, given one if it never had one.
    fn slot_for(&mut self, topic: &str) -> usize {
        if let Some(slot) = self.slot_of.get(topic) {
            return *slot;
        }
        self.slots.push(None);
        self.slot_of.insert(topic.to_owned(), self.slots.len() - 1);
        self.slots.len() - 1
    }

    /// Takes `topic` out; its slot stays its own.
    fn remove(&mut self, topic: &str) -> Option<Entry> {
        self.slots.get_mut(*self.slot_of.get(topic)?)?.take()
    }

    /// Names of the topics present.
    fn names(&self) -> impl Iterator<Item = &String> {
        self.slot_of
            .iter()
            .filter(|(_, slot)| self.slots[**slot].is_some())
            .map(|(name, _)| name)
    }
}

/// A topic's state and the patch frames that led to it, oldest first.
struct Entry {
    state: Arc<TopicState>,
    history: VecDeque<(u64, Utf8Bytes)>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new(64)
    }
}

impl Hub {
    /// An empty hub keeping the last `history` patches of each topic for resume.
    pub fn new(history: usize) -> Self {
        let (changed, _) = watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                topics: RwLock::new(Topics::default()),
                history,
                source_status: RwLock::new((0, Value::Null, None)),
                retired: RwLock::new(HashMap::new()),
                changed,
                names: std::sync::atomic::AtomicU64::new(0),
                followers: Mutex::default(),
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
        let created = !topics.contains(topic);
        let seq = self.put(&mut topics, topic, committed_at, data);
        drop(topics);
        if seq.is_some() {
            self.ring_followers(&[(topic, created)]);
            self.inner.changed.send_modify(|n| *n += 1);
        }
        seq
    }

    /// Sets several topics' values at once (the panels of one recomputation): sessions wake once
    /// and send all that changed in one write. Returns how many changed.
    pub fn publish_all(
        &self,
        values: impl IntoIterator<Item = (String, Option<DateTime<Utc>>, Value)>,
    ) -> usize {
        let mut topics = self.inner.topics.write().unwrap_or_else(|p| p.into_inner());
        let changed: Vec<(String, bool)> = values
            .into_iter()
            .filter_map(|(topic, committed_at, data)| {
                let created = !topics.contains(&topic);
                self.put(&mut topics, &topic, committed_at, data)
                    .map(|_| (topic, created))
            })
            .collect();
        drop(topics);
        if !changed.is_empty() {
            let refs: Vec<(&str, bool)> = changed.iter().map(|(t, c)| (t.as_str(), *c)).collect();
            self.ring_followers(&refs);
            self.inner.changed.send_modify(|n| *n += 1);
        }
        changed.len()
    }

    /// Rings, once each, the bells of the followers of `changed` topics, and — for topics
    /// created or removed — of the prefixes they fall under.
    fn ring_followers(&self, changed: &[(&str, bool)]) {
        let mut followers = self.followers();
        let Followers {
            topics, prefixes, ..
        } = &mut *followers;
        for (topic, created_or_removed) in changed {
            if let Some(bells) = topics.get_mut(*topic) {
                ring(bells);
                if bells.is_empty() {
                    topics.remove(*topic);
                }
            }
            if *created_or_removed {
                prefixes.retain(|(prefix, weak)| match weak.upgrade() {
                    Some(bell) => {
                        if topic.starts_with(prefix.as_str()) {
                            bell.notify_one();
                        }
                        true
                    }
                    None => false,
                });
            }
        }
    }

    fn followers(&self) -> std::sync::MutexGuard<'_, Followers> {
        self.inner
            .followers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// `bell` rings when `topic` changes or is removed.
    pub fn follow(&self, topic: &str, bell: &Bell) {
        let mut followers = self.followers();
        let bells = followers.topics.entry(topic.to_owned()).or_default();
        if !bells.iter().any(|w| w.as_ptr() == Arc::as_ptr(bell)) {
            bells.push(Arc::downgrade(bell));
        }
    }

    /// `bell` rings when a topic under `prefix` appears or is removed.
    pub fn follow_prefix(&self, prefix: &str, bell: &Bell) {
        let mut followers = self.followers();
        followers
            .prefixes
            .push((prefix.to_owned(), Arc::downgrade(bell)));
    }

    /// `bell` no longer rings for `topic`.
    pub fn unfollow(&self, topic: &str, bell: &Bell) {
        let mut followers = self.followers();
        if let Some(bells) = followers.topics.get_mut(topic) {
            bells.retain(|w| w.as_ptr() != Arc::as_ptr(bell));
            if bells.is_empty() {
                followers.topics.remove(topic);
            }
        }
    }

    /// `bell` no longer rings for topics appearing under `prefix`.
    pub fn unfollow_prefix(&self, prefix: &str, bell: &Bell) {
        let mut followers = self.followers();
        followers
            .prefixes
            .retain(|(p, w)| !(p == prefix && w.as_ptr() == Arc::as_ptr(bell)));
    }

    /// A new bell that rings whenever the sources' status changes (every session has one).
    pub fn bell(&self) -> Bell {
        let bell = Bell::default();
        let mut followers = self.followers();
        followers.everyone.retain(|w| w.strong_count() > 0);
        followers.everyone.push(Arc::downgrade(&bell));
        bell
    }

    /// Sets one topic under the write lock, building its frames; `None` when unchanged.
    fn put(
        &self,
        topics: &mut Topics,
        topic: &str,
        committed_at: Option<DateTime<Utc>>,
        data: Value,
    ) -> Option<u64> {
        let previous = topics.get(topic).map(|e| &e.state);
        if previous.is_some_and(|p| p.data == data) {
            return None;
        }
        let seq = match previous {
            Some(p) => p.seq + 1,
            None => {
                let retired = self.inner.retired.read().unwrap_or_else(|p| p.into_inner());
                retired.get(topic).map_or(1, |last| last + 1)
            }
        };
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
        let slot = topics.slot_for(topic);
        let state = Arc::new(TopicState {
            topic: topic.to_owned(),
            slot,
            seq,
            committed_at,
            data,
            snapshot_frame,
            patch_frame,
        });
        let limit = self.inner.history;
        match &mut topics.slots[slot] {
            Some(entry) => {
                if let Some(patch) = &state.patch_frame {
                    entry.history.push_back((seq, patch.clone()));
                    while entry.history.len() > limit {
                        entry.history.pop_front();
                    }
                }
                entry.state = state;
            }
            empty => {
                *empty = Some(Entry {
                    state,
                    history: VecDeque::new(),
                });
                self.inner
                    .names
                    .fetch_add(1, std::sync::atomic::Ordering::Release);
            }
        }
        Some(seq)
    }

    /// The current states of the topics in `slots` (see [`TopicState::slot`]; in order, `None`
    /// for a topic that is gone), read under one lock.
    pub fn get_slots(
        &self,
        slots: impl IntoIterator<Item = usize>,
    ) -> Vec<Option<Arc<TopicState>>> {
        let topics = self.inner.topics.read().unwrap_or_else(|p| p.into_inner());
        slots
            .into_iter()
            .map(|s| Some(topics.slots.get(s)?.as_ref()?.state.clone()))
            .collect()
    }

    /// The current state of a topic.
    pub fn get(&self, topic: &str) -> Option<Arc<TopicState>> {
        self.inner
            .topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(topic)
            .map(|e| e.state.clone())
    }

    /// The patch frames (with their seq) that take a client from `since` to the topic's current
    /// seq, in order, or `None` when some are no longer kept (then the client needs a snapshot).
    pub fn patches_since(&self, topic: &str, since: u64) -> Option<Vec<(u64, Utf8Bytes)>> {
        let topics = self.inner.topics.read().unwrap_or_else(|p| p.into_inner());
        let entry = topics.get(topic)?;
        if since >= entry.state.seq {
            return None;
        }
        let first = entry.history.front()?.0;
        if since + 1 < first {
            return None;
        }
        Some(
            entry
                .history
                .iter()
                .filter(|(seq, _)| *seq > since)
                .cloned()
                .collect(),
        )
    }

    /// Removes a topic (its dashboard panel is gone); clients following it receive nothing more
    /// from it and new subscriptions are refused as unknown. Returns whether it existed.
    pub fn remove(&self, topic: &str) -> bool {
        let mut topics = self.inner.topics.write().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = topics.remove(topic) else {
            return false;
        };
        self.inner
            .retired
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(topic.to_owned(), entry.state.seq);
        drop(topics);
        self.inner
            .names
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        // Followers hear of it (`removed`).
        self.ring_followers(&[(topic, true)]);
        self.inner.changed.send_modify(|n| *n += 1);
        true
    }

    /// Changes whenever a topic appears or is removed.
    pub fn names_version(&self) -> u64 {
        self.inner.names.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Names of the topics starting with `prefix`, sorted.
    pub fn topic_names_under(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .names()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Names of all topics, sorted.
    pub fn topic_names(&self) -> Vec<String> {
        self.topic_names_under("")
    }

    /// Sets the sources' freshness shown to every client; nothing is sent when it is unchanged.
    pub fn set_source_status(&self, sources: Value) -> bool {
        {
            let mut current = self
                .inner
                .source_status
                .write()
                .unwrap_or_else(|p| p.into_inner());
            if current.1 == sources {
                return false;
            }
            let seq = current.0 + 1;
            let frame = frame(&ServerMessage::SourceStatus {
                seq,
                sources: &sources,
            });
            *current = (seq, sources, Some(frame));
        }
        ring(&mut self.followers().everyone);
        self.inner.changed.send_modify(|n| *n += 1);
        true
    }

    /// The current `source_status` frame and its seq, once one was set.
    pub fn source_status(&self) -> Option<(u64, Utf8Bytes)> {
        let current = self
            .inner
            .source_status
            .read()
            .unwrap_or_else(|p| p.into_inner());
        current.2.clone().map(|frame| (current.0, frame))
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

/// The engine publishes its panel values into the hub (connected in `startup`).
impl crate::engine::TopicSink for Hub {
    fn publish_all(&self, values: Vec<crate::engine::TopicValue>) {
        Hub::publish_all(self, values);
    }

    fn remove(&self, topic: &str) {
        Hub::remove(self, topic);
    }

    fn set_source_status(&self, sources: Value) {
        Hub::set_source_status(self, sources);
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
    fn a_removed_topic_that_returns_continues_its_sequence() {
        let hub = Hub::new(4);
        hub.publish("dashboards/a/p", None, json!({"n": 1}));
        hub.publish("dashboards/a/p", None, json!({"n": 2}));
        assert!(hub.remove("dashboards/a/p"));
        assert!(hub.get("dashboards/a/p").is_none());
        assert!(hub.topic_names().is_empty());
        assert!(!hub.remove("dashboards/a/p"));
        // Back again: seq 3, never 1, so a client holding seq 2 takes it as new.
        assert_eq!(
            hub.publish("dashboards/a/p", None, json!({"n": 0})),
            Some(3)
        );
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
    fn history_gives_exactly_the_missed_patches_while_it_holds_them() {
        let hub = Hub::new(3);
        for n in 1..=6 {
            hub.publish("t", None, json!({ "n": n }));
        }
        // seq 6 now; patches 4, 5, 6 kept.
        let seqs = |frames: Vec<(u64, Utf8Bytes)>| -> Vec<u64> {
            frames
                .iter()
                .map(|(seq, f)| {
                    let parsed: Value = serde_json::from_str(f).unwrap();
                    assert_eq!(parsed["seq"].as_u64(), Some(*seq));
                    *seq
                })
                .collect()
        };
        assert_eq!(hub.patches_since("t", 3).map(seqs), Some(vec![4, 5, 6]));
        assert_eq!(hub.patches_since("t", 5).map(seqs), Some(vec![6]));
        assert!(
            hub.patches_since("t", 2).is_none(),
            "patch 3 is gone: snapshot needed"
        );
        assert!(hub.patches_since("t", 6).is_none(), "nothing missed");
        assert!(
            hub.patches_since("t", 9).is_none(),
            "a seq from the future (another server run)"
        );
        assert!(hub.patches_since("other", 1).is_none());
    }

    #[test]
    fn a_recomputation_is_published_with_one_wake_up() {
        let hub = Hub::new(4);
        hub.publish("d/a", None, json!(1));
        let mut changes = hub.changes();
        changes.borrow_and_update();
        let names = hub.names_version();
        let changed = hub.publish_all([
            ("d/a".to_owned(), None, json!(2)),
            ("d/b".to_owned(), None, json!(1)),
            ("d/c".to_owned(), None, json!(1)),
            ("d/a".to_owned(), None, json!(2)),
        ]);
        assert_eq!(changed, 3, "the repeated unchanged value is not published");
        assert!(changes.has_changed().unwrap());
        changes.borrow_and_update();
        assert!(
            !changes.has_changed().unwrap(),
            "one wake-up for all of them"
        );
        assert_eq!(hub.get("d/a").unwrap().seq, 2);
        assert_eq!(hub.topic_names_under("d/"), ["d/a", "d/b", "d/c"]);
        assert_ne!(
            hub.names_version(),
            names,
            "new topics are noticed by prefix followers"
        );
        assert_eq!(hub.publish_all([("d/b".to_owned(), None, json!(1))]), 0);
        assert!(
            !changes.has_changed().unwrap(),
            "nothing changed, nobody woken"
        );
    }

    #[test]
    fn unchanged_values_are_not_published() {
        let hub = Hub::new(8);
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
