//! `/api/openapi.json`: the OpenAPI 3.1 description of the HTTP surface, for client generators and
//! API testers. Kept beside the routes; a test checks every documented path is served.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

mod access;
mod accounts;
mod exports;

use super::AppState;
use access::{access_components, access_paths, secure};
use exports::export_paths;

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(document()) }))
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut doc = base();
    if let (Some(paths), Value::Object(datasets)) = (doc["paths"].as_object_mut(), dataset_paths())
    {
        paths.extend(datasets);
    }
    if let (Some(paths), Value::Object(boards)) = (doc["paths"].as_object_mut(), dashboard_paths())
    {
        paths.extend(boards);
    }
    if let (Some(paths), Value::Object(exports)) = (doc["paths"].as_object_mut(), export_paths()) {
        paths.extend(exports);
    }
    for more in [access_paths(), accounts::account_paths()] {
        if let (Some(paths), Value::Object(more)) = (doc["paths"].as_object_mut(), more) {
            paths.extend(more);
        }
    }
    let mut added = access_components();
    if let (Some(into), Value::Object(more)) = (
        added["schemas"].as_object_mut(),
        accounts::account_schemas(),
    ) {
        into.extend(more);
    }
    for part in ["schemas", "securitySchemes"] {
        if let (Some(into), Some(from)) = (
            doc["components"]
                .as_object_mut()
                .map(|c| c.entry(part).or_insert_with(|| json!({}))),
            added[part].as_object(),
        ) {
            if let Some(into) = into.as_object_mut() {
                into.extend(from.clone());
            }
        }
    }
    secure(&mut doc);
    doc
}

/// `/api/dashboards` paths.
fn dashboard_paths() -> Value {
    let dashboard = json!({"name": "dashboard", "in": "path", "required": true, "schema": {"type": "string"}, "example": "kota-pasuruan-wall"});
    let text = json!({"type": "object", "properties": {"id": {"type": "string"}, "en": {"type": "string"}}});
    json!({
        "/api/dashboards": {"get": {
            "summary": "The loaded dashboards (valid files), how many files have problems, when a file last changed",
            "responses": {"200": {"description": "Dashboards", "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "dashboards": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "string"}, "title": text, "audience": {"enum": ["wall", "tablet", "board"]},
                        "panels": {"type": "array", "items": {"type": "string"}}}}},
                    "errors": {"type": "integer"},
                    "loaded_at": {"type": ["string", "null"], "format": "date-time"}}}}}}}
        }},
        "/api/dashboards/errors": {"get": {
            "summary": "Problems of dashboard files that do not validate (their previous versions keep serving)",
            "responses": {"200": {"description": "Problems", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"errors": {"type": "array", "items": {"type": "object", "properties": {
                    "file": {"type": "string"}, "line": {"type": "integer"}, "col": {"type": "integer"},
                    "message": {"type": "string"}, "text": {"type": "string", "description": "file:line:col: message"}}}}}}}}}}
        }},
        "/api/dashboards/schema": {"get": {
            "summary": "The JSON Schema of dashboard files (docs/dashboard.schema.json)",
            "responses": {"200": {"description": "JSON Schema", "content": {"application/json": {"schema": {"type": "object"}}}}}
        }},
        "/api/dashboards/{dashboard}": {"get": {
            "summary": "A validated dashboard: layout, staleness thresholds, panels with their queries and live topics",
            "parameters": [dashboard],
            "responses": {"200": {"description": "Dashboard", "content": {"application/json": {"schema": {"type": "object"}}}}, "404": error_response("not_found")}
        }},
        "/api/dashboards/{dashboard}/panels/{panel}": {"get": {
            "summary": "A panel's current value (the same value its live topic carries)",
            "parameters": [dashboard, {"name": "panel", "in": "path", "required": true, "schema": {"type": "string"}, "example": "open"}],
            "responses": {
                "200": {"description": "Panel value", "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "dashboard": {"type": "string"}, "panel": {"type": "string"}, "kind": {"type": "string"}, "title": text,
                    "topic": {"type": "string"}, "seq": {"type": "integer"},
                    "committed_at": {"type": ["string", "null"], "format": "date-time"}, "value": {}}}}}},
                "404": error_response("not_found"),
                "503": error_response("not_ready: not computed yet")
            }
        }}
    })
}

