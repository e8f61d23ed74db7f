//! The store against its contract: upserts, rejection, durability, checkpoints, as-of, retention.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use polars::prelude::*;

use super::*;
use crate::domain::{BudgetVersion, Rupiah, Status};

fn at(minute: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000 + minute * 60, 0).unwrap()
}

fn complaint(id: &str, category: &str, minute: i64) -> Complaint {
    Complaint::sample(id, category, at(minute))
}

fn version(id: &str, status: Status, minute: i64) -> Complaint {
    Complaint {
        status,
        updated_at: at(minute),
        ..complaint(id, "Sampah", 0)
    }
}

fn no_retention() -> StoreOptions {
    StoreOptions {
        retention: None,
        ..StoreOptions::default()
    }
}

async fn open(dir: &Path) -> Store {
    Store::open(dir, no_retention()).await.unwrap()
}

/// Current complaints as (source_id, status word, updated_at seconds), sorted.
fn states(view: &TableView, frame: &DataFrame) -> Vec<(String, String, u32)> {
    let keys = frame.column(KEY_ID).unwrap().u32().unwrap();
    let status = frame.column("status").unwrap().u8().unwrap();
    let updated = frame.column("updated_at").unwrap().u32().unwrap();
    let mut out: Vec<_> = keys
        .into_iter()
        .zip(status)
        .zip(updated)
        .map(|((k, s), u)| {
            let id = view.key(k.unwrap())[1].1.clone();
            let word = schema::STATUS_WORDS[s.unwrap() as usize].to_owned();
            (id, word, u.unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Current complaints of `frame` as `id:status`, sorted.
fn words(view: &TableView, frame: &DataFrame) -> Vec<String> {
    states(view, frame)
        .into_iter()
        .map(|(id, s, _)| format!("{id}:{s}"))
        .collect()
}

#[tokio::test]
async fn newest_version_wins_and_applying_a_batch_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let batch = vec![
        version("1", Status::Received, 0),
        version("2", Status::Received, 1),
        // The same key twice in one batch: the later, newer one wins.
        version("1", Status::Verified, 2),
    ];
    let first = store.append_complaints(batch.clone()).await.unwrap();
    assert_eq!((first.rows, first.changed), (3, 3));
    let again = store.append_complaints(batch).await.unwrap();
    assert_eq!(again.changed, 0, "a replayed batch changes nothing");
    let rows_before = store.snapshot().complaints().rows();

    // Out of order: an older version arrives after a newer one and is ignored.
    let late = store
        .append_complaints(vec![version("1", Status::Received, 1)])
        .await
        .unwrap();
    assert_eq!(late.changed, 0);
    // Same source time, different content: the later ingest wins.
    store
        .append_complaints(vec![version("2", Status::Assigned, 1)])
        .await
        .unwrap();

    let snap = store.snapshot();
    let view = snap.complaints();
    assert_eq!(snap.seq, 4);
    assert_eq!(view.current_rows(), 2);
    assert_eq!(view.rows(), rows_before + 1);
    assert_eq!(
        states(view, &view.current().unwrap()),
        vec![
            ("1".into(), "verified".into(), at(2).timestamp() as u32),
            ("2".into(), "assigned".into(), at(1).timestamp() as u32),
        ]
    );
}

#[tokio::test]
async fn a_bad_batch_is_refused_whole_with_row_reasons_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store
        .append_complaints(vec![complaint("ok", "Sampah", 0)])
        .await
        .unwrap();
    let log_before = store.log_bytes();
    let mut bad_rating = complaint("r", "Sampah", 1);
    bad_rating.rating = Some(9);
    let mut no_id = complaint("", "Sampah", 1);
    no_id.lat = Some(-7.6);
    let err = store
        .append_complaints(vec![complaint("fine", "Sampah", 1), bad_rating, no_id])
        .await
        .unwrap_err();
    let StoreError::Rejected { rows, problems, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(*rows, 3);
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0].row, 1);
    assert_eq!(problems[0].key, "test/r");
    assert_eq!(problems[0].reasons, ["rating 9 is outside 1..=5"]);
    assert_eq!(
        problems[1].reasons,
        ["source_id is empty", "lat and lon must be given together"]
    );
    assert!(
        err.to_string().contains("row 1 (test/r): rating 9"),
        "{err}"
    );
    let snap = store.snapshot();
    assert_eq!(snap.seq, 1);
    assert_eq!(
        snap.complaints().current_rows(),
        1,
        "the good row was not applied"
    );
    assert_eq!(store.log_bytes(), log_before, "nothing was logged");
}

/// A log that fails on demand, standing in for a disk that fills up.
struct FailingLog {
    inner: FileLog,
    fail: Arc<AtomicBool>,
    /// Replays asked of the log: each is a rebuild of the writer's tables.
    replays: Arc<std::sync::atomic::AtomicUsize>,
}

impl BatchLog for FailingLog {
    fn append(&mut self, seq: u64, payload: &[u8]) -> Result<(), StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Io {
                path: "log".into(),
                action: "append",
                source: std::io::Error::from_raw_os_error(28), // ENOSPC
            });
        }
        self.inner.append(seq, payload)
    }
    fn replay(&mut self, after: u64, f: &mut log::EntryVisitor<'_>) -> Result<(), StoreError> {
        self.replays.fetch_add(1, Ordering::SeqCst);
        self.inner.replay(after, f)
    }
    fn last_seq(&self) -> u64 {
        self.inner.last_seq()
    }
    fn roll(&mut self) -> Result<(), StoreError> {
        self.inner.roll()
    }
    fn truncate_through(&mut self, seq: u64) -> Result<(), StoreError> {
        self.inner.truncate_through(seq)
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
}

