//! Tests of the task checks, on hand-made histories.

use super::build::*;
use crate::check::{CheckResult, Verdict, judge};
use crate::history::{Event, FaultAction, History, TaskState};
use crate::scenario::parse_str;
use crate::vocab::FaultKind;

use TaskState::{Canceled, Success};

/// Judges `check` (one line of YAML) on `events`, in a scenario with a
/// tasks workload and n2 killed from 10 s to 20 s.
fn judged(check: &str, events: Vec<Event>) -> CheckResult {
    let yaml = format!(
        "name: t\nduration: 60s\nworkload:\n  - tasks: {{ burst: 10 }}\nfaults:\n  - kill: {{ node: n2, at: 10s, for: 10s }}\nchecks:\n  - {check}\n"
    );
    let s = parse_str(&yaml).unwrap();
    judge(&s.checks[0].value, &History { events })
}

fn assert_verdict(r: &CheckResult, verdict: Verdict, says: &str) {
    assert_eq!(r.verdict, verdict, "{r:?}");
    assert!(r.detail.contains(says), "{:?} lacks {says:?}", r.detail);
}

/// Three tasks, one per node, each ending in Success with its marker
/// once in its log.
fn three_tasks() -> Vec<Vec<Event>> {
    vec![
        task(1, "n1", S, Some((Success, 3 * S))),
        task(2, "n2", 2 * S, Some((Success, 4 * S))),
        task(3, "n3", 2 * S, Some((Success, 5 * S))),
    ]
}

fn with_logs(tasks: Vec<Vec<Event>>) -> Vec<Event> {
    let mut events = nodes_up(&["n1", "n2", "n3"]);
    let n = tasks.len() as u64;
    events.extend(tasks.into_iter().flatten());
    events.extend((1..=n).map(|i| log(i, "n1", 100, 1)));
    events
}

const ONCE: &str = "exactly_once: { within: 30s }";

#[test]
fn exactly_once_passes_when_each_task_ran_once_and_ended() {
    let r = judged(ONCE, with_logs(three_tasks()));
    assert_verdict(&r, Verdict::Pass, "3 tasks each ran once");
    assert_eq!(r.evidence["max_time_to_end_s"], 3.5);
}

#[test]
fn exactly_once_cannot_tell_without_a_log_that_shows_the_marker() {
    // No log read at all.
    let mut events = nodes_up(&["n1", "n2", "n3"]);
    events.extend(three_tasks().into_iter().flatten());
    let r = judged(ONCE, events);
    assert_verdict(&r, Verdict::Unknown, "3 of 3 tasks have no log");
    // A log read, but without the marker, for a task that succeeded.
    let mut events = nodes_up(&["n1", "n2", "n3"]);
    events.extend(three_tasks().into_iter().flatten());
    events.extend((1..=3).map(|i| log(i, "n1", 200, u32::from(i != 2))));
    let r = judged(ONCE, events);
    assert_verdict(&r, Verdict::Unknown, "(ServerTasks-2)");
}

#[test]
fn exactly_once_fails_a_task_seen_on_two_nodes() {
    let mut tasks = three_tasks();
    // Seen on n3 between its start on n2 and its end.
    tasks[1].insert(2, seen_on(2, "n3", 3 * S));
    let r = judged(ONCE, with_logs(tasks));
    assert_verdict(&r, Verdict::Fail, "1 of 3 tasks ran more than once");
    assert!(r.detail.contains("ServerTasks-2 ran on n2 and n3"), "{r:?}");
    assert_eq!(
        r.evidence["ran_twice"],
        serde_json::json!(["ServerTasks-2"])
    );
}

#[test]
fn exactly_once_fails_a_marker_logged_twice() {
    let mut events = with_logs(three_tasks());
    events.push(log(1, "n2", 200, 2));
    let r = judged(ONCE, events);
    assert_verdict(&r, Verdict::Fail, "ServerTasks-1 ran 2 times");
}

