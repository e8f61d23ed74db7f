//! Checkpoints and history: the hot tables as Parquet files, written atomically.
//!
//! A checkpoint is a directory `checkpoints/<seq>/` holding, per dataset, `<name>.parquet` (every
//! hot row with its key id and current flag), `<name>.keys` (the packed keys by key id, see
//! `table::keys`) and `<name>.dicts.json` (dictionary labels by code), plus `manifest.json`,
//! written last. It is built in `<seq>.tmp/`, each file fsynced, then renamed into place and the
//! parent fsynced: a crash leaves either the old or the new checkpoint, never half of one. History files (rows past the hot window) are written the same
//! way under `history/<name>/` and listed by the manifest that first includes them.
//!
//! The manifest keeps the SHA-256 of every file of its checkpoint, checked at load: a flipped byte
//! is found, not loaded. The previous checkpoint is kept (and the log since it), so a damaged
//! latest one is set aside as `<seq>.damaged-<time>` and the store starts from the one before.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::table::{Dicts, KeyArena, KeyStore, Table, TableView};
use super::{io_error as io, sync_dir, StoreError, StoreSnapshot};
use crate::domain::Dataset;
use crate::store::DatasetSchema;

/// Version of the checkpoint layout: 2 since keys are packed (see `table::keys`); format 1
/// checkpoints are still read.
const FORMAT: u32 = 2;

/// What a checkpoint holds.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub format: u32,
    /// The last log entry included.
    pub seq: u64,
    pub committed_at: Option<DateTime<Utc>>,
    pub datasets: BTreeMap<String, DatasetManifest>,
    /// SHA-256 (hex) of each file of the checkpoint by name (absent in checkpoints written before
    /// checksums: those load unchecked).
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct DatasetManifest {
    pub rows: u64,
    pub keys: u32,
    pub updated_at: Option<DateTime<Utc>>,
    /// Seconds; rows before it are in the history files.
    pub hot_since: Option<i64>,
    /// History file names under `history/<dataset>/`, oldest first.
    pub history: Vec<String>,
    /// SHA-256 (hex) of each history file by name (absent for files written before history
    /// checksums: those read unchecked).
    #[serde(default)]
    pub history_checksums: BTreeMap<String, String>,
}

fn polars_err(path: &Path, action: &'static str) -> impl FnOnce(PolarsError) -> StoreError {
    let path = path.display().to_string();
    move |e| StoreError::Io {
        path,
        action,
        source: std::io::Error::other(e.to_string()),
    }
}

/// Reads a Parquet file whole. A file the Parquet reader panics on (a damaged file it does not
/// check for) is an error like any other damage, not a crash of the server.
pub(crate) fn read_parquet(path: &Path) -> PolarsResult<DataFrame> {
    let file = File::open(path)?;
    parquet_guarded(path, || ParquetReader::new(file).finish())
}

/// Runs a Parquet read, turning a panic inside the reader into an error naming the file.
fn parquet_guarded(
    path: &Path,
    read: impl FnOnce() -> PolarsResult<DataFrame>,
) -> PolarsResult<DataFrame> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("a panic");
        Err(PolarsError::ComputeError(
            format!("{} is not a readable Parquet file ({what})", path.display()).into(),
        ))
    })
}

/// A Parquet file of rows past the hot window, with the SHA-256 it was written with (`None` for
/// files listed by checkpoints written before history checksums: those read unchecked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HistoryFile {
    pub path: PathBuf,
    pub sha256: Option<String>,
}

