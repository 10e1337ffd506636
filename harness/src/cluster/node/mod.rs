//! A reference Octopus node: one OS process (the harness binary in its
//! hidden node mode) that serves the Octopus REST surface of
//! docs/octopus-surface.md ("Conventions" to "Tasks") from the shared
//! database, heartbeats into it, and runs tasks from its queue.
//!
//! Routes: `GET /api`, `GET /api/octopusservernodes/ping` (200 online, 418
//! drained, the node as JSON, no API key), `GET /api/octopusservernodes`
//! (paged), `.../all`, `.../summary`, `GET`/`PUT .../{id}`,
//! `.../{id}/details`; tasks: `POST /api/{spaceId}/tasks` (or
//! `/api/tasks`), `GET /api/[{spaceId}/]tasks` (filters `states`, `node`,
//! `ids`, `skip`, `take`), `GET .../tasks/{id}`, `.../tasks/{id}/raw`,
//! `.../tasks/{id}/details` and `POST .../tasks/{id}/cancel`;
//! machines: `POST`/`GET /api/[{spaceId}/]machines`, `GET`/`DELETE
//! .../machines/{id}`; `GET /api/configuration/certificates/certificate-global`;
//! spaces (`node/spaces.rs`): `GET /api/spaces`, `.../all`, `.../{id}` and
//! the space home `GET /api/{spaceId}`. Space-scoped routes take
//! `/api/spaces/{spaceId}/...` as well as `/api/{spaceId}/...`.
//! Everything but ping needs `X-Octopus-ApiKey` (or `?apikey=`), else 401.
//!
//! Tasks: a queue thread checks the shared queue every `queue_poll`
//! (Octopus: 20 s, from the node's start), cancels other nodes' orphans,
//! and claims by the rules in `db`. A drained node claims nothing but
//! finishes what it runs and keeps answering the API. At start a node
//! cancels the tasks it ran before it died.
//!
//! Polling: where the cluster has a polling layout the node also runs a
//! polling listener (`polling`), and a `Health` task calls each target
//! Tentacle through it (`node/health.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::db::{ClaimMode, SharedDb};
use super::polling::{Polling, PollingConfig};
use crate::halibut::tls::TlsIdentity;

mod health;
mod packages;
mod reply;
mod routes;
mod spaces;
mod start;
mod tasks;

pub(crate) use packages::clear_incoming;
pub use start::main;

/// The version every reference node reports.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-reference");

/// Largest page of tasks, and most IDs in one filter.
const MAX_TAKE: usize = 1000;

/// Largest `skip`: far past any page, and within SQLite's integers.
const MAX_SKIP: usize = 1 << 40;

/// What a node process needs to know, passed as JSON by the supervisor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeConfig {
    /// The harness's name for the node (n1, n2, ...): its process, its
    /// log, its key in scenarios.
    pub key: String,
    /// The node's Octopus `Name`, which need not be its key.
    pub name: String,
    /// The node's Octopus `Id`.
    pub id: String,
    /// Address to bind; port 0 on first start, the same port on restarts.
    pub listen: SocketAddr,
    /// The shared database.
    pub db: PathBuf,
    /// MaxConcurrentTasks on first registration.
    pub task_cap: u32,
    /// Time between heartbeats.
    pub heartbeat_ms: u64,
    /// LastSeen older than this shows IsOffline.
    pub offline_after_ms: u64,
    /// The cluster's installation ID, shared by every node.
    pub installation_id: String,
    /// Task logs go here: the shared storage, or the node's own folder.
    pub storage: PathBuf,
    /// Time between two checks of the task queue.
    pub queue_poll_ms: u64,
    /// Another node's active tasks are canceled once it has not been seen
    /// for this long.
    pub orphan_after_ms: u64,
    /// Claim with a gap of this many milliseconds between reading the queue
    /// and writing the claim (the Octopus 2023.3 bug); atomic when None.
    #[serde(default)]
    pub racy_claim_ms: Option<u64>,
    /// Work after an upload's body has arrived, per GiB, before the answer:
    /// the server's post-upload processing that trips response timeouts.
    #[serde(default)]
    pub upload_delay_ms_per_gib: u64,
    /// The package is stored before that work rather than after it.
    #[serde(default)]
    pub upload_store_first: bool,
    /// The polling listener, where the cluster has one.
    #[serde(default)]
    pub polling: Option<PollingConfig>,
    /// How long it waits for its clients.
    #[serde(default)]
    pub timeouts: super::ServerTimeouts,
    /// The node's CPU limit, where the scenario gives one.
    #[serde(default)]
    pub cpu: Option<super::cpu::CpuPlacement>,
}

impl NodeConfig {
    fn claim_mode(&self) -> ClaimMode {
        match self.racy_claim_ms {
            Some(ms) => ClaimMode::Racy(Duration::from_millis(ms)),
            None => ClaimMode::Atomic,
        }
    }
}

struct Node {
    cfg: NodeConfig,
    api_key: String,
    db: Mutex<SharedDb>,
    /// The cluster's server certificate, from the shared database.
    server: Option<TlsIdentity>,
    /// The pending-request queues of the polling listener.
    polling: Option<Arc<Polling>>,
}

impl Node {
    /// The API's connection to the shared database.
    fn db(&self) -> std::sync::MutexGuard<'_, SharedDb> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }
}
