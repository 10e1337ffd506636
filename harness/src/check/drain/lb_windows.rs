//! The LB's allowed detection window for each drain, and where a 418 a
//! drained node answered through the LB stands in it: the one rule that
//! `drain_contract` (its LB and failed-request parts) and `availability`
//! share, so a drained node's 418 is the LB's reaction time to both or a
//! failure to both (docs/scenarios.md, "Drains and the LB's reaction
//! time"), with the words their details name the drained nodes in.

use crate::history::{FaultWindow, Request};

/// Where a 418 a drained node answered through the LB stands, by the one
/// rule `drain_contract` and `availability` share: within the LB's allowed
/// detection window (`lb_within` from the drain) it is the LB's reaction
/// time, reported and not counted as a failure; after it, or where no
/// `drain_contract` gives the LB a window, it is a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::check) enum Drained418 {
    /// Before the LB was due to take the node out.
    InWindow,
    /// After it, or with no window declared.
    AfterWindow,
}

/// The LB's allowed detection window for each drain: the `lb_within` of
/// the scenario's `drain_contract` that judges it (the smallest, when
/// several do).
#[derive(Debug, Clone, Default)]
pub(in crate::check) struct LbWindows(Vec<(Option<String>, u64)>);

impl LbWindows {
    /// The windows the scenario's `drain_contract` checks declare.
    pub(in crate::check) fn of(checks: &[serde_saphyr::Spanned<crate::scenario::Check>]) -> Self {
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
    pub(in crate::check) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One window for every drain, as one `drain_contract` sees them.
    pub(super) fn every(within: u64) -> Self {
        Self(vec![(None, within)])
    }

    fn bound(&self, w: &FaultWindow) -> Option<u64> {
        self.0
            .iter()
            .filter(|(fault, _)| fault.as_ref().is_none_or(|f| *f == w.name))
            .map(|(_, within)| *within)
            .min()
    }

    /// Whether `r` is a 418 from a node drained while it was in flight,
    /// and if so where it stands; `drains` are every drain and maintenance.
    /// Its flight, not its intended start, places it: a request the
    /// generator sent late reached the LB when it was sent, and a 418 says
    /// the node was drained when it answered.
    pub(in crate::check) fn classify(
        &self,
        r: &Request,
        drains: &[FaultWindow],
    ) -> Option<Drained418> {
        if r.status != Some(418) {
            return None;
        }
        let node = r.node.as_ref()?;
        let mut drained = false;
        for d in drains {
            if !d.nodes.contains(node) || r.done_us < d.start_us || r.sent_us > d.end_us {
                continue;
            }
            drained = true;
            if self
                .bound(d)
                .is_some_and(|b| r.sent_us <= d.start_us.saturating_add(b))
            {
                return Some(Drained418::InWindow);
            }
        }
        drained.then_some(Drained418::AfterWindow)
    }
}

/// Who answered drained 418s, for details ("drained node n1", "drained
/// nodes n1, n2"), and the pronoun for them.
pub(in crate::check) fn drained_by(nodes: &[String]) -> (String, &'static str) {
    match nodes {
        [] => ("a drained node".into(), "it"),
        [one] => (format!("drained node {one}"), "it"),
        many => (format!("drained nodes {}", many.join(", ")), "them"),
    }
}
