//! The store's durable batch log, behind a trait so a replicated log (NATS JetStream, see
//! docs/architecture.md) can take the local file log's place.
//!
//! The local log is a directory of segment files named by the sequence number of their first
//! entry. Each entry is a frame `len u32 | crc32 u32 | seq u64 | payload`, fsynced before
//! `append` returns. A crash can tear the last frame of the last segment: the frame is incomplete
//! (its header or payload runs past the end of the file), or the file ends in zeros the file
//! system allotted but never wrote. Opening the log cuts such a tail off (it was never
//! acknowledged), keeps the cut bytes in a `.torn-*` file beside it and logs the incident.
//!
//! Anything else is corruption: a complete frame whose checksum fails (even the last one — it was
//! fsynced, so it was acknowledged, its rows were seen and pull cursors moved past it), a bad
//! frame followed by good ones, an entry out of order. Opening refuses with where and why;
//! `pantau store repair` ([`repair`]) keeps every intact frame, sets the damaged bytes aside and
//! reports the entries lost. The gaps it leaves are listed in `repairs.json`, which opening reads
//! so that the log continues past them.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io_error as io, sync_dir, StoreError};

/// Bytes of a frame header: length, checksum, sequence number.
const HEADER: usize = 16;
/// A segment is closed and a new one started past this size.
const SEGMENT_MAX: u64 = 64 << 20;
/// Frames larger than this are refused on append and treated as corruption on read.
pub(crate) const FRAME_MAX: usize = 1 << 30;

/// Called with each replayed entry's sequence number and payload.
pub type EntryVisitor<'a> = dyn FnMut(u64, &[u8]) -> Result<(), StoreError> + 'a;

/// A durable, ordered log of encoded batches.
pub trait BatchLog: Send {
    /// Appends entry `seq` (always the last sequence number plus one); durable when it returns.
    fn append(&mut self, seq: u64, payload: &[u8]) -> Result<(), StoreError>;
    /// Calls `f` with every entry whose sequence number is above `after`, in order.
    fn replay(&mut self, after: u64, f: &mut EntryVisitor<'_>) -> Result<(), StoreError>;
    /// The sequence number of the last entry (0 when none was ever written).
    fn last_seq(&self) -> u64;
    /// Starts a new segment so that what came before can be dropped once it is checkpointed.
    fn roll(&mut self) -> Result<(), StoreError>;
    /// Drops entries up to `seq` inclusive where the log can (they are in a checkpoint).
    fn truncate_through(&mut self, seq: u64) -> Result<(), StoreError>;
    /// Bytes the log holds.
    fn size(&self) -> u64;
}

/// The local, file-based log.
pub struct FileLog {
    dir: PathBuf,
    /// First sequence number of each segment, ascending; the last one is active.
    segments: Vec<u64>,
    active: File,
    active_len: u64,
    last_seq: u64,
    size: u64,
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.log"))
}

/// A frame read from a segment, or why the bytes at an offset are not one.
enum Frame<'a> {
    Good {
        seq: u64,
        payload: &'a [u8],
        end: usize,
    },
    Bad {
        reason: String,
        cut: Cut,
    },
}

/// Where the bytes of a bad frame end.
#[derive(Clone, Copy)]
enum Cut {
    /// Inside the header: what a crash mid-append leaves.
    InHeader,
    /// Inside the payload of a whole header naming this entry.
    InPayload(u64),
    /// Not cut: the frame is whole but wrong (length or checksum).
    No,
}

fn frame_at(bytes: &[u8], at: usize) -> Frame<'_> {
    let Some(header) = bytes.get(at..at + HEADER) else {
        return Frame::Bad {
            reason: format!("{} header bytes of {HEADER}", bytes.len() - at),
            cut: Cut::InHeader,
        };
    };
    let len = u32::from_le_bytes(header[0..4].try_into().unwrap_or_default()) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default());
    let seq = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
    if len > FRAME_MAX {
        return Frame::Bad {
            reason: format!("frame length {len} is implausible"),
            cut: Cut::No,
        };
    }
    let Some(payload) = bytes.get(at + HEADER..at + HEADER + len) else {
        return Frame::Bad {
            reason: format!(
                "frame of {len} bytes runs past the end ({} left)",
                bytes.len() - at - HEADER
            ),
            cut: Cut::InPayload(seq),
        };
    };
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[8..16]);
    hasher.update(payload);
    if hasher.finalize() != crc {
        return Frame::Bad {
            reason: format!("entry {seq}: checksum mismatch in a complete frame"),
            cut: Cut::No,
        };
    }
    Frame::Good {
        seq,
        payload,
        end: at + HEADER + len,
    }
}

