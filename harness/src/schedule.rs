//! The schedule: what happens when, computed from the scenario and the seed
//! with no I/O, so it can be tested without a cluster.
//!
//! Requests follow an open model: request `i` is due at `i / rate`,
//! whatever happened to the ones before, and its kind is drawn from the
//! mix. Faults get their nodes (`one` drawn with the seed) and their inject
//! and heal times. All times are microseconds after the end of warm-up,
//! except requests, which start with warm-up.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use crate::fault::{FaultKind, MaintenancePlan, PlannedFault};
use crate::history::Op;
use crate::scenario::{Fault, Mix, PartitionFrom, Scenario, node_names};

/// One request the schedule wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    /// Sequence number.
    pub seq: u64,
    /// Due time, microseconds after the load starts.
    pub at_us: u64,
    /// The request kind.
    pub op: Op,
}

/// An endless stream of requests at a fixed rate.
pub struct RequestSchedule {
    rate: f64,
    weights: Vec<(Op, u32)>,
    total: u64,
    rng: ChaCha8Rng,
    seq: u64,
}

impl RequestSchedule {
    /// Requests at `rate` per second, kinds weighted by `mix`.
    pub fn new(rate: f64, mix: Mix, seed: u64) -> Self {
        let weights: Vec<(Op, u32)> = [
            (Op::Ping, mix.ping),
            (Op::Nodes, mix.nodes),
            (Op::Root, mix.root),
        ]
        .into_iter()
        .filter(|(_, w)| *w > 0)
        .collect();
        let total = weights.iter().map(|(_, w)| u64::from(*w)).sum();
        Self {
            rate,
            weights,
            total,
            rng: ChaCha8Rng::seed_from_u64(seed),
            seq: 0,
        }
    }
}

impl Iterator for RequestSchedule {
    type Item = Planned;

    fn next(&mut self) -> Option<Planned> {
        if self.total == 0 {
            return None;
        }
        let seq = self.seq;
        self.seq += 1;
        let at_us = (seq as f64 * 1e6 / self.rate) as u64;
        // The modulo bias over 2^64 is far below anything measurable.
        let mut pick = self.rng.next_u64() % self.total;
        let mut op = self.weights[0].0;
        for (o, w) in &self.weights {
            if pick < u64::from(*w) {
                op = *o;
                break;
            }
            pick -= u64::from(*w);
        }
        Some(Planned { seq, at_us, op })
    }
}

/// What to do at a point of the fault timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Inject fault `i`.
    Inject(usize),
    /// Undo fault `i`.
    Heal(usize),
}

/// The scenario's faults with their nodes chosen; `one` is drawn with a
/// stream of the seed separate from the requests'.
pub fn plan_faults(s: &Scenario, seed: u64) -> Vec<PlannedFault> {
    let names = node_names(s.cluster.nodes.value);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6661_756c_7473);
    s.faults
        .iter()
        .map(|f| {
            // A fault on the whole cluster acts on every node.
            let nodes = match f.value.node().map(|n| n.value.as_str()) {
                None | Some("all") => names.clone(),
                Some("one") => {
                    vec![names[(rng.next_u64() % names.len() as u64) as usize].clone()]
                }
                Some(n) => vec![n.to_string()],
            };
            let kind = match f.value {
                Fault::Kill(_) => FaultKind::Kill,
                Fault::Pause(_) => FaultKind::Pause,
                Fault::Restart(_) => FaultKind::Restart,
                Fault::Drain(_) => FaultKind::Drain,
                Fault::Maintenance(_) => FaultKind::Maintenance,
                Fault::StorageOutage(_) => FaultKind::StorageOutage,
                Fault::StorageUnshared(_) => FaultKind::StorageUnshared,
                Fault::DatabaseOutage(_) => FaultKind::DatabaseOutage,
                Fault::DatabaseFailover(_) => FaultKind::DatabaseFailover,
                Fault::Partition(ref p) => match p.from.value {
                    PartitionFrom::Lb => FaultKind::PartitionFromLb,
                    PartitionFrom::Tentacles => FaultKind::PartitionFromTentacles,
                },
            };
            let inject_us = f.value.at().value.as_micros_u64();
            PlannedFault {
                name: f.value.name(),
                kind,
                nodes,
                inject_us,
                // A restart is over once its new process runs: undone at once.
                heal_us: match f.value {
                    Fault::Restart(_) => Some(inject_us),
                    _ => f.value.hold().map(|h| inject_us + h.value.as_micros_u64()),
                },
                // How long the embedded cluster's failover takes, drawn
                // after the node choices so they stay as they were.
                failover: match &f.value {
                    Fault::DatabaseFailover(d) => {
                        let (lo, hi) = (
                            d.shortest.value.get(),
                            d.longest.value.get().max(d.shortest.value.get()),
                        );
                        let span = (hi - lo).as_micros() as u64;
                        let drawn = if span == 0 {
                            0
                        } else {
                            rng.next_u64() % (span + 1)
                        };
                        Some(lo + std::time::Duration::from_micros(drawn))
                    }
                    _ => None,
                },
                maintenance: match &f.value {
                    Fault::Maintenance(m) => Some(MaintenancePlan {
                        restart_after: m.restart_after.value.get(),
                        wait: m.wait.value.get(),
                    }),
                    _ => None,
                },
            }
        })
        .collect()
}

