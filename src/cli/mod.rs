//! The `pantau` command line: parses arguments, loads settings, runs a command, and turns any error
//! into one line on stderr and an exit code (0 ok, 1 failure, 2 invalid configuration or usage).
mod access;
mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{ConfigError, Overrides, Settings};
use crate::loadgen::LoadgenArgs;
use crate::startup::offline::Offline;
use crate::startup::{self, Application};
use crate::telemetry;
use crate::telemetry::LogFormat;
use access::{audit_verify, token, user, AuditCommand, TokenCommand, UserCommand};
use store::{store, StoreCommand};

/// Pantau — the backend of a smart-city command centre.
///
/// Pulls citizen complaints, budget execution and service levels into a store and pushes live
/// figures and maps over WebSockets to wall screens, tablets and analysts.
#[derive(Debug, Parser)]
#[command(name = "pantau", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Configuration file (TOML); see pantau.example.toml for every key.
    #[arg(long, global = true, value_name = "FILE", env = "PANTAU_CONFIG")]
    config: Option<PathBuf>,

    /// Directory for the SQLite database and the store's files [default: ./data].
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Log lines as readable text or as JSON objects [default: text].
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the embedded demo: SQLite, a local data dir and the simulator over the real kelurahan
    /// of Kota Pasuruan; no other service needed. Open http://127.0.0.1:8080/ afterwards.
    Demo(RunArgs),
    /// Run in production from a configuration file (sources as configured, simulator off unless enabled).
    Serve(RunArgs),
    /// Validate the configuration, the files it names and every dashboard; prints
    /// `file: key: reason` and `file:line:col: reason` lines and exits 2 on any problem, 0 when
    /// all is valid.
    Check(CheckArgs),
    /// Open many real WebSocket clients against a running server and report messages/s delivered,
    /// commit-to-client latency and server memory per connection (see docs/performance.md).
    Loadgen(LoadgenArgs),
    /// Backfill files (CSV, NDJSON, JSON, Parquet, XLSX) through a mapping into the data dir, with
    /// progress on stderr and a summary at the end. Needs the data dir free (no server running on it).
    Import(ImportArgs),
    /// Retry a source's quarantined records with its current mapping (after fixing the mapping).
    /// Needs the data dir free (no server running on it).
    Reprocess(ReprocessArgs),
    /// Write a dataset's rows (current, or as of a time; filtered) to a file in one of the export
    /// formats (`--format`), with progress on stderr. Reads the data dir (no server may run on
    /// it), or downloads from a running server with --url.
    Export(ExportArgs),
    /// Access tokens for screens, people and programs: `create`, `list`, `revoke`. Works beside
    /// a running server (it sees the change within access.token_refresh_secs).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Local accounts of people who log in at /login/: `add`, `list`, `disable`,
    /// `reset-password`. Works beside a running server.
    #[command(subcommand)]
    User(UserCommand),
    /// The audit log: `verify` walks its hash chain and names the first entry removed or changed.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The store's files: `repair` keeps every intact batch of a damaged log. Needs the data dir
    /// free (no server running on it).
    #[command(subcommand)]
    Store(StoreCommand),
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// complaints, budget_lines or service_events.
    dataset: String,
    /// The file to write (written as FILE.partial, renamed when complete).
    #[arg(long, short, value_name = "FILE")]
    output: PathBuf,
    /// The file's format [default: the output file's extension].
    #[arg(long, value_name = "FORMAT", help = format_help())]
    format: Option<String>,
    /// The state at this moment: 2026-11-27T08:00:00+07:00, or 2026-11-27T08:00 in the deployment's zone.
    #[arg(long, value_name = "TIME")]
    as_of: Option<String>,
    /// FIELD=VALUE (repeat for one of several), FIELD.min=VALUE, FIELD.max=VALUE or FIELD.window=WINDOW.
    #[arg(long = "filter", value_name = "FIELD[.TEST]=VALUE")]
    filters: Vec<String>,
    /// Only these columns, in this order (comma-separated).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Write at most this many rows.
    #[arg(long)]
    limit: Option<u64>,
    /// Download from this running server (http://HOST:PORT) instead of reading the data dir.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The token to download with (role analyst or admin); read from PANTAU_TOKEN when unset.
    #[arg(long, env = "PANTAU_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// `--format`'s help: every export format, from the one list of them.
