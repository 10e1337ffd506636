//! Tests of the drain contract, on hand-made histories.

use super::super::tasks::build::*;
use crate::check::{CheckResult, Verdict, judge};
use crate::history::{Event, FaultAction, History, Op, Outcome, Request, TaskState};
use crate::scenario::parse_str;
use crate::vocab::FaultKind;

use TaskState::{Canceled, Success};

const CONTRACT: &str = "drain_contract: { lb_within: 3s }";

/// Judges `check` (one line of YAML) on `events`, in a scenario with
/// pings, tasks and n1 drained from 5 s to 15 s.
fn judged(check: &str, events: Vec<Event>) -> CheckResult {
    let yaml = format!(
        "name: t\nduration: 30s\nworkload:\n  - api: {{ rate: 100/s }}\n  - tasks: {{ burst: 10 }}\nfaults:\n  - drain: {{ node: n1, at: 5s, for: 10s }}\nchecks:\n  - {check}\n"
    );
    let s = parse_str(&yaml).unwrap();
    judge(&s.checks[0].value, &History { events })
}

fn assert_verdict(r: &CheckResult, verdict: Verdict, says: &str) {
    assert_eq!(r.verdict, verdict, "{r:?}");
    assert!(r.detail.contains(says), "{:?} lacks {says:?}", r.detail);
}

fn status(at: u64, status: Option<u16>) -> Event {
    Event::NodeStatus {
        at_us: at,
        node: "n1".into(),
        status,
    }
}

/// Three nodes; n1 drained at 5 s (in effect at 5.05 s) and undrained
/// at 15 s; 100 pings a second through the LB from 0 to 20 s, in turn
/// for each node. The LB sends n1's turns to n1, which answers 418,
/// until `lb_stops`, then to n2. n1's own ping answers 200, 418 from
/// 5.25 s and 200 from 15.3 s. Task 1 runs on n1 across the drain and
/// ends in Success at 8 s; task 2 runs on n2 meanwhile.
fn drain(lb_stops: u64) -> Vec<Event> {
    let mut events = nodes_up(&["n1", "n2", "n3"]);
    events.extend([status(0, Some(200)), status(5_250_000, Some(418))]);
    for seq in 0..2000u64 {
        let t = seq * 10_000;
        if t == 5 * S {
            events.push(fault(
                "drain-n1",
                FaultKind::Drain,
                "n1",
                FaultAction::Inject,
                t,
            ));
        }
        if t == 15 * S {
            events.push(fault(
                "drain-n1",
                FaultKind::Drain,
                "n1",
                FaultAction::Heal,
                t,
            ));
            events.push(status(15_300_000, Some(200)));
        }
        let turn = ["n1", "n2", "n3"][(seq % 3) as usize];
        let drained = (5 * S..=15 * S).contains(&t);
        let (node, status) = match turn {
            "n1" if drained && t < lb_stops => ("n1", 418),
            "n1" if drained => ("n2", 200),
            n => (n, 200),
        };
        events.push(ping(seq, t, status, Some(node)));
    }
    events.extend(task(1, "n1", 3 * S, Some((Success, 8 * S))));
    events.extend(task(2, "n2", 6 * S, Some((Success, 9 * S))));
    events.push(ended(20 * S));
    events
}

fn ping(seq: u64, t: u64, status: u16, node: Option<&str>) -> Event {
    Event::Request(Request {
        seq,
        op: Op::Ping,
        intended_us: t,
        sent_us: t,
        done_us: t + 1_000,
        outcome: if status == 200 {
            Outcome::Ok
        } else {
            Outcome::Fail
        },
        status: Some(status),
        error: None,
        bytes: 1,
        node: node.map(String::from),
        held: false,
        load: false,
    })
}

/// Replaces the request numbered `seq`.
fn replace_request(events: &mut [Event], seq: u64, with: Request) {
    for e in events.iter_mut() {
        if let Event::Request(r) = e
            && r.seq == seq
        {
            *r = with;
            return;
        }
    }
    panic!("no request {seq}");
}