impl HistoryFile {
    /// The file's name under `history/<dataset>/`.
    pub(crate) fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Reads the file (only `columns`, if given) after checking it against its checksum: a
    /// damaged history file is an error naming it, never rows that silently differ.
    pub(crate) fn read(&self, columns: Option<Vec<String>>) -> PolarsResult<DataFrame> {
        let bytes = std::fs::read(&self.path)?;
        if let Some(expected) = &self.sha256 {
            let actual = sha256_hex(&bytes);
            if &actual != expected {
                return Err(PolarsError::ComputeError(
                    format!(
                        "history file {} is damaged: its SHA-256 is {actual}, written as {expected}",
                        self.path.display()
                    )
                    .into(),
                ));
            }
        }
        parquet_guarded(&self.path, || {
            ParquetReader::new(std::io::Cursor::new(bytes))
                .with_columns(columns)
                .finish()
        })
    }
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hash: sha2::Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// SHA-256 (hex) of a file, read in 1 MiB pieces.
fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut file = File::open(path)?;
    let mut hash = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(crate::domain::hex(&hash.finalize()));
        }
        hash.update(&buf[..n]);
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    crate::domain::hex(&sha2::Sha256::digest(bytes))
}

/// Writes `frame` to `path` as Parquet through a temp file, fsync and rename; returns the file's
/// SHA-256 (hex).
pub(crate) fn write_parquet_atomic(
    path: &Path,
    frame: &mut DataFrame,
) -> Result<String, StoreError> {
    use sha2::Digest;
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(io(&tmp, "create"))?;
    let mut out = Hashing {
        inner: BufWriter::with_capacity(1 << 20, file),
        hash: sha2::Sha256::new(),
    };
    ParquetWriter::new(&mut out)
        .with_compression(ParquetCompression::Lz4Raw)
        .finish(frame)
        .map_err(polars_err(&tmp, "write parquet"))?;
    let sha = crate::domain::hex(&out.hash.finalize());
    let file = out
        .inner
        .into_inner()
        .map_err(|e| io(&tmp, "write")(e.into_error()))?;
    file.sync_all().map_err(io(&tmp, "sync"))?;
    std::fs::rename(&tmp, path).map_err(io(path, "rename"))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(sha)
}

/// Writes `bytes` to `path` and fsyncs it; returns their SHA-256 (hex).
fn write_synced(path: &Path, bytes: &[u8]) -> Result<String, StoreError> {
    let mut file = File::create(path).map_err(io(path, "create"))?;
    file.write_all(bytes).map_err(io(path, "write"))?;
    file.sync_all().map_err(io(path, "sync"))?;
    Ok(sha256_hex(bytes))
}

/// A key file: the key store's bytes and a CRC.
fn encode_keys(keys: &KeyStore) -> Vec<u8> {
    let mut out = keys.encode();
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The key store of a key file of checkpoint format `format`: 2 holds packed keys; 1 (earlier
/// versions) held every key's bytes, packed again here in key id order, which gives every key its
/// id again.
pub(crate) fn decode_keys(bytes: &[u8], format: u32) -> Option<KeyStore> {
    let (body, crc) = bytes.split_at(bytes.len().checked_sub(4)?);
    if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().ok()?) {
        return None;
    }
    if format >= 2 {
        return KeyStore::decode(body);
    }
    let arena = KeyArena::decode(body)?;
    let (mut store, mut shapes) = (KeyStore::default(), Default::default());
    for id in 0..arena.len() {
        let probe = store.probe(&shapes, arena.get(id));
        store.push(&mut shapes, &probe);
    }
    Some(store)
}

/// Writes a checkpoint of `snapshot` under `root/checkpoints/` and removes those older than
/// `keep_from` (the previous checkpoint stays, to fall back on).
pub(crate) fn write(
    root: &Path,
    snapshot: &StoreSnapshot,
    keep_from: u64,
) -> Result<PathBuf, StoreError> {
    let parent = root.join("checkpoints");
    std::fs::create_dir_all(&parent).map_err(io(&parent, "create directory"))?;
    let name = format!("{:020}", snapshot.seq);
    let tmp = parent.join(format!("{name}.tmp"));
    let done = parent.join(&name);
    if done.exists() {
        return Ok(done);
    }
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp, "remove"))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp, "create directory"))?;
    let mut datasets = BTreeMap::new();
    let mut checksums = BTreeMap::new();
    for view in &snapshot.tables {
        let dataset = view.dataset();
        let mut frame = view
            .frame()
            .map_err(|e| io(&tmp, "build frame")(std::io::Error::other(e.to_string())))?;
        let name = format!("{}.parquet", dataset.name());
        checksums.insert(
            name.clone(),
            write_parquet_atomic(&tmp.join(&name), &mut frame)?,
        );
        let name = format!("{}.keys", dataset.name());
        checksums.insert(
            name.clone(),
            write_synced(&tmp.join(&name), &encode_keys(view.keys()))?,
        );
        let dicts: BTreeMap<&str, Vec<&str>> = dataset
            .schema()
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.storage.is_dict())
            .map(|(col, f)| (f.name, view.labels(col).iter().map(|l| &**l).collect()))
            .collect();
        let name = format!("{}.dicts.json", dataset.name());
        let dicts_path = tmp.join(&name);
        let json = serde_json::to_vec(&dicts).map_err(|e| io(&dicts_path, "encode")(e.into()))?;
        checksums.insert(name, write_synced(&dicts_path, &json)?);
        datasets.insert(
            dataset.name().to_owned(),
            DatasetManifest {
                rows: view.rows(),
                keys: view.keys().len(),
                updated_at: view.updated_at(),
                hot_since: view.hot_since().map(|t| t.timestamp()),
                history: view.history_files().iter().map(HistoryFile::name).collect(),
                history_checksums: view
                    .history_files()
                    .iter()
                    .filter_map(|f| Some((f.name(), f.sha256.clone()?)))
                    .collect(),
            },
        );
    }
    let manifest = Manifest {
        format: FORMAT,
        seq: snapshot.seq,
        committed_at: snapshot.committed_at,
        datasets,
        checksums,
    };
    let manifest_path = tmp.join("manifest.json");
    let json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| io(&manifest_path, "encode")(e.into()))?;
    write_synced(&manifest_path, &json)?;
    sync_dir(&tmp)?;
    std::fs::rename(&tmp, &done).map_err(io(&done, "rename"))?;
    sync_dir(&parent)?;
    remove_older(&parent, keep_from);
    Ok(done)
}

