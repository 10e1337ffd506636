//! Target files: an existing Octopus HA cluster described in YAML (the LB,
//! each node's URL and polling endpoint, the space, the name of the
//! environment variable that holds the API key, TLS trust, and the
//! commands that disrupt a node), loaded and validated like a scenario,
//! every problem located by file, line, column and field.
//!
//! The API key itself is never in the file: only the variable's name,
//! read when the harness needs the key.

mod interface;
mod model;
pub mod real;

pub use interface::Target;
pub use model::{
    Commands, DatabaseCommands, PartitionCommands, StorageCommands, TargetFile, TargetNode, Tls,
};
pub use real::{Link, RealCluster, Side};

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use crate::limits::{MAX_COMMAND_TIMEOUT, MAX_TARGET_BYTES, MAX_TARGET_NODES};
use crate::scenario::{
    Fault, PartitionFrom, Problem, Scenario, Workload, parse_yaml, utf8, write_problems,
};

pub use crate::vocab::Trust;

/// Why a target file could not be loaded.
#[derive(Debug)]
pub enum TargetError {
    /// It could not be read, or is too large.
    Read(PathBuf, String),
    /// It is not a valid target file.
    Invalid(PathBuf, Vec<Problem>),
}

impl std::error::Error for TargetError {}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Read(file, why) => {
                write!(f, "failed to read target file {}: {why}", file.display())
            }
            TargetError::Invalid(file, problems) => {
                write_problems(f, "target file", file, problems)
            }
        }
    }
}

/// Reads, parses and validates a target file.
pub fn load(file: &Path) -> Result<TargetFile, TargetError> {
    let read = |why: String| TargetError::Read(file.to_path_buf(), why);
    let bytes = crate::input::read(file, MAX_TARGET_BYTES).map_err(|e| read(e.to_string()))?;
    let source = utf8(bytes).map_err(|p| TargetError::Invalid(file.to_path_buf(), vec![p]))?;
    let base = file.parent().unwrap_or(Path::new("."));
    parse_str(&source, base).map_err(|p| TargetError::Invalid(file.to_path_buf(), p))
}

/// Parses and validates target text; relative CA files are read from
/// `base`.
pub fn parse_str(source: &str, base: &Path) -> Result<TargetFile, Vec<Problem>> {
    let mut t: TargetFile = parse_yaml(source).map_err(|p| vec![p])?;
    if let Some(ca) = &mut t.tls.ca_file {
        let path = base.join(&ca.value);
        ca.value = path.display().to_string();
    }
    let problems = validate(&t);
    if problems.is_empty() {
        Ok(t)
    } else {
        Err(problems)
    }
}

/// The second pass: every problem, in file order.
fn validate(t: &TargetFile) -> Vec<Problem> {
    let mut p = Vec::new();
    validate_identity(t, &mut p);
    validate_tls(&t.tls, &mut p);
    let mut problem = |s: &serde_saphyr::Location, path: &str, msg: String| {
        p.push(Problem::at(s, path, msg));
    };
    if t.command_timeout.value.get().is_zero() {
        problem(
            &t.command_timeout.referenced,
            "command_timeout",
            "must be longer than 0s".into(),
        );
    } else if t.command_timeout.value.get() > MAX_COMMAND_TIMEOUT {
        problem(
            &t.command_timeout.referenced,
            "command_timeout",
            format!(
                "must be at most {}",
                humantime::format_duration(MAX_COMMAND_TIMEOUT)
            ),
        );
    }
    if t.nodes.is_empty() || t.nodes.len() > MAX_TARGET_NODES {
        problem(
            &t.api_key_env.referenced,
            "nodes",
            format!("must list from 1 to {MAX_TARGET_NODES} nodes"),
        );
    }
    let mut names = HashSet::new();
    for (i, n) in t.nodes.iter().enumerate() {
        validate_node(i, &n.value, &mut names, &mut p);
    }
    let d = &t.database;
    p.extend(command_problems(
        "database",
        &[
            (&d.outage, "outage"),
            (&d.restore, "restore"),
            (&d.failover, "failover"),
        ],
    ));
    p.sort_by_key(|x| (x.line, x.column));
    p
}

