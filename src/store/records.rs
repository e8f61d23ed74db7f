//! How each dataset's domain records become keys and column values, and back.

use chrono::{DateTime, Utc};

use super::schema::{budget_col as b, complaint_col as c, service_col as s};
use super::table::Dicts;
use crate::domain::Dataset;
use crate::domain::{BudgetLine, Complaint, RegionCode, ServiceEvent};

/// One row's column values; every stored value is an integer underneath.
pub(crate) type Values = [Option<i64>];

/// A record that one dataset stores.
pub(crate) trait Record: Clone + Send + Sync + 'static {
    /// The dataset it belongs to.
    const DATASET: Dataset;
    /// Every reason it cannot be stored (empty when it can).
    fn problems(&self) -> Vec<String>;
    /// Appends its key's bytes to `out`.
    fn key(&self, out: &mut Vec<u8>);
    /// Writes its column values into `row`, adding new labels to `dicts`.
    fn encode(&self, dicts: &mut Dicts, row: &mut Values) -> Result<(), String>;
}

/// Seconds since the epoch as stored; `None` outside 1970..2106.
pub(crate) fn time_value(at: DateTime<Utc>) -> Option<i64> {
    let secs = at.timestamp();
    (0..=i64::from(u32::MAX)).contains(&secs).then_some(secs)
}

