//! Checks of a polling-Tentacle fleet (docs/failure-modes.md, "Polling
//! Tentacles"): fan-out, the served certificate, every node reaching every
//! Tentacle, the reconnect storm after a restart, and RPC round trips.
//! All of them replay the fleet's connection events and the health
//! rounds' results from the history.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use super::verdict::{Verdict, never_injected, worst};
use super::windows::{cut_short, judged_windows};
use crate::history::{
    Event, FaultWindow, FleetStarted, HealthTaskSeen, History, PollingChange, TaskState,
};
use crate::metrics::{histogram_of, percentile_us};
use crate::scenario::{ReconnectStorm, RpcLatency};
use crate::vocab::FaultKind;

/// Pairs named in a detail line; the evidence has them all.
const NAMED: usize = 8;

/// Most pairs listed in the evidence.
const LISTED: usize = 2000;

fn fleet(h: &History) -> Option<&FleetStarted> {
    h.events.iter().find_map(|e| match e {
        Event::Fleet(f) => Some(f),
        _ => None,
    })
}

fn no_fleet() -> (Verdict, String, Value) {
    (Verdict::Unknown, "no fleet was started".into(), json!({}))
}

fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}

fn names(list: &[String]) -> String {
    let mut s = list
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > NAMED {
        s.push_str(&format!(" and {} more", list.len() - NAMED));
    }
    s
}

/// Open connections per (Tentacle, node), replayed event by event.
#[derive(Default)]
struct Replay {
    open: HashMap<(String, String), u32>,
}

impl Replay {
    fn apply(&mut self, tentacle: &str, node: &str, change: PollingChange) {
        let n = self
            .open
            .entry((tentacle.to_string(), node.to_string()))
            .or_default();
        match change {
            PollingChange::Connected => *n += 1,
            PollingChange::Dropped => *n = n.saturating_sub(1),
            PollingChange::Failed => {}
        }
    }

    /// The Tentacle–node pairs with no open connection, leaving out the
    /// nodes a fault holds down at the moment.
    fn missing(&self, f: &FleetStarted, down: &BTreeSet<&str>) -> Vec<String> {
        let mut missing = Vec::new();
        for t in &f.tentacles {
            for node in f.nodes.iter().filter(|n| !down.contains(n.as_str())) {
                if self
                    .open
                    .get(&(t.name.clone(), node.clone()))
                    .copied()
                    .unwrap_or(0)
                    == 0
                {
                    missing.push(format!("{}↔{node}", t.name));
                }
            }
        }
        missing
    }
}

/// The instants fan-out is judged at: the start of each health round,
/// and the end of the workload.
fn instants(h: &History) -> Vec<(u64, String)> {
    let mut rounds: BTreeMap<u32, u64> = BTreeMap::new();
    for e in &h.events {
        if let Event::HealthTask(t) = e {
            let at = rounds.entry(t.round).or_insert(t.queued_us);
            *at = (*at).min(t.queued_us);
        }
    }
    let mut out: Vec<(u64, String)> = rounds
        .into_iter()
        .map(|(r, at)| (at, format!("health round {}", r + 1)))
        .collect();
    if let Some(end) = h.events.iter().find_map(|e| match e {
        Event::Phase {
            at_us,
            phase: crate::history::Phase::Heal,
        } => Some(*at_us),
        _ => None,
    }) {
        out.push((end, "the end of the workload".into()));
    }
    out.sort();
    out
}

/// A fleet that is not the one the scenario asked for cannot pass: an
/// empty or partly registered fleet proves nothing about the rest.
fn short_fleet(f: &FleetStarted) -> Option<(Verdict, String, Value)> {
    if f.tentacles.len() >= f.requested as usize && !f.tentacles.is_empty() {
        return None;
    }
    Some((
        Verdict::Fail,
        format!(
            "only {} of {} Tentacles could be registered: {}",
            f.tentacles.len(),
            f.requested,
            names(&f.registration_errors)
        ),
        json!({ "registration_errors": f.registration_errors }),
    ))
}

/// Whether a fault of `kind` excuses a node's missing polling
/// connections: not a drain, under which the node serves on, nor a
/// partition, whose cut the fan-out checks are there to catch.
fn holds_down(kind: FaultKind) -> bool {
    !matches!(
        kind,
        FaultKind::Drain | FaultKind::PartitionFromLb | FaultKind::PartitionFromTentacles
    )
}