/// Where the next well-formed frame after `from` starts, if one does (then the damage at `from`
/// is not a torn tail).
fn next_good_frame(bytes: &[u8], from: usize) -> Option<usize> {
    (from + 1..bytes.len().saturating_sub(HEADER - 1))
        .find(|at| matches!(frame_at(bytes, *at), Frame::Good { .. }))
}

/// Whether the bad bytes at `at` of the last segment are what a crash leaves: an incomplete
/// frame (naming the next entry, when its header is whole) or zeros, with nothing good after.
fn is_torn_tail(bytes: &[u8], at: usize, cut: Cut, next_seq: u64) -> bool {
    let crash_shaped = match cut {
        Cut::InHeader => true,
        Cut::InPayload(seq) => seq == next_seq,
        Cut::No => false,
    };
    (crash_shaped || bytes[at..].iter().all(|b| *b == 0)) && next_good_frame(bytes, at).is_none()
}

/// Entries a repair dropped: the log continues at `next` after `after`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Gap {
    after: u64,
    next: u64,
}

/// `repairs.json`: the gaps `pantau store repair` left.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Repairs {
    gaps: Vec<Gap>,
}

fn read_repairs(dir: &Path) -> Result<Repairs, StoreError> {
    let path = dir.join("repairs.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: path.display().to_string(),
            offset: 0,
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Repairs::default()),
        Err(e) => Err(io(&path, "read")(e)),
    }
}

const REPAIR_HINT: &str =
    "stop the server and run `pantau store repair` to keep every intact batch and see what is lost";

impl FileLog {
    /// Opens the log in `dir` (created if missing), validating every segment and cutting a torn
    /// tail. `after` is the last sequence number already safe elsewhere (a checkpoint): a log that
    /// ends before it continues from it.
    pub fn open(dir: &Path, after: u64) -> Result<FileLog, StoreError> {
        std::fs::create_dir_all(dir).map_err(io(dir, "create directory"))?;
        let mut segments = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir, "list"))? {
            let entry = entry.map_err(io(dir, "list"))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(first) = name
                .strip_suffix(".log")
                .and_then(|n| n.parse::<u64>().ok())
            {
                segments.push(first);
            }
        }
        segments.sort_unstable();
        if let Some(first) = segments.first().filter(|f| **f > after + 1) {
            return Err(StoreError::Corrupt {
                path: dir.display().to_string(),
                offset: 0,
                reason: format!(
                    "the log starts at entry {first} but the checkpoint ends at entry {after}: \
                     entries {} to {} are missing",
                    after + 1,
                    first - 1
                ),
            });
        }
        let repairs = read_repairs(dir)?;
        let mut last_seq = segments.first().map_or(0, |f| f.saturating_sub(1));
        let mut size = 0;
        for (i, first) in segments.iter().enumerate() {
            let path = segment_path(dir, *first);
            let bytes = std::fs::read(&path).map_err(io(&path, "read"))?;
            let is_last = i + 1 == segments.len();
            let mut at = 0;
            while at < bytes.len() {
                match frame_at(&bytes, at) {
                    Frame::Good { seq, end, .. }
                        if seq == last_seq + 1
                            || repairs.gaps.contains(&Gap {
                                after: last_seq,
                                next: seq,
                            }) =>
                    {
                        last_seq = seq;
                        at = end;
                    }
                    Frame::Good { seq, .. } => {
                        return Err(StoreError::Corrupt {
                            path: path.display().to_string(),
                            offset: at as u64,
                            reason: format!(
                                "entry {seq} where {} was expected; {REPAIR_HINT}",
                                last_seq + 1
                            ),
                        })
                    }
                    Frame::Bad { reason, cut } => {
                        if !is_last || !is_torn_tail(&bytes, at, cut, last_seq + 1) {
                            return Err(StoreError::Corrupt {
                                path: path.display().to_string(),
                                offset: at as u64,
                                reason: format!("{reason}; {REPAIR_HINT}"),
                            });
                        }
                        cut_torn_tail(&path, &bytes, at, &reason)?;
                        break;
                    }
                }
            }
            size += at as u64;
        }
        if last_seq < after || segments.is_empty() {
            // Everything logged is in the checkpoint (or the log is new): start a segment after it.
            last_seq = last_seq.max(after);
            segments.push(last_seq + 1);
        }
        let first = *segments.last().unwrap_or(&(last_seq + 1));
        let path = segment_path(dir, first);
        let active = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path, "open"))?;
        let active_len = active.metadata().map_err(io(&path, "stat"))?.len();
        sync_dir(dir)?;
        Ok(FileLog {
            dir: dir.to_path_buf(),
            segments,
            active,
            active_len,
            last_seq,
            size,
        })
    }

    fn open_segment(&mut self, first: u64) -> Result<(), StoreError> {
        let path = segment_path(&self.dir, first);
        self.active = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path, "create"))?;
        sync_dir(&self.dir)?;
        self.segments.push(first);
        self.active_len = 0;
        Ok(())
    }
}