#[tokio::test]
async fn a_failed_write_leaves_no_partial_state_and_is_reported_until_a_write_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let fail = Arc::new(AtomicBool::new(false));
    let replays = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let log = FailingLog {
        inner: FileLog::open(&dir.path().join("log"), 0).unwrap(),
        fail: fail.clone(),
        replays: replays.clone(),
    };
    let store = Store::open_with_log(dir.path(), no_retention(), Box::new(log))
        .await
        .unwrap();
    store
        .append_complaints(vec![complaint("1", "Sampah", 0)])
        .await
        .unwrap();
    fail.store(true, Ordering::SeqCst);
    // A large batch takes the two-core path, where the tables are updated while the log is
    // written: the failure must still leave nothing behind (the tables are rebuilt once).
    let big: Vec<Complaint> = (0..2_000)
        .map(|i| complaint(&format!("big-{i}"), "Jalan Rusak", 2))
        .chain([version("1", Status::Resolved, 3)])
        .collect();
    assert!(big.len() >= PARALLEL_ROWS);
    let before = replays.load(Ordering::SeqCst);
    let err = store.append_complaints(big.clone()).await.unwrap_err();
    assert!(err.to_string().contains("No space left"), "{err}");
    assert!(store.last_error().unwrap().contains("No space left"));
    let snap = store.snapshot();
    assert_eq!((snap.seq, snap.complaints().current_rows()), (1, 1));
    assert_eq!(replays.load(Ordering::SeqCst), before + 1, "one rebuild");
    // While writes keep failing, batches are logged before they are applied: nothing is rebuilt
    // again (the probe's full disk rebuilt every table nine times).
    for _ in 0..3 {
        let err = store.append_complaints(big.clone()).await.unwrap_err();
        assert!(err.to_string().contains("No space left"), "{err}");
        let snap = store.snapshot();
        assert_eq!((snap.seq, snap.complaints().current_rows()), (1, 1));
    }
    let err = store
        .append_complaints(vec![complaint("2", "Sampah", 1)])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("No space left"), "{err}");
    assert_eq!(
        replays.load(Ordering::SeqCst),
        before + 1,
        "no more rebuilds"
    );
    fail.store(false, Ordering::SeqCst);
    let commit = store
        .append_complaints(vec![complaint("2", "Sampah", 1)])
        .await
        .unwrap();
    assert_eq!(commit.seq, 2, "no sequence number was used by the failures");
    assert_eq!(store.last_error(), None);
    // The writer's own tables were rebuilt without the failed batch: applying it now changes
    // every row of it (2,000 new complaints and complaint 1 resolved).
    let commit = store.append_complaints(big).await.unwrap();
    assert_eq!((commit.seq, commit.changed), (3, 2_001));
    let snap = store.snapshot();
    assert_eq!(snap.complaints().current_rows(), 2_002);
}

