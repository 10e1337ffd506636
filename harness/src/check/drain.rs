//! `drain_contract`: draining a node (Octopus's maintenance mode) takes it
//! out of service without a single failed request, as the Octopus HA docs
//! promise. Judged per drain or maintenance window, in five parts:
//!
//! - **ping**: the node's own ping, probed directly, answers 418 within
//!   `ping_within` of the drain taking effect, and 200 again within
//!   `ping_within` of the undrain;
//! - **LB**: requests through the LB stop reaching the node within
//!   `lb_within` (a ping body names the node that served it, a 418 too);
//! - **no failed request**: nothing through the LB fails during the window,
//!   which is what tells a drain from a kill. A drained node's 418 within
//!   `lb_within` of the drain is the LB's reaction time, not a failure;
//!   one later is a failure. `availability` counts them the same way (see
//!   [`Drained418`] and docs/scenarios.md, "Drains and the LB's
//!   reaction time");
//! - **no task starts** on the node once the drain took effect;
//! - **running tasks finish**: those the node ran when it was drained end
//!   in Success.
//!
//! A part the history holds no evidence for is unknown, never passed. A
//! part whose bound the run's interruption came in before it elapsed (the
//! ping's, the LB's, the undrain's; running tasks not yet ended) is unknown
//! where it would fail (docs/robustness.md, "Interrupted runs").
//! Task start times are the server's, so `clock_skew` widens the drain's
//! edges: a task that started within it of the drain counts as running
//! when it was drained (and must succeed), not as started after it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::tasks::{first_started_us, last_node, node_at, task_id};
use super::{Verdict, cut_short, judged_windows, never_injected, secs, window_cut_short, worst};
use crate::history::{FaultWindow, History, Op, Request, TaskRecord, TaskState};
use crate::scenario::DrainContract;
use crate::vocab::FaultKind;

/// The LB still sending the node requests this close to the undrain means
/// it never stopped.
const LAST_SECOND_US: u64 = 1_000_000;

/// The part that says a maintenance stopped short.
const STOPPED_PART: &str = "completed";

/// What usually keeps an LB routing to a node whose ping answers 418.
const LIKELY_CAUSE: &str = "the usual cause is a health check that accepts 4xx (an ALB matcher of 200-499, an HAProxy `http-check expect status` range that takes 418) or passive checks only (nginx open source), which never probe the ping";

/// Task IDs listed in evidence, at most.
const LISTED: usize = 10;

pub(super) fn judge(c: &DrainContract, h: &History) -> (Verdict, String, Value) {
    let windows = judged_windows(
        h,
        c.fault.as_ref(),
        &[FaultKind::Drain, FaultKind::Maintenance],
    );
    if windows.is_empty() {
        return never_injected("faults");
    }
    // Read once: every window works on the same tasks and nodes, and on
    // every drain, judged or not, as another node drained beside this one
    // answers 418 too.
    let every = judged_windows(h, None, &[FaultKind::Drain, FaultKind::Maintenance]);
    let tasks = h.task_records();
    let all_nodes = h.node_names();
    let mut results = Vec::new();
    let mut outcomes = Vec::new();
    for w in &windows {
        let (verdict, detail, evidence) = judge_window(c, h, w, &every, &tasks, &all_nodes);
        outcomes.push((verdict, detail));
        results.push(evidence);
    }
    let (verdict, worst_detail) = worst(&outcomes);
    // When all pass, each window has its say.
    let detail = if verdict == Verdict::Pass {
        outcomes
            .iter()
            .map(|(_, d)| d.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        worst_detail
    };
    (verdict, detail, json!({ "faults": results }))
}

/// Where a 418 a drained node answered through the LB stands, by the one
/// rule `drain_contract` and `availability` share: within the LB's allowed
/// detection window (`lb_within` from the drain) it is the LB's reaction
/// time, reported and not counted as a failure; after it, or where no
/// `drain_contract` gives the LB a window, it is a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Drained418 {
    /// Before the LB was due to take the node out.
    InWindow,
    /// After it, or with no window declared.
    AfterWindow,
}

/// The LB's allowed detection window for each drain: the `lb_within` of
/// the scenario's `drain_contract` that judges it (the smallest, when
/// several do).
#[derive(Debug, Clone, Default)]
pub(super) struct LbWindows(Vec<(Option<String>, u64)>);

