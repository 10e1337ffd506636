//! Scenario loading through the real binary: every invalid fixture gives its
//! exact expected error and exit code 2, every shipped scenario validates,
//! and the command line behaves.

use std::time::Duration;

use harness::scenario::{KINDS, parse_str};

use crate::util::{harness, root, run_with_timeout};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn each_invalid_fixture_gives_its_expected_error_and_exit_2() {
    let dir = root().join("fixtures/scenarios/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "only {} invalid fixtures", files.len());
    for file in files {
        let rel = file.strip_prefix(root()).unwrap();
        let expected = std::fs::read_to_string(file.with_extension("expected"))
            .unwrap_or_else(|_| panic!("{} has no .expected file", rel.display()));
        let mut cmd = harness();
        cmd.arg("validate").arg(rel);
        let out = run_with_timeout(cmd, LIMIT);
        assert_eq!(out.code(), 2, "{}", rel.display());
        assert_eq!(out.stderr, expected, "{}", rel.display());
        // Every error names file:line:column.
        assert!(
            out.stderr.contains(&format!("{}:", rel.display())),
            "{}",
            out.stderr
        );
        // `run` refuses it the same way, before starting anything.
        let mut cmd = harness();
        cmd.arg("run")
            .arg(rel)
            .arg("--out")
            .arg(std::env::temp_dir());
        let out = run_with_timeout(cmd, LIMIT);
        assert_eq!(
            (out.code(), out.stderr.as_str()),
            (2, expected.as_str()),
            "{}",
            rel.display()
        );
    }
}

#[test]
fn every_shipped_scenario_validates() {
    let mut files = Vec::new();
    for dir in [
        "scenarios",
        "fixtures/scenarios/valid",
        "fixtures/scenarios/suite",
        "fixtures/scenarios/interrupt",
    ] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "yaml") {
                files.push(p.strip_prefix(root()).unwrap().to_path_buf());
            }
        }
    }
    assert!(files.iter().any(|f| f.ends_with("scenarios/failover.yaml")));
    let mut cmd = harness();
    cmd.arg("validate").args(&files);
    let out = run_with_timeout(cmd, LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.lines().filter(|l| l.starts_with("ok: ")).count(),
        files.len()
    );
}

#[test]
fn list_shows_exactly_the_kinds_the_parser_accepts() {
    let mut cmd = harness();
    cmd.arg("list");
    let out = run_with_timeout(cmd, LIMIT);
    assert_eq!(out.code(), 0);
    for (_, kind, _) in KINDS {
        assert!(
            out.stdout.contains(kind),
            "{kind} missing from `harness list`"
        );
    }
    // The parser's own list of variants, from its error on an unknown one.
    for (section, field, wrap) in [
        ("workload", "workload", "workload:\n  - nope: {}\n"),
        ("fault", "faults", "faults:\n  - nope: {}\n"),
        ("check", "checks", "checks:\n  - nope: {}\n"),
    ] {
        let problems = parse_str(&format!("name: x\nduration: 1s\n{wrap}")).unwrap_err();
        let listed: Vec<&str> = KINDS
            .iter()
            .filter(|k| k.0 == section)
            .map(|k| k.1)
            .collect();
        assert_eq!(
            problems[0].message,
            format!("unknown kind `nope`; known: {}", listed.join(", ")),
            "{field}"
        );
    }
}

#[test]
fn usage_errors_exit_2_and_every_command_has_help() {
    for args in [
        &["run"][..],
        &["frobnicate"],
        &["run", "x.yaml", "--seed", "abc"],
    ] {
        let mut cmd = harness();
        cmd.args(args);
        assert_eq!(run_with_timeout(cmd, LIMIT).code(), 2, "{args:?}");
    }
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["validate", "--help"],
        &["list", "--help"],
        &["cluster", "up", "--help"],
        &["report", "--help"],
    ] {
        let mut cmd = harness();
        cmd.args(args);
        let out = run_with_timeout(cmd, LIMIT);
        assert_eq!(out.code(), 0, "{args:?}");
        assert!(out.stdout.contains("Usage:"), "{args:?}");
    }
}

