//! The simulator sources, for the demo: plausible complaints over real kelurahan boundaries (here),
//! budget execution through the fiscal year (`budget`) and service events (`services`).
//!
//! Each pull files a few new complaints at random points inside the configured kelurahan and moves
//! some earlier ones along the lifecycle (verified → assigned → in progress → resolved), so the
//! whole path from ingest to wall screen carries live, changing data without any outside service.
//! Its cursor is the number of complaints filed so far, so ids continue after a restart.

pub mod budget;
pub mod services;

pub use budget::BudgetSimulator;
pub use services::ServiceSimulator;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::future::BoxFuture;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

use super::{BuildContext, SourceSpec};

use crate::ingest::mapping::{Mapping, Rows};
use crate::ingest::{Pulled, Source, SourceError, SourceIdentity};
use crate::domain::Dataset;
use crate::domain::{Complaint, Status};
use crate::geo::Boundaries;
use crate::store::Batch;

/// Categories with the OPD that handles them and a relative frequency.
const CATEGORIES: &[(&str, &str, u32)] = &[
    ("Jalan Rusak", "Dinas PUPR", 20),
    ("Sampah", "Dinas Lingkungan Hidup", 18),
    ("Penerangan Jalan Umum", "Dinas Perhubungan", 12),
    ("Drainase dan Banjir", "Dinas PUPR", 12),
    ("Air Bersih PDAM", "Perumda Air Minum", 10),
    ("Administrasi Kependudukan", "Dispendukcapil", 8),
    ("Layanan Kesehatan", "Dinas Kesehatan", 7),
    ("Ketertiban Umum", "Satpol PP", 7),
    ("Pohon Tumbang", "Dinas Lingkungan Hidup", 6),
];

/// Channels citizens use, as e-Sambat and LAPOR! name them.
const CHANNELS: &[&str] = &["web", "android", "whatsapp", "sms", "call_center"];

/// Hours a complaint may stay open under the simulated service-level agreement.
/// SLA deadlines are drawn between these many hours after filing (urgent matters get hours,
/// routine ones days), so "at risk" and "breached" have something to show.
const SLA_HOURS: std::ops::RangeInclusive<i64> = 3..=72;
/// One complaint in this many is filed with an agency that is not responsible (bukan wewenang).
const OUT_OF_JURISDICTION_ONE_IN: u32 = 25;

/// How many filed complaints the simulator remembers to move along their lifecycle.
const OPEN_KEPT: usize = 500;

/// `type = "simulator"` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorConfig {
    /// Kelurahan/desa boundaries (GeoJSON); unset means the shipped Kota Pasuruan set.
    #[serde(default)]
    pub boundaries: Option<PathBuf>,
    /// Largest number of complaints in one batch.
    #[serde(default = "default_max_batch")]
    pub max_batch: u32,
    /// Seed for reproducible runs.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Dataset to simulate: `complaints` (default), `budget_lines` or `service_events`.
    #[serde(default = "default_sim_dataset")]
    pub dataset: String,
}

fn default_sim_dataset() -> String {
    "complaints".to_owned()
}

fn default_max_batch() -> u32 {
    5
}

impl SourceSpec for SimulatorConfig {
    /// Simulated rows are made as rows: there is no mapping, and nothing is ever quarantined.
    fn mapping(&self, _ctx: &BuildContext<'_>) -> Result<Option<Arc<Mapping>>, String> {
        Ok(None)
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Source>, String> {
        let set = match &self.boundaries {
            Some(p) => Boundaries::from_file(&ctx.resolve(p)).map_err(|e| e.to_string())?,
            None => Boundaries::kota_pasuruan_kelurahan().map_err(|e| e.to_string())?,
        };
        let (id, interval) = (ctx.id, ctx.interval);
        Ok(match self.dataset.as_str() {
            "complaints" => Box::new(Simulator::new(id, set, interval, self.max_batch, self.seed)),
            "budget_lines" => Box::new(BudgetSimulator::new(id, interval, ctx.zone, self.seed)),
            "service_events" => Box::new(ServiceSimulator::new(
                id,
                set,
                interval,
                self.max_batch,
                self.seed,
            )),
            other => {
                return Err(format!(
                    "dataset '{other}' is not one of complaints, budget_lines, service_events"
                ))
            }
        })
    }
}

/// Simulated complaints source.
pub struct Simulator {
    identity: SourceIdentity,
    boundaries: Boundaries,
    max_batch: u32,
    rng: StdRng,
    open: VecDeque<Complaint>,
}

impl Simulator {
    /// A simulator over `boundaries`, filing 1..=`max_batch` complaints every `interval`.
    pub fn new(
        id: impl Into<String>,
        boundaries: Boundaries,
        interval: Duration,
        max_batch: u32,
        seed: Option<u64>,
    ) -> Self {
        let rng = match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Self {
            identity: SourceIdentity {
                id: id.into(),
                kind: "simulator",
                dataset: Dataset::Complaints,
                interval,
            },
            boundaries,
            max_batch: max_batch.max(1),
            rng,
            open: VecDeque::new(),
        }
    }

