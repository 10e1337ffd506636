//! The faults: each on a node the cluster has, within the duration, and
//! no two on one node at once.

use std::collections::{BTreeMap, HashMap};

use serde_saphyr::Spanned;

use super::validator::Validator;
use crate::scenario::model::{Fault, Scenario};
use crate::scenario::units::Duration;

impl Validator {
    fn node_selector(&mut self, s: &Scenario, node: &Spanned<String>, path: String) {
        let Some(names) = self.known_names(s) else {
            return;
        };
        let n = node.value.as_str();
        if n != "one" && n != "all" && !names.iter().any(|m| m == n) {
            self.problem(
                &node.referenced,
                path,
                format!(
                    "unknown node {n:?}; known nodes: {} (or one, all)",
                    names.join(", ")
                ),
            );
        }
    }

    pub(super) fn faults(&mut self, s: &Scenario) {
        let duration = s.duration.value;
        let mut names: HashMap<String, usize> = HashMap::new();
        // Busy spans per node, to refuse two faults on one node at once.
        let mut busy: BTreeMap<String, Vec<(Duration, Duration, usize)>> = BTreeMap::new();
        for (i, f) in s.faults.iter().enumerate() {
            let kind = f.value.kind();
            let path = format!("faults[{i}].{kind}");
            let name = f.value.name();
            if let Some(first) = names.insert(name.clone(), i) {
                self.problem(
                    &f.referenced,
                    format!("{path}.name"),
                    format!("fault name {name:?} is already used by faults[{first}]; give one of them a name"),
                );
            }
            if let Some(node) = f.value.node() {
                self.node_selector(s, node, format!("{path}.node"));
            }
            let at = f.value.at();
            if at.value >= duration {
                self.problem(
                    &at.referenced,
                    format!("{path}.at"),
                    format!("{} is not within the duration ({duration})", at.value),
                );
            }
            self.kind_fields(&f.value, &path, duration);
            let field = f.value.hold_field();
            let end = match f.value.hold() {
                Some(hold) => {
                    self.positive(hold, &format!("{path}.{field}"));
                    let end = Duration::new(at.value.get().saturating_add(hold.value.get()));
                    if end > duration {
                        self.problem(
                            &hold.referenced,
                            format!("{path}.{field}"),
                            format!("the fault would be undone at {end}, after the duration ({duration})"),
                        );
                    }
                    end
                }
                None if matches!(f.value, Fault::Restart(_)) => at.value,
                None => duration,
            };
            // A fault on the whole cluster takes no node from the others,
            // but two of them cannot overlap each other.
            let node = f.value.node().map_or(DATABASE, |n| n.value.as_str());
            busy.entry(node.to_string())
                .or_default()
                .push((at.value, end, i));
        }
        // `all` overlaps every node; `one` is only known after the seed.
        let all = busy.remove("all").unwrap_or_default();
        busy.remove("one");
        let mut clashes: Vec<(usize, usize, String)> = Vec::new();
        if let Some(spans) = busy.remove(DATABASE) {
            clashes.extend(overlaps(spans.iter(), ON_DATABASE));
        }
        for (node, spans) in busy {
            clashes.extend(overlaps(
                spans.iter().chain(&all),
                &format!("on node {node}"),
            ));
        }
        clashes.extend(overlaps(all.iter(), "on every node"));
        clashes.sort();
        clashes.dedup_by(|x, y| x.0 == y.0 && x.1 == y.1);
        for (a, b, place) in clashes {
            let f = &s.faults[b];
            self.problem(
                &f.value.at().referenced,
                format!("faults[{b}].{}.at", f.value.kind()),
                if place == ON_DATABASE {
                    format!("overlaps faults[{a}] {place}; one outage of the database at a time")
                } else {
                    format!("overlaps faults[{a}] {place}; one fault per node at a time")
                },
            );
        }
    }

    /// The fields only some kinds have: a maintenance's steps, a
    /// failover's times.
    fn kind_fields(&mut self, f: &Fault, path: &str, duration: Duration) {
        let at = f.at();
        if let Fault::Maintenance(m) = f {
            if m.node.value == "all" {
                self.problem(
                    &m.node.referenced,
                    format!("{path}.node"),
                    "a rolling maintenance takes one node at a time; give a node or one",
                );
            }
            self.bounded(&m.restart_after, &format!("{path}.restart_after"));
            self.positive(&m.wait, &format!("{path}.wait"));
            let restart = at.value.get().saturating_add(m.restart_after.value.get());
            if restart >= duration.get() {
                self.problem(
                    &m.restart_after.referenced,
                    format!("{path}.restart_after"),
                    format!(
                        "the restart would come at {}, after the duration ({duration})",
                        Duration::new(restart)
                    ),
                );
            }
        }
        if let Fault::DatabaseFailover(d) = f {
            self.positive(&d.shortest, &format!("{path}.shortest"));
            if d.shortest.value > d.longest.value {
                self.problem(
                    &d.longest.referenced,
                    format!("{path}.longest"),
                    format!(
                        "must be at least shortest ({}), not {}",
                        d.shortest.value, d.longest.value
                    ),
                );
            }
        }
    }
}

/// Where the faults on the shared database are kept apart from the nodes'.
const DATABASE: &str = " database";

/// Where two of them clash.
const ON_DATABASE: &str = "on the database";

/// Pairs `(earlier, later, place)` of fault indices whose spans overlap.
fn overlaps<'a>(
    spans: impl Iterator<Item = &'a (Duration, Duration, usize)>,
    place: &str,
) -> Vec<(usize, usize, String)> {
    let mut spans: Vec<_> = spans.copied().collect();
    spans.sort();
    spans
        .windows(2)
        .filter(|pair| pair[1].0 <= pair[0].1)
        .map(|pair| (pair[0].2, pair[1].2, place.to_string()))
        .collect()
}
