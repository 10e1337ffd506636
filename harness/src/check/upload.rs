//! Upload checks.
//!
//! - `upload_intact`: every upload ended in success (accepted, or found
//!   intact by the retry policy after a timeout or reset), the package's
//!   resource gives the size and `Hash` of the bytes sent, and a download
//!   from every node directly gives those bytes (same length, same SHA-1).
//!   A failed upload's detail names the status or timeout that broke it.
//! - `upload_throughput`: every accepted attempt went at least as fast as
//!   the floor, in MiB/s from its start to its last byte.
//! - `ladder_reaches`: the body-limit ladder got a package of at least a
//!   size through; otherwise the detail gives the largest size accepted,
//!   the smallest refused, how it was refused, and the likely culprit.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Verdict;
use crate::history::{History, PackageRead, PackageReadKind, UploadAttempt, UploadPurpose};
use crate::scenario::{LadderReaches, UploadThroughput};
use crate::upload::UploadClass;

const MIB: f64 = 1024.0 * 1024.0;

/// Everything about one upload.
#[derive(Default)]
struct Upload<'a> {
    attempts: Vec<&'a UploadAttempt>,
    reads: Vec<&'a PackageRead>,
}

impl Upload<'_> {
    /// The SHA-1 the package must have, if the history knows it.
    fn expected(&self) -> Option<&str> {
        self.attempts
            .iter()
            .find_map(|a| a.sha1.as_deref())
            .or_else(|| self.reads.iter().find_map(|r| r.expected.as_deref()))
    }

    /// Accepted, or found intact after a failure.
    fn arrived(&self) -> Option<&'static str> {
        if self
            .attempts
            .iter()
            .any(|a| a.class == UploadClass::Accepted)
        {
            return Some("accepted");
        }
        let want = self.expected()?;
        let size = self.attempts.first()?.size;
        self.reads
            .iter()
            .any(|r| {
                r.kind == PackageReadKind::AfterFailure
                    && r.sha1.as_deref() == Some(want)
                    && r.size == Some(size)
            })
            .then_some("found intact after a failure")
    }
}

fn uploads(h: &History) -> BTreeMap<u64, Upload<'_>> {
    let mut by_seq: BTreeMap<u64, Upload<'_>> = BTreeMap::new();
    for a in h.uploads().filter(|a| a.purpose == UploadPurpose::Workload) {
        by_seq.entry(a.seq).or_default().attempts.push(a);
    }
    for r in h.package_reads() {
        if let Some(u) = by_seq.get_mut(&r.seq) {
            u.reads.push(r);
        }
    }
    by_seq
}

