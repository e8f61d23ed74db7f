//! Budget execution (APBD realisasi): hierarchical budget lines per fiscal year, version and period.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Rupiah;

/// Which edition of the year's budget a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetVersion {
    /// APBD murni: the budget as first enacted.
    Murni,
    /// APBD perubahan: the revised budget enacted mid-year.
    Perubahan,
}

impl BudgetVersion {
    /// The lower-case name used in data and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetVersion::Murni => "murni",
            BudgetVersion::Perubahan => "perubahan",
        }
    }
}

/// One line of a budget realisation report for one period.
///
/// Lines form a hierarchy (urusan → OPD → program → kegiatan → sub-kegiatan → jenis belanja):
/// a parent's pagu already contains its children's, so sums are only ever taken over one `level`.
/// `realisasi` and `anggaran_kas` are cumulative from the start of the year to the end of `period`,
/// and a later report for the same key corrects the earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BudgetLine {
    /// The source that reported it (a source id from the configuration).
    pub source: String,
    /// Fiscal year (tahun anggaran), e.g. 2026.
    pub fiscal_year: u16,
    /// Murni or perubahan.
    pub version: BudgetVersion,
    /// Code of the agency (OPD) the line belongs to, e.g. `1.01.01`.
    pub opd: String,
    /// Account code (kode rekening) of the line.
    pub account_code: String,
    /// Period the cumulative figures run to: month 1–12.
    pub period: u8,
    /// Depth in the hierarchy, 1 for the top level.
    pub level: u8,
    /// Account code of the enclosing line; none at level 1.
    pub parent_code: Option<String>,
    /// Name of the account (uraian), e.g. `BELANJA PEGAWAI`.
    pub account_name: String,
    /// Allocation for the year.
    pub pagu: Rupiah,
    /// Planned disbursement up to the end of `period` (anggaran kas).
    pub anggaran_kas: Rupiah,
    /// Spent up to the end of `period`.
    pub realisasi: Rupiah,
    /// When the source produced these figures; the newest report for a key wins.
    pub updated_at: DateTime<Utc>,
}

impl BudgetLine {
    /// Every reason this line cannot be stored (empty when it can).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(2000..=2100).contains(&self.fiscal_year) {
            out.push(format!(
                "fiscal_year {} is outside 2000..=2100",
                self.fiscal_year
            ));
        }
        if !(1..=12).contains(&self.period) {
            out.push(format!("period {} is not a month 1..=12", self.period));
        }
        if self.opd.trim().is_empty() {
            out.push("opd is empty".to_owned());
        }
        if self.account_code.trim().is_empty() {
            out.push("account_code is empty".to_owned());
        }
        if self.level == 0 {
            out.push("level must be 1 or more".to_owned());
        }
        match (&self.parent_code, self.level) {
            (None, l) if l > 1 => out.push(format!("level {l} needs a parent_code")),
            (Some(p), 1) => out.push(format!("level 1 cannot have parent_code {p}")),
            (Some(p), _) if *p == self.account_code => {
                out.push("parent_code equals account_code".to_owned())
            }
            _ => {}
        }
        for (name, amount) in [
            ("pagu", self.pagu),
            ("anggaran_kas", self.anggaran_kas),
            ("realisasi", self.realisasi),
        ] {
            if amount < Rupiah::ZERO {
                out.push(format!("{name} {amount} is negative"));
            }
        }
        out
    }
}
