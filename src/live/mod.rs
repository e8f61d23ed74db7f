//! Live: topics with sequence numbers, the WebSocket protocol, and client sessions.
//!
//! Owns what a screen receives and when. Each topic update is serialised once into shared frames
//! that every subscriber sends as they are. Must not know about the store or polars: the engine
//! publishes plain JSON values here.

mod hub;
pub mod protocol;
mod session;

pub use hub::{Hub, TopicState};
pub use session::{serve_socket, SessionContext, SessionLimits};
