//! Page routes that are not plain files: the wall (`/wall/{dashboard}`, `/wall?playlist=…`), the
//! tablet page (`/kpi`) and the map explorer (`/map`) are one HTML file each whatever the
//! dashboard; the page reads its dashboard from the URL. A page's own script and style sit in its
//! folder beside it (`/wall/wall.js`). Everything else in `static/` is served as it is.

use std::path::Path;

use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

use super::AppState;

pub fn router(static_dir: &Path) -> Router<AppState> {
    let wall_page = ServeFile::new(static_dir.join("wall/index.html"));
    // `/wall/{dashboard}` is the page; `/wall/wall.js` and `/wall/wall.css` are its files.
    let wall = ServeDir::new(static_dir.join("wall"))
        .append_index_html_on_directories(true)
        .fallback(wall_page);
    Router::new()
        .nest_service("/wall", wall)
        .route_service("/kpi", ServeFile::new(static_dir.join("kpi/index.html")))
        .route_service("/map", ServeFile::new(static_dir.join("map/index.html")))
}
