//! The throwaway Redis Cluster the matrix runs the redis provider against. The launcher is
//! the one session-redis's own tests use (std and tempfile only), included by path so there
//! is one copy of it.

#[allow(dead_code, clippy::unwrap_used)]
#[path = "../../crates/session-redis/tests/support/server.rs"]
pub mod server;

#[allow(dead_code, clippy::unwrap_used)]
#[path = "../../crates/session-redis/tests/support/cluster.rs"]
pub mod cluster;