/// `/api/datasets` paths (kept apart: one `json!` of the whole document exceeds macro recursion).
fn dataset_paths() -> Value {
    json!({
            "/api/datasets": {"get": {
                "summary": "Datasets the store holds: current rows, hot versions, last change, hot window",
                "responses": {"200": {"description": "Datasets", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["seq", "datasets"],
                    "properties": {"seq": {"type": "integer"}, "datasets": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "description": {"type": "string"},
                        "rows": {"type": "integer", "description": "keys with a current version"},
                        "versions": {"type": "integer", "description": "versions held in memory"},
                        "updated_at": {"type": ["string", "null"], "format": "date-time"},
                        "hot_since": {"type": ["string", "null"], "format": "date-time"}}}}}}}}}}
            }},
            "/api/datasets/{name}/schema": {"get": {
                "summary": "A dataset's key and typed columns",
                "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"enum": ["complaints", "budget_lines", "service_events"]}, "example": "complaints"}],
                "responses": {
                    "200": {"description": "Schema", "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "name": {"type": "string"}, "key": {"type": "array", "items": {"type": "string"}},
                        "version_column": {"type": "string"}, "append_only": {"type": "boolean"},
                        "fields": {"type": "array", "items": {"type": "object", "properties": {
                            "name": {"type": "string"}, "type": {"enum": ["string", "timestamp", "float", "rupiah", "integer", "boolean"]},
                            "storage": {"type": "string"}, "nullable": {"type": "boolean"}, "key": {"type": "boolean"},
                            "description": {"type": "string"}, "values": {"type": "array", "items": {"type": "string"}}}}}}}}}},
                    "404": error_response("not_found")
                }
            }}
    })
}

