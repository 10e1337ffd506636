//! `shared_storage`: each task's log reads the same, byte for byte, through
//! every node, as Octopus HA's shared task log folder requires.

use serde_json::{Value, json};

use super::records::{LISTED, logged_records, plural, task_id};
use crate::check::verdict::Verdict;
use crate::history::{History, TaskLogRead, TaskRecord};
use crate::scenario::SharedStorageCheck;

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
        differ,
        failed,
        unread,
        non_empty,
    } = found;
    let total = records.len();
    let evidence = json!({
        "tasks": total,
        "reads": reads,
        "nodes": nodes,
        "differ": differ.len(),
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
        "the logs of {} read the same through {}",
        plural(total, "task", "tasks"),
        plural(nodes.len(), "node", "nodes")
    );
    (Verdict::Pass, detail, evidence)
}

/// What comparing each task's log reads found, a line per problem.
#[derive(Default)]
struct LogReads {
    /// Logs that read differently through different nodes.
    differ: Vec<String>,
    /// Reads that failed.
    failed: Vec<String>,
    /// Logs not read through some node.
    unread: Vec<String>,
    /// Tasks whose log read with something in it.
    non_empty: usize,
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
        }
        let same = ok
            .windows(2)
            .all(|p| p[0].bytes == p[1].bytes && p[0].sha1 == p[1].sha1);
        if !same {
            self.differ.push(format!(
                "the log of {id} differs between nodes: {}",
                differences(&ok)
            ));
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
