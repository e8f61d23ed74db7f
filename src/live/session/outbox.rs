//! The socket with its sending bookkeeping: data frames counted, control frames not, and every
//! operation bounded by the send timeout so a stuck client cannot hold its session.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::{FutureExt, Sink, SinkExt};

use super::Stop;
use crate::live::hub::frame;
use crate::live::protocol::ServerMessage;
use crate::telemetry::Metrics;

/// The socket with its sending bookkeeping: every send is bounded by the send timeout.
pub(super) struct Outbox<'a, S> {
    pub(super) socket: &'a mut S,
    pub(super) metrics: &'a Metrics,
    pub(super) send_timeout: Duration,
}

/// Bounds a socket operation by the send timeout: a client that takes nothing in that time is a
/// slow client, dropped.
async fn bounded<E>(
    metrics: &Metrics,
    timeout: Duration,
    op: impl std::future::Future<Output = Result<(), E>>,
) -> Result<(), Stop> {
    let mut op = std::pin::pin!(op);
    // Nearly always done at once (the socket has room): no timer for that. Otherwise the same
    // operation goes on under the timer, from where it stopped.
    let done = match op.as_mut().now_or_never() {
        Some(done) => Ok(done),
        None => tokio::time::timeout(timeout, op).await,
    };
    match done {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Stop::Gone),
        Err(_) => {
            metrics.ws_closed("slow_client");
            Err(Stop::Gone)
        }
    }
}

impl<S: Sink<Message> + Unpin> Outbox<'_, S> {
    pub(super) async fn send(&mut self, message: Message) -> Result<(), Stop> {
        bounded(self.metrics, self.send_timeout, self.socket.send(message)).await
    }

    /// Queues a data message (snapshot or patch) without flushing, counted in the delivery
    /// metrics: the updates of one wake go out in one write.
    pub(super) async fn feed(&mut self, frame: Utf8Bytes) -> Result<(), Stop> {
        self.metrics.ws_message_out(frame.len());
        self.feed_control(frame).await
    }

    /// Queues a message that carries no data, without flushing.
    pub(super) async fn feed_control(&mut self, frame: Utf8Bytes) -> Result<(), Stop> {
        let message = Message::Text(frame);
        bounded(self.metrics, self.send_timeout, self.socket.feed(message)).await
    }

    /// Sends what was queued.
    pub(super) async fn flush(&mut self) -> Result<(), Stop> {
        bounded(self.metrics, self.send_timeout, self.socket.flush()).await
    }

    /// A protocol message that carries no data (hello, pong, error).
    pub(super) async fn control(&mut self, frame: Utf8Bytes) -> Result<(), Stop> {
        self.send(Message::Text(frame)).await
    }

    pub(super) async fn error(&mut self, code: &'static str, message: String) -> Result<(), Stop> {
        self.control(frame(&ServerMessage::Error { code, message }))
            .await
    }

    /// Tells the client why it is being closed, then closes (1001 going away / 1008 policy).
    pub(super) async fn bye(&mut self, reason: &'static str) {
        if self
            .control(frame(&ServerMessage::Bye { reason }))
            .await
            .is_err()
        {
            return;
        }
        let code = if reason == "shutdown" { 1001 } else { 1008 };
        let close = Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }));
        let _ = self.send(close).await;
    }
}
