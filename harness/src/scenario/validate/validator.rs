//! The validator's state (the problems found, the node names a scenario
//! may use) and the small judgements every area's checks share, with the
//! bounds they judge against.

use serde_saphyr::{Location, Spanned};

use crate::scenario::model::Scenario;
use crate::scenario::problem::Problem;
use crate::scenario::units::Duration;

/// Most nodes the embedded cluster starts; each takes a loopback address.
pub const MAX_NODES: u32 = 16;

/// Most users of one load phase.
pub(super) const MAX_USERS: u32 = 10_000;

/// Longest duration of any kind in a scenario: a day. Longer runs are a
/// typo, and the bound keeps every time sum far from overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// The node names of an embedded cluster of `n` nodes.
pub fn node_names(n: u32) -> Vec<String> {
    (1..=n).map(|i| format!("n{i}")).collect()
}

#[derive(Default)]
pub(super) struct Validator {
    pub(super) problems: Vec<Problem>,
    /// A real target's node names; the embedded cluster's when None.
    pub(super) nodes: Option<Vec<String>>,
}

impl Validator {
    /// The nodes a scenario may name.
    pub(super) fn names(&self, s: &Scenario) -> Vec<String> {
        self.nodes
            .clone()
            .unwrap_or_else(|| node_names(s.cluster.nodes.value))
    }

    /// The nodes a scenario may name, where they are known: a node count
    /// out of range is its own problem, and names judged against it would
    /// only repeat it.
    pub(super) fn known_names(&self, s: &Scenario) -> Option<Vec<String>> {
        (self.nodes.is_some() || (1..=MAX_NODES).contains(&s.cluster.nodes.value))
            .then(|| self.names(s))
    }

    pub(super) fn problem(
        &mut self,
        loc: &Location,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem::at(loc, path, message));
    }

    /// Above 0 and at most [`MAX_DURATION`].
    pub(super) fn positive(&mut self, d: &Spanned<Duration>, path: &str) {
        if d.value.get().is_zero() {
            self.problem(&d.referenced, path, "must be longer than 0s");
        }
        self.bounded(d, path);
    }

    /// At most [`MAX_DURATION`].
    pub(super) fn bounded(&mut self, d: &Spanned<Duration>, path: &str) {
        if d.value > MAX_DURATION {
            self.problem(
                &d.referenced,
                path,
                format!("must be at most {MAX_DURATION}, not {}", d.value),
            );
        }
    }
}