/// `polling_fan_out`: at each judged instant, every Tentacle has a live
/// polling connection to every node a fault does not hold down.
pub(super) fn fan_out(h: &History) -> (Verdict, String, Value) {
    let Some(f) = fleet(h) else { return no_fleet() };
    if let Some(short) = short_fleet(f) {
        return short;
    }
    let judged = instants(h);
    if judged.is_empty() {
        return (
            Verdict::Unknown,
            "no health round or end of workload to judge fan-out at".into(),
            json!({}),
        );
    }
    let windows = h.fault_windows();
    let down_at = |at: u64| -> BTreeSet<&str> {
        windows
            .iter()
            .filter(|w| w.start_us <= at && at <= w.end_us && holds_down(w.kind))
            .flat_map(|w| w.nodes.iter().map(String::as_str))
            .collect()
    };
    let mut replay = Replay::default();
    let mut next = judged.iter().peekable();
    let mut verdicts = Vec::new();
    let mut first_gap: Option<(String, usize, Vec<String>)> = None;
    let mut judge_at = |replay: &Replay, at: u64, label: &str, verdicts: &mut Vec<Value>| {
        let down = down_at(at);
        let pairs = f.tentacles.len()
            * f.nodes
                .iter()
                .filter(|n| !down.contains(n.as_str()))
                .count();
        let missing = replay.missing(f, &down);
        if !missing.is_empty() && first_gap.is_none() {
            first_gap = Some((label.to_string(), pairs, missing.clone()));
        }
        verdicts.push(json!({
            "at": label,
            "at_s": secs(at),
            "nodes_down": down,
            "connected_pairs": pairs - missing.len(),
            "missing": missing.iter().take(LISTED).collect::<Vec<_>>(),
        }));
    };
    for e in &h.events {
        let Event::Polling(p) = e else { continue };
        while let Some((at, label)) = next.peek() {
            if *at > p.at_us {
                break;
            }
            judge_at(&replay, *at, label, &mut verdicts);
            next.next();
        }
        replay.apply(&p.tentacle, &p.node, p.change);
    }
    for (at, label) in next {
        judge_at(&replay, *at, label, &mut verdicts);
    }
    let to_full = h.fleet_fan_out_us().map(secs);
    let evidence = json!({
        "tentacles": f.tentacles.len(),
        "nodes": f.nodes,
        "endpoints": f.endpoints,
        "time_to_full_fan_out_s": to_full,
        "judged": verdicts,
    });
    match first_gap {
        None => (
            Verdict::Pass,
            format!(
                "all {} Tentacles polled all {} nodes at every judged instant{}",
                f.tentacles.len(),
                f.nodes.len(),
                to_full.map_or(String::new(), |t| format!(
                    "; every connection was up {t:.2}s after the fleet started"
                ))
            ),
            evidence,
        ),
        Some((label, pairs, missing)) => (
            Verdict::Fail,
            format!(
                "at {label}, {} of {pairs} Tentacle–node pairs had no polling connection: {}",
                missing.len(),
                names(&missing)
            ),
            evidence,
        ),
    }
}

/// `polling_certificate`: every node's endpoint served the cluster's one
/// thumbprint and Halibut's friendly page, so TLS ends at the node.
pub(super) fn certificate(h: &History) -> (Verdict, String, Value) {
    let Some(f) = fleet(h) else { return no_fleet() };
    let probes: Vec<_> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Event::PollingProbe(p) => Some(p),
            _ => None,
        })
        .collect();
    let mut problems = Vec::new();
    for node in &f.nodes {
        let mine: Vec<_> = probes.iter().filter(|p| &p.node == node).collect();
        if mine.is_empty() {
            problems.push(format!("{node}: not probed"));
        }
        for p in mine {
            match (&p.error, &p.thumbprint) {
                (Some(e), _) => problems.push(format!("{node} ({}): {e}", p.address)),
                (None, Some(t)) if *t != f.server_thumbprint => problems.push(format!(
                    "{node} ({}) served thumbprint {t}, not the cluster's {}: TLS is terminated before the node",
                    p.address, f.server_thumbprint
                )),
                (None, None) => problems.push(format!("{node} ({}): no certificate", p.address)),
                (None, Some(_)) if !p.friendly_page => problems.push(format!(
                    "{node} ({}): the right certificate, but not Halibut's page behind it",
                    p.address
                )),
                _ => {}
            }
        }
    }
    let evidence = json!({
        "expected_thumbprint": f.server_thumbprint,
        "probes": probes,
    });
    if problems.is_empty() {
        (
            Verdict::Pass,
            format!(
                "all {} nodes served thumbprint {} and Halibut's page end to end",
                f.nodes.len(),
                f.server_thumbprint
            ),
            evidence,
        )
    } else {
        (Verdict::Fail, problems.join("; "), evidence)
    }
}