/// Removes checkpoints older than `seq` and unfinished ones (best effort: a leftover is harmless).
fn remove_older(parent: &Path, seq: u64) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let old = match name.strip_suffix(".tmp") {
            Some(n) => n.parse::<u64>().is_ok_and(|s| s < seq),
            None => name.parse::<u64>().is_ok_and(|s| s < seq),
        };
        if old {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(path = %entry.path().display(), error = %e, "Could not remove an old checkpoint.");
            }
        }
    }
}

/// The sequence numbers of the complete checkpoints under `root`, newest first.
pub(crate) fn complete(root: &Path) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(root.join("checkpoints")) else {
        return Vec::new();
    };
    let mut seqs: Vec<u64> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u64>().ok())
        .collect();
    seqs.sort_unstable_by(|a, b| b.cmp(a));
    seqs
}

/// Checkpoint `seq` under `root`: its directory and manifest, every file checked against the
/// manifest's checksums.
pub(crate) fn open(root: &Path, seq: u64) -> Result<(PathBuf, Manifest), StoreError> {
    let dir = root.join("checkpoints").join(format!("{seq:020}"));
    let path = dir.join("manifest.json");
    let bytes = std::fs::read(&path).map_err(io(&path, "read"))?;
    let corrupt = |path: &Path, reason: String| StoreError::Corrupt {
        path: path.display().to_string(),
        offset: 0,
        reason,
    };
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e.to_string()))?;
    if !(1..=FORMAT).contains(&manifest.format) {
        return Err(corrupt(
            &path,
            format!(
                "checkpoint format {} is not one this version reads (1 to {FORMAT})",
                manifest.format
            ),
        ));
    }
    if manifest.seq != seq {
        return Err(corrupt(
            &path,
            format!(
                "the manifest says entry {} in checkpoint {seq}",
                manifest.seq
            ),
        ));
    }
    // Both cores: the files are hashed side by side (a 10M-row checkpoint is hundreds of MB).
    use rayon::prelude::*;
    manifest
        .checksums
        .par_iter()
        .try_for_each(|(name, expected)| {
            let file = dir.join(name);
            if name.contains('/') || name.contains("..") {
                return Err(corrupt(&path, format!("lists a file outside it: {name}")));
            }
            let actual =
                sha256_file(&file).map_err(|e| corrupt(&file, format!("unreadable: {e}")))?;
            if &actual != expected {
                return Err(corrupt(
                    &file,
                    format!("SHA-256 is {actual}, the manifest says {expected}"),
                ));
            }
            Ok(())
        })?;
    Ok((dir, manifest))
}

