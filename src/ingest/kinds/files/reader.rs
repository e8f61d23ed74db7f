//! Reading a file of records in chunks of mapped rows: CSV (any encoding and delimiter), NDJSON,
//! a JSON document, Parquet and XLSX. CSV and NDJSON are streamed, so memory stays bounded by the
//! chunk size whatever the file's size; JSON documents, Parquet files and workbooks are read whole
//! (they are not streamable formats) and then handed out in chunks.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::ingest::mapping::{lookup, Bound, FileKeys, Holding, Layout, Mapping, Rows, TypedRow};
use crate::ingest::SourceError;

/// Bytes looked at to tell a text file from a binary one.
const SNIFF_BYTES: usize = 8192;

/// File formats a drop folder and `pantau import` read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma- (or otherwise) separated values with a header line.
    Csv,
    /// One JSON object per line.
    Ndjson,
    /// A JSON document: an array of objects, or an object holding one at the mapping's `records` path.
    Json,
    /// Apache Parquet.
    Parquet,
    /// An Excel workbook.
    Xlsx,
}

impl Format {
    /// The format a file name's extension says, if known.
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" | "tsv" | "txt" => Format::Csv,
            "ndjson" | "jsonl" => Format::Ndjson,
            "json" => Format::Json,
            "parquet" => Format::Parquet,
            "xlsx" | "xlsm" => Format::Xlsx,
            _ => return None,
        })
    }
}

enum Inner {
    Csv {
        reader: csv::Reader<Box<dyn Read + Send>>,
        record: csv::ByteRecord,
        width: usize,
    },
    Ndjson {
        lines: std::io::Lines<BufReader<File>>,
        line: u64,
    },
    Json(std::vec::IntoIter<Value>),
    Typed(std::vec::IntoIter<TypedRow>),
}

/// An open file, handing out mapped rows chunk by chunk.
pub struct FileReader {
    path: PathBuf,
    inner: Inner,
    bound: Arc<Bound>,
    /// Records read so far (mapped or refused).
    pub records_read: u64,
    /// Settles each batch before it is handed out, unless a caller settles them elsewhere.
    settling: Option<Settling>,
    /// The buffers the last chunk held its records in, for the next chunk.
    spare: Holding,
}

/// Settles a file's batches in order: the budget hierarchy, then key collisions within each
/// batch and against the file's earlier batches (already stored), which it remembers.
pub struct Settling {
    bound: Arc<Bound>,
    seen: FileKeys,
}

impl Settling {
    /// Settles the next batch of the file.
    pub fn settle(&mut self, rows: &mut Rows) {
        self.bound.finish_chunk(rows, &mut self.seen);
    }
}

