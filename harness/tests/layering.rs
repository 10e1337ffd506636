//! The house's floors: each top-level module of `harness/src` stands on a
//! floor, and imports (`crate::x` paths outside its tests) only modules on
//! floors below its own. That rules out import circles between modules by
//! construction. A new module is placed in the table; an import that runs
//! up a floor is refused with the file and the path that does it.

use std::collections::BTreeSet;
use std::path::Path;

use crate::util::root;

/// The floors, lowest first.
const FLOORS: &[(&str, &[&str])] = &[
    (
        "words and bounds everything shares",
        &["exit", "limits", "package", "vocab"],
    ),
    (
        "the wire protocol, the event schema, reading files",
        &["halibut", "history", "input"],
    ),
    ("scenarios, and the Tentacle fleet", &["fleet", "scenario"]),
    ("the reference cluster", &["cluster"]),
    ("the REST client", &["client"]),
    (
        "what reaches a cluster through the client",
        &["cleanup", "containers", "identity", "target", "upload"],
    ),
    (
        "faults, derived figures, fuzz targets",
        &["fault", "fuzz", "metrics"],
    ),
    ("checks, and the request schedule", &["check", "schedule"]),
    ("the preflight", &["doctor"]),
    ("reports", &["report"]),
    ("the runner", &["runner"]),
    ("the command line", &["cli"]),
];

fn floor_of(module: &str) -> Option<usize> {
    FLOORS.iter().position(|(_, ms)| ms.contains(&module))
}

/// The top-level modules `source` names through `crate::`, outside its
/// `#[cfg(test)]` part: `crate::a::b` and each item of `crate::{a, b::c}`.
fn imports(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Items at the group's own depth only.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.insert(first_segment(&item));
        } else {
            found.insert(first_segment(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

fn first_segment(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Every import of `source` (in top-level module `module`) that does not
/// run to a lower floor, as `module -> target`.
fn upward(module: &str, source: &str) -> Vec<String> {
    let Some(own) = floor_of(module) else {
        return vec![format!("{module} is on no floor of the table")];
    };
    imports(source)
        .into_iter()
        // A path the table lacks names no module (`crate::x` where x is
        // an item of lib.rs): it is no import between floors.
        .filter(|t| t != module && floor_of(t).is_some_and(|f| f >= own))
        .map(|t| format!("{module} -> {t}"))
        .collect()
}

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
}

#[test]
fn every_module_imports_only_modules_on_lower_floors() {
    let src = root().join("harness/src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 50, "read only {} files", files.len());
    let mut problems = Vec::new();
    let mut modules = BTreeSet::new();
    for (path, text) in &files {
        let rel = Path::new(path).strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        modules.insert(module.clone());
        problems.extend(
            upward(&module, text)
                .into_iter()
                .map(|p| format!("{}: {p}", rel.display())),
        );
    }
    // Every module the table names exists: the table does not go stale.
    for (_, ms) in FLOORS {
        for m in *ms {
            assert!(
                modules.contains(*m),
                "the table names {m}, which is no module"
            );
        }
    }
    assert!(
        problems.is_empty(),
        "imports that do not run down a floor:\n{}",
        problems.join("\n")
    );
}

/// The rule can fail: an upward import, one on its own floor, one inside a
/// group, and a module missing from the table are each caught; a
/// downward import and one in a test module are not.
#[test]
fn an_import_that_runs_up_a_floor_is_caught() {
    assert_eq!(
        upward("history", "use crate::runner::RunOptions;"),
        ["history -> runner"]
    );
    assert_eq!(
        upward("check", "use crate::schedule::Schedule;"),
        ["check -> schedule"]
    );
    assert_eq!(
        upward("client", "use crate::{limits::X, report::{self, Report}};"),
        ["client -> report"]
    );
    assert_eq!(
        upward("attic", "use crate::limits::X;"),
        ["attic is on no floor of the table"]
    );
    assert!(upward("runner", "use crate::{history::Event, scenario::Scenario};").is_empty());
    assert!(upward("limits", "#[cfg(test)]\nmod tests { use crate::cli::Cli; }").is_empty());
}
