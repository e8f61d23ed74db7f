//! The `pantau` binary as an administrator meets it: `check`, bad input, SIGTERM and restart.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::helpers::{eventually, eventually_blocking, Ws};

crate::tests! {
    sync check_lists_every_problem_as_file_key_reason_and_exits_2,
    sync check_accepts_the_shipped_example_and_environment_errors_name_the_variable,
    sync serve_without_a_config_file_says_so,
    sync a_port_in_use_and_an_unusable_data_dir_are_one_clear_line_each,
    sync an_unreachable_database_fails_the_start_with_its_redacted_url,
    async sigterm_stops_the_demo_with_exit_0_and_a_restart_keeps_its_data,
    sync json_log_lines_are_one_object_each,
    sync every_command_explains_itself,
    sync check_loads_the_configured_boundaries_and_names_a_bad_feature,
    async sigkill_in_the_middle_of_a_file_loses_nothing_and_duplicates_nothing,
    sync check_names_each_bad_source_with_its_key_and_reason,
}

/// The real `pantau` binary, run from the repository, without the test's `PANTAU…` variables.
pub(crate) fn pantau() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pantau"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    // The test process's own PANTAU__ variables must not leak into the child.
    for (key, _) in std::env::vars() {
        if key.starts_with("PANTAU") {
            command.env_remove(key);
        }
    }
    command
}

fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .expect("cannot run pantau")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn check_lists_every_problem_as_file_key_reason_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(
        file,
        "[server]\nlisten = \"127.0.0.1:99999\"\nshutdown_timeout_secs = 10\n[simulatr]\nenabled = true"
    )
    .unwrap();
    let output = run(pantau().args(["check", "--config"]).arg(&path));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    let file = path.display().to_string();
    // Both problems at once: a wrong value does not hide an unknown key.
    assert!(
        text.contains(&format!("{file}: server.listen: invalid socket address")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{file}: simulatr: unknown key")),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(!text.contains("panicked"), "{text}");

    std::fs::write(&path, "[server]\nlisten = \"not an address\"\n").unwrap();
    let output = run(pantau().args(["check", "--config"]).arg(&path));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with(&format!("{file}: server.listen: invalid socket address")),
        "{}",
        stderr(&output)
    );

    std::fs::write(&path, "[server\n").unwrap();
    let output = run(pantau().args(["check", "--config"]).arg(&path));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with(&format!("{file}:1:")),
        "{}",
        stderr(&output)
    );

    let output = run(pantau().args(["check", "--config", "/nonexistent/pantau.toml"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("/nonexistent/pantau.toml: -: cannot read the file"),
        "{}",
        stderr(&output)
    );
}

fn check_accepts_the_shipped_example_and_environment_errors_name_the_variable() {
    let output = run(pantau().args(["check", "--config", "pantau.example.toml"]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("configuration is valid"));

    let output = run(pantau()
        .args(["check", "--config", "pantau.example.toml"])
        .env("PANTAU__SERVER__SHUTDOWN_TIMEOUT_SECS", "forever"));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with(
            "PANTAU__SERVER__SHUTDOWN_TIMEOUT_SECS: server.shutdown_timeout_secs: invalid type"
        ),
        "{}",
        stderr(&output)
    );
}

fn serve_without_a_config_file_says_so() {
    let output = run(pantau().arg("serve"));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("needs --config FILE"),
        "{}",
        stderr(&output)
    );
}

/// Runs `pantau demo ARGS` on a port that is already taken; returns its output and the port.
fn demo_on_a_busy_port(args: &[&str], data: &std::path::Path) -> (Output, u16) {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let output = run(pantau()
        .arg("demo")
        .args(args)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data));
    (output, port)
}

fn a_port_in_use_and_an_unusable_data_dir_are_one_clear_line_each() {
    let data = tempfile::tempdir().unwrap();
    let (output, port) = demo_on_a_busy_port(&[], data.path());
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("pantau: cannot listen on 127.0.0.1:{port}: ")),
        "{text}"
    );
    assert!(
        !text.contains("panicked") && !text.contains("backtrace"),
        "{text}"
    );

    let file = data.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let output = run(pantau()
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(file.join("sub")));
    assert_eq!(output.status.code(), Some(1));
    let last = stderr(&output)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    assert!(
        last.starts_with(&format!(
            "pantau: data dir {}: cannot create",
            file.join("sub").display()
        )),
        "{last}"
    );
}

fn an_unreachable_database_fails_the_start_with_its_redacted_url() {
    let data = tempfile::tempdir().unwrap();
    let output = run(pantau()
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env(
            "PANTAU__DATABASE__URL",
            "postgres://pantau:hunter2@127.0.0.1:1/pantau",
        )
        .env("PANTAU__DATABASE__CONNECT_TIMEOUT_SECS", "1"));
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains("pantau: database postgres://pantau:***@127.0.0.1:1/pantau: cannot connect"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "the password leaked: {text}");
}

