//! The `reference_cluster` crate: a server library that stands up an
//! Octopus HA cluster on loopback for the harness to test, as a real
//! installation would stand: N node processes on their own loopback addresses (127.0.0.2, .3, ...),
//! one shared SQLite database, one shared storage folder, and the built-in
//! LB process on 127.0.0.1, all owned by the supervisor.
//!
//! Everything binds port 0 and reports its address; a restarted node binds
//! the same address and port again so the LB finds it.
//!
//! It knows its own [`spec::Spec`], the Octopus surface it serves
//! ([`api`], [`vocab`]) and the Halibut protocol (the `halibut` crate), and
//! nothing of the harness: no scenarios, checks, histories or reports. It
//! says what it does through an [`events::EventSink`], and its processes
//! are whatever executable its owner names (the `harness` binary, whose
//! hidden child modes call [`supervisor`]'s child side).

pub mod api;
mod cluster;
pub mod control;
pub mod cpu;
pub mod db;
mod disrupt;
mod error;
pub mod events;
mod forward;
mod http;
pub mod lb;
pub mod limits;
pub mod multipart;
pub mod node;
pub mod polling;
pub mod real_lb;
pub mod serve;
pub mod spec;
pub mod supervisor;
pub mod timeouts;
pub mod vocab;
pub mod work;

pub use cluster::{
    EmbeddedCluster, NodeHandle, NodeNaming, PollingEndpoint, free_ports, peak_rss_kib,
};
pub use error::ClusterError;
pub use lb::{LB_NAME, LB_SERVER};
pub use timeouts::ServerTimeouts;
