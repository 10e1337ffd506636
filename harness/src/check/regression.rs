//! `no_regression`: the run against a baseline, an earlier run's
//! `report.json` given with `run --baseline`. Successful requests per second
//! (and tasks ended per second, where both runs had tasks) may not fall,
//! and p99 may not rise, by more than the scenario's tolerance. The run's
//! own figures come from its history, computed as its report computes them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::verdict::Verdict;
use crate::history::History;
use crate::limits::MAX_BASELINE_BYTES;
use crate::scenario::NoRegression;

/// The figures of one scenario's earlier run that a run is compared with.
/// Only these fields of `report.json` are read, so reports of older and
/// newer harnesses compare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The scenario it is a run of.
    pub scenario: String,
    /// Its throughput and latency.
    pub metrics: BaselineMetrics,
    /// Its tasks, when it had any.
    #[serde(default)]
    pub tasks: Option<BaselineTasks>,
    /// Why it ended early, if it did: such a run is no baseline.
    #[serde(default)]
    pub interrupted: Option<String>,
}

/// The part of `metrics` a baseline keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineMetrics {
    /// Requests judged.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// Seconds the judged part lasted.
    pub duration_s: f64,
    /// Its latency.
    pub latency_ms: BaselineLatency,
}

/// The part of `latency_ms` a baseline keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineLatency {
    /// The 99th percentile, ms.
    pub p99: f64,
}

/// The part of `tasks` a baseline keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineTasks {
    /// Tasks ended per second.
    pub throughput_per_s: f64,
}

/// The baselines `--baseline` names: one run's `report.json`, a run
/// folder, or the array a suite's `--json` writes.
#[derive(Debug, Clone)]
pub struct Baselines {
    /// Where they were read from.
    pub path: PathBuf,
    /// One per scenario.
    pub reports: Vec<Baseline>,
}

impl Baselines {
    /// Reads `path`; a run folder stands for its `report.json`, and a
    /// sweep's folder for the newest `report.json` of each of its runs.
    /// The error names the file and, for bad JSON, the line, column and
    /// field.
    pub fn load(path: &Path) -> Result<Self, String> {
        if path.is_dir() && !path.join("report.json").exists() && path.join("sweep.json").exists() {
            let mut reports = Vec::new();
            for file in sweep_reports(path)? {
                reports.extend(read(&file)?);
            }
            return Ok(Self {
                path: path.to_path_buf(),
                reports,
            });
        }
        let file = if path.is_dir() {
            path.join("report.json")
        } else {
            path.to_path_buf()
        };
        Ok(Self {
            reports: read(&file)?,
            path: file,
        })
    }

    /// The baseline of a scenario.
    pub fn of(&self, scenario: &str) -> Option<&Baseline> {
        self.reports.iter().find(|b| b.scenario == scenario)
    }
}

/// The newest `report.json` of each run under a sweep's `runs/`
/// (`runs/<scenario>/<timestamp>/`), by scenario name.
fn sweep_reports(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let runs = dir.join("runs");
    let entries = |d: &Path| {
        std::fs::read_dir(d)
            .map_err(|e| format!("failed to read the baseline {}: {e}", d.display()))
            .map(|rd| {
                let mut v: Vec<PathBuf> = rd
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect();
                v.sort();
                v
            })
    };
    let mut files = Vec::new();
    for scenario in entries(&runs)? {
        // Timestamps sort as text; the last is the newest.
        if let Some(newest) = entries(&scenario)?
            .into_iter()
            .rev()
            .find(|r| r.join("report.json").is_file())
        {
            files.push(newest.join("report.json"));
        }
    }
    Ok(files)
}

/// One report, or a suite's array of them, from a file.
fn read(file: &Path) -> Result<Vec<Baseline>, String> {
    let text = crate::input::read_text(file, MAX_BASELINE_BYTES)
        .map_err(|e| format!("failed to read the baseline {}: {e}", file.display()))?;
    let bad = |e: serde_path_to_error::Error<serde_json::Error>| {
        let inner = e.inner();
        // serde_json ends its message with the location, given first here.
        let text = inner.to_string();
        let what = text
            .strip_suffix(&format!(
                " at line {} column {}",
                inner.line(),
                inner.column()
            ))
            .unwrap_or(&text);
        format!(
            "the baseline {}:{}:{}: {}: {what}",
            file.display(),
            inner.line(),
            inner.column(),
            e.path(),
        )
    };
    if text.trim_start().starts_with('[') {
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
            .map_err(bad)
    } else {
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
            .map(|b| vec![b])
            .map_err(bad)
    }
}