/// The prefix of the drains a capacity search makes.
pub const CAPACITY_DRAIN: &str = "capacity-drain";

/// The drains a capacity search makes, in the order it makes them: the
/// last `drain` of `nodes` (the run's names, in the cluster's order), the
/// last first. The search injects each when it goes on to one node fewer;
/// none is on the timeline, and the heal undoes them with every fault.
pub fn capacity_drains(s: &Scenario, nodes: &[String]) -> Vec<PlannedFault> {
    let drain = s.capacity.as_ref().map_or(0, |c| c.value.drain.value) as usize;
    nodes
        .iter()
        .rev()
        .take(drain)
        .map(|node| PlannedFault {
            name: format!("{CAPACITY_DRAIN}-{node}"),
            kind: FaultKind::Drain,
            nodes: vec![node.clone()],
            inject_us: 0,
            heal_us: None,
            maintenance: None,
            failover: None,
        })
        .collect()
}

/// Inject and heal actions in time order. At equal times, heals of earlier
/// faults go first, so a node is back before the next fault takes it; a
/// fault undone at the moment it is injected (a restart) is injected first.
pub fn timeline(faults: &[PlannedFault]) -> Vec<(u64, Action)> {
    let mut t: Vec<(u64, Action)> = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        t.push((f.inject_us, Action::Inject(i)));
        if let Some(h) = f.heal_us {
            t.push((h, Action::Heal(i)));
        }
    }
    t.sort_by_key(|&(at, a)| match a {
        Action::Heal(i) if faults[i].inject_us < at => (at, 0, i),
        Action::Inject(i) => (at, 1, i),
        Action::Heal(i) => (at, 2, i),
    });
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_str;
    use std::time::Duration;

    #[test]
    fn requests_are_evenly_spaced_and_seeded() {
        let mix = Mix {
            ping: 1,
            nodes: 1,
            root: 0,
        };
        let a: Vec<Planned> = RequestSchedule::new(1000.0, mix, 7).take(1000).collect();
        let b: Vec<Planned> = RequestSchedule::new(1000.0, mix, 7).take(1000).collect();
        assert_eq!(a, b);
        assert_eq!(a[0].at_us, 0);
        assert_eq!(a[999].at_us, 999_000);
        assert!(a.iter().all(|p| p.op != Op::Root));
        let pings = a.iter().filter(|p| p.op == Op::Ping).count();
        assert!((400..600).contains(&pings), "{pings} pings of 1000");
        let c: Vec<Op> = RequestSchedule::new(1000.0, mix, 8)
            .take(1000)
            .map(|p| p.op)
            .collect();
        assert_ne!(a.iter().map(|p| p.op).collect::<Vec<_>>(), c);
    }

    #[test]
    fn faults_resolve_nodes_and_order_heals_first() {
        let s = parse_str(
            "name: t\nduration: 60s\nfaults:\n  - kill: { node: one, at: 10s, for: 10s }\n  - pause: { node: n3, at: 20s, for: 5s }\n  - restart: { node: all, at: 40s }\n",
        )
        .unwrap();
        let f = plan_faults(&s, 1);
        assert_eq!(f[0].nodes.len(), 1);
        assert_eq!(f[0].nodes, plan_faults(&s, 1)[0].nodes);
        assert_eq!(f[1].nodes, vec!["n3"]);
        assert_eq!(f[2].nodes, vec!["n1", "n2", "n3"]);
        assert_eq!(
            timeline(&f),
            vec![
                (10_000_000, Action::Inject(0)),
                (20_000_000, Action::Heal(0)),
                (20_000_000, Action::Inject(1)),
                (25_000_000, Action::Heal(1)),
                (40_000_000, Action::Inject(2)),
                (40_000_000, Action::Heal(2)),
            ]
        );
    }

    #[test]
    fn a_database_failover_acts_on_every_node_its_window_is_the_longest_and_its_time_is_seeded() {
        let s = parse_str(
            "name: t\nduration: 60s\nfaults:\n  - database_failover: { at: 10s, shortest: 5s, longest: 30s }\n",
        )
        .unwrap();
        let times: Vec<Duration> = (0..20)
            .map(|seed| {
                let f = &plan_faults(&s, seed)[0];
                assert_eq!(f.name, "database_failover");
                assert_eq!(f.nodes, vec!["n1", "n2", "n3"]);
                assert_eq!(
                    f.heal_us,
                    Some(40_000_000),
                    "the window ends at the longest"
                );
                f.failover.expect("a drawn time")
            })
            .collect();
        assert!(
            times
                .iter()
                .all(|t| (Duration::from_secs(5)..=Duration::from_secs(30)).contains(t))
        );
        assert!(
            times.windows(2).any(|w| w[0] != w[1]),
            "the seed draws it: {times:?}"
        );
        assert_eq!(plan_faults(&s, 3)[0].failover, Some(times[3]));
    }
}