/// Keeps the torn bytes beside the segment for inspection, then cuts the segment at `at`.
fn cut_torn_tail(path: &Path, bytes: &[u8], at: usize, reason: &str) -> Result<(), StoreError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let kept = path.with_extension(format!("log.torn-{stamp}"));
    std::fs::write(&kept, &bytes[at..]).map_err(io(&kept, "write"))?;
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io(path, "open"))?;
    file.set_len(at as u64).map_err(io(path, "truncate"))?;
    file.sync_all().map_err(io(path, "sync"))?;
    tracing::error!(
        path = %path.display(),
        offset = at,
        dropped_bytes = bytes.len() - at,
        kept = %kept.display(),
        reason,
        "Store log ended in a torn write; cut it off after the last complete batch (that batch was never acknowledged)."
    );
    Ok(())
}

/// Bytes a repair set aside, and the entries they cost.
#[derive(Debug, Clone, Serialize)]
pub struct Dropped {
    /// The segment file.
    pub segment: String,
    /// Where the damaged bytes began in it.
    pub offset: u64,
    /// How many bytes were set aside.
    pub bytes: u64,
    /// What was wrong with them.
    pub reason: String,
    /// The last intact entry before them.
    pub after: u64,
    /// The first intact entry after them (`None`: they ran to the end of the log).
    pub next: Option<u64>,
    /// The copy of the segment as it was before the repair.
    pub original: String,
}

impl Dropped {
    /// Entries lost, first and last: those between `after` and `next` (none when the log
    /// continues at once); a damaged end of the log lost whatever it held after `after`.
    pub fn lost(&self) -> Option<(u64, Option<u64>)> {
        match self.next {
            Some(next) if next > self.after + 1 => Some((self.after + 1, Some(next - 1))),
            Some(_) => None,
            None => Some((self.after + 1, None)),
        }
    }
}

/// What [`repair`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepairReport {
    /// Segments read.
    pub segments: usize,
    /// Intact entries kept.
    pub kept: u64,
    /// What was set aside.
    pub dropped: Vec<Dropped>,
}