/// The commands under `path` that are empty; and where the first two are
/// an outage and its restore, one given without the other: an outage the
/// harness could not undo is never started.
fn command_problems(path: &str, commands: &[(&Option<Spanned<String>>, &str)]) -> Vec<Problem> {
    let mut p: Vec<Problem> = commands
        .iter()
        .filter_map(|(cmd, key)| Some((cmd.as_ref()?, key)))
        .filter(|(cmd, _)| cmd.value.trim().is_empty())
        .map(|(cmd, key)| {
            Problem::at(
                &cmd.referenced,
                format!("{path}.{key}"),
                "must not be empty; leave it out instead",
            )
        })
        .collect();
    if let [(outage, "outage"), (restore, "restore"), ..] = commands
        && let (Some(given), None) | (None, Some(given)) = (outage, restore)
    {
        p.push(Problem::at(
            &given.referenced,
            path,
            "give both `outage` and `restore`: an outage the harness cannot undo is never started",
        ));
    }
    p
}

/// The target's name, its LB and space, and where its API key is.
fn validate_identity(t: &TargetFile, p: &mut Vec<Problem>) {
    let mut problem = |s: &serde_saphyr::Location, path: &str, msg: String| {
        p.push(Problem::at(s, path, msg));
    };
    if t.name.value.trim().is_empty() {
        problem(&t.name.referenced, "name", "must not be empty".into());
    } else if t.name.value == "embedded" {
        // Reports say `embedded` for the cluster the harness starts.
        problem(
            &t.name.referenced,
            "name",
            "`embedded` names the harness's own cluster in reports; choose another".into(),
        );
    }
    if let Err(e) = check_url(&t.lb.value) {
        problem(&t.lb.referenced, "lb", e);
    }
    if t.space.value.trim().is_empty() {
        problem(&t.space.referenced, "space", "must not be empty".into());
    }
    let var = &t.api_key_env.value;
    if var.trim().to_ascii_uppercase().starts_with("API-") {
        // The key itself is never echoed, even in the error.
        problem(
            &t.api_key_env.referenced,
            "api_key_env",
            "must name an environment variable that holds the API key, not the key itself; remove the key from this file".into(),
        );
    } else if var.is_empty()
        || var.starts_with(|c: char| c.is_ascii_digit())
        || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        problem(
            &t.api_key_env.referenced,
            "api_key_env",
            // Not quoted: a mistyped value may be a secret.
            "is not an environment variable name (letters, digits and _)".to_string(),
        );
    }
}

/// At most one way to trust the cluster's certificate, and that one
/// usable.
fn validate_tls(tls: &Tls, p: &mut Vec<Problem>) {
    let mut problem = |s: &serde_saphyr::Location, path: &str, msg: String| {
        p.push(Problem::at(s, path, msg));
    };
    let chosen = [
        tls.ca_file.is_some(),
        tls.thumbprint.is_some(),
        tls.insecure.as_ref().is_some_and(|i| i.value),
    ];
    if chosen.iter().filter(|c| **c).count() > 1 {
        let at = tls
            .thumbprint
            .as_ref()
            .map(|t| t.referenced)
            .or(tls.insecure.as_ref().map(|i| i.referenced))
            .unwrap_or(serde_saphyr::Location::UNKNOWN);
        problem(
            &at,
            "tls",
            "give one of ca_file, thumbprint and insecure".into(),
        );
    }
    if let Some(ca) = &tls.ca_file
        && let Err(e) = std::fs::metadata(&ca.value)
    {
        problem(
            &ca.referenced,
            "tls.ca_file",
            format!("cannot read {}: {e}", ca.value),
        );
    }
    if let Some(tp) = &tls.thumbprint
        && (tp.value.len() != 40 || !tp.value.chars().all(|c| c.is_ascii_hexdigit()))
    {
        problem(
            &tp.referenced,
            "tls.thumbprint",
            "must be 40 hexadecimal digits (SHA-1)".into(),
        );
    }
}

