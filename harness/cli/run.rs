//! `harness run`: scenarios run one after another, on the embedded cluster
//! or a target, each judged, with the reports written where asked.

use std::path::{Path, PathBuf};

use crate::args::RunArgs;
use crate::shared::{Runtime, runtime};
use harness::check;
use harness::exit::{Failure, Kind, Outcome};
use harness::report::{self, Report};
use harness::runner::{self, RunOptions};
use harness::scenario::{self, LoadedScenario, ScenarioError, ScenarioErrorKind};
use harness::target::TargetFile;

pub(crate) fn run(args: RunArgs) -> Result<Outcome, Failure> {
    for t in args.tags.iter().chain(&args.skip_tags) {
        if !scenario::is_tag(t) {
            return Err(Failure::invalid(format!(
                "{t:?} is not a tag (1 to 32 lower-case letters, digits or '-')"
            )));
        }
    }
    let (loaded, target) = match &args.target {
        Some(file) => {
            let (l, t) = prepare_target(&args, file)?;
            (l, Some(t))
        }
        None => (load_all(&args.scenarios)?, None),
    };
    let mut loaded = select_by_tags(loaded, &args.tags, &args.skip_tags)?;
    if target.is_none() {
        refuse_on_embedded(&loaded)?;
    }
    if target.is_some()
        && let Some(l) = loaded.iter().find(|l| l.scenario.sweep.is_some())
    {
        return Err(Failure::invalid(format!(
            "{}: a sweep runs on the embedded cluster only, where node counts and sizes can change; leave out --target",
            l.file.display()
        )));
    }
    let baseline = match &args.baseline {
        Some(path) => {
            Some(check::Baselines::load(path).map_err(|e| Failure::invalid(e.to_string()))?)
        }
        None => {
            note_unjudged_regressions(&loaded);
            None
        }
    };
    let rt = runtime()?;
    let opts = RunOptions {
        out: args.out.clone(),
        seed: args.seed,
        progress: true,
        target,
        baseline,
        time_limit: args.time_limit.map(|d| d.get()),
    };
    if opts.time_limit.is_some_and(|t| t.is_zero()) {
        return Err(Failure::invalid("--time-limit must be longer than 0s"));
    }
    if let Some(engine) = args.lb {
        for l in &mut loaded {
            l.scenario.cluster.lb.engine = engine;
            // Some settings need what only some LBs do (L4 polling ports).
            if let Err(problems) = scenario::validate(&l.scenario) {
                let e = ScenarioError {
                    file: l.file.clone(),
                    kind: ScenarioErrorKind::Invalid(problems),
                };
                return Err(Failure::invalid(format!("with --lb: {e}")));
            }
        }
    }
    let (reports, environment_failed) = run_each(&rt, &loaded, &opts);
    write_outputs(&args, &reports)?;
    if environment_failed {
        // Each scenario's error was said as it ended.
        Err(Failure::said(Kind::Environment))
    } else {
        Ok(Outcome::of(
            reports.iter().all(|r| r.verdict == check::Verdict::Pass),
        ))
    }
}

/// The faults the embedded cluster cannot inject, each scenario's said
/// with its file, line and column; a failure if there are any.
fn refuse_on_embedded(loaded: &[LoadedScenario]) -> Result<(), Failure> {
    let mut bad = false;
    for l in loaded {
        let problems = harness::target::embedded_problems(&l.scenario);
        if !problems.is_empty() {
            let e = ScenarioError {
                file: l.file.clone(),
                kind: ScenarioErrorKind::Invalid(problems),
            };
            eprintln!("error: on the embedded cluster: {e}");
            bad = true;
        }
    }
    if bad {
        Err(Failure::said(Kind::InvalidInput))
    } else {
        Ok(())
    }
}

/// Without --baseline, a scenario's no_regression check is not judged:
/// said on stderr for each scenario that declares one.
fn note_unjudged_regressions(loaded: &[LoadedScenario]) {
    for l in loaded {
        let declared = l
            .scenario
            .checks
            .iter()
            .any(|c| matches!(c.value, scenario::Check::NoRegression(_)));
        if declared {
            eprintln!(
                "note: {}: no_regression is not judged without --baseline",
                l.file.display()
            );
        }
    }
}

