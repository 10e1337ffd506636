//! `shared_storage`: each task's log, and each package the run uploaded,
//! reads the same, byte for byte, through every node, as Octopus HA's
//! shared store requires; after a storage fault too. Where one node reads
//! an item unlike the others, the detail names that node, and the fault
//! that moved its store if one did (docs/faults.md, "storage_unshared").

use serde_json::{Value, json};

use super::records::{LISTED, logged_records, plural, task_id};
use crate::check::verdict::Verdict;
use crate::history::{History, PackageReadKind, TaskLogRead, TaskRecord, TaskState};
use crate::scenario::SharedStorageCheck;
use crate::vocab::FaultKind;

pub(in crate::check) fn shared_storage(
    _c: &SharedStorageCheck,
    h: &History,
) -> (Verdict, String, Value) {
    let records = logged_records(h);
    let reads: usize = records.iter().map(|t| t.logs.len()).sum();
    if reads == 0 {
        return (
            Verdict::Unknown,
            "no task log was read; nothing to compare".into(),
            json!({ "tasks": records.len(), "reads": 0 }),
        );
    }
    // Every node the run booted, and any other a log was read through.
    let mut nodes = h.node_names();
    for t in &records {
        for l in &t.logs {
            if !nodes.contains(&l.via) {
                nodes.push(l.via.clone());
            }
        }
    }
    let mut found = LogReads::default();
    for t in &records {
        found.compare(t, &nodes);
    }
    let LogReads {
        mut differ,
        failed,
        unread,
        non_empty,
        lost,
    } = found;
    // A log every node reads empty is lost only where others are not.
    if non_empty > 0 {
        differ.extend(lost);
    }
    let (packages, packages_read) = packages_differ(h);
    differ.extend(packages);
    let differ: Vec<String> = differ
        .into_iter()
        .map(|d| d.line + &moved_store(h, d.node.as_deref()))
        .collect();
    let total = records.len();
    let evidence = json!({
        "tasks": total,
        "reads": reads,
        "nodes": nodes,
        "differ": differ.len(),
        "packages_compared": packages_read,
        "failed_reads": failed.len(),
        "unread": unread.len(),
        "non_empty": non_empty,
        "examples": differ.iter().chain(&failed).chain(&unread).take(LISTED).collect::<Vec<_>>(),
    });
    let mut breaches = Vec::new();
    if let Some(first) = differ.first() {
        breaches.push(format!(
            "{first} ({} of {total} tasks differ)",
            differ.len()
        ));
    }
    if let Some(first) = failed.first() {
        breaches.push(format!("{first} ({} failed reads)", failed.len()));
    }
    if !breaches.is_empty() {
        return (Verdict::Fail, breaches.join("; "), evidence);
    }
    if let Some(first) = unread.first() {
        let detail = format!(
            "{first} ({} of {total} tasks not read through every node); cannot tell",
            unread.len()
        );
        return (Verdict::Unknown, detail, evidence);
    }
    if non_empty == 0 {
        return (
            Verdict::Unknown,
            "every task log read empty; an empty log proves nothing is shared".into(),
            evidence,
        );
    }
    let detail = format!(
        "the logs of {}{} read the same through {}",
        plural(total, "task", "tasks"),
        if packages_read > 0 {
            format!(" and {}", plural(packages_read, "package", "packages"))
        } else {
            String::new()
        },
        plural(nodes.len(), "node", "nodes")
    );
    (Verdict::Pass, detail, evidence)
}

/// What comparing each task's log reads found, a line per problem.
#[derive(Default)]
struct LogReads {
    /// Logs that read differently through different nodes.
    differ: Vec<Differs>,
    /// Reads that failed.
    failed: Vec<String>,
    /// Logs not read through some node.
    unread: Vec<String>,
    /// Tasks whose log read with something in it.
    non_empty: usize,
    /// Tasks that succeeded, writing their marker, whose log every node
    /// reads empty: written where no node reads.
    lost: Vec<Differs>,
}

/// An item that does not read the same through every node, and the node
/// whose store it points at: the one that reads it unlike the others, or
/// else the one that ran the task.
struct Differs {
    line: String,
    node: Option<String>,
}

impl LogReads {
    /// Compares the reads of task `t`'s log through `nodes`.
    fn compare(&mut self, t: &TaskRecord<'_>, nodes: &[String]) {
        let id = task_id(t);
        let mut ok = Vec::new();
        for l in &t.logs {
            let good = l.error.is_none() && l.status.is_some_and(|s| (200..300).contains(&s));
            if good {
                ok.push(*l);
            } else {
                let why = match (l.status, &l.error) {
                    (Some(st), Some(e)) => format!("{st}, {e}"),
                    (Some(st), None) => st.to_string(),
                    (None, Some(e)) => e.clone(),
                    (None, None) => "no response".into(),
                };
                self.failed.push(format!(
                    "the log of {id} could not be read through {}: {why}",
                    l.via
                ));
            }
        }
        if ok.iter().any(|l| l.bytes > 0) {
            self.non_empty += 1;
        } else if !ok.is_empty() && t.end().is_some_and(|(s, _)| s == TaskState::Success) {
            let node = super::records::last_node(t);
            let ran = node.unwrap_or("its node");
            self.lost.push(Differs {
                line: format!(
                    "the log of {id} (run on {ran}) reads empty through every node although the task succeeded: what {ran} wrote went where no node reads"
                ),
                node: node.map(str::to_string),
            });
        }
        let same = ok
            .windows(2)
            .all(|p| p[0].bytes == p[1].bytes && p[0].sha1 == p[1].sha1);
        if !same {
            let node = super::records::last_node(t);
            let ran = node.map(|n| format!(" (run on {n})")).unwrap_or_default();
            let keys: Vec<(&str, (u64, Option<&str>))> = ok
                .iter()
                .map(|l| (l.via.as_str(), (l.bytes, l.sha1.as_deref())))
                .collect();
            let odd = odd_one_out(&keys);
            self.differ.push(Differs {
                line: format!(
                    "the log of {id}{ran} differs between nodes{}: {}",
                    unlike(odd),
                    differences(&ok)
                ),
                node: odd.or(node).map(str::to_string),
            });
        }
        let missing: Vec<&str> = nodes
            .iter()
            .filter(|n| !t.logs.iter().any(|l| &l.via == *n))
            .map(|n| n.as_str())
            .collect();
        if !missing.is_empty() {
            self.unread.push(format!(
                "the log of {id} was not read through {}",
                missing.join(", ")
            ));
        }
    }
}

