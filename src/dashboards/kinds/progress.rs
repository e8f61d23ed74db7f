//! `progress`: each group's value measure (e.g. serapan) against the target, with its
//! red/amber/green, ranked like a breakdown. A row per group, with its status, when exported.

use serde_json::Value;

use super::breakdown::{needs_groups, ranked, ranked_table};
use super::{Checking, Kind, Problems, RegionNames, Shaping};
use crate::dashboards::model::Panel;
use crate::dashboards::result::Group;
use crate::domain::table::Table;

/// The `progress` kind.
pub(super) struct Progress;

impl Kind for Progress {
    fn check(&self, c: &Checking<'_>, p: &mut Problems) {
        needs_groups(c, p);
    }

    fn shape(&self, s: &Shaping<'_>, groups: Vec<Group>) -> Value {
        ranked(s, groups, true)
    }

    fn tabulate(&self, panel: &Panel, value: &Value, _names: &dyn RegionNames) -> Table {
        ranked_table(panel, value, true)
    }
}