/// Runs each scenario (or sweep) in turn, printing each summary and each
/// error; stops after one that was interrupted. The reports, and whether
/// any run failed for the environment's or the harness's sake.
fn run_each(rt: &Runtime, loaded: &[LoadedScenario], opts: &RunOptions) -> (Vec<Report>, bool) {
    let mut reports: Vec<Report> = Vec::new();
    let mut environment_failed = false;
    for l in loaded {
        let interrupted = if l.scenario.sweep.is_some() {
            match rt.block_on(runner::run_sweep(l, opts)) {
                Ok(result) => {
                    print!(
                        "\nsweep {}\n{}",
                        result.report.scenario,
                        result.report.table()
                    );
                    println!("verdict: {}", result.report.verdict.as_str().to_uppercase());
                    println!("sweep folder: {}", result.dir.display());
                    reports.extend(result.runs);
                    result.error.is_some_and(|e| {
                        eprintln!("error: scenario {}: {e}", l.file.display());
                        environment_failed = true;
                        e.interrupted
                    })
                }
                Err(e) => {
                    eprintln!("error: scenario {}: {e}", l.file.display());
                    environment_failed = true;
                    e.interrupted
                }
            }
        } else {
            match rt.block_on(runner::run(l, opts)) {
                Ok(result) => {
                    print!("\n{}", report::summary(&result.report));
                    println!("run folder: {}", result.dir.display());
                    reports.push(result.report);
                    false
                }
                Err(mut e) => {
                    eprintln!("error: scenario {}: {e}", l.file.display());
                    environment_failed = true;
                    // A run stopped early still has a report: --json and
                    // --junit get it, so CI shows what was cut.
                    reports.extend(e.report.take().map(|r| *r));
                    e.interrupted
                }
            }
        };
        if interrupted {
            break;
        }
    }
    (reports, environment_failed)
}

fn write_outputs(args: &RunArgs, reports: &[Report]) -> Result<(), Failure> {
    let fail = |path: &Path, e: String| {
        Failure::environment(format!("failed to write {}: {e}", path.display()))
    };
    if let Some(path) = &args.json {
        let text = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])
        } else {
            serde_json::to_string_pretty(reports)
        };
        let text = text.map_err(|e| fail(path, e.to_string()))?;
        std::fs::write(path, text).map_err(|e| fail(path, e.to_string()))?;
    }
    if let Some(path) = &args.junit {
        let xml = report::junit_xml(reports).map_err(|e| fail(path, e))?;
        std::fs::write(path, xml).map_err(|e| fail(path, e.to_string()))?;
    }
    Ok(())
}

/// `run --target`: the scenarios are validated with the target's node
/// names, their faults checked against the target's commands, and their
/// disruptive steps refused unless allowed, before anything reaches the
/// target.
fn prepare_target(
    args: &RunArgs,
    file: &Path,
) -> Result<(Vec<LoadedScenario>, TargetFile), Failure> {
    let target = harness::target::load(file).map_err(|e| Failure::invalid(e.to_string()))?;
    if args.lb.is_some() {
        return Err(Failure::invalid(
            "--lb chooses the embedded cluster's LB; a target brings its own",
        ));
    }
    // The package, machine and task paths are the default space's.
    if target.space.value != reference_cluster::api::SPACE_ID {
        let problem = scenario::Problem::at(
            &target.space.referenced,
            "space",
            format!(
                "runs work in {} only for now, not {}",
                reference_cluster::api::SPACE_ID,
                target.space.value
            ),
        );
        let e = harness::target::TargetError::Invalid(file.to_path_buf(), vec![problem]);
        return Err(Failure::invalid(e.to_string()));
    }
    let (all, disruptive) = fit_to_target(args, &target, file)?;
    if !disruptive.is_empty() && !args.allow_disruptive {
        let mut message = format!(
            "refusing to disrupt {} ({}) without --allow-disruptive; these steps would:",
            target.name.value,
            file.display()
        );
        for d in &disruptive {
            message.push_str("\n  ");
            message.push_str(d);
        }
        return Err(Failure::invalid(message));
    }
    if let Err(e) = target.api_key() {
        return Err(Failure::invalid(format!("{}: {e}", file.display())));
    }
    eprintln!(
        "note: on {}, the scenarios' `cluster` sections are not applied: the cluster is as it is (`harness cluster up --like SCENARIO` starts one set up as a scenario says)",
        target.name.value
    );
    Ok((all, target))
}