#[tokio::test]
async fn checkpoint_plus_log_rebuilds_the_same_state_and_truncates_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    for i in 0..5 {
        store
            .append_complaints(vec![complaint(&i.to_string(), "Sampah", i)])
            .await
            .unwrap();
    }
    let log_before = store.log_bytes();
    assert_eq!(store.checkpoint().await.unwrap(), Some(5));
    // The log since the previous checkpoint stays (to fall back on); there was none.
    assert_eq!(store.log_bytes(), log_before);
    assert_eq!(store.checkpoint().await.unwrap(), None, "nothing new");
    store
        .append_complaints(vec![version("1", Status::Resolved, 9)])
        .await
        .unwrap();
    assert_eq!(store.checkpoint().await.unwrap(), Some(6));
    assert!(
        store.log_bytes() < log_before,
        "the log up to the previous checkpoint was dropped"
    );
    let before = store.snapshot();
    let expected = states(before.complaints(), &before.complaints().frame().unwrap());
    drop(store);

    let reopened = open(dir.path()).await;
    let after = reopened.snapshot();
    assert_eq!(after.seq, 6);
    assert_eq!(after.complaints().rows(), before.complaints().rows());
    assert_eq!(
        states(after.complaints(), &after.complaints().frame().unwrap()),
        expected
    );
    assert_eq!(
        ComplaintKeys::of(after.complaints()),
        ComplaintKeys::of(before.complaints())
    );
    let next = reopened
        .append_complaints(vec![version("1", Status::Reopened, 10)])
        .await
        .unwrap();
    assert_eq!((next.seq, next.changed), (7, 1));
    assert_eq!(reopened.snapshot().complaints().current_rows(), 5);
}

/// Flips one byte in the middle of `file`.
fn flip_a_byte(file: &Path) {
    let mut bytes = std::fs::read(file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(file, bytes).unwrap();
}

fn checkpoint_file(dir: &Path, seq: u64, name: &str) -> PathBuf {
    dir.join("checkpoints")
        .join(format!("{seq:020}"))
        .join(name)
}

#[tokio::test]
async fn a_damaged_checkpoint_is_set_aside_and_the_one_before_it_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    for i in 0..3 {
        store
            .append_complaints(vec![complaint(&i.to_string(), "Sampah", i)])
            .await
            .unwrap();
    }
    assert_eq!(store.checkpoint().await.unwrap(), Some(3));
    store
        .append_complaints(vec![version("1", Status::Resolved, 9)])
        .await
        .unwrap();
    assert_eq!(store.checkpoint().await.unwrap(), Some(4));
    let before = store.snapshot();
    let expected = states(before.complaints(), &before.complaints().frame().unwrap());
    assert!(store.recovered().is_none());
    drop(store);

    flip_a_byte(&checkpoint_file(dir.path(), 4, "complaints.parquet"));
    let reopened = open(dir.path()).await;
    let after = reopened.snapshot();
    assert_eq!(after.seq, 4, "checkpoint 3 and the log since it");
    assert_eq!(
        states(after.complaints(), &after.complaints().frame().unwrap()),
        expected
    );
    let note = reopened.recovered().unwrap();
    assert!(note.contains("checkpoint 4 was damaged"), "{note}");
    assert!(note.contains("SHA-256"), "{note}");
    let aside: Vec<String> = std::fs::read_dir(dir.path().join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".damaged-"))
        .collect();
    assert_eq!(aside.len(), 1, "the damaged checkpoint is kept aside");
    // It goes on: the next checkpoint is sound and reopening needs no fallback.
    reopened
        .append_complaints(vec![version("2", Status::Resolved, 10)])
        .await
        .unwrap();
    assert_eq!(reopened.checkpoint().await.unwrap(), Some(5));
    drop(reopened);
    let again = open(dir.path()).await;
    assert!(again.recovered().is_none());
    assert_eq!(again.snapshot().seq, 5);
}

