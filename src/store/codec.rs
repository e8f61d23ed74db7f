//! The binary form of a batch in the log: compact, fast, and versioned by a leading byte.
//!
//! Rows are written field by field; strings go through a per-batch table (a repeated category or
//! OPD name costs one small number), times are microseconds and integers are varints.

use chrono::{DateTime, Utc};

use crate::domain::{
    BudgetLine, BudgetVersion, Complaint, RegionCode, Rupiah, ServiceEvent, ServiceOutcome, Status,
};

use super::Batch;

/// Format version of an encoded batch.
const FORMAT: u8 = 1;

/// Why bytes are not a batch.
#[derive(Debug, thiserror::Error)]
#[error("undecodable batch: {0}")]
pub struct CodecError(String);

/// A batch with its commit sequence and time, as the log holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Commit sequence number.
    pub seq: u64,
    /// When the batch became durable.
    pub committed_at: DateTime<Utc>,
    /// The rows.
    pub batch: Batch,
}

/// Encodes an entry.
pub fn encode(entry: &LogEntry) -> Vec<u8> {
    let mut w = Writer::default();
    w.buf.push(FORMAT);
    w.u64(entry.seq);
    w.i64(entry.committed_at.timestamp_micros());
    match &entry.batch {
        Batch::Complaints(rows) => {
            w.buf.push(0);
            w.u64(rows.len() as u64);
            rows.iter().for_each(|r| w.complaint(r));
        }
        Batch::BudgetLines(rows) => {
            w.buf.push(1);
            w.u64(rows.len() as u64);
            rows.iter().for_each(|r| w.budget_line(r));
        }
        Batch::ServiceEvents(rows) => {
            w.buf.push(2);
            w.u64(rows.len() as u64);
            rows.iter().for_each(|r| w.service_event(r));
        }
    }
    w.buf
}

/// Decodes an entry written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<LogEntry, CodecError> {
    let mut r = Reader {
        bytes,
        pos: 0,
        strings: Vec::new(),
    };
    let format = r.byte()?;
    if format != FORMAT {
        return Err(CodecError(format!("unknown format {format}")));
    }
    let seq = r.u64()?;
    let committed_at = r.time()?;
    let kind = r.byte()?;
    let n = usize::try_from(r.u64()?).map_err(|_| CodecError("row count".into()))?;
    let batch = match kind {
        0 => Batch::Complaints(r.rows(n, Reader::complaint)?),
        1 => Batch::BudgetLines(r.rows(n, Reader::budget_line)?),
        2 => Batch::ServiceEvents(r.rows(n, Reader::service_event)?),
        k => return Err(CodecError(format!("unknown dataset {k}"))),
    };
    if r.pos != bytes.len() {
        return Err(CodecError(format!(
            "{} trailing bytes",
            bytes.len() - r.pos
        )));
    }
    Ok(LogEntry {
        seq,
        committed_at,
        batch,
    })
}

#[derive(Default)]
struct Writer<'a> {
    buf: Vec<u8>,
    strings: hashbrown::HashMap<&'a str, u64>,
}

