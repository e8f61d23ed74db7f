//! `/metrics`: the Prometheus text exposition.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::guard::needs;
use super::AppState;
use crate::access::Permission;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route_layer(needs!(Permission::Operations))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let snapshot = state.store.snapshot();
    for (dataset, heap) in crate::domain::Dataset::ALL
        .into_iter()
        .zip(state.store.heap_use())
    {
        let rows = snapshot.table(dataset).rows();
        state
            .metrics
            .store_table(dataset.name(), rows, heap.rows + heap.keys);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
