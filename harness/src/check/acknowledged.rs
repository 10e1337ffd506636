//! `no_acknowledged_loss`: what the cluster acknowledged (a 2xx to an
//! upload, a 201 to a task), before, during or after a fault, is there
//! afterwards and intact; what it refused left nothing partial
//! (docs/faults.md, "The checks"). The evidence is the run's own reads:
//! each package read back after its upload, and found (or not) by the
//! run's first delete or look after it was acknowledged; each task read
//! back by its ID.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::verdict::{Verdict, secs, worst};
use crate::history::{Event, History, PackageRead, UploadAttempt, UploadPurpose};

/// What the run last learnt of a package at its end: there, gone, or
/// nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Afterwards {
    There,
    Gone,
    NotLooked,
}

pub(super) fn judge(h: &History) -> (Verdict, String, Value) {
    let mut outcomes = Vec::new();
    let mut evidence = Vec::new();
    for (id, attempts) in packages(h) {
        let (verdict, detail, e) = package(h, &id, &attempts);
        outcomes.push((verdict, detail));
        evidence.push(e);
    }
    let (tasks, unread) = tasks(h);
    if let Some(first) = unread.first() {
        outcomes.push((
            Verdict::Unknown,
            format!(
                "{first} was acknowledged but never read back, so whether it is there cannot be told ({} such)",
                unread.len()
            ),
        ));
    }
    if outcomes.is_empty() {
        return (
            Verdict::Unknown,
            "nothing was uploaded or submitted".into(),
            json!({ "packages": [], "tasks": 0 }),
        );
    }
    let (verdict, mut detail) = worst(&outcomes);
    if verdict == Verdict::Pass {
        let packages = evidence
            .iter()
            .filter(|e| e["acknowledged"] == true)
            .count();
        detail = format!(
            "every acknowledged write is there afterwards: {} intact, {} read back; nothing refused was left partial",
            plural(packages, "package"),
            plural(tasks, "task"),
        );
    }
    (
        verdict,
        detail,
        json!({ "packages": evidence, "tasks": tasks, "tasks_never_read": unread.len() }),
    )
}

/// "1 package", "2 packages".
fn plural(n: usize, one: &str) -> String {
    format!("{n} {one}{}", if n == 1 { "" } else { "s" })
}

/// The upload workload's attempts, by package.
fn packages(h: &History) -> BTreeMap<String, Vec<&UploadAttempt>> {
    let mut by_id: BTreeMap<String, Vec<&UploadAttempt>> = BTreeMap::new();
    for u in h.uploads().filter(|u| u.purpose == UploadPurpose::Workload) {
        by_id.entry(u.id.clone()).or_default().push(u);
    }
    by_id
}

/// One package: acknowledged, it must be there at the end and read back
/// as sent; refused, it must not be there in part.
fn package(h: &History, id: &str, attempts: &[&UploadAttempt]) -> (Verdict, String, Value) {
    let acknowledged = attempts
        .iter()
        .find(|u| u.status.is_some_and(|s| (200..300).contains(&s)));
    let reads: Vec<&PackageRead> = h.package_reads().filter(|r| r.id == id).collect();
    let wrong = reads
        .iter()
        .find(|r| matches!((&r.sha1, &r.expected), (Some(got), Some(want)) if !got.eq_ignore_ascii_case(want)));
    let afterwards = afterwards(h, id, acknowledged.map_or(0, |a| a.done_us));
    let evidence = json!({
        "id": id,
        "acknowledged": acknowledged.is_some(),
        "afterwards": match afterwards {
            Afterwards::There => "there",
            Afterwards::Gone => "gone",
            Afterwards::NotLooked => "not looked for",
        },
        "reads": reads.len(),
    });
    if let Some(r) = wrong {
        let how = if acknowledged.is_some() {
            "acknowledged"
        } else {
            "refused"
        };
        return (
            Verdict::Fail,
            format!(
                "{id}, {how}, reads back through {} with a SHA-1 other than the bytes sent ({} bytes): a package stored in part",
                r.via,
                r.size.map_or_else(|| "?".to_string(), |s| s.to_string())
            ),
            evidence,
        );
    }
    let Some(ack) = acknowledged else {
        return (Verdict::Pass, String::new(), evidence);
    };
    match afterwards {
        Afterwards::There => (Verdict::Pass, String::new(), evidence),
        Afterwards::Gone => (
            Verdict::Fail,
            format!(
                "{id} was acknowledged ({} at {} through {}) but is not there at the run's end: its record was lost; the usual cause is a node that answers an upload before it has committed its record, which a database lost meanwhile loses",
                ack.status.unwrap_or(0),
                secs(ack.done_us),
                ack.via
            ),
            evidence,
        ),
        Afterwards::NotLooked => (
            Verdict::Unknown,
            format!("{id} was acknowledged, but the run never looked for it at its end"),
            evidence,
        ),
    }
}

