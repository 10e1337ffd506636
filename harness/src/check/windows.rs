//! What a check judges by, besides the requests and tasks themselves: the
//! fault windows it names (or every window of its kinds), and whether the
//! run's interruption came before a bound counted from inside one had
//! elapsed. A check says unknown then, never fail, where it would
//! otherwise fail (docs/robustness.md, "Interrupted runs").

use super::verdict::secs;
use crate::history::{FaultWindow, History};
use crate::vocab::FaultKind;

/// The fault windows a check judges: the one it names, else every window
/// of the given kinds (every window at all when `kinds` is empty).
pub(super) fn judged_windows(
    h: &History,
    fault: Option<&serde_saphyr::Spanned<String>>,
    kinds: &[FaultKind],
) -> Vec<FaultWindow> {
    h.fault_windows()
        .into_iter()
        .filter(|w| match fault {
            Some(name) => w.name == name.value,
            None => kinds.is_empty() || kinds.contains(&w.kind),
        })
        .collect()
}

/// Why a window cannot be judged at all, if it cannot: its fault was not
/// injected, or never undone, so nothing could come back from it.
pub(super) fn unjudged(w: &FaultWindow) -> Option<String> {
    if let Some(e) = &w.inject_error {
        return Some(format!("{} could not be injected: {e}", w.name));
    }
    (!w.healed).then(|| format!("{} was never undone, so nothing could come back", w.name))
}

/// Why a bound of `bound_us` counted from `from_us` was not seen out: the
/// run was interrupted before it elapsed. A check says unknown with this,
/// never fail, where it would otherwise fail (docs/robustness.md, "Interrupted runs").
pub(super) fn cut_short(h: &History, what: &str, from_us: u64, bound_us: u64) -> Option<String> {
    let i = h.interruption()?;
    if i.at_us >= from_us.saturating_add(bound_us) {
        return None;
    }
    let when = if i.at_us >= from_us {
        format!("{} in", secs(i.at_us - from_us))
    } else {
        "before it began".to_string()
    };
    Some(format!(
        "{what} was cut short by the interruption ({}) {when}, before its bound of {} elapsed; cannot tell",
        i.describe(),
        secs(bound_us)
    ))
}

/// [`cut_short`] for a bound that runs inside fault window `w` from
/// `from_us`: only a window still in effect when the interruption came was
/// cut short by it (one healed on schedule before it ran its course).
pub(super) fn window_cut_short(
    h: &History,
    w: &FaultWindow,
    from_us: u64,
    bound_us: u64,
) -> Option<String> {
    let i = h.interruption()?;
    let in_effect = i.at_us >= w.start_us && (!w.healed || w.end_us >= i.at_us);
    if !in_effect {
        return None;
    }
    cut_short(h, &w.name, from_us, bound_us)
}