/// Loads each scenario for the target, printing every error: the
/// scenarios, and their steps that would disrupt the target; a failure,
/// already said, if any scenario does not fit.
fn fit_to_target(
    args: &RunArgs,
    target: &TargetFile,
    file: &Path,
) -> Result<(Vec<LoadedScenario>, Vec<String>), Failure> {
    let names: Vec<String> = target
        .nodes
        .iter()
        .map(|n| n.value.name.value.clone())
        .collect();
    let mut bad = false;
    let mut disruptive = Vec::new();
    let mut all = Vec::new();
    for f in &args.scenarios {
        // Left out before it is fitted to the target or its steps are
        // weighed: `--skip-tags disruptive` is how a suite runs on a cluster
        // that must not be disturbed, and the scenarios left out may name
        // the embedded cluster's nodes.
        let tags_only = scenario::load_for_nodes(f, None);
        if let Ok(l) = &tags_only
            && left_out_by_tags(&l.scenario, &args.tags, &args.skip_tags).is_some()
        {
            all.extend(tags_only);
            continue;
        }
        let loaded = match scenario::load_for_nodes(f, Some(&names)) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {e}");
                bad = true;
                continue;
            }
        };
        let lacking = harness::target::check_scenario(target, &loaded.scenario);
        if !lacking.is_empty() {
            let e = ScenarioError {
                file: f.clone(),
                kind: ScenarioErrorKind::Invalid(lacking),
            };
            eprintln!("error: for target {}: {e}", file.display());
            bad = true;
        }
        for step in harness::target::disruptive_steps(&loaded.scenario) {
            disruptive.push(format!("{}: {step}", f.display()));
        }
        all.push(loaded);
    }
    if bad {
        // Each scenario that does not fit was said as it came.
        return Err(Failure::said(Kind::InvalidInput));
    }
    Ok((all, disruptive))
}

/// Why `--tags` and `--skip-tags` leave a scenario out, if they do.
fn left_out_by_tags(s: &scenario::Scenario, tags: &[String], skip: &[String]) -> Option<String> {
    let has = |t: &String| s.tags.iter().any(|u| &u.value == t);
    if let Some(t) = skip.iter().find(|t| has(t)) {
        Some(format!("tagged {t}"))
    } else if !tags.is_empty() && !tags.iter().any(has) {
        Some(format!("not tagged {}", tags.join(" or ")))
    } else {
        None
    }
}

/// The scenarios `--tags` and `--skip-tags` select, each left out said on
/// stderr; none selected is an error (a suite that runs nothing must not
/// pass).
fn select_by_tags(
    loaded: Vec<LoadedScenario>,
    tags: &[String],
    skip: &[String],
) -> Result<Vec<LoadedScenario>, Failure> {
    let mut chosen = Vec::new();
    for l in loaded {
        match left_out_by_tags(&l.scenario, tags, skip) {
            Some(why) => eprintln!("skipped: {} ({why})", l.file.display()),
            None => chosen.push(l),
        }
    }
    if chosen.is_empty() {
        return Err(Failure::invalid(
            "no scenario is selected by --tags and --skip-tags",
        ));
    }
    Ok(chosen)
}

/// Loads every scenario, printing every error; a failure, already said,
/// if any is invalid.
fn load_all(files: &[PathBuf]) -> Result<Vec<LoadedScenario>, Failure> {
    let mut loaded = Vec::new();
    let mut bad = false;
    for f in files {
        match scenario::load(f) {
            Ok(l) => loaded.push(l),
            Err(e) => {
                eprintln!("error: {e}");
                bad = true;
            }
        }
    }
    if bad {
        Err(Failure::said(Kind::InvalidInput))
    } else {
        Ok(loaded)
    }
}
