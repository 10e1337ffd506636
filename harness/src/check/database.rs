//! `survives_database_outage` and `heartbeats_resume`: what a cluster must
//! show after its shared database was away (docs/faults.md,
//! "database_outage"). The evidence is the harness's own direct pings of
//! each node (their statuses and the heartbeat their bodies report), the
//! node starts it recorded, and the API requests of the run.

use serde_json::{Value, json};

use super::verdict::{Verdict, never_injected, secs, worst};
use super::windows::{cut_short, judged_windows, unjudged};
use crate::history::{FaultWindow, History, Request};
use crate::scenario::OutageCheck;
use crate::vocab::FaultKind;

/// The usual causes of a node that does not come back, for the details.
const NOT_BACK: &str = "the usual causes: a connection pool that does not recover keeps failing until the node is restarted, and on an Always On listener a connection string without MultiSubnetFailover=True reconnects slowly (OctopusDeploy/Issues #7963)";

/// `survives_database_outage`: every node answers its own ping with 200
/// within `within` of the database's return, without a restart, and API
/// requests failed only inside the outage plus `within`.
pub(super) fn survives(c: &OutageCheck, h: &History) -> (Verdict, String, Value) {
    let Some(judged) = each_node(c, h, "back_after_s", node_back) else {
        return never_injected("outages");
    };
    let PerNode {
        windows,
        within,
        mut outcomes,
        evidence,
    } = judged;
    outcomes.push(requests_outside(h, &windows, within));
    let (verdict, mut detail) = worst(&outcomes);
    if verdict == Verdict::Pass {
        let unjudged = !windows
            .iter()
            .flat_map(|w| &w.nodes)
            .all(|n| restarts_known(h, n));
        detail = format!(
            "{}{}; requests failed only during the outage",
            slowest(
                h,
                &evidence,
                "back_after_s",
                "answered its own ping with 200"
            ),
            if unjudged {
                "; whether a node restarted meanwhile could not be judged (the cluster gives no start time)"
            } else {
                ", each in the same process"
            }
        );
    }
    (
        verdict,
        detail,
        json!({ "within_s": within as f64 / 1e6, "nodes": evidence }),
    )
}

/// Each node judged after each outage the check names.
struct PerNode {
    windows: Vec<FaultWindow>,
    within: u64,
    outcomes: Vec<(Verdict, String)>,
    evidence: Vec<Value>,
}

/// How one node came back after one outage: verdict, detail, and after
/// how long, counted from the database's return.
type NodeJudge = fn(&History, &FaultWindow, &str, u64) -> (Verdict, String, Option<u64>);

/// Judges every node of every outage the check names with `judge`, its
/// time recorded under `key`; None when no outage was injected.
fn each_node(c: &OutageCheck, h: &History, key: &str, judge: NodeJudge) -> Option<PerNode> {
    let windows = judged_windows(h, c.fault.as_ref(), FaultKind::DATABASE);
    if windows.is_empty() {
        return None;
    }
    let within = c.within.value.as_micros_u64();
    let mut outcomes = Vec::new();
    let mut evidence = Vec::new();
    for w in &windows {
        if let Some(why) = unjudged(w) {
            outcomes.push((Verdict::Unknown, why));
            continue;
        }
        for node in &w.nodes {
            let (verdict, detail, after) = judge(h, w, node, within);
            evidence.push(json!({
                "fault": w.name,
                "node": node,
                key: after.map(|us| us as f64 / 1e6),
                "verdict": verdict,
            }));
            outcomes.push((verdict, detail));
        }
    }
    Some(PerNode {
        windows,
        within,
        outcomes,
        evidence,
    })
}

