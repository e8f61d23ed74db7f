//! Which wall screens are alive, stale or gone: each named screen reports itself over its
//! WebSocket, and operators read the list at `/api/screens`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A screen that has not reported for this long is gone even if its socket looks open.
const REPORT_TIMEOUT: Duration = Duration::from_secs(60);
/// A screen whose data is older than this is stale.
const STALE_DATA: Duration = Duration::from_secs(120);
/// Gone screens are forgotten after a day.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How a screen is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScreenState {
    /// Connected, reporting, showing fresh data.
    Alive,
    /// Connected and reporting, but its data is old or it says it is stale.
    Stale,
    /// Disconnected, or silent for over a minute.
    Gone,
}

/// What a screen last said about itself, and when.
#[derive(Debug, Clone)]
pub struct Screen {
    /// Name given in the page URL (`?screen=…`).
    pub name: String,
    /// The page or dashboard it shows.
    pub page: String,
    /// Client address.
    pub address: String,
    /// Open connections reporting this name (a reconnect may overlap the old connection's end).
    open: u32,
    /// When it last reported.
    pub last_report: DateTime<Utc>,
    /// Age of its data at that report, in seconds.
    pub data_age_s: Option<f64>,
    /// Whether the page itself showed its data as stale.
    pub stale: bool,
    /// Connections this screen has opened since the server started (reconnects show here).
    pub connections: u64,
}

impl Screen {
    /// Whether a WebSocket of this screen is open now.
    pub fn connected(&self) -> bool {
        self.open > 0
    }

    /// The screen's state at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> ScreenState {
        let silent = (now - self.last_report).to_std().unwrap_or_default();
        if !self.connected() || silent > REPORT_TIMEOUT {
            ScreenState::Gone
        } else if self.stale
            || self
                .data_age_s
                .is_some_and(|age| age > STALE_DATA.as_secs_f64())
        {
            ScreenState::Stale
        } else {
            ScreenState::Alive
        }
    }
}

/// A screen's report as the session parsed it.
#[derive(Debug, Clone)]
pub struct Report {
    /// Screen name.
    pub name: String,
    /// Page shown.
    pub page: String,
    /// Data age in seconds.
    pub data_age_s: Option<f64>,
    /// Page marks its data stale.
    pub stale: bool,
}

/// The registry of named screens; cheap to clone.
#[derive(Clone, Default)]
pub struct Screens {
    inner: Arc<Mutex<BTreeMap<String, Screen>>>,
}

impl Screens {
    /// Records a report from a connection at `address`; `first` marks the connection's first report.
    pub fn report(&self, report: Report, address: &str, first: bool) {
        let mut screens = self.lock();
        let now = Utc::now();
        let entry = screens
            .entry(report.name.clone())
            .or_insert_with(|| Screen {
                name: report.name.clone(),
                page: String::new(),
                address: String::new(),
                open: 0,
                last_report: now,
                data_age_s: None,
                stale: false,
                connections: 0,
            });
        entry.page = report.page;
        entry.address = address.to_owned();
        entry.last_report = now;
        entry.data_age_s = report.data_age_s;
        entry.stale = report.stale;
        if first {
            entry.connections += 1;
            entry.open += 1;
        }
    }

    /// Marks a screen's connection closed.
    pub fn disconnected(&self, name: &str) {
        if let Some(screen) = self.lock().get_mut(name) {
            screen.open = screen.open.saturating_sub(1);
        }
    }

    /// Every screen known, by name; screens gone for over a day are forgotten.
    pub fn list(&self) -> Vec<Screen> {
        let now = Utc::now();
        let mut screens = self.lock();
        screens.retain(|_, s| {
            s.connected() || (now - s.last_report).to_std().unwrap_or_default() < FORGET_AFTER
        });
        screens.values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Screen>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(name: &str, age: f64, stale: bool) -> Report {
        Report {
            name: name.into(),
            page: "overview".into(),
            data_age_s: Some(age),
            stale,
        }
    }

    #[test]
    fn screens_are_alive_stale_or_gone() {
        let screens = Screens::default();
        screens.report(report("wall-1", 2.0, false), "10.0.0.5", true);
        screens.report(report("wall-2", 500.0, false), "10.0.0.6", true);
        screens.report(report("wall-3", 1.0, true), "10.0.0.7", true);
        screens.report(report("wall-4", 1.0, false), "10.0.0.8", true);
        screens.disconnected("wall-4");
        let now = Utc::now();
        let states: Vec<_> = screens
            .list()
            .iter()
            .map(|s| (s.name.clone(), s.state(now)))
            .collect();
        assert_eq!(
            states,
            [
                ("wall-1".into(), ScreenState::Alive),
                ("wall-2".into(), ScreenState::Stale),
                ("wall-3".into(), ScreenState::Stale),
                ("wall-4".into(), ScreenState::Gone),
            ]
        );
        let later = now + chrono::Duration::seconds(90);
        assert_eq!(
            screens.list()[0].state(later),
            ScreenState::Gone,
            "silent for 90 s"
        );
        screens.report(report("wall-4", 1.0, false), "10.0.0.8", true);
        let wall4 = screens
            .list()
            .into_iter()
            .find(|s| s.name == "wall-4")
            .unwrap();
        assert_eq!(
            (wall4.connections, wall4.state(Utc::now())),
            (2, ScreenState::Alive)
        );
    }
}