#[test]
fn drain_contract_passes_a_clean_drain() {
    let r = judged(CONTRACT, drain(7 * S));
    assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
    assert_eq!(
        r.detail,
        "n1: ping 418 after 0.2s, 200 0.2s after the undrain, LB stopped routing after 2.0s, \
             0 failed requests (67 answered 418 by drained node n1 before the LB took it out, \
             within 3.0s), 1 running task finished, none started"
    );
    let w = &r.evidence["faults"][0];
    assert_eq!(w["tasks_running_at_drain"], 1);
    assert_eq!(w["running_task_outcomes"]["Success"], 1);
    assert_eq!(w["failed_requests"], 0);
    assert_eq!(w["lb_convergence_s"], 1.99);
    // The 418s of n1's turns are routing evidence, not failures.
    assert!(w["requests_to_drained_node"].as_u64().unwrap() > 0);
}

#[test]
fn drain_contract_passes_a_maintenance_that_restarts_the_node() {
    let mut events = drain(7 * S);
    for e in &mut events {
        if let Event::Fault(f) = e {
            f.name = "maintenance-n1".into();
            f.kind = FaultKind::Maintenance;
        }
    }
    // The restart: n1 stops answering, then comes back still drained;
    // only the undrain brings its 200 back.
    let mut restart = fault(
        "maintenance-n1",
        FaultKind::Maintenance,
        "n1",
        FaultAction::Step,
        10 * S,
    );
    if let Event::Fault(f) = &mut restart {
        f.step = Some("restart".into());
    }
    events.extend([restart, status(10 * S, None), status(11 * S, Some(418))]);
    let r = judged(CONTRACT, events);
    assert_verdict(
        &r,
        Verdict::Pass,
        "ping 418 after 0.2s, 200 0.2s after the undrain",
    );
    assert_eq!(r.evidence["faults"][0]["kind"], "maintenance");
}

#[test]
fn drain_contract_fails_without_a_418_and_cannot_tell_without_pings() {
    let mut events = drain(7 * S);
    events.retain(|e| {
        !matches!(
            e,
            Event::NodeStatus {
                status: Some(418),
                ..
            }
        )
    });
    let r = judged(CONTRACT, events);
    assert_verdict(
        &r,
        Verdict::Fail,
        "n1's own ping never answered 418 during drain-n1 (bound 2.0s)",
    );

    let mut events = drain(7 * S);
    for e in &mut events {
        if let Event::NodeStatus { at_us, status, .. } = e
            && *status == Some(418)
        {
            *at_us = 8_050_000;
        }
    }
    let r = judged(CONTRACT, events);
    assert_verdict(
        &r,
        Verdict::Fail,
        "n1's own ping answered 418 3.0s after drain-n1 took effect, more than 2.0s",
    );

    let mut events = drain(7 * S);
    events.retain(|e| !matches!(e, Event::NodeStatus { at_us, .. } if *at_us > 15 * S));
    let r = judged(CONTRACT, events);
    assert_verdict(
        &r,
        Verdict::Fail,
        "never answered 200 after drain-n1 was undone",
    );

    let mut events = drain(7 * S);
    events.retain(|e| !matches!(e, Event::NodeStatus { .. }));
    let r = judged(CONTRACT, events);
    assert_verdict(&r, Verdict::Unknown, "no direct pings of n1 were recorded");
}