#[test]
fn exactly_once_fails_unfinished_and_late_tasks() {
    let mut tasks = three_tasks();
    tasks[2] = task(3, "n3", 2 * S, None);
    let r = judged(ONCE, with_logs(tasks));
    assert_verdict(
        &r,
        Verdict::Fail,
        "1 of 3 tasks never reached a final state",
    );
    assert!(r.detail.contains("last seen Executing on n3"), "{r:?}");
    assert_eq!(r.evidence["unfinished"], 1);

    let mut tasks = three_tasks();
    tasks[2] = task(3, "n3", 2 * S, Some((Success, 40 * S)));
    let r = judged(ONCE, with_logs(tasks));
    assert_verdict(
        &r,
        Verdict::Fail,
        "ended more than 30.0s after their submission",
    );
    assert_eq!(r.evidence["late"], 1);
}

/// Issue 17: a task still inside its bound when the run was
/// interrupted, unfinished or ending late after the stop, is unknown,
/// not failed; one whose bound had elapsed before the stop still fails.
#[test]
fn r17_exactly_once_is_unknown_for_tasks_the_interruption_cut_short() {
    let stopped_at = |at_us: u64, mut events: Vec<Event>| {
        events.push(Event::Interrupted {
            at_us,
            why: "Ctrl-C".into(),
            phase: crate::history::Phase::Workload,
        });
        events
    };
    for end in [None, Some((Canceled, 40 * S))] {
        let mut tasks = three_tasks();
        tasks[2] = task(3, "n3", 2 * S, end);
        let r = judged(ONCE, stopped_at(5 * S, with_logs(tasks)));
        assert_verdict(
            &r,
            Verdict::Unknown,
            "1 of 3 tasks had not ended within their bound of 30.0s when the run was interrupted (Ctrl-C during workload) before it elapsed (ServerTasks-3); cannot tell",
        );
    }
    let mut tasks = three_tasks();
    tasks[2] = task(3, "n3", 2 * S, None);
    let r = judged(ONCE, stopped_at(35 * S, with_logs(tasks)));
    assert_verdict(
        &r,
        Verdict::Fail,
        "1 of 3 tasks never reached a final state",
    );
}

#[test]
fn exactly_once_cannot_tell_without_tasks() {
    let mut events = task(1, "n1", S, None);
    let Event::TaskSubmitted(submit) = &mut events[0] else {
        unreachable!()
    };
    submit.id = None;
    let r = judged(ONCE, events);
    assert_verdict(&r, Verdict::Unknown, "no task was submitted");
    assert_eq!(r.evidence["submit_failures"], 1);
}

/// n1 runs three tasks back to back in pairs, n2 one; caps are 2.
fn capped(extra: Vec<Vec<Event>>) -> Vec<Event> {
    let mut events = vec![caps(&[("n1", 2), ("n2", 2), ("n3", 2)])];
    let tasks = [
        task(1, "n1", 0, Some((Success, 10 * S))),
        task(2, "n1", 5 * S, Some((Success, 15 * S))),
        // Starts as task 1 ends: ends count first, so the peak stays 2.
        task(3, "n1", 10 * S, Some((Success, 20 * S))),
        task(4, "n2", S, Some((Success, 2 * S))),
    ];
    events.extend(tasks.into_iter().chain(extra).flatten());
    events
}

