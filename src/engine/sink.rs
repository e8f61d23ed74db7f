//! Where the engine's results go: [`TopicSink`], implemented by the live hub and connected in
//! `startup`, so the engine computes values without knowing who shows them.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One topic's new value: its name, when the data behind it was committed, the value.
pub type TopicValue = (String, Option<DateTime<Utc>>, Value);

/// Receives panel values as topics, and the sources' freshness every screen is told of.
pub trait TopicSink: Send + Sync {
    /// Sets these topics' values together (the panels of one recomputation), so a screen
    /// following several of them gets them in one write. An unchanged value changes nothing.
    fn publish_all(&self, values: Vec<TopicValue>);
    /// Removes a topic whose panel is gone.
    fn remove(&self, topic: &str);
    /// Sets the sources' states (`source_status`) shown on every screen.
    fn set_source_status(&self, sources: Value);
}

#[cfg(test)]
pub(crate) mod recording {
    //! A sink that keeps the last value of each topic, for the engine's own tests.

    use std::collections::HashMap;
    use std::sync::Mutex;

    use serde_json::Value;

    use super::{TopicSink, TopicValue};

    /// The last value published per topic.
    #[derive(Default)]
    pub struct Recording {
        values: Mutex<HashMap<String, Value>>,
    }

    impl Recording {
        /// The last value of `topic`.
        pub fn get(&self, topic: &str) -> Option<Value> {
            self.values.lock().unwrap().get(topic).cloned()
        }
    }

    impl TopicSink for Recording {
        fn publish_all(&self, values: Vec<TopicValue>) {
            let mut held = self.values.lock().unwrap();
            for (topic, _, value) in values {
                held.insert(topic, value);
            }
        }

        fn remove(&self, topic: &str) {
            self.values.lock().unwrap().remove(topic);
        }

        fn set_source_status(&self, _sources: Value) {}
    }
}
