//! Integration tests: the real server on port 0, a real SQLite file, the real PostgreSQL of the
//! machine, a real WebSocket client, Debian's Chromium and the real `pantau` binary.
//!
//! One binary with its own harness ([`harness`]): a test that needs a service missing here is
//! reported as ignored, not passed (with `CI=true` it runs and fails).

mod access;
mod accounts;
mod browser;
mod cli;
mod dashboards;
mod datasets;
mod db;
mod exports;
mod fuzz;
mod geo;
mod hardening;
mod harness;
mod health;
mod helpers;
mod ingest;
mod live;
mod live_access;
mod map_views;
mod rooms;
mod sources;
mod store_crash;

fn main() -> std::process::ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let services = harness::Services::probe();
    let trials = [
        access::trials(&services),
        accounts::trials(&services),
        browser::trials(&services),
        cli::trials(&services),
        dashboards::trials(&services),
        datasets::trials(&services),
        db::trials(&services),
        exports::trials(&services),
        fuzz::trials(&services),
        geo::trials(&services),
        hardening::trials(&services),
        health::trials(&services),
        ingest::trials(&services),
        live::trials(&services),
        live_access::trials(&services),
        map_views::trials(&services),
        rooms::trials(&services),
        sources::trials(&services),
        store_crash::trials(&services),
    ]
    .into_iter()
    .flatten()
    .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
