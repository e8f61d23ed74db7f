//! The store's append-only batch log: one JSON line per batch, fsynced before an append returns.
//!
//! A crash can leave the last line torn; opening the log cuts it off (that batch was never
//! acknowledged, so its source re-pulls it). A bad line anywhere else is corruption and is refused.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::domain::Complaint;

/// One durable batch as written to the log.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct LoggedBatch {
    pub seq: u64,
    pub committed_at: DateTime<Utc>,
    pub complaints: Vec<Complaint>,
}

/// The open log file, positioned at its end.
pub(super) struct BatchLog {
    path: PathBuf,
    file: File,
}

impl BatchLog {
    /// Opens (or creates) the log and returns every complete batch in it.
    pub fn open(path: &Path) -> Result<(BatchLog, Vec<LoggedBatch>), StoreError> {
        let label = path.display().to_string();
        let io = |action| {
            let label = label.clone();
            move |source| StoreError::Io {
                path: label,
                action,
                source,
            }
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io("create directory"))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io("open"))?;
        let mut batches = Vec::new();
        let mut good_len = 0u64;
        let mut torn: Option<(usize, String)> = None;
        let mut reader = BufReader::new(&file);
        let mut line = String::new();
        let mut number = 0;
        loop {
            line.clear();
            let read = reader.read_line(&mut line).map_err(io("read"))?;
            if read == 0 {
                break;
            }
            number += 1;
            if let Some((bad_line, reason)) = torn.take() {
                return Err(StoreError::Corrupt {
                    path: label,
                    line: bad_line,
                    reason,
                });
            }
            let complete = line.ends_with('\n');
            match serde_json::from_str::<LoggedBatch>(line.trim_end()) {
                Ok(batch) if complete => {
                    good_len += read as u64;
                    batches.push(batch);
                }
                Ok(_) => torn = Some((number, "no line end".to_owned())),
                Err(e) => torn = Some((number, e.to_string())),
            }
        }
        drop(reader);
        if let Some((bad_line, reason)) = torn {
            tracing::warn!(path = %label, line = bad_line, %reason, "Cutting off a torn last batch in the store log.");
            file.set_len(good_len).map_err(io("truncate"))?;
            file.sync_all().map_err(io("fsync"))?;
        }
        file.seek(SeekFrom::End(0)).map_err(io("seek"))?;
        Ok((
            BatchLog {
                path: path.to_path_buf(),
                file,
            },
            batches,
        ))
    }

    /// Writes one batch and fsyncs it.
    pub fn append(&mut self, batch: &LoggedBatch) -> Result<(), StoreError> {
        let io = |action| {
            let path = self.path.display().to_string();
            move |source| StoreError::Io {
                path,
                action,
                source,
            }
        };
        let mut line = serde_json::to_vec(batch)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            .map_err(io("encode"))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(io("write"))?;
        self.file.sync_data().map_err(io("fsync"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(seq: u64) -> LoggedBatch {
        LoggedBatch {
            seq,
            committed_at: Utc::now(),
            complaints: Vec::new(),
        }
    }

    #[test]
    fn a_torn_last_line_is_cut_off_and_the_log_stays_usable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let (mut log, _) = BatchLog::open(&path).unwrap();
        log.append(&batch(1)).unwrap();
        log.append(&batch(2)).unwrap();
        drop(log);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"seq\":3,\"commi").unwrap();
        drop(file);

        let (mut log, batches) = BatchLog::open(&path).unwrap();
        assert_eq!(batches.iter().map(|b| b.seq).collect::<Vec<_>>(), [1, 2]);
        log.append(&batch(3)).unwrap();
        drop(log);
        let (_, batches) = BatchLog::open(&path).unwrap();
        assert_eq!(batches.len(), 3);
    }

    #[test]
    fn a_bad_line_in_the_middle_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let (mut log, _) = BatchLog::open(&path).unwrap();
        log.append(&batch(1)).unwrap();
        drop(log);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"garbage\n").unwrap();
        drop(file);
        let (mut log, _) = BatchLog::open(&path).unwrap();
        log.append(&batch(2)).unwrap();
        drop(log);
        // The first open cut the torn last line; write garbage mid-file and then a good line.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("garbage\n{text}")).unwrap();
        match BatchLog::open(&path) {
            Err(StoreError::Corrupt { line: 1, .. }) => {}
            other => panic!("expected corruption at line 1, got {:?}", other.map(|_| ())),
        }
    }
}