/// Rewrites every segment of the log in `dir` with its intact frames only. A changed segment's
/// original is kept beside it (`.log.damaged-<time>`); the gaps left are added to `repairs.json`
/// so the log opens past them. Run only while nothing else has the log open.
pub fn repair(dir: &Path) -> Result<RepairReport, StoreError> {
    let mut segments: Vec<u64> = std::fs::read_dir(dir)
        .map_err(io(dir, "list"))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".log")
                .and_then(|n| n.parse::<u64>().ok())
        })
        .collect();
    segments.sort_unstable();
    let mut repairs = read_repairs(dir)?;
    let gaps_before = repairs.gaps.len();
    let mut report = RepairReport {
        segments: segments.len(),
        ..RepairReport::default()
    };
    let mut last_seq = segments.first().map_or(0, |f| f.saturating_sub(1));
    // Drops still waiting for the next intact entry.
    let mut pending: Vec<usize> = Vec::new();
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    for first in segments {
        let path = segment_path(dir, first);
        let bytes = std::fs::read(&path).map_err(io(&path, "read"))?;
        let original = path.with_extension(format!("log.damaged-{stamp}"));
        let mut kept = Vec::with_capacity(bytes.len());
        let mut changed = false;
        let mut at = 0;
        while at < bytes.len() {
            let reason = match frame_at(&bytes, at) {
                Frame::Good { seq, end, .. } if seq > last_seq => {
                    for i in pending.drain(..) {
                        let drop: &mut Dropped = &mut report.dropped[i];
                        drop.next = Some(seq);
                    }
                    if seq != last_seq + 1 {
                        let gap = Gap {
                            after: last_seq,
                            next: seq,
                        };
                        if !repairs.gaps.contains(&gap) {
                            repairs.gaps.push(gap);
                        }
                    }
                    kept.extend_from_slice(&bytes[at..end]);
                    last_seq = seq;
                    report.kept += 1;
                    at = end;
                    continue;
                }
                Frame::Good { seq, .. } => {
                    format!("entry {seq} again after entry {last_seq}")
                }
                Frame::Bad { reason, .. } => reason,
            };
            let end = next_good_frame(&bytes, at).unwrap_or(bytes.len());
            changed = true;
            pending.push(report.dropped.len());
            report.dropped.push(Dropped {
                segment: path.display().to_string(),
                offset: at as u64,
                bytes: (end - at) as u64,
                reason,
                after: last_seq,
                next: None,
                original: original.display().to_string(),
            });
            at = end;
        }
        if changed {
            std::fs::rename(&path, &original).map_err(io(&path, "set aside"))?;
            let tmp = path.with_extension("log.repair");
            let mut file = File::create(&tmp).map_err(io(&tmp, "create"))?;
            file.write_all(&kept).map_err(io(&tmp, "write"))?;
            file.sync_all().map_err(io(&tmp, "sync"))?;
            std::fs::rename(&tmp, &path).map_err(io(&path, "rename"))?;
            sync_dir(dir)?;
        }
    }
    // A gap without damage (a log that starts past its first entry) must be written down too,
    // or the log would not open after the repair (found by the `log_segment` fuzz target).
    if !report.dropped.is_empty() || repairs.gaps.len() > gaps_before {
        let path = dir.join("repairs.json");
        let json =
            serde_json::to_vec_pretty(&repairs).map_err(|e| io(&path, "encode")(e.into()))?;
        let tmp = dir.join("repairs.json.tmp");
        std::fs::write(&tmp, json).map_err(io(&tmp, "write"))?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io(&tmp, "sync"))?;
        std::fs::rename(&tmp, &path).map_err(io(&path, "rename"))?;
        sync_dir(dir)?;
    }
    Ok(report)
}