fn gib(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

/// How an attempt ended, in words: the status or the timeout.
fn how(a: &UploadAttempt) -> String {
    let what = match (a.status, &a.error) {
        (Some(_), Some(e)) if e.starts_with("status") => e.clone(),
        (Some(s), _) => format!("status {s}"),
        (None, Some(e)) => e.clone(),
        (None, None) => "no answer".into(),
    };
    let took = a.done_us.saturating_sub(a.sent_us) as f64 / 1e6;
    let class = match a.class {
        UploadClass::Accepted => "accepted",
        UploadClass::Exists => "already exists",
        UploadClass::TooLarge => "rejected as too large",
        UploadClass::TimedOut => "timed out",
        UploadClass::Reset => "connection reset",
        UploadClass::Other => "failed",
    };
    format!(
        "{class} ({what}) after {took:.1}s with {} sent",
        gib(a.bytes_sent)
    )
}

pub(super) fn intact(h: &History) -> (Verdict, String, Value) {
    let all = uploads(h);
    if all.is_empty() {
        return (
            Verdict::Unknown,
            "no upload was attempted".into(),
            json!({ "uploads": 0 }),
        );
    }
    let mut failures: Vec<String> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut evidence = Vec::new();
    for (seq, u) in &all {
        let Some(first) = u.attempts.first() else {
            continue;
        };
        let last = u.attempts.last().copied().unwrap_or(first);
        let label = format!("upload {seq} ({}, {})", first.file, gib(first.size));
        let Some(arrived) = u.arrived() else {
            failures.push(format!(
                "{label} failed: {} (attempt {} of {})",
                how(last),
                last.attempt + 1,
                u.attempts.len()
            ));
            evidence.push(json!({ "seq": seq, "file": first.file, "arrived": false,
                "attempts": u.attempts.len(), "last_class": last.class, "last_status": last.status,
                "last_error": last.error }));
            continue;
        };
        let Some(want) = u.expected() else {
            unknown.push(format!("{label}: the SHA-1 of what was sent is not known"));
            continue;
        };
        let meta: Vec<&&PackageRead> = u
            .reads
            .iter()
            .filter(|r| r.kind == PackageReadKind::Metadata)
            .collect();
        let downloads: Vec<&&PackageRead> = u
            .reads
            .iter()
            .filter(|r| r.kind == PackageReadKind::Download)
            .collect();
        let mut bad = Vec::new();
        for r in &meta {
            if r.sha1.as_deref() != Some(want) || r.size != Some(first.size) {
                bad.push(format!(
                    "its resource through {} says {} bytes, Hash {} (want {} bytes, {})",
                    r.via,
                    r.size.map_or("no".into(), |s| s.to_string()),
                    r.sha1.as_deref().unwrap_or("none"),
                    first.size,
                    want
                ));
            }
        }
        for r in &downloads {
            if r.sha1.as_deref() != Some(want) || r.size != Some(first.size) {
                let got = match (&r.error, r.size) {
                    (Some(e), _) => e.clone(),
                    (None, Some(s)) => format!("{s} bytes with another SHA-1"),
                    (None, None) => "nothing".into(),
                };
                bad.push(format!("a download from {} gave {got}", r.via));
            }
        }
        if meta.is_empty() || downloads.is_empty() {
            unknown.push(format!("{label} was not read back"));
        }
        if !bad.is_empty() {
            failures.push(format!("{label} {arrived}, but {}", bad.join("; ")));
        }
        evidence.push(json!({
            "seq": seq,
            "file": first.file,
            "size": first.size,
            "sha1": want,
            "arrived": arrived,
            "attempts": u.attempts.len(),
            "read_back_through": downloads.iter().map(|r| r.via.clone()).collect::<Vec<_>>(),
            "mismatches": bad,
        }));
    }
    let evidence = json!({ "uploads": evidence });
    if !failures.is_empty() {
        let more = if failures.len() > 1 {
            format!(" (and {} more)", failures.len() - 1)
        } else {
            String::new()
        };
        return (Verdict::Fail, format!("{}{more}", failures[0]), evidence);
    }
    if !unknown.is_empty() {
        return (Verdict::Unknown, unknown[0].clone(), evidence);
    }
    let nodes = all
        .values()
        .flat_map(|u| u.reads.iter())
        .filter(|r| r.kind == PackageReadKind::Download)
        .map(|r| r.via.as_str())
        .collect::<std::collections::BTreeSet<_>>();
    (
        Verdict::Pass,
        format!(
            "{} upload{} arrived, and each reads back byte for byte through {} ({})",
            all.len(),
            if all.len() == 1 { "" } else { "s" },
            if nodes.len() == 1 {
                "1 node".to_string()
            } else {
                format!("{} nodes", nodes.len())
            },
            nodes.into_iter().collect::<Vec<_>>().join(", ")
        ),
        evidence,
    )
}

pub(super) fn throughput(c: &UploadThroughput, h: &History) -> (Verdict, String, Value) {
    let floor = c.at_least.bytes_per_sec() / MIB;
    let mut speeds: Vec<(f64, &UploadAttempt)> = h
        .uploads()
        .filter(|a| a.class == UploadClass::Accepted && a.purpose == UploadPurpose::Workload)
        .filter_map(|a| a.mib_s.map(|m| (m, a)))
        .collect();
    if speeds.is_empty() {
        return (
            Verdict::Unknown,
            "no upload was accepted; nothing to time".into(),
            json!({ "floor_mib_s": floor }),
        );
    }
    speeds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (slowest, which) = speeds[0];
    let median = speeds[speeds.len() / 2].0;
    let evidence = json!({
        "floor_mib_s": floor,
        "slowest_mib_s": slowest,
        "median_mib_s": median,
        "fastest_mib_s": speeds[speeds.len() - 1].0,
        "accepted": speeds.len(),
    });
    if slowest < floor {
        return (
            Verdict::Fail,
            format!(
                "{} went at {slowest:.1} MiB/s, under the floor of {floor:.1} MiB/s",
                which.file
            ),
            evidence,
        );
    }
    (
        Verdict::Pass,
        format!(
            "{} accepted upload{} at {slowest:.1} MiB/s or faster (median {median:.1}); floor {floor:.1} MiB/s",
            speeds.len(),
            if speeds.len() == 1 { "" } else { "s" }
        ),
        evidence,
    )
}

pub(super) fn ladder(c: &LadderReaches, h: &History) -> (Verdict, String, Value) {
    let steps: Vec<&UploadAttempt> = h
        .uploads()
        .filter(|a| a.purpose == UploadPurpose::Ladder)
        .collect();
    if steps.is_empty() {
        return (
            Verdict::Unknown,
            "the ladder made no upload".into(),
            json!({ "steps": [] }),
        );
    }
    let accepted = steps
        .iter()
        .filter(|a| a.class == UploadClass::Accepted)
        .map(|a| a.size)
        .max();
    let refused = steps.iter().find(|a| a.class != UploadClass::Accepted);
    let evidence = json!({
        "target_bytes": c.size.bytes(),
        "largest_accepted": accepted,
        "smallest_refused": refused.map(|r| r.size),
        "refused_with": refused.map(|r| (r.class, r.status, r.error.clone())),
        "steps": steps.iter().map(|a| json!({
            "size": a.size, "class": a.class, "status": a.status, "mib_s": a.mib_s,
        })).collect::<Vec<_>>(),
    });
    let largest = accepted.map_or("nothing".to_string(), gib);
    if accepted.is_some_and(|a| a >= c.size.bytes()) {
        return (
            Verdict::Pass,
            format!(
                "the LB took every size up to {largest} (target {})",
                gib(c.size.bytes())
            ),
            evidence,
        );
    }
    let Some(r) = refused else {
        return (
            Verdict::Fail,
            format!(
                "the ladder stopped at {largest}, under the target {}: its ceiling is too low",
                gib(c.size.bytes())
            ),
            evidence,
        );
    };
    let took = match accepted {
        Some(_) => format!(
            "the LB accepted up to {largest} and refused {}",
            gib(r.size)
        ),
        None => format!("the LB refused the first size, {}", gib(r.size)),
    };
    let detail = format!("{took}: {}{}", how(r), hint(r, accepted.unwrap_or(0)));
    (Verdict::Fail, detail, evidence)
}

/// The likely source of a refusal, from the documented defaults
/// (tooling.md §2a).
fn hint(r: &UploadAttempt, accepted: u64) -> String {
    let between = |lo: u64| accepted < lo && lo <= r.size;
    let text = match (r.class, r.status) {
        (UploadClass::TooLarge, Some(413)) if between(1 << 20) => {
            "nginx's default client_max_body_size (1m), or ingress-nginx's proxy-body-size?"
        }
        (UploadClass::TooLarge, Some(404)) if between(30_000_000) => {
            "IIS request filtering's maxAllowedContentLength (30,000,000 bytes)?"
        }
        (UploadClass::TooLarge, _) if between(100_000_000) => {
            "an Azure Application Gateway WAF file-upload limit (100 MB)?"
        }
        (UploadClass::TooLarge, _) => "a request body limit on the way",
        (UploadClass::TimedOut, _) => {
            "a timeout on the way: an idle timeout (AWS ALB 60s) or a response timeout (GCP 30s, nginx proxy_read_timeout 60s)?"
        }
        (UploadClass::Reset, _) => "a connection cut on the way (a proxy limit or a dying node)",
        _ => return String::new(),
    };
    format!(". Hint: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, UploadAttempt};
    use crate::upload::OverwriteMode;

    fn step(seq: u64, size: u64, class: UploadClass, status: Option<u16>) -> Event {
        Event::Upload(UploadAttempt {
            purpose: UploadPurpose::Ladder,
            seq,
            attempt: 0,
            file: format!("HarnessProbe.0.{seq}.0.zip"),
            id: format!("packages-HarnessProbe.0.{seq}.0"),
            via: "lb".into(),
            size,
            overwrite_mode: OverwriteMode::FailIfExists,
            sent_us: 0,
            last_byte_us: Some(1000),
            done_us: 2000,
            bytes_sent: size,
            class,
            status,
            error: None,
            sha1: None,
            server_hash: None,
            mib_s: Some(100.0),
            server: None,
            content_type: None,
            body_kind: None,
        })
    }

    fn judged(check: &str, events: Vec<Event>) -> (Verdict, String) {
        let s = crate::scenario::parse_str(&format!(
            "name: t\nduration: 10s\nworkload:\n  - body_limit_ladder: {{ to: 64MiB }}\nchecks:\n  - {check}\n"
        ))
        .unwrap();
        let r = crate::check::judge(&s.checks[0].value, &History { events });
        (r.verdict, r.detail)
    }

    #[test]
    fn the_ladder_passes_at_its_target_and_names_the_limit_below_it() {
        const MIB: u64 = 1 << 20;
        let ok = vec![
            step(0, MIB, UploadClass::Accepted, Some(201)),
            step(1, 64 * MIB, UploadClass::Accepted, Some(201)),
        ];
        let (v, d) = judged("ladder_reaches: { size: 64MiB }", ok);
        assert_eq!(v, Verdict::Pass, "{d}");
        let iis = vec![
            step(0, 16 * MIB, UploadClass::Accepted, Some(201)),
            step(1, 32 * MIB, UploadClass::TooLarge, Some(404)),
        ];
        let (v, d) = judged("ladder_reaches: { size: 64MiB }", iis);
        assert_eq!(v, Verdict::Fail);
        assert!(
            d.contains("accepted up to 16.0 MiB and refused 32.0 MiB"),
            "{d}"
        );
        assert!(d.contains("maxAllowedContentLength"), "{d}");
        let (v, _) = judged("ladder_reaches: { size: 64MiB }", Vec::new());
        assert_eq!(v, Verdict::Unknown);
        // A ceiling under the target cannot pass.
        let short = vec![step(0, MIB, UploadClass::Accepted, Some(201))];
        let (v, d) = judged("ladder_reaches: { size: 64MiB }", short);
        assert_eq!(v, Verdict::Fail);
        assert!(d.contains("ceiling is too low"), "{d}");
    }

    #[test]
    fn throughput_judges_the_slowest_accepted_upload() {
        let upload = |seq, class, mib_s| {
            let Event::Upload(mut a) = step(seq, 1 << 20, class, Some(201)) else {
                unreachable!()
            };
            a.purpose = UploadPurpose::Workload;
            a.mib_s = Some(mib_s);
            Event::Upload(a)
        };
        let yaml = |floor: &str| {
            crate::scenario::parse_str(&format!(
                "name: t\nduration: 10s\nworkload:\n  - upload: {{ size: 1MiB }}\nchecks:\n  - upload_throughput: {{ at_least: {floor} }}\n"
            ))
            .unwrap()
        };
        let events = vec![
            upload(0, UploadClass::Accepted, 80.0),
            upload(1, UploadClass::Accepted, 20.0),
            // A refused upload's speed does not count.
            upload(2, UploadClass::TooLarge, 1.0),
        ];
        let h = History { events };
        let pass = crate::check::judge(&yaml("10MiB/s").checks[0].value, &h);
        assert_eq!(pass.verdict, Verdict::Pass, "{}", pass.detail);
        let fail = crate::check::judge(&yaml("50MiB/s").checks[0].value, &h);
        assert_eq!(fail.verdict, Verdict::Fail);
        assert!(
            fail.detail.contains("20.0 MiB/s, under the floor"),
            "{}",
            fail.detail
        );
        let none = crate::check::judge(&yaml("1MiB/s").checks[0].value, &History::default());
        assert_eq!(none.verdict, Verdict::Unknown);
    }

    #[test]
    fn ladder_sizes_double_up_to_the_ceiling() {
        assert_eq!(
            crate::runner::ladder_sizes(1 << 20, 5 << 20),
            vec![1 << 20, 2 << 20, 4 << 20, 5 << 20]
        );
        assert_eq!(crate::runner::ladder_sizes(8, 8), vec![8]);
    }
}
