//! XLSX: typed cells — times as Excel date-times in the export's zone, Rupiah as numbers formatted
//! `Rp #,##0.00`, coordinates as numbers, booleans as booleans — a bold frozen header with a
//! filter, and an `info` sheet with the export's facts.
//!
//! Worksheets are written in the writer's constant-memory mode (rows go to a temp file as they
//! come), the workbook is assembled in a temp file, then copied out: memory stays flat for
//! millions of rows. A sheet holds at most 1,048,576 rows, so longer exports continue on
//! `name (2)`, `name (3)`, …

use std::io::Write;

use rust_xlsxwriter::{Format as CellFormat, Workbook, Worksheet, XlsxError};

use crate::domain::table::{ColType, Column};
use super::super::{Block, ExportError, Meta, Rows, Values};
use super::{write_blocks, Sink, Writer};
use crate::domain::LocalClock;

/// Data rows per sheet below the header (Excel's limit is 1,048,576 rows in all).
const SHEET_ROWS: u32 = 1_048_575;
/// Excel's longest cell text.
const CELL_CHARS: usize = 32_767;
/// Days from Excel's epoch (1899-12-30) to 1970-01-01.
const EXCEL_UNIX_DAYS: f64 = 25_569.0;

fn encode(e: XlsxError) -> ExportError {
    ExportError::Encode(e.to_string())
}

struct XlsxSink<'w> {
    workbook: Workbook,
    columns: Vec<Column>,
    meta: Meta,
    clock: LocalClock,
    header: CellFormat,
    time: CellFormat,
    money: CellFormat,
    coord: CellFormat,
    /// Index of the sheet being written and the next row on it.
    sheet: usize,
    row: u32,
    sheets: usize,
    truncated: u64,
    out: Box<dyn Write + Send + 'w>,
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(title: &str, part: usize) -> String {
    let base: String = title
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '-' } else { c })
        .take(24)
        .collect();
    let base = if base.trim().is_empty() {
        "data".to_owned()
    } else {
        base
    };
    if part == 1 {
        base
    } else {
        format!("{base} ({part})")
    }
}

impl<'w> XlsxSink<'w> {
    fn new(
        columns: &[Column],
        meta: &Meta,
        out: Box<dyn Write + Send + 'w>,
    ) -> Result<XlsxSink<'w>, ExportError> {
        std::fs::create_dir_all(&meta.tmp_dir)?;
        let mut workbook = Workbook::new();
        workbook.set_tempdir(&meta.tmp_dir).map_err(encode)?;
        let mut sink = XlsxSink {
            workbook,
            columns: columns.to_vec(),
            meta: meta.clone(),
            clock: LocalClock::new(meta.time_zone),
            header: CellFormat::new().set_bold(),
            time: CellFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            money: CellFormat::new().set_num_format("\"Rp\" #,##0.00"),
            coord: CellFormat::new().set_num_format("0.000000"),
            sheet: 0,
            row: 0,
            sheets: 0,
            truncated: 0,
            out,
        };
        sink.new_sheet()?;
        Ok(sink)
    }

    /// Starts the next data sheet with its header.
    fn new_sheet(&mut self) -> Result<(), ExportError> {
        self.sheets += 1;
        let name = sheet_name(&self.meta.title, self.sheets);
        let sheet = self
            .workbook
            .add_worksheet_with_constant_memory()
            .map_err(encode)?;
        sheet.set_name(name).map_err(encode)?;
        for (i, c) in self.columns.iter().enumerate() {
            let col = i as u16;
            sheet
                .write_string_with_format(0, col, &c.name, &self.header)
                .map_err(encode)?;
            let width = match c.ty {
                ColType::Time => 19.0,
                ColType::Money => 18.0,
                ColType::Text => 16.0,
                _ => 12.0,
            };
            sheet.set_column_width(col, width).map_err(encode)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(encode)?;
        if !self.columns.is_empty() {
            sheet
                .autofilter(0, 0, 0, self.columns.len() as u16 - 1)
                .map_err(encode)?;
        }
        self.sheet = self.sheets - 1;
        self.row = 1;
        Ok(())
    }

    /// The `info` sheet: the export's facts and its columns.
    fn info_sheet(&mut self) -> Result<(), ExportError> {
        let sheet: &mut Worksheet = self.workbook.add_worksheet();
        sheet.set_name("info").map_err(encode)?;
        sheet.set_column_width(0, 22.0).map_err(encode)?;
        sheet.set_column_width(1, 60.0).map_err(encode)?;
        let mut row = 0u32;
        let mut line = |sheet: &mut Worksheet, key: &str, value: &str| -> Result<(), ExportError> {
            sheet.write_string(row, 0, key).map_err(encode)?;
            sheet.write_string(row, 1, value).map_err(encode)?;
            row += 1;
            Ok(())
        };
        line(sheet, "export", &self.meta.title)?;
        for (key, value) in &self.meta.info {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            line(sheet, key, &text)?;
        }
        if self.truncated > 0 {
            line(
                sheet,
                "truncated_cells",
                &format!(
                    "{} text cells were longer than Excel's {CELL_CHARS} characters and were cut; use CSV or Parquet for the full text",
                    self.truncated
                ),
            )?;
        }
        line(sheet, "", "")?;
        for c in &self.columns {
            let note = if c.ty == ColType::Time {
                format!("{} ({})", c.ty.name(), self.meta.time_zone.name())
            } else {
                c.ty.name().to_owned()
            };
            line(sheet, &c.name, &note)?;
        }
        Ok(())
    }
}

