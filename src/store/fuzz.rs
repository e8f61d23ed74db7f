//! Entry points for the fuzz targets of the store's readers (`fuzz/`, cargo-fuzz) and for the
//! test that replays their corpora: each takes bytes as a damaged disk could hold them, must
//! never panic, and checks the promise its reader makes. Nothing in the product calls these.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use super::checkpoint;
use super::codec;
use super::log::{self, BatchLog, FileLog};
use super::table::{Dicts, Table};
use super::DatasetSchema;
use crate::domain::Dataset;

thread_local! {
    /// One scratch directory per fuzzing thread, emptied before each input (creating one per
    /// input would cost more than the reader under test).
    static SCRATCH: RefCell<Option<tempfile::TempDir>> = const { RefCell::new(None) };
}

/// Runs `f` in an empty scratch directory of this thread (on `/dev/shm` where there is one).
pub fn in_scratch<T>(f: impl FnOnce(&Path) -> T) -> T {
    SCRATCH.with(|cell| {
        let mut cell = cell.borrow_mut();
        let dir = cell.get_or_insert_with(|| {
            let base = Path::new("/dev/shm");
            let made = if base.is_dir() {
                tempfile::Builder::new()
                    .prefix("pantau-fuzz")
                    .tempdir_in(base)
            } else {
                tempfile::Builder::new().prefix("pantau-fuzz").tempdir()
            };
            made.unwrap_or_else(|e| panic!("fuzz scratch directory: {e}"))
        });
        let path = dir.path();
        if let Ok(entries) = std::fs::read_dir(path) {
            for entry in entries.flatten() {
                let p = entry.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
        f(path)
    })
}

/// Every frame a log replays, in order.
fn replayed(log: &mut FileLog) -> Vec<u64> {
    let mut seqs = Vec::new();
    let mut visit = |seq: u64, _payload: &[u8]| {
        seqs.push(seq);
        Ok::<(), super::StoreError>(())
    };
    if let Err(e) = log.replay(0, &mut visit) {
        panic!("a log that opened failed to replay: {e}");
    }
    seqs
}

/// A log segment with any content: opening either refuses with a reason or yields a log whose
/// entries replay in rising order; where it refuses, `pantau store repair` keeps every intact
/// frame and leaves a log that opens, replaying exactly the entries the repair said it kept.
pub fn log_segment(bytes: &[u8]) {
    in_scratch(|dir| {
        let path = dir.join(format!("{:020}.log", 1));
        if let Err(e) = std::fs::write(&path, bytes) {
            panic!("write scratch segment: {e}");
        }
        let seqs = match FileLog::open(dir, 0) {
            Ok(mut log) => {
                let seqs = replayed(&mut log);
                assert!(
                    seqs.windows(2).all(|w| w[0] < w[1]),
                    "entries replay out of order: {seqs:?}"
                );
                assert_eq!(
                    seqs.last().copied().unwrap_or(0),
                    log.last_seq(),
                    "the last entry replayed is not the log's last sequence number"
                );
                return;
            }
            Err(e) => {
                assert!(!e.to_string().is_empty(), "a refusal without a reason");
                let report = match log::repair(dir) {
                    Ok(report) => report,
                    Err(e) => panic!("repair failed on a readable segment: {e}"),
                };
                let mut log = match FileLog::open(dir, 0) {
                    Ok(log) => log,
                    Err(e) => panic!("the log does not open after repair: {e}"),
                };
                let seqs = replayed(&mut log);
                assert_eq!(
                    seqs.len() as u64,
                    report.kept,
                    "the repair kept {} entries but the log replays {seqs:?}",
                    report.kept
                );
                seqs
            }
        };
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "out of order after repair"
        );
    })
}

/// One log entry's payload: decoding refuses with a reason or yields an entry that encodes back
/// to bytes which decode to the same entry.
pub fn log_entry(bytes: &[u8]) {
    let Ok(entry) = codec::decode(bytes) else {
        return;
    };
    let encoded = codec::encode(&entry);
    let again = match codec::decode(&encoded) {
        Ok(again) => again,
        Err(e) => panic!("a decoded entry does not decode after encoding: {e}"),
    };
    assert_eq!(
        codec::encode(&again),
        encoded,
        "decode(encode(entry)) is not the same entry"
    );
}

/// The parts of a checkpoint, chosen by the first byte: its manifest, a key file (with its
/// checksum made right, so the key decoder itself is reached), a dictionary file, or a Parquet
/// file — as a checkpoint written before checksums (or a history file) can hold them. Each is
/// refused with a reason or read; nothing panics.
pub fn checkpoint_part(bytes: &[u8]) {
    let Some((&which, body)) = bytes.split_first() else {
        return;
    };
    match which % 4 {
        0 => in_scratch(|dir| {
            let seq = 7;
            let at = dir.join("checkpoints").join(format!("{seq:020}"));
            if let Err(e) = std::fs::create_dir_all(&at)
                .and_then(|()| std::fs::write(at.join("manifest.json"), body))
            {
                panic!("write scratch manifest: {e}");
            }
            let _ = checkpoint::open(dir, seq);
        }),
        1 => {
            let mut file = body.to_vec();
            file.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
            for format in [1, 2] {
                let _ = checkpoint::decode_keys(&file, format);
            }
        }
        2 => {
            let Ok(saved) = serde_json::from_slice::<BTreeMap<String, Vec<String>>>(body) else {
                return;
            };
            for dataset in Dataset::ALL {
                let schema = dataset.schema();
                let mut dicts = Dicts::new(schema);
                for (col, field) in schema.fields.iter().enumerate() {
                    if let Some(labels) = saved.get(field.name) {
                        let _ = dicts.restore(col, labels.clone());
                    }
                }
            }
        }
        _ => in_scratch(|dir| {
            let path = dir.join("complaints.parquet");
            if let Err(e) = std::fs::write(&path, body) {
                panic!("write scratch parquet: {e}");
            }
            if let Ok(frame) = checkpoint::read_parquet(&path) {
                // Rows whose keys the (empty) key file lacks must be refused, not indexed.
                let dicts = Dicts::new(Dataset::Complaints.schema());
                let mut table = Table::new(Dataset::Complaints);
                let _ = table.restore(&frame, Default::default(), dicts);
            }
        }),
    }
}
