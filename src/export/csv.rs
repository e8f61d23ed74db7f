//! CSV (RFC 4180): UTF-8, a header line, `\r\n` line ends; times in the export's zone with their
//! offset (`2026-11-27T21:50:03+07:00`), Rupiah as plain decimals (`1234567.89`), coordinates with
//! six decimals, booleans as `true`/`false`, a missing value as an empty field.

use std::io::Write;

use super::{
    float_text, write_coord, write_i64, write_money, Block, ColType, Column, ExportError, Meta,
    Sink, Values,
};
use crate::domain::LocalClock;

/// Bytes gathered before they are written out.
const FLUSH_BYTES: usize = 256 * 1024;

pub(super) struct CsvSink<'w> {
    types: Vec<ColType>,
    clock: LocalClock,
    buf: Vec<u8>,
    out: Box<dyn Write + Send + 'w>,
}

impl<'w> CsvSink<'w> {
    pub(super) fn new(
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

impl Sink for CsvSink<'_> {
    fn block(&mut self, block: &Block<'_>) -> Result<(), ExportError> {
        for row in 0..block.rows {
            for (i, (values, ty)) in block.columns.iter().zip(&self.types).enumerate() {
                if i > 0 {
                    self.buf.push(b',');
                }
                match values {
                    Values::Text(v) => {
                        if let Some(s) = v[row] {
                            text(s, &mut self.buf);
                        }
                    }
                    Values::Float(v) => {
                        if let Some(s) = v[row].and_then(float_text) {
                            self.buf.extend_from_slice(s.as_bytes());
                        }
                    }
                    Values::Int(v) => {
                        if let Some(n) = v[row] {
                            match ty {
                                ColType::Time => self.clock.write(n, &mut self.buf),
                                ColType::Money => write_money(n, &mut self.buf),
                                ColType::Coord => write_coord(n, &mut self.buf),
                                ColType::Bool => self.buf.extend_from_slice(if n != 0 {
                                    b"true"
                                } else {
                                    b"false"
                                }),
                                _ => write_i64(n, &mut self.buf),
                            }
                        }
                    }
                }
            }
            self.buf.extend_from_slice(b"\r\n");
            if self.buf.len() >= FLUSH_BYTES {
                self.out.write_all(&self.buf)?;
                self.buf.clear();
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        Ok(())
    }
}
