//! Page routes that are not plain files: the wall (`/wall/{dashboard}`, `/wall?playlist=…`), the
//! tablet page (`/kpi`) and the map explorer (`/map`) are one HTML file each whatever the
//! dashboard; the page reads its dashboard from the URL. Everything else in `static/` is served as it is.

use std::path::Path;

use axum::Router;
use tower_http::services::ServeFile;

use super::AppState;

pub fn router(static_dir: &Path) -> Router<AppState> {
    let wall = ServeFile::new(static_dir.join("wall/index.html"));
    Router::new()
        .route_service("/wall", wall.clone())
        .route_service("/wall/", wall.clone())
        .route_service("/wall/{dashboard}", wall)
        .route_service("/kpi", ServeFile::new(static_dir.join("kpi/index.html")))
        .route_service("/map", ServeFile::new(static_dir.join("map/index.html")))
}