impl LbWindows {
    /// The windows the scenario's `drain_contract` checks declare.
    pub(super) fn of(checks: &[serde_saphyr::Spanned<crate::scenario::Check>]) -> Self {
        Self(
            checks
                .iter()
                .filter_map(|c| match &c.value {
                    crate::scenario::Check::DrainContract(d) => Some((
                        d.fault.as_ref().map(|f| f.value.clone()),
                        d.lb_within.value.as_micros_u64(),
                    )),
                    _ => None,
                })
                .collect(),
        )
    }

    /// True when no `drain_contract` gives a window.
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One window for every drain, as one `drain_contract` sees them.
    fn every(within: u64) -> Self {
        Self(vec![(None, within)])
    }

    fn bound(&self, w: &FaultWindow) -> Option<u64> {
        self.0
            .iter()
            .filter(|(fault, _)| fault.as_ref().is_none_or(|f| *f == w.name))
            .map(|(_, within)| *within)
            .min()
    }

    /// Whether `r` is a 418 from a node drained when it was intended, and
    /// if so where it stands; `drains` are every drain and maintenance.
    pub(super) fn classify(&self, r: &Request, drains: &[FaultWindow]) -> Option<Drained418> {
        if r.status != Some(418) {
            return None;
        }
        let node = r.node.as_ref()?;
        let mut drained = false;
        for d in drains {
            if !d.nodes.contains(node) || r.intended_us < d.start_us || r.intended_us > d.end_us {
                continue;
            }
            drained = true;
            if self
                .bound(d)
                .is_some_and(|b| r.intended_us <= d.start_us.saturating_add(b))
            {
                return Some(Drained418::InWindow);
            }
        }
        drained.then_some(Drained418::AfterWindow)
    }
}

/// Who answered drained 418s, for details ("drained node n1", "drained
/// nodes n1, n2"), and the pronoun for them.
pub(super) fn drained_by(nodes: &[String]) -> (String, &'static str) {
    match nodes {
        [] => ("a drained node".into(), "it"),
        [one] => (format!("drained node {one}"), "it"),
        many => (format!("drained nodes {}", many.join(", ")), "them"),
    }
}

/// The drained nodes named in 418s among `requests`, sorted.
fn nodes_of(requests: &[&Request]) -> Vec<String> {
    let mut nodes: Vec<String> = requests.iter().filter_map(|r| r.node.clone()).collect();
    nodes.sort();
    nodes.dedup();
    nodes
}

/// One part of the contract: its verdict and a fragment of the detail.
struct Part {
    name: &'static str,
    verdict: Verdict,
    detail: String,
}

impl Part {
    fn new(name: &'static str, verdict: Verdict, detail: String) -> Self {
        Self {
            name,
            verdict,
            detail,
        }
    }
}