#[test]
fn missing_files_and_run_folders_are_exit_2_with_the_path() {
    let mut cmd = harness();
    cmd.args(["validate", "scenarios/does-not-exist.yaml"]);
    let out = run_with_timeout(cmd, LIMIT);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr
            .contains("failed to read scenario scenarios/does-not-exist.yaml"),
        "{}",
        out.stderr
    );
    let mut cmd = harness();
    cmd.args(["report", "fixtures"]);
    let out = run_with_timeout(cmd, LIMIT);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr.contains("fixtures is not a run folder"),
        "{}",
        out.stderr
    );
}

#[test]
fn odd_inputs_are_errors_not_panics() {
    let deep = format!(
        "name: x\nduration: 1s\ndescription: {}{}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let inputs = [
        "".to_string(),
        "\u{0}\u{1}\u{2}".to_string(),
        "- a\n- b\n".to_string(),
        "name: x\nduration: 99999999999999999999999s\n".to_string(),
        "name: x\nduration: 1s\ncluster: { nodes: 4294967296 }\n".to_string(),
        "name: x\nduration: 1s\nworkload:\n  - api: { rate: 1e308/s }\n".to_string(),
        "name: &a x\nduration: *a\n".to_string(),
        deep,
    ];
    for input in inputs {
        assert!(parse_str(&input).is_err(), "{input:?} was accepted");
    }
}

/// The nightly pipelines in fixtures/ci/: each runs doctor, then the
/// nightly suite with a JUnit file, publishes that file even when a check
/// failed, and keeps the HTML reports.
#[test]
fn the_ci_fixtures_run_doctor_then_the_nightly_suite_and_keep_the_reports() {
    let read = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(root().join("fixtures/ci").join(name)).unwrap();
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let steps_text = |steps: &serde_json::Value| -> Vec<String> {
        steps
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    for (name, steps, publish, keep) in [
        (
            "github-nightly.yml",
            "/jobs/gate/steps",
            "mikepenz/action-junit-report",
            "actions/upload-artifact",
        ),
        (
            "azure-nightly.yml",
            "/jobs/0/steps",
            "PublishTestResults@2",
            "PublishPipelineArtifact@1",
        ),
    ] {
        let doc = read(name);
        let steps = steps_text(
            doc.pointer(steps)
                .unwrap_or_else(|| panic!("{name}: no steps")),
        );
        let at = |needle: &str| {
            steps
                .iter()
                .position(|s| s.contains(needle))
                .unwrap_or_else(|| panic!("{name}: no step with {needle}"))
        };
        let doctor = at("harness doctor --target");
        let suite = at("harness run scenarios/*.yaml --tags nightly");
        assert!(doctor < suite, "{name}: doctor before the suite");
        assert!(steps[suite].contains("--junit junit.xml"), "{name}");
        let published = at(publish);
        assert!(
            published > suite && steps[published].contains("junit.xml"),
            "{name}"
        );
        assert!(
            steps[published].contains("always()"),
            "{name}: published when a check fails"
        );
        let kept = steps.iter().position(|s| s.contains(keep)).unwrap();
        assert!(
            steps[..=kept].iter().any(|s| s.contains("report.html")),
            "{name}: report.html kept"
        );
    }
}

/// Devices, FIFOs and /proc files say they hold 0 bytes: whatever a named
/// file is, it is read to its bound and no further, and a FIFO with no
/// writer is given up on. Each is exit 2, with the file named, in a few
/// seconds and a few tens of MiB.
#[test]
fn inputs_that_are_not_regular_files_are_read_within_their_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let fifo = fifo.to_str().unwrap();
    let failover = "scenarios/failover.yaml";
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["validate", "/dev/zero"],
            "/dev/zero",
            "limit of 1048576 bytes",
        ),
        (
            vec!["validate", "/dev/urandom"],
            "/dev/urandom",
            "limit of 1048576 bytes",
        ),
        (
            vec!["validate", "/proc/self/pagemap"],
            "/proc/self/pagemap",
            "",
        ),
        (vec!["validate", fifo], fifo, "FIFO"),
        (
            vec!["run", "/dev/zero"],
            "/dev/zero",
            "limit of 1048576 bytes",
        ),
        (
            vec!["run", "--target", "/dev/zero", failover],
            "target file /dev/zero",
            "limit",
        ),
        (vec!["run", "--target", fifo, failover], fifo, "FIFO"),
        (
            vec!["run", "--baseline", "/dev/zero", failover],
            "baseline /dev/zero",
            "limit",
        ),
        (
            vec!["doctor", "--target", "/dev/zero"],
            "target file /dev/zero",
            "limit",
        ),
    ];
    for (args, names, says) in cases {
        // GNU time reports the peak resident set of what it ran, in KiB.
        let mut cmd = std::process::Command::new("/usr/bin/time");
        cmd.args(["-f", "peak-rss-kib %M"])
            .arg(env!("CARGO_BIN_EXE_harness"))
            .args(&args)
            .current_dir(root());
        let out = run_with_timeout(cmd, Duration::from_secs(20));
        assert_eq!(out.code(), 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(names) && out.stderr.contains(says),
            "{args:?}: {}",
            out.stderr
        );
        let kib: u64 = out
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("peak-rss-kib "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no peak from time: {}", out.stderr));
        let bound = if args.contains(&"--baseline") { 80 } else { 50 };
        assert!(kib < bound * 1024, "{args:?} peaked at {kib} KiB");
    }
}