#[tokio::test]
async fn without_a_sound_checkpoint_the_store_starts_from_a_whole_log_or_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store
        .append_complaints(vec![complaint("1", "Sampah", 1)])
        .await
        .unwrap();
    assert_eq!(store.checkpoint().await.unwrap(), Some(1));
    let expected = words(
        store.snapshot().complaints(),
        &store.snapshot().complaints().frame().unwrap(),
    );
    drop(store);
    // A flipped byte in the dictionaries: before checksums this loaded and lied.
    flip_a_byte(&checkpoint_file(dir.path(), 1, "complaints.dicts.json"));
    // The log still holds every entry from the first: the store is rebuilt from it alone.
    let store = open(dir.path()).await;
    let note = store.recovered().unwrap().to_owned();
    assert!(
        note.contains("SHA-256") && note.contains("log alone"),
        "{note}"
    );
    let now = store.snapshot();
    assert_eq!(
        words(now.complaints(), &now.complaints().frame().unwrap()),
        expected
    );

    // Two checkpoints, both damaged: the log no longer holds entry 1, so opening refuses.
    store
        .append_complaints(vec![version("1", Status::Resolved, 5)])
        .await
        .unwrap();
    assert_eq!(store.checkpoint().await.unwrap(), Some(2));
    store
        .append_complaints(vec![version("1", Status::Reopened, 6)])
        .await
        .unwrap();
    assert_eq!(store.checkpoint().await.unwrap(), Some(3));
    drop(store);
    flip_a_byte(&checkpoint_file(dir.path(), 3, "complaints.keys"));
    flip_a_byte(&checkpoint_file(dir.path(), 2, "complaints.parquet"));
    let err = Store::open(dir.path(), no_retention())
        .await
        .err()
        .expect("rows would be missing")
        .to_string();
    assert!(err.contains("are missing"), "{err}");
    assert!(err.contains("checkpoint 3 was damaged"), "{err}");
}

#[tokio::test]
async fn a_checkpoint_of_the_first_format_with_key_bytes_is_read_and_its_keys_packed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    // Packable ids, ids with no digits, and ids whose digit runs are longer than a number holds.
    let ids = [
        "LPR-0000000042",
        "LPR-7",
        "tanpa-nomor",
        "12345678901234567890",
        "x",
    ];
    let batch = ids
        .iter()
        .enumerate()
        .map(|(i, id)| complaint(id, "Sampah", i as i64))
        .collect();
    store.append_complaints(batch).await.unwrap();
    let seq = store.checkpoint().await.unwrap().unwrap();
    let before = store.snapshot();
    let expected = ComplaintKeys::of(before.complaints());
    drop(store);
    // Rewrite the checkpoint as format 1 wrote it: every key's bytes in an arena.
    let cp = dir.path().join("checkpoints").join(format!("{seq:020}"));
    for dataset in Dataset::ALL {
        let mut arena = table::KeyArena::default();
        let keys = before.table(dataset).keys();
        for id in 0..keys.len() {
            arena.push_key(&keys.get(id));
        }
        let mut bytes = arena.encode();
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        std::fs::write(cp.join(format!("{}.keys", dataset.name())), bytes).unwrap();
    }
    let manifest_path = cp.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["format"] = 1.into();
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();

    let reopened = open(dir.path()).await;
    assert_eq!(
        ComplaintKeys::of(reopened.snapshot().complaints()),
        expected
    );
    // The keys are found again: a newer version of each replaces it.
    let updates = ids
        .iter()
        .map(|id| version(id, Status::Resolved, 100))
        .collect();
    let commit = reopened.append_complaints(updates).await.unwrap();
    assert_eq!(commit.changed, ids.len());
    assert_eq!(
        reopened.snapshot().complaints().current_rows(),
        ids.len() as u64
    );
}

