//! `/ws`: checks who is connecting, then upgrades to a live session (protocol in `docs/protocol.md`).

use std::net::SocketAddr;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::extract::{bearer, ApiQuery};
use super::{ApiError, AppState};
use crate::access::Permission;
use crate::live;

pub fn router() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

#[derive(Deserialize)]
struct Params {
    /// Browsers cannot set headers on a WebSocket, so pages pass their token here.
    token: Option<String>,
}

async fn upgrade(
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiQuery(params): ApiQuery<Params>,
    headers: HeaderMap,
) -> Response {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    // A page's session cookie comes with the upgrade too; the origin check below is what keeps
    // another site's page from riding on it.
    let presented = match bearer(&headers).or(params.token.as_deref()) {
        Some(token) => Some(crate::access::Credential::Token(token.to_owned())),
        None => {
            super::guard::credential_of(&axum::http::Method::GET, &headers, &Default::default())
        }
    };
    let refused = |code: &'static str, error: ApiError| {
        state.metrics.ws_refused(code);
        tracing::info!(peer = %peer.ip(), code, "WebSocket refused.");
        error.into_response()
    };
    // Origin first: a page of another site learns nothing about tokens.
    let slot = match state
        .live
        .access
        .admit(text(header::ORIGIN), text(header::HOST), peer.ip())
    {
        Ok(slot) => slot,
        Err(denied) => return refused(denied.code(), ApiError::Denied(denied)),
    };
    let admitted = state
        .access
        .admit(
            presented.as_ref(),
            Permission::Aggregates,
            peer.ip(),
            "GET /ws",
        )
        .await;
    let grant = match admitted {
        Ok(principal) => principal,
        Err(refusal) => return refused(refusal.code(), ApiError::Refused(refusal)),
    };
    // Who asks is settled first: a plain GET without a token learns it needs one.
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return ApiError::BadRequest {
                code: "upgrade_required",
                message: format!("/ws is a WebSocket: {}", rejection.body_text()),
            }
            .into_response()
        }
    };
    let limits = &state.live.limits;
    let context = state.live.clone();
    upgrade
        // Frames past twice the message limit close the connection in the codec, before buffering.
        .max_message_size(limits.max_message_bytes * 2)
        .max_frame_size(limits.max_message_bytes * 2)
        // Small buffers keep an idle connection cheap. The codec zero-fills its read buffer up
        // to this size on every read attempt (every wake-up of a session), so it is kept near
        // what client messages need; longer ones are read in several steps. Frames are gathered
        // until a session flushes (all its updates of one wake in one write) or 8 KiB wait.
        .read_buffer_size(1024)
        .write_buffer_size(8 * 1024)
        .max_write_buffer_size(4 * 1024 * 1024)
        .on_upgrade(move |socket| live::serve_socket(socket, context, grant, peer.ip(), slot))
}
