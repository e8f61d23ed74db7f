//! Fuzz entry points: one function per reader of input from outside the process. The cargo-fuzz
//! targets in `fuzz/fuzz_targets/` call these, and `tests/it/fuzz.rs` replays the committed seed
//! corpora and every crash ever found through them. Each must not panic on any bytes and asserts
//! the promise its reader makes (a refusal says why; what is read reads back the same). Like
//! `startup`, nothing in the product imports this room; the store's and the live room's private
//! readers have their own `fuzz` modules, re-exported here. The config room's own target
//! (`config::fuzz`) stays there: only `startup` and `cli` use the settings.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use chrono::SecondsFormat;

use crate::domain::{parse_instant, NumberStyle, Rupiah, DEFAULT_TIME_ZONE};
use crate::export::query::DATASET_PARAMS;
use crate::export::ExportQuery;
use crate::ingest::kinds::files::{FileReader, Format};
use crate::ingest::mapping::{Mapping, MappingSpec};

pub use crate::live::fuzz::ws_session;
pub use crate::store::fuzz::{checkpoint_part, log_entry, log_segment};

/// A fuzz target: takes any bytes, panics only when its reader breaks a promise.
pub type Target = fn(&[u8]);

/// Every fuzz target by name, for the replay test and `fuzz/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("rupiah_text", rupiah_text),
    ("time_text", time_text),
    ("export_query", export_query),
    ("dashboard_toml", dashboard_toml),
    ("csv_file", csv_file),
    ("json_records", json_records),
    ("ws_session", ws_session),
    ("log_segment", log_segment),
    ("log_entry", log_entry),
    ("checkpoint_part", checkpoint_part),
];

/// Rupiah text in each number style: an amount read is shown (`Rp 1.234,50`) as text that reads
/// back as the same amount, in the Indonesian style and by guessing.
pub fn rupiah_text(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for style in [
        NumberStyle::Auto,
        NumberStyle::Indonesian,
        NumberStyle::English,
    ] {
        let Ok(amount) = Rupiah::parse(&text, style) else {
            continue;
        };
        let shown = amount.to_string();
        for back in [NumberStyle::Indonesian, NumberStyle::Auto] {
            assert_eq!(
                Rupiah::parse(&shown, back).ok(),
                Some(amount),
                "{text:?} read as {shown}, which does not read back ({back:?})"
            );
        }
    }
}

/// A time as a person or a URL gives it: what is read is an instant that, written in WIB, reads
/// back as the same instant (to the second).
pub fn time_text(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let Ok(at) = parse_instant(&text, DEFAULT_TIME_ZONE) else {
        return;
    };
    let shown = crate::domain::format_local(at, DEFAULT_TIME_ZONE);
    let back = parse_instant(&shown, DEFAULT_TIME_ZONE)
        .unwrap_or_else(|e| panic!("{text:?} read as {shown}, which does not read back: {e}"));
    assert_eq!(
        back.to_rfc3339_opts(SecondsFormat::Secs, true),
        at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "{text:?} read as {shown}, which reads back as another instant"
    );
}

/// A dataset export's query string (`key=value` pairs, one per line, as a URL decodes to): a
/// query accepted is given back as pairs that are accepted again as the same query.
pub fn export_query(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let pairs: Vec<(String, String)> = text
        .lines()
        .take(64)
        .map(|line| match line.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (line.to_owned(), String::new()),
        })
        .collect();
    let dataset = Some(crate::domain::Dataset::Complaints);
    let Ok(query) = ExportQuery::parse(&pairs, DATASET_PARAMS, dataset, DEFAULT_TIME_ZONE) else {
        return;
    };
    let given = query.to_pairs();
    match ExportQuery::parse(&given, DATASET_PARAMS, dataset, DEFAULT_TIME_ZONE) {
        Ok(again) => assert_eq!(again.to_pairs(), given, "a query reads back as another"),
        Err(e) => panic!("the pairs {given:?} of an accepted query are refused: {e}"),
    }
}

/// A dashboard file: it loads, or every problem names a place inside the file (or the whole
/// file) and says what is wrong.
pub fn dashboard_toml(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let rules = crate::dashboards::Rules::zone(DEFAULT_TIME_ZONE);
    let Err(problems) = crate::dashboards::parse(text, Path::new("fuzz.toml"), &rules) else {
        return;
    };
    assert!(!problems.is_empty(), "refused without a problem");
    let lines = text.lines().count().max(1) + 1;
    for p in &problems {
        assert!(!p.message.trim().is_empty(), "a problem without a message");
        assert!(
            p.line <= lines,
            "line {} of a {lines}-line file: {}",
            p.line,
            p.message
        );
        assert_eq!(p.line == 0, p.col == 0, "line {} col {}", p.line, p.col);
    }
}

/// The mappings the file targets read with: LA 311 CSV exports in the encodings, separators and
/// title lines agencies' spreadsheets use; Open311 GeoReport documents.
fn mappings() -> &'static [Arc<Mapping>] {
    static MAPPINGS: OnceLock<Vec<Arc<Mapping>>> = OnceLock::new();
    MAPPINGS.get_or_init(|| {
        let read = |text: &str| -> MappingSpec {
            toml::from_str(text).unwrap_or_else(|e| panic!("example mapping: {e}"))
        };
        let la = read(include_str!("../examples/mappings/la311.toml"));
        let mut variants = vec![la.clone()];
        for (encoding, delimiter, skip_lines) in [
            ("windows-1252", ';', 0),
            ("utf-16le", '\t', 0),
            ("iso-8859-1", '|', 2),
        ] {
            let mut spec = la.clone();
            spec.csv.encoding = encoding.to_owned();
            spec.csv.delimiter = delimiter;
            spec.csv.skip_lines = skip_lines;
            variants.push(spec);
        }
        let mut open311 = read(include_str!("../examples/mappings/open311.toml"));
        variants.push(open311.clone());
        open311.records = Some("requests".to_owned());
        variants.push(open311);
        variants
            .into_iter()
            .map(|spec| {
                Mapping::new(spec, "fuzz", DEFAULT_TIME_ZONE)
                    .map(Arc::new)
                    .unwrap_or_else(|e| panic!("example mapping: {e}"))
            })
            .collect()
    })
}