/// Waits (bounded) until the demo answers /readyz.
pub(crate) async fn wait_ready(port: u16, child: &mut Child) {
    let client = reqwest::Client::new();
    eventually("pantau ready", Duration::from_secs(30), || {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("pantau exited early with {status}");
        }
        let ready = client.get(format!("http://127.0.0.1:{port}/readyz")).send();
        async move { ready.await.ok().filter(|r| r.status() == 200).map(drop) }
    })
    .await
}

/// The complaints total the demo shows right now, read as a wall screen reads it.
async fn live_total(port: u16) -> u64 {
    let (stream, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws"))
        .await
        .expect("WebSocket connect failed");
    let mut ws = Ws { stream };
    ws.next_of("hello").await;
    ws.subscribe("dashboards/overview/total", None).await;
    ws.next_of("snapshot").await["data"]["value"]
        .as_u64()
        .unwrap()
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let exited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eventually_blocking("pantau exits after SIGTERM", limit, || {
            child.try_wait().unwrap()
        })
    }));
    exited.unwrap_or_else(|panic| {
        let _ = child.kill();
        std::panic::resume_unwind(panic)
    })
}

async fn sigterm_stops_the_demo_with_exit_0_and_a_restart_keeps_its_data() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let start = || {
        pantau()
            .args([
                "demo",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data.path())
            .env("PANTAU__SIMULATOR__INTERVAL_MS", "50")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start pantau")
    };
    let mut child = start();
    wait_ready(port, &mut child).await;
    let before = eventually(
        "the simulator files complaints",
        Duration::from_secs(5),
        || async { Some(live_total(port).await).filter(|n| *n > 0) },
    )
    .await;
    sigterm(&child);
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");

    let mut child = start();
    wait_ready(port, &mut child).await;
    let after = live_total(port).await;
    assert!(after >= before, "restart lost data: {after} < {before}");
    sigterm(&child);
    assert_eq!(
        wait_exit(&mut child, Duration::from_secs(10)).code(),
        Some(0)
    );
}

fn json_log_lines_are_one_object_each() {
    let data = tempfile::tempdir().unwrap();
    let (output, _) = demo_on_a_busy_port(&["--log-format", "json"], data.path());
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    let (logs, last) = text
        .trim_end()
        .rsplit_once('\n')
        .expect("log lines before the error");
    assert!(last.starts_with("pantau: cannot listen"), "{last}");
    let mut messages = Vec::new();
    for line in logs.lines() {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            entry["timestamp"].is_string() && entry["level"].is_string(),
            "{line}"
        );
        messages.push(entry["message"].as_str().unwrap_or_default().to_owned());
    }
    assert!(
        messages.iter().any(|m| m == "Store opened."),
        "{messages:?}"
    );
}

fn every_command_explains_itself() {
    for args in [
        vec!["--help"],
        vec!["demo", "--help"],
        vec!["serve", "--help"],
        vec!["check", "--help"],
        vec!["loadgen", "--help"],
        vec!["store", "repair", "--help"],
    ] {
        let output = run(pantau().args(&args));
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("Usage: pantau"), "{args:?}: {text}");
        if args.len() == 2 {
            assert!(
                text.contains("--data-dir") && text.contains("--config"),
                "{args:?}: {text}"
            );
        }
    }
}

fn check_loads_the_configured_boundaries_and_names_a_bad_feature() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[simulator]\nboundaries = \"static/geo/kab_gresik_desa_kelurahan.geojson\"\n",
    )
    .unwrap();
    let output = run(pantau().args(["check", "--config"]).arg(&good));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let geojson = dir.path().join("bad.geojson");
    std::fs::write(
        &geojson,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"kode":"35.75.01.1001"},"geometry":{"type":"Point","coordinates":[112.9,-7.6]}}]}"#,
    )
    .unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "[simulator]\nboundaries = {:?}\n",
            geojson.display().to_string()
        ),
    )
    .unwrap();
    let output = run(pantau().args(["check", "--config"]).arg(&bad));
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.contains("simulator.boundaries:")
            && text
                .contains("feature 0 (35.75.01.1001): geometry is not a Polygon or MultiPolygon"),
        "{text}"
    );
}

/// Rows of a dataset as `/api/datasets` reports them.
async fn dataset_rows(port: u16, name: &str) -> u64 {
    let body: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/api/datasets"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .and_then(|d| d["rows"].as_u64())
        .unwrap_or(0)
}

