//! Simulated APBD execution: per OPD of Kota Pasuruan, a pagu split into belanja operasi and
//! belanja modal, an anggaran kas plan, and a realisasi that follows a slow-start S-curve through
//! the fiscal year (modal later than operasi, some OPDs slower than others). The figures move by
//! the hour of the year; a pull reports the current month's cumulative lines only when they moved
//! (so a long demo stores a few hundred versions a day, not one per pull). Parents are the exact
//! sum of their children, so serapan adds up on every level. Deterministic with a seed.

use std::time::Duration;

use chrono::{Datelike, Timelike, Utc};
use chrono_tz::Tz;
use futures_util::future::BoxFuture;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::domain::Dataset;
use crate::domain::{BudgetLine, BudgetVersion, Rupiah};
use crate::ingest::mapping::Rows;
use crate::ingest::{Pulled, Source, SourceError, SourceIdentity};
use crate::store::Batch;

/// OPD code (prefix of its account codes), name (the OPD as dashboards show it), pagu in million
/// Rupiah, and how fast it spends (1.0 = on plan).
const OPDS: &[(&str, &str, i64, f64)] = &[
    ("1.01.01", "Dinas Pendidikan dan Kebudayaan", 182_400, 0.97),
    ("1.02.01", "Dinas Kesehatan", 151_250, 0.93),
    (
        "1.03.01",
        "Dinas Pekerjaan Umum dan Penataan Ruang",
        118_900,
        0.82,
    ),
    ("1.05.01", "Satuan Polisi Pamong Praja", 14_600, 0.95),
    ("2.08.01", "Dinas Lingkungan Hidup", 44_750, 0.88),
    ("2.09.01", "Dinas Perhubungan", 29_300, 0.85),
    (
        "2.12.01",
        "Dinas Kependudukan dan Pencatatan Sipil",
        11_800,
        1.0,
    ),
    ("4.01.01", "Sekretariat Daerah", 89_500, 0.9),
];

/// Account lines under each OPD: code, name, share of the pagu, delay of spending (months).
const ACCOUNTS: &[(&str, &str, i64, f64)] = &[
    ("5.1", "BELANJA OPERASI", 72, 0.0),
    ("5.2", "BELANJA MODAL", 28, 2.5),
];

/// Simulated budget execution source.
pub struct BudgetSimulator {
    identity: SourceIdentity,
    zone: Tz,
    /// Each OPD's spending speed: its base speed, varied by the seed.
    speeds: Vec<f64>,
    /// The figures last reported (account code, anggaran kas, realisasi), to skip repeats.
    last: Vec<(String, i64, i64)>,
}

impl BudgetSimulator {
    /// A budget simulator reporting every `interval`, months counted in `zone`.
    pub fn new(id: &str, interval: Duration, zone: Tz, seed: Option<u64>) -> Self {
        Self {
            identity: SourceIdentity {
                id: id.to_owned(),
                kind: "simulator",
                dataset: Dataset::BudgetLines,
                interval,
            },
            zone,
            speeds: {
                let mut rng = seed.map_or_else(StdRng::from_os_rng, StdRng::seed_from_u64);
                OPDS.iter()
                    .map(|o| o.3 * rng.random_range(0.95..1.0))
                    .collect()
            },
            last: Vec::new(),
        }
    }

