//! Part a of the contract: the drained node's own ping, probed directly,
//! answers 418 once the drain takes effect and 200 again after the undrain.

use super::part::Part;
use crate::check::verdict::{Verdict, secs};
use crate::history::{FaultWindow, History};

/// A node's direct ping answers, in time order.
pub(super) fn statuses(h: &History, node: &str) -> Vec<(u64, Option<u16>)> {
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
pub(super) fn ping_418_part(
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
pub(super) fn ping_200_part(
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