    fn file_complaint(&mut self, number: u64) -> Complaint {
        let regions = self.boundaries.regions();
        let region = &regions[self.rng.random_range(0..regions.len())];
        let (lon, lat) = self.boundaries.random_point_in(region, &mut self.rng);
        let total: u32 = CATEGORIES.iter().map(|c| c.2).sum();
        let mut pick = self.rng.random_range(0..total);
        let (category, opd, _) = CATEGORIES
            .iter()
            .find(|c| {
                if pick < c.2 {
                    true
                } else {
                    pick -= c.2;
                    false
                }
            })
            .unwrap_or(&CATEGORIES[0]);
        let now = Utc::now();
        let channel = CHANNELS[self.rng.random_range(0..CHANNELS.len())];
        let sla_hours = self.rng.random_range(SLA_HOURS);
        let out_of_jurisdiction = self.rng.random_range(0..OUT_OF_JURISDICTION_ONE_IN) == 0;
        Complaint {
            source: self.identity.id.clone(),
            source_id: format!("SIM-{number:08}"),
            category: (*category).to_owned(),
            subcategory: None,
            channel: Some(channel.to_owned()),
            opd: (*opd).to_owned(),
            status: Status::Received,
            out_of_jurisdiction,
            kecamatan: region.code.parent(),
            kelurahan: Some(region.code.clone()),
            lat: Some(lat),
            lon: Some(lon),
            created_at: now,
            updated_at: now,
            first_response_at: None,
            resolved_at: None,
            sla_due_at: Some(now + chrono::Duration::hours(sla_hours)),
            rating: None,
        }
    }

    /// Moves a random remembered complaint one step along the lifecycle.
    fn progress_one(&mut self) -> Option<Complaint> {
        if self.open.is_empty() {
            return None;
        }
        let index = self.rng.random_range(0..self.open.len());
        let complaint = &mut self.open[index];
        complaint.status = match complaint.status {
            Status::Received if self.rng.random_bool(0.1) => Status::Rejected,
            Status::Received => Status::Verified,
            Status::Verified => Status::Assigned,
            Status::Assigned => Status::InProgress,
            _ => Status::Resolved,
        };
        let now = Utc::now();
        complaint.updated_at = now;
        if complaint.first_response_at.is_none() && complaint.status != Status::Received {
            complaint.first_response_at = Some(now);
        }
        if complaint.status.is_closed() {
            complaint.resolved_at = Some(now);
            if complaint.status == Status::Resolved {
                complaint.rating = Some(self.rng.random_range(3..=5));
            }
        }
        let update = complaint.clone();
        if matches!(update.status, Status::Resolved | Status::Rejected) {
            self.open.remove(index);
        }
        Some(update)
    }
}

/// A simulator's cursor: how many records it has filed so far (none before the first pull).
fn filed_count(cursor: Option<String>) -> Result<u64, SourceError> {
    match cursor {
        None => Ok(0),
        Some(c) => c
            .parse()
            .map_err(|e: std::num::ParseIntError| SourceError::BadCursor {
                reason: e.to_string(),
                cursor: c,
            }),
    }
}

impl Source for Simulator {
    fn identity(&self) -> &SourceIdentity {
        &self.identity
    }

    fn pull(&mut self, cursor: Option<String>) -> BoxFuture<'_, Result<Pulled, SourceError>> {
        let result = (|| {
            let filed = filed_count(cursor)?;
            let count = self.rng.random_range(1..=self.max_batch);
            let mut complaints = Vec::with_capacity(count as usize * 2);
            for i in 0..u64::from(count) {
                let complaint = self.file_complaint(filed + i + 1);
                self.open.push_back(complaint.clone());
                complaints.push(complaint);
            }
            while self.open.len() > OPEN_KEPT {
                self.open.pop_front();
            }
            for _ in 0..count {
                if let Some(update) = self.progress_one() {
                    complaints.push(update);
                }
            }
            let rows = Rows::of(Batch::Complaints(complaints));
            Ok(Pulled {
                rows,
                cursor: Some((filed + u64::from(count)).to_string()),
                more: false,
            })
        })();
        Box::pin(std::future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pulls_continue_the_numbering_from_the_cursor() {
        let boundaries = Boundaries::kota_pasuruan_kelurahan().unwrap();
        let mut sim = Simulator::new(
            "sim",
            boundaries.clone(),
            Duration::from_secs(1),
            3,
            Some(1),
        );
        let first = sim.pull(Some("41".into())).await.unwrap();
        let Batch::Complaints(complaints) = &first.rows.batch else {
            panic!("complaints")
        };
        let new: Vec<_> = complaints
            .iter()
            .filter(|c| c.status == Status::Received)
            .collect();
        assert!(!new.is_empty() && new.len() <= 3);
        assert_eq!(new[0].source_id, "SIM-00000042");
        assert_eq!(first.cursor, Some((41 + new.len()).to_string()));
        for c in complaints {
            let located = boundaries.locate(c.lon.unwrap(), c.lat.unwrap());
            assert_eq!(located.map(|r| &r.code), c.kelurahan.as_ref());
        }
        assert!(matches!(
            sim.pull(Some("abc".into())).await,
            Err(SourceError::BadCursor { .. })
        ));
    }
}
