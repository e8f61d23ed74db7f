//! Integration tests: the real server on port 0, a real SQLite file, the real PostgreSQL of the
//! machine, a real WebSocket client and the real `pantau` binary.

mod browser;
mod cli;
mod dashboards;
mod datasets;
mod db;
mod exports;
mod geo;
mod health;
mod helpers;
mod ingest;
mod live;
mod live_access;
mod map_views;
mod rooms;
mod sources;
mod store_crash;