/// One node after one outage: whether it restarted, and when its own
/// ping answered 200 again, counted from the database's return.
fn node_back(
    h: &History,
    w: &FaultWindow,
    node: &str,
    within: u64,
) -> (Verdict, String, Option<u64>) {
    let who = h.label(node);
    let ups: Vec<(u64, Option<u32>)> = h.node_ups(node).collect();
    // A start after the outage began that no other fault on the node
    // explains: the node's process ended.
    let others: Vec<FaultWindow> = h
        .fault_windows()
        .into_iter()
        .filter(|o| o.name != w.name && o.nodes.iter().any(|n| n == node))
        .collect();
    let restart = ups.iter().find(|(at, _)| {
        *at >= w.start_us
            && !others
                .iter()
                .any(|o| o.start_us <= *at && *at <= o.end_us.saturating_add(within))
    });
    if let Some((at, _)) = restart {
        return (
            Verdict::Fail,
            format!(
                "{who} was started again at {} after {} began: its process ended, as a node whose service stops when it loses its database does (Octopus 3.17.8, OctopusDeploy/Issues #4012)",
                secs(*at),
                w.name
            ),
            None,
        );
    }
    let statuses: Vec<(u64, Option<u16>)> = h.node_statuses(node).collect();
    if statuses.is_empty() {
        return (
            Verdict::Unknown,
            format!("no direct ping of {who} was recorded"),
            None,
        );
    }
    let at_return = statuses
        .iter()
        .rev()
        .find(|(at, _)| *at <= w.end_us)
        .map(|(_, s)| *s);
    let back = if at_return == Some(Some(200)) {
        Some(w.end_us)
    } else {
        statuses
            .iter()
            .find(|(at, s)| *at > w.end_us && *s == Some(200))
            .map(|(at, _)| *at)
    };
    let unjudged = if restarts_known(h, node) {
        String::new()
    } else {
        "; whether it restarted meanwhile could not be judged (the cluster gives no start time)"
            .to_string()
    };
    match back {
        Some(at) if at - w.end_us <= within => (
            Verdict::Pass,
            format!(
                "{who} answered its own ping with 200 {} after the database returned{unjudged}",
                secs(at - w.end_us)
            ),
            Some(at - w.end_us),
        ),
        _ => {
            let last = statuses.last().map(|(at, s)| (*at, *s));
            let saw = match last {
                Some((at, Some(s))) => format!("it answered {s} from {} on", secs(at)),
                Some((at, None)) => format!("it answered nothing from {} on", secs(at)),
                None => "it was never probed".into(),
            };
            let fail = format!(
                "{who}'s own ping did not answer 200 within {} of the database's return ({saw}); {NOT_BACK}",
                secs(within)
            );
            match cut_short(
                h,
                &format!("the wait for {who} after {}", w.name),
                w.end_us,
                within,
            ) {
                Some(why) => (Verdict::Unknown, why, None),
                None => (Verdict::Fail, fail, back.map(|at| at - w.end_us)),
            }
        }
    }
}

/// Whether the harness could tell a restart of `node`: it knows the
/// processes of a cluster it started, and a real one's nodes only as URLs.
fn restarts_known(h: &History, node: &str) -> bool {
    h.node_ups(node).any(|(_, pid)| pid.is_some())
}

/// API requests that failed outside every fault window (widened by
/// `within`): the outage's errors must end once the database is back.
fn requests_outside(h: &History, outages: &[FaultWindow], within: u64) -> (Verdict, String) {
    let windows = h.fault_windows();
    let measured: Vec<&Request> = h.measured_requests().collect();
    if measured.is_empty() {
        return (Verdict::Unknown, "no API request was recorded".into());
    }
    let after_any = outages.iter().any(|w| {
        measured
            .iter()
            .any(|r| r.intended_us > w.end_us.saturating_add(within))
    });
    let outside: Vec<&&Request> = measured
        .iter()
        .filter(|r| r.is_error() && !windows.iter().any(|w| w.overlaps(r, within)))
        .collect();
    match outside.first() {
        Some(first) => (
            Verdict::Fail,
            format!(
                "{} of {} requests failed outside the outage plus {}, the first at {} ({})",
                outside.len(),
                measured.len(),
                secs(within),
                secs(first.intended_us),
                first
                    .status
                    .map(|s| s.to_string())
                    .or(first.error.clone())
                    .unwrap_or_else(|| "no answer".into())
            ),
        ),
        None if !after_any => (
            Verdict::Unknown,
            format!(
                "no API request was sent later than {} after the database returned, so the end of its errors was not seen",
                secs(within)
            ),
        ),
        None => (
            Verdict::Pass,
            "requests failed only inside the outage".into(),
        ),
    }
}

/// `heartbeats_resume`: every node's LastSeen moves again within `within`
/// of the database's return, and no node is left offline.
pub(super) fn heartbeats(c: &OutageCheck, h: &History) -> (Verdict, String, Value) {
    let Some(judged) = each_node(c, h, "last_seen_moved_after_s", heartbeat_back) else {
        return never_injected("heartbeats");
    };
    let PerNode {
        within,
        outcomes,
        evidence,
        ..
    } = judged;
    let (verdict, mut detail) = worst(&outcomes);
    if verdict == Verdict::Pass {
        detail = slowest(
            h,
            &evidence,
            "last_seen_moved_after_s",
            "LastSeen moved again",
        );
    }
    (
        verdict,
        detail,
        json!({ "within_s": within as f64 / 1e6, "nodes": evidence }),
    )
}