fn format_help() -> String {
    format!(
        "{} [default: the output file's extension]",
        crate::export::Format::names().join(", ")
    )
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// Print the JSON Schema of dashboard files (for editors) instead of checking.
    #[arg(long)]
    dashboard_schema: bool,
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// The mapping file (see examples/mappings/).
    #[arg(long, value_name = "FILE")]
    mapping: PathBuf,
    /// Source id the rows carry [default: the mapping file's name without extension].
    #[arg(long, value_name = "ID")]
    source: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Files to import.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ReprocessArgs {
    /// Id of a configured source.
    source: String,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Address and port to serve on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
}

/// Entry point of the `pantau` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let listen = match &cli.command {
        // The load generator is a client: it reads no server settings.
        Command::Loadgen(args) => return loadgen(args),
        Command::Demo(args) | Command::Serve(args) => args.listen,
        Command::Check(args) if args.dashboard_schema => {
            let schema = crate::dashboards::json_schema();
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            );
            return ExitCode::SUCCESS;
        }
        Command::Check(_)
        | Command::Import(_)
        | Command::Reprocess(_)
        | Command::Export(_)
        | Command::Token(_)
        | Command::User(_)
        | Command::Audit(_)
        | Command::Store(_) => None,
    };
    let overrides = Overrides {
        config: cli.config.clone(),
        data_dir: cli.data_dir.clone(),
        listen,
        log_format: cli.log_format,
        simulator: matches!(cli.command, Command::Demo(_)).then_some(true),
        demo: matches!(cli.command, Command::Demo(_)),
    };
    if matches!(cli.command, Command::Serve(_)) && overrides.config.is_none() {
        eprintln!("pantau serve: needs --config FILE (start from pantau.example.toml), or use `pantau demo`");
        return ExitCode::from(2);
    }
    let settings = match Settings::load(&overrides) {
        Ok(settings) => settings,
        Err(e) => return config_failure(&e),
    };
    match &cli.command {
        Command::Check(_) => check(&settings),
        Command::Import(args) => offline(&settings, "import", |o| import(o, &settings, args)),
        Command::Reprocess(args) => offline(&settings, "reprocess", |o| {
            let settings = &settings;
            async move { reprocess(o, settings, args).await }
        }),
        Command::Export(args) => export(&settings, args),
        Command::Token(command) => token(&settings, command),
        Command::User(command) => user(&settings, command),
        Command::Audit(AuditCommand::Verify) => audit_verify(&settings),
        Command::Store(command) => store(&settings, command),
        Command::Demo(_) => run(settings, true),
        _ => run(settings, false),
    }
}

async fn reprocess(o: Offline, settings: &Settings, args: &ReprocessArgs) -> anyhow::Result<()> {
    let summary = o.reprocess(settings, &args.source).await?;
    println!(
        "{}: retried {}, stored {}, still quarantined {}",
        args.source, summary.retried, summary.stored, summary.still_quarantined
    );
    Ok(())
}

/// What the demo is open to, before its log begins.
fn demo_banner(settings: &Settings) {
    let listen = settings.server.listen;
    if listen.ip().is_loopback() {
        tracing::warn!(
            %listen,
            "Demo: open to anyone on this machine without a token (loopback only); on any other \
             address it asks for tokens."
        );
    } else {
        tracing::warn!(
            %listen,
            "Demo on an address other machines reach: every request needs a token; make one with \
             `pantau token create NAME --role admin`."
        );
    }
}

