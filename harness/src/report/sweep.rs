//! A sweep's report: one row per combination, from the reports of its runs
//! (all nodes up, and one node down where the sweep measures it), as a
//! terminal table, CSV and JSON; `html::sweep_html` draws it.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::model::Report;
use crate::check::Verdict;

/// Every combination of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// The scenario swept.
    pub scenario: String,
    /// Wall clock at the start, RFC 3339.
    pub started_at: String,
    /// The parameter names, in the table's order.
    pub params: Vec<String>,
    /// One per combination.
    pub rows: Vec<SweepRow>,
    /// Every run merged: fail over unknown over pass.
    pub verdict: Verdict,
}

/// One combination's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// Its place, from 1.
    pub index: usize,
    /// Its values, one per parameter name.
    pub values: Vec<String>,
    /// Successful requests per second, all nodes up.
    pub throughput: f64,
    /// Median latency of successful requests, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Requests judged.
    pub requests: u64,
    /// Of which failed or indeterminate.
    pub errors: u64,
    /// Tasks ended per second of the workload phase, where the scenario
    /// ran tasks.
    pub task_throughput: Option<f64>,
    /// Successful requests per second with one node down.
    pub down_throughput: Option<f64>,
    /// Tasks ended per second with one node down.
    pub down_task_throughput: Option<f64>,
    /// The share of request throughput one node's death cost, 0 to 1.
    pub capacity_lost: Option<f64>,
    /// The share of task throughput it cost.
    pub task_capacity_lost: Option<f64>,
    /// How node CPUs were limited, if they were: `cgroup_v1 (0.25 CPUs)`.
    pub cpu_limit: Option<String>,
    /// Both runs merged.
    pub verdict: Verdict,
    /// The run folder of the all-up run, relative to the sweep's.
    pub run: String,
    /// The one-down run's folder, if it ran.
    pub down_run: Option<String>,
    /// Why a run of the combination could not be made, if one could not.
    #[serde(default)]
    pub error: Option<String>,
}

fn ok_per_s(r: &Report) -> f64 {
    let m = &r.metrics;
    if m.duration_s > 0.0 {
        m.requests.saturating_sub(m.errors) as f64 / m.duration_s
    } else {
        0.0
    }
}

/// The share lost from `up` to `down`; None when `up` is nothing.
fn lost(up: f64, down: f64) -> Option<f64> {
    (up > 0.0).then(|| (1.0 - down / up).clamp(-1.0, 1.0))
}

impl SweepRow {
    /// A row for a combination whose run could not be made: unknown, with
    /// why, and what its all-up run measured if that one finished.
    pub fn failed(
        index: usize,
        values: Vec<String>,
        up: Option<(&Report, String)>,
        error: String,
    ) -> Self {
        let mut row = match up {
            Some(up) => Self::new(index, values, up, None),
            None => Self {
                index,
                values,
                throughput: 0.0,
                p50_ms: 0.0,
                p99_ms: 0.0,
                requests: 0,
                errors: 0,
                task_throughput: None,
                down_throughput: None,
                down_task_throughput: None,
                capacity_lost: None,
                task_capacity_lost: None,
                cpu_limit: None,
                verdict: Verdict::Unknown,
                run: String::new(),
                down_run: None,
                error: None,
            },
        };
        row.verdict = Verdict::Unknown;
        row.error = Some(error);
        row
    }

    /// A row from its runs' reports.
    pub fn new(
        index: usize,
        values: Vec<String>,
        (up, run): (&Report, String),
        down: Option<(&Report, String)>,
    ) -> Self {
        let (down, down_run) = match down {
            Some((d, r)) => (Some(d), Some(r)),
            None => (None, None),
        };
        let throughput = ok_per_s(up);
        // Tasks that ended while the workload ran: a down run's node is
        // back for the heal and the settle.
        let tasks = |r: &Report| r.tasks.as_ref().and_then(|t| t.workload_throughput_per_s);
        let task_throughput = tasks(up);
        let down_throughput = down.map(ok_per_s);
        let down_task_throughput = down.and_then(tasks);
        Self {
            index,
            values,
            throughput,
            p50_ms: up.metrics.latency_ms.p50,
            p99_ms: up.metrics.latency_ms.p99,
            requests: up.metrics.requests,
            errors: up.metrics.errors,
            task_throughput,
            down_throughput,
            down_task_throughput,
            capacity_lost: down_throughput.and_then(|d| lost(throughput, d)),
            task_capacity_lost: task_throughput
                .zip(down_task_throughput)
                .and_then(|(u, d)| lost(u, d)),
            cpu_limit: up
                .cpu_limit
                .as_ref()
                .map(|c| format!("{} ({} CPUs)", c.method, c.cores_per_node)),
            verdict: Verdict::merge(std::iter::once(up.verdict).chain(down.map(|d| d.verdict))),
            run,
            down_run,
            error: None,
        }
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "-".into())
}

