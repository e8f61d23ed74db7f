//! Live: topics with sequence numbers, the WebSocket protocol, client sessions and who may connect.
//!
//! Owns what a screen receives and when. Each topic update is serialised once into shared frames
//! that every subscriber sends as they are. Must not know about the store or polars: the engine
//! publishes plain JSON values here.

pub mod access;
pub mod fuzz;
mod hub;
pub mod protocol;
pub mod screens;
mod session;
mod settings;

pub use access::{AccessPolicy, AddressSlots, Denied, IpSlot};
pub use hub::{Hub, TopicState};
pub use screens::{Screen, ScreenState, Screens};
pub use session::{serve_socket, SessionContext, SessionLimits, ViewError, ViewSource, Views};
pub use settings::LiveSettings;
