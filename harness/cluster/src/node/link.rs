//! The node's link to the shared database as the node itself sees it:
//! when its calls last failed, and, for a node broken on purpose, what it
//! does about that (docs/faults.md, "Broken nodes").
//!
//! A correct node keeps running through a database outage and carries on
//! when the database is back. It also holds back its orphan rule for a
//! while after its own calls failed: a node that could not see the
//! database cannot tell another node that died from one whose heartbeats
//! were refused as its own were.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use super::behaviour::DatabaseLoss;
use crate::db::now_ms;

/// The exit status of a node that stops on database loss.
pub(super) const EXIT_ON_DATABASE_LOSS: i32 = 3;

/// What a node knows about its database link.
#[derive(Debug)]
pub(super) struct Link {
    policy: DatabaseLoss,
    /// Wall-clock milliseconds of the last failed call; 0 for none.
    last_failure_ms: AtomicI64,
    /// A `no_reconnect` node that has lost its database.
    broken: AtomicBool,
}

/// What a `no_reconnect` node answers once its link is broken, in the
/// words SqlClient uses for a connection it cannot restore.
pub(super) const BROKEN: &str =
    "the connection is broken and recovery is not possible; restart the node";

impl Link {
    pub(super) fn new(policy: DatabaseLoss) -> Self {
        Self {
            policy,
            last_failure_ms: AtomicI64::new(0),
            broken: AtomicBool::new(false),
        }
    }

    /// A call of `what` failed with `error`: recorded, and acted on as the
    /// node's behaviour says. A node that exits does so here, at its first
    /// failed call, most often its heartbeat, as Octopus 3.17.8's did.
    pub(super) fn failed(&self, what: &str, error: &dyn std::fmt::Display) {
        self.last_failure_ms.store(now_ms(), Ordering::Relaxed);
        eprintln!("{what} failed: {error}");
        match self.policy {
            DatabaseLoss::Reconnect => {}
            DatabaseLoss::Exit => {
                eprintln!("the shared database is unreachable; the node stops");
                std::process::exit(EXIT_ON_DATABASE_LOSS);
            }
            DatabaseLoss::NoReconnect => self.broken.store(true, Ordering::Relaxed),
        }
    }

    /// Whether the node has given up on its database until it restarts.
    pub(super) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    /// Whether every call of the last `ms` milliseconds went through.
    pub(super) fn clear_for(&self, ms: i64) -> bool {
        let last = self.last_failure_ms.load(Ordering::Relaxed);
        last == 0 || now_ms().saturating_sub(last) >= ms
    }
}
