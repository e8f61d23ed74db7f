//! CSV (RFC 4180): UTF-8, a header line, `\r\n` line ends; times in the export's zone with their
//! offset (`2026-11-27T21:50:03+07:00`), Rupiah as plain decimals (`1234567.89`), coordinates with
//! six decimals, booleans as `true`/`false`, a missing value as an empty field.

use std::io::Write;

use crate::domain::table::{ColType, Column};
use super::super::{float_text, write_coord, write_i64, write_money, Block, ExportError, Meta, Rows, Values};
use super::{write_blocks, Sink, Writer};
use crate::domain::LocalClock;

/// Bytes gathered before they are written out.
const FLUSH_BYTES: usize = 256 * 1024;

struct CsvSink<'w> {
    types: Vec<ColType>,
    clock: LocalClock,
    buf: Vec<u8>,
    /// The second half of a block, encoded on the other core.
    spare: Vec<u8>,
    out: Box<dyn Write + Send + 'w>,
}

impl<'w> CsvSink<'w> {
    fn new(
        columns: &[Column],
        meta: &Meta,
        out: Box<dyn Write + Send + 'w>,
    ) -> Result<CsvSink<'w>, ExportError> {
        let mut buf = Vec::with_capacity(FLUSH_BYTES + 64 * 1024);
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            text(&c.name, &mut buf);
        }
        buf.extend_from_slice(b"\r\n");
        Ok(CsvSink {
            types: columns.iter().map(|c| c.ty).collect(),
            clock: LocalClock::new(meta.time_zone),
            buf,
            spare: Vec::new(),
            out,
        })
    }
}

/// A text field, quoted when it holds a separator, a quote or a line break.
fn text(s: &str, out: &mut Vec<u8>) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// Appends rows `rows` of `block` as CSV lines.
fn encode(
    types: &[ColType],
    clock: &mut LocalClock,
    block: &Block<'_>,
    rows: std::ops::Range<usize>,
    out: &mut Vec<u8>,
) {
    for row in rows {
        for (i, (values, ty)) in block.columns.iter().zip(types).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match values {
                Values::Text(v) => {
                    if let Some(s) = &v[row] {
                        text(s, out);
                    }
                }
                Values::Float(v) => {
                    if let Some(s) = v[row].and_then(float_text) {
                        out.extend_from_slice(s.as_bytes());
                    }
                }
                Values::Int(v) => {
                    if let Some(n) = v[row] {
                        match ty {
                            ColType::Time => clock.write(n, out),
                            ColType::Money => write_money(n, out),
                            ColType::Coord => write_coord(n, out),
                            ColType::Bool => {
                                out.extend_from_slice(if n != 0 { b"true" } else { b"false" })
                            }
                            _ => write_i64(n, out),
                        }
                    }
                }
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Blocks from this many rows are encoded on two threads, each half into its own buffer.
const SPLIT_ROWS: usize = 4_096;

impl Sink for CsvSink<'_> {
    fn block(&mut self, block: &Block<'_>) -> Result<(), ExportError> {
        if block.rows < SPLIT_ROWS {
            encode(
                &self.types,
                &mut self.clock,
                block,
                0..block.rows,
                &mut self.buf,
            );
        } else {
            let mid = block.rows / 2;
            let mut clock = self.clock.clone();
            let (types, spare) = (&self.types, &mut self.spare);
            spare.clear();
            std::thread::scope(|scope| {
                let second = scope.spawn(move || {
                    encode(types, &mut clock, block, mid..block.rows, spare);
                });
                encode(types, &mut self.clock, block, 0..mid, &mut self.buf);
                second
                    .join()
                    .map_err(|_| ExportError::Encode("CSV encoder thread failed".into()))
            })?;
            self.buf.extend_from_slice(&self.spare);
        }
        if self.buf.len() >= FLUSH_BYTES {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        Ok(())
    }
}

/// CSV.
pub(super) struct Csv;

impl Writer for Csv {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn content_type(&self) -> &'static str {
        "text/csv; charset=utf-8"
    }

    fn description(&self) -> &'static str {
        "Comma-separated values, UTF-8, a header line, times with their offset"
    }

    fn write(
        &self,
        rows: &dyn Rows,
        meta: &Meta,
        out: Box<dyn Write + Send + '_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, ExportError> {
        let sink = CsvSink::new(rows.columns(), meta, out)?;
        write_blocks(rows, self.block_rows(), Box::new(sink), progress)
    }
}
