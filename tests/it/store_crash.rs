//! Crash safety of the store: a child process appends batches and prints each acknowledgement;
//! the parent kills it with SIGKILL at random moments, reopens the store and checks that every
//! acknowledged batch is there, exactly once.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use pantau::domain::{Complaint, Status};
use pantau::store::Store;
use rand::Rng;

/// Set in the child: the store directory to append to.
const CHILD_DIR: &str = "PANTAU_CRASH_APPENDER_DIR";
/// Complaints per batch.
const BATCH: u64 = 10;

fn batch(seq: u64) -> Vec<Complaint> {
    let now = Utc::now();
    (0..BATCH)
        .map(|i| Complaint {
            source: "crash".into(),
            source_id: format!("{}", seq * BATCH + i),
            category: "Sampah".into(),
            opd: "DLH".into(),
            status: Status::Received,
            kelurahan: Some("35.75.01.1001".parse().unwrap()),
            lat: Some(-7.64),
            lon: Some(112.9),
            created_at: now,
            updated_at: now,
        })
        .collect()
}

/// The child: appends until killed, printing `ack SEQ` after each durable append.
#[tokio::test]
#[ignore = "run by crash_safety as a child process"]
async fn appender_child() {
    let dir = std::env::var(CHILD_DIR).expect("run by the crash test");
    let store = Store::open(std::path::Path::new(&dir)).await.unwrap();
    loop {
        let next = store.snapshot().seq + 1;
        let commit = store.append_complaints(batch(next)).await.unwrap();
        assert_eq!(commit.seq, next);
        // Printed only after append returned: the batch is fsynced.
        println!("ack {}", commit.seq);
    }
}

#[tokio::test]
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

        let store = Store::open(dir.path()).await.unwrap();
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
        assert_eq!(
            snapshot.complaints.total,
            snapshot.seq * BATCH,
            "round {round}: every durable batch applied exactly once"
        );
        last_acked = snapshot.seq;
    }
    assert!(last_acked >= rounds, "each round appended at least once");
}