/// A reason for each given time that cannot be stored.
fn times_out_of_range<const N: usize>(
    times: [(&'static str, Option<DateTime<Utc>>); N],
) -> impl Iterator<Item = String> {
    times.into_iter().filter_map(|(name, at)| {
        at.filter(|at| time_value(*at).is_none())
            .map(|at| format!("{name} {at} is outside 1970..2106"))
    })
}

fn time(at: DateTime<Utc>, name: &str) -> Result<Option<i64>, String> {
    time_value(at)
        .map(Some)
        .ok_or_else(|| format!("{name} {at} is outside 1970..2106"))
}

fn opt_time(at: Option<DateTime<Utc>>, name: &str) -> Result<Option<i64>, String> {
    at.map_or(Ok(None), |at| time(at, name))
}

fn coord(degrees: Option<f64>) -> Option<i64> {
    degrees.map(|d| (d * 1e6).round() as i64)
}

fn region(dicts: &mut Dicts, col: usize, code: Option<&RegionCode>) -> Result<Option<i64>, String> {
    code.map(|c| dicts.code(col, c.as_str())).transpose()
}

fn key_text(out: &mut Vec<u8>, a: &str, b: &str) {
    out.extend_from_slice(a.as_bytes());
    out.push(0);
    out.extend_from_slice(b.as_bytes());
}

/// The key's parts as (name, text) for display, exports and the `source_id` column.
pub(crate) fn key_parts(dataset: Dataset, key: &[u8]) -> Vec<(&'static str, String)> {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let split = |bytes: &[u8]| {
        let at = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
        (
            text(&bytes[..at]),
            text(bytes.get(at + 1..).unwrap_or_default()),
        )
    };
    match dataset {
        Dataset::Complaints => {
            let (source, id) = split(key);
            vec![("source", source), ("source_id", id)]
        }
        Dataset::ServiceEvents => {
            let (source, id) = split(key);
            vec![("source", source), ("event_id", id)]
        }
        Dataset::BudgetLines => {
            let (opd, account) = split(key.get(4..).unwrap_or_default());
            let year = key.get(..2).map_or(0, |y| u16::from_le_bytes([y[0], y[1]]));
            let version = if key.get(2) == Some(&1) {
                "perubahan"
            } else {
                "murni"
            };
            let period = key.get(3).copied().unwrap_or_default();
            vec![
                ("fiscal_year", year.to_string()),
                ("version", version.to_owned()),
                ("opd", opd),
                ("account_code", account),
                ("period", period.to_string()),
            ]
        }
    }
}

impl Record for Complaint {
    const DATASET: Dataset = Dataset::Complaints;

    fn problems(&self) -> Vec<String> {
        let mut out = Complaint::problems(self);
        out.extend(times_out_of_range([
            ("created_at", Some(self.created_at)),
            ("updated_at", Some(self.updated_at)),
            ("first_response_at", self.first_response_at),
            ("resolved_at", self.resolved_at),
            ("sla_due_at", self.sla_due_at),
        ]));
        out
    }

    fn key(&self, out: &mut Vec<u8>) {
        key_text(out, &self.source, &self.source_id);
    }

    fn encode(&self, dicts: &mut Dicts, row: &mut Values) -> Result<(), String> {
        row[c::SOURCE] = Some(dicts.code(c::SOURCE, &self.source)?);
        row[c::CATEGORY] = Some(dicts.code(c::CATEGORY, &self.category)?);
        row[c::SUBCATEGORY] = self
            .subcategory
            .as_deref()
            .map(|v| dicts.code(c::SUBCATEGORY, v))
            .transpose()?;
        row[c::CHANNEL] = self
            .channel
            .as_deref()
            .map(|v| dicts.code(c::CHANNEL, v))
            .transpose()?;
        row[c::OPD] = Some(dicts.code(c::OPD, &self.opd)?);
        row[c::STATUS] = Some(self.status as i64);
        row[c::OUT_OF_JURISDICTION] = Some(self.out_of_jurisdiction.into());
        row[c::KECAMATAN] = self
            .kecamatan_str()
            .map(|k| dicts.code(c::KECAMATAN, k))
            .transpose()?;
        row[c::KELURAHAN] = region(dicts, c::KELURAHAN, self.kelurahan.as_ref())?;
        row[c::LAT] = coord(self.lat);
        row[c::LON] = coord(self.lon);
        row[c::CREATED_AT] = time(self.created_at, "created_at")?;
        row[c::UPDATED_AT] = time(self.updated_at, "updated_at")?;
        row[c::FIRST_RESPONSE_AT] = opt_time(self.first_response_at, "first_response_at")?;
        row[c::RESOLVED_AT] = opt_time(self.resolved_at, "resolved_at")?;
        row[c::SLA_DUE_AT] = opt_time(self.sla_due_at, "sla_due_at")?;
        row[c::RATING] = self.rating.map(i64::from);
        Ok(())
    }
}

impl Record for BudgetLine {
    const DATASET: Dataset = Dataset::BudgetLines;

    fn problems(&self) -> Vec<String> {
        let mut out = BudgetLine::problems(self);
        if time_value(self.updated_at).is_none() {
            out.push(format!(
                "updated_at {} is outside 1970..2106",
                self.updated_at
            ));
        }
        out
    }

    fn key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.fiscal_year.to_le_bytes());
        out.push(self.version as u8);
        out.push(self.period);
        key_text(out, &self.opd, &self.account_code);
    }

    fn encode(&self, dicts: &mut Dicts, row: &mut Values) -> Result<(), String> {
        row[b::SOURCE] = Some(dicts.code(b::SOURCE, &self.source)?);
        row[b::FISCAL_YEAR] = Some(self.fiscal_year.into());
        row[b::VERSION] = Some(self.version as i64);
        row[b::OPD] = Some(dicts.code(b::OPD, &self.opd)?);
        row[b::ACCOUNT_CODE] = Some(dicts.code(b::ACCOUNT_CODE, &self.account_code)?);
        row[b::PERIOD] = Some(self.period.into());
        row[b::LEVEL] = Some(self.level.into());
        row[b::PARENT_CODE] = self
            .parent_code
            .as_deref()
            .map(|p| dicts.code(b::PARENT_CODE, p))
            .transpose()?;
        row[b::ACCOUNT_NAME] = Some(dicts.code(b::ACCOUNT_NAME, &self.account_name)?);
        row[b::PAGU] = Some(self.pagu.sen());
        row[b::ANGGARAN_KAS] = Some(self.anggaran_kas.sen());
        row[b::REALISASI] = Some(self.realisasi.sen());
        row[b::UPDATED_AT] = time(self.updated_at, "updated_at")?;
        Ok(())
    }
}

