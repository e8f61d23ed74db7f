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
/// Screens remembered at most (a command centre has tens); when full, the screen gone longest is
/// forgotten for a new one, and a new name is refused while every one is connected.
pub const MAX_SCREENS: usize = 1000;

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
    /// The connection that holds this name while it is open: no other may report under it.
    holder: Option<u64>,
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
        self.holder.is_some()
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
    /// Records a report from connection `holder` at `address`. A name held by another open
    /// connection is refused (a page cannot mark a real screen stale), and so is a new name when
    /// [`MAX_SCREENS`] are remembered and all of them are connected.
    pub fn report(&self, report: Report, address: &str, holder: u64) -> Result<(), String> {
        let mut screens = self.lock();
        let now = Utc::now();
        if let Some(held) = screens.get(&report.name).and_then(|s| s.holder) {
            if held != holder {
                return Err(format!(
                    "screen name '{}' is held by another open connection",
                    report.name
                ));
            }
        }
        if !screens.contains_key(&report.name) && screens.len() >= MAX_SCREENS {
            forget_expired(&mut screens, now);
            if screens.len() >= MAX_SCREENS {
                let oldest = screens
                    .values()
                    .filter(|s| !s.connected())
                    .min_by_key(|s| s.last_report)
                    .map(|s| s.name.clone());
                match oldest {
                    Some(name) => {
                        screens.remove(&name);
                    }
                    None => {
                        return Err(format!(
                            "at most {MAX_SCREENS} screens are known, all of them connected"
                        ))
                    }
                }
            }
        }
        let entry = screens
            .entry(report.name.clone())
            .or_insert_with(|| Screen {
                name: report.name.clone(),
                page: String::new(),
                address: String::new(),
                holder: None,
                last_report: now,
                data_age_s: None,
                stale: false,
                connections: 0,
            });
        if entry.holder.is_none() {
            entry.connections += 1;
            entry.holder = Some(holder);
        }
        entry.page = report.page;
        entry.address = address.to_owned();
        entry.last_report = now;
        entry.data_age_s = report.data_age_s;
        entry.stale = report.stale;
        Ok(())
    }

    /// Marks the screen's connection closed, if `holder` is the one holding its name.
    pub fn disconnected(&self, name: &str, holder: u64) {
        if let Some(screen) = self.lock().get_mut(name) {
            if screen.holder == Some(holder) {
                screen.holder = None;
            }
        }
    }

    /// Every screen known, by name; screens gone for over a day are forgotten.
    pub fn list(&self) -> Vec<Screen> {
        let mut screens = self.lock();
        forget_expired(&mut screens, Utc::now());
        screens.values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Screen>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn forget_expired(screens: &mut BTreeMap<String, Screen>, now: DateTime<Utc>) {
    screens.retain(|_, s| {
        s.connected() || (now - s.last_report).to_std().unwrap_or_default() < FORGET_AFTER
    });
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
        for (i, (name, age, stale)) in [
            ("wall-1", 2.0, false),
            ("wall-2", 500.0, false),
            ("wall-3", 1.0, true),
            ("wall-4", 1.0, false),
        ]
        .into_iter()
        .enumerate()
        {
            let address = format!("10.0.0.{}", 5 + i);
            screens
                .report(report(name, age, stale), &address, i as u64)
                .unwrap();
        }
        screens.disconnected("wall-4", 3);
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
        screens
            .report(report("wall-4", 1.0, false), "10.0.0.8", 7)
            .unwrap();
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

    #[test]
    fn a_name_belongs_to_the_connection_holding_it() {
        let screens = Screens::default();
        screens
            .report(report("lobby-left", 1.0, false), "10.0.0.5", 1)
            .unwrap();
        let spoof = screens
            .report(report("lobby-left", 999.0, true), "10.0.0.66", 2)
            .unwrap_err();
        assert!(spoof.contains("held by another open connection"), "{spoof}");
        let held = &screens.list()[0];
        assert_eq!((held.address.as_str(), held.stale), ("10.0.0.5", false));
        // A disconnect by someone else does not free it; the holder's does.
        screens.disconnected("lobby-left", 2);
        assert!(screens.list()[0].connected());
        screens.disconnected("lobby-left", 1);
        screens
            .report(report("lobby-left", 1.0, false), "10.0.0.5", 3)
            .unwrap();
        assert_eq!(screens.list()[0].connections, 2, "the reconnect");
    }

    #[test]
    fn the_registry_is_bounded() {
        let screens = Screens::default();
        for i in 0..MAX_SCREENS as u64 {
            screens
                .report(report(&format!("wall-{i}"), 1.0, false), "10.0.0.5", i)
                .unwrap();
        }
        let full = screens
            .report(report("one-more", 1.0, false), "10.0.0.5", 5_000)
            .unwrap_err();
        assert!(full.contains("at most 1000 screens"), "{full}");
        // A gone screen makes room: the one gone longest is forgotten.
        screens.disconnected("wall-3", 3);
        screens
            .report(report("one-more", 1.0, false), "10.0.0.5", 5_000)
            .unwrap();
        let names: Vec<String> = screens.list().into_iter().map(|s| s.name).collect();
        assert_eq!(names.len(), MAX_SCREENS);
        assert!(!names.contains(&"wall-3".to_owned()));
        assert!(names.contains(&"one-more".to_owned()));
    }
}
