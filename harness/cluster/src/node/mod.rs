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
//! Database loss: the node keeps running and answers errors while its
//! calls fail, and carries on once they go through (`node/link.rs`); a
//! node broken on purpose exits or gives up instead (docs/faults.md).
//!
//! Polling: where the cluster has a polling layout the node also runs a
//! polling listener (`polling`), and a `Health` task calls each target
//! Tentacle through it (`node/health.rs`).

mod alone;
mod behaviour;
mod health;
mod link;
mod packages;
mod reply;
mod routes;
mod spaces;
mod start;
mod state;
mod tasks;

pub use alone::standalone;
pub use behaviour::{Behaviour, DatabaseLoss};
pub(crate) use packages::clear_incoming;
pub use start::main;
pub use state::{NodeConfig, VERSION};