fn base() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Pantau",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Backend of a smart-city command centre. Live data flows over the WebSocket at /ws (protocol in docs/protocol.md).",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "paths": {
            "/healthz": {"get": {
                "summary": "Liveness: the process answers",
                "responses": {"200": {"description": "Alive", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}}}}}
            }},
            "/readyz": {"get": {
                "summary": "Readiness: database reachable, store healthy, not shutting down",
                "responses": {
                    "200": {"description": "Ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}},
                    "503": {"description": "Not ready; each failing check has a reason", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}}
                }
            }},
            "/metrics": {"get": {
                "summary": "Prometheus / OpenMetrics text",
                "responses": {"200": {"description": "Metrics", "content": {"application/openmetrics-text": {"schema": {"type": "string"}}}}}
            }},
            "/ws": {"get": {
                "summary": "WebSocket upgrade for live topics (JSON text frames, protocol version 1)",
                "parameters": [{"name": "token", "in": "query", "required": false, "schema": {"type": "string"},
                    "description": "Access token for pages; other clients send Authorization: Bearer"}],
                "responses": {
                    "101": {"description": "Switching protocols"},
                    "400": error_response("upgrade_required: a plain GET, not a WebSocket upgrade"),
                    "401": error_response("token_required or token_invalid"),
                    "403": error_response("origin_not_allowed"),
                    "429": error_response("too_many_connections")
                }
            }},
            "/api/sources": {"get": {
                "summary": "Each source's state, last success and error, rows and lag",
                "responses": {"200": {"description": "Sources", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["sources"],
                    "properties": {"sources": {"type": "array", "items": {"$ref": "#/components/schemas/Source"}}}}}}}}
            }},
            "/api/sources/{id}/quarantine": {"get": {
                "summary": "A source's quarantined records (raw payload and every reason), oldest first",
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "example": "simulator"},
                    {"name": "after", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0}},
                    {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
                ],
                "responses": {
                    "200": {"description": "A page", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["source", "records"],
                        "properties": {
                            "source": {"type": "string"},
                            "next_after": {"type": ["integer", "null"]},
                            "records": {"type": "array", "items": {"type": "object",
                                "required": ["id", "reason", "payload", "first_seen", "last_seen"],
                                "properties": {"id": {"type": "integer"}, "reason": {"type": "string"}, "payload": {},
                                    "first_seen": {"type": "string", "format": "date-time"},
                                    "last_seen": {"type": "string", "format": "date-time"}}}}}}}}},
                    "400": error_response("invalid_parameter"),
                    "404": error_response("not_found")
                }
            }},
            "/api/screens": {"get": {
                "summary": "Named wall screens and whether each is alive, stale or gone",
                "responses": {"200": {"description": "Screens", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["screens"],
                    "properties": {"screens": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "state": {"enum": ["alive", "stale", "gone"]},
                        "page": {"type": "string"}, "address": {"type": "string"}, "connected": {"type": "boolean"},
                        "last_report": {"type": "string", "format": "date-time"},
                        "data_age_s": {"type": ["number", "null"]}, "stale": {"type": "boolean"},
                        "connections": {"type": "integer"}}}}}}}}}}
            }},
            "/api/geo": {"get": {
                "summary": "Boundary sets available for maps",
                "responses": {"200": {"description": "Sets", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"sets": {"type": "array", "items": {"type": "object",
                        "properties": {"name": {"type": "string"}, "url": {"type": "string"}}}},
                        "tiles": {"type": ["object", "null"], "properties": {"url": {"type": "string"}, "attribution": {"type": ["string", "null"]}}}}}}}}}
            }},
            "/api/regions": {"get": {
                "summary": "The name of every region of every boundary set, by Kemendagri code (ETag)",
                "parameters": [{"name": "If-None-Match", "in": "header", "required": false, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "Regions", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"regions": {"type": "object", "additionalProperties": {
                            "type": "object", "properties": {"name": {"type": "string"}, "set": {"type": "string"}}}}}}}}},
                    "304": {"description": "Not modified (the ETag matched)"}
                }
            }},
            "/api/geo/{set}": {"get": {
                "summary": "A boundary set as RFC 7946 GeoJSON (ETag, gzip), optionally simplified for a zoom level",
                "parameters": [
                    {"name": "set", "in": "path", "required": true, "schema": {"type": "string"}, "example": "kota_pasuruan_desa_kelurahan"},
                    {"name": "zoom", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0, "maximum": 22}},
                    {"name": "If-None-Match", "in": "header", "required": false, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "FeatureCollection; properties kode, nama, induk", "content": {"application/geo+json": {"schema": {"type": "object"}}}},
                    "304": {"description": "Not modified (ETag matched)"},
                    "400": error_response("invalid_parameter"),
                    "404": error_response("not_found")
                }
            }},
            "/api/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}
            }}
        },
        "components": {"schemas": {
            "Error": {
                "type": "object", "required": ["error"],
                "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string", "description": "Stable machine-readable code"},
                    "message": {"type": "string", "description": "For a person"}}}}
            },
            "Check": {
                "type": "object", "required": ["ok"],
                "properties": {"ok": {"type": "boolean"}, "reason": {"type": "string"},
                    "backend": {"enum": ["sqlite", "postgres"]}, "seq": {"type": "integer"}}
            },
            "Readiness": {
                "type": "object", "required": ["status", "checks"],
                "properties": {
                    "status": {"enum": ["ready", "not_ready"]},
                    "checks": {"type": "object", "properties": {
                        "database": {"$ref": "#/components/schemas/Check"},
                        "store": {"$ref": "#/components/schemas/Check"},
                        "server": {"$ref": "#/components/schemas/Check"}}}
                }
            },
            "Source": {
                "type": "object",
                "required": ["id", "kind", "dataset", "state", "interval_ms", "stale_after_secs", "consecutive_failures", "rows_in"],
                "properties": {
                    "id": {"type": "string"}, "kind": {"type": "string"}, "dataset": {"type": "string"},
                    "state": {"enum": ["starting", "fresh", "stale", "failing"]},
                    "interval_ms": {"type": "integer"}, "stale_after_secs": {"type": "integer"},
                    "last_success": {"type": ["string", "null"], "format": "date-time"},
                    "last_error": {"type": ["string", "null"]},
                    "last_error_at": {"type": ["string", "null"], "format": "date-time"},
                    "consecutive_failures": {"type": "integer"}, "rows_in": {"type": "integer"},
                    "rows_quarantined": {"type": "integer"},
                    "newest_record": {"type": ["string", "null"], "format": "date-time"},
                    "lag_seconds": {"type": ["number", "null"]},
                    "keep": {"enum": ["quarantine", "first", "last", "sum", null], "description": "What the mapping does with records of one pull that share a key and a version stamp."},
                    "key_collisions": {"type": "integer", "description": "Records of key collisions since start, quarantined or merged."}
                }
            }
        }}
    })
}