/// `every_node_reaches_every_tentacle`: in every round, the health task
/// pinned to each node reached every Tentacle.
pub(super) fn every_node_reaches(h: &History) -> (Verdict, String, Value) {
    let Some(f) = fleet(h) else { return no_fleet() };
    if let Some(short) = short_fleet(f) {
        return short;
    }
    let tentacle_of: HashMap<&str, &str> = f
        .tentacles
        .iter()
        .map(|t| (t.machine.as_str(), t.name.as_str()))
        .collect();
    let tasks: Vec<_> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Event::HealthTask(t) => Some(t),
            _ => None,
        })
        .collect();
    if tasks.is_empty() {
        return (Verdict::Unknown, "no health round ran".into(), json!({}));
    }
    let seen = health_outcomes(h);
    let mut unreached = Unreached::new();
    let rounds: Vec<Value> = tasks
        .iter()
        .map(|t| judge_round(f, t, &seen, &tentacle_of, &mut unreached))
        .collect();
    let mut checked_nodes: BTreeSet<String> =
        tasks.iter().filter_map(|t| t.ran_on.clone()).collect();
    let never: Vec<String> = f
        .nodes
        .iter()
        .filter(|n| !checked_nodes.remove(n.as_str()) && !unreached.contains_key(n.as_str()))
        .cloned()
        .collect();
    let evidence = json!({ "rounds": rounds, "nodes_never_checked": never });
    if unreached.is_empty() && never.is_empty() {
        return (
            Verdict::Pass,
            format!(
                "{} health tasks over {} nodes reached all {} Tentacles",
                tasks.len(),
                f.nodes.len(),
                f.tentacles.len()
            ),
            evidence,
        );
    }
    if unreached.is_empty() {
        return (
            Verdict::Unknown,
            format!("no health task ran on {}", never.join(", ")),
            evidence,
        );
    }
    let parts: Vec<String> = unreached
        .iter()
        .map(|(node, (ts, why))| {
            let list: Vec<String> = ts.iter().cloned().collect();
            format!(
                "{node} could not reach {} of {} Tentacles ({}): {why}",
                ts.len(),
                f.tentacles.len(),
                names(&list)
            )
        })
        .collect();
    (Verdict::Fail, parts.join("; "), evidence)
}

/// Each health check's outcome, by (round, node) and then machine: whether
/// it reached the machine, and the error if not.
type HealthOutcomes<'a> = HashMap<(u32, &'a str), HashMap<&'a str, (bool, Option<&'a str>)>>;

/// Per node, the Tentacles it failed to reach over all rounds, and the
/// first reason.
type Unreached = BTreeMap<String, (BTreeSet<String>, String)>;

fn health_outcomes(h: &History) -> HealthOutcomes<'_> {
    let mut seen = HealthOutcomes::new();
    for e in &h.events {
        if let Event::Health(x) = e {
            seen.entry((x.round, x.node.as_str()))
                .or_default()
                .insert(x.machine.as_str(), (x.ok, x.error.as_deref()));
        }
    }
    seen
}