impl<'a> Writer<'a> {
    fn u64(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn i64(&mut self, v: i64) {
        self.u64(((v << 1) ^ (v >> 63)) as u64);
    }

    fn str(&mut self, s: &'a str) {
        if let Some(i) = self.strings.get(s) {
            self.u64(i + 1);
            return;
        }
        self.strings.insert(s, self.strings.len() as u64);
        self.u64(0);
        self.u64(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn opt_str(&mut self, s: Option<&'a str>) {
        match s {
            Some(s) => {
                self.buf.push(1);
                self.str(s);
            }
            None => self.buf.push(0),
        }
    }

    fn time(&mut self, at: DateTime<Utc>) {
        self.i64(at.timestamp_micros());
    }

    fn opt_time(&mut self, at: Option<DateTime<Utc>>) {
        match at {
            Some(at) => {
                self.buf.push(1);
                self.time(at);
            }
            None => self.buf.push(0),
        }
    }

    fn opt_f64(&mut self, v: Option<f64>) {
        match v {
            Some(v) => {
                self.buf.push(1);
                self.buf.extend_from_slice(&v.to_le_bytes());
            }
            None => self.buf.push(0),
        }
    }

    fn complaint(&mut self, c: &'a Complaint) {
        self.str(&c.source);
        self.str(&c.source_id);
        self.str(&c.category);
        self.opt_str(c.subcategory.as_deref());
        self.opt_str(c.channel.as_deref());
        self.str(&c.opd);
        self.buf.push(c.status as u8);
        self.buf.push(c.out_of_jurisdiction.into());
        self.opt_str(c.kecamatan.as_ref().map(RegionCode::as_str));
        self.opt_str(c.kelurahan.as_ref().map(RegionCode::as_str));
        self.opt_f64(c.lat);
        self.opt_f64(c.lon);
        self.time(c.created_at);
        self.time(c.updated_at);
        self.opt_time(c.first_response_at);
        self.opt_time(c.resolved_at);
        self.opt_time(c.sla_due_at);
        self.buf.push(c.rating.unwrap_or(0));
    }

    fn budget_line(&mut self, b: &'a BudgetLine) {
        self.str(&b.source);
        self.u64(b.fiscal_year.into());
        self.buf.push(b.version as u8);
        self.str(&b.opd);
        self.str(&b.account_code);
        self.buf.push(b.period);
        self.buf.push(b.level);
        self.opt_str(b.parent_code.as_deref());
        self.str(&b.account_name);
        self.i64(b.pagu.sen());
        self.i64(b.anggaran_kas.sen());
        self.i64(b.realisasi.sen());
        self.time(b.updated_at);
    }

    fn service_event(&mut self, e: &'a ServiceEvent) {
        self.str(&e.source);
        self.str(&e.event_id);
        self.str(&e.service);
        self.str(&e.unit);
        self.opt_str(e.region.as_ref().map(RegionCode::as_str));
        self.time(e.requested_at);
        self.opt_time(e.completed_at);
        self.u64(e.sla_target_minutes.into());
        self.buf.push(e.outcome as u8);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    strings: Vec<String>,
}

impl Reader<'_> {
    /// `n` rows read by `row`; a count larger than the bytes left is corruption, not a reason
    /// to allocate.
    fn rows<T>(
        &mut self,
        n: usize,
        row: impl Fn(&mut Self) -> Result<T, CodecError>,
    ) -> Result<Vec<T>, CodecError> {
        let mut out = Vec::with_capacity(n.min(self.bytes.len() - self.pos));
        for _ in 0..n {
            out.push(row(self)?);
        }
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, CodecError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| CodecError("unexpected end".into()))?;
        self.pos += 1;
        Ok(b)
    }

    fn u64(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(CodecError("varint too long".into()))
    }

    fn i64(&mut self) -> Result<i64, CodecError> {
        let v = self.u64()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    fn flag(&mut self) -> Result<bool, CodecError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(CodecError(format!("bad flag {b}"))),
        }
    }

    fn str(&mut self) -> Result<String, CodecError> {
        let tag = self.u64()?;
        if tag > 0 {
            return self
                .strings
                .get((tag - 1) as usize)
                .cloned()
                .ok_or_else(|| CodecError(format!("string {tag} not defined")));
        }
        let len = usize::try_from(self.u64()?).map_err(|_| CodecError("length".into()))?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| CodecError("string past the end".into()))?;
        let s = std::str::from_utf8(&self.bytes[self.pos..end])
            .map_err(|e| CodecError(e.to_string()))?
            .to_owned();
        self.pos = end;
        self.strings.push(s.clone());
        Ok(s)
    }

    fn opt_str(&mut self) -> Result<Option<String>, CodecError> {
        if self.flag()? {
            self.str().map(Some)
        } else {
            Ok(None)
        }
    }

    fn region(&mut self) -> Result<Option<RegionCode>, CodecError> {
        self.opt_str()?
            .map(|s| {
                s.parse()
                    .map_err(|e: crate::domain::RegionCodeError| CodecError(e.to_string()))
            })
            .transpose()
    }

    fn time(&mut self) -> Result<DateTime<Utc>, CodecError> {
        let micros = self.i64()?;
        DateTime::from_timestamp_micros(micros).ok_or_else(|| CodecError("time".into()))
    }

    fn opt_time(&mut self) -> Result<Option<DateTime<Utc>>, CodecError> {
        if self.flag()? {
            self.time().map(Some)
        } else {
            Ok(None)
        }
    }