    /// The current report: every line of every OPD for the current month.
    fn report(&mut self) -> Vec<BudgetLine> {
        let now = Utc::now();
        let local = now.with_timezone(&self.zone);
        let year = local.year() as u16;
        let month = local.month() as u8;
        // Share of the year gone, 0..=1, to the hour.
        let elapsed = f64::from(local.ordinal0() * 24 + local.hour()) / (365.0 * 24.0);
        let mut lines = Vec::new();
        for ((code_opd, opd, pagu_million, _), speed) in OPDS.iter().zip(&self.speeds) {
            let mut children = Vec::new();
            for (code, account, share, delay_months) in ACCOUNTS {
                let pagu =
                    Rupiah::from_rupiah(pagu_million * 1_000_000 * share / 100).unwrap_or_default();
                let t = ((elapsed * 12.0 - delay_months) / (12.0 - delay_months)).clamp(0.0, 1.0);
                let plan = pagu.sen() as f64 * (f64::from(month) / 12.0).min(1.0);
                // Slow start, spending catches up late in the year; a little noise per report.
                let spent = pagu.sen() as f64 * speed * t.powf(1.7);
                children.push(BudgetLine {
                    source: self.identity.id.clone(),
                    fiscal_year: year,
                    version: BudgetVersion::Murni,
                    opd: (*opd).to_owned(),
                    account_code: format!("{code_opd}.{code}"),
                    period: month,
                    level: 2,
                    parent_code: Some(format!("{code_opd}.5")),
                    account_name: (*account).to_owned(),
                    pagu,
                    anggaran_kas: Rupiah::from_sen(plan.round() as i64),
                    realisasi: Rupiah::from_sen(spent.round() as i64),
                    updated_at: now,
                });
            }
            let sum = |f: fn(&BudgetLine) -> Rupiah| {
                Rupiah::checked_sum(children.iter().map(f)).unwrap_or_default()
            };
            lines.push(BudgetLine {
                source: self.identity.id.clone(),
                fiscal_year: year,
                version: BudgetVersion::Murni,
                opd: (*opd).to_owned(),
                account_code: format!("{code_opd}.5"),
                period: month,
                level: 1,
                parent_code: None,
                account_name: "BELANJA DAERAH".to_owned(),
                pagu: sum(|l| l.pagu),
                anggaran_kas: sum(|l| l.anggaran_kas),
                realisasi: sum(|l| l.realisasi),
                updated_at: now,
            });
            lines.extend(children);
        }
        lines
    }
}

impl Source for BudgetSimulator {
    fn identity(&self) -> &SourceIdentity {
        &self.identity
    }

    fn pull(&mut self, _cursor: Option<String>) -> BoxFuture<'_, Result<Pulled, SourceError>> {
        let mut lines = self.report();
        let figures: Vec<(String, i64, i64)> = lines
            .iter()
            .map(|l| {
                (
                    l.account_code.clone(),
                    l.anggaran_kas.sen(),
                    l.realisasi.sen(),
                )
            })
            .collect();
        if figures == self.last {
            lines.clear();
        } else {
            self.last = figures;
        }
        let rows = Rows::of(Batch::BudgetLines(lines));
        Box::pin(std::future::ready(Ok(Pulled {
            rows,
            cursor: None,
            more: false,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parents_are_the_exact_sum_of_their_children_and_lines_are_valid() {
        let mut sim = BudgetSimulator::new(
            "apbd",
            Duration::from_secs(1),
            chrono_tz::Asia::Jakarta,
            Some(3),
        );
        let pulled = sim.pull(None).await.unwrap();
        let again = sim.pull(None).await.unwrap();
        assert!(
            again.rows.batch.is_empty(),
            "unchanged figures are not reported again"
        );
        let Batch::BudgetLines(lines) = pulled.rows.batch else {
            panic!("budget lines")
        };
        assert_eq!(lines.len(), OPDS.len() * 3);
        for line in &lines {
            assert!(
                line.problems().is_empty(),
                "{line:?}: {:?}",
                line.problems()
            );
            assert!(line.realisasi <= line.pagu);
        }
        for parent in lines.iter().filter(|l| l.level == 1) {
            let children: Vec<&BudgetLine> = lines
                .iter()
                .filter(|l| l.parent_code.as_deref() == Some(parent.account_code.as_str()))
                .collect();
            assert_eq!(children.len(), 2);
            let sum = Rupiah::checked_sum(children.iter().map(|c| c.realisasi)).unwrap();
            assert_eq!(sum, parent.realisasi, "exact, to the sen");
        }
    }
}
