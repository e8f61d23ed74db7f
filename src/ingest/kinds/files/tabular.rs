//! Typed tabular files read whole: Parquet (through polars) and XLSX workbooks (through calamine).
//! Both give a header and typed rows; spreadsheet dates are local wall-clock times, so they are
//! handed on as text and read in the mapping's zone.

use std::path::Path;

use calamine::{open_workbook_auto, Data, Reader};
use chrono::{DateTime, Utc};
use polars::prelude::{AnyValue, ParquetReader, SerReader};

use crate::ingest::mapping::{Owned, TypedRow};

/// Header and rows of a Parquet file. Run off the async runtime (polars uses its own threads).
pub fn parquet_rows(path: &Path) -> Result<(Vec<String>, Vec<TypedRow>), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let frame = ParquetReader::new(file)
        .finish()
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let header: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let columns = frame.get_columns();
    let mut rows = Vec::with_capacity(frame.height());
    for i in 0..frame.height() {
        let mut row = Vec::with_capacity(columns.len());
        for column in columns {
            let value = column.get(i).map_err(|e| e.to_string())?;
            row.push(any_value(value));
        }
        rows.push(row);
    }
    Ok((header, rows))
}

fn any_value(value: AnyValue<'_>) -> Option<Owned> {
    Some(match value {
        AnyValue::Null => return None,
        AnyValue::Boolean(b) => Owned::Bool(b),
        AnyValue::String(s) => Owned::Text(s.to_owned()),
        AnyValue::StringOwned(s) => Owned::Text(s.to_string()),
        AnyValue::Int8(v) => Owned::Int(v.into()),
        AnyValue::Int16(v) => Owned::Int(v.into()),
        AnyValue::Int32(v) => Owned::Int(v.into()),
        AnyValue::Int64(v) => Owned::Int(v),
        AnyValue::UInt8(v) => Owned::Int(v.into()),
        AnyValue::UInt16(v) => Owned::Int(v.into()),
        AnyValue::UInt32(v) => Owned::Int(v.into()),
        AnyValue::UInt64(v) => match i64::try_from(v) {
            Ok(v) => Owned::Int(v),
            Err(_) => Owned::Text(v.to_string()),
        },
        AnyValue::Float32(v) => Owned::Float(v.into()),
        AnyValue::Float64(v) => Owned::Float(v),
        other => Owned::Text(other.to_string()),
    })
}

/// Header and rows of a workbook's sheet (`sheet`, else the first), after `skip` title rows.
pub fn xlsx_rows(
    path: &Path,
    sheet: Option<&str>,
    skip: usize,
) -> Result<(Vec<String>, Vec<TypedRow>), String> {
    let mut workbook =
        open_workbook_auto(path).map_err(|e| format!("not a readable workbook: {e}"))?;
    let names = workbook.sheet_names();
    let name = match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(s))
            .cloned()
            .ok_or_else(|| format!("no sheet '{s}' (sheets: {})", names.join(", ")))?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| "the workbook has no sheets".to_owned())?,
    };
    let range = workbook
        .worksheet_range(&name)
        .map_err(|e| format!("sheet '{name}': {e}"))?;
    let mut lines = range.rows().skip(skip);
    let header: Vec<String> = lines
        .next()
        .ok_or_else(|| format!("sheet '{name}' has no header row"))?
        .iter()
        .map(|c| c.to_string().trim().to_owned())
        .collect();
    let rows = lines
        .filter(|cells| cells.iter().any(|c| *c != Data::Empty))
        .map(|cells| cells.iter().map(cell).collect())
        .collect();
    Ok((header, rows))
}

fn cell(data: &Data) -> Option<Owned> {
    Some(match data {
        Data::Empty => return None,
        Data::Int(i) => Owned::Int(*i),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Owned::Int(*f as i64),
        Data::Float(f) => Owned::Float(*f),
        Data::Bool(b) => Owned::Bool(*b),
        Data::String(s) if s.trim().is_empty() => return None,
        Data::String(s) => Owned::Text(s.clone()),
        Data::DateTime(excel) => match excel.as_datetime() {
            Some(local) => Owned::Text(local.format("%Y-%m-%d %H:%M:%S").to_string()),
            None => Owned::Text(data.to_string()),
        },
        Data::DateTimeIso(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(at) => Owned::Time(at.with_timezone(&Utc)),
            Err(_) => Owned::Text(s.clone()),
        },
        Data::DurationIso(s) => Owned::Text(s.clone()),
        Data::Error(e) => Owned::Text(format!("#ERROR {e:?}")),
    })
}