/// Runs a command on the data dir without serving it.
fn offline<Job: std::future::Future<Output = anyhow::Result<()>>>(
    settings: &Settings,
    name: &str,
    job: impl FnOnce(Offline) -> Job,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pantau {name}: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let opened = Offline::open(settings).await?;
        job(opened).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pantau {name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn import(opened: Offline, settings: &Settings, args: &ImportArgs) -> anyhow::Result<()> {
    let source = match &args.source {
        Some(s) => s.clone(),
        None => args
            .mapping
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "import".to_owned()),
    };
    let started = std::time::Instant::now();
    let mut current = String::new();
    let mut progress = |file: &str, read: u64| {
        if current != file {
            if !current.is_empty() {
                eprintln!();
            }
            current = file.to_owned();
        }
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        eprint!(
            "\r{file}: {read} records ({:.0} records/s)   ",
            read as f64 / secs
        );
    };
    let summary = opened
        .import(settings, &args.mapping, &source, &args.paths, &mut progress)
        .await?;
    eprintln!();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{source}: read {}: {} new, {} new versions, {} unchanged, {} quarantined{}; outside every region {} ({:.1} s, {:.0} records/s)",
        summary.read,
        summary.new_keys,
        summary.new_versions,
        summary.unchanged,
        summary.quarantined,
        if summary.merged > 0 {
            format!(", {} merged (keep = \"{}\")", summary.merged, summary.keep)
        } else {
            String::new()
        },
        summary.outside,
        secs,
        summary.read as f64 / secs.max(1e-3)
    );
    if summary.collisions_quarantined > 0 {
        println!(
            "  {} record(s) share a key and a version stamp with another but differ (key collisions): quarantined with both payloads; see /api/sources/{source}/quarantine, or set keep = \"first\" | \"last\" | \"sum\" in the mapping",
            summary.collisions_quarantined
        );
    }
    for (reason, count) in &summary.reasons {
        println!("  quarantined {count:>7}  {reason}");
    }
    for (file, reason) in &summary.failed_files {
        println!("  file refused  {file}: {reason}");
    }
    if !summary.failed_files.is_empty() {
        anyhow::bail!("{} file(s) could not be read", summary.failed_files.len());
    }
    Ok(())
}

/// What `pantau export` was asked for, checked as the server checks the same request: the dataset
/// and the export query its arguments make.
struct ExportPlan {
    dataset: crate::domain::Dataset,
    query: crate::export::ExportQuery,
}

fn export_plan(settings: &Settings, args: &ExportArgs) -> anyhow::Result<ExportPlan> {
    use crate::export::{ExportQuery, Format};
    let dataset = crate::export::find_dataset(&args.dataset)?;
    let format = match (
        &args.format,
        args.output.extension().and_then(|e| e.to_str()),
    ) {
        (Some(name), _) => name.clone(),
        (None, Some(ext)) => Format::parse(ext)
            .map_err(|_| {
                anyhow::anyhow!(
                    "cannot tell the format from '.{ext}': give --format {}",
                    Format::names().join("|")
                )
            })?
            .extension()
            .to_owned(),
        (None, None) => Format::Csv.extension().to_owned(),
    };
    let mut pairs = vec![("format".to_owned(), format)];
    if let Some(at) = &args.as_of {
        pairs.push(("as_of".to_owned(), at.clone()));
    }
    if let Some(columns) = &args.columns {
        pairs.push(("columns".to_owned(), columns.join(",")));
    }
    if let Some(limit) = args.limit {
        pairs.push(("limit".to_owned(), limit.to_string()));
    }
    for f in &args.filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--filter {f}: use FIELD=VALUE or FIELD.min=VALUE"))?;
        pairs.push((format!("filter.{k}"), v.to_owned()));
    }
    let query = ExportQuery::parse(
        &pairs,
        crate::export::query::DATASET_PARAMS,
        Some(dataset),
        settings.deployment.tz(),
    )?;
    Ok(ExportPlan { dataset, query })
}

