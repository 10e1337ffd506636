//! Upload checks.
//!
//! - `upload_intact`: every upload ended in success (accepted, or found
//!   intact by the retry policy after a timeout or reset), the package's
//!   resource gives the size and `Hash` of the bytes sent, and a download
//!   from every node directly gives those bytes (same length, same SHA-1).
//!   A failed upload's detail names the status or timeout that broke it.
//!   An upload in flight when the run stopped (its attempt cut by the
//!   harness, or its end never recorded) is unknown, not failed.
//! - `upload_answered`: every attempt was answered with success, as a
//!   client such as `octo push` sees it: an error status or a cut
//!   connection fails it, even when a later attempt or a read-back shows
//!   the bytes arrived (that is `upload_intact`'s verdict, not this one).
//!   The detail names the status, how long after the last byte it came,
//!   who answered (a node's JSON error, or an LB's page, from its body and
//!   `Server` header) and the LB setting that usually causes it. A failure
//!   an injected fault explains (a cut, no answer, a 502 or 503 while a
//!   node is down, a 504 while one is frozen, ending while the fault was in
//!   effect) is left to `upload_intact`, as is an attempt the harness cut
//!   itself as a stopped run ended; when nothing else is left the verdict
//!   is unknown. Judged on every run with an upload workload, declared or
//!   not.
//! - `upload_throughput`: every attempt that sent its last byte went at
//!   least as fast as the floor, in MiB/s from its start to its last byte,
//!   whatever the answer: a failed answer is said, and is
//!   `upload_answered`'s to judge. A refusal (413, 409) does not count: it
//!   says nothing of the way to a node that stores the package.
//! - `ladder_reaches`: the body-limit ladder got a package of at least a
//!   size through; otherwise the detail gives the largest size accepted,
//!   the smallest refused, how it was refused, and the likely culprit.

use serde_json::{Value, json};

use super::verdict::Verdict;
use crate::history::{History, PackageRead, PackageReadKind, UploadAttempt, UploadPurpose};
use crate::scenario::{LadderReaches, UploadThroughput};
use crate::upload::UploadClass;

mod answered;
mod record;

pub(super) use answered::answered;

use record::{MIB, Upload, class_word, gib, uploads};

