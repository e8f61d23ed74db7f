//! `/api/geo`: boundary sets as GeoJSON for maps — geometry sent once, cached by clients (ETag),
//! compressed, simplified per zoom level. Live values per region travel over the WebSocket.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::extract::ApiQuery;
use super::{ApiError, AppState};
use crate::geo::{to_geojson, Catalog, MAX_ZOOM};

/// Rendered GeoJSON by (set, zoom).
type RenderCache = HashMap<(String, Option<u8>), Arc<Rendered>>;

/// Boundary sets and their rendered GeoJSON, kept per (set, zoom) once made.
pub struct GeoService {
    catalog: Arc<Catalog>,
    rendered: Mutex<RenderCache>,
    /// `GET /api/regions`, made once.
    names: std::sync::OnceLock<Arc<Rendered>>,
    /// Raster tiles drawn under the maps, when the deployment has a tile server.
    tiles: Option<Tiles>,
}

/// A tile server for the maps' background (`[deployment] tile_url`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Tiles {
    /// URL with `{z}`, `{x}`, `{y}`.
    pub url: String,
    /// Shown on every map.
    pub attribution: Option<String>,
}

/// One rendered representation.
struct Rendered {
    body: Bytes,
    etag: String,
}

impl Rendered {
    fn of(body: Vec<u8>) -> Arc<Rendered> {
        let body = Bytes::from(body);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut hasher);
        Arc::new(Rendered {
            etag: format!("\"{:016x}\"", hasher.finish()),
            body,
        })
    }

    /// The body with its ETag, or 304 when the client holds it already.
    fn respond(&self, headers: &HeaderMap, content_type: &'static str) -> Response {
        let cached = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|tag| tag.trim() == self.etag));
        let common = [
            (header::ETAG, self.etag.clone()),
            // Clients keep the body and only ask whether it changed.
            (header::CACHE_CONTROL, "no-cache".to_owned()),
        ];
        if cached {
            return (StatusCode::NOT_MODIFIED, common).into_response();
        }
        (
            common,
            [(header::CONTENT_TYPE, content_type)],
            self.body.clone(),
        )
            .into_response()
    }
}

impl GeoService {
    /// Serves the sets found in `catalog`, and names `tiles` to the pages.
    pub fn new(catalog: Arc<Catalog>, tiles: Option<Tiles>) -> Self {
        Self {
            catalog,
            rendered: Mutex::default(),
            names: std::sync::OnceLock::new(),
            tiles,
        }
    }

    /// Every region of every set that loads: `{"regions": {code: {"name", "set"}}}` — the names
    /// pages show for the Kemendagri codes panels group by. A set that does not load is skipped
    /// (`/api/geo/{set}` says why).
    fn names(&self) -> Arc<Rendered> {
        self.names
            .get_or_init(|| {
                let mut regions = serde_json::Map::new();
                for set_name in self.catalog.names() {
                    let Some(Ok(set)) = self.catalog.get(&set_name) else {
                        continue;
                    };
                    for region in set.regions() {
                        regions
                            .entry(region.code.to_string())
                            .or_insert_with(|| json!({"name": region.name, "set": set_name}));
                    }
                }
                Rendered::of(json!({ "regions": regions }).to_string().into_bytes())
            })
            .clone()
    }

    fn render(&self, name: &str, zoom: Option<u8>) -> Result<Arc<Rendered>, ApiError> {
        let key = (name.to_owned(), zoom);
        if let Some(hit) = self.lock().get(&key) {
            return Ok(hit.clone());
        }
        let set = match self.catalog.get(name) {
            None => {
                let known = self.catalog.names().join(", ");
                let name: String = name.chars().take(80).collect();
                return Err(ApiError::NotFound(format!(
                    "no boundary set named '{name}'; sets: {known}"
                )));
            }
            Some(Err(reason)) => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "boundary set {name} cannot be loaded: {reason}"
                )))
            }
            Some(Ok(set)) => set,
        };
        let (document, _) = to_geojson(&set, zoom);
        let rendered = Rendered::of(serde_json::to_vec(&document).map_err(anyhow::Error::from)?);
        self.lock().insert(key, rendered.clone());
        Ok(rendered)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RenderCache> {
        self.rendered.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/geo", get(list))
        .route("/geo/{set}", get(boundaries))
        .route("/regions", get(regions))
        .route_layer(super::guard::needs!(crate::access::Permission::Boundaries))
}

async fn list(State(state): State<AppState>) -> Json<serde_json::Value> {
    let sets: Vec<_> = state
        .geo
        .catalog
        .names()
        .into_iter()
        .map(|name| json!({"name": name, "url": format!("/api/geo/{name}")}))
        .collect();
    Json(json!({ "sets": sets, "tiles": state.geo.tiles }))
}

#[derive(Deserialize)]
struct GeoParams {
    zoom: Option<String>,
}

async fn boundaries(
    State(state): State<AppState>,
    Path(set): Path<String>,
    ApiQuery(params): ApiQuery<GeoParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let zoom = match params.zoom.as_deref() {
        None | Some("") => None,
        Some(text) => match text.parse::<u8>() {
            Ok(z) if z <= MAX_ZOOM => Some(z),
            _ => {
                let text: String = text.chars().take(20).collect();
                return Err(ApiError::BadRequest {
                    code: "invalid_parameter",
                    message: format!(
                        "zoom must be a whole number from 0 to {MAX_ZOOM}, not '{text}'"
                    ),
                });
            }
        },
    };
    let geo = state.geo.clone();
    let rendered = tokio::task::spawn_blocking(move || geo.render(&set, zoom))
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;
    Ok(rendered.respond(&headers, "application/geo+json"))
}

async fn regions(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let geo = state.geo.clone();
    let rendered = tokio::task::spawn_blocking(move || geo.names())
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(rendered.respond(&headers, "application/json"))
}