#[test]
fn drain_contract_fails_when_the_lb_keeps_routing() {
    let r = judged(CONTRACT, drain(20 * S));
    assert_verdict(
        &r,
        Verdict::Fail,
        "LB kept routing to drained node n1 for the whole drain (333 requests)",
    );
    // The detail says what to look at in the LB.
    assert_verdict(
        &r,
        Verdict::Fail,
        "a health check that accepts 4xx (an ALB matcher of 200-499, an HAProxy `http-check expect status` range",
    );
    assert_verdict(&r, Verdict::Fail, "passive checks only (nginx open source)");
    // The ping at 15 s, sent as the undrain began, is not counted: it may
    // have reached the LB after it.
    assert_eq!(r.evidence["faults"][0]["requests_to_drained_node"], 333);

    let r = judged(CONTRACT, drain(9 * S));
    assert_verdict(
        &r,
        Verdict::Fail,
        "LB kept routing to drained node n1 for 4.0s after drain-n1, more than 3.0s (33 requests after the bound)",
    );

    let mut events = drain(7 * S);
    events.retain(|e| !matches!(e, Event::Request(r) if (5 * S..=15 * S).contains(&r.intended_us)));
    let r = judged(CONTRACT, events);
    assert_verdict(
        &r,
        Verdict::Unknown,
        "no ping went through the LB during drain-n1",
    );
}

#[test]
fn an_lb_that_follows_a_ping_that_never_said_418_is_not_blamed_for_its_settings() {
    let mut events = drain(20 * S);
    events.retain(|e| {
        !matches!(
            e,
            Event::NodeStatus {
                status: Some(418),
                ..
            }
        )
    });
    let r = judged(CONTRACT, events);
    assert_verdict(&r, Verdict::Fail, "n1's own ping never answered 418");
    assert_verdict(
        &r,
        Verdict::Fail,
        "the node's own ping did not say 418 in time, and an LB that follows the ping keeps routing to it",
    );
    assert!(!r.detail.contains("ALB matcher"), "{}", r.detail);
}

#[test]
fn a_maintenance_that_stopped_short_is_unknown_with_its_reason() {
    let mut events = drain(7 * S);
    // The drain went well, but the maintenance went no further.
    let stop = 6 * S;
    let at = events
        .iter()
        .position(|e| matches!(e, Event::Request(r) if r.intended_us >= stop))
        .unwrap();
    let mut stopped = fault("drain-n1", FaultKind::Drain, "n1", FaultAction::Step, stop);
    if let Event::Fault(f) = &mut stopped {
        f.step = Some(crate::history::STOPPED_STEP.into());
        f.error = Some("the running task count could not be read".into());
    }
    events.insert(at, stopped);
    let r = judged(CONTRACT, events);
    assert_verdict(
        &r,
        Verdict::Unknown,
        "drain-n1 did not complete: the running task count could not be read",
    );
    assert_eq!(
        r.evidence["faults"][0]["stopped"],
        "the running task count could not be read"
    );
}

#[test]
fn drain_contract_fails_a_request_that_failed() {
    let mut events = drain(7 * S);
    let failed = |seq: u64, status: Option<u16>, outcome, error: Option<&str>| Request {
        seq,
        op: Op::Root,
        intended_us: seq * 10_000,
        sent_us: seq * 10_000,
        done_us: seq * 10_000 + 5 * S,
        outcome,
        status,
        error: error.map(String::from),
        bytes: 0,
        node: None,
        held: false,
        load: false,
    };
    replace_request(
        &mut events,
        1001,
        failed(1001, Some(502), Outcome::Fail, None),
    );
    replace_request(
        &mut events,
        1002,
        failed(1002, None, Outcome::Indeterminate, Some("timeout")),
    );
    let r = judged(CONTRACT, events);
    assert_eq!(r.verdict, Verdict::Fail, "{r:?}");
    assert_eq!(
        r.detail,
        "2 requests failed through the LB during drain-n1 (502 ×1, timeout ×1); a drain must not fail requests \
             (not counted: 67 answered 418 by drained node n1 before the LB took it out, within 3.0s)"
    );
    assert_eq!(r.evidence["faults"][0]["failed_by"]["502"], 1);
}

/// `drain_contract` and `availability` judged together on `events`.
fn both(events: Vec<Event>) -> (CheckResult, CheckResult) {
    let yaml = format!(
        "name: t\nduration: 30s\nworkload:\n  - api: {{ rate: 100/s }}\n  - tasks: {{ burst: 10 }}\nfaults:\n  - drain: {{ node: n1, at: 5s, for: 10s }}\nchecks:\n  - {CONTRACT}\n  - availability: {{ max_error_rate: 1% }}\n"
    );
    let s = parse_str(&yaml).unwrap();
    let mut results = crate::check::run_all(&s, &History { events }, None).into_iter();
    (results.next().unwrap(), results.next().unwrap())
}