/// The current rows' keys, for comparing two opens of one store.
#[derive(Debug, PartialEq)]
struct ComplaintKeys(Vec<String>);

impl ComplaintKeys {
    fn of(view: &TableView) -> ComplaintKeys {
        let frame = view.current().unwrap();
        let mut keys: Vec<String> = frame
            .column(KEY_ID)
            .unwrap()
            .u32()
            .unwrap()
            .into_iter()
            .map(|k| view.key(k.unwrap())[1].1.clone())
            .collect();
        keys.sort();
        ComplaintKeys(keys)
    }
}

#[tokio::test]
async fn as_of_answers_how_things_stood_at_a_past_moment() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    // A: received 0, verified 10, resolved 20.  B: received 5, rejected 30.  C: received 25.
    store
        .append_complaints(vec![
            version("A", Status::Received, 0),
            version("B", Status::Received, 5),
        ])
        .await
        .unwrap();
    store
        .append_complaints(vec![version("A", Status::Verified, 10)])
        .await
        .unwrap();
    store
        .append_complaints(vec![
            version("A", Status::Resolved, 20),
            version("C", Status::Received, 25),
        ])
        .await
        .unwrap();
    store
        .append_complaints(vec![version("B", Status::Rejected, 30)])
        .await
        .unwrap();
    let snap = store.snapshot();
    let view = snap.complaints();
    let at_minute = |m: i64| words(view, &view.as_of(at(m)).unwrap());
    assert!(at_minute(-1).is_empty(), "nothing existed yet");
    assert_eq!(at_minute(0), ["A:received"]);
    assert_eq!(at_minute(7), ["A:received", "B:received"]);
    assert_eq!(at_minute(10), ["A:verified", "B:received"]);
    assert_eq!(at_minute(26), ["A:resolved", "B:received", "C:received"]);
    assert_eq!(at_minute(99), ["A:resolved", "B:rejected", "C:received"]);
    // "Open at minute 26": not resolved or rejected.
    let open_at_26 = at_minute(26)
        .iter()
        .filter(|s| !s.ends_with("resolved") && !s.ends_with("rejected"))
        .count();
    assert_eq!(open_at_26, 2);
}

