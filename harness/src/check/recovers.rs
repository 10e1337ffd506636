//! `recovers`: after a fault is undone (a killed node restarted, a paused
//! one resumed), the node serves requests again within a bound. Only ping
//! bodies name the serving node, so pings are the evidence. A recovery the
//! run's interruption came in before the bound elapsed is unknown where it
//! would fail (docs/robustness.md, "Interrupted runs").

use serde_json::{Value, json};

use super::verdict::{Verdict, never_injected, secs, worst};
use super::windows::{cut_short, judged_windows};
use crate::history::{FaultWindow, History};
use crate::scenario::Recovers;

pub(super) fn judge(c: &Recovers, h: &History) -> (Verdict, String, Value) {
    let windows = judged_windows(h, c.fault.as_ref(), &[]);
    if windows.is_empty() {
        return never_injected("recoveries");
    }
    let within = c.within.value.as_micros_u64();
    let mut evidence = Vec::new();
    let mut outcomes = Vec::new();
    for w in &windows {
        for node in &w.nodes {
            let (verdict, detail, recovery) = judge_node(h, w, node, within);
            evidence.push(json!({
                "fault": w.name,
                "node": node,
                "healed_at_s": w.end_us as f64 / 1e6,
                "recovery_s": recovery.map(|us| us as f64 / 1e6),
                "verdict": verdict,
            }));
            outcomes.push((verdict, detail));
        }
    }
    let (verdict, detail) = worst(&outcomes);
    (
        verdict,
        detail,
        json!({ "within_s": within as f64 / 1e6, "recoveries": evidence }),
    )
}

/// One node's recovery from one fault, and how long it took if it did.
fn judge_node(
    h: &History,
    w: &FaultWindow,
    node: &str,
    within: u64,
) -> (Verdict, String, Option<u64>) {
    // Named as the scenario does, the cluster's Name beside it.
    let who = h.label(node);
    let (verdict, detail, recovery) = if let Some(e) = &w.inject_error {
        (
            Verdict::Unknown,
            format!("{} could not be injected: {e}", w.name),
            None,
        )
    } else if !w.healed {
        (
            Verdict::Unknown,
            format!("{} was never undone, so {who} could not recover", w.name),
            None,
        )
    } else {
        first_service(h, w, node, &who, within)
    };
    let (verdict, detail) = match verdict {
        Verdict::Fail => match cut_short(
            h,
            &format!("the wait for {who} after {} was undone", w.name),
            w.end_us,
            within,
        ) {
            Some(why) => (Verdict::Unknown, why),
            None => (verdict, detail),
        },
        _ => (verdict, detail),
    };
    (verdict, detail, recovery)
}

/// When `node` first served a request after the fault was undone, against
/// the bound.
fn first_service(
    h: &History,
    w: &FaultWindow,
    node: &str,
    who: &str,
    within: u64,
) -> (Verdict, String, Option<u64>) {
    let end = h.end_us();
    let first = h
        .requests()
        .filter(|r| r.intended_us >= w.end_us && !r.is_error())
        .filter(|r| r.node.as_deref() == Some(node))
        .map(|r| r.done_us)
        .min();
    match first {
        Some(done) => {
            let took = done.saturating_sub(w.end_us);
            if took <= within {
                (
                    Verdict::Pass,
                    format!(
                        "{who} served requests {} after {} was undone (bound {})",
                        secs(took),
                        w.name,
                        secs(within)
                    ),
                    Some(took),
                )
            } else {
                (
                    Verdict::Fail,
                    format!(
                        "{who} served its first request {} after {} was undone, more than {}",
                        secs(took),
                        w.name,
                        secs(within)
                    ),
                    Some(took),
                )
            }
        }
        None if end.saturating_sub(w.end_us) > within => (
            Verdict::Fail,
            format!(
                "{who} served no request in the {} after {} was undone (bound {})",
                secs(end - w.end_us),
                w.name,
                secs(within)
            ),
            None,
        ),
        None => (
            Verdict::Unknown,
            format!(
                "the run ended {} after {} was undone, before the bound of {}",
                secs(end.saturating_sub(w.end_us)),
                w.name,
                secs(within)
            ),
            None,
        ),
    }
}