/// One invalid file among several: the others still get their `ok` line,
/// and the exit code is still 2.
#[test]
fn an_invalid_file_does_not_hide_that_the_others_are_valid() {
    let mut cmd = harness();
    cmd.args([
        "validate",
        "scenarios/failover.yaml",
        "fixtures/scenarios/invalid/wrong-type.yaml",
        "scenarios/drain.yaml",
    ]);
    let out = run_with_timeout(cmd, LIMIT);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    let oks: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("ok: "))
        .collect();
    assert_eq!(oks.len(), 2, "{}", out.stdout);
    assert!(oks[0].contains("scenarios/failover.yaml") && oks[1].contains("scenarios/drain.yaml"));
    assert!(
        out.stderr.contains("wrong-type.yaml:5:10"),
        "{}",
        out.stderr
    );
}

/// A scenario whose fields are each in range but whose packages together
/// would not fit on the disk is refused before the cluster starts, with
/// the figures, and exit 3 (the machine, not the scenario, is short).
#[test]
fn a_run_whose_packages_would_fill_the_disk_is_refused_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let stat = nix::sys::statvfs::statvfs(dir.path()).unwrap();
    let free = stat.blocks_available() * stat.fragment_size();
    // 1000 packages that together hold 2 GiB more than is free.
    let mib = (free + (2 << 30)) / 1000 / (1 << 20) + 1;
    if mib * 1000 > 2 << 20 {
        eprintln!("this disk has more free space than a scenario may store; nothing to refuse");
        return;
    }
    let file = dir.path().join("fills-the-disk.yaml");
    std::fs::write(
        &file,
        format!(
            "name: fills-the-disk\nduration: 60s\nworkload:\n  - upload: {{ size: {mib}MiB, count: 1000, concurrency: 4 }}\n"
        ),
    )
    .unwrap();
    let mut cmd = harness();
    cmd.arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("runs"));
    let out = run_with_timeout(cmd, LIMIT);
    assert_eq!(out.code(), 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("not enough free space in ")
            && out
                .stderr
                .contains(&format!("keeps up to {}", mib * 1000 / 1024)),
        "{}",
        out.stderr
    );
    // Refused before any node started: no cluster folder holds a node's log.
    let logs: Vec<_> = walk(&dir.path().join("runs"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/logs/"))
        .collect();
    assert!(logs.is_empty(), "{logs:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                pending.push(p.clone());
            }
            found.push(p);
        }
    }
    found
}