/// One health task: the Tentacles it did not reach go into `unreached`
/// under its node; returns the round's evidence.
fn judge_round(
    f: &FleetStarted,
    t: &HealthTaskSeen,
    seen: &HealthOutcomes<'_>,
    tentacle_of: &HashMap<&str, &str>,
    unreached: &mut Unreached,
) -> Value {
    // A task counts for the node that ran it; one that never ran counts
    // against the node it was pinned to.
    let node = t.ran_on.clone().unwrap_or_else(|| t.node.clone());
    let outcomes = seen.get(&(t.round, node.as_str()));
    let mut bad = Vec::new();
    for m in &f.tentacles {
        let why = match outcomes.and_then(|o| o.get(m.machine.as_str())) {
            Some((true, _)) => continue,
            Some((false, why)) => why.unwrap_or("failed").to_string(),
            None => t.error.clone().unwrap_or_else(|| match t.state {
                Some(s) => format!("the health task ended {} without checking it", s.as_str()),
                None => "the health task did not finish".into(),
            }),
        };
        bad.push(m.name.clone());
        let entry = unreached
            .entry(node.clone())
            .or_insert_with(|| (BTreeSet::new(), why.clone()));
        entry.0.insert(
            tentacle_of
                .get(m.machine.as_str())
                .copied()
                .unwrap_or(&m.name)
                .to_string(),
        );
    }
    json!({
        "round": t.round + 1,
        "pinned_to": t.node,
        "ran_on": t.ran_on,
        "task": t.task,
        "state": t.state.map(TaskState::as_str),
        "unreached": bad.iter().take(LISTED).collect::<Vec<_>>(),
    })
}

/// `reconnect_storm`: after each kill or restart of a node, or its
/// partition from the Tentacles, every connection of the fleet to that
/// node is back within the bound.
pub(super) fn reconnect_storm(c: &ReconnectStorm, h: &History) -> (Verdict, String, Value) {
    let Some(f) = fleet(h) else { return no_fleet() };
    let windows: Vec<_> = judged_windows(
        h,
        None,
        &[
            FaultKind::Kill,
            FaultKind::Restart,
            FaultKind::Maintenance,
            FaultKind::PartitionFromTentacles,
        ],
    );
    if windows.is_empty() {
        return never_injected("restarts");
    }
    let mut outcomes = Vec::new();
    let mut restarts = Vec::new();
    for w in &windows {
        for node in &w.nodes {
            let (verdict, line, evidence) = fleet_return(c, h, f, w, node);
            restarts.extend(evidence);
            outcomes.push((verdict, line));
        }
    }
    let (verdict, detail) = worst(&outcomes);
    (verdict, detail, json!({ "restarts": restarts }))
}

/// Whether the fleet's connections to `node` were all back within the
/// bound after fault `w`, with the evidence of a return that was watched.
fn fleet_return(
    c: &ReconnectStorm,
    h: &History,
    f: &FleetStarted,
    w: &FaultWindow,
    node: &str,
) -> (Verdict, String, Option<Value>) {
    let within_us = c.within.value.get().as_micros() as u64;
    if !f.endpoints.iter().any(|(n, _)| n == node) {
        return (
            Verdict::Unknown,
            format!(
                "the fleet does not poll {node}, so {} cannot judge it",
                w.name
            ),
            None,
        );
    }
    // A partitioned node never went down: it is back for the fleet once
    // the partition is undone.
    let up = if w.kind == FaultKind::PartitionFromTentacles {
        w.healed.then(|| w.healed_done_us.unwrap_or(w.end_us))
    } else {
        h.events.iter().find_map(|e| match e {
            Event::NodeUp { at_us, node: n, .. } if n == node && *at_us >= w.start_us => {
                Some(*at_us)
            }
            _ => None,
        })
    };
    let Some(up) = up else {
        return (
            Verdict::Unknown,
            format!("{node} never came back after {}", w.name),
            None,
        );
    };
    let per_node = f.connections as usize * f.tentacles.len();
    let Return {
        open,
        back,
        attempts,
        first_drop,
    } = replay_return(h, node, w.start_us, up, per_node);
    let span = back.unwrap_or(h.end_us()).saturating_sub(w.start_us).max(1);
    let rate = attempts as f64 / secs(span);
    let storm = format!("{attempts} connection attempts, {rate:.1}/s");
    let (verdict, line) = match back {
        Some(b) if b.saturating_sub(up) <= within_us => (
            Verdict::Pass,
            format!(
                "after {} the fleet was back on {node} in {:.2}s ({storm})",
                w.name,
                secs(b.saturating_sub(up))
            ),
        ),
        Some(b) => (
            Verdict::Fail,
            format!(
                "after {} the fleet took {:.2}s to be back on {node}, over {} ({storm})",
                w.name,
                secs(b.saturating_sub(up)),
                c.within.value
            ),
        ),
        None => (
            Verdict::Fail,
            format!(
                "after {} only {open} of {per_node} polling connections to {node} came back ({storm})",
                w.name
            ),
        ),
    };
    // A return the run's interruption came in before the bound
    // elapsed: unknown, not fail (docs/robustness.md, "Interrupted runs").
    let (verdict, line) = match verdict {
        Verdict::Fail => match cut_short(
            h,
            &format!("the fleet's return to {node} after {}", w.name),
            up,
            within_us,
        ) {
            Some(why) => (Verdict::Unknown, why),
            None => (verdict, line),
        },
        _ => (verdict, line),
    };
    let evidence = json!({
        "fault": w.name,
        "node": node,
        "node_up_s": secs(up),
        "first_drop_s": first_drop.map(secs),
        "time_to_full_fan_out_s": back.map(|b| secs(b - up)),
        "connection_attempts": attempts,
        "attempts_per_s": rate,
    });
    (verdict, line, Some(evidence))
}

