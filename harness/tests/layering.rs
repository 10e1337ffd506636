//! The house's floors: in each crate of the workspace, each top-level
//! module stands on a floor of that crate's table, and imports (`crate::x`
//! paths outside its tests) only modules on floors below its own. That
//! rules out import circles between modules by construction; between
//! crates, Cargo refuses a circle itself. A new module is placed in its
//! crate's table; an import that runs up a floor is refused with the file
//! and the path that does it.

use std::collections::BTreeSet;
use std::path::Path;

use crate::util::root;

/// A crate's floors, lowest first: what each holds, and its modules.
type Floors = &'static [(&'static str, &'static [&'static str])];

/// Every crate of the workspace: its name, its source folder, its floors.
const CRATES: &[(&str, &str, Floors)] = &[
    ("halibut", "harness/halibut/src", HALIBUT),
    (
        "reference_cluster",
        "harness/cluster/src",
        REFERENCE_CLUSTER,
    ),
    ("harness", "harness/src", HARNESS),
    ("the harness binary", "harness/cli", CLI),
];

/// The wire protocol: the codec is the crate's root.
const HALIBUT: Floors = &[
    ("the bounds on what a peer can make it hold", &["limits"]),
    (
        "framing on a stream, TLS identities, a Tentacle's services",
        &["services", "tls", "wire"],
    ),
];

/// The reference cluster, a server library.
const REFERENCE_CLUSTER: Floors = &[
    (
        "its words, bounds, errors and events",
        &["error", "events", "limits", "vocab"],
    ),
    (
        "the shared database, HTTP serving, multipart, processes, waits",
        &[
            "cpu",
            "db",
            "http",
            "multipart",
            "supervisor",
            "timeouts",
            "work",
        ],
    ),
    (
        "REST shapes, TCP forwarding, the polling listener, what the cluster can take away",
        &["api", "disrupt", "forward", "polling"],
    ),
    ("the node and LB processes", &["lb", "node"]),
    ("what the cluster is asked to be", &["spec"]),
    ("real LBs configured from it", &["real_lb"]),
    ("the running cluster", &["cluster"]),
    ("`cluster up`'s control socket", &["control"]),
    ("`cluster up`'s serve loop", &["serve"]),
];

/// The command line: flags and shared helpers under the commands.
const CLI: Floors = &[
    (
        "flags, and what several commands share",
        &["args", "shared"],
    ),
    (
        "one file per command",
        &[
            "child",
            "cleanup",
            "cluster",
            "containers",
            "doctor",
            "kube",
            "list",
            "merge",
            "package",
            "report",
            "run",
            "upload",
            "validate",
        ],
    ),
];

/// The harness proper.
const HARNESS: Floors = &[
    (
        "words and bounds everything shares",
        &["exit", "limits", "package", "vocab"],
    ),
    ("the event schema, reading files", &["history", "input"]),
    ("scenarios, and the Tentacle fleet", &["fleet", "scenario"]),
    (
        "the reference cluster as a scenario asks for it",
        &["embedded"],
    ),
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
    ("a split run's shards on Kubernetes", &["kube"]),
];

fn floor_of(floors: Floors, module: &str) -> Option<usize> {
    floors.iter().position(|(_, ms)| ms.contains(&module))
}

/// The top-level modules `source` names through `crate::`, outside its
/// `#[cfg(test)]` part: `crate::a::b` and each item of `crate::{a, b::c}`.
fn imports(source: &str) -> BTreeSet<String> {
    paths_after("crate::", source)
}

/// The first segments of the paths that follow `prefix` (`crate::`,
/// `super::`) in `source`, outside its `#[cfg(test)]` part: `a` of
/// `prefix a::b`, and each item's of `prefix {a, b::c}`.
fn paths_after(prefix: &str, source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        rest = &rest[at + prefix.len()..];
        found.extend(segments(rest));
    }
    found.retain(|m| !m.is_empty());
    found
}