/// One node: a name of its own, a URL, a polling address that is one, and
/// no empty command. `names` holds the names of the nodes before it.
fn validate_node(i: usize, n: &TargetNode, names: &mut HashSet<String>, p: &mut Vec<Problem>) {
    let mut problem = |s: &serde_saphyr::Location, path: &str, msg: String| {
        p.push(Problem::at(s, path, msg));
    };
    let path = format!("nodes[{i}]");
    let name = &n.name.value;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        problem(
            &n.name.referenced,
            &format!("{path}.name"),
            format!("{name:?} must be letters, digits, - and _"),
        );
    } else if name == "lb" || name == "one" || name == "all" {
        problem(
            &n.name.referenced,
            &format!("{path}.name"),
            format!("{name:?} is reserved"),
        );
    } else if !names.insert(name.clone()) {
        problem(
            &n.name.referenced,
            &format!("{path}.name"),
            format!("{name:?} is listed twice"),
        );
    }
    if let Err(e) = check_url(&n.url.value) {
        problem(&n.url.referenced, &format!("{path}.url"), e);
    }
    if let Some(poll) = &n.polling {
        let ok = poll.value.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !ok {
            problem(
                &poll.referenced,
                &format!("{path}.polling"),
                format!("{:?} must be host:port", poll.value),
            );
        }
    }
    let c = &n.commands;
    p.extend(command_problems(
        &format!("{path}.storage"),
        &[
            (&n.storage.outage, "outage"),
            (&n.storage.restore, "restore"),
        ],
    ));
    let q = &n.partition;
    p.extend(command_problems(
        &format!("{path}.partition"),
        &[
            (&q.from_lb, "from_lb"),
            (&q.rejoin_lb, "rejoin_lb"),
            (&q.from_tentacles, "from_tentacles"),
            (&q.rejoin_tentacles, "rejoin_tentacles"),
        ],
    ));
    p.extend(command_problems(
        &format!("{path}.commands"),
        &[
            (&c.kill, "kill"),
            (&c.stop, "stop"),
            (&c.start, "start"),
            (&c.pause, "pause"),
            (&c.resume, "resume"),
        ],
    ));
}

/// Uploads larger than this count as disruptive on a real cluster: they
/// fill its package feed and load its LB.
pub const DISRUPTIVE_UPLOAD: u64 = 100 << 20;

/// The node commands a fault needs: to inject it, and to undo it.
fn needed_commands(f: &Fault) -> &'static [&'static str] {
    match f {
        Fault::Kill(_) | Fault::Restart(_) => &["kill", "start"],
        Fault::Pause(_) => &["pause", "resume"],
        // A rolling maintenance stops the node cleanly, then starts it.
        Fault::Maintenance(_) => &["stop", "start"],
        // Through the REST API, like an operator.
        Fault::Drain(_) => &[],
        // The target's database commands, not a node's.
        Fault::DatabaseOutage(_) | Fault::DatabaseFailover(_) => &[],
        // A node's `storage` and `partition` commands, looked for apart.
        Fault::StorageOutage(_) | Fault::StorageUnshared(_) | Fault::Partition(_) => &[],
    }
}