/// A drained node's 418s before the LB took it out, within lb_within,
/// are its reaction time in both checks: neither counts them, both say
/// what they were. See: issue 17.
#[test]
fn r17_drained_418s_within_lb_within_are_the_lbs_reaction_in_both_checks() {
    let (drain, avail) = both(drain(7 * S));
    let said = "67 answered 418 by drained node n1 before the LB took it out";
    assert_verdict(&drain, Verdict::Pass, said);
    assert_verdict(&avail, Verdict::Pass, said);
    assert_verdict(&avail, Verdict::Pass, "error rate 0.00% (0 of 2000)");
    let w = &drain.evidence["faults"][0];
    assert_eq!(w["failed_requests"], 0);
    assert_eq!(avail.evidence["errors"], 0);
    for counted in [w, &avail.evidence] {
        assert_eq!(counted["drained_418_in_lb_window"], 67, "{counted}");
        assert_eq!(counted["drained_418_after_lb_window"], 0, "{counted}");
    }
}

/// Later than lb_within they are failures in both checks, and both say
/// what they were. See: issue 17.
#[test]
fn r17_drained_418s_after_lb_within_are_failures_in_both_checks() {
    let (drain, avail) = both(drain(9 * S));
    assert_verdict(
        &drain,
        Verdict::Fail,
        "33 requests failed through the LB during drain-n1 (418 ×33); 33 answered 418 by drained \
             node n1 more than 3.0s after the drain, when the LB should have taken it out",
    );
    assert_verdict(
        &drain,
        Verdict::Fail,
        "(not counted: 100 answered 418 by drained node n1 before the LB took it out, within 3.0s)",
    );
    // 33 of 2000 is above 1%.
    assert_verdict(
        &avail,
        Verdict::Fail,
        "error rate 1.65% is above 1%: 33 of 2000 requests failed; 33 of the errors answered 418 \
             by drained node n1 (later than the drain_contract's lb_within",
    );
    assert_verdict(
        &avail,
        Verdict::Fail,
        "(not counted: 100 answered 418 by drained node n1 before the LB took it out",
    );
    let w = &drain.evidence["faults"][0];
    assert_eq!(w["failed_requests"], 33);
    assert_eq!(avail.evidence["errors"], 33);
    for counted in [w, &avail.evidence] {
        assert_eq!(counted["drained_418_in_lb_window"], 100, "{counted}");
        assert_eq!(counted["drained_418_after_lb_window"], 33, "{counted}");
    }
}

/// Where a request went is judged by when it was in flight, not by when
/// it was intended: under load the generator sends late. A ping intended
/// just before the undrain but sent after it may rightly reach n1 again,
/// and one intended just before the drain but sent after it may get n1's
/// 418 in the LB's reaction time. Neither is the LB's fault.
#[test]
fn requests_sent_late_across_the_drain_s_edges_are_placed_by_their_flight() {
    let mut events = drain(7 * S);
    // A ping to n1 intended in its turn, sent at `sent`.
    let late = |seq: u64, sent: u64, status: u16| {
        let Event::Request(mut r) = ping(seq, seq * 10_000, status, Some("n1")) else {
            unreachable!("ping makes a request")
        };
        r.sent_us = sent;
        r.done_us = sent + 1_000;
        r
    };
    // Intended at 14.99 s, sent 30 ms late, once n1 was back in service.
    replace_request(&mut events, 1499, late(1499, 15_020_000, 200));
    // Intended at 4.99 s, sent 30 ms late, into the drain.
    replace_request(&mut events, 499, late(499, 5_020_000, 418));
    let (drain, avail) = both(events.clone());
    assert_verdict(&drain, Verdict::Pass, "LB stopped routing after 2.0s");
    assert_verdict(&avail, Verdict::Pass, "error rate 0.00% (0 of 2000)");
    assert_verdict(&avail, Verdict::Pass, "68 answered 418 by drained node n1");

    // The same ping sent before the undrain began and answered 200 by n1:
    // the LB did route to the drained node, at the very end.
    replace_request(&mut events, 1499, late(1499, 14_995_000, 200));
    let (drain, _) = both(events);
    assert_verdict(
        &drain,
        Verdict::Fail,
        "LB kept routing to drained node n1 for the whole drain",
    );
}