/// The fleet's connections to one node, replayed through a fault.
struct Return {
    /// Connections open at the end of the history.
    open: usize,
    /// When every connection was back, if it was.
    back: Option<u64>,
    /// Connection attempts from the fault until they were all back.
    attempts: u64,
    /// The first connection dropped from the fault on.
    first_drop: Option<u64>,
}

/// Replays the connections to `node` to its restart at `up` and on, for a
/// fault that began at `from_us`. The fleet may be back before the restart
/// is recorded (the node listens before it says it is up), so the count is
/// also judged as the replay passes the restart, once the drops are in the
/// history.
fn replay_return(h: &History, node: &str, from_us: u64, up: u64, per_node: usize) -> Return {
    let mut open = 0usize;
    let mut back: Option<u64> = None;
    let mut attempts = 0u64;
    let mut first_drop: Option<u64> = None;
    let mut passed_up = false;
    for e in &h.events {
        let Event::Polling(p) = e else { continue };
        if p.node != node {
            continue;
        }
        if !passed_up && p.at_us >= up {
            passed_up = true;
            if first_drop.is_some() && open >= per_node {
                back = Some(up);
            }
        }
        match p.change {
            PollingChange::Connected => open += 1,
            PollingChange::Dropped => {
                open = open.saturating_sub(1);
                if p.at_us >= from_us {
                    first_drop.get_or_insert(p.at_us);
                }
            }
            PollingChange::Failed => {}
        }
        if p.at_us >= from_us && back.is_none() && p.change != PollingChange::Dropped {
            attempts += 1;
        }
        if passed_up && back.is_none() && open >= per_node {
            back = Some(p.at_us);
        }
    }
    if !passed_up && back.is_none() && first_drop.is_some() && open >= per_node {
        back = Some(up);
    }
    Return {
        open,
        back,
        attempts,
        first_drop,
    }
}

/// `rpc_latency`: a percentile of every health-check call's round trip.
pub(super) fn rpc_latency(c: &RpcLatency, h: &History) -> (Verdict, String, Value) {
    let rtts = h.events.iter().flat_map(|e| match e {
        Event::Health(x) => x.rtt_us.as_slice(),
        _ => &[],
    });
    let hist = histogram_of(rtts.copied());
    let p = c.percentile.value;
    let Some(at) = percentile_us(&hist, p) else {
        return (
            Verdict::Unknown,
            "no RPC completed".into(),
            json!({ "calls": 0 }),
        );
    };
    let bound = c.below.get().as_micros() as u64;
    let evidence = json!({
        "calls": hist.len(),
        "p50_ms": hist.value_at_percentile(50.0) as f64 / 1e3,
        "p99_ms": hist.value_at_percentile(99.0) as f64 / 1e3,
        "max_ms": hist.max() as f64 / 1e3,
        "percentile": p,
        "value_ms": at as f64 / 1e3,
        "below_ms": bound as f64 / 1e3,
    });
    let line = format!(
        "p{p} of {} polling RPCs was {:.1} ms (bound {})",
        hist.len(),
        at as f64 / 1e3,
        c.below
    );
    if at < bound {
        (Verdict::Pass, line, evidence)
    } else {
        (Verdict::Fail, line, evidence)
    }
}

#[cfg(test)]
mod tests;