#[tokio::test]
async fn retention_moves_old_versions_to_history_and_as_of_still_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let days_ago = |d: i64| now - Duration::days(d);
    let store = Store::open(
        dir.path(),
        StoreOptions {
            retention: Some(std::time::Duration::from_secs(30 * 86_400)),
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    let old = |id: &str, s: Status, d: i64| Complaint {
        status: s,
        updated_at: days_ago(d),
        ..Complaint::sample(id, "Sampah", days_ago(100))
    };
    // X: received 100 days ago, resolved 60 days ago (both versions are past the window).
    // Y: received 100 days ago, verified 10 days ago (current inside the window: kept hot).
    store
        .append_complaints(vec![
            old("X", Status::Received, 100),
            old("Y", Status::Received, 100),
        ])
        .await
        .unwrap();
    store
        .append_complaints(vec![
            old("X", Status::Resolved, 60),
            old("Y", Status::Verified, 10),
        ])
        .await
        .unwrap();
    store.checkpoint().await.unwrap();
    let snap = store.snapshot();
    let view = snap.complaints();
    assert_eq!(view.rows(), 3, "X's superseded version moved to history");
    assert_eq!(view.current_rows(), 2, "current versions stay hot");
    assert_eq!(view.history_files().len(), 1);
    assert!(view.hot_since().is_some());
    assert_eq!(
        words(view, &view.as_of(days_ago(80)).unwrap()),
        ["X:received", "Y:received"],
        "80 days ago is answered from history"
    );
    assert_eq!(
        words(view, &view.as_of(days_ago(20)).unwrap()),
        ["X:resolved", "Y:received"]
    );
    // Before the hot window only `as_of` can answer (it reads history); the mask says so.
    assert!(view.as_of_mask(days_ago(80)).is_none());
    let mask = view.as_of_mask(days_ago(20)).unwrap();
    assert_eq!(
        words(view, &view.frame().unwrap().filter(&mask).unwrap()),
        ["X:resolved", "Y:received"]
    );
    drop(store);
    // The history survives a restart through the checkpoint that lists it.
    let reopened = open(dir.path()).await;
    let snap = reopened.snapshot();
    let view = snap.complaints();
    assert_eq!(view.rows(), 3);
    assert_eq!(states(view, &view.as_of(days_ago(80)).unwrap()).len(), 2);
    drop(reopened);

    // A flipped byte in the history file: reads that need it say which file is damaged instead
    // of answering with rows that silently differ (before checksums it read as other rows).
    let history = std::fs::read_dir(dir.path().join("history").join("complaints"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let mut bytes = std::fs::read(&history).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&history, &bytes).unwrap();
    let reopened = open(dir.path()).await;
    let snap = reopened.snapshot();
    let view = snap.complaints();
    let refused = view.as_of(days_ago(80)).unwrap_err().to_string();
    assert!(
        refused.contains("damaged") && refused.contains(&history.display().to_string()),
        "{refused}"
    );
    // What the hot window answers alone is unaffected.
    assert_eq!(view.current_rows(), 2);
}

fn line(
    code: &str,
    parent: Option<&str>,
    level: u8,
    pagu_sen: i64,
    realisasi_sen: i64,
) -> BudgetLine {
    BudgetLine {
        source: "sipd".into(),
        fiscal_year: 2014,
        version: BudgetVersion::Murni,
        opd: "1.01.01".into(),
        account_code: code.into(),
        period: 12,
        level,
        parent_code: parent.map(str::to_owned),
        account_name: code.into(),
        pagu: Rupiah::from_sen(pagu_sen),
        anggaran_kas: Rupiah::from_sen(pagu_sen),
        realisasi: Rupiah::from_sen(realisasi_sen),
        updated_at: at(0),
    }
}

#[tokio::test]
async fn budget_sums_are_exact_and_taken_over_one_level() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    // Real figures of Dinas Pendidikan Gunungkidul 2014 (../shared/data/budget): belanja daerah
    // = tidak langsung + langsung, to the sen.
    let rows = vec![
        line("5", None, 1, 75_924_330_053_861, 64_335_443_966_400),
        line("5.1", Some("5"), 2, 64_291_249_763_861, 58_340_183_909_600),
        line("5.2", Some("5"), 2, 11_633_080_290_000, 5_995_260_056_800),
    ];
    store
        .append(Batch::BudgetLines(rows.clone()))
        .await
        .unwrap();
    let snap = store.snapshot();
    let frame = snap.table(Dataset::BudgetLines).current().unwrap();
    let sum_level = |level: u8| {
        let out = frame
            .clone()
            .lazy()
            .filter(col("level").eq(lit(level as u32)))
            .select([col("pagu").sum(), col("realisasi").sum()])
            .collect()
            .unwrap();
        (
            out.column("pagu").unwrap().i64().unwrap().get(0).unwrap(),
            out.column("realisasi")
                .unwrap()
                .i64()
                .unwrap()
                .get(0)
                .unwrap(),
        )
    };
    assert_eq!(sum_level(1), (75_924_330_053_861, 64_335_443_966_400));
    assert_eq!(
        sum_level(2),
        sum_level(1),
        "children add up to the parent exactly"
    );
    let by_rupiah = Rupiah::checked_sum(rows[1..].iter().map(|l| l.pagu)).unwrap();
    assert_eq!(by_rupiah.to_string(), "Rp 759.243.300.538,61");
    // A correction for the same key replaces the figure; it is never added to it.
    let mut corrected = rows[1].clone();
    corrected.realisasi = Rupiah::from_sen(58_340_183_909_601);
    corrected.updated_at = at(5);
    store
        .append(Batch::BudgetLines(vec![corrected]))
        .await
        .unwrap();
    let snap = store.snapshot();
    let view = snap.table(Dataset::BudgetLines);
    assert_eq!(view.current_rows(), 3);
    assert_eq!(view.rows(), 4);
}

#[tokio::test]
async fn service_events_are_kept_and_a_completion_replaces_the_open_report() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let event = ServiceEvent {
        source: "emonev".into(),
        event_id: "KTP-1".into(),
        service: "KTP-el".into(),
        unit: "Dispendukcapil".into(),
        region: Some("35.75.01.1001".parse().unwrap()),
        requested_at: at(0),
        completed_at: None,
        sla_target_minutes: 60,
        outcome: crate::domain::ServiceOutcome::Pending,
    };
    let done = ServiceEvent {
        completed_at: Some(at(45)),
        outcome: crate::domain::ServiceOutcome::Completed,
        ..event.clone()
    };
    store
        .append(Batch::ServiceEvents(vec![event.clone()]))
        .await
        .unwrap();
    store
        .append(Batch::ServiceEvents(vec![done, event]))
        .await
        .unwrap();
    let snap = store.snapshot();
    let view = snap.table(Dataset::ServiceEvents);
    assert_eq!((view.current_rows(), view.rows()), (1, 2));
    let frame = view.current().unwrap();
    let outcome = frame.column("outcome").unwrap().u8().unwrap().get(0);
    assert_eq!(outcome, Some(1), "completed");
}

