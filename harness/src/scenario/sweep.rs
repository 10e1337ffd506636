//! A sweep's combinations: the scenario with each combination of the
//! matrix's values applied, and, where the sweep asks, the same again with
//! one node killed for the whole workload. Each is an ordinary scenario, so
//! it is validated, run and judged as one.

use serde_saphyr::Spanned;

use super::model::{Fault, LbPreset, NodeFault, Scenario, Sweep, Workload, spanned};
use super::problem::Problem;
use super::units::Duration;

/// Most combinations one sweep may have.
pub const MAX_COMBINATIONS: usize = 64;

/// One combination of a sweep.
#[derive(Debug, Clone)]
pub struct Combination {
    /// Its place in the sweep, from 1.
    pub index: usize,
    /// The values it sets, in the sweep's order: (`nodes`, `4`), ...
    pub params: Vec<(String, String)>,
    /// The scenario with them applied, named by its values, such as
    /// `capacity-n4-c0.25-u50`, so a baseline of a sweep matches the same
    /// combination however the matrix is reordered or grown.
    pub scenario: Scenario,
    /// The same with its last node killed as the workload starts, named
    /// `<name>-down`; None unless the sweep measures it.
    pub one_down: Option<Scenario>,
}

impl Combination {
    /// Its values as people read them: `nodes=4 node_cpus=0.25 users=50`.
    pub fn label(&self) -> String {
        self.params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One axis value applied to a scenario.
#[derive(Debug, Clone, Copy)]
enum Value {
    Nodes(u32),
    NodeCpus(f64),
    Shape(u32, Option<f64>),
    TaskCap(u32),
    Users(u32),
    Preset(LbPreset),
}

impl Value {
    fn param(self) -> Vec<(String, String)> {
        let p = |k: &str, v: String| (k.to_string(), v);
        match self {
            Value::Nodes(n) => vec![p("nodes", n.to_string())],
            Value::NodeCpus(c) => vec![p("node_cpus", c.to_string())],
            Value::Shape(n, c) => vec![
                p("nodes", n.to_string()),
                p("node_cpus", c.map_or("unlimited".into(), |c| c.to_string())),
            ],
            Value::TaskCap(c) => vec![p("task_cap", c.to_string())],
            Value::Users(u) => vec![p("users", u.to_string())],
            Value::Preset(l) => vec![p("lb_preset", l.as_str().to_string())],
        }
    }

    /// The value in a combination's name.
    fn tag(self) -> String {
        match self {
            Value::Nodes(n) => format!("n{n}"),
            Value::NodeCpus(c) => format!("c{c}"),
            Value::Shape(n, Some(c)) => format!("n{n}-c{c}"),
            Value::Shape(n, None) => format!("n{n}"),
            Value::TaskCap(c) => format!("cap{c}"),
            Value::Users(u) => format!("u{u}"),
            Value::Preset(p) => p.as_str().to_string(),
        }
    }

    fn apply(self, s: &mut Scenario) {
        let c = &mut s.cluster;
        match self {
            Value::Nodes(n) => c.nodes.value = n,
            Value::NodeCpus(cpus) => c.node_cpus = Some(spanned(cpus)),
            Value::Shape(n, cpus) => {
                c.nodes.value = n;
                c.node_cpus = cpus.map(spanned);
            }
            Value::TaskCap(cap) => c.task_cap = cap,
            Value::Users(u) => {
                for w in &mut s.workload {
                    if let Workload::Load(l) = &mut w.value {
                        l.users.value = u;
                    }
                }
            }
            Value::Preset(p) => c.lb.preset = Some(p),
        }
    }
}

/// The axes with values, in a fixed order.
fn axes(sweep: &Sweep) -> Vec<Vec<Value>> {
    let mut axes: Vec<Vec<Value>> = Vec::new();
    if sweep.shapes.is_empty() {
        axes.push(sweep.nodes.iter().map(|&n| Value::Nodes(n)).collect());
        axes.push(
            sweep
                .node_cpus
                .iter()
                .map(|&c| Value::NodeCpus(c))
                .collect(),
        );
    } else {
        axes.push(
            sweep
                .shapes
                .iter()
                .map(|s| Value::Shape(s.nodes, s.node_cpus))
                .collect(),
        );
    }
    axes.push(sweep.task_cap.iter().map(|&c| Value::TaskCap(c)).collect());
    axes.push(sweep.users.iter().map(|&u| Value::Users(u)).collect());
    axes.push(sweep.lb_preset.iter().map(|&p| Value::Preset(p)).collect());
    axes.retain(|a| !a.is_empty());
    axes
}

/// How many combinations the sweep has.
pub fn count(sweep: &Sweep) -> usize {
    // Saturating: a matrix from a hostile file must not overflow.
    axes(sweep)
        .iter()
        .fold(1usize, |n, axis| n.saturating_mul(axis.len()))
}

/// Every combination of `s`'s sweep, in order (the first axis slowest);
/// empty without a sweep.
pub fn combinations(s: &Scenario) -> Vec<Combination> {
    let Some(sweep) = &s.sweep else {
        return Vec::new();
    };
    let sweep = &sweep.value;
    let axes = axes(sweep);
    if axes.is_empty() || count(sweep) > MAX_COMBINATIONS {
        return Vec::new();
    }
    let mut picks: Vec<Vec<Value>> = vec![Vec::new()];
    for axis in &axes {
        picks = picks
            .into_iter()
            .flat_map(|p| {
                axis.iter().map(move |v| {
                    let mut p = p.clone();
                    p.push(*v);
                    p
                })
            })
            .collect();
    }
    picks
        .into_iter()
        .enumerate()
        .map(|(i, values)| {
            let index = i + 1;
            let mut scenario = s.clone();
            scenario.sweep = None;
            scenario.name.value = std::iter::once(s.name.value.clone())
                .chain(values.iter().map(|v| v.tag()))
                .collect::<Vec<_>>()
                .join("-");
            for v in &values {
                v.apply(&mut scenario);
            }
            let one_down = sweep.one_node_down.then(|| down(&scenario));
            Combination {
                index,
                params: values.into_iter().flat_map(Value::param).collect(),
                scenario,
                one_down,
            }
        })
        .collect()
}

/// The scenario with its last node killed as the workload starts and held
/// down until the heal.
fn down(s: &Scenario) -> Scenario {
    let mut d = s.clone();
    d.name.value = format!("{}-down", s.name.value);
    let node = format!("n{}", s.cluster.nodes.value);
    d.faults.push(spanned(Fault::Kill(NodeFault {
        name: Some(spanned("sweep-one-node-down".to_string())),
        node: spanned(node),
        at: spanned(Duration::from_secs(0)),
        hold: None,
    })));
    d
}

/// The sweep's own problems, then each combination's as a scenario of its
/// own, located at the sweep and said of which combination. `validate`
/// judges a combination: the validator passes itself in, so this module
/// need not import the one that imports it.
pub(super) fn problems(
    s: &Scenario,
    sweep: &Spanned<Sweep>,
    validate: impl Fn(&Scenario) -> Result<(), Vec<Problem>>,
) -> Vec<Problem> {
    let problem = |message: String| Problem::at(&sweep.referenced, "sweep", message);
    let w = &sweep.value;
    let mut out = Vec::new();
    let separate = !w.nodes.is_empty() || !w.node_cpus.is_empty();
    if !w.shapes.is_empty() && separate {
        out.push(problem(
            "shapes give nodes and node_cpus together; leave out the separate nodes and node_cpus axes".into(),
        ));
    }
    if !w.users.is_empty() && s.load_phase().is_none() {
        out.push(problem(
            "users sweeps a load phase's users, and the scenario has no load workload".into(),
        ));
    }
    let n = count(w);
    if axes(w).is_empty() {
        out.push(problem("needs at least one axis with values".into()));
    } else if n > MAX_COMBINATIONS {
        out.push(problem(format!(
            "has {n} combinations, more than {MAX_COMBINATIONS}"
        )));
    }
    if !out.is_empty() {
        return out;
    }
    let mut names = std::collections::HashSet::new();
    for c in combinations(s) {
        if !names.insert(c.scenario.name.value.clone()) {
            out.push(problem(format!(
                "gives combination {} the values of an earlier one ({}); list each value once",
                c.index, c.scenario.name.value
            )));
            continue;
        }
        let label = c.label();
        let longest = c.one_down.as_ref().unwrap_or(&c.scenario);
        if longest.name.value.len() > 64 {
            out.push(problem(format!(
                "combination {} is named {:?}, longer than 64 characters; shorten the scenario's name",
                c.index, longest.name.value
            )));
            continue;
        }
        if w.one_node_down && c.scenario.cluster.nodes.value < 2 {
            out.push(problem(format!(
                "combination {} ({label}) has one node: one_node_down needs two at least",
                c.index
            )));
        }
        for run in std::iter::once(&c.scenario).chain(c.one_down.as_ref()) {
            if let Err(ps) = validate(run) {
                out.extend(ps.into_iter().map(|p| Problem {
                    message: format!("in combination {} ({label}): {}", c.index, p.message),
                    ..p
                }));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Scenario {
        crate::scenario::parse_str(yaml).unwrap()
    }

    #[test]
    fn every_combination_runs_with_its_values_and_a_node_down_twin() {
        let s = parse(
            "name: cap\nduration: 10s\nworkload:\n  - load: { users: 10, hold: 5s }\n\
             sweep:\n  shapes: [{ nodes: 4, node_cpus: 0.25 }, { nodes: 2, node_cpus: 0.5 }]\n  users: [50, 200]\n",
        );
        let c = combinations(&s);
        assert_eq!(c.len(), 4);
        assert_eq!(c[1].scenario.name.value, "cap-n4-c0.25-u200");
        assert_eq!(
            c[1].params,
            vec![
                ("nodes".to_string(), "4".to_string()),
                ("node_cpus".to_string(), "0.25".to_string()),
                ("users".to_string(), "200".to_string()),
            ]
        );
        assert_eq!(c[1].scenario.cluster.nodes.value, 4);
        assert_eq!(c[1].scenario.load_phase().unwrap().users.value, 200);
        assert_eq!(c[2].scenario.cluster.node_cpus.as_ref().unwrap().value, 0.5);
        let down = c[2].one_down.as_ref().unwrap();
        assert_eq!(down.name.value, "cap-n2-c0.5-u50-down");
        assert!(matches!(&down.faults[0].value, Fault::Kill(k) if k.node.value == "n2"));
        assert!(c[2].scenario.faults.is_empty());
        assert!(c.iter().all(|c| c.scenario.sweep.is_none()));
    }

    #[test]
    fn a_bad_sweep_is_refused_with_every_problem() {
        let s = crate::scenario::parse_str(
            "name: cap\nduration: 10s\nworkload:\n  - api: { rate: 10/s }\n\
             faults:\n  - kill: { node: n3, at: 1s }\n\
             sweep:\n  nodes: [2, 3]\n  shapes: [{ nodes: 2 }]\n  users: [5]\n",
        );
        let problems = s.unwrap_err();
        let text: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert!(
            text.iter().any(|t| t.starts_with("shapes give nodes")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.starts_with("users sweeps")),
            "{text:?}"
        );
        // A value twice, and a matrix too large to count.
        let s = crate::scenario::parse_str(
            "name: cap\nduration: 10s\nworkload:\n  - api: { rate: 10/s }\n\
             sweep:\n  nodes: [2, 2]\n",
        );
        let problems = s.unwrap_err();
        assert!(
            problems[0]
                .message
                .starts_with("gives combination 2 the values of an earlier one (cap-n2)"),
            "{problems:?}"
        );
        // 40,000 values on each of five axes: 1.0e23 combinations, past
        // what a usize counts.
        let wide = format!("[{}]", vec!["2"; 40_000].join(","));
        let presets = format!("[{}]", vec!["alb"; 40_000].join(","));
        let s = crate::scenario::parse_str(&format!(
            "name: cap\nduration: 10s\nworkload:\n  - load: {{ users: 1, hold: 1s }}\n\
             sweep:\n  nodes: {wide}\n  task_cap: {wide}\n  node_cpus: {wide}\n  users: {wide}\n  lb_preset: {presets}\n"
        ));
        let problems = s.unwrap_err();
        assert!(
            problems[0].message == format!("has {} combinations, more than 64", usize::MAX),
            "{problems:?}"
        );
        // A combination whose fault names a node it does not have.
        let s = crate::scenario::parse_str(
            "name: cap\nduration: 10s\nworkload:\n  - api: { rate: 10/s }\n\
             faults:\n  - kill: { node: n3, at: 1s }\n\
             sweep:\n  nodes: [2, 3]\n  one_node_down: false\n",
        );
        let problems = s.unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .message
                .starts_with("in combination 1 (nodes=2): unknown node \"n3\""),
            "{problems:?}"
        );
        assert_eq!(problems[0].line, 6, "located at the fault");
    }
}
