//! The polling part of a report: the fleet, how fast it fanned out and
//! how many handshakes per second that took, each node's Tentacles and
//! health-check outcomes, and the RPC round trips.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::history::{Event, History, Phase, PollingChange};
use crate::metrics::Percentiles;
use crate::metrics::histogram_of;
use crate::metrics::secs;

/// The fleet in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollingReport {
    /// Tentacles registered.
    pub tentacles: u64,
    /// Connections per Tentacle per endpoint.
    pub connections: u32,
    /// What the fleet polled: node (or `lb`) and address.
    pub endpoints: Vec<(String, String)>,
    /// From the fleet's start until every connection was up; None if that
    /// never happened.
    pub time_to_full_fan_out_s: Option<f64>,
    /// Successful handshakes (TLS and identification) per second during
    /// that initial fan-out.
    pub handshakes_per_s: Option<f64>,
    /// Connection attempts over the run, successful or not.
    pub connection_attempts: u64,
    /// Of which failed before identification.
    pub failed_attempts: u64,
    /// Per node of the cluster.
    pub nodes: Vec<PollingNode>,
    /// Round trips of the health checks' calls, in milliseconds.
    pub rpc_ms: Option<Percentiles>,
}

impl PollingReport {
    /// How many Tentacles the scenario's node `node` has connected; 0 for
    /// a node the fleet never reached.
    pub fn connected_to(&self, node: &str) -> u64 {
        self.nodes
            .iter()
            .find(|f| f.node == node)
            .map_or(0, |f| f.tentacles_connected)
    }
}

/// One node's view of the fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollingNode {
    /// Its name.
    pub node: String,
    /// Tentacles with a live connection to it at the end of the workload.
    pub tentacles_connected: u64,
    /// Machines its health tasks reached.
    pub health_ok: u64,
    /// Machines they did not.
    pub health_failed: u64,
}

/// The polling section, when the run had a fleet.
pub fn polling(h: &History) -> Option<PollingReport> {
    let fleet = h.events.iter().find_map(|e| match e {
        Event::Fleet(f) => Some(f),
        _ => None,
    })?;
    let workload_end = h
        .events
        .iter()
        .find_map(|e| match e {
            Event::Phase {
                at_us,
                phase: Phase::Heal,
            } => Some(*at_us),
            _ => None,
        })
        .unwrap_or(u64::MAX);
    let to_full = h.fleet_fan_out_us();
    let full_at = to_full.map(|t| fleet.at_us + t);
    let mut open: HashMap<(&str, &str), i64> = HashMap::new();
    let mut handshakes_to_full = 0u64;
    let (mut attempts, mut failed) = (0u64, 0u64);
    let mut at_end: Option<HashMap<(&str, &str), i64>> = None;
    for e in &h.events {
        let Event::Polling(p) = e else { continue };
        if p.at_us > workload_end && at_end.is_none() {
            at_end = Some(open.clone());
        }
        let n = open
            .entry((p.tentacle.as_str(), p.node.as_str()))
            .or_default();
        match p.change {
            PollingChange::Connected => {
                attempts += 1;
                *n += 1;
                if full_at.is_some_and(|t| p.at_us <= t) {
                    handshakes_to_full += 1;
                }
            }
            PollingChange::Failed => {
                attempts += 1;
                failed += 1;
            }
            PollingChange::Dropped => *n -= 1,
        }
    }
    let at_end = at_end.unwrap_or(open);
    let mut health: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for e in &h.events {
        if let Event::Health(x) = e {
            let entry = health.entry(x.node.as_str()).or_default();
            if x.ok {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
    }
    let nodes = fleet
        .nodes
        .iter()
        .map(|node| {
            let (ok, bad) = health.get(node.as_str()).copied().unwrap_or_default();
            PollingNode {
                node: node.clone(),
                tentacles_connected: fleet
                    .tentacles
                    .iter()
                    .filter(|t| {
                        at_end
                            .get(&(t.name.as_str(), node.as_str()))
                            .is_some_and(|n| *n > 0)
                    })
                    .count() as u64,
                health_ok: ok,
                health_failed: bad,
            }
        })
        .collect();
    let rtts = histogram_of(h.events.iter().flat_map(|e| match e {
        Event::Health(x) => x.rtt_us.clone(),
        _ => Vec::new(),
    }));
    Some(PollingReport {
        tentacles: fleet.tentacles.len() as u64,
        connections: fleet.connections,
        endpoints: fleet.endpoints.clone(),
        time_to_full_fan_out_s: to_full.map(secs),
        handshakes_per_s: to_full.map(|us| handshakes_to_full as f64 / secs(us.max(1))),
        connection_attempts: attempts,
        failed_attempts: failed,
        nodes,
        rpc_ms: (!rtts.is_empty()).then(|| Percentiles::of(&rtts)),
    })
}