/// The node commands a scenario's faults need that the target does not
/// give, located in the scenario file. (Node names are checked by the
/// scenario's validation, with the target's names.)
pub fn check_scenario(t: &TargetFile, s: &Scenario) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, f) in s.faults.iter().enumerate() {
        let Some(sel) = f.value.node().map(|n| &n.value) else {
            problems.extend(database_commands(t, f, i));
            continue;
        };
        let nodes: Vec<&TargetNode> = t
            .nodes
            .iter()
            .map(|n| &n.value)
            .filter(|n| sel == "one" || sel == "all" || n.name.value == **sel)
            .collect();
        for cmd in needed_commands(&f.value) {
            // An unknown node is the validation's to report.
            if nodes.is_empty() {
                break;
            }
            let lacking: Vec<&str> = nodes
                .iter()
                .filter(|n| n.commands.get(cmd).is_none())
                .map(|n| n.name.value.as_str())
                .collect();
            if !lacking.is_empty() {
                problems.push(Problem::at(
                    &f.referenced,
                    format!("faults[{i}].{}", f.value.kind()),
                    format!(
                        "needs the `{cmd}` command of {}, which the target {} does not give (nodes[].commands.{cmd})",
                        lacking.join(", "),
                        t.name.value
                    ),
                ));
            }
        }
        problems.extend(storage_commands(t, f, i, &nodes));
        problems.extend(partition_commands(t, f, i, &nodes));
    }
    // A target file names each node's polling endpoint, not an LB's.
    for (i, w) in s.workload.iter().enumerate() {
        if let Workload::Fleet(f) = &w.value {
            if f.polls.value == crate::scenario::Polls::Lb {
                problems.push(Problem::at(
                    &f.polls.referenced,
                    format!("workload[{i}].fleet.polls"),
                    format!(
                        "polls the LB's polling port, which the target {} does not give (a target lists each node's polling endpoint)",
                        t.name.value
                    ),
                ));
            }
            let lacking: Vec<&str> = t
                .nodes
                .iter()
                .filter(|n| n.value.polling.is_none())
                .map(|n| n.value.name.value.as_str())
                .collect();
            if !lacking.is_empty() {
                problems.push(Problem::at(
                    &w.referenced,
                    format!("workload[{i}].fleet"),
                    format!(
                        "needs the polling endpoint of {}, which the target {} does not give (nodes[].polling)",
                        lacking.join(", "),
                        t.name.value
                    ),
                ));
            }
        }
    }
    problems.sort_by_key(|p| (p.line, p.column));
    problems
}

/// What a fault on a node's view of the shared store needs of a real
/// target: its `storage` commands for an outage; unsharing a store is
/// done to the embedded cluster only.
fn storage_commands(
    t: &TargetFile,
    f: &serde_saphyr::Spanned<Fault>,
    i: usize,
    nodes: &[&TargetNode],
) -> Option<Problem> {
    let at = |message: String| {
        Problem::at(
            &f.referenced,
            format!("faults[{i}].{}", f.value.kind()),
            message,
        )
    };
    match f.value {
        Fault::StorageUnshared(_) => Some(at(format!(
            "unshares a node's store, which only the embedded cluster can be made to do; the target {} cannot",
            t.name.value
        ))),
        Fault::StorageOutage(_) => {
            let lacking: Vec<&str> = nodes
                .iter()
                .filter(|n| n.storage.outage.is_none() || n.storage.restore.is_none())
                .map(|n| n.name.value.as_str())
                .collect();
            (!lacking.is_empty()).then(|| {
                at(format!(
                    "needs the `storage.outage` and `storage.restore` commands of {}, which the target {} does not give (nodes[].storage)",
                    lacking.join(", "),
                    t.name.value
                ))
            })
        }
        _ => None,
    }
}

