//! `/api/datasets`: what the store holds and how each dataset's columns are typed.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::guard::needs;
use super::{ApiError, AppState};
use crate::access::Permission;
use crate::domain::Dataset;
use crate::store::DatasetSchema;
use crate::store::{Field, Storage};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/datasets", get(list))
        .route("/datasets/{name}/schema", get(schema))
        .route_layer(needs!(Permission::Aggregates))
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    let snapshot = state.store.snapshot();
    let datasets: Vec<Value> = Dataset::ALL
        .into_iter()
        .map(|d| {
            let view = snapshot.table(d);
            json!({
                "name": d.name(),
                "description": d.schema().description,
                "rows": view.current_rows(),
                "versions": view.rows(),
                "updated_at": view.updated_at(),
                "hot_since": view.hot_since(),
            })
        })
        .collect();
    Json(json!({
        "seq": snapshot.seq,
        "time_zone": state.exports.time_zone.name(),
        "datasets": datasets,
        "formats": crate::export::Format::catalog(),
    }))
}

async fn schema(Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let dataset = Dataset::from_name(&name).ok_or_else(|| {
        let known: Vec<&str> = Dataset::ALL.iter().map(|d| d.name()).collect();
        ApiError::NotFound(format!(
            "no dataset '{}'; known: {}",
            name.chars().take(60).collect::<String>(),
            known.join(", ")
        ))
    })?;
    let schema = dataset.schema();
    let column = |f: &Field| {
        let mut field = json!({
            "name": f.name,
            "type": f.storage.logical_type(),
            "storage": f.storage.dtype().to_string(),
            "nullable": f.nullable,
            "key": schema.key.contains(&f.name),
            "description": f.description,
        });
        if let Storage::Enum(values) = f.storage {
            field["values"] = json!(values);
        }
        if f.storage.is_dict() {
            field["dictionary"] = json!(true);
        }
        field
    };
    // The key's parts first, in key order (an id within its source lives in the key index only).
    let mut fields: Vec<Value> = schema
        .key
        .iter()
        .map(|k| match schema.position(k) {
            Some(i) => column(&schema.fields[i]),
            None => json!({
                "name": k, "type": "string", "nullable": false, "key": true,
                "description": "The record's id within its source.",
            }),
        })
        .collect();
    fields.extend(
        schema
            .fields
            .iter()
            .filter(|f| !schema.key.contains(&f.name))
            .map(column),
    );
    Ok(Json(json!({
        "name": dataset.name(),
        "description": schema.description,
        "key": schema.key,
        "version_column": schema.fields[schema.version_column].name,
        "append_only": schema.append_only,
        "fields": fields,
    })))
}