/// The first segment of the path `rest` starts with, or of each item of
/// the `{...}` group it starts with (items at the group's own depth).
fn segments(rest: &str) -> Vec<String> {
    let Some(group) = rest.strip_prefix('{') else {
        return vec![first_segment(rest)];
    };
    let mut found = Vec::new();
    let mut depth = 0;
    let mut item = String::new();
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                found.push(first_segment(&item));
                item.clear();
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    found.push(first_segment(&item));
    found
}

fn first_segment(path: &str) -> String {
    let path = path.trim_start();
    if path.starts_with('*') {
        return "*".to_string();
    }
    path.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Every import of `source` (in top-level module `module` of a crate with
/// `floors`) that does not run to a lower floor, as `module -> target`.
fn upward(floors: Floors, module: &str, source: &str) -> Vec<String> {
    let Some(own) = floor_of(floors, module) else {
        return vec![format!("{module} is on no floor of the table")];
    };
    imports(source)
        .into_iter()
        // A path the table lacks names no module (`crate::x` where x is
        // an item of lib.rs): it is no import between floors.
        .filter(|t| t != module && floor_of(floors, t).is_some_and(|f| f >= own))
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

/// The problems of one crate: imports that do not run down a floor, and
/// modules its table names that do not exist.
fn crate_problems(name: &str, dir: &str, floors: Floors) -> Vec<String> {
    let src = root().join(dir);
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 3, "{name}: read only {} files", files.len());
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
        // The root, and test modules (a `tests.rs` is test code, as a
        // `#[cfg(test)]` part is), stand on no floor.
        if ["lib", "main", "tests"].contains(&module.as_str())
            || rel.file_name().is_some_and(|f| f == "tests.rs")
        {
            continue;
        }
        modules.insert(module.clone());
        problems.extend(
            upward(floors, &module, text)
                .into_iter()
                .map(|p| format!("{name}: {}: {p}", rel.display())),
        );
    }
    // Every module the table names exists: the table does not go stale.
    for (_, ms) in floors {
        for m in *ms {
            if !modules.contains(*m) {
                problems.push(format!("{name}: the table names {m}, which is no module"));
            }
        }
    }
    problems
}

#[test]
fn every_module_imports_only_modules_on_lower_floors() {
    let problems: Vec<String> = CRATES
        .iter()
        .flat_map(|(name, dir, floors)| crate_problems(name, dir, floors))
        .collect();
    assert!(
        problems.is_empty(),
        "imports that do not run down a floor:\n{}",
        problems.join("\n")
    );
}

/// The `super::` paths of `source` outside its `#[cfg(test)]` part, as
/// how many levels each climbs and the first segment after them:
/// `super::a::b` is (1, a), `super::super::{c, d}` gives (2, c) and (2, d).
fn super_paths(source: &str) -> BTreeSet<(usize, String)> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    let mut at = 0;
    while let Some(i) = code[at..].find("super::") {
        let mut rest = &code[at + i..];
        let mut levels = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            levels += 1;
            rest = r;
        }
        at = code.len() - rest.len();
        for first in segments(rest) {
            if !first.is_empty() {
                found.insert((levels, first));
            }
        }
    }
    found
}

/// Inside a folder module, a file's `super::` paths name modules: its
/// siblings, or (climbing further) its folder's siblings and theirs. An
/// item of a folder's own root (`mod.rs`, or `x.rs` beside `x/`), or a
/// glob of it, would be an import back up to the file that declares the
/// importer. Gives each such path as `file -> super::name`. A `tests.rs`
/// file is a test module and is left out, as `#[cfg(test)]` parts are.
fn parent_imports(src: &Path, files: &[(String, String)]) -> Vec<String> {
    let entries = |folder: &Path| -> BTreeSet<String> {
        std::fs::read_dir(folder)
            .map(|rd| {
                rd.map(|e| {
                    let p = e.unwrap().path();
                    p.file_stem().unwrap().to_string_lossy().into_owned()
                })
                .filter(|n| n != "mod")
                .collect()
            })
            .unwrap_or_default()
    };
    let mut found = Vec::new();
    for (path, text) in files {
        let path = Path::new(path);
        let folder = path.parent().unwrap();
        let name = path.file_stem().unwrap().to_string_lossy();
        // A folder's root file sees its children, not its siblings.
        if folder == src || ["mod", "lib", "main", "tests"].contains(&name.as_ref()) {
            continue;
        }
        for (levels, first) in super_paths(text) {
            // One level up is the folder; each more is one folder higher.
            let seen = folder.ancestors().nth(levels - 1).map(entries);
            if !seen.is_some_and(|names| names.contains(&first)) {
                let rel = path.strip_prefix(src).unwrap();
                let chain = "super::".repeat(levels);
                found.push(format!("{} -> {chain}{first}", rel.display()));
            }
        }
    }
    found
}