    fn opt_f64(&mut self) -> Result<Option<f64>, CodecError> {
        if !self.flag()? {
            return Ok(None);
        }
        let end = self.pos + 8;
        let raw = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| CodecError("float past the end".into()))?;
        self.pos = end;
        Ok(Some(f64::from_le_bytes(
            raw.try_into().map_err(|_| CodecError("float".into()))?,
        )))
    }

    fn status(&mut self) -> Result<Status, CodecError> {
        use Status::*;
        const ALL: [Status; 8] = [
            Received, Verified, Assigned, InProgress, OnHold, Resolved, Rejected, Reopened,
        ];
        let b = self.byte()?;
        ALL.get(b as usize)
            .copied()
            .ok_or_else(|| CodecError(format!("status {b}")))
    }

    fn complaint(&mut self) -> Result<Complaint, CodecError> {
        Ok(Complaint {
            source: self.str()?,
            source_id: self.str()?,
            category: self.str()?,
            subcategory: self.opt_str()?,
            channel: self.opt_str()?,
            opd: self.str()?,
            status: self.status()?,
            out_of_jurisdiction: self.flag()?,
            kecamatan: self.region()?,
            kelurahan: self.region()?,
            lat: self.opt_f64()?,
            lon: self.opt_f64()?,
            created_at: self.time()?,
            updated_at: self.time()?,
            first_response_at: self.opt_time()?,
            resolved_at: self.opt_time()?,
            sla_due_at: self.opt_time()?,
            rating: Some(self.byte()?).filter(|r| *r != 0),
        })
    }

    fn budget_line(&mut self) -> Result<BudgetLine, CodecError> {
        Ok(BudgetLine {
            source: self.str()?,
            fiscal_year: u16::try_from(self.u64()?).map_err(|_| CodecError("year".into()))?,
            version: match self.byte()? {
                0 => BudgetVersion::Murni,
                1 => BudgetVersion::Perubahan,
                v => return Err(CodecError(format!("budget version {v}"))),
            },
            opd: self.str()?,
            account_code: self.str()?,
            period: self.byte()?,
            level: self.byte()?,
            parent_code: self.opt_str()?,
            account_name: self.str()?,
            pagu: Rupiah::from_sen(self.i64()?),
            anggaran_kas: Rupiah::from_sen(self.i64()?),
            realisasi: Rupiah::from_sen(self.i64()?),
            updated_at: self.time()?,
        })
    }

    fn service_event(&mut self) -> Result<ServiceEvent, CodecError> {
        Ok(ServiceEvent {
            source: self.str()?,
            event_id: self.str()?,
            service: self.str()?,
            unit: self.str()?,
            region: self.region()?,
            requested_at: self.time()?,
            completed_at: self.opt_time()?,
            sla_target_minutes: u32::try_from(self.u64()?)
                .map_err(|_| CodecError("sla target".into()))?,
            outcome: match self.byte()? {
                0 => ServiceOutcome::Pending,
                1 => ServiceOutcome::Completed,
                2 => ServiceOutcome::Cancelled,
                3 => ServiceOutcome::Failed,
                o => return Err(CodecError(format!("outcome {o}"))),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dataset_round_trips() {
        let at = DateTime::from_timestamp(1_790_000_000, 123_456_000).unwrap();
        let mut c = Complaint::sample("A-1", "Jalan Rusak", at);
        c.lat = Some(-7.6453);
        c.lon = Some(112.9075);
        c.rating = Some(4);
        c.resolved_at = Some(at);
        let b = BudgetLine {
            source: "sipd".into(),
            fiscal_year: 2026,
            version: BudgetVersion::Perubahan,
            opd: "1.01.01".into(),
            account_code: "5.1.2".into(),
            period: 11,
            level: 3,
            parent_code: Some("5.1".into()),
            account_name: "BELANJA PEGAWAI".into(),
            pagu: Rupiah::from_sen(75_924_330_053_861),
            anggaran_kas: Rupiah::from_sen(1),
            realisasi: Rupiah::from_sen(64_335_443_966_400),
            updated_at: at,
        };
        let e = ServiceEvent {
            source: "emonev".into(),
            event_id: "9".into(),
            service: "KTP-el".into(),
            unit: "Dispendukcapil".into(),
            region: Some("35.75.01".parse().unwrap()),
            requested_at: at,
            completed_at: None,
            sla_target_minutes: 60,
            outcome: ServiceOutcome::Pending,
        };
        for batch in [
            Batch::Complaints(vec![c.clone(), c]),
            Batch::BudgetLines(vec![b]),
            Batch::ServiceEvents(vec![e]),
        ] {
            let entry = LogEntry {
                seq: 7,
                committed_at: at,
                batch,
            };
            assert_eq!(decode(&encode(&entry)).unwrap(), entry);
        }
    }

    #[test]
    fn truncated_bytes_are_refused() {
        let at = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let entry = LogEntry {
            seq: 1,
            committed_at: at,
            batch: Batch::Complaints(vec![Complaint::sample("1", "Sampah", at)]),
        };
        let bytes = encode(&entry);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