/// What a run is judged against: its scenario's baseline, or the reason
/// there is none.
#[derive(Debug, Clone)]
pub enum Against<'a> {
    /// The earlier run.
    Baseline(&'a Baseline),
    /// `--baseline` was given but holds no run of this scenario.
    Missing(String),
}

/// Successful requests per second over the judged part of a run.
fn ok_per_s(requests: u64, errors: u64, duration_s: f64) -> Option<f64> {
    (duration_s > 0.0 && requests > 0)
        .then(|| (requests - errors.min(requests)) as f64 / duration_s)
}

pub(super) fn judge(c: &NoRegression, h: &History, against: &Against) -> (Verdict, String, Value) {
    let base = match against {
        Against::Baseline(b) => *b,
        Against::Missing(why) => {
            return (Verdict::Unknown, why.clone(), json!({ "baseline": null }));
        }
    };
    if let Some(why) = &base.interrupted {
        return (
            Verdict::Unknown,
            format!(
                "the baseline run was interrupted ({why}), so it proves nothing to compare with"
            ),
            json!({ "baseline_scenario": base.scenario, "interrupted": why }),
        );
    }
    let now = crate::metrics::metrics(h);
    let drop = c.max_throughput_drop.value.fraction();
    let rise = c.max_p99_rise.value.fraction();
    let slack_ms = c.p99_slack.value.as_micros_u64() as f64 / 1000.0;

    let mut compared = Vec::new();
    let mut regressions = Vec::new();
    let mut throughput = |metric: &str, unit: &str, was: Option<f64>, is: Option<f64>| {
        let (Some(was), Some(is)) = (was, is) else {
            return;
        };
        let floor = was * (1.0 - drop);
        let regressed = is < floor;
        compared.push(json!({
            "metric": metric, "baseline": was, "run": is, "floor": floor, "regressed": regressed,
        }));
        if regressed {
            regressions.push(format!(
                "{metric} fell from {was:.1}{unit} to {is:.1}{unit} ({:+.1}%, more than {})",
                change(was, is),
                c.max_throughput_drop.value
            ));
        }
    };
    throughput(
        "throughput",
        "/s",
        ok_per_s(
            base.metrics.requests,
            base.metrics.errors,
            base.metrics.duration_s,
        ),
        ok_per_s(now.requests, now.errors, now.duration_s),
    );
    let tasks_now = crate::metrics::task_report(h).map(|t| t.throughput_per_s);
    throughput(
        "task_throughput",
        " tasks/s",
        base.tasks.as_ref().map(|t| t.throughput_per_s),
        tasks_now,
    );
    // p99 only where both runs had successful requests to measure.
    if base.metrics.requests > base.metrics.errors && now.requests > now.errors {
        let (was, is) = (base.metrics.latency_ms.p99, now.latency_ms.p99);
        let ceiling = (was * (1.0 + rise)).max(was + slack_ms);
        let regressed = is > ceiling;
        compared.push(json!({
            "metric": "p99_ms", "baseline": was, "run": is, "ceiling": ceiling, "regressed": regressed,
        }));
        if regressed {
            regressions.push(format!(
                "p99 rose from {was:.2}ms to {is:.2}ms ({:+.1}%, more than {} and {})",
                change(was, is),
                c.max_p99_rise.value,
                c.p99_slack.value
            ));
        }
    }
    let evidence = json!({ "baseline_scenario": base.scenario, "compared": compared });
    if compared.is_empty() {
        return (
            Verdict::Unknown,
            "neither run has requests or tasks in common to compare".into(),
            evidence,
        );
    }
    if regressions.is_empty() {
        let names: Vec<&str> = compared
            .iter()
            .filter_map(|c| c["metric"].as_str())
            .collect();
        (
            Verdict::Pass,
            format!(
                "{} within tolerance of the baseline: {}",
                names.join(", "),
                summary(&compared)
            ),
            evidence,
        )
    } else {
        (Verdict::Fail, regressions.join("; "), evidence)
    }
}

