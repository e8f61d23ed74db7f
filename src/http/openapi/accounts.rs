//! The accounts part of the OpenAPI document: logging in and out (`/api/session`) and the
//! local accounts (`/api/users`).

use serde_json::{json, Value};

use super::error_response;

/// The operation that needs no credential at all: the login itself.
pub const LOGIN: (&str, &str) = ("/api/session", "post");

/// `/api/session` and `/api/users`.
pub fn account_paths() -> Value {
    let user = json!({"$ref": "#/components/schemas/User"});
    let name =
        json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string"}});
    let no_store =
        json!({"Cache-Control": {"schema": {"type": "string"}, "description": "no-store"}});
    let with_password = json!({"type": "object", "properties": {
        "user": user, "name": {"type": "string"}, "one_time_password": {"type": "string"},
        "note": {"type": "string"}}});
    json!({
        "/api/session": {
            "post": {
                "summary": "Log in with a local account; sets the session cookie (HttpOnly) and the CSRF cookie",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["name", "password"], "additionalProperties": false,
                    "properties": {"name": {"type": "string", "maxLength": 64},
                        "password": {"type": "string", "maxLength": 1024}}}}}},
                "responses": {
                    "200": {"description": "Logged in", "headers": {
                        "Set-Cookie": {"schema": {"type": "string"},
                            "description": "pantau_session (HttpOnly; SameSite=Strict) and pantau_csrf (SameSite=Strict); Secure over HTTPS"}},
                        "content": {"application/json": {"schema": {"type": "object", "properties": {
                            "user": user, "csrf_token": {"type": "string"},
                            "expires_at": {"type": "string", "format": "date-time"},
                            "must_change_password": {"type": "boolean"}}}}}},
                    "400": error_response("invalid_login: the body is not a login"),
                    "401": error_response("login_failed: wrong name or password (the same answer for both)"),
                    "429": error_response("account_locked (too many failed logins for this account) or too_many_failures (from this address); Retry-After says when to try again")}
            },
            "get": {
                "summary": "Who the request is: a session (with its account), a token or the anonymous role",
                "responses": {"200": {"description": "The caller", "headers": no_store, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {
                        "name": {"type": "string"}, "role": {"$ref": "#/components/schemas/Role"},
                        "via": {"enum": ["session", "token", "token_file", "anonymous"]},
                        "screen": {"type": ["string", "null"]},
                        "must_change_password": {"type": "boolean"},
                        "user": {"oneOf": [user, {"type": "null"}]}}}}}}}
            },
            "delete": {
                "summary": "Log out: ends the session and removes its cookies (needs X-CSRF-Token)",
                "responses": {"204": {"description": "Logged out"},
                    "400": error_response("not_a_session: the request did not come with a session cookie")}
            }
        },
        "/api/session/password": {"post": {
            "summary": "Choose a new password (the current one is asked again); the account's other sessions end. Allowed while a one-time password must be replaced; needs X-CSRF-Token",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["current", "new"], "additionalProperties": false,
                "properties": {"current": {"type": "string"}, "new": {"type": "string", "minLength": 12, "maxLength": 1024}}}}}},
            "responses": {"204": {"description": "Changed"},
                "400": error_response("invalid_user: the new password breaks a rule (length, the account's name inside, fewer than 5 different characters, same as the current), or not_a_session"),
                "403": error_response("wrong_password: the current password is not right; csrf_failed")}
        }},
        "/api/users": {
            "get": {
                "summary": "Every local account (disabled ones too), never a password hash (permission users)",
                "responses": {"200": {"description": "Accounts", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"users": {"type": "array", "items": user}}}}}}}
            },
            "post": {
                "summary": "Make an account; its one-time password is in this answer only (permission users)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["name", "role"], "additionalProperties": false,
                    "properties": {
                        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"},
                        "role": {"$ref": "#/components/schemas/Role"},
                        "display_name": {"type": "string", "maxLength": 120},
                        "dashboards": {"type": "array", "maxItems": 100, "items": {"type": "string"}}}}}}},
                "responses": {
                    "201": {"description": "Made", "headers": no_store, "content": {"application/json": {"schema": with_password}}},
                    "400": error_response("invalid_user"),
                    "409": error_response("name_taken (disabled accounts keep their names)")}
            }
        },
        "/api/users/{name}/disable": {"post": {
            "summary": "Disable an account for good and end its sessions (permission users)",
            "parameters": [name],
            "responses": {"204": {"description": "Disabled"}, "404": error_response("not_found")}
        }},
        "/api/users/{name}/reset-password": {"post": {
            "summary": "Give an account a new one-time password, end its sessions, lift a lockout (permission users)",
            "parameters": [name],
            "responses": {"200": {"description": "Reset", "headers": no_store, "content": {"application/json": {"schema": with_password}}},
                "404": error_response("not_found")}
        }}
    })
}

/// The account schema.
pub fn account_schemas() -> Value {
    let at = json!({"type": "string", "format": "date-time"});
    let maybe_at = json!({"type": ["string", "null"], "format": "date-time"});
    json!({
        "User": {"type": "object", "properties": {
            "name": {"type": "string"}, "display_name": {"type": "string"},
            "role": {"$ref": "#/components/schemas/Role"},
            "dashboards": {"type": "array", "items": {"type": "string"}, "description": "[\"*\"] is every dashboard"},
            "must_change_password": {"type": "boolean"}, "failed_logins": {"type": "integer"},
            "locked_until": maybe_at, "created_at": at, "created_by": {"type": "string"},
            "password_changed_at": at, "disabled_at": maybe_at}}
    })
}