#[test]
fn files_in_a_folder_import_their_siblings_never_their_folder_s_root() {
    let mut problems = Vec::new();
    for (name, dir, _) in CRATES {
        let src = root().join(dir);
        let mut files = Vec::new();
        sources(&src, &mut files);
        problems.extend(
            parent_imports(&src, &files)
                .into_iter()
                .map(|p| format!("{name}: {p}")),
        );
    }
    assert!(
        problems.is_empty(),
        "imports of a folder's own root:\n{}",
        problems.join("\n")
    );
}

/// The rule can fail: an upward import, one on its own floor, one inside a
/// group, and a module missing from the table are each caught; a
/// downward import and one in a test module are not.
#[test]
fn an_import_that_runs_up_a_floor_is_caught() {
    assert_eq!(
        upward(HARNESS, "history", "use crate::runner::RunOptions;"),
        ["history -> runner"]
    );
    assert_eq!(
        upward(HARNESS, "check", "use crate::schedule::Schedule;"),
        ["check -> schedule"]
    );
    assert_eq!(
        upward(
            HARNESS,
            "client",
            "use crate::{limits::X, report::{self, Report}};"
        ),
        ["client -> report"]
    );
    assert_eq!(
        upward(HARNESS, "attic", "use crate::limits::X;"),
        ["attic is on no floor of the table"]
    );
    assert!(
        upward(
            HARNESS,
            "runner",
            "use crate::{history::Event, scenario::Scenario};"
        )
        .is_empty()
    );
    assert!(
        upward(
            HARNESS,
            "limits",
            "#[cfg(test)]\nmod tests { use crate::runner::X; }"
        )
        .is_empty()
    );
    // The reference cluster's own table: its spec may not reach up to the
    // running cluster, and a module the table lacks is caught there too.
    assert_eq!(
        upward(
            REFERENCE_CLUSTER,
            "spec",
            "use crate::cluster::EmbeddedCluster;"
        ),
        ["spec -> cluster"]
    );
    // A crate whose table lacks its commands' floor: each command file
    // is reported, by file.
    let lacking = crate_problems("cli", "harness/cli", &CLI[..1]);
    assert!(
        lacking.contains(&"cli: run.rs: run is on no floor of the table".to_string()),
        "{lacking:?}"
    );
    assert_eq!(lacking.len(), CLI[1].1.len(), "{lacking:?}");
}

/// The folder rule can fail: a file that imports its folder root's item,
/// a glob of it, or its grandparent is caught; one that imports its
/// sibling, or its root's item in a test, is not.
#[test]
fn an_import_of_a_folder_s_own_root_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path();
    std::fs::create_dir_all(src.join("a")).unwrap();
    let write = |name: &str, text: &str| std::fs::write(src.join(name), text).unwrap();
    write("a/mod.rs", "mod b;\nmod c;\npub struct Thing;\n");
    write(
        "a/b.rs",
        "use super::c::X;\nuse super::{c, Thing};\n#[cfg(test)]\nmod tests { use super::super::Thing; }\n",
    );
    write(
        "a/c.rs",
        "use super::*;\nfn f() { super::super::g() }\nuse super::super::a::b;\n",
    );
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut found = parent_imports(src, &files);
    found.sort();
    assert_eq!(
        found,
        [
            "a/b.rs -> super::Thing",
            "a/c.rs -> super::*",
            "a/c.rs -> super::super::g"
        ]
    );
}
