//! The access part of the OpenAPI document: the token and audit paths, the bearer, query-token
//! and session schemes, and each operation's `security` (public paths and the login carry an
//! empty one).

use serde_json::{json, Value};

use super::error_response;

/// Paths anyone may call without a token (the guard lets them through before any check).
const PUBLIC: &[&str] = &["/healthz", "/readyz", "/api/openapi.json"];

/// `/api/tokens` and `/api/audit`.
pub fn access_paths() -> Value {
    let token = json!({"type": "object", "properties": {
        "name": {"type": "string"}, "role": {"$ref": "#/components/schemas/Role"},
        "screen": {"type": ["string", "null"]},
        "dashboards": {"type": "array", "items": {"type": "string"}, "description": "[\"*\"] is every dashboard"},
        "created_at": {"type": "string", "format": "date-time"}, "created_by": {"type": "string"},
        "expires_at": {"type": ["string", "null"], "format": "date-time"},
        "revoked_at": {"type": ["string", "null"], "format": "date-time"}}});
    let q = |name: &str, schema: Value, description: &str| json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description});
    json!({
        "/api/tokens": {
            "get": {
                "summary": "Every token (revoked ones too), never a secret (permission tokens)",
                "responses": {"200": {"description": "Tokens", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"tokens": {"type": "array", "items": token}}}}}}}
            },
            "post": {
                "summary": "Make a token; its secret is in this answer only (permission tokens)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["name", "role"], "additionalProperties": false,
                    "properties": {
                        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"},
                        "role": {"$ref": "#/components/schemas/Role"},
                        "screen": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"},
                        "dashboards": {"type": "array", "maxItems": 100, "items": {"type": "string"}},
                        "expires_at": {"type": "string", "format": "date-time"}}}}}},
                "responses": {
                    "201": {"description": "Made", "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "token": token, "secret": {"type": "string"}, "note": {"type": "string"}}}}}},
                    "400": error_response("invalid_token_request, name_taken")}
            }
        },
        "/api/tokens/{name}": {"delete": {
            "summary": "Revoke a token, at once on this server (permission tokens)",
            "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"204": {"description": "Revoked"}, "404": error_response("not_found")}
        }},
        "/api/audit": {"get": {
            "summary": "The audit log, newest first, filtered and paged; CSV with format=csv (permission audit)",
            "parameters": [
                q("actor", json!({"type": "string"}), "Only this actor (a token's name, anonymous, cli:USER)"),
                q("action", json!({"type": "string"}), "Actions starting with this, e.g. export."),
                q("outcome", json!({"enum": ["ok", "denied", "failed"]}), "Only this outcome"),
                q("since", json!({"type": "string", "format": "date-time"}), "At or after"),
                q("until", json!({"type": "string", "format": "date-time"}), "Before"),
                q("before", json!({"type": "integer"}), "Entries older than this id (the previous page's next_before)"),
                q("limit", json!({"type": "integer", "minimum": 1, "maximum": 1000}), "Entries per page [100]"),
                q("format", json!({"enum": ["json", "csv"]}), "json [default] or csv")],
            "responses": {
                "200": {"description": "Entries", "content": {
                    "application/json": {"schema": {"type": "object", "properties": {
                        "entries": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}},
                        "next_before": {"type": ["integer", "null"]}}}},
                    "text/csv": {"schema": {"type": "string"}}}},
                "400": error_response("invalid_parameter")}
        }}
    })
}

/// The schemas and security scheme the access paths use.
pub fn access_components() -> Value {
    json!({
        "schemas": {
            "Role": {"enum": crate::access::Role::ALL.map(|r| r.name())},
            "AuditEntry": {"type": "object", "properties": {
                "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
                "actor": {"type": "string"}, "actor_kind": {"enum": ["token", "token_file", "session", "anonymous", "cli", "system"]},
                "address": {"type": "string"}, "action": {"type": "string"}, "resource": {"type": "string"},
                "detail": {"type": "string", "description": "JSON text"}, "rows": {"type": ["integer", "null"]},
                "outcome": {"enum": ["ok", "denied", "failed"]},
                "prev_hash": {"type": "string"}, "hash": {"type": "string"}}}
        },
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "A token from `pantau token create` or POST /api/tokens"},
            "query_token": {"type": "apiKey", "in": "query", "name": "token",
                "description": "The same token where a header cannot be set: WebSocket, download links"},
            "session": {"type": "apiKey", "in": "cookie", "name": "pantau_session",
                "description": "A browser session from POST /api/session; requests other than GET also send its CSRF token in X-CSRF-Token"}
        }
    })
}

/// Gives every operation its `security` and its 401/403 answers; public paths get none.
pub fn secure(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let public = PUBLIC.contains(&path.as_str());
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in operations.iter_mut() {
            if public || (path.as_str(), method.as_str()) == super::accounts::LOGIN {
                operation["security"] = json!([]);
                continue;
            }
            operation["security"] = json!([{"bearer": []}, {"query_token": []}, {"session": []}]);
            if let Some(responses) = operation["responses"].as_object_mut() {
                responses.insert(
                    "401".into(),
                    error_response("token_required, token_invalid, token_expired, token_revoked, session_expired"),
                );
                let forbidden = "forbidden: the role lacks the permission; csrf_failed: a session's request that changes state without X-CSRF-Token; password_change_required: a one-time password not yet replaced";
                match responses.get_mut("403") {
                    Some(given) => {
                        let text = given["description"].as_str().unwrap_or("").to_owned();
                        given["description"] = json!(format!("{text}; {forbidden}"));
                    }
                    None => {
                        responses.insert("403".into(), error_response(forbidden));
                    }
                }
                // Every guarded path: an address that presented too many refused tokens waits.
                responses.entry("429").or_insert_with(|| {
                    error_response("too_many_failures: too many refused tokens from this address")
                });
            }
        }
    }
}