/// What a partition needs of a real target: the node's `partition`
/// commands that cut it off from that side and join it again.
fn partition_commands(
    t: &TargetFile,
    f: &serde_saphyr::Spanned<Fault>,
    i: usize,
    nodes: &[&TargetNode],
) -> Option<Problem> {
    let Fault::Partition(p) = &f.value else {
        return None;
    };
    let side = match p.from.value {
        PartitionFrom::Lb => Side::Lb,
        PartitionFrom::Tentacles => Side::Tentacles,
    };
    let (cut, rejoin) = (side.verb(Link::Cut), side.verb(Link::Rejoin));
    let lacking: Vec<&str> = nodes
        .iter()
        .filter(|n| n.partition.get(cut).is_none() || n.partition.get(rejoin).is_none())
        .map(|n| n.name.value.as_str())
        .collect();
    (!lacking.is_empty()).then(|| {
        Problem::at(
            &f.referenced,
            format!("faults[{i}].partition"),
            format!(
                "needs the `partition.{cut}` and `partition.{rejoin}` commands of {}, which the target {} does not give (nodes[].partition)",
                lacking.join(", "),
                t.name.value
            ),
        )
    })
}

/// The faults of a scenario the embedded cluster cannot inject, located:
/// a partition, as its nodes and LB share loopback and no network between
/// them can be cut.
pub fn embedded_problems(s: &Scenario) -> Vec<Problem> {
    s.faults
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.value, Fault::Partition(_)))
        .map(|(i, f)| {
            Problem::at(
                &f.referenced,
                format!("faults[{i}].partition"),
                "cuts a node off the network, which the embedded cluster cannot (its processes share loopback); run it with --target on a cluster whose target file gives `partition` commands, such as `harness containers up`'s".to_string(),
            )
        })
        .collect()
}

/// The commands a fault on the shared database needs, where the target
/// does not give them.
fn database_commands(
    t: &TargetFile,
    f: &serde_saphyr::Spanned<Fault>,
    i: usize,
) -> Option<Problem> {
    let needed: &[&str] = match f.value {
        Fault::DatabaseFailover(_) => &["failover"],
        _ => &["outage", "restore"],
    };
    let lacking: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|verb| t.database.get(verb).is_none())
        .collect();
    (!lacking.is_empty()).then(|| {
        Problem::at(
            &f.referenced,
            format!("faults[{i}].{}", f.value.kind()),
            format!(
                "needs the target's database command{} {}, which the target {} does not give",
                if lacking.len() == 1 { "" } else { "s" },
                lacking
                    .iter()
                    .map(|v| format!("`database.{v}`"))
                    .collect::<Vec<_>>()
                    .join(" and "),
                t.name.value
            ),
        )
    })
}

/// The steps of a scenario that disturb a cluster: faults, task bursts,
/// and uploads over [`DISRUPTIVE_UPLOAD`]. On a real cluster they need
/// `--allow-disruptive`.
pub fn disruptive_steps(s: &Scenario) -> Vec<String> {
    let mut steps = Vec::new();
    for (i, f) in s.faults.iter().enumerate() {
        let of = f.value.node().map_or("the database", |n| n.value.as_str());
        steps.push(format!(
            "faults[{i}]: {} of {of} at {}",
            f.value.kind(),
            f.value.at().value
        ));
    }
    // A search overloads the cluster on purpose, and may drain nodes.
    if let Some(cap) = &s.capacity {
        let cap = &cap.value;
        if let Some(api) = &cap.api {
            steps.push(format!(
                "capacity: open-model REST load past the knee, up to {}",
                api.ceiling.value
            ));
        }
        if let Some(tasks) = &cap.tasks {
            steps.push(format!(
                "capacity: tasks past the task caps, up to {}",
                tasks.ceiling.value
            ));
        }
        if cap.drain.value > 0 {
            steps.push(format!(
                "capacity: drains {} node(s), one at a time, undone at the end",
                cap.drain.value
            ));
        }
    }
    let limit = crate::scenario::units::Size::from_bytes(DISRUPTIVE_UPLOAD);
    for (i, w) in s.workload.iter().enumerate() {
        match &w.value {
            Workload::Tasks(t) => {
                if let Some(b) = &t.burst {
                    steps.push(format!("workload[{i}]: a burst of {} tasks", b.value));
                }
            }
            Workload::Upload(u) if u.size.value.bytes() > DISRUPTIVE_UPLOAD => steps.push(format!(
                "workload[{i}]: {} upload(s) of {} (over {limit})",
                u.count.value, u.size.value
            )),
            Workload::SlowUpload(u) if u.size.value.bytes() > DISRUPTIVE_UPLOAD => {
                steps.push(format!(
                    "workload[{i}]: a slow upload of {} (over {limit})",
                    u.size.value
                ))
            }
            Workload::BodyLimitLadder(l) if l.to.value.bytes() > DISRUPTIVE_UPLOAD => {
                steps.push(format!(
                    "workload[{i}]: the body-limit ladder up to {} (over {limit})",
                    l.to.value
                ))
            }
            // As many users as asked, each creating tasks or packages as
            // fast as the cluster answers: a burst with no end set.
            Workload::Load(l) if l.mix.value.task > 0 || l.mix.value.upload > 0 => {
                steps.push(format!(
                    "workload[{i}]: a load phase of {} users creating {}",
                    l.users.value,
                    match (l.mix.value.task > 0, l.mix.value.upload > 0) {
                        (true, true) => "tasks and packages",
                        (true, false) => "tasks",
                        _ => "packages",
                    }
                ))
            }
            _ => {}
        }
    }
    steps
}