/// The change from `was` to `is`, in percent.
fn change(was: f64, is: f64) -> f64 {
    if was > 0.0 {
        (is - was) / was * 100.0
    } else {
        0.0
    }
}

/// "throughput 300.0 → 298.2, p99_ms 3.40 → 3.61".
fn summary(compared: &[Value]) -> String {
    compared
        .iter()
        .map(|c| {
            format!(
                "{} {:.2} → {:.2}",
                c["metric"].as_str().unwrap_or("?"),
                c["baseline"].as_f64().unwrap_or(0.0),
                c["run"].as_f64().unwrap_or(0.0)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, Op, Outcome, Phase, Request};

    /// 100 requests a second for 10 s, every `fail_every`th failing (none
    /// when 0), each taking `latency_us`.
    fn history(latency_us: u64, fail_every: u64) -> History {
        let mut events = vec![Event::Phase {
            at_us: 0,
            phase: Phase::Workload,
        }];
        for seq in 0..1000u64 {
            let t = seq * 10_000;
            let failed = fail_every > 0 && seq % fail_every == 0;
            events.push(Event::Request(Request {
                seq,
                op: Op::Ping,
                intended_us: t,
                sent_us: t,
                done_us: t + latency_us,
                outcome: if failed { Outcome::Fail } else { Outcome::Ok },
                status: (!failed).then_some(200),
                error: None,
                bytes: 0,
                node: Some("n1".into()),
                held: false,
                load: false,
            }));
        }
        History { events }
    }

    fn baseline_of(h: &History) -> Baseline {
        let m = crate::metrics::metrics(h);
        Baseline {
            scenario: "s".into(),
            metrics: BaselineMetrics {
                requests: m.requests,
                errors: m.errors,
                duration_s: m.duration_s,
                latency_ms: BaselineLatency {
                    p99: m.latency_ms.p99,
                },
            },
            tasks: None,
            interrupted: None,
        }
    }

    fn tolerance(yaml: &str) -> NoRegression {
        let s = crate::scenario::parse_str(&format!(
            "name: s\nduration: 1s\nworkload:\n  - api: {{ rate: 1/s }}\nchecks:\n  - no_regression: {yaml}\n"
        ))
        .unwrap();
        match &s.checks[0].value {
            crate::scenario::Check::NoRegression(n) => n.clone(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_run_against_its_own_figures_passes() {
        let h = history(3_000, 0);
        let base = baseline_of(&h);
        let (v, detail, evidence) = judge(&NoRegression::default(), &h, &Against::Baseline(&base));
        assert_eq!(v, Verdict::Pass, "{detail}");
        assert_eq!(evidence["compared"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn fewer_successes_fail_throughput_and_name_both_values() {
        let base = baseline_of(&history(3_000, 0));
        // A fifth of the requests fail: successes fall by 20%.
        let (v, detail, _) = judge(
            &NoRegression::default(),
            &history(3_000, 5),
            &Against::Baseline(&base),
        );
        assert_eq!(v, Verdict::Fail);
        assert!(
            detail.starts_with("throughput fell from 100.") && detail.contains("/s to 80."),
            "{detail}"
        );
        assert!(!detail.contains("p99"), "{detail}");
    }

    #[test]
    fn a_p99_rise_fails_only_past_both_the_percentage_and_the_slack() {
        let base = baseline_of(&history(3_000, 0));
        let default = NoRegression::default();
        // 3 ms to 4.5 ms is +50% but only 1.5 ms: inside the 2 ms slack.
        let (v, detail, _) = judge(&default, &history(4_500, 0), &Against::Baseline(&base));
        assert_eq!(v, Verdict::Pass, "{detail}");
        // 3 ms to 9 ms is past both.
        let (v, detail, evidence) = judge(&default, &history(9_000, 0), &Against::Baseline(&base));
        assert_eq!(v, Verdict::Fail);
        assert!(
            detail.starts_with("p99 rose from 3.00ms to 9.01ms"),
            "{detail}"
        );
        let p99 = &evidence["compared"][1];
        assert_eq!(p99["metric"], "p99_ms");
        assert_eq!(p99["regressed"], true);
        // A scenario's looser tolerance lets it through.
        let loose = tolerance("{ max_p99_rise: 100%, p99_slack: 10ms }");
        let (v, detail, _) = judge(&loose, &history(9_000, 0), &Against::Baseline(&base));
        assert_eq!(v, Verdict::Pass, "{detail}");
    }

    #[test]
    fn no_baseline_for_the_scenario_or_nothing_to_compare_is_unknown() {
        let h = history(3_000, 0);
        let (v, detail, _) = judge(
            &NoRegression::default(),
            &h,
            &Against::Missing("the baseline x holds no run of scenario s".into()),
        );
        assert_eq!(
            (v, detail.as_str()),
            (
                Verdict::Unknown,
                "the baseline x holds no run of scenario s"
            )
        );
        let mut empty = baseline_of(&h);
        empty.metrics.requests = 0;
        empty.metrics.errors = 0;
        let (v, _, _) = judge(&NoRegression::default(), &h, &Against::Baseline(&empty));
        assert_eq!(v, Verdict::Unknown);
        let mut cut = baseline_of(&h);
        cut.interrupted = Some("Ctrl-C".into());
        let (v, detail, _) = judge(&NoRegression::default(), &h, &Against::Baseline(&cut));
        assert_eq!(v, Verdict::Unknown);
        assert!(detail.contains("interrupted (Ctrl-C)"), "{detail}");
    }

    #[test]
    fn baselines_load_from_a_report_a_folder_or_a_suite_and_bad_ones_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let one = r#"{"scenario":"a","seed":1,"metrics":{"requests":10,"errors":0,"duration_s":1.0,"latency_ms":{"p50":1.0,"p99":2.0}},"tasks":null}"#;
        std::fs::write(dir.path().join("report.json"), one).unwrap();
        let b = Baselines::load(dir.path()).unwrap();
        assert_eq!(b.path, dir.path().join("report.json"));
        assert_eq!(b.of("a").unwrap().metrics.latency_ms.p99, 2.0);
        assert!(b.of("b").is_none());

        let suite = dir.path().join("suite.json");
        std::fs::write(
            &suite,
            format!("[{one}, {}]", one.replace(r#""a""#, r#""b""#)),
        )
        .unwrap();
        let b = Baselines::load(&suite).unwrap();
        assert_eq!(b.reports.len(), 2);
        assert!(b.of("b").is_some());

        let bad = dir.path().join("bad.json");
        std::fs::write(
            &bad,
            "{\"scenario\":\"a\",\n\"metrics\":{\"requests\":\"ten\"}}",
        )
        .unwrap();
        let e = Baselines::load(&bad).unwrap_err();
        assert!(
            e.starts_with(&format!("the baseline {}:2:", bad.display()))
                && e.contains("metrics.requests: invalid type")
                && !e.contains("at line"),
            "{e}"
        );
        // A sweep's folder: the newest run of each combination.
        let sweep = dir.path().join("sweep");
        for (name, stamp, p99) in [
            ("cap-n2", "20261101T000000Z", "2.0"),
            ("cap-n2", "20261102T000000Z", "7.0"),
            ("cap-n4", "20261101T000000Z", "3.0"),
        ] {
            let run = sweep.join("runs").join(name).join(stamp);
            std::fs::create_dir_all(&run).unwrap();
            let report = one
                .replace(r#""a""#, &format!("{name:?}"))
                .replace(r#""p99":2.0"#, &format!(r#""p99":{p99}"#));
            std::fs::write(run.join("report.json"), report).unwrap();
        }
        std::fs::write(sweep.join("sweep.json"), "{}").unwrap();
        let b = Baselines::load(&sweep).unwrap();
        assert_eq!(b.reports.len(), 2);
        assert_eq!(b.of("cap-n2").unwrap().metrics.latency_ms.p99, 7.0);
        assert_eq!(b.of("cap-n4").unwrap().metrics.latency_ms.p99, 3.0);

        let e = Baselines::load(&dir.path().join("missing.json")).unwrap_err();
        assert!(
            e.contains("missing.json") && e.starts_with("failed to read the baseline"),
            "{e}"
        );
    }
}
