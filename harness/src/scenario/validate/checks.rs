//! The checks: each has the workload and the fault it judges, and bounds
//! that let it tell a good cluster from a bad one.

use std::collections::HashMap;

use serde_saphyr::{Location, Spanned};

use super::validator::Validator;
use crate::scenario::model::{
    Check, DrainContract, Fault, RoutesAround, Scenario, SearchKind, Sustains,
};
use crate::scenario::units::Duration;
use crate::vocab::FaultKind;

/// The faults after which `routes_around_failed_node` expects the LB to
/// stop sending the node requests: the node dead, frozen or cut off from
/// the LB.
const TAKE_A_NODE_AWAY: &[&str] = &["kill", "pause", "partition from lb"];

/// The REST traffic a scenario sends: any at all (from an api workload or
/// a load phase), and pings among it.
#[derive(Clone, Copy)]
struct Traffic {
    api: bool,
    ping: bool,
}

impl Traffic {
    fn of(s: &Scenario) -> Self {
        Self {
            api: s.api_load().is_some() || s.load_phase().is_some(),
            ping: s.api_load().is_some_and(|a| a.mix().ping > 0)
                || s.load_phase().is_some_and(|l| l.mix.value.ping > 0),
        }
    }
}

impl Validator {
    pub(super) fn checks(&mut self, s: &Scenario) {
        let mut names: HashMap<String, usize> = HashMap::new();
        let traffic = Traffic::of(s);
        for (i, c) in s.checks.iter().enumerate() {
            let kind = c.value.kind();
            let path = format!("checks[{i}].{kind}");
            let name = c.value.name();
            if let Some(first) = names.insert(name.clone(), i) {
                self.problem(
                    &c.referenced,
                    path.clone(),
                    format!("check name {name:?} is already used by checks[{first}]; give one of them a name"),
                );
            }
            self.judged_workload(s, c, &path, traffic);
            self.check_fields(s, c, &path, traffic);
        }
    }

    /// The workload a check judges is in the scenario.
    fn judged_workload(&mut self, s: &Scenario, c: &Spanned<Check>, path: &str, traffic: Traffic) {
        let missing = if c.value.judges_fleet() {
            s.fleet()
                .is_none()
                .then_some("needs a fleet workload to judge, and the scenario has none")
        } else if let Check::NoAcknowledgedLoss(_) = &c.value {
            (s.upload_load().is_none() && s.task_load().is_none())
                .then_some("needs an upload or tasks workload to judge, and the scenario has none")
        } else if let Check::HeartbeatsResume(_) | Check::Sustains(_) = &c.value {
            // Judged by the harness's own pings of each node, or by the
            // capacity search (its own rules say whether one is there).
            None
        } else if let Check::LadderReaches(_) = &c.value {
            s.ladder()
                .is_none()
                .then_some("needs a body_limit_ladder workload to judge, and the scenario has none")
        } else if c.value.judges_uploads() {
            s.upload_load()
                .is_none()
                .then_some("needs an upload workload to judge, and the scenario has none")
        } else if let Check::NoRegression(_) = &c.value {
            (!traffic.api && s.task_load().is_none()).then_some(
                "needs an api, load or tasks workload to compare with the baseline, and the scenario has none",
            )
        } else if c.value.judges_tasks() {
            s.task_load()
                .is_none()
                .then_some("needs a tasks workload to judge, and the scenario has none")
        } else {
            (!traffic.api)
                .then_some("needs an api or load workload to judge, and the scenario has none")
        };
        if let Some(why) = missing {
            self.problem(&c.referenced, path, why);
        }
    }

    /// A `sustains` check judges a node count the search measures, of a
    /// search the capacity section asks for.
    fn sustains(&mut self, s: &Scenario, c: &Sustains, at: &Location, path: &str) {
        let most = s.capacity.as_ref().map_or(0, |cap| cap.value.drain.value);
        if c.drained.value > most {
            self.problem(
                &c.drained.referenced,
                format!("{path}.drained"),
                format!("judges the search with {} node(s) drained, and capacity.drain takes away {most}", c.drained.value),
            );
        }
        let kind = c.search.as_ref().map(|k| k.value).or_else(|| {
            s.capacity
                .as_ref()
                .and_then(|cap| cap.value.searches().first().copied())
        });
        let uploads = kind == Some(SearchKind::Uploads);
        match (&c.rate, &c.at_once) {
            (None, None) => self.problem(
                at,
                path,
                if uploads {
                    "needs `at_once`: the fewest uploads at once that pass"
                } else {
                    "needs `rate`: the least sustained rate that passes"
                },
            ),
            (Some(r), _) if uploads => self.problem(
                &r.referenced,
                format!("{path}.rate"),
                "judges the upload search, which counts uploads at once: give `at_once`",
            ),
            (_, Some(n)) if !uploads => self.problem(
                &n.referenced,
                format!("{path}.at_once"),
                "counts uploads at once, and the search judged is not the upload search: give `rate`",
            ),
            (_, Some(n)) if n.value == 0 => self.problem(
                &n.referenced,
                format!("{path}.at_once"),
                "must be at least 1: any search sustains none at once",
            ),
            _ => {}
        }
        if let (Some(search), Some(cap)) = (&c.search, &s.capacity)
            && !cap.value.searches().contains(&search.value)
        {
            self.problem(
                &search.referenced,
                format!("{path}.search"),
                format!(
                    "judges the {} search, and the capacity section does not ask for it",
                    search.value.name()
                ),
            );
        }
    }