impl SweepReport {
    /// The table as the terminal shows it.
    pub fn table(&self) -> String {
        let mut head: Vec<String> = vec!["#".into()];
        head.extend(self.params.iter().cloned());
        head.extend(
            [
                "req/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "tasks/s",
                "1 down req/s",
                "lost",
                "1 down tasks/s",
                "tasks lost",
                "verdict",
            ]
            .map(String::from),
        );
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                let mut cells = vec![r.index.to_string()];
                cells.extend(r.values.iter().cloned());
                cells.extend([
                    format!("{:.1}", r.throughput),
                    format!("{:.2}", r.p50_ms),
                    format!("{:.2}", r.p99_ms),
                    r.errors.to_string(),
                    opt(r.task_throughput, 1),
                    opt(r.down_throughput, 1),
                    pct(r.capacity_lost),
                    opt(r.down_task_throughput, 1),
                    pct(r.task_capacity_lost),
                    r.verdict.as_str().to_uppercase(),
                ]);
                cells
            })
            .collect();
        let widths: Vec<usize> = (0..head.len())
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain(std::iter::once(head[i].chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for line in std::iter::once(&head).chain(&rows) {
            let cells: Vec<String> = line
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:>w$}"))
                .collect();
            let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        }
        let limits: Vec<&str> = self
            .rows
            .iter()
            .filter_map(|r| r.cpu_limit.as_deref())
            .collect();
        if let Some(first) = limits.first() {
            let method = first.split(' ').next().unwrap_or(first);
            let _ = writeln!(out, "node CPUs limited by {method}");
        }
        for r in &self.rows {
            if let Some(e) = &r.error {
                let _ = writeln!(out, "combination {} could not run: {e}", r.index);
            }
        }
        out
    }

    /// The table as CSV, one header line and a line per combination.
    pub fn csv(&self) -> String {
        let mut head: Vec<String> = vec!["index".into()];
        head.extend(self.params.iter().cloned());
        head.extend(
            [
                "throughput_per_s",
                "p50_ms",
                "p99_ms",
                "requests",
                "errors",
                "task_throughput_per_s",
                "down_throughput_per_s",
                "capacity_lost",
                "down_task_throughput_per_s",
                "task_capacity_lost",
                "cpu_limit",
                "verdict",
                "run",
                "down_run",
                "error",
            ]
            .map(String::from),
        );
        let field = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let num = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
        let mut out = head.join(",") + "\n";
        for r in &self.rows {
            let mut cells = vec![r.index.to_string()];
            cells.extend(r.values.iter().map(|v| field(v)));
            cells.extend([
                format!("{:.4}", r.throughput),
                format!("{:.4}", r.p50_ms),
                format!("{:.4}", r.p99_ms),
                r.requests.to_string(),
                r.errors.to_string(),
                num(r.task_throughput),
                num(r.down_throughput),
                num(r.capacity_lost),
                num(r.down_task_throughput),
                num(r.task_capacity_lost),
                field(r.cpu_limit.as_deref().unwrap_or("")),
                r.verdict.as_str().to_string(),
                field(&r.run),
                field(r.down_run.as_deref().unwrap_or("")),
                field(r.error.as_deref().unwrap_or("")),
            ]);
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A two-row sweep for the table, CSV and page tests.
    pub(in crate::report) fn sample() -> SweepReport {
        let row = |index: usize, nodes: &str, up: f64, down: f64| SweepRow {
            index,
            values: vec![nodes.into(), "0.25".into()],
            throughput: up,
            p50_ms: 2.0,
            p99_ms: 9.5,
            requests: 1000,
            errors: 3,
            task_throughput: Some(up / 10.0),
            down_throughput: Some(down),
            down_task_throughput: Some(down / 10.0),
            capacity_lost: lost(up, down),
            task_capacity_lost: lost(up / 10.0, down / 10.0),
            cpu_limit: Some("cgroup_v1 (0.25 CPUs)".into()),
            verdict: Verdict::Pass,
            run: format!("runs/cap-{index}/x"),
            down_run: Some(format!("runs/cap-{index}-down/x")),
            error: None,
        };
        SweepReport {
            scenario: "cap".into(),
            started_at: "2026-11-27T00:00:00Z".into(),
            params: vec!["nodes".into(), "node_cpus".into()],
            rows: vec![row(1, "4", 400.0, 300.0), row(2, "2", 400.0, 200.0)],
            verdict: Verdict::Pass,
        }
    }

    #[test]
    fn the_table_and_csv_give_each_combination_and_what_a_node_costs() {
        let s = sample();
        let table = s.table();
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("#  nodes  node_cpus  req/s"),
            "{table}"
        );
        assert!(
            lines[1].contains(" 25.0% ") && lines[2].contains(" 50.0% "),
            "{table}"
        );
        assert_eq!(lines[3], "node CPUs limited by cgroup_v1");
        let csv = s.csv();
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[0].starts_with("index,nodes,node_cpus,throughput_per_s,"));
        assert!(
            rows[2].starts_with("2,2,0.25,400.0000,2.0000,9.5000,1000,3,40.0000,200.0000,0.5000,"),
            "{csv}"
        );
    }
}