/// Reads the whole file at `path` in chunks: each record becomes a row or is refused with its
/// reason (or, where the mapping's `keep` says so, merged into another): none is lost. A file
/// refused whole says why. Returns the rows and the refused records.
fn read_all(path: &Path, format: Format, mapping: &Arc<Mapping>) -> (usize, usize) {
    let mut reader = match FileReader::open(path, format, mapping) {
        Ok(reader) => reader,
        Err(e) => {
            assert!(
                !e.to_string().trim().is_empty(),
                "a file refused without a reason"
            );
            return (0, 0);
        }
    };
    let (mut rows_read, mut refused, mut accounted) = (0, 0, 0);
    let mut chunks = 0;
    loop {
        match reader.next_batch("fuzz", 64) {
            Ok(Some(rows)) => {
                for (_, reason) in &rows.refused {
                    assert!(
                        !reason.trim().is_empty(),
                        "a record refused without a reason"
                    );
                }
                rows_read += rows.batch.len();
                refused += rows.refused.len();
                accounted += rows.len() as u64;
            }
            Ok(None) => {
                assert_eq!(
                    accounted, reader.records_read,
                    "records read that are neither rows, refusals nor merged"
                );
                break;
            }
            Err(e) => {
                assert!(
                    !e.to_string().trim().is_empty(),
                    "a file refused without a reason"
                );
                break;
            }
        }
        chunks += 1;
        assert!(
            chunks <= 100_000,
            "the reader does not reach the end of the file"
        );
    }
    (rows_read, refused)
}

/// A CSV file read with the first byte's choice of LA 311 mapping (UTF-8 `,`; Windows-1252 `;`;
/// UTF-16LE tab; ISO-8859-1 `|` after two title lines).
pub fn csv_file(bytes: &[u8]) {
    csv_rows(bytes);
}

fn csv_rows(bytes: &[u8]) -> (usize, usize) {
    let Some((&which, body)) = bytes.split_first() else {
        return (0, 0);
    };
    let mapping = &mappings()[usize::from(which % 4)];
    with_file("in.csv", body, |path| read_all(path, Format::Csv, mapping))
}

/// Open311 records as NDJSON (first byte even) or as a GeoReport document, a bare array or an
/// object holding `requests` (odd).
pub fn json_records(bytes: &[u8]) {
    json_rows(bytes);
}

fn json_rows(bytes: &[u8]) -> (usize, usize) {
    let Some((&which, body)) = bytes.split_first() else {
        return (0, 0);
    };
    let all = mappings();
    if which % 2 == 0 {
        with_file("in.ndjson", body, |path| {
            read_all(path, Format::Ndjson, &all[4])
        })
    } else {
        let mapping = &all[4 + usize::from(which % 4 == 3)];
        with_file("in.json", body, |path| {
            read_all(path, Format::Json, mapping)
        })
    }
}

/// Runs `f` on a file named `name` holding `bytes`, in an emptied scratch directory.
fn with_file<T>(name: &str, bytes: &[u8], f: impl FnOnce(&Path) -> T) -> T {
    crate::store::fuzz::in_scratch(|dir| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write scratch file: {e}"));
        f(&path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(path: &str) -> Vec<u8> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
        std::fs::read(root.join(path)).unwrap()
    }

    /// The file targets reach the mapping: real records become rows in every CSV variant.
    #[test]
    fn the_file_targets_map_real_records_to_rows() {
        let csv = shared("complaints/la311_2018-12_mini.csv");
        let head: Vec<u8> = csv
            .split(|b| *b == b'\n')
            .take(11)
            .collect::<Vec<_>>()
            .join(&b'\n');
        let text = String::from_utf8(head).unwrap();
        let mut input = vec![0];
        input.extend_from_slice(text.as_bytes());
        assert_eq!(csv_rows(&input), (10, 0));
        let mut input = vec![1];
        input.extend(text.replace(',', ";").bytes());
        assert_eq!(csv_rows(&input).0, 10, "Windows-1252 with `;`");
        let mut input = vec![2];
        for unit in text.replace(',', "\t").encode_utf16() {
            input.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(csv_rows(&input).0, 10, "UTF-16LE with tabs");
        let doc: serde_json::Value = serde_json::from_slice(&shared(
            "complaints/la311_derived_georeport_v2_requests.json",
        ))
        .unwrap();
        let rows = &doc.as_array().unwrap()[..5];
        let mut input = vec![1];
        input.extend(serde_json::to_vec(rows).unwrap());
        assert_eq!(json_rows(&input), (5, 0), "a GeoReport document");
        let mut input = vec![0];
        for row in rows {
            input.extend(serde_json::to_vec(row).unwrap());
            input.push(b'\n');
        }
        input.extend_from_slice(b"{not json\n");
        assert_eq!(json_rows(&input), (5, 1), "NDJSON with one broken line");
    }
}