    /// A check's own fields, and what else in the scenario it relies on.
    fn check_fields(&mut self, s: &Scenario, c: &Spanned<Check>, path: &str, traffic: Traffic) {
        // The checks that follow a failed node need a positive bound,
        // ping traffic, and a fault of the right kind to judge.
        let node_check = |v: &mut Self, within: &Spanned<Duration>, fault, kinds: &[&str]| {
            v.positive(within, &format!("{path}.within"));
            v.needs_ping(traffic.ping, traffic.api, &c.referenced, path);
            v.fault_ref(s, fault, path, &c.referenced, kinds);
        };
        match &c.value {
            Check::Availability(_) => {}
            Check::SurvivesDatabaseOutage(o)
            | Check::HeartbeatsResume(o)
            | Check::TasksSurvive(o) => {
                self.positive(&o.within, &format!("{path}.within"));
                let kinds: Vec<&str> = FaultKind::DATABASE.iter().map(|k| k.as_str()).collect();
                self.fault_ref(s, o.fault.as_ref(), path, &c.referenced, &kinds);
            }
            Check::RoutesAroundFailedNode(r) => {
                node_check(self, &r.within, r.fault.as_ref(), TAKE_A_NODE_AWAY);
                self.room_to_converge(s, r, path);
            }
            Check::Recovers(r) => {
                node_check(
                    self,
                    &r.within,
                    r.fault.as_ref(),
                    &["kill", "pause", "restart", "partition from lb"],
                );
            }
            Check::DrainContract(d) => {
                v_drain(self, s, d, traffic.ping, traffic.api, &c.referenced, path);
            }
            Check::ExactlyOnce(e) => self.positive(&e.within, &format!("{path}.within")),
            Check::TaskCap(t) => {
                if let Some(p) = &t.pickup_p99_below {
                    self.positive(p, &format!("{path}.pickup_p99_below"));
                }
            }
            Check::OrphanedTasks(o) => {
                self.positive(&o.within, &format!("{path}.within"));
                self.fault_ref(
                    s,
                    o.fault.as_ref(),
                    path,
                    &c.referenced,
                    &["kill", "restart"],
                );
            }
            Check::Sustains(sus) => self.sustains(s, sus, &c.referenced, path),
            Check::SharedStorage(_)
            | Check::NoAcknowledgedLoss(_)
            | Check::UploadIntact(_)
            | Check::UploadAnswered(_)
            | Check::UploadThroughput(_)
            | Check::LadderReaches(_)
            | Check::PollingFanOut(_)
            | Check::PollingCertificate(_) => {}
            Check::EveryNodeReachesEveryTentacle(_) => {
                if s.fleet().is_some_and(|f| f.health_checks.is_empty()) {
                    self.problem(
                        &c.referenced,
                        path,
                        "needs health-check rounds to judge: add health_checks to the fleet workload",
                    );
                }
            }
            Check::ReconnectStorm(r) => {
                self.positive(&r.within, &format!("{path}.within"));
                let restarts = s.faults.iter().any(|f| {
                    matches!(
                        f.value.judged_as(),
                        "kill" | "restart" | "maintenance" | "partition from tentacles"
                    )
                });
                if !restarts {
                    self.problem(
                        &c.referenced,
                        path,
                        "needs a kill, restart, maintenance or partition from tentacles fault to judge, and the scenario has none",
                    );
                }
            }
            Check::NoRegression(n) => {
                self.bounded(&n.p99_slack, &format!("{path}.p99_slack"));
            }
            Check::RpcLatency(l) => self.percentile(&l.percentile, path),
            Check::Latency(l) => self.percentile(&l.percentile, path),
        }
    }

    fn percentile(&mut self, percentile: &Spanned<f64>, path: &str) {
        let p = percentile.value;
        if !(p > 0.0 && p <= 100.0) {
            self.problem(
                &percentile.referenced,
                format!("{path}.percentile"),
                format!("must be above 0 and at most 100, not {p}"),
            );
        }
    }