mod model {
    //! Property test: the store against a naive model of its rules.

    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// One version: (key, minute, status) — status doubles as the content.
    type Op = (u8, i64, u8);

    const STATUSES: [Status; 4] = [
        Status::Received,
        Status::Verified,
        Status::Resolved,
        Status::Reopened,
    ];

    fn row((key, minute, status): Op) -> Complaint {
        version(&key.to_string(), STATUSES[status as usize], minute)
    }

    /// The naive model: per key, the versions accepted so far, in order.
    #[derive(Default)]
    struct Model(BTreeMap<String, Vec<(i64, String)>>);

    impl Model {
        fn apply(&mut self, (key, minute, status): Op) {
            let word = schema::STATUS_WORDS[STATUSES[status as usize] as usize].to_owned();
            let versions = self.0.entry(key.to_string()).or_default();
            // Newer wins; at the same time a version not seen at that time wins (later ingest);
            // a repeat of any version at that time changes nothing.
            let accept = match versions.last() {
                None => true,
                Some((m, _)) => {
                    minute > *m
                        || (minute == *m
                            && !versions.iter().any(|(vm, vw)| *vm == minute && *vw == word))
                }
            };
            if accept {
                versions.push((minute, word));
            }
        }

        fn as_of(&self, minute: i64) -> Vec<String> {
            self.0
                .iter()
                .filter_map(|(k, versions)| {
                    versions
                        .iter()
                        .rev()
                        .find(|(m, _)| *m <= minute)
                        .map(|(_, w)| format!("{k}:{w}"))
                })
                .collect()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn the_store_agrees_with_a_naive_model(
            batches in prop::collection::vec(
                prop::collection::vec((0u8..6, 0i64..12, 0u8..4), 1..6), 1..6),
            replay in any::<bool>(),
            checkpoint_after in 0usize..6,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let mut store = open(dir.path()).await;
                let mut model = Model::default();
                // A reader following commits: the current rows as its deltas say, from the
                // first view of each lineage.
                let mut followed: Option<(u64, u64, std::collections::BTreeSet<u32>)> = None;
                for (i, batch) in batches.iter().enumerate() {
                    let rows: Vec<Complaint> = batch.iter().copied().map(row).collect();
                    store.append_complaints(rows.clone()).await.unwrap();
                    batch.iter().copied().for_each(|op| model.apply(op));
                    if replay {
                        let again = store.append_complaints(rows).await.unwrap();
                        prop_assert_eq!(again.changed, 0);
                    }
                    let snap = store.snapshot();
                    let view = snap.complaints();
                    let current_rows = || -> std::collections::BTreeSet<u32> {
                        let frame = view.frame().unwrap();
                        frame.column(CURRENT).unwrap().bool().unwrap().into_iter()
                            .enumerate().filter(|(_, c)| *c == Some(true)).map(|(r, _)| r as u32).collect()
                    };
                    match followed.as_mut().and_then(|(lineage, seq, rows)| {
                        view.changes_since(*lineage, *seq).map(|deltas| (deltas, seq, rows))
                    }) {
                        Some((deltas, seq, rows)) => {
                            for d in deltas {
                                d.removed.iter().for_each(|r| { rows.remove(r); });
                                rows.extend(d.added.iter().copied());
                                *seq = d.seq;
                            }
                            prop_assert_eq!(&*rows, &current_rows(), "deltas reach the view's current rows");
                            // Reading just those rows gives what the whole frame holds there.
                            let wanted: Vec<u32> = rows.iter().copied().collect();
                            let idx = polars::prelude::IdxCa::from_vec("".into(), wanted.clone());
                            let whole = view.frame().unwrap().take(&idx).unwrap();
                            prop_assert!(view.gather(&wanted).unwrap().equals_missing(&whole));
                        }
                        None => followed = Some((view.lineage(), snap.seq, current_rows())),
                    }
                    if i == checkpoint_after {
                        store.checkpoint().await.unwrap();
                        drop(store);
                        store = open(dir.path()).await;
                        // A reopened store numbers its rows anew: old deltas no longer apply.
                        let reopened = store.snapshot();
                        if let Some((lineage, seq, _)) = &followed {
                            prop_assert!(reopened.complaints().changes_since(*lineage, *seq).is_none());
                        }
                    }
                }
                let snap = store.snapshot();
                let view = snap.complaints();
                prop_assert_eq!(words(view, &view.current().unwrap()), model.as_of(i64::MAX));
                for minute in [-1, 0, 3, 6, 11] {
                    prop_assert_eq!(words(view, &view.as_of(at(minute)).unwrap()), model.as_of(minute));
                    // The mask over the shared frame selects the same versions.
                    let mask = view.as_of_mask(at(minute)).unwrap();
                    let masked = view.frame().unwrap().filter(&mask).unwrap();
                    prop_assert_eq!(words(view, &masked), model.as_of(minute));
                }
                Ok(())
            })?;
        }
    }
}

