//! `/ws`: upgrades to a live session (protocol in `docs/protocol.md`).

use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::AppState;
use crate::live;

pub fn router() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

async fn upgrade(upgrade: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    let limits = &state.live.limits;
    let context = state.live.clone();
    upgrade
        // Frames past the limit close the connection in the codec, before any buffering.
        .max_message_size(limits.max_message_bytes * 2)
        .max_frame_size(limits.max_message_bytes * 2)
        .on_upgrade(move |socket| live::serve_socket(socket, context))
}