/// Moves a damaged checkpoint out of the way (kept for inspection, never loaded again); returns
/// where it went.
pub(crate) fn set_aside(root: &Path, seq: u64) -> Result<PathBuf, StoreError> {
    let parent = root.join("checkpoints");
    let from = parent.join(format!("{seq:020}"));
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    let to = parent.join(format!("{seq:020}.damaged-{stamp}"));
    std::fs::rename(&from, &to).map_err(io(&from, "set aside"))?;
    sync_dir(&parent)?;
    Ok(to)
}

/// Loads one dataset of a checkpoint into `table`.
pub(crate) fn load(
    root: &Path,
    dir: &Path,
    manifest: &Manifest,
    table: &mut Table,
) -> Result<(), StoreError> {
    let dataset = table.dataset;
    let Some(entry) = manifest.datasets.get(dataset.name()) else {
        return Ok(());
    };
    let corrupt = |path: &Path, reason: String| StoreError::Corrupt {
        path: path.display().to_string(),
        offset: 0,
        reason,
    };
    let keys_path = dir.join(format!("{}.keys", dataset.name()));
    let bytes = std::fs::read(&keys_path).map_err(io(&keys_path, "read"))?;
    let keys = decode_keys(&bytes, manifest.format)
        .ok_or_else(|| corrupt(&keys_path, "bad key file".into()))?;
    let dicts_path = dir.join(format!("{}.dicts.json", dataset.name()));
    let bytes = std::fs::read(&dicts_path).map_err(io(&dicts_path, "read"))?;
    let saved: BTreeMap<String, Vec<String>> =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(&dicts_path, e.to_string()))?;
    let mut dicts = Dicts::new(dataset.schema());
    for (col, field) in dataset.schema().fields.iter().enumerate() {
        if let Some(labels) = saved.get(field.name) {
            dicts
                .restore(col, labels.clone())
                .map_err(|e| corrupt(&dicts_path, e))?;
        }
    }
    let path = dir.join(format!("{}.parquet", dataset.name()));
    let frame = read_parquet(&path).map_err(|e| corrupt(&path, e.to_string()))?;
    if frame.height() as u64 != entry.rows || keys.len() != entry.keys {
        return Err(corrupt(
            &path,
            format!(
                "{} rows and {} keys where the manifest says {} and {}",
                frame.height(),
                keys.len(),
                entry.rows,
                entry.keys
            ),
        ));
    }
    table
        .restore(&frame, keys, dicts)
        .map_err(|e| corrupt(&path, e.to_string()))?;
    table.updated_at = entry.updated_at;
    table.hot_since = entry.hot_since;
    let history_dir = history_dir(root, dataset);
    table.history = std::sync::Arc::new(
        entry
            .history
            .iter()
            .map(|name| HistoryFile {
                path: history_dir.join(name),
                sha256: entry.history_checksums.get(name).cloned(),
            })
            .collect(),
    );
    Ok(())
}

/// Where a dataset's history files live.
pub(crate) fn history_dir(root: &Path, dataset: Dataset) -> PathBuf {
    root.join("history").join(dataset.name())
}

/// Deletes history files that no checkpoint lists (left by a crash between writing them and the
/// checkpoint that would have listed them; their rows are still hot).
pub(crate) fn remove_orphan_history(root: &Path, view: &TableView) {
    let dir = history_dir(root, view.dataset());
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !view.history_files().iter().any(|f| f.path == path) {
            tracing::warn!(path = %path.display(), "Removing a history file no checkpoint lists.");
            let _ = std::fs::remove_file(&path);
        }
    }
}
