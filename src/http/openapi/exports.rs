//! The exports' and snapshots' part of the OpenAPI description; formats and content types come
//! from the one list of them (`export::Format::ALL`).

use serde_json::{json, Value};

use super::error_response;
use crate::export::Format;

/// Exports and snapshots (docs/exports.md).
pub(super) fn export_paths() -> Value {
    let format = json!({"name": "format", "in": "query", "schema": {"enum": Format::names(), "default": "csv"}});
    let as_of = json!({"name": "as_of", "in": "query", "schema": {"type": "string"},
        "description": "The state at this moment: RFC 3339 with an offset, or a local date-time in the deployment's zone", "example": "2026-11-27T08:00:00+07:00"});
    let limit =
        json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}});
    let snapshot = json!({"name": "snapshot", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-z-]{1,48}$"}, "example": "20261127-020304-3fa9c2"});
    let content: serde_json::Map<String, Value> = Format::ALL
        .iter()
        .map(|f| {
            let schema = match f.content_type() {
                t if t.starts_with("text/") => json!({"type": "string"}),
                t if t.ends_with("json") => json!({"type": "object"}),
                _ => json!({"type": "string", "format": "binary"}),
            };
            (
                f.content_type()
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                json!({"schema": schema}),
            )
        })
        .collect();
    let file = json!({
        "description": "The file, streamed (X-Pantau-Rows: rows it holds; X-Pantau-Seq: store commit read)",
        "content": content});
    let record = json!({"type": "object", "properties": {
        "id": {"type": "string"}, "kind": {"enum": ["dashboard", "dataset"]}, "target": {"type": "string"},
        "request": {"type": "object"}, "as_of": {"type": "string", "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"}, "created_by": {"type": "string"},
        "description": {"type": "string"}, "store_seq": {"type": "integer"}, "rows": {"type": "integer"},
        "bytes": {"type": "integer"}, "sha256": {"type": "string"}, "time_zone": {"type": "string"},
        "url": {"type": "string"}, "view": {"type": "string"}}});
    let filter = json!({"type": "object", "required": ["field"], "properties": {
        "field": {"type": "string", "maxLength": 200}, "equals": {}, "in": {"type": "array", "maxItems": 500},
        "min": {}, "max": {}, "window": {"type": "string", "maxLength": 200}}, "additionalProperties": false});
    json!({
        "/api/datasets/{name}/export": {"get": {
            "summary": "A dataset's rows (current or as of a time), filtered, in CSV, XLSX, Parquet, GeoJSON or JSON",
            "description": "Filters: filter.FIELD=VALUE (repeat for one of several), filter.FIELD.min=, filter.FIELD.max=, filter.FIELD.window=",
            "parameters": [
                {"name": "name", "in": "path", "required": true, "schema": {"enum": ["complaints", "budget_lines", "service_events"]}, "example": "complaints"},
                format, as_of, limit,
                {"name": "columns", "in": "query", "schema": {"type": "string"}, "example": "source_id,status,created_at"}],
            "responses": {"200": file, "400": error_response("unknown_format, invalid_parameter, as_of_out_of_range, no_geometry, too_many_rows"),
                "404": error_response("not_found"), "429": error_response("too_many_exports")}
        }},
        "/api/dashboards/{dashboard}/panels/{panel}/export": {"get": {
            "summary": "A panel's values as a table (scope=result), or the rows behind them (scope=rows)",
            "parameters": [
                {"name": "dashboard", "in": "path", "required": true, "schema": {"type": "string"}, "example": "kota-pasuruan-wall"},
                {"name": "panel", "in": "path", "required": true, "schema": {"type": "string"}, "example": "open"},
                format, as_of, limit, {"name": "scope", "in": "query", "schema": {"enum": ["result", "rows"], "default": "result"}}],
            "responses": {"200": file, "400": error_response("invalid_parameter, no_geometry, …"),
                "404": error_response("not_found"), "429": error_response("too_many_exports"), "503": error_response("not_ready")}
        }},
        "/api/snapshots": {
            "get": {
                "summary": "Snapshots, newest first",
                "parameters": [{"name": "before", "in": "query", "schema": {"type": "string"}}, {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}}],
                "responses": {"200": {"description": "A page of snapshots", "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "snapshots": {"type": "array", "items": record}, "next_before": {"type": ["string", "null"]}}}}}},
                    "400": error_response("invalid_parameter")}
            },
            "post": {
                "summary": "Freeze a dashboard (every panel) or a dataset query, now or as of a time",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "dashboard": {"type": "string"}, "dataset": {"type": "string"}, "filter": {"type": "array", "items": filter, "maxItems": 32},
                    "columns": {"type": "array", "items": {"type": "string"}, "maxItems": 64}, "as_of": {"type": "string"},
                    "description": {"type": "string", "maxLength": 2000}, "created_by": {"type": "string", "maxLength": 200}}}}}},
                "responses": {"201": {"description": "Taken (Location: its URL)", "content": {"application/json": {"schema": record}}},
                    "400": error_response("invalid_parameter, as_of_out_of_range, too_many_rows"), "404": error_response("not_found"),
                    "413": error_response("body_too_large: more than 256 KiB"),
                    "429": error_response("too_many_exports, snapshot_rate_limited, snapshot_quota_exceeded")}
            }
        },
        "/api/snapshots/{snapshot}": {"get": {
            "summary": "A snapshot's record; a dashboard snapshot also has every frozen panel value and table",
            "parameters": [snapshot],
            "responses": {"200": {"description": "Snapshot", "content": {"application/json": {"schema": record}}}, "404": error_response("not_found")}
        }},
        "/api/snapshots/{snapshot}/export": {"get": {
            "summary": "A snapshot's data in any format (panel= for dashboard snapshots)",
            "parameters": [snapshot, format, limit, {"name": "panel", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": file, "400": error_response("invalid_parameter, no_geometry"), "404": error_response("not_found"), "429": error_response("too_many_exports")}
        }}
    })
}