    /// A fault must hold longer than the check's bound, or a LB that never
    /// routes around the node could not be told from one that did.
    fn room_to_converge(&mut self, s: &Scenario, r: &RoutesAround, path: &str) {
        let needed = r.within.value.get() + std::time::Duration::from_secs(1);
        for f in &s.faults {
            let judged = match &r.fault {
                Some(name) => f.value.name() == name.value,
                None => TAKE_A_NODE_AWAY.contains(&f.value.judged_as()),
            };
            if !judged || !TAKE_A_NODE_AWAY.contains(&f.value.judged_as()) {
                continue;
            }
            let at = f.value.at().value.get();
            let holds = match f.value.hold() {
                Some(h) => h.value.get(),
                None => s.duration.value.get().saturating_sub(at),
            };
            if holds < needed {
                self.problem(
                    &r.within.referenced,
                    format!("{path}.within"),
                    format!(
                        "{} holds only {}; it must hold at least within + 1s ({}) for the check to see the LB converge",
                        f.value.name(),
                        Duration::new(holds),
                        Duration::new(needed)
                    ),
                );
            }
        }
    }

    fn needs_ping(&mut self, has_ping: bool, has_api: bool, loc: &Location, path: &str) {
        // Only ping bodies name the serving node; without them the check has
        // no evidence. A missing workload is reported once, above.
        if has_api && !has_ping {
            self.problem(
                loc,
                path,
                "needs ping requests (mix.ping above 0), whose bodies name the serving node",
            );
        }
    }

    fn fault_ref(
        &mut self,
        s: &Scenario,
        fault: Option<&Spanned<String>>,
        path: &str,
        check_loc: &Location,
        kinds: &[&str],
    ) {
        // "a kill, pause or partition from lb"
        let wanted = match kinds.split_last() {
            Some((last, [])) => (*last).to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        match fault {
            Some(name) => match s.faults.iter().find(|f| f.value.name() == name.value) {
                None => {
                    let known: Vec<String> = s.faults.iter().map(|f| f.value.name()).collect();
                    let known = if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    };
                    self.problem(
                        &name.referenced,
                        format!("{path}.fault"),
                        format!("unknown fault {:?}; faults: {known}", name.value),
                    );
                }
                Some(f) if !kinds.contains(&f.value.judged_as()) => self.problem(
                    &name.referenced,
                    format!("{path}.fault"),
                    format!(
                        "fault {:?} is a {}; this check judges a {wanted}",
                        name.value,
                        f.value.judged_as()
                    ),
                ),
                Some(_) => {}
            },
            None => {
                if !s
                    .faults
                    .iter()
                    .any(|f| kinds.contains(&f.value.judged_as()))
                {
                    self.problem(
                        check_loc,
                        path,
                        format!("needs a {wanted} fault, and the scenario has none"),
                    );
                }
            }
        }
    }
}

/// The drain contract needs ping traffic through the LB (ping bodies name
/// the node that served them) and a drain or maintenance to judge.
fn v_drain(
    v: &mut Validator,
    s: &Scenario,
    d: &DrainContract,
    has_ping: bool,
    has_api: bool,
    loc: &Location,
    path: &str,
) {
    v.positive(&d.ping_within, &format!("{path}.ping_within"));
    v.positive(&d.lb_within, &format!("{path}.lb_within"));
    if d.clock_skew > Duration::from_secs(10) {
        v.problem(
            loc,
            format!("{path}.clock_skew"),
            format!("must be at most 10s, not {}", d.clock_skew),
        );
    }
    v.needs_ping(has_ping, has_api, loc, path);
    v.fault_ref(s, d.fault.as_ref(), path, loc, &["drain", "maintenance"]);
    // The drain must last long enough for a correct LB to be told from one
    // that never stops routing (the last second of the window).
    let needed = d.lb_within.value.get() + std::time::Duration::from_secs(1);
    for f in &s.faults {
        let judged = match &d.fault {
            Some(name) => f.value.name() == name.value,
            None => matches!(f.value, Fault::Drain(_) | Fault::Maintenance(_)),
        };
        let (holds, what) = match &f.value {
            Fault::Drain(_) if judged => (
                f.value.hold().map_or_else(
                    || {
                        s.duration
                            .value
                            .get()
                            .saturating_sub(f.value.at().value.get())
                    },
                    |h| h.value.get(),
                ),
                "holds",
            ),
            Fault::Maintenance(m) if judged => (m.restart_after.value.get(), "restarts after"),
            _ => continue,
        };
        if holds < needed {
            v.problem(
                &d.lb_within.referenced,
                format!("{path}.lb_within"),
                format!(
                    "{} {what} only {}; it must be at least lb_within + 1s ({}) for the check to see the LB converge",
                    f.value.name(),
                    Duration::new(holds),
                    Duration::new(needed)
                ),
            );
        }
    }
}
