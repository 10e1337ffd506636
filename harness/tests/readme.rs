//! The README's sample run has the layout the code prints (issue 18): a
//! short run with failover.yaml's cluster, workload, fault and checks, its
//! summary compared line by line with the README's sample and each line of
//! the README's live progress found in the run's, figures masked.

use std::path::Path;
use std::time::Duration;

use crate::util::{harness, root, run_with_timeout};

/// A bound against a hang: the run below takes about 20 s.
const LIMIT: Duration = Duration::from_secs(120);

/// Runs until one passes: on a 2-core machine shared with other builds a
/// run's latency can miss its bound, which says nothing of the layout.
const ATTEMPTS: usize = 3;

/// A line's shape: every figure (a run of digits, with the hex letters and
/// the `.`, `,` and `:` between them, so addresses, times, seeds and
/// cluster Ids are one figure each) becomes `#`, and every run of spaces
/// one space, so column widths do not count; an indented line stays
/// indented.
fn shape(line: &str) -> String {
    let line = line.trim_end();
    let mut masked = String::new();
    let mut figure = String::new();
    let flush = |figure: &mut String, masked: &mut String| {
        if figure.chars().any(|c| c.is_ascii_digit()) {
            masked.push('#');
        } else {
            masked.push_str(figure);
        }
        figure.clear();
    };
    for c in line.chars() {
        if c.is_ascii_hexdigit() || matches!(c, '.' | ',' | ':') {
            figure.push(c);
        } else {
            flush(&mut figure, &mut masked);
            masked.push(c);
        }
    }
    flush(&mut figure, &mut masked);
    let words = masked.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.starts_with(char::is_whitespace) {
        format!(" {words}")
    } else {
        words
    }
}

/// The README's fenced blocks, each as its lines.
fn fenced_blocks(text: &str) -> Vec<Vec<&str>> {
    let mut blocks = Vec::new();
    let mut open: Option<Vec<&str>> = None;
    for line in text.lines() {
        if line.starts_with("```") {
            match open.take() {
                Some(block) => blocks.push(block),
                None => open = Some(Vec::new()),
            }
        } else if let Some(block) = open.as_mut() {
            block.push(line);
        }
    }
    blocks
}

/// The one block whose first line starts with `first`.
fn block<'a>(blocks: &[Vec<&'a str>], first: &str) -> Vec<&'a str> {
    let found: Vec<&Vec<&str>> = blocks
        .iter()
        .filter(|b| b.first().is_some_and(|l| l.starts_with(first)))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "the README has one fenced block starting with {first:?}"
    );
    found[0].clone()
}

/// failover.yaml, its times shortened so the run takes about 20 s and
/// its latency bound loosened for a loaded machine (the figures change,
/// not the shape); the rest, and so every line the summary prints, is the
/// shipped scenario's.
fn short_failover(dir: &Path) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(root().join("scenarios/failover.yaml")).unwrap();
    let mut short = shipped.clone();
    for (from, to) in [
        ("duration: 24s", "duration: 12s"),
        ("at: 6s, for: 10s", "at: 2s, for: 6s"),
        ("below: 100ms", "below: 900ms"),
    ] {
        assert!(short.contains(from), "failover.yaml has no {from:?}");
        short = short.replace(from, to);
    }
    let path = dir.join("failover.yaml");
    std::fs::write(&path, short).unwrap();
    path
}

#[test]
fn the_readme_sample_run_has_the_layout_the_code_prints() {
    let _share = crate::util::latency_bound();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let blocks = fenced_blocks(&readme);
    let summary = block(&blocks, "scenario failover ");
    let progress = block(&blocks, "[    0.0s] phase boot");

    // Run from a folder of its own, so the run folder's line reads
    // `run folder: runs/failover/<timestamp>` as in the README.
    let tmp = tempfile::tempdir().unwrap();
    let scenario = short_failover(tmp.path());
    let mut out = None;
    for attempt in 1..=ATTEMPTS {
        let mut cmd = harness();
        cmd.current_dir(tmp.path()).arg("run").arg(&scenario);
        let run = run_with_timeout(cmd, LIMIT);
        // Exit 1 is a check that failed (a loaded machine); anything else
        // but a pass is a broken run, not worth another try.
        let again = run.code() == 1 && attempt < ATTEMPTS;
        if again {
            eprintln!("attempt {attempt} failed a check; again:\n{}", run.stdout);
            continue;
        }
        assert_eq!(
            run.code(),
            0,
            "attempt {attempt}: stdout:\n{}\nstderr:\n{}",
            run.stdout,
            run.stderr
        );
        out = Some(run);
        break;
    }
    let out = out.expect("a passing run");

    // The summary, line by line.
    let printed: Vec<&str> = out.stdout.trim_start_matches('\n').lines().collect();
    for (i, (readme_line, printed_line)) in summary.iter().zip(&printed).enumerate() {
        assert_eq!(
            shape(readme_line),
            shape(printed_line),
            "line {} of the README's sample summary has drifted from what the code prints:\n  README:  {readme_line:?}\n  printed: {printed_line:?}\nthe whole summary printed:\n{}",
            i + 1,
            out.stdout
        );
    }
    assert_eq!(
        summary.len(),
        printed.len(),
        "the README's sample summary has {} lines, the code printed {}:\n{}",
        summary.len(),
        printed.len(),
        out.stdout
    );

    // Each line of the README's progress, among the run's.
    let run_lines: std::collections::BTreeSet<String> = out.stderr.lines().map(shape).collect();
    for line in &progress {
        assert!(
            run_lines.contains(&shape(line)),
            "the README's progress line {line:?} (shape {:?}) is not among what the code printed:\n{}",
            shape(line),
            out.stderr
        );
    }
}

#[test]
fn a_shape_masks_figures_and_widths_but_not_words() {
    assert_eq!(
        shape("  n2 (OCTO-HA-02) 127.0.0.3:42995         19.2%     1211 pings  1 restart"),
        " n# (OCTO-HA-#) # #% # pings # restart"
    );
    assert_eq!(
        shape("[    0.4s] n1 is the cluster's OCTO-HA-01 (OctopusServerNodes-1c2f1501)"),
        "[ #s] n# is the cluster's OCTO-HA-# (OctopusServerNodes-#)"
    );
    assert_eq!(
        shape(
            "scenario failover  seed 3172945188350527  target embedded  started 2026-12-06T06:51:33.570Z"
        ),
        "scenario failover seed # target embedded started #-#-#T#Z"
    );
    assert_eq!(
        shape("peak memory: harness 49 MiB, lb 34 MiB"),
        "peak memory: harness # MiB, lb # MiB"
    );
    assert_ne!(shape("  PASS     latency"), shape("  FAIL     latency"));
    assert_ne!(shape("throughput"), shape("throughput:"));
}
