//! Hostile input without a fuzzer: every committed seed and every input a
//! fuzzer once found replayed through its entry point, and `harness
//! validate` fed every file under `fixtures/` and a thousand mutations of
//! each shipped scenario, answering only 0 or 2 and locating each problem.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use crate::util::{harness, root, run_with_timeout};

const LIMIT: Duration = Duration::from_secs(120);

/// A fuzz target's entry point.
type Entry = fn(&[u8]);

/// Each fuzz target and its entry point.
const TARGETS: &[(&str, Entry)] = &[
    ("scenario", harness::fuzz::scenario),
    ("target", harness::fuzz::target),
    ("units", harness::fuzz::units),
    ("multipart", harness::fuzz::multipart),
    ("halibut", harness::fuzz::halibut),
    ("json", harness::fuzz::json),
];

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn every_seed_and_every_found_input_goes_through_its_fuzz_target() {
    let fuzz = root().join("harness/fuzz");
    assert!(fuzz.join("regressions").is_dir());
    for (name, entry) in TARGETS {
        let seeds = files_in(&fuzz.join("seeds").join(name));
        assert!(seeds.len() >= 4, "{name} has {} seeds", seeds.len());
        for file in seeds
            .iter()
            .chain(&files_in(&fuzz.join("regressions").join(name)))
        {
            let bytes = std::fs::read(file).unwrap();
            if let Err(e) = std::panic::catch_unwind(|| entry(&bytes)) {
                panic!("{}: {e:?}", file.display());
            }
        }
    }
}

/// Every file under `fixtures/`, recursively, but for what npm installs
/// there (`node_modules`, git-ignored): those are not the project's.
fn fixture_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root().join("fixtures")];
    while let Some(dir) = stack.pop() {
        for path in files_in(&dir) {
            if path.ends_with("node_modules") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Text that YAML, serde or the validator treat specially.
const TOKENS: &[&str] = &[
    "",
    " ",
    "\t",
    "\n",
    "\r\n",
    ":",
    ": ",
    "- ",
    "-",
    "#",
    "&a ",
    "*a",
    "!!str ",
    "!tag ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\"",
    "'",
    "|",
    ">",
    "~",
    "null",
    "true",
    "0",
    "-1",
    "1e400",
    "NaN",
    "0x10",
    "99999999999999999999",
    "1.5",
    "0s",
    "1ms",
    "10y",
    "5%",
    "101%",
    "1/s",
    "0/s",
    "1GiB",
    "0B",
    "20000PiB",
    "n1",
    "n9",
    "kill",
    "at",
    "duration",
    "nodes",
    "checks",
    "faults",
    "<<: *a",
    "---\n",
    "...\n",
    "\u{feff}",
    "\u{0}",
    "é",
    "\u{202e}",
];

/// One mutation of `text`: a byte flipped, a span cut or doubled, a token
/// put in, lines swapped, or the text cut short.
fn mutate(text: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut out = text.to_vec();
    let rounds = 1 + rng.next_u32() % 3;
    for _ in 0..rounds {
        if out.is_empty() {
            out.extend_from_slice(b"name: x");
        }
        let at = rng.next_u32() as usize % (out.len() + 1);
        match rng.next_u32() % 7 {
            0 if at < out.len() => out[at] ^= 1 << (rng.next_u32() % 8),
            1 => {
                let end = (at + 1 + rng.next_u32() as usize % 40).min(out.len());
                out.drain(at.min(end)..end);
            }
            2 => {
                let end = (at + 1 + rng.next_u32() as usize % 80).min(out.len());
                let span = out[at.min(end)..end].to_vec();
                out.splice(at..at, span);
            }
            3 | 4 => {
                let token = TOKENS[rng.next_u32() as usize % TOKENS.len()];
                out.splice(at..at, token.bytes());
            }
            5 => {
                let mut lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
                let n = lines.len();
                lines.swap(at % n, rng.next_u32() as usize % n);
                out = lines.join(&b'\n');
            }
            _ => out.truncate(at),
        }
    }
    out
}

/// Runs `harness validate` on `files`: exit 0 or 2, nothing else, and
/// every problem it prints names its file, line and column.
fn validate_all(files: &[PathBuf]) {
    let mut cmd = harness();
    cmd.arg("validate").args(files);
    let out = run_with_timeout(cmd, LIMIT);
    let shown = || format!("{} files from {}", files.len(), files[0].display());
    assert!(
        matches!(out.code(), 0 | 2),
        "exit {} on {}:\n{}",
        out.code(),
        shown(),
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    if out.code() == 2 {
        assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    }
    // `error: invalid scenario FILE: N problems`, then `  FILE:L:C: ...`
    // for each problem; nothing else (a file that cannot be read would
    // name no location).
    let mut problems_left = 0;
    for line in out.stderr.lines() {
        if let Some(rest) = line.strip_prefix("  ") {
            assert!(problems_left > 0, "an unannounced line: {line:?}");
            problems_left -= 1;
            let file = files
                .iter()
                .map(|f| f.display().to_string())
                .find(|f| rest.starts_with(&format!("{f}:")))
                .unwrap_or_else(|| panic!("a problem that names no file: {line:?}"));
            let place = &rest[file.len() + 1..];
            let mut parts = place.splitn(3, ':');
            let (l, c) = (parts.next().unwrap(), parts.next().unwrap_or(""));
            assert!(
                l.parse::<u64>().is_ok_and(|n| n > 0) && c.parse::<u64>().is_ok_and(|n| n > 0),
                "a problem without line and column: {line:?}"
            );
        } else if let Some(rest) = line.strip_prefix("error: invalid scenario ") {
            assert_eq!(problems_left, 0, "fewer problems than announced");
            let count = rest.rsplit(": ").next().unwrap();
            problems_left = count
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no problem count: {line:?}"));
        } else {
            panic!("an unexpected line from validate: {line:?}");
        }
    }
    assert_eq!(problems_left, 0, "fewer problems than announced");
}

#[test]
fn validate_answers_every_fixture_and_a_thousand_mutations_of_each_scenario_with_0_or_2() {
    let fixtures = fixture_files();
    assert!(fixtures.len() >= 50, "{} fixtures", fixtures.len());
    for batch in fixtures.chunks(100) {
        validate_all(batch);
    }
    let scratch = tempfile::tempdir().unwrap();
    let mut scenarios = files_in(&root().join("scenarios"));
    scenarios.retain(|f| f.extension().is_some_and(|e| e == "yaml"));
    assert!(scenarios.len() >= 8);
    let mut rng = ChaCha8Rng::seed_from_u64(0x0048_4152_4e45_5353);
    for scenario in &scenarios {
        let text = std::fs::read(scenario).unwrap();
        let stem = scenario.file_stem().unwrap().to_string_lossy().into_owned();
        let mut batch = Vec::new();
        for i in 0..1000 {
            let file = scratch.path().join(format!("{stem}-{i:04}.yaml"));
            std::fs::write(&file, mutate(&text, &mut rng)).unwrap();
            batch.push(file);
            if batch.len() == 250 {
                validate_all(&batch);
                batch.clear();
            }
        }
    }
}