fn export(settings: &Settings, args: &ExportArgs) -> ExitCode {
    let plan = match export_plan(settings, args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("pantau export: {e:#}");
            return ExitCode::from(2);
        }
    };
    let started = std::time::Instant::now();
    let mut progress = |done: u64, total: u64| {
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        eprint!(
            "\r{}: {done} of {total} rows ({:.0} rows/s)   ",
            args.dataset,
            done as f64 / secs
        );
    };
    let done = |rows: u64| {
        eprintln!();
        println!(
            "{}: {rows} rows to {} ({:.1} s)",
            args.dataset,
            args.output.display(),
            started.elapsed().as_secs_f64()
        );
    };
    if let Some(url) = &args.url {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                eprintln!("pantau export: cannot start the async runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        return match runtime.block_on(download(url, &plan, args)) {
            Ok(rows) => {
                done(rows);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("pantau export: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    offline(settings, "export", |o| async move {
        let request = crate::export::DatasetRequest {
            dataset: plan.dataset,
            filters: crate::export::check_filters(plan.dataset, &plan.query.filters)?,
            columns: plan.query.columns.clone(),
            as_of: plan.query.as_of,
            limit: plan.query.limit,
            time_zone: settings.deployment.tz(),
            to_date: false,
        };
        let rows = o
            .export(
                settings,
                request,
                plan.query.format(),
                &args.output,
                &mut progress,
            )
            .await?;
        done(rows);
        Ok(())
    })
}

/// `pantau export --url`: the same export from a running server, streamed to the file.
async fn download(url: &str, plan: &ExportPlan, args: &ExportArgs) -> anyhow::Result<u64> {
    use std::io::Write;
    let query = plan.query.to_pairs();
    let endpoint = format!(
        "{}/api/datasets/{}/export",
        url.trim_end_matches('/'),
        plan.dataset.name()
    );
    let mut request = reqwest::Client::new().get(&endpoint).query(&query);
    if let Some(token) = &args.token {
        request = request.bearer_auth(token);
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{endpoint}: {e}"))?;
    if !response.status().is_success() {
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("no reason given");
        anyhow::bail!("{endpoint}: {status}: {message}");
    }
    let total: u64 = response
        .headers()
        .get("x-pantau-rows")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let partial = args
        .output
        .with_extension(format!("{}.partial", plan.query.format().extension()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&partial)?);
    let started = std::time::Instant::now();
    let mut bytes = 0u64;
    let result: anyhow::Result<()> = async {
        while let Some(chunk) = response.chunk().await? {
            file.write_all(&chunk)?;
            bytes += chunk.len() as u64;
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            eprint!(
                "\r{}: {:.1} MB of {total} rows ({:.1} MB/s)   ",
                plan.dataset.name(),
                bytes as f64 / 1e6,
                bytes as f64 / 1e6 / secs
            );
        }
        file.flush()?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            std::fs::rename(&partial, &args.output)?;
            Ok(total)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e.context("the download broke off; nothing was written"))
        }
    }
}

fn loadgen(args: &LoadgenArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pantau loadgen: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(crate::loadgen::run(args)) {
        Ok(report) if args.json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pantau loadgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn config_failure(error: &ConfigError) -> ExitCode {
    for issue in &error.issues {
        eprintln!("{issue}");
    }
    ExitCode::from(2)
}

fn check(settings: &Settings) -> ExitCode {
    match startup::check(settings) {
        Ok(()) => {
            println!("{}: configuration is valid", settings.origin_label());
            let dir = settings.dashboards.resolved_dir();
            let rules = startup::dashboard_rules(settings, &settings.server.resolved_static_dir());
            let n = crate::dashboards::Catalog::open(&dir, rules)
                .dashboards()
                .len();
            println!("{}: {n} dashboard(s) valid", dir.display());
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for problem in problems {
                eprintln!("{problem}");
            }
            ExitCode::from(2)
        }
    }
}

fn run(settings: Settings, demo: bool) -> ExitCode {
    telemetry::init_logging(&settings.log);
    if demo {
        demo_banner(&settings);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pantau: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let app = Application::build(settings).await?;
        app.run_until_stopped(shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "Pantau stopped with an error.");
            eprintln!("pantau: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