/// An http or https URL with a host, no credentials, no query.
/// The URL is never quoted back: a key pasted into it (a query's
/// `apikey=`, or the key instead of a URL) must not reach the terminal.
fn check_url(text: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("is not a URL ({e})"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err("must be an http:// or https:// URL".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Not quoted: it holds a secret.
        return Err(
            "must not carry a user name or password; the API key comes from api_key_env".into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment; the API key comes from api_key_env".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_names_what_the_target_cannot_do_and_its_disruptive_steps() {
        let t = parse_str(GOOD, Path::new(".")).unwrap();
        // Only the first pass: the scenario names the target's nodes, which
        // the embedded cluster's validation would not know.
        let s: Scenario = crate::scenario::parse_yaml(
            "name: x\nduration: 30s\nworkload:\n  - api: { rate: 10/s }\n  - tasks: { burst: 50 }\n  - upload: { size: 1GiB, via: octo1 }\n  - load: { users: 20, hold: 5s, mix: { ping: 1, task: 1 } }\nfaults:\n  - kill: { node: octo1, at: 5s, for: 5s }\n  - pause: { node: n2, at: 20s, for: 3s }\n  - drain: { node: all, at: 12s, for: 3s }\n",
        )
        .unwrap();
        let problems: Vec<String> = check_scenario(&t, &s)
            .iter()
            .map(|p| format!("{}:{} {}: {}", p.line, p.column, p.path, p.message))
            .collect();
        assert_eq!(
            problems,
            [
                "9:5 faults[0].kill: needs the `start` command of octo1, which the target prod does not give (nodes[].commands.start)",
            ]
        );
        assert_eq!(
            disruptive_steps(&s),
            [
                "faults[0]: kill of octo1 at 5s",
                "faults[1]: pause of n2 at 20s",
                "faults[2]: drain of all at 12s",
                "workload[1]: a burst of 50 tasks",
                "workload[2]: 1 upload(s) of 1GiB (over 100MiB)",
                "workload[3]: a load phase of 20 users creating tasks",
            ]
        );
    }

    #[test]
    fn a_database_outage_needs_the_target_s_database_commands() {
        let s: Scenario = crate::scenario::parse_yaml(
            "name: x\nduration: 30s\nfaults:\n  - database_outage: { at: 5s, for: 10s }\n",
        )
        .unwrap();
        let without = parse_str(GOOD, Path::new(".")).unwrap();
        let problems: Vec<String> = check_scenario(&without, &s)
            .iter()
            .map(|p| format!("{}:{} {}: {}", p.line, p.column, p.path, p.message))
            .collect();
        assert_eq!(
            problems,
            [
                "4:5 faults[0].database_outage: needs the target's database commands `database.outage` and `database.restore`, which the target prod does not give",
            ]
        );
        assert_eq!(
            disruptive_steps(&s),
            ["faults[0]: database_outage of the database at 5s"]
        );
        let with = parse_str(
            &format!("{GOOD}database:\n  outage: sql-off\n  restore: sql-on\n"),
            Path::new("."),
        )
        .unwrap();
        assert!(check_scenario(&with, &s).is_empty());
    }

    #[test]
    fn a_storage_outage_needs_the_node_s_storage_commands_and_unsharing_is_refused() {
        let s: Scenario = crate::scenario::parse_yaml(
            "name: x\nduration: 30s\nfaults:\n  - storage_outage: { node: octo1, at: 5s, for: 10s }\n  - storage_unshared: { node: octo1, at: 20s, for: 5s }\n",
        )
        .unwrap();
        let problems = |t: &TargetFile| -> Vec<String> {
            check_scenario(t, &s)
                .iter()
                .map(|p| format!("{}:{} {}: {}", p.line, p.column, p.path, p.message))
                .collect()
        };
        let without = parse_str(GOOD, Path::new(".")).unwrap();
        assert_eq!(
            problems(&without),
            [
                "4:5 faults[0].storage_outage: needs the `storage.outage` and `storage.restore` commands of octo1, which the target prod does not give (nodes[].storage)",
                "5:5 faults[1].storage_unshared: unshares a node's store, which only the embedded cluster can be made to do; the target prod cannot",
            ]
        );
        let with = parse_str(
            &format!(
                "{GOOD}    storage: {{ outage: 'umount -l /mnt/o', restore: 'mount /mnt/o' }}\n"
            ),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(problems(&with).len(), 1, "only the unsharing is left");
    }

    #[test]
    fn a_partition_needs_the_node_s_commands_for_its_side_and_the_embedded_cluster_refuses_it() {
        let s: Scenario = crate::scenario::parse_yaml(
            "name: x\nduration: 30s\nfaults:\n  - partition: { node: octo1, from: lb, at: 5s, for: 10s }\n  - partition: { node: octo1, from: tentacles, at: 20s, for: 5s }\n",
        )
        .unwrap();
        let located = |p: &[Problem]| -> Vec<String> {
            p.iter()
                .map(|p| format!("{}:{} {}: {}", p.line, p.column, p.path, p.message))
                .collect()
        };
        let without = parse_str(GOOD, Path::new(".")).unwrap();
        assert_eq!(
            located(&check_scenario(&without, &s)),
            [
                "4:5 faults[0].partition: needs the `partition.from_lb` and `partition.rejoin_lb` commands of octo1, which the target prod does not give (nodes[].partition)",
                "5:5 faults[1].partition: needs the `partition.from_tentacles` and `partition.rejoin_tentacles` commands of octo1, which the target prod does not give (nodes[].partition)",
            ]
        );
        // The LB's side given, the Tentacles' only half given.
        let some = parse_str(
            &format!(
                "{GOOD}    partition: {{ from_lb: 'cut lb', rejoin_lb: 'join lb', from_tentacles: 'cut t' }}\n"
            ),
            Path::new("."),
        )
        .unwrap();
        let left = located(&check_scenario(&some, &s));
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(left[0].starts_with("5:5 faults[1].partition"), "{left:?}");
        // An unknown command name is refused where it is written.
        let typo = parse_str(
            &format!("{GOOD}    partition: {{ from_lbb: 'x' }}\n"),
            Path::new("."),
        );
        assert!(typo.is_err());
        let embedded = located(&embedded_problems(&s));
        assert_eq!(embedded.len(), 2, "{embedded:?}");
        assert!(
            embedded[0].starts_with("4:5 faults[0].partition: cuts a node off the network, which the embedded cluster cannot"),
            "{embedded:?}"
        );
    }

    #[test]
    fn a_fleet_needs_every_node_s_polling_endpoint_and_no_lb_port() {
        let two = format!("{GOOD}  - name: octo2\n    url: https://octo2.example.com\n");
        let t = parse_str(&two, Path::new(".")).unwrap();
        let s: Scenario = crate::scenario::parse_yaml(
            "name: x\nduration: 30s\nworkload:\n  - fleet:\n      tentacles: 5\n      polls: lb\n",
        )
        .unwrap();
        let problems: Vec<String> = check_scenario(&t, &s)
            .iter()
            .map(|p| format!("{}:{} {}: {}", p.line, p.column, p.path, p.message))
            .collect();
        assert_eq!(
            problems,
            [
                "4:5 workload[0].fleet: needs the polling endpoint of octo2, which the target prod does not give (nodes[].polling)",
                "6:14 workload[0].fleet.polls: polls the LB's polling port, which the target prod does not give (a target lists each node's polling endpoint)",
            ]
        );
    }

    const GOOD: &str = "name: prod\nlb: https://octopus.example.com\napi_key_env: OCTOPUS_API_KEY\nnodes:\n  - name: octo1\n    url: https://octo1.example.com\n    polling: octo1.example.com:10943\n    commands: { kill: \"ssh octo1 sudo systemctl kill -s KILL octopusdeploy\" }\n";

    #[test]
    fn a_good_file_loads_with_defaults_and_system_trust() {
        let t = parse_str(GOOD, Path::new(".")).unwrap();
        assert_eq!(t.space.value, "Spaces-1");
        assert_eq!(t.trust(), Trust::System);
        assert_eq!(
            t.command_timeout.value.get(),
            std::time::Duration::from_secs(120)
        );
        assert!(t.nodes[0].value.commands.stop.is_none());
    }

    #[test]
    fn every_problem_is_located_and_a_key_is_never_echoed() {
        let text = "name: prod\nlb: ftp://x\napi_key_env: API-SECRETSECRETSECRET\ntls: { thumbprint: abc, insecure: true }\nnodes:\n  - { name: a, url: http://u:p@h/ }\n  - { name: a, url: http://h2/, polling: h2 }\n";
        let problems = parse_str(text, Path::new(".")).unwrap_err();
        let lines: Vec<String> = problems
            .iter()
            .map(|p| format!("{}:{} {}: {}", p.line, p.column, p.path, p.message))
            .collect();
        let all = lines.join("\n");
        assert!(!all.contains("SECRET"), "{all}");
        assert!(!all.contains("u:p"), "{all}");
        for want in [
            "2:5 lb:",
            "3:14 api_key_env:",
            "tls: give one of",
            "tls.thumbprint:",
            "nodes[0].url: must not carry",
            "nodes[1].name: \"a\" is listed twice",
            "nodes[1].polling:",
        ] {
            assert!(all.contains(want), "missing {want:?} in\n{all}");
        }
        // Keys in other places are not echoed either.
        for text in [
            "name: x\nlb: https://h/?apikey=API-SECRET1\napi_key_env: K\nnodes: [{ name: a, url: http://h/ }]\n",
            "name: x\nlb: API-SECRET2\napi_key_env: K\nnodes: [{ name: a, url: http://h/ }]\n",
            "name: x\nlb: http://h/\napi_key_env: ' api-SECRET3'\nnodes: [{ name: a, url: http://h/ }]\n",
            "name: x\nlb: http://h/\napi_key_env: SECRET-4\nnodes: [{ name: a, url: http://h/ }]\n",
        ] {
            let problems = parse_str(text, Path::new(".")).unwrap_err();
            let all = format!("{problems:?}");
            assert!(!all.contains("SECRET"), "{all}");
        }
        let unknown = parse_str(
            "name: x\nlb: http://h/\napi_key_env: K\nnodes: []\nextra: 1\n",
            Path::new("."),
        )
        .unwrap_err();
        assert_eq!(unknown[0].line, 5, "{unknown:?}");
    }
}
