//! Crash safety of the store: a child process appends batches (new complaints plus an update of an
//! earlier one; every fifth batch large enough for the two-core append path) and checkpoints every few batches, printing each acknowledgement; the parent kills
//! it with SIGKILL at random moments — inside writes, fsyncs and checkpoints — reopens the store and
//! checks that every acknowledged batch is there, exactly once.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::DateTime;
use pantau::domain::{Complaint, Status};
use pantau::store::{Store, StoreOptions};
use rand::Rng;

crate::tests! {
    ignored async appender_child,
    async acknowledged_batches_survive_sigkill_at_random_moments,
}

/// Set in the child: the store directory to append to.
const CHILD_DIR: &str = "PANTAU_CRASH_APPENDER_DIR";
/// New complaints per batch; every fifth batch is large enough for the two-core append path.
fn new_rows(seq: u64) -> u64 {
    if seq.is_multiple_of(5) {
        1_200
    } else {
        10
    }
}

/// Complaints filed by batches 1..=seq.
fn filed_through(seq: u64) -> u64 {
    (1..=seq).map(new_rows).sum()
}

/// The child checkpoints after every this many batches.
const CHECKPOINT_EVERY: u64 = 7;

/// Batch `seq`: its new complaints `seq-i`, and complaint `(seq-1)-0` of the previous batch moved
/// to verified. Times follow `seq`, so every version is newer than the one it replaces.
fn batch(seq: u64) -> Vec<Complaint> {
    let at = |s: u64| DateTime::from_timestamp(1_790_000_000 + s as i64 * 10, 0).unwrap();
    let mut rows: Vec<Complaint> = (0..new_rows(seq))
        .map(|i| Complaint {
            kelurahan: Some("35.75.01.1001".parse().unwrap()),
            lat: Some(-7.64),
            lon: Some(112.9),
            ..Complaint::new("crash", &format!("{seq}-{i}"), "Sampah", "DLH", at(seq))
        })
        .collect();
    if seq > 1 {
        let id = format!("{}-0", seq - 1);
        rows.push(Complaint {
            status: Status::Verified,
            updated_at: at(seq),
            ..Complaint::new("crash", &id, "Sampah", "DLH", at(seq - 1))
        });
    }
    rows
}

fn options() -> StoreOptions {
    StoreOptions {
        retention: None,
        ..StoreOptions::default()
    }
}

/// The child: appends until killed, printing `ack SEQ` after each durable append.
async fn appender_child() {
    let dir = std::env::var(CHILD_DIR).expect("run by the crash test");
    let store = Store::open(std::path::Path::new(&dir), options())
        .await
        .unwrap();
    loop {
        let next = store.snapshot().seq + 1;
        let commit = store.append_complaints(batch(next)).await.unwrap();
        assert_eq!(commit.seq, next);
        // Printed only after append returned: the batch is fsynced.
        println!("ack {}", commit.seq);
        if next % CHECKPOINT_EVERY == 0 {
            store.checkpoint().await.unwrap();
        }
    }
}

async fn acknowledged_batches_survive_sigkill_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rng();
    let mut last_acked = 0u64;
    let rounds = 60;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "store_crash::appender_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(seq) = line.strip_prefix("ack ") {
                    let _ = tx.send(seq.trim().parse::<u64>().unwrap());
                }
            }
        });
        // Wait for the first acknowledgement, then kill at a random moment a few ms later,
        // often in the middle of a write or an fsync.
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("round {round}: the child acknowledged nothing"));
        assert!(first > last_acked, "round {round}: seq went backwards");
        let kill_at = Instant::now() + Duration::from_micros(rng.random_range(0..40_000));
        while Instant::now() < kill_at {
            std::hint::spin_loop();
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        last_acked = rx.try_iter().fold(first, u64::max);

        let store = Store::open(dir.path(), options()).await.unwrap();
        let snapshot = store.snapshot();
        assert!(
            snapshot.seq >= last_acked,
            "round {round}: acknowledged batch {last_acked} lost (store at {})",
            snapshot.seq
        );
        assert!(
            snapshot.seq <= last_acked + 1,
            "round {round}: batches out of nowhere"
        );
        let complaints = snapshot.complaints();
        assert_eq!(
            complaints.current_rows(),
            filed_through(snapshot.seq),
            "round {round}: every durable batch applied exactly once"
        );
        // One version per new complaint plus one update per batch after the first.
        assert_eq!(
            complaints.rows(),
            filed_through(snapshot.seq) + snapshot.seq.saturating_sub(1),
            "round {round}: no version lost or duplicated"
        );
        let current = complaints.current().unwrap();
        let verified = current
            .column("status")
            .unwrap()
            .u8()
            .unwrap()
            .into_iter()
            .filter(|s| *s == Some(Status::Verified as u8))
            .count() as u64;
        assert_eq!(verified, snapshot.seq.saturating_sub(1), "round {round}");
        last_acked = snapshot.seq;
    }
    assert!(last_acked >= rounds, "each round appended at least once");
}
