//! Simulated public-service events (e-Monev): requests at service units of Kota Pasuruan, each
//! with its SLA, completed some minutes later — mostly within the SLA, some late, a few
//! cancelled or failed — so service-level panels move like a working day's.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::Utc;
use futures_util::future::BoxFuture;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::domain::Dataset;
use crate::domain::{ServiceEvent, ServiceOutcome};
use crate::geo::Boundaries;
use crate::ingest::mapping::Rows;
use crate::ingest::{Pulled, Source, SourceError, SourceIdentity};
use crate::store::Batch;

/// Unit, service, SLA in minutes, relative frequency.
const SERVICES: &[(&str, &str, u32, u32)] = &[
    (
        "Dinas Kependudukan dan Pencatatan Sipil",
        "Perekaman KTP-el",
        60,
        25,
    ),
    (
        "Dinas Kependudukan dan Pencatatan Sipil",
        "Akta Kelahiran",
        1_440,
        12,
    ),
    ("DPMPTSP", "Perizinan Berusaha (NIB)", 4_320, 8),
    ("Puskesmas Bugul Kidul", "Rawat Jalan", 120, 20),
    ("Puskesmas Kebonsari", "Rawat Jalan", 120, 15),
    ("RSUD dr. R. Soedarsono", "Instalasi Gawat Darurat", 30, 10),
    ("Dinas Sosial", "Verifikasi DTKS", 2_880, 5),
];

/// Pending events remembered for completion.
const PENDING_KEPT: usize = 400;

/// Simulated service-event source.
pub struct ServiceSimulator {
    identity: SourceIdentity,
    boundaries: Boundaries,
    max_batch: u32,
    rng: StdRng,
    pending: VecDeque<ServiceEvent>,
}

impl ServiceSimulator {
    /// A simulator filing 1..=`max_batch` requests every `interval` in the regions of `boundaries`.
    pub fn new(
        id: &str,
        boundaries: Boundaries,
        interval: Duration,
        max_batch: u32,
        seed: Option<u64>,
    ) -> Self {
        Self {
            identity: SourceIdentity {
                id: id.to_owned(),
                kind: "simulator",
                dataset: Dataset::ServiceEvents,
                interval,
            },
            boundaries,
            max_batch: max_batch.max(1),
            rng: seed.map_or_else(StdRng::from_os_rng, StdRng::seed_from_u64),
            pending: VecDeque::new(),
        }
    }

    fn request(&mut self, number: u64) -> ServiceEvent {
        let total: u32 = SERVICES.iter().map(|s| s.3).sum();
        let mut pick = self.rng.random_range(0..total);
        let (unit, service, sla, _) = SERVICES
            .iter()
            .find(|s| {
                if pick < s.3 {
                    true
                } else {
                    pick -= s.3;
                    false
                }
            })
            .unwrap_or(&SERVICES[0]);
        let regions = self.boundaries.regions();
        let region = regions[self.rng.random_range(0..regions.len())]
            .code
            .clone();
        ServiceEvent {
            source: self.identity.id.clone(),
            event_id: format!("LYN-{number:08}"),
            service: (*service).to_owned(),
            unit: (*unit).to_owned(),
            region: Some(region),
            requested_at: Utc::now(),
            completed_at: None,
            sla_target_minutes: *sla,
            outcome: ServiceOutcome::Pending,
        }
    }
}

impl Source for ServiceSimulator {
    fn identity(&self) -> &SourceIdentity {
        &self.identity
    }

    fn pull(&mut self, cursor: Option<String>) -> BoxFuture<'_, Result<Pulled, SourceError>> {
        let result = (|| {
            let filed = super::filed_count(cursor)?;
            let count = self.rng.random_range(1..=self.max_batch);
            let mut events = Vec::new();
            for i in 0..u64::from(count) {
                let event = self.request(filed + i + 1);
                self.pending.push_back(event.clone());
                events.push(event);
            }
            while self.pending.len() > PENDING_KEPT {
                self.pending.pop_front();
            }
            // Complete about as many as were filed, oldest first: a queue being served.
            for _ in 0..count {
                let Some(mut event) = self.pending.pop_front() else {
                    break;
                };
                let roll: f64 = self.rng.random();
                event.outcome = match roll {
                    r if r < 0.03 => ServiceOutcome::Cancelled,
                    r if r < 0.05 => ServiceOutcome::Failed,
                    _ => ServiceOutcome::Completed,
                };
                event.completed_at = Some(Utc::now().max(event.requested_at));
                events.push(event);
            }
            let rows = Rows::of(Batch::ServiceEvents(events));
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
    async fn requests_are_filed_and_completed_with_valid_events() {
        let set = Boundaries::kota_pasuruan_kelurahan().unwrap();
        let mut sim = ServiceSimulator::new("lyn", set, Duration::from_secs(1), 4, Some(5));
        let first = sim.pull(None).await.unwrap();
        let second = sim.pull(first.cursor.clone()).await.unwrap();
        for pulled in [&first, &second] {
            let Batch::ServiceEvents(events) = &pulled.rows.batch else {
                panic!("service events")
            };
            assert!(events.iter().all(|e| e.problems().is_empty()));
            assert!(events.iter().any(|e| e.outcome == ServiceOutcome::Pending));
        }
        let Batch::ServiceEvents(events) = &second.rows.batch else {
            unreachable!()
        };
        assert!(
            events.iter().any(|e| e.completed_at.is_some()),
            "the queue is served"
        );
    }
}