impl Sink for XlsxSink<'_> {
    fn block(&mut self, block: &Block<'_>) -> Result<(), ExportError> {
        for r in 0..block.rows {
            if self.row > SHEET_ROWS {
                self.new_sheet()?;
            }
            let row = self.row;
            let sheet = self
                .workbook
                .worksheet_from_index(self.sheet)
                .map_err(encode)?;
            for (i, values) in block.columns.iter().enumerate() {
                let col = i as u16;
                match values {
                    Values::Text(v) => {
                        if let Some(s) = v[r].as_deref() {
                            let s = if s.chars().count() > CELL_CHARS {
                                self.truncated += 1;
                                let end = s
                                    .char_indices()
                                    .nth(CELL_CHARS)
                                    .map_or(s.len(), |(at, _)| at);
                                &s[..end]
                            } else {
                                s
                            };
                            sheet.write_string(row, col, s).map_err(encode)?;
                        }
                    }
                    Values::Float(v) => {
                        if let Some(x) = v[r].filter(|x| x.is_finite()) {
                            sheet.write_number(row, col, x).map_err(encode)?;
                        }
                    }
                    Values::Int(v) => {
                        let Some(n) = v[r] else { continue };
                        match self.columns[i].ty {
                            ColType::Time => {
                                let days =
                                    self.clock.local_seconds(n) as f64 / 86_400.0 + EXCEL_UNIX_DAYS;
                                sheet
                                    .write_number_with_format(row, col, days, &self.time)
                                    .map_err(encode)?;
                            }
                            ColType::Money => {
                                sheet
                                    .write_number_with_format(
                                        row,
                                        col,
                                        n as f64 / 100.0,
                                        &self.money,
                                    )
                                    .map_err(encode)?;
                            }
                            ColType::Coord => {
                                sheet
                                    .write_number_with_format(row, col, n as f64 / 1e6, &self.coord)
                                    .map_err(encode)?;
                            }
                            ColType::Bool => {
                                sheet.write_boolean(row, col, n != 0).map_err(encode)?;
                            }
                            _ => {
                                sheet.write_number(row, col, n as f64).map_err(encode)?;
                            }
                        }
                    }
                }
            }
            self.row += 1;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        self.info_sheet()?;
        let file = tempfile::NamedTempFile::new_in(&self.meta.tmp_dir)?;
        self.workbook.save(file.path()).map_err(encode)?;
        let mut assembled = std::fs::File::open(file.path())?;
        std::io::copy(&mut assembled, &mut self.out)?;
        self.out.flush()?;
        Ok(())
    }
}

/// XLSX.
pub(super) struct Xlsx;

impl Writer for Xlsx {
    fn name(&self) -> &'static str {
        "xlsx"
    }

    fn content_type(&self) -> &'static str {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    }

    fn description(&self) -> &'static str {
        "An Excel workbook with typed cells (dates as dates, Rupiah as numbers)"
    }

    fn write(
        &self,
        rows: &dyn Rows,
        meta: &Meta,
        out: Box<dyn Write + Send + '_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, ExportError> {
        let sink = XlsxSink::new(rows.columns(), meta, out)?;
        write_blocks(rows, self.block_rows(), Box::new(sink), progress)
    }
}