/// A passing check's detail: every node did `what`, and the slowest after
/// how long, from the evidence's `key`.
fn slowest(h: &History, evidence: &[Value], key: &str, what: &str) -> String {
    let worst = evidence
        .iter()
        .filter_map(|e| Some((e["node"].as_str()?, e[key].as_f64()?)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let nodes: std::collections::BTreeSet<&str> =
        evidence.iter().filter_map(|e| e["node"].as_str()).collect();
    match worst {
        Some((node, s)) => format!(
            "every node ({}) {what} after the database returned, the slowest ({}) after {s:.1}s",
            nodes.len(),
            h.label(node)
        ),
        None => format!("every node {what} after the database returned"),
    }
}

/// One node's heartbeat after one outage: when its LastSeen first moved
/// past the value it had when the database returned, and whether the
/// node's last word is that it is online. LastSeen is the cluster's own
/// clock, so it is compared only with itself: heartbeats write it forward.
fn heartbeat_back(
    h: &History,
    w: &FaultWindow,
    node: &str,
    within: u64,
) -> (Verdict, String, Option<u64>) {
    let who = h.label(node);
    let seen: Vec<(u64, &str, bool)> = h.node_seen(node).collect();
    let Some(last) = seen.last() else {
        return (
            Verdict::Unknown,
            format!("no ping body of {who} gave its LastSeen"),
            None,
        );
    };
    let before = seen
        .iter()
        .rev()
        .find(|(at, _, _)| *at <= w.end_us)
        .map(|(_, s, _)| *s);
    let moved = seen
        .iter()
        .find(|(at, s, _)| *at > w.end_us && Some(*s) != before)
        .map(|(at, _, _)| at - w.end_us);
    let still = before.unwrap_or("never read");
    match moved {
        Some(after) if after <= within && !last.2 => (
            Verdict::Pass,
            format!(
                "{who}'s LastSeen moved again {} after the database returned",
                secs(after)
            ),
            Some(after),
        ),
        Some(after) if after <= within => (
            Verdict::Fail,
            format!(
                "{who} was left offline: its last ping body, at {}, says IsOffline true",
                secs(last.0)
            ),
            Some(after),
        ),
        _ => {
            let fail = format!(
                "{who}'s LastSeen did not move within {} of the database's return (still {still}{}): its heartbeats did not resume; {NOT_BACK}",
                secs(within),
                match moved {
                    Some(after) => format!(" until {} after", secs(after)),
                    None => String::new(),
                }
            );
            match cut_short(
                h,
                &format!("the wait for {who}'s heartbeat after {}", w.name),
                w.end_us,
                within,
            ) {
                Some(why) => (Verdict::Unknown, why, moved),
                None => (Verdict::Fail, fail, moved),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, FaultAction, FaultEvent, Op, Outcome, Phase};
    use crate::scenario::Check;

    const S: u64 = 1_000_000;
    const NODES: [&str; 3] = ["n1", "n2", "n3"];

    /// How one node lives through an outage from 10 s to 20 s.
    #[derive(Clone, Copy, PartialEq)]
    enum Node {
        /// Back at 21 s, its heartbeat too.
        Correct,
        /// Its process ends at 12 s and starts again at 30 s.
        Exits,
        /// Answers 500 from 12 s on; LastSeen stands still.
        NoReconnect,
        /// Back, but its last word is IsOffline.
        LeftOffline,
    }

    fn fault(at_us: u64, action: FaultAction) -> Event {
        Event::Fault(FaultEvent {
            at_us,
            done_us: None,
            step: None,
            name: "database_outage".into(),
            kind: FaultKind::DatabaseOutage,
            nodes: NODES.iter().map(|n| n.to_string()).collect(),
            action,
            error: None,
        })
    }

    /// Three nodes, the database away from 10 s to 20 s (`healed`), pings
    /// through the LB every 100 ms to 40 s, failing from 10 s to 21 s
    /// (and, with `late_errors`, at 35 s too).
    fn history(n3: Node, healed: bool, late_errors: bool) -> History {
        let mut events = vec![Event::Phase {
            at_us: 0,
            phase: Phase::Workload,
        }];
        for (i, n) in NODES.iter().enumerate() {
            events.push(Event::NodeUp {
                at_us: 0,
                node: n.to_string(),
                address: String::new(),
                pid: Some(100 + i as u32),
                boot_ms: 0,
            });
        }
        let status = |at_us, node: &str, status| Event::NodeStatus {
            at_us,
            node: node.into(),
            status,
        };
        let seen = |at_us, node: &str, t: u64, offline| Event::NodeSeen {
            at_us,
            node: node.into(),
            last_seen: format!("2026-12-07T00:00:{t:02}.000+00:00"),
            offline,
        };
        events.push(fault(10 * S, FaultAction::Inject));
        for n in NODES {
            let how = if n == "n3" { n3 } else { Node::Correct };
            events.push(status(0, n, Some(200)));
            events.push(seen(0, n, 0, false));
            events.push(status(10 * S + 200_000, n, None));
            match how {
                Node::Correct | Node::LeftOffline => {
                    events.push(status(21 * S, n, Some(200)));
                    events.push(seen(21 * S, n, 21, how == Node::LeftOffline));
                }
                Node::Exits => events.push(Event::NodeUp {
                    at_us: 30 * S,
                    node: n.into(),
                    address: String::new(),
                    pid: Some(200),
                    boot_ms: 0,
                }),
                Node::NoReconnect => events.push(status(12 * S, n, Some(500))),
            }
        }
        if healed {
            events.push(fault(20 * S, FaultAction::Heal));
        }
        for seq in 0..400u64 {
            let t = seq * 100_000;
            let failed = (10 * S..21 * S).contains(&t) || (late_errors && t == 35 * S);
            events.push(Event::Request(crate::history::Request {
                seq,
                op: Op::Ping,
                intended_us: t,
                sent_us: t,
                done_us: t + 1000,
                outcome: if failed { Outcome::Fail } else { Outcome::Ok },
                status: Some(if failed { 500 } else { 200 }),
                error: None,
                bytes: 1,
                node: None,
                held: false,
                load: false,
            }));
        }
        History { events }
    }

    fn check(kind: &str) -> OutageCheck {
        let yaml = format!(
            "name: t\nduration: 40s\nworkload:\n  - api: {{ rate: 10/s }}\nfaults:\n  - database_outage: {{ at: 10s, for: 10s }}\nchecks:\n  - {kind}: {{ within: 5s }}\n"
        );
        let s = crate::scenario::parse_str(&yaml).unwrap();
        match &s.checks[0].value {
            Check::SurvivesDatabaseOutage(c) | Check::HeartbeatsResume(c) => c.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn survives_passes_fails_on_each_broken_node_and_cannot_tell_an_outage_never_undone() {
        let c = check("survives_database_outage");
        let (v, d, _) = survives(&c, &history(Node::Correct, true, false));
        assert_eq!(v, Verdict::Pass, "{d}");
        let (v, d, _) = survives(&c, &history(Node::Exits, true, false));
        assert_eq!(v, Verdict::Fail);
        assert!(d.contains("n3") && d.contains("its process ended"), "{d}");
        let (v, d, _) = survives(&c, &history(Node::NoReconnect, true, false));
        assert_eq!(v, Verdict::Fail);
        assert!(
            d.contains("n3") && d.contains("answered 500 from 12.0s on"),
            "{d}"
        );
        let (v, d, _) = survives(&c, &history(Node::Correct, true, true));
        assert_eq!(v, Verdict::Fail);
        assert!(d.contains("1 of 400 requests failed outside"), "{d}");
        let (v, d, _) = survives(&c, &history(Node::Correct, false, false));
        assert_eq!(v, Verdict::Unknown);
        assert!(d.contains("never undone"), "{d}");
    }

    #[test]
    fn heartbeats_pass_fail_when_last_seen_stands_or_a_node_is_left_offline() {
        let c = check("heartbeats_resume");
        let (v, d, _) = heartbeats(&c, &history(Node::Correct, true, false));
        assert_eq!(v, Verdict::Pass, "{d}");
        let (v, d, _) = heartbeats(&c, &history(Node::NoReconnect, true, false));
        assert_eq!(v, Verdict::Fail);
        assert!(
            d.contains("n3") && d.contains("did not move") && d.contains("00:00:00"),
            "{d}"
        );
        let (v, d, _) = heartbeats(&c, &history(Node::LeftOffline, true, false));
        assert_eq!(v, Verdict::Fail);
        assert!(d.contains("n3 was left offline"), "{d}");
        // No ping body ever gave LastSeen: nothing to judge by.
        let mut h = history(Node::Correct, true, false);
        h.events.retain(|e| !matches!(e, Event::NodeSeen { .. }));
        let (v, d, _) = heartbeats(&c, &h);
        assert_eq!(v, Verdict::Unknown, "{d}");
    }
}
