//! `pantau store repair`: keeps every intact batch of a damaged store log and says what is lost.

use std::process::ExitCode;

use crate::config::Settings;
use crate::startup::offline;

/// `pantau store …`
#[derive(Debug, clap::Subcommand)]
pub(super) enum StoreCommand {
    /// Rewrite the store log with its intact batches only, after a start refused because of
    /// damage in it. The damaged segments are kept beside the new ones (`.damaged-<time>`) and
    /// every lost entry is listed. Needs the data dir free (no server running on it).
    Repair,
}

pub(super) fn store(settings: &Settings, command: &StoreCommand) -> ExitCode {
    match command {
        StoreCommand::Repair => repair(settings),
    }
}

fn repair(settings: &Settings) -> ExitCode {
    let report = match offline::repair_store(settings) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("pantau store repair: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if report.dropped.is_empty() {
        println!(
            "The store log is intact: {} batches in {} segment(s); nothing changed.",
            report.kept, report.segments
        );
        return ExitCode::SUCCESS;
    }
    println!(
        "Kept {} intact batches in {} segment(s); set aside {} damaged range(s):",
        report.kept,
        report.segments,
        report.dropped.len()
    );
    for d in &report.dropped {
        let lost = match d.lost() {
            Some((first, Some(last))) if first == last => format!("entry {first} lost"),
            Some((first, Some(last))) => format!("entries {first} to {last} lost"),
            Some((first, None)) => format!("what it held from entry {first} on is lost"),
            None => "no entry lost".to_owned(),
        };
        println!(
            "  {} at byte {}: {} bytes ({}); {lost}; the original is kept as {}",
            d.segment, d.offset, d.bytes, d.reason, d.original
        );
    }
    println!(
        "Rows of lost entries return only if their sources deliver them again: a source whose \
         cursor moved past them must be re-imported (`pantau import`) for that period."
    );
    ExitCode::SUCCESS
}