/// How good reads of one log differ, read by read: by size where sizes
/// differ, which tells most differences, else by hash.
fn differences(ok: &[&TaskLogRead]) -> String {
    let bytes_differ = ok.windows(2).any(|p| p[0].bytes != p[1].bytes);
    let each: Vec<String> = ok
        .iter()
        .map(|l| {
            let hash = l.sha1.as_deref().unwrap_or("none");
            if bytes_differ {
                format!("{} {} bytes", l.via, l.bytes)
            } else {
                let short: String = hash.chars().take(8).collect();
                format!("{} sha1 {short}", l.via)
            }
        })
        .collect();
    each.join(", ")
}

/// The one node that reads an item unlike all the others, which agree:
/// that node's store is not the others'.
fn odd_one_out<'a, K: PartialEq>(reads: &[(&'a str, K)]) -> Option<&'a str> {
    if reads.len() < 3 {
        return None;
    }
    let odd: Vec<&str> = reads
        .iter()
        .filter(|(_, k)| reads.iter().filter(|(_, o)| o == k).count() == 1)
        .map(|(n, _)| *n)
        .collect();
    let rest_agree = reads
        .iter()
        .filter(|(n, _)| !odd.contains(n))
        .map(|(_, k)| k)
        .collect::<Vec<_>>()
        .windows(2)
        .all(|p| p[0] == p[1]);
    match odd.as_slice() {
        [one] if rest_agree => Some(one),
        _ => None,
    }
}

/// ", as read through n2 unlike every other node", where one does.
fn unlike(odd: Option<&str>) -> String {
    odd.map(|n| format!(", as read through {n} unlike every other node"))
        .unwrap_or_default()
}

/// What a node served of a package: its size and SHA-1, or nothing.
type Served<'a> = (Option<u64>, Option<&'a str>);

/// Each package the run uploaded, as downloaded from each node directly:
/// the lines of those that differ, and how many were compared.
fn packages_differ(h: &History) -> (Vec<Differs>, usize) {
    let mut by_id: std::collections::BTreeMap<&str, Vec<(&str, Served<'_>)>> =
        std::collections::BTreeMap::new();
    for r in h
        .package_reads()
        .filter(|r| r.kind == PackageReadKind::Download && r.via != crate::history::LB_NAME)
    {
        let got = if r.status.is_some_and(|s| (200..300).contains(&s)) {
            (r.size, r.sha1.as_deref())
        } else {
            (None, None)
        };
        let reads = by_id.entry(r.id.as_str()).or_default();
        // The last read through each node is what it serves.
        reads.retain(|(via, _)| *via != r.via.as_str());
        reads.push((r.via.as_str(), got));
    }
    let compared = by_id.len();
    let differ = by_id
        .into_iter()
        .filter(|(_, reads)| reads.windows(2).any(|p| p[0].1 != p[1].1))
        .map(|(id, reads)| {
            let each: Vec<String> = reads
                .iter()
                .map(|(via, (size, _))| match size {
                    Some(s) => format!("{via} {s} bytes"),
                    None => format!("{via} nothing"),
                })
                .collect();
            let odd = odd_one_out(&reads);
            Differs {
                line: format!(
                    "package {id} differs between nodes{}: {}",
                    unlike(odd),
                    each.join(", ")
                ),
                node: odd.map(str::to_string),
            }
        })
        .collect();
    (differ, compared)
}

/// "; n2's store was moved by storage_unshared-n2 from 5.0s to 20.0s" when
/// a fault on `node`'s store explains an item that differs; else the
/// usual cause of a node that writes where the others do not read.
fn moved_store(h: &History, node: Option<&str>) -> String {
    let fault = node.and_then(|node| {
        h.fault_windows().into_iter().find(|w| {
            matches!(
                w.kind,
                FaultKind::StorageUnshared | FaultKind::StorageOutage
            ) && w.nodes.iter().any(|n| n == node)
        })
    });
    match fault {
        Some(w) => format!(
            "; {}'s store was moved by {} from {} to {}",
            w.nodes.join(", "),
            w.name,
            crate::check::verdict::secs(w.start_us),
            crate::check::verdict::secs(w.end_us)
        ),
        None => "; the usual cause: a node whose share is not mapped for its service account (or maps another) writes to a folder of its own".to_string(),
    }
}
