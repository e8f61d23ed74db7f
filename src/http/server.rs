//! The listener loop: takes connections within a global and a per-address cap, gives each a
//! deadline for a request's headers, and drains them on shutdown.
//!
//! `axum::serve` sets no timer on its connections, so a client that dribbles a request's headers
//! (slowloris) or never sends one keeps its connection for ever, and nothing bounds how many are
//! open. Here every connection holds a slot of each cap for as long as its socket lives —
//! WebSocket sessions included, since the upgraded session keeps the socket.

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::live::{AddressSlots, IpSlot};
use crate::telemetry::{ConnectionGuard, Metrics};

/// The bounds of the listener (`[server]`).
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Time for a request's headers to arrive, and for an idle connection to send its next one.
    pub header_read_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections one address may hold at once.
    pub max_connections_per_ip: usize,
}

/// An HTTP/1.1 server over a bound listener.
pub struct Server {
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    metrics: Metrics,
}

/// At most one warning a minute about refused connections (a flood must not flood the log).
const WARN_EVERY: Duration = Duration::from_secs(60);

impl Server {
    /// A server for `router` on `listener`.
    pub fn new(
        listener: TcpListener,
        router: Router,
        limits: ConnectionLimits,
        metrics: Metrics,
    ) -> Server {
        Server {
            listener,
            router,
            limits,
            metrics,
        }
    }

    /// Serves until `stop` completes; then stops accepting, lets requests in flight finish and
    /// closes idle connections, and returns when every HTTP connection has ended (upgraded
    /// WebSocket sessions end by their own shutdown signal).
    pub async fn run(self, stop: impl Future<Output = ()>) {
        let gate = Arc::new(Semaphore::new(self.limits.max_connections));
        let per_ip = AddressSlots::new(self.limits.max_connections_per_ip);
        let closing = CancellationToken::new();
        let connections = TaskTracker::new();
        let mut last_warning: Option<Instant> = None;
        let mut stop = pin!(stop);
        loop {
            let (stream, peer) = tokio::select! {
                _ = &mut stop => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        accept_failed(&e).await;
                        continue;
                    }
                },
            };
            let slots = match gate.clone().try_acquire_owned() {
                Err(_) => Err(Refusal::Full(self.limits.max_connections)),
                Ok(permit) => match per_ip.take(peer.ip()) {
                    None => Err(Refusal::PerAddress(self.limits.max_connections_per_ip)),
                    Some(slot) => Ok((permit, slot)),
                },
            };
            let (permit, slot) = match slots {
                Ok(slots) => slots,
                Err(refusal) => {
                    if last_warning.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                        last_warning = Some(Instant::now());
                        tracing::warn!(peer = %peer.ip(), reason = refusal.code(), "Refusing connections: a connection cap is reached (more refusals this minute are counted in pantau_http_connections_refused_total).");
                    }
                    self.metrics.http_connection_refused(refusal.code());
                    refusal.answer(&stream);
                    continue;
                }
            };
            // Live updates are small frames that must leave at once, not wait for Nagle's algorithm.
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "Cannot set TCP_NODELAY.");
            }
            let io = Held {
                stream,
                _permit: permit,
                _slot: slot,
                _counted: self.metrics.http_connection(),
            };
            let router = self.router.clone();
            // The router, with the peer's address for `ConnectInfo`.
            let service = TowerToHyperService::new(tower::service_fn(
                move |mut request: axum::http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    router.clone().oneshot(request)
                },
            ));
            let closing = closing.clone();
            let header_timeout = self.limits.header_read_timeout;
            connections.spawn(async move {
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout);
                let conn = builder
                    .serve_connection(TokioIo::new(io), service)
                    .with_upgrades();
                let mut conn = pin!(conn);
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!(error = %e, "Connection ended with an error.");
                        }
                        return;
                    }
                    _ = closing.cancelled() => {}
                }
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            });
        }
        drop(self.listener);
        closing.cancel();
        connections.close();
        connections.wait().await;
    }
}

/// What `accept` failing means: a connection that went away before it was taken is nothing;
/// anything else (out of file descriptors) is logged and waited out briefly, so the loop does
/// not spin.
async fn accept_failed(e: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "Cannot accept a connection (is the open-file limit below server.max_connections?).");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Why a connection is closed at once.
enum Refusal {
    /// `max_connections` are open.
    Full(usize),
    /// The address holds `max_connections_per_ip`.
    PerAddress(usize),
}

impl Refusal {
    fn code(&self) -> &'static str {
        match self {
            Refusal::Full(_) => "too_many_connections",
            Refusal::PerAddress(_) => "too_many_connections_per_address",
        }
    }

    /// Writes a short JSON answer if the socket takes it at once, then the socket is dropped:
    /// holding it open longer would spend what the cap protects.
    fn answer(&self, stream: &TcpStream) {
        let (status, message) = match self {
            Refusal::Full(n) => (
                "503 Service Unavailable",
                format!("the server holds its most connections ({n}); try again shortly"),
            ),
            Refusal::PerAddress(n) => (
                "429 Too Many Requests",
                format!("at most {n} connections per address; close some and try again"),
            ),
        };
        let body =
            serde_json::json!({"error": {"code": self.code(), "message": message}}).to_string();
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             retry-after: 5\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.try_write(response.as_bytes());
    }
}

/// A connection's socket with the slots it holds; they are given back when the socket closes,
/// whether hyper or an upgraded WebSocket session owns it then.
struct Held {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    _slot: IpSlot,
    _counted: ConnectionGuard,
}

impl AsyncRead for Held {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
