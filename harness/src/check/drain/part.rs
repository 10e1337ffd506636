//! One part of the drain contract as each judge of a part gives it (the
//! ping's, the LB's, the failed requests', the tasks'): its name, its
//! verdict, and its fragment of the window's detail, which `drain_contract`
//! merges into the window's answer.

use crate::check::verdict::Verdict;

/// One part of the contract: its verdict and a fragment of the detail.
pub(super) struct Part {
    pub(super) name: &'static str,
    pub(super) verdict: Verdict,
    pub(super) detail: String,
}

impl Part {
    pub(super) fn new(name: &'static str, verdict: Verdict, detail: String) -> Self {
        Self {
            name,
            verdict,
            detail,
        }
    }
}