async fn sigkill_in_the_middle_of_a_file_loses_nothing_and_duplicates_nothing() {
    // 20 copies of the real LA 2018 export (request numbers made unique per copy): a file large
    // enough to be killed in the middle of, read in many chunks.
    let copies = 20;
    let dir = tempfile::tempdir().unwrap();
    let drop = dir.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/complaints/la311_2018-12_mini.csv"),
    )
    .unwrap();
    let mut lines = source.lines();
    let mut big = format!("{}\n", lines.next().unwrap());
    let body: Vec<&str> = lines.collect();
    for copy in 0..copies {
        for line in &body {
            big.push_str(&line.replacen("1-", &format!("{copy}-"), 1));
            big.push('\n');
        }
    }
    let total = (body.len() * copies) as u64;
    let file = drop.join("la_big.csv");
    std::fs::write(&file, big).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    let port = free_port();
    let config = dir.path().join("pantau.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[access]\nanonymous = \"admin\"\nallow_anonymous_rows = true\n\n[[sources]]\nid = \"drop\"\ntype = \"files\"\ninterval_secs = 0.2\ndir = \"{}\"\nchunk_rows = 2000\nmapping = \"{}\"\n",
            drop.display(),
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/mappings/la311.toml")
                .display()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let serve = || {
        pantau()
            .args(["serve", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut child = serve();
    wait_ready(port, &mut child).await;
    let rows = eventually(
        "part of the file is imported",
        Duration::from_secs(60),
        || async { Some(dataset_rows(port, "complaints").await).filter(|n| *n > 0) },
    )
    .await;
    assert!(
        rows < total,
        "the whole file went in before the kill; make it larger"
    );
    child.kill().unwrap(); // SIGKILL, part-way through the file
    child.wait().unwrap();

    let mut child = serve();
    wait_ready(port, &mut child).await;
    eventually(
        "the file is finished after the restart",
        Duration::from_secs(120),
        || async { drop.join("done/la_big.csv").is_file().then_some(()) },
    )
    .await;
    let stored = dataset_rows(port, "complaints").await;
    let mut quarantined = 0u64;
    let mut after = 0i64;
    loop {
        let page: serde_json::Value = reqwest::get(format!(
            "http://127.0.0.1:{port}/api/sources/drop/quarantine?limit=1000&after={after}"
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let records = page["records"].as_array().unwrap();
        quarantined += records.len() as u64;
        match page["next_after"].as_i64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert!(
        quarantined > 0,
        "the real file has rows that must be quarantined"
    );
    assert_eq!(quarantined % copies as u64, 0, "each copy's bad rows once");
    assert_eq!(
        stored + quarantined,
        total,
        "every record stored or quarantined exactly once"
    );
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(15)).success());
}

fn check_names_each_bad_source_with_its_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sources.toml");
    std::fs::write(
        &path,
        r#"
[[sources]]
id = "lapor"
type = "http_json"
url = "https://lapor.example/api?since={cursor}"
auth_header = "Authorization"
auth_env = "PANTAU_TEST_UNSET_TOKEN"
[sources.mapping]
dataset = "complaints"
[sources.mapping.fields]
source_id = "id"
category = "kategori"
opd = "instansi"
status = { column = "status", vocabulary = "lapor" }
created_at = "dibuat"

[[sources]]
id = "simda"
type = "sql"
url = "postgres://pantau@127.0.0.1/simda"
query = "aduan"
cursor_column = "diubah"
mapping = "missing.toml"

[[sources]]
id = "sipd"
type = "files"
dir = "drop"
[sources.mapping]
dataset = "budget_lines"
[sources.mapping.fields]
fiscal_year = "tahun"
"#,
    )
    .unwrap();
    let output = run(pantau().args(["check", "--config"]).arg(&path));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    let file = path.display().to_string();
    for expected in [
        format!("{file}: sources.lapor: auth_env: environment variable PANTAU_TEST_UNSET_TOKEN is not set"),
        format!("{file}: sources.simda: {}: cannot read", dir.path().join("missing.toml").display()),
        format!("{file}: sources.sipd: mapping: fields.account_code: required, but not mapped"),
    ] {
        assert!(text.contains(&expected), "missing '{expected}' in:\n{text}");
    }
    assert!(!dir.path().join("drop").exists(), "check creates nothing");

    // A misspelt key of a source kind is named with the keys it allows.
    std::fs::write(
        &path,
        "[[sources]]\nid = \"la\"\ntype = \"open311\"\nbase_url = \"http://x\"\nwindow_dayz = 3\n",
    )
    .unwrap();
    let output = run(pantau().args(["check", "--config"]).arg(&path));
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.contains("unknown field `window_dayz`") && text.contains("`window_days`"),
        "{text}"
    );
}