impl Record for ServiceEvent {
    const DATASET: Dataset = Dataset::ServiceEvents;

    fn problems(&self) -> Vec<String> {
        let mut out = ServiceEvent::problems(self);
        out.extend(times_out_of_range([
            ("requested_at", Some(self.requested_at)),
            ("completed_at", self.completed_at),
        ]));
        out
    }

    fn key(&self, out: &mut Vec<u8>) {
        key_text(out, &self.source, &self.event_id);
    }

    fn encode(&self, dicts: &mut Dicts, row: &mut Values) -> Result<(), String> {
        row[s::SOURCE] = Some(dicts.code(s::SOURCE, &self.source)?);
        row[s::SERVICE] = Some(dicts.code(s::SERVICE, &self.service)?);
        row[s::UNIT] = Some(dicts.code(s::UNIT, &self.unit)?);
        row[s::REGION] = region(dicts, s::REGION, self.region.as_ref())?;
        row[s::REQUESTED_AT] = time(self.requested_at, "requested_at")?;
        row[s::COMPLETED_AT] = opt_time(self.completed_at, "completed_at")?;
        row[s::SLA_TARGET_MINUTES] = Some(self.sla_target_minutes.into());
        row[s::OUTCOME] = Some(self.outcome as i64);
        row[s::UPDATED_AT] = time(self.updated_at(), "updated_at")?;
        Ok(())
    }
}

/// Reads stored values back into domain types (the engine's reference computations in tests).
#[cfg(test)]
pub(crate) struct Decoder<'a> {
    pub(crate) values: &'a Values,
    pub(crate) labels: &'a dyn Fn(usize, i64) -> Option<String>,
}

#[cfg(test)]
impl Decoder<'_> {
    fn label(&self, col: usize) -> Option<String> {
        self.values[col].and_then(|code| (self.labels)(col, code))
    }

    fn time(&self, col: usize) -> Option<DateTime<Utc>> {
        self.values[col].and_then(|secs| DateTime::from_timestamp(secs, 0))
    }

    fn region(&self, col: usize) -> Option<RegionCode> {
        self.label(col).and_then(|l| l.parse().ok())
    }

    fn coord(&self, col: usize) -> Option<f64> {
        self.values[col].map(|v| v as f64 / 1e6)
    }

    /// The complaint version these values hold, with its key parts.
    pub(crate) fn complaint(&self, source_id: String) -> Complaint {
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        Complaint {
            source: self.label(c::SOURCE).unwrap_or_default(),
            source_id,
            category: self.label(c::CATEGORY).unwrap_or_default(),
            subcategory: self.label(c::SUBCATEGORY),
            channel: self.label(c::CHANNEL),
            opd: self.label(c::OPD).unwrap_or_default(),
            status: self.values[c::STATUS]
                .and_then(|s| crate::domain::Status::ALL.get(s as usize).copied())
                .unwrap_or(crate::domain::Status::Received),
            out_of_jurisdiction: self.values[c::OUT_OF_JURISDICTION] == Some(1),
            kecamatan: self.region(c::KECAMATAN),
            kelurahan: self.region(c::KELURAHAN),
            lat: self.coord(c::LAT),
            lon: self.coord(c::LON),
            created_at: self.time(c::CREATED_AT).unwrap_or(epoch),
            updated_at: self.time(c::UPDATED_AT).unwrap_or(epoch),
            first_response_at: self.time(c::FIRST_RESPONSE_AT),
            resolved_at: self.time(c::RESOLVED_AT),
            sla_due_at: self.time(c::SLA_DUE_AT),
            rating: self.values[c::RATING].map(|r| r as u8),
        }
    }
}