impl FileReader {
    /// Opens `path` as `format` and binds the mapping to its header. A file that cannot be read as
    /// the format at all (binary content, no header, a header without the mapped columns) is refused
    /// here with the reason, before any row is mapped.
    pub fn open(
        path: &Path,
        format: Format,
        mapping: &Arc<Mapping>,
    ) -> Result<FileReader, SourceError> {
        let target = path.display().to_string();
        let malformed = |reason: String| SourceError::Malformed {
            target: target.clone(),
            reason,
        };
        let io = |e: std::io::Error| SourceError::Io {
            path: target.clone(),
            reason: e.to_string(),
        };
        let mut file = File::open(path).map_err(io)?;
        if matches!(format, Format::Csv | Format::Ndjson | Format::Json) {
            let mut head = vec![0; SNIFF_BYTES];
            let n = read_up_to(&mut file, &mut head).map_err(io)?;
            let utf16 = mapping
                .spec
                .csv
                .encoding
                .to_ascii_lowercase()
                .starts_with("utf-16");
            if !utf16 && head[..n].contains(&0) {
                return Err(malformed(
                    "this is not a text file (it holds NUL bytes); expected CSV or JSON".to_owned(),
                ));
            }
            file = File::open(path).map_err(io)?;
        }
        let (inner, bound) = match format {
            Format::Csv => {
                let options = &mapping.spec.csv;
                let encoding = encoding_rs::Encoding::for_label(options.encoding.as_bytes())
                    .unwrap_or(encoding_rs::UTF_8);
                let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
                    .encoding(Some(encoding))
                    .bom_override(true)
                    .build(file);
                let mut buffered = BufReader::new(decoded);
                for _ in 0..options.skip_lines {
                    let mut skipped = Vec::new();
                    buffered.read_until(b'\n', &mut skipped).map_err(io)?;
                }
                let source: Box<dyn Read + Send> = Box::new(buffered);
                let mut reader = csv::ReaderBuilder::new()
                    .delimiter(options.delimiter as u8)
                    .flexible(true)
                    .from_reader(source);
                let header: Vec<String> = reader
                    .headers()
                    .map_err(|e| malformed(format!("cannot read the CSV header: {e}")))?
                    .iter()
                    .map(str::to_owned)
                    .collect();
                if header.iter().all(|h| h.trim().is_empty()) {
                    return Err(malformed(
                        "the file is empty or has no CSV header".to_owned(),
                    ));
                }
                let bound = mapping
                    .bind(Layout::Header(&header))
                    .map_err(|e| malformed(e.problems.join("; ")))?;
                let width = header.len();
                (
                    Inner::Csv {
                        reader,
                        record: csv::ByteRecord::new(),
                        width,
                    },
                    bound,
                )
            }
            Format::Ndjson => (
                Inner::Ndjson {
                    lines: BufReader::new(file).lines(),
                    line: 0,
                },
                mapping
                    .bind(Layout::Json)
                    .map_err(|e| malformed(e.to_string()))?,
            ),
            Format::Json => {
                let document: Value = serde_json::from_reader(BufReader::new(file))
                    .map_err(|e| malformed(format!("not valid JSON: {e}")))?;
                let records =
                    records_at(&document, mapping.spec.records.as_deref()).map_err(malformed)?;
                (
                    Inner::Json(records.into_iter()),
                    mapping
                        .bind(Layout::Json)
                        .map_err(|e| malformed(e.to_string()))?,
                )
            }
            Format::Parquet => {
                let (header, rows) = super::tabular::parquet_rows(path).map_err(malformed)?;
                let bound = mapping
                    .bind(Layout::Header(&header))
                    .map_err(|e| malformed(e.problems.join("; ")))?;
                (Inner::Typed(rows.into_iter()), bound)
            }
            Format::Xlsx => {
                let (header, rows) = super::tabular::xlsx_rows(
                    path,
                    mapping.spec.sheet.as_deref(),
                    mapping.spec.csv.skip_lines,
                )
                .map_err(malformed)?;
                let bound = mapping
                    .bind(Layout::Header(&header))
                    .map_err(|e| malformed(e.problems.join("; ")))?;
                (Inner::Typed(rows.into_iter()), bound)
            }
        };
        let bound = Arc::new(bound);
        Ok(FileReader {
            path: path.to_path_buf(),
            inner,
            settling: Some(Settling {
                bound: bound.clone(),
                seen: FileKeys::default(),
            }),
            bound,
            records_read: 0,
            spare: Holding::default(),
        })
    }

    /// Maps up to `max` more records; `None` at the end of the file. Records that cannot be read
    /// (a ragged CSV line, invalid text, a broken NDJSON line) are refused with their reason.
    pub fn next_chunk(&mut self, source: &str, max: usize) -> Result<Option<Rows>, SourceError> {
        let mut rows = Rows::with_holding(
            self.bound.mapping().dataset(),
            std::mem::take(&mut self.spare),
        );
        let mut taken = 0;
        while taken < max {
            let more = match &mut self.inner {
                Inner::Csv {
                    reader,
                    record,
                    width,
                } => {
                    let more =
                        reader
                            .read_byte_record(record)
                            .map_err(|e| SourceError::Malformed {
                                target: self.path.display().to_string(),
                                reason: format!(
                                    "CSV unreadable after record {}: {e}",
                                    self.records_read
                                ),
                            })?;
                    if more {
                        csv_record(&self.bound, record, *width, source, &mut rows);
                    }
                    more
                }
                // A blank line is no record: it is skipped, not counted as one read (the
                // `json_records` fuzz target found records read that went nowhere).
                Inner::Ndjson { lines, line } => loop {
                    let Some(text) = lines.next() else {
                        break false;
                    };
                    *line += 1;
                    let text = text.map_err(|e| SourceError::Io {
                        path: self.path.display().to_string(),
                        reason: e.to_string(),
                    })?;
                    if text.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Value>(&text) {
                        Ok(value) => self.bound.collect(&value, source, &mut rows),
                        Err(e) => rows.refused.push((
                            Value::String(text.chars().take(4096).collect()),
                            format!("line {line}: not valid JSON: {e}"),
                        )),
                    }
                    break true;
                },
                Inner::Json(records) => match records.next() {
                    None => false,
                    Some(value) => {
                        self.bound.collect(&value, source, &mut rows);
                        true
                    }
                },
                Inner::Typed(records) => match records.next() {
                    None => false,
                    Some(row) => {
                        self.bound.collect(&row, source, &mut rows);
                        true
                    }
                },
            };
            if !more {
                break;
            }
            taken += 1;
            self.records_read += 1;
        }
        if taken == 0 {
            return Ok(None);
        }
        Ok(Some(rows))
    }