/// Why an upload that did not arrive cannot be called failed: the run
/// stopped while it was in flight, so its end was the harness's doing, or
/// never recorded (docs/robustness.md, "Interrupted runs").
fn in_flight_at_stop(label: &str, u: &Upload<'_>) -> Option<String> {
    if let Some(open) = u.in_flight.last() {
        return Some(format!(
            "{label} was in flight when the run ended: attempt {} started at {:.1}s and its end was never recorded; cannot tell whether it arrived",
            open.attempt + 1,
            open.sent_us as f64 / 1e6
        ));
    }
    let last = u.attempts.last()?;
    let cut = last
        .error
        .as_deref()
        .filter(|e| e.starts_with(crate::upload::STOPPED_BY_HARNESS))?;
    Some(format!(
        "{label} was in flight when the run was stopped (attempt {}: {cut}); cannot tell whether it arrived",
        last.attempt + 1
    ))
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
    let mut found = Intact::default();
    for (seq, u) in &all {
        found.judge(*seq, u);
    }
    let Intact {
        failures,
        unknown,
        evidence,
    } = found;
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

/// What `upload_intact` found, upload by upload.
#[derive(Default)]
struct Intact {
    failures: Vec<String>,
    /// Why an upload cannot be judged.
    unknown: Vec<String>,
    evidence: Vec<Value>,
}

impl Intact {
    /// One upload: it arrived, and its resource and every download give
    /// the bytes sent.
    fn judge(&mut self, seq: u64, u: &Upload<'_>) {
        let Some(first) = u.attempts.first() else {
            // Only started: its one attempt's end is not in the history.
            if let Some(open) = u.in_flight.first() {
                let label = format!("upload {seq} ({}, {})", open.file, gib(open.size));
                self.unknown.extend(in_flight_at_stop(&label, u));
                self.evidence
                    .push(json!({ "seq": seq, "file": open.file, "arrived": null,
                    "attempts": u.in_flight.len(), "in_flight": true }));
            }
            return;
        };
        let last = u.attempts.last().copied().unwrap_or(first);
        let label = format!("upload {seq} ({}, {})", first.file, gib(first.size));
        let arrived = u.arrived();
        if arrived.is_none()
            && let Some(why) = in_flight_at_stop(&label, u)
        {
            self.unknown.push(why);
            self.evidence
                .push(json!({ "seq": seq, "file": first.file, "arrived": null,
                "attempts": u.attempts.len() + u.in_flight.len(), "in_flight": true }));
            return;
        }
        let Some(arrived) = arrived else {
            self.failures.push(format!(
                "{label} failed: {} (attempt {} of {})",
                how(last),
                last.attempt + 1,
                u.attempts.len()
            ));
            self.evidence
                .push(json!({ "seq": seq, "file": first.file, "arrived": false,
                "attempts": u.attempts.len(), "last_class": last.class, "last_status": last.status,
                "last_error": last.error }));
            return;
        };
        let Some(want) = u.expected() else {
            self.unknown
                .push(format!("{label}: the SHA-1 of what was sent is not known"));
            return;
        };
        let meta: Vec<&PackageRead> = u
            .reads
            .iter()
            .copied()
            .filter(|r| r.kind == PackageReadKind::Metadata)
            .collect();
        let downloads: Vec<&PackageRead> = u
            .reads
            .iter()
            .copied()
            .filter(|r| r.kind == PackageReadKind::Download)
            .collect();
        let bad = mismatches(&meta, &downloads, want, first.size);
        if meta.is_empty() || downloads.is_empty() {
            self.unknown.push(format!("{label} was not read back"));
        }
        if !bad.is_empty() {
            self.failures
                .push(format!("{label} {arrived}, but {}", bad.join("; ")));
        }
        self.evidence.push(json!({
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
}

/// Each read back, of the package's resource or a download, that does not
/// give `size` bytes with SHA-1 `want`.
fn mismatches(
    meta: &[&PackageRead],
    downloads: &[&PackageRead],
    want: &str,
    size: u64,
) -> Vec<String> {
    let mut bad = Vec::new();
    for r in meta {
        if r.sha1.as_deref() != Some(want) || r.size != Some(size) {
            bad.push(format!(
                "its resource through {} says {} bytes, Hash {} (want {} bytes, {})",
                r.via,
                r.size.map_or("no".into(), |s| s.to_string()),
                r.sha1.as_deref().unwrap_or("none"),
                size,
                want
            ));
        }
    }
    for r in downloads {
        if r.sha1.as_deref() != Some(want) || r.size != Some(size) {
            let got = match (&r.error, r.size) {
                (Some(e), _) => e.clone(),
                (None, Some(s)) => format!("{s} bytes with another SHA-1"),
                (None, None) => "nothing".into(),
            };
            bad.push(format!("a download from {} gave {got}", r.via));
        }
    }
    bad
}

pub(super) fn throughput(c: &UploadThroughput, h: &History) -> (Verdict, String, Value) {
    let floor = c.at_least.bytes_per_sec() / MIB;
    // The bytes' speed to the last byte, whatever came back after it;
    // a refusal's bytes went to the refusing LB's bin, not to a node.
    let mut speeds: Vec<(f64, &UploadAttempt)> = h
        .uploads()
        .filter(|a| a.purpose == UploadPurpose::Workload)
        .filter(|a| !matches!(a.class, UploadClass::TooLarge | UploadClass::Exists))
        .filter_map(|a| a.mib_s.map(|m| (m, a)))
        .collect();
    if speeds.is_empty() {
        return (
            Verdict::Unknown,
            "no upload sent its last byte; nothing to time".into(),
            json!({ "floor_mib_s": floor }),
        );
    }
    speeds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (slowest, which) = speeds[0];
    let median = speeds[speeds.len() / 2].0;
    let failed: Vec<&UploadAttempt> = speeds
        .iter()
        .map(|(_, a)| *a)
        .filter(|a| a.class != UploadClass::Accepted)
        .collect();
    let evidence = json!({
        "floor_mib_s": floor,
        "slowest_mib_s": slowest,
        "median_mib_s": median,
        "fastest_mib_s": speeds[speeds.len() - 1].0,
        "timed": speeds.len(),
        "accepted": speeds.len() - failed.len(),
        "answered_with_a_failure": failed.len(),
    });
    let answers = match failed.first() {
        None => String::new(),
        Some(f) => format!(
            "; {} of them answered with a failure after the last byte ({}): timed to the last byte all the same, the answer is upload_answered's to judge",
            failed.len(),
            f.status.map_or_else(
                || class_word(f.class).to_string(),
                |s| format!("status {s}")
            )
        ),
    };
    if slowest < floor {
        let answered = if which.class == UploadClass::Accepted {
            String::new()
        } else {
            " to its last byte (its answer failed)".to_string()
        };
        return (
            Verdict::Fail,
            format!(
                "{} went at {slowest:.1} MiB/s{answered}, under the floor of {floor:.1} MiB/s{answers}",
                which.file
            ),
            evidence,
        );
    }
    (
        Verdict::Pass,
        format!(
            "{} upload{} at {slowest:.1} MiB/s or faster to the last byte (median {median:.1}); floor {floor:.1} MiB/s{answers}",
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
/// (docs/lb-limits.md, "Defaults that break uploads").
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
mod tests;