/// Without a drain_contract no window is declared: every drained 418 is
/// an error, and the detail says why.
#[test]
fn without_a_drain_contract_availability_counts_every_drained_418() {
    let yaml = "name: t\nduration: 30s\nworkload:\n  - api: { rate: 100/s }\nfaults:\n  - drain: { node: n1, at: 5s, for: 10s }\nchecks:\n  - availability: { max_error_rate: 5% }\n";
    let s = parse_str(yaml).unwrap();
    let r = crate::check::run_all(
        &s,
        &History {
            events: drain(7 * S),
        },
        None,
    )
    .remove(0);
    assert_verdict(
        &r,
        Verdict::Pass,
        "error rate 3.35% (67 of 2000) is within 5%, none outside fault windows; 67 of the errors \
             answered 418 by drained node n1 (no drain_contract gives the LB a window to take it out in)",
    );
    assert_eq!(r.evidence["drained_418_after_lb_window"], 67);
}

#[test]
fn drain_contract_fails_a_task_started_on_the_drained_node() {
    let mut events = drain(7 * S);
    events.extend(task(3, "n1", 12_020_000, Some((Success, 14 * S))));
    // Within the clock skew of the drain it counts as already running.
    events.extend(task(4, "n1", 5_200_000, Some((Success, 6 * S))));
    let r = judged(CONTRACT, events);
    assert_eq!(r.verdict, Verdict::Fail, "{r:?}");
    assert_eq!(
        r.detail,
        "task ServerTasks-3 started on drained node n1 at 12.0s, 7.0s after the drain took effect"
    );
    let w = &r.evidence["faults"][0];
    assert_eq!(w["tasks_started_on_drained"], 1);
    assert_eq!(w["tasks_running_at_drain"], 2);
}

#[test]
fn drain_contract_fails_a_running_task_that_did_not_succeed() {
    let mut events = drain(7 * S);
    events.retain(|e| !matches!(e, Event::TaskSubmitted(_) | Event::Task(_)));
    events.extend(task(1, "n1", 3 * S, Some((Canceled, 8 * S))));
    with_error(&mut events, 1, "the node was restarted");
    let r = judged(CONTRACT, events);
    assert_eq!(r.verdict, Verdict::Fail, "{r:?}");
    assert_eq!(
        r.detail,
        "task ServerTasks-1, running on n1 when it was drained, ended Canceled: the node was restarted"
    );
    assert_eq!(
        r.evidence["faults"][0]["running_task_outcomes"]["Canceled"],
        1
    );

    let mut events = drain(7 * S);
    events.retain(|e| !matches!(e, Event::TaskSubmitted(_) | Event::Task(_)));
    events.extend(task(1, "n1", 3 * S, None));
    let r = judged(CONTRACT, events);
    assert_verdict(&r, Verdict::Fail, "never ended (last seen Executing)");
}

#[test]
fn drain_contract_cannot_tell_without_a_drain() {
    let mut events = drain(7 * S);
    events.retain(|e| !matches!(e, Event::Fault(_)));
    let r = judged(CONTRACT, events);
    assert_verdict(
        &r,
        Verdict::Unknown,
        "the fault it judges was never injected",
    );

    let mut events = drain(7 * S);
    for e in &mut events {
        if let Event::Fault(f) = e
            && f.action == FaultAction::Inject
        {
            f.error = Some("503 from the API".into());
        }
    }
    let r = judged(CONTRACT, events);
    assert_verdict(
        &r,
        Verdict::Unknown,
        "drain-n1 could not be injected: 503 from the API",
    );
}