#[test]
fn task_cap_passes_under_the_cap() {
    let r = judged("task_cap: {}", capped(Vec::new()));
    assert_verdict(&r, Verdict::Pass, "n1 2/2, n2 1/2, n3 0/2");
    let n1 = &r.evidence["nodes"]["n1"];
    assert_eq!(
        (n1["tasks"].as_u64(), n1["peak"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(r.evidence["nodes"]["n1"]["share"], 0.75);
    // An HDR histogram keeps three significant figures.
    let p99 = r.evidence["pickup_s"]["p99"].as_f64().unwrap();
    assert!((p99 - 0.5).abs() < 0.001, "{p99}");
    assert!(r.evidence["throughput_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn task_cap_fails_over_the_cap() {
    let r = judged(
        "task_cap: {}",
        capped(vec![task(5, "n1", 6 * S, Some((Success, 8 * S)))]),
    );
    assert_verdict(
        &r,
        Verdict::Fail,
        "n1 ran 3 tasks at once at 6.0s; its cap is 2",
    );
    // A task that never ends holds its slot to the end of the history.
    let r = judged(
        "task_cap: {}",
        capped(vec![task(5, "n2", 0, None), task(6, "n2", 30 * S, None)]),
    );
    assert_verdict(&r, Verdict::Pass, "n2 2/2");
    let r = judged(
        "task_cap: {}",
        capped(vec![
            task(5, "n2", 0, None),
            task(6, "n2", 30 * S, None),
            task(7, "n2", 40 * S, Some((Success, 41 * S))),
        ]),
    );
    assert_verdict(&r, Verdict::Fail, "n2 ran 3 tasks at once at 40.0s");
}

#[test]
fn task_cap_bounds_the_pickup_p99() {
    let r = judged("task_cap: { pickup_p99_below: 100ms }", capped(Vec::new()));
    assert_verdict(
        &r,
        Verdict::Fail,
        "queue pick-up p99 is 0.5s, not under 0.1s",
    );
    let r = judged("task_cap: { pickup_p99_below: 1s }", capped(Vec::new()));
    assert_verdict(&r, Verdict::Pass, "pick-up p99 0.5s");
}

#[test]
fn task_cap_cannot_tell_without_caps_or_tasks() {
    let mut events = capped(Vec::new());
    events.remove(0);
    let r = judged("task_cap: {}", events);
    assert_verdict(&r, Verdict::Unknown, "task caps were not recorded");
    let r = judged("task_cap: {}", vec![caps(&[("n1", 2)])]);
    assert_verdict(&r, Verdict::Unknown, "no task started");
}

const ORPHANS: &str = "orphaned_tasks: { within: 30s }";

/// n2 killed at 10 s and restarted at 20 s, the run over at 45 s; task
/// 1 runs on n2 from 8 s and `orphan` is how it ends; task 2 runs on n1
/// across the kill, task 3 on n2 well before it.
fn killed(orphan: Vec<Event>) -> Vec<Event> {
    let mut events = nodes_up(&["n1", "n2", "n3"]);
    events.push(fault(
        "kill-n2",
        FaultKind::Kill,
        "n2",
        FaultAction::Inject,
        10 * S,
    ));
    events.push(fault(
        "kill-n2",
        FaultKind::Kill,
        "n2",
        FaultAction::Heal,
        20 * S,
    ));
    events.extend(orphan);
    events.extend(task(2, "n1", 8 * S, Some((Success, 12 * S))));
    events.extend(task(3, "n2", 2 * S, Some((Success, 5 * S))));
    events.push(ended(45 * S));
    events
}

#[test]
fn orphaned_passes_a_task_canceled_in_time() {
    let r = judged(
        ORPHANS,
        killed(task(1, "n2", 8 * S, Some((Canceled, 15 * S)))),
    );
    assert_verdict(
        &r,
        Verdict::Pass,
        "the 1 task running on n2 when kill-n2 struck",
    );
    assert_eq!(r.evidence["faults"][0]["running_at_fault"], 1);
    assert_eq!(r.evidence["faults"][0]["tasks"][0]["id"], "ServerTasks-1");
}

#[test]
fn orphaned_fails_a_task_that_ended_success() {
    let r = judged(
        ORPHANS,
        killed(task(1, "n2", 8 * S, Some((Success, 15 * S)))),
    );
    assert_verdict(
        &r,
        Verdict::Fail,
        "ServerTasks-1 was running on n2 when it was killed, yet ended Success",
    );
}

#[test]
fn orphaned_fails_a_late_or_hung_task() {
    let r = judged(
        ORPHANS,
        killed(task(1, "n2", 8 * S, Some((Canceled, 42 * S)))),
    );
    assert_verdict(
        &r,
        Verdict::Fail,
        "ServerTasks-1 (running on n2 at the kill) ended Canceled 32.0s after kill-n2; bound 30.0s",
    );
    let r = judged(ORPHANS, killed(task(1, "n2", 8 * S, None)));
    assert_verdict(
        &r,
        Verdict::Fail,
        "ServerTasks-1 (running on n2 at the kill) was still Executing 35.0s later; bound 30.0s",
    );
}

/// Issue 17: a task whose bound the run's interruption came in before
/// is unknown, not failed, when the run's own clean-up canceled it or
/// it never ended; one that ran again still fails.
#[test]
fn r17_orphaned_is_unknown_when_the_interruption_cut_the_bound_short() {
    let cut = |mut events: Vec<Event>| {
        events.insert(
            4,
            Event::Interrupted {
                at_us: 12 * S,
                why: "SIGTERM".into(),
                phase: crate::history::Phase::Workload,
            },
        );
        events
    };
    for orphan in [
        task(1, "n2", 8 * S, Some((Canceled, 42 * S))),
        task(1, "n2", 8 * S, None),
    ] {
        let r = judged(ORPHANS, cut(killed(orphan)));
        assert_verdict(
            &r,
            Verdict::Unknown,
            "the wait for ServerTasks-1 to end after kill-n2 was cut short by the interruption (SIGTERM during workload) 2.0s in, before its bound of 30.0s elapsed",
        );
    }
    let r = judged(
        ORPHANS,
        cut(killed(task(1, "n2", 8 * S, Some((Success, 15 * S))))),
    );
    assert_verdict(&r, Verdict::Fail, "yet ended Success");
}

#[test]
fn orphaned_fails_a_task_run_again_elsewhere() {
    let mut orphan = task(1, "n2", 8 * S, None);
    orphan.push(seen_on(1, "n1", 12 * S));
    let r = judged(ORPHANS, killed(orphan));
    assert_verdict(
        &r,
        Verdict::Fail,
        "ServerTasks-1 (running on n2 at the kill) ran again on n1",
    );
}

#[test]
fn orphaned_cannot_tell_when_nothing_ran_on_the_node() {
    let r = judged(ORPHANS, killed(Vec::new()));
    assert_verdict(
        &r,
        Verdict::Unknown,
        "no task was running on n2 when kill-n2 struck; nothing to judge",
    );
    let r = judged(ORPHANS, task(1, "n2", 8 * S, None));
    assert_verdict(&r, Verdict::Unknown, "never injected");
}

/// Two tasks on a two-node cluster, each log read through both nodes.
fn logs(reads: Vec<Event>) -> Vec<Event> {
    let mut events = nodes_up(&["n1", "n2"]);
    events.extend(task(1, "n1", S, Some((Success, 2 * S))));
    events.extend(task(2, "n2", S, Some((Success, 2 * S))));
    events.extend(reads);
    events
}

#[test]
fn shared_storage_passes_identical_logs() {
    let reads = vec![
        log(1, "n1", 412, 1),
        log(1, "n2", 412, 1),
        log(2, "n1", 300, 1),
        log(2, "n2", 300, 1),
    ];
    let r = judged("shared_storage: {}", logs(reads));
    assert_verdict(
        &r,
        Verdict::Pass,
        "the logs of 2 tasks read the same through 2 nodes",
    );
}

#[test]
fn shared_storage_fails_differing_logs_and_failed_reads() {
    let reads = vec![
        log(1, "n1", 412, 1),
        log(1, "n2", 412, 1),
        log(2, "n1", 412, 1),
        log(2, "n2", 0, 0),
    ];
    let r = judged("shared_storage: {}", logs(reads));
    assert_verdict(
        &r,
        Verdict::Fail,
        "the log of ServerTasks-2 (run on n2) differs between nodes: n1 412 bytes, n2 0 bytes; the usual cause: a node whose share is not mapped for its service account (or maps another) writes to a folder of its own (1 of 2 tasks differ)",
    );

    let mut failed = log(2, "n2", 0, 0);
    if let Event::TaskLog(l) = &mut failed {
        l.status = Some(404);
        l.sha1 = None;
    }
    let reads = vec![
        log(1, "n1", 412, 1),
        log(1, "n2", 412, 1),
        log(2, "n1", 412, 1),
        failed,
    ];
    let r = judged("shared_storage: {}", logs(reads));
    assert_verdict(
        &r,
        Verdict::Fail,
        "the log of ServerTasks-2 could not be read through n2: 404",
    );
}

#[test]
fn shared_storage_cannot_tell_without_reads() {
    let r = judged("shared_storage: {}", logs(Vec::new()));
    assert_verdict(&r, Verdict::Unknown, "no task log was read");
    let r = judged("shared_storage: {}", logs(vec![log(1, "n1", 412, 1)]));
    assert_verdict(&r, Verdict::Unknown, "was not read through n2");
}

/// Judges `tasks_survive` on `tasks` (and their logs, each run once), the
/// database away from 10 s to 20 s, the run over at 45 s.
fn survived(tasks: Vec<Vec<Event>>) -> CheckResult {
    let yaml = "name: t\nduration: 60s\nworkload:\n  - tasks: { burst: 10 }\nfaults:\n  - database_outage: { at: 10s, for: 10s }\nchecks:\n  - tasks_survive: { within: 15s }\n";
    let s = parse_str(yaml).unwrap();
    let mut events = with_logs(tasks);
    let outage = |action, at| {
        let mut e = fault(
            "database_outage",
            FaultKind::DatabaseOutage,
            "n1",
            action,
            at,
        );
        if let Event::Fault(f) = &mut e {
            f.nodes = vec!["n1".into(), "n2".into(), "n3".into()];
        }
        e
    };
    events.push(outage(FaultAction::Inject, 10 * S));
    events.push(outage(FaultAction::Heal, 20 * S));
    events.push(ended(45 * S));
    judge(&s.checks[0].value, &History { events })
}

#[test]
fn tasks_survive_passes_tasks_that_end_well_after_the_database_returns() {
    let r = survived(vec![
        // Running at 10 s, its end recorded once the database is back.
        task(1, "n1", 9 * S, Some((Success, 21 * S))),
        // Ended before the outage: not caught.
        task(2, "n2", 2 * S, Some((Success, 4 * S))),
    ]);
    assert_verdict(&r, Verdict::Pass, "the 1 task running and 0 queued");
}

#[test]
fn tasks_survive_fails_a_task_left_executing_one_run_twice_or_one_canceled() {
    let r = survived(vec![task(1, "n1", 9 * S, None)]);
    assert_verdict(
        &r,
        Verdict::Fail,
        "ServerTasks-1 never ended after database_outage (last seen Executing)",
    );
    let mut twice = task(1, "n1", 9 * S, Some((Success, 22 * S)));
    twice.push(seen_on(1, "n2", 21 * S));
    let r = survived(vec![twice]);
    assert_verdict(&r, Verdict::Fail, "ServerTasks-1 ran on n1 and n2");
    let r = survived(vec![task(1, "n1", 9 * S, Some((Canceled, 21 * S)))]);
    assert_verdict(
        &r,
        Verdict::Fail,
        "ended Canceled after database_outage with no error recorded",
    );
    let r = survived(vec![task(1, "n1", 9 * S, Some((Success, 40 * S)))]);
    assert_verdict(
        &r,
        Verdict::Fail,
        "ended Success only 20.0s after the database returned",
    );
    // Failed, saying why: a task may fail with the database's error.
    let mut failed = task(1, "n1", 9 * S, Some((TaskState::Failed, 21 * S)));
    with_error(&mut failed, 1, "database error: locking protocol");
    let r = survived(vec![failed]);
    assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
    // Nothing caught: nothing to judge.
    let r = survived(vec![task(2, "n2", 2 * S, Some((Success, 4 * S)))]);
    assert_verdict(&r, Verdict::Unknown, "no task was running or queued");
}

#[test]
fn shared_storage_names_the_node_whose_store_a_fault_moved() {
    let mut events = nodes_up(&["n1", "n2", "n3"]);
    events.push(fault(
        "storage_unshared-n2",
        FaultKind::StorageUnshared,
        "n2",
        FaultAction::Inject,
        10 * S,
    ));
    events.extend(task(1, "n2", 11 * S, Some((Success, 12 * S))));
    events.push(fault(
        "storage_unshared-n2",
        FaultKind::StorageUnshared,
        "n2",
        FaultAction::Heal,
        20 * S,
    ));
    // Written where only n2 read it, at the time; read after the fault,
    // the others see nothing, and n2 no longer sees it either.
    events.extend([log(1, "n1", 0, 0), log(1, "n2", 300, 1), log(1, "n3", 0, 0)]);
    let r = judged("shared_storage: {}", events);
    assert_verdict(
        &r,
        Verdict::Fail,
        "the log of ServerTasks-1 (run on n2) differs between nodes, as read through n2 unlike every other node",
    );
    assert!(
        r.detail
            .contains("n2's store was moved by storage_unshared-n2 from 10.0s to 20.0s"),
        "{}",
        r.detail
    );
}