fn judge_window(
    c: &DrainContract,
    h: &History,
    w: &FaultWindow,
    drains: &[FaultWindow],
    tasks: &[TaskRecord<'_>],
    all_nodes: &[String],
) -> (Verdict, String, Value) {
    if let Some(e) = &w.inject_error {
        let then = w
            .stopped
            .as_ref()
            .map(|s| format!("; {s}"))
            .unwrap_or_default();
        return (
            Verdict::Unknown,
            format!("{} could not be injected: {e}{then}", w.name),
            json!({ "fault": w.name, "nodes": w.nodes, "inject_error": e, "stopped": w.stopped }),
        );
    }
    let ping_within = c.ping_within.value.as_micros_u64();
    let mut parts = Vec::new();

    // a. The node's own ping, per drained node; the figures kept are the
    // slowest node's.
    let mut ping_418 = Some(0u64);
    let mut ping_200 = Some(0u64);
    for node in &w.nodes {
        let statuses = statuses(h, node);
        let (mut a418, took) = ping_418_part(w, node, &statuses, ping_within);
        ping_418 = ping_418.zip(took).map(|(a, b)| a.max(b));
        let (mut a200, took) = ping_200_part(h, w, node, &statuses, ping_within);
        ping_200 = ping_200.zip(took).map(|(a, b)| a.max(b));
        // Passing fragments do not name the node; with several, say which.
        if w.nodes.len() > 1 {
            for p in [&mut a418, &mut a200] {
                if p.verdict == Verdict::Pass {
                    p.detail = format!("{node} {}", p.detail);
                }
            }
        }
        parts.extend([a418, a200]);
    }

    // b and c work on the requests intended inside the window.
    let in_window: Vec<&Request> = h
        .requests()
        .filter(|r| r.intended_us >= w.start_us && r.intended_us <= w.end_us)
        .collect();
    // The LB's usual culprits are worth naming only when the node's own
    // ping said 418 in time: otherwise the LB may be following the ping.
    let ping_said_418 = parts
        .iter()
        .filter(|p| p.name == "ping_418")
        .all(|p| p.verdict == Verdict::Pass);
    let (part, lb) = lb_part(c, h, w, &in_window, all_nodes, ping_said_418);
    parts.push(part);
    let (part, failed) = failed_part(c, h, w, drains, &in_window);
    parts.push(part);
    // A maintenance that stopped short (its drain not confirmed, its task
    // count unreadable) or whose restart failed never did what it was for:
    // the window cannot pass.
    if let Some(why) = &w.stopped {
        parts.push(Part::new(
            STOPPED_PART,
            Verdict::Unknown,
            format!("{} did not complete: {why}", w.name),
        ));
    }

    // e and d work on the tasks; a run without a tasks workload has no
    // evidence for them, and they are left out rather than passed.
    let (running, started) = if h.task_submissions().next().is_some() {
        let (part, running) = running_part(c, w, tasks);
        parts.push(part);
        let (part, started) = started_part(c, w, tasks);
        parts.push(part);
        (running, started)
    } else {
        parts.push(Part::new(
            "tasks",
            Verdict::Pass,
            "tasks not judged (no tasks workload)".into(),
        ));
        (Vec::new(), Vec::new())
    };

    for p in parts.iter_mut().filter(|p| p.verdict == Verdict::Fail) {
        if let Some(why) = cut_by_interruption(c, h, w, p.name, &running) {
            p.verdict = Verdict::Unknown;
            p.detail = why;
        }
    }

    let verdict = Verdict::merge(parts.iter().map(|p| p.verdict));
    let detail = if verdict == Verdict::Pass {
        format!(
            "{}: {}",
            w.nodes
                .iter()
                .map(|n| h.label(n))
                .collect::<Vec<_>>()
                .join(", "),
            parts
                .iter()
                .map(|p| p.detail.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        // Every part as bad as the window, so one run shows every breach;
        // and why a maintenance stopped short, whatever else went wrong.
        parts
            .iter()
            .filter(|p| p.verdict == verdict || p.name == STOPPED_PART)
            .map(|p| p.detail.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut outcomes: BTreeMap<&str, Verdict> = BTreeMap::new();
    for p in &parts {
        // With several nodes a part appears once per node; the worst stays.
        let merged = match outcomes.get(p.name) {
            Some(&before) => Verdict::merge([before, p.verdict]),
            None => p.verdict,
        };
        outcomes.insert(p.name, merged);
    }
    let evidence = json!({
        "fault": w.name,
        "kind": w.kind,
        "nodes": w.nodes,
        "window_s": w.end_us.saturating_sub(w.start_us) as f64 / 1e6,
        "ping_418_after_s": ping_418.map(s),
        "ping_200_after_s": ping_200.map(s),
        "lb_convergence_s": lb.convergence.map(s),
        "lb_within_s": s(c.lb_within.value.as_micros_u64()),
        "requests_to_drained_node": lb.to_drained,
        "requests_to_drained_node_after_bound": lb.after_bound,
        "failed_requests": failed.by.values().sum::<usize>(),
        "failed_by": failed.by,
        "drained_418_in_lb_window": failed.in_window,
        "drained_418_after_lb_window": failed.after_window,
        "tasks_started_on_drained": started.len(),
        "tasks_started_on_drained_ids": started.iter().take(LISTED).collect::<Vec<_>>(),
        "tasks_running_at_drain": running.len(),
        "running_task_outcomes": running_outcomes(&running),
        "outcomes": outcomes,
        "stopped": w.stopped,
        "verdict": verdict,
    });
    (verdict, detail, evidence)
}

/// Why a failing part cannot be judged because the run was interrupted
/// before its bound elapsed, if that is so.
fn cut_by_interruption(
    c: &DrainContract,
    h: &History,
    w: &FaultWindow,
    part: &str,
    running: &[Running],
) -> Option<String> {
    let ping_within = c.ping_within.value.as_micros_u64();
    match part {
        "ping_418" => window_cut_short(h, w, w.started_us, ping_within),
        "lb" => window_cut_short(h, w, w.start_us, c.lb_within.value.as_micros_u64()),
        "ping_200" => {
            let undrained = w.healed_done_us.unwrap_or(w.end_us).max(w.end_us);
            cut_short(
                h,
                &format!("the wait for ping 200 after {} was undone", w.name),
                undrained,
                ping_within,
            )
        }
        "running_tasks" => {
            let i = h.interruption()?;
            let open = running
                .iter()
                .filter(|r| r.end != Some(TaskState::Success))
                .find(|r| r.ended_us.is_none_or(|at| at > i.at_us))?;
            Some(format!(
                "task {}, running on {} when it was drained, had not ended when the run was interrupted ({}); cannot tell",
                open.id,
                open.node,
                i.describe()
            ))
        }
        _ => None,
    }
}

fn s(us: u64) -> f64 {
    us as f64 / 1e6
}

/// A node's direct ping answers, in time order.
fn statuses(h: &History, node: &str) -> Vec<(u64, Option<u16>)> {
    let mut statuses: Vec<(u64, Option<u16>)> = h.node_statuses(node).collect();
    statuses.sort_by_key(|(at, _)| *at);
    statuses
}

/// The answer in effect at `at`: statuses are recorded only when they
/// change, so it is the last change at or before it.
fn status_at(statuses: &[(u64, Option<u16>)], at: u64) -> Option<Option<u16>> {
    statuses
        .iter()
        .take_while(|(t, _)| *t <= at)
        .last()
        .map(|(_, s)| *s)
}

/// a, first half: 418 within the bound of the drain taking effect.
fn ping_418_part(
    w: &FaultWindow,
    node: &str,
    statuses: &[(u64, Option<u16>)],
    within: u64,
) -> (Part, Option<u64>) {
    const NAME: &str = "ping_418";
    if statuses.is_empty() {
        let d = format!("no direct pings of {node} were recorded");
        return (Part::new(NAME, Verdict::Unknown, d), None);
    }
    // Already 418 when the drain began counts from the drain.
    let seen = if status_at(statuses, w.start_us) == Some(Some(418)) {
        Some(w.start_us)
    } else {
        statuses
            .iter()
            .find(|(t, st)| *t >= w.start_us && *t <= w.end_us && *st == Some(418))
            .map(|(t, _)| *t)
    };
    match seen {
        Some(t) => {
            let took = t.saturating_sub(w.started_us);
            if took <= within {
                let d = format!("ping 418 after {}", secs(took));
                (Part::new(NAME, Verdict::Pass, d), Some(took))
            } else {
                let d = format!(
                    "{node}'s own ping answered 418 {} after {} took effect, more than {}",
                    secs(took),
                    w.name,
                    secs(within)
                );
                (Part::new(NAME, Verdict::Fail, d), Some(took))
            }
        }
        // A drain shorter than the bound, or a run cut short, cannot tell.
        None if w.end_us.saturating_sub(w.started_us) < within => {
            let d = format!(
                "{} lasted {}, less than the ping bound of {}; cannot tell whether {node} answers 418",
                w.name,
                secs(w.end_us.saturating_sub(w.started_us)),
                secs(within)
            );
            (Part::new(NAME, Verdict::Unknown, d), None)
        }
        None => {
            let d = format!(
                "{node}'s own ping never answered 418 during {} (bound {})",
                w.name,
                secs(within)
            );
            (Part::new(NAME, Verdict::Fail, d), None)
        }
    }
}

/// a, second half: 200 within the bound of the undrain. A maintenance
/// restarts the node inside the window, so only answers from the undrain
/// on count.
fn ping_200_part(
    h: &History,
    w: &FaultWindow,
    node: &str,
    statuses: &[(u64, Option<u16>)],
    within: u64,
) -> (Part, Option<u64>) {
    const NAME: &str = "ping_200";
    if statuses.is_empty() {
        let d = format!("no direct pings of {node} were recorded");
        return (Part::new(NAME, Verdict::Unknown, d), None);
    }
    if !w.healed {
        let d = format!(
            "{} was never undone; cannot see {node}'s ping answer 200 again",
            w.name
        );
        return (Part::new(NAME, Verdict::Unknown, d), None);
    }
    // From the undrain itself: a maintenance's heal may first wait for its
    // node to start. Statuses are changes: one already 200 at the undrain
    // (a node that lost its drain in a restart, say) has no later 200 to
    // find.
    let undrained = w.healed_done_us.unwrap_or(w.end_us).max(w.end_us);
    let seen = if status_at(statuses, undrained) == Some(Some(200)) {
        Some(undrained)
    } else {
        statuses
            .iter()
            .find(|(t, st)| *t >= undrained && *st == Some(200))
            .map(|(t, _)| *t)
    };
    match seen {
        Some(t) => {
            let took = t - undrained;
            if took <= within {
                let d = format!("200 {} after the undrain", secs(took));
                (Part::new(NAME, Verdict::Pass, d), Some(took))
            } else {
                let d = format!(
                    "{node}'s own ping answered 200 {} after {} was undone, more than {}",
                    secs(took),
                    w.name,
                    secs(within)
                );
                (Part::new(NAME, Verdict::Fail, d), Some(took))
            }
        }
        None if h.end_us().saturating_sub(undrained) < within => {
            let d = format!(
                "the run ended {} after {} was undone, before {node}'s ping bound of {}",
                secs(h.end_us().saturating_sub(undrained)),
                w.name,
                secs(within)
            );
            (Part::new(NAME, Verdict::Unknown, d), None)
        }
        None => {
            let d = format!(
                "{node}'s own ping never answered 200 after {} was undone (bound {})",
                w.name,
                secs(within)
            );
            (Part::new(NAME, Verdict::Fail, d), None)
        }
    }
}

/// What the LB part measured.
struct Lb {
    convergence: Option<u64>,
    to_drained: usize,
    after_bound: usize,
}

/// b: the LB stops routing to the drained node within the bound.
fn lb_part(
    c: &DrainContract,
    h: &History,
    w: &FaultWindow,
    in_window: &[&Request],
    all_nodes: &[String],
    ping_said_418: bool,
) -> (Part, Lb) {
    const NAME: &str = "lb";
    let cause = if ping_said_418 {
        LIKELY_CAUSE
    } else {
        "the node's own ping did not say 418 in time, and an LB that follows the ping keeps routing to it"
    };
    let within = c.lb_within.value.as_micros_u64();
    let drained = |r: &Request| r.node.as_ref().is_some_and(|n| w.nodes.contains(n));
    let to_drained: Vec<u64> = in_window
        .iter()
        .filter(|r| drained(r))
        .map(|r| r.intended_us)
        .collect();
    let bound_at = w.start_us.saturating_add(within);
    let mut lb = Lb {
        convergence: None,
        to_drained: to_drained.len(),
        after_bound: to_drained.iter().filter(|&&t| t > bound_at).count(),
    };
    // Only ping bodies name the serving node: without pings the LB's
    // routing cannot be seen.
    if !in_window.iter().any(|r| r.op == Op::Ping) {
        let d = format!(
            "no ping went through the LB during {}; cannot see where it routed",
            w.name
        );
        return (Part::new(NAME, Verdict::Unknown, d), lb);
    }
    if !all_nodes.is_empty() && all_nodes.iter().all(|n| w.nodes.contains(n)) {
        let d = format!("{} drained every node; there was nowhere to route", w.name);
        return (Part::new(NAME, Verdict::Unknown, d), lb);
    }
    let last = to_drained.iter().copied().max();
    let convergence = last.map_or(0, |t| t - w.start_us);
    lb.convergence = Some(convergence);
    let who = drained_nodes(h, w);
    let still_at_end = last.is_some_and(|t| w.end_us.saturating_sub(t) < LAST_SECOND_US);
    if still_at_end {
        let d = format!(
            "LB kept routing to {who} for the whole {} ({} requests); {cause}",
            w.kind, lb.to_drained
        );
        return (Part::new(NAME, Verdict::Fail, d), lb);
    }
    if convergence > within {
        let d = format!(
            "LB kept routing to {who} for {} after {}, more than {} ({} requests after the bound); {cause}",
            secs(convergence),
            w.name,
            secs(within),
            lb.after_bound
        );
        return (Part::new(NAME, Verdict::Fail, d), lb);
    }
    let d = format!("LB stopped routing after {}", secs(convergence));
    (Part::new(NAME, Verdict::Pass, d), lb)
}

fn drained_nodes(h: &History, w: &FaultWindow) -> String {
    let labels: Vec<String> = w.nodes.iter().map(|n| h.label(n)).collect();
    match labels.as_slice() {
        [one] => format!("drained node {one}"),
        many => format!("drained nodes {}", many.join(", ")),
    }
}

/// What the failed-requests part counted.
struct Failed {
    /// Failures by status or error, drained nodes' late 418s included.
    by: BTreeMap<String, usize>,
    /// Drained nodes' 418s within the LB's window: its reaction time.
    in_window: usize,
    /// Drained nodes' 418s after it, counted in `by` too.
    after_window: usize,
}

/// c: no request through the LB fails during the window. A drained node's
/// 418 within `lb_within` of its drain (this one or one beside it) is the
/// LB's reaction time, reported but not a failure; a later one is a
/// failure, as `availability` counts it too.
fn failed_part(
    c: &DrainContract,
    h: &History,
    w: &FaultWindow,
    drains: &[FaultWindow],
    in_window: &[&Request],
) -> (Part, Failed) {
    const NAME: &str = "failed_requests";
    let within = c.lb_within.value.as_micros_u64();
    let lb = LbWindows::every(within);
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    let (mut reaction, mut late): (Vec<&Request>, Vec<&Request>) = (Vec::new(), Vec::new());
    for r in in_window {
        if !r.is_error() {
            continue;
        }
        match lb.classify(r, drains) {
            Some(Drained418::InWindow) => {
                reaction.push(r);
                continue;
            }
            Some(Drained418::AfterWindow) => late.push(r),
            None => {}
        }
        *by.entry(failure_label(r)).or_default() += 1;
    }
    // "67 answered 418 by drained node n1", and "it" or "them".
    let label = |rs: &[&Request]| {
        let nodes: Vec<String> = nodes_of(rs).iter().map(|n| h.label(n)).collect();
        let (who, them) = drained_by(&nodes);
        (format!("{} answered 418 by {who}", rs.len()), them)
    };
    let failed = Failed {
        by,
        in_window: reaction.len(),
        after_window: late.len(),
    };
    let before_out = (!reaction.is_empty()).then(|| {
        let (what, them) = label(&reaction);
        format!(
            "{what} before the LB took {them} out, within {}",
            secs(within)
        )
    });
    let total: usize = failed.by.values().sum();
    if total == 0 {
        let d = match &before_out {
            Some(b) => format!("0 failed requests ({b})"),
            None => "0 failed requests".into(),
        };
        return (Part::new(NAME, Verdict::Pass, d), failed);
    }
    let mut kinds: Vec<(&String, &usize)> = failed.by.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    let mut d = format!(
        "{total} {} failed through the LB during {} ({})",
        if total == 1 { "request" } else { "requests" },
        w.name,
        kinds.join(", ")
    );
    if !late.is_empty() {
        let (what, them) = label(&late);
        let _ = write!(
            d,
            "; {what} more than {} after the drain, when the LB should have taken {them} out",
            secs(within)
        );
    }
    d.push_str("; a drain must not fail requests");
    if let Some(b) = &before_out {
        let _ = write!(d, " (not counted: {b})");
    }
    (Part::new(NAME, Verdict::Fail, d), failed)
}

/// How a request failed, in a word: its status, else its error.
fn failure_label(r: &Request) -> String {
    match (&r.status, &r.error) {
        (Some(status), _) => status.to_string(),
        (None, Some(e)) => e.clone(),
        (None, None) => format!("{:?}", r.outcome).to_lowercase(),
    }
}

/// d: no task starts on the drained node once the drain took effect. The
/// clock skew allowance applies at both ends, as server start times are
/// compared with harness times.
fn started_part(
    c: &DrainContract,
    w: &FaultWindow,
    tasks: &[TaskRecord<'_>],
) -> (Part, Vec<String>) {
    const NAME: &str = "tasks_started";
    let skew = c.clock_skew.as_micros_u64();
    let from = w.started_us.saturating_add(skew);
    let until = w.end_us.saturating_sub(skew);
    let mut started: Vec<(String, String, u64)> = Vec::new();
    for t in tasks {
        // The latest start and node: a task run again counts where it ran.
        let (Some(at), Some(node)) = (t.started_us(), last_node(t)) else {
            continue;
        };
        if at > from && at <= until && w.nodes.iter().any(|n| n == node) {
            started.push((task_id(t).to_string(), node.to_string(), at));
        }
    }
    started.sort_by_key(|(_, _, at)| *at);
    let ids: Vec<String> = started.iter().map(|(id, _, _)| id.clone()).collect();
    let Some((id, node, at)) = started.first() else {
        return (Part::new(NAME, Verdict::Pass, "none started".into()), ids);
    };
    let more = match started.len() {
        1 => String::new(),
        n => format!(" ({n} tasks started on drained nodes)"),
    };
    let d = format!(
        "task {id} started on drained node {node} at {}, {} after the drain took effect{more}",
        secs(*at),
        secs(at - w.started_us)
    );
    (Part::new(NAME, Verdict::Fail, d), ids)
}

/// One task the node ran when it was drained, and how it ended.
struct Running {
    id: String,
    node: String,
    end: Option<TaskState>,
    /// When it ended, if it did.
    ended_us: Option<u64>,
    last: Option<TaskState>,
    error: Option<String>,
}

/// e: the tasks the node ran when it was drained end in Success. Tasks
/// that started within the clock skew of the drain are not judged by d, so
/// they are judged here.
fn running_part(
    c: &DrainContract,
    w: &FaultWindow,
    tasks: &[TaskRecord<'_>],
) -> (Part, Vec<Running>) {
    const NAME: &str = "running_tasks";
    let skew = c.clock_skew.as_micros_u64();
    let mut running = Vec::new();
    for t in tasks {
        // The first start: a task run again after the drain was still
        // running on the node when it was drained.
        let Some(at) = first_started_us(t) else {
            continue;
        };
        if at > w.started_us.saturating_add(skew) {
            continue;
        }
        if t.end().is_some_and(|(_, end)| end < w.start_us) {
            continue;
        }
        let Some(node) = node_at(t, w.started_us) else {
            continue;
        };
        if !w.nodes.iter().any(|n| n == node) {
            continue;
        }
        running.push(Running {
            id: task_id(t).to_string(),
            node: node.to_string(),
            end: t.end().map(|(s, _)| s),
            ended_us: t.end().map(|(_, at)| at),
            last: t.last().map(|s| s.state),
            error: t.last().and_then(|s| s.error.clone()),
        });
    }
    let bad: Vec<&Running> = running
        .iter()
        .filter(|r| r.end != Some(TaskState::Success))
        .collect();
    let Some(first) = bad.first() else {
        let d = match running.len() {
            0 => "no task was running".to_string(),
            1 => "1 running task finished".to_string(),
            n => format!("{n} running tasks finished"),
        };
        return (Part::new(NAME, Verdict::Pass, d), running);
    };
    let how = match (first.end, first.last) {
        (Some(state), _) => match &first.error {
            Some(e) => format!("ended {}: {e}", state.as_str()),
            None => format!("ended {}", state.as_str()),
        },
        (None, Some(state)) => format!("never ended (last seen {})", state.as_str()),
        (None, None) => "never ended".to_string(),
    };
    let more = match bad.len() {
        1 => String::new(),
        n => format!(" ({n} of {} running tasks did not succeed)", running.len()),
    };
    let d = format!(
        "task {}, running on {} when it was drained, {how}{more}",
        first.id, first.node
    );
    (Part::new(NAME, Verdict::Fail, d), running)
}

/// How the tasks running at the drain ended, by state.
fn running_outcomes(running: &[Running]) -> BTreeMap<&'static str, usize> {
    let mut by = BTreeMap::new();
    for r in running {
        let key = r.end.map_or("unfinished", |s| s.as_str());
        *by.entry(key).or_default() += 1;
    }
    by
}

#[cfg(test)]
mod tests {
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
            "LB kept routing to drained node n1 for the whole drain (334 requests)",
        );
        // The detail says what to look at in the LB.
        assert_verdict(
            &r,
            Verdict::Fail,
            "a health check that accepts 4xx (an ALB matcher of 200-499, an HAProxy `http-check expect status` range",
        );
        assert_verdict(&r, Verdict::Fail, "passive checks only (nginx open source)");
        assert_eq!(r.evidence["faults"][0]["requests_to_drained_node"], 334);

        let r = judged(CONTRACT, drain(9 * S));
        assert_verdict(
            &r,
            Verdict::Fail,
            "LB kept routing to drained node n1 for 4.0s after drain-n1, more than 3.0s (33 requests after the bound)",
        );

        let mut events = drain(7 * S);
        events.retain(
            |e| !matches!(e, Event::Request(r) if (5 * S..=15 * S).contains(&r.intended_us)),
        );
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
}