#[tokio::test]
async fn retention_moves_old_service_events_out_even_when_current() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let store = Store::open(
        dir.path(),
        StoreOptions {
            retention: Some(std::time::Duration::from_secs(30 * 86_400)),
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    let event = |id: &str, days_ago: i64| ServiceEvent {
        source: "emonev".into(),
        event_id: id.into(),
        service: "KTP-el".into(),
        unit: "Dispendukcapil".into(),
        region: None,
        requested_at: now - Duration::days(days_ago),
        completed_at: Some(now - Duration::days(days_ago) + Duration::minutes(30)),
        sla_target_minutes: 60,
        outcome: crate::domain::ServiceOutcome::Completed,
    };
    store
        .append(Batch::ServiceEvents(vec![
            event("old", 45),
            event("new", 2),
        ]))
        .await
        .unwrap();
    store.checkpoint().await.unwrap();
    let snap = store.snapshot();
    let view = snap.table(Dataset::ServiceEvents);
    assert_eq!(
        (view.rows(), view.current_rows()),
        (1, 1),
        "the old event left memory"
    );
    let ids = |frame: DataFrame| {
        let keys = frame.column(KEY_ID).unwrap().u32().unwrap().clone();
        let mut ids: Vec<String> = keys
            .into_iter()
            .map(|k| view.key(k.unwrap())[1].1.clone())
            .collect();
        ids.sort();
        ids
    };
    // Inside the hot window, reads cover the events requested inside it.
    assert_eq!(ids(view.as_of(now).unwrap()), ["new"]);
    assert_eq!(
        ids(view.as_of(now - Duration::days(40)).unwrap()),
        ["old"],
        "before the hot window the history file answers"
    );
}