/// What the run's first delete or look for a package after `from_us`
/// found: there (to delete), or gone. The run deletes its packages once it
/// has read them back, and looks again at its end; only the first of
/// these after the acknowledgment says whether the package was kept.
fn afterwards(h: &History, id: &str, from_us: u64) -> Afterwards {
    h.events
        .iter()
        .find_map(|e| match e {
            Event::PackageDeleted {
                at_us,
                id: i,
                deleted,
                error: None,
            } if i == id && *at_us >= from_us => Some(if *deleted {
                Afterwards::There
            } else {
                Afterwards::Gone
            }),
            Event::PackageLook {
                at_us,
                id: i,
                present: Some(present),
                ..
            } if i == id && *at_us >= from_us => Some(if *present {
                Afterwards::There
            } else {
                Afterwards::Gone
            }),
            _ => None,
        })
        .unwrap_or(Afterwards::NotLooked)
}

/// The acknowledged tasks read back by their ID, and those never read.
fn tasks(h: &History) -> (usize, Vec<String>) {
    let mut read = 0;
    let mut unread = Vec::new();
    for t in h.task_records() {
        if t.seen.is_empty() {
            unread.push(t.submit.id.clone().unwrap_or_default());
        } else {
            read += 1;
        }
    }
    (read, unread)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{PackageReadKind, Phase};
    use crate::vocab::{OverwriteMode, UploadClass};

    fn attempt(status: u16) -> Event {
        Event::Upload(UploadAttempt {
            purpose: UploadPurpose::Workload,
            seq: 0,
            attempt: 0,
            file: "P.1.0.0.zip".into(),
            id: "packages-P.1.0.0".into(),
            via: "n2".into(),
            size: 10,
            overwrite_mode: OverwriteMode::FailIfExists,
            sent_us: 1_000_000,
            last_byte_us: Some(2_000_000),
            done_us: 2_000_000,
            bytes_sent: 10,
            class: if status == 201 {
                UploadClass::Accepted
            } else {
                UploadClass::Other
            },
            status: Some(status),
            error: None,
            sha1: Some("aa".into()),
            server_hash: None,
            mib_s: None,
            server: None,
            content_type: None,
            body_kind: None,
        })
    }

    fn deleted(deleted: bool) -> Event {
        Event::PackageDeleted {
            at_us: 20_000_000,
            id: "packages-P.1.0.0".into(),
            deleted,
            error: None,
        }
    }

    fn read(sha1: &str) -> Event {
        Event::PackageRead(PackageRead {
            at_us: 3_000_000,
            seq: 0,
            id: "packages-P.1.0.0".into(),
            via: "n1".into(),
            kind: PackageReadKind::Download,
            status: Some(200),
            size: Some(4),
            sha1: Some(sha1.into()),
            expected: Some("aa".into()),
            error: None,
        })
    }

    fn judged(events: Vec<Event>) -> (Verdict, String) {
        let mut all = vec![Event::Phase {
            at_us: 0,
            phase: Phase::Workload,
        }];
        all.extend(events);
        let (v, d, _) = judge(&History { events: all });
        (v, d)
    }

    #[test]
    fn an_acknowledged_package_must_be_there_at_the_end_and_read_back_whole() {
        let (v, d) = judged(vec![attempt(201), read("aa"), deleted(true)]);
        assert_eq!(v, Verdict::Pass, "{d}");
        // The run's own delete found it; the look at the end finds nothing.
        let end = Event::PackageLook {
            at_us: 30_000_000,
            id: "packages-P.1.0.0".into(),
            present: Some(false),
            error: None,
            landing_watched: false,
        };
        let (v, d) = judged(vec![attempt(201), deleted(true), end]);
        assert_eq!(v, Verdict::Pass, "{d}");
        let (v, d) = judged(vec![attempt(201), deleted(false)]);
        assert_eq!(v, Verdict::Fail);
        assert!(
            d.contains("was acknowledged (201 at 2.0s through n2) but is not there"),
            "{d}"
        );
        assert!(d.contains("before it has committed"), "{d}");
        let (v, d) = judged(vec![attempt(201), read("bb"), deleted(true)]);
        assert_eq!(v, Verdict::Fail);
        assert!(d.contains("stored in part"), "{d}");
        let (v, d) = judged(vec![attempt(201)]);
        assert_eq!(v, Verdict::Unknown, "{d}");
    }

    #[test]
    fn a_refused_package_may_be_gone_but_never_there_in_part() {
        let (v, d) = judged(vec![attempt(500), deleted(false)]);
        assert_eq!(v, Verdict::Pass, "{d}");
        let (v, d) = judged(vec![attempt(500), read("bb"), deleted(true)]);
        assert_eq!(v, Verdict::Fail);
        assert!(d.contains("refused") && d.contains("stored in part"), "{d}");
        let (v, _) = judged(vec![]);
        assert_eq!(v, Verdict::Unknown);
    }
}