impl BatchLog for FileLog {
    fn append(&mut self, seq: u64, payload: &[u8]) -> Result<(), StoreError> {
        debug_assert_eq!(seq, self.last_seq + 1);
        if payload.len() > FRAME_MAX {
            return Err(StoreError::TooLarge {
                bytes: payload.len(),
                limit: FRAME_MAX,
            });
        }
        if self.active_len >= SEGMENT_MAX {
            self.open_segment(seq)?;
        }
        let mut frame = Vec::with_capacity(HEADER + payload.len());
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&seq.to_le_bytes());
        hasher.update(payload);
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&hasher.finalize().to_le_bytes());
        frame.extend_from_slice(&seq.to_le_bytes());
        frame.extend_from_slice(payload);
        let path = segment_path(&self.dir, *self.segments.last().unwrap_or(&seq));
        let written = self
            .active
            .write_all(&frame)
            .and_then(|_| self.active.sync_data());
        if let Err(e) = written {
            // Undo a partial write so the next append does not follow garbage.
            let _ = self.active.set_len(self.active_len);
            return Err(io(&path, "append")(e));
        }
        self.active_len += frame.len() as u64;
        self.size += frame.len() as u64;
        self.last_seq = seq;
        Ok(())
    }

    fn replay(&mut self, after: u64, f: &mut EntryVisitor<'_>) -> Result<(), StoreError> {
        for (i, first) in self.segments.iter().enumerate() {
            if self
                .segments
                .get(i + 1)
                .is_some_and(|next| *next <= after + 1)
            {
                continue;
            }
            let path = segment_path(&self.dir, *first);
            let mut bytes = Vec::new();
            File::open(&path)
                .and_then(|mut file| file.read_to_end(&mut bytes))
                .map_err(io(&path, "read"))?;
            let mut at = 0;
            while let Frame::Good { seq, payload, end } = frame_at(&bytes, at) {
                if seq > after {
                    f(seq, payload)?;
                }
                at = end;
            }
        }
        Ok(())
    }

    fn last_seq(&self) -> u64 {
        self.last_seq
    }

    fn roll(&mut self) -> Result<(), StoreError> {
        if self.active_len > 0 {
            self.open_segment(self.last_seq + 1)?;
        }
        Ok(())
    }

    fn truncate_through(&mut self, seq: u64) -> Result<(), StoreError> {
        // A segment can go when the next one starts at or before seq + 1.
        let mut keep_from = 0;
        for i in 0..self.segments.len().saturating_sub(1) {
            if self.segments[i + 1] <= seq + 1 {
                keep_from = i + 1;
            }
        }
        for first in self.segments.drain(..keep_from) {
            let path = segment_path(&self.dir, first);
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(&path).map_err(io(&path, "remove"))?;
            self.size = self.size.saturating_sub(len);
        }
        if keep_from > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(log: &mut FileLog, after: u64) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        log.replay(after, &mut |seq, p| {
            out.push((seq, p.to_vec()));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn entries_survive_reopen_rolls_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = FileLog::open(dir.path(), 0).unwrap();
        for seq in 1..=3 {
            log.append(seq, format!("batch {seq}").as_bytes()).unwrap();
        }
        log.roll().unwrap();
        log.append(4, b"batch 4").unwrap();
        log.truncate_through(3).unwrap();
        drop(log);
        let mut log = FileLog::open(dir.path(), 3).unwrap();
        assert_eq!(log.last_seq(), 4);
        assert_eq!(entries(&mut log, 3), vec![(4, b"batch 4".to_vec())]);
        log.append(5, b"batch 5").unwrap();
        assert_eq!(entries(&mut log, 0).len(), 2);
    }

    #[test]
    fn a_torn_tail_is_cut_and_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = FileLog::open(dir.path(), 0).unwrap();
        log.append(1, b"one").unwrap();
        log.append(2, b"two").unwrap();
        drop(log);
        let path = segment_path(dir.path(), 1);
        let len = std::fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 2)
            .unwrap();
        let mut log = FileLog::open(dir.path(), 0).unwrap();
        assert_eq!(log.last_seq(), 1);
        assert_eq!(entries(&mut log, 0), vec![(1, b"one".to_vec())]);
        let torn = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("torn")
            })
            .count();
        assert_eq!(torn, 1);
        log.append(2, b"two again").unwrap();
        assert_eq!(entries(&mut log, 1), vec![(2, b"two again".to_vec())]);
    }

    #[test]
    fn damage_before_good_frames_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = FileLog::open(dir.path(), 0).unwrap();
        for seq in 1..=3 {
            log.append(seq, b"payload").unwrap();
        }
        drop(log);
        let path = segment_path(dir.path(), 1);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[HEADER + 2] ^= 0xff; // inside the first payload
        std::fs::write(&path, bytes).unwrap();
        let err = FileLog::open(dir.path(), 0).err().unwrap();
        assert!(err.to_string().contains("checksum mismatch"), "{err}");
    }

    /// A log in `dir` holding `payloads` as entries 1, 2, …; its first segment and bytes.
    fn written(dir: &Path, payloads: &[&[u8]]) -> (PathBuf, Vec<u8>) {
        let mut log = FileLog::open(dir, 0).unwrap();
        for (i, payload) in payloads.iter().enumerate() {
            log.append(i as u64 + 1, payload).unwrap();
        }
        drop(log);
        let path = segment_path(dir, 1);
        let bytes = std::fs::read(&path).unwrap();
        (path, bytes)
    }

    #[test]
    fn a_complete_last_frame_with_a_bad_checksum_is_refused_not_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut bytes) = written(dir.path(), &[b"one", b"two"]);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01; // the last byte of the last, acknowledged, frame
        std::fs::write(&path, &bytes).unwrap();
        let err = FileLog::open(dir.path(), 0).err().unwrap().to_string();
        assert!(err.contains("entry 2: checksum mismatch"), "{err}");
        assert!(err.contains("pantau store repair"), "{err}");
        // Nothing was cut.
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn a_zero_filled_tail_is_torn_not_damage() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut bytes) = written(dir.path(), &[b"one"]);
        bytes.extend_from_slice(&[0u8; 4096]);
        std::fs::write(&path, &bytes).unwrap();
        let mut log = FileLog::open(dir.path(), 0).unwrap();
        assert_eq!(entries(&mut log, 0), vec![(1, b"one".to_vec())]);
    }

    #[test]
    fn an_incomplete_frame_naming_another_entry_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut bytes) = written(dir.path(), &[b"one", b"two"]);
        let second = HEADER + 3;
        bytes[second + 8] = 9; // entry 2's header now names entry 9…
        bytes.truncate(bytes.len() - 1); // …and its frame runs past the end
        std::fs::write(&path, &bytes).unwrap();
        assert!(FileLog::open(dir.path(), 0).is_err());
    }

    #[test]
    fn repair_keeps_every_intact_frame_and_reports_the_lost_entries() {
        let dir = tempfile::tempdir().unwrap();
        let batches: Vec<String> = (1..=5).map(|seq| format!("batch {seq}")).collect();
        let payloads: Vec<&[u8]> = batches.iter().map(|b| b.as_bytes()).collect();
        let (path, mut bytes) = written(dir.path(), &payloads);
        let frame = HEADER + "batch 1".len();
        bytes[2 * frame + HEADER + 1] ^= 0xff; // inside entry 3
        std::fs::write(&path, &bytes).unwrap();
        assert!(FileLog::open(dir.path(), 0).is_err());

        let report = repair(dir.path()).unwrap();
        assert_eq!(report.kept, 4);
        assert_eq!(report.dropped.len(), 1);
        let dropped = &report.dropped[0];
        assert_eq!(
            (dropped.offset, dropped.bytes),
            (2 * frame as u64, frame as u64)
        );
        assert_eq!(dropped.lost(), Some((3, Some(3))));
        assert!(dropped.reason.contains("checksum"), "{}", dropped.reason);
        assert_eq!(
            std::fs::read(&dropped.original).unwrap(),
            bytes,
            "the original is kept"
        );

        // The log opens past the gap and goes on.
        let mut log = FileLog::open(dir.path(), 0).unwrap();
        let seqs: Vec<u64> = entries(&mut log, 0).into_iter().map(|(s, _)| s).collect();
        assert_eq!(seqs, vec![1, 2, 4, 5]);
        log.append(6, b"batch 6").unwrap();
        drop(log);
        let log = FileLog::open(dir.path(), 0).unwrap();
        assert_eq!(log.last_seq(), 6);
        // A second repair finds nothing to do.
        drop(log);
        assert!(repair(dir.path()).unwrap().dropped.is_empty());
    }

    #[test]
    fn a_log_that_starts_after_the_checkpoint_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = FileLog::open(dir.path(), 10).unwrap();
        log.append(11, b"eleven").unwrap();
        drop(log);
        let err = FileLog::open(dir.path(), 5).err().unwrap().to_string();
        assert!(err.contains("entries 6 to 10 are missing"), "{err}");
    }
}
