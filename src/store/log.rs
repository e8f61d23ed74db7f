//! The store's durable batch log, behind a trait so a replicated log (NATS JetStream, see
//! docs/architecture.md) can take the local file log's place.
//!
//! The local log is a directory of segment files named by the sequence number of their first
//! entry. Each entry is a frame `len u32 | crc32 u32 | seq u64 | payload`, fsynced before
//! `append` returns. A crash can tear the last frame of the last segment; opening the log cuts
//! that tail off (it was never acknowledged), keeps the cut bytes in a `.torn-*` file beside it and
//! logs the incident. A bad frame anywhere else, or one followed by good frames, is corruption:
//! acknowledged batches would be lost, so opening refuses.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

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
    Bad(String),
}

fn frame_at(bytes: &[u8], at: usize) -> Frame<'_> {
    let Some(header) = bytes.get(at..at + HEADER) else {
        return Frame::Bad(format!("{} header bytes of {HEADER}", bytes.len() - at));
    };
    let len = u32::from_le_bytes(header[0..4].try_into().unwrap_or_default()) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default());
    let seq = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
    if len > FRAME_MAX {
        return Frame::Bad(format!("frame length {len} is implausible"));
    }
    let Some(payload) = bytes.get(at + HEADER..at + HEADER + len) else {
        return Frame::Bad(format!(
            "frame of {len} bytes runs past the end ({} left)",
            bytes.len() - at - HEADER
        ));
    };
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[8..16]);
    hasher.update(payload);
    if hasher.finalize() != crc {
        return Frame::Bad("checksum mismatch".to_owned());
    }
    Frame::Good {
        seq,
        payload,
        end: at + HEADER + len,
    }
}

/// True when a well-formed frame starts anywhere after `from` (so the damage is not a torn tail).
fn good_frame_after(bytes: &[u8], from: usize) -> bool {
    (from + 1..bytes.len().saturating_sub(HEADER - 1))
        .any(|at| matches!(frame_at(bytes, at), Frame::Good { .. }))
}

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
        let mut last_seq = segments.first().map_or(0, |f| f.saturating_sub(1));
        let mut size = 0;
        for (i, first) in segments.iter().enumerate() {
            let path = segment_path(dir, *first);
            let bytes = std::fs::read(&path).map_err(io(&path, "read"))?;
            let is_last = i + 1 == segments.len();
            let mut at = 0;
            while at < bytes.len() {
                match frame_at(&bytes, at) {
                    Frame::Good { seq, end, .. } if seq == last_seq + 1 => {
                        last_seq = seq;
                        at = end;
                    }
                    Frame::Good { seq, .. } => {
                        return Err(StoreError::Corrupt {
                            path: path.display().to_string(),
                            offset: at as u64,
                            reason: format!("entry {seq} where {} was expected", last_seq + 1),
                        })
                    }
                    Frame::Bad(reason) => {
                        if !is_last || good_frame_after(&bytes, at) {
                            return Err(StoreError::Corrupt {
                                path: path.display().to_string(),
                                offset: at as u64,
                                reason,
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
        let mut log = FileLog::open(dir.path(), 0).unwrap();
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
}