    /// Skips `n` records (resuming a file after a restart). They are read and mapped but not
    /// kept: resuming is rare, and one code path reads every format.
    pub fn skip(&mut self, n: u64) -> Result<(), SourceError> {
        let mut left = n;
        while left > 0 {
            let before = self.records_read;
            let Some(mut rows) = self.next_chunk("", left.min(10_000) as usize)? else {
                break;
            };
            // Remember their keys: a later record colliding with one of them collides with a
            // stored record.
            if let Some(settling) = &mut self.settling {
                settling.settle(&mut rows);
            }
            self.spare = rows.take_holding();
            left = left.saturating_sub(self.records_read - before);
        }
        Ok(())
    }

    /// The next batch to append: the next `max` records, or — when the mapping needs the whole
    /// report (budget hierarchy) — every remaining record, with the hierarchy applied. `None` at
    /// the end of the file.
    /// Key collisions are settled within the batch and against the file's earlier batches,
    /// unless [`settle_elsewhere`](Self::settle_elsewhere) took the settling.
    pub fn next_batch(&mut self, source: &str, max: usize) -> Result<Option<Rows>, SourceError> {
        let mut all: Option<Rows> = None;
        while let Some(rows) = self.next_chunk(source, max)? {
            match &mut all {
                None => all = Some(rows),
                Some(all) => all.extend(rows),
            }
            if !self.needs_whole_file() {
                break;
            }
        }
        if let (Some(all), Some(settling)) = (&mut all, &mut self.settling) {
            settling.settle(all);
            self.spare = all.take_holding();
        }
        Ok(all)
    }

    /// Takes the settling of this file's batches, for a caller that settles each batch
    /// [`next_batch`](Self::next_batch) hands out itself, in order (an import does so on the
    /// thread that appends, while this one reads on).
    pub fn settle_elsewhere(&mut self) -> Option<Settling> {
        self.settling.take()
    }

    /// Buffers a settled batch held its records in, to hold the next batch's.
    pub fn reuse(&mut self, holding: Holding) {
        self.spare = holding;
    }

    /// True when the mapping needs the whole file before rows can be validated (budget hierarchy).
    pub fn needs_whole_file(&self) -> bool {
        self.bound.mapping().spec.hierarchy.is_some()
    }
}

/// Maps one CSV record, refusing ragged lines and invalid text with a reason.
fn csv_record(
    bound: &Bound,
    record: &csv::ByteRecord,
    width: usize,
    source: &str,
    rows: &mut Rows,
) {
    let line = record.position().map_or(0, |p| p.line());
    let lossy = || {
        Value::Array(
            record
                .iter()
                .map(|f| Value::String(String::from_utf8_lossy(f).into_owned()))
                .collect(),
        )
    };
    if record.len() != width {
        rows.refused.push((
            lossy(),
            format!(
                "line {line}: has {} fields, the header has {width}",
                record.len()
            ),
        ));
        return;
    }
    match csv::StringRecord::from_byte_record(record.clone()) {
        Ok(text) => bound.collect(&text, source, rows),
        Err(_) => rows.refused.push((
            lossy(),
            format!("line {line}: not valid UTF-8 (set csv.encoding in the mapping)"),
        )),
    }
}

/// The records of a JSON document: the document itself when it is an array, else the array at `path`.
pub fn records_at(document: &Value, path: Option<&str>) -> Result<Vec<Value>, String> {
    let at = match path {
        None | Some("") => document,
        Some(p) => lookup(document, p).ok_or_else(|| format!("no '{p}' in the document"))?,
    };
    match at {
        Value::Array(items) => Ok(items.clone()),
        _ => Err(match path {
            Some(p) => format!("'{p}' is not an array of records"),
            None => "the document is not an array of records (set `records` to where they are)"
                .to_owned(),
        }),
    }
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
