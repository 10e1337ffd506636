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

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Verdict;
use crate::history::{
    History, PackageRead, PackageReadKind, UploadAttempt, UploadPurpose, UploadStart,
};
use crate::scenario::{LadderReaches, UploadThroughput};
use crate::upload::UploadClass;
use crate::vocab::FaultKind;

const MIB: f64 = 1024.0 * 1024.0;

/// Everything about one upload.
#[derive(Default)]
struct Upload<'a> {
    attempts: Vec<&'a UploadAttempt>,
    reads: Vec<&'a PackageRead>,
    /// Attempts that started and whose end the history does not hold.
    in_flight: Vec<&'a UploadStart>,
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
    for u in h
        .uploads_in_flight()
        .into_iter()
        .filter(|u| u.purpose == UploadPurpose::Workload)
    {
        by_seq.entry(u.seq).or_default().in_flight.push(u);
    }
    for r in h.package_reads() {
        if let Some(u) = by_seq.get_mut(&r.seq) {
            u.reads.push(r);
        }
    }
    by_seq
}

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
            // Only started: its one attempt's end is not in the history.
            if let Some(open) = u.in_flight.first() {
                let label = format!("upload {seq} ({}, {})", open.file, gib(open.size));
                unknown.extend(in_flight_at_stop(&label, u));
                evidence.push(json!({ "seq": seq, "file": open.file, "arrived": null,
                    "attempts": u.in_flight.len(), "in_flight": true }));
            }
            continue;
        };
        let last = u.attempts.last().copied().unwrap_or(first);
        let label = format!("upload {seq} ({}, {})", first.file, gib(first.size));
        let arrived = u.arrived();
        if arrived.is_none()
            && let Some(why) = in_flight_at_stop(&label, u)
        {
            unknown.push(why);
            evidence.push(json!({ "seq": seq, "file": first.file, "arrived": null,
                "attempts": u.attempts.len() + u.in_flight.len(), "in_flight": true }));
            continue;
        }
        let Some(arrived) = arrived else {
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

/// Every attempt answered with success, or the first that was not.
pub(super) fn answered(h: &History) -> (Verdict, String, Value) {
    let all = uploads(h);
    if all.values().all(|u| u.attempts.is_empty()) {
        let in_flight: usize = all.values().map(|u| u.in_flight.len()).sum();
        let detail = match in_flight {
            0 => "no upload was attempted".to_string(),
            n => format!(
                "no attempt ended: {n} {} in flight when the run ended, and no answer was recorded",
                if n == 1 { "was" } else { "were" }
            ),
        };
        return (Verdict::Unknown, detail, json!({ "attempts": [] }));
    }
    let windows = h.fault_windows();
    let mut failures: Vec<String> = Vec::new();
    let mut excused: Vec<String> = Vec::new();
    let mut evidence = Vec::new();
    let mut attempts = 0usize;
    for (seq, u) in &all {
        for a in &u.attempts {
            attempts += 1;
            if a.class == UploadClass::Accepted {
                continue;
            }
            let source = answered_by(a);
            let during = windows.iter().find(|w| fault_explains(w, a));
            let stopped = a
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with(crate::upload::STOPPED_BY_HARNESS));
            evidence.push(json!({
                "seq": seq,
                "attempt": a.attempt,
                "class": a.class,
                "status": a.status,
                "after_last_byte_s": after_last_byte(a),
                "bytes_sent": a.bytes_sent,
                "answered_by": source.who(),
                "server": a.server,
                "body_kind": a.body_kind,
                "error": a.error,
                "during_fault": during.map(|w| w.name.clone()),
                "stopped_by_harness": stopped,
            }));
            match during {
                _ if stopped => excused.push(format!(
                    "upload {seq} attempt {} cut by the harness as the run ended",
                    a.attempt + 1
                )),
                Some(w) => excused.push(format!(
                    "upload {seq} attempt {} ({}) during {}",
                    a.attempt + 1,
                    a.status.map_or_else(
                        || class_word(a.class).to_string(),
                        |s| format!("status {s}")
                    ),
                    w.name
                )),
                None => failures.push(failure(*seq, u, a, &source)),
            }
        }
    }
    let evidence = json!({ "attempts": attempts, "failed": evidence });
    if let Some(first) = failures.first() {
        let more = if failures.len() > 1 {
            format!(" (and {} more failed attempts)", failures.len() - 1)
        } else {
            String::new()
        };
        return (Verdict::Fail, format!("{first}{more}"), evidence);
    }
    if excused.len() == attempts {
        return (
            Verdict::Unknown,
            format!(
                "every attempt failed under an injected fault or was cut by the harness, so none tells how the cluster answers: {}",
                excused.join(", ")
            ),
            evidence,
        );
    }
    let faults = if excused.is_empty() {
        String::new()
    } else {
        format!(
            "; {} failed under an injected fault or were cut by the harness, left to upload_intact: {}",
            excused.len(),
            excused.join(", ")
        )
    };
    (
        Verdict::Pass,
        format!(
            "{} of {attempts} attempt{} answered with success{faults}",
            attempts - excused.len(),
            if attempts == 1 { "" } else { "s" }
        ),
        evidence,
    )
}

/// How long after a fault is undone an attempt's failure may still be its
/// doing: the LB's health checks take a node back in a few seconds.
const FAULT_GRACE_US: u64 = 5_000_000;

/// Whether an injected fault explains an attempt's failure: the attempt
/// ended while the fault was in effect (or just after), the fault took a
/// node down or froze it, and the failure is one that does (a cut, no
/// answer, the LB's 502 or 503; a 504 only for a frozen node, which
/// accepts and never answers). A refusal (413, 409, any other 4xx) is
/// never a fault's doing, nor is anything during a drain, which must not
/// fail a request.
fn fault_explains(w: &crate::history::FaultWindow, a: &UploadAttempt) -> bool {
    if w.inject_error.is_some()
        || a.done_us < w.start_us
        || a.done_us > w.end_us.saturating_add(FAULT_GRACE_US)
    {
        return false;
    }
    let takes_down = matches!(
        w.kind,
        FaultKind::Kill | FaultKind::Restart | FaultKind::Pause | FaultKind::Maintenance
    );
    let explained = match a.status {
        None => matches!(
            a.class,
            UploadClass::TimedOut | UploadClass::Reset | UploadClass::Other
        ),
        Some(502 | 503) => true,
        Some(504) => w.kind == FaultKind::Pause,
        Some(_) => false,
    };
    takes_down && explained
}

/// Seconds from the last byte to the answer (or the cut), if the last byte
/// went.
fn after_last_byte(a: &UploadAttempt) -> Option<f64> {
    a.last_byte_us
        .map(|l| a.done_us.saturating_sub(l) as f64 / 1e6)
}

/// Who answered an attempt, as far as its answer shows.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// Nothing: the connection was cut, or nothing came in time.
    Nobody,
    /// A node: Octopus's JSON.
    Node,
    /// An LB or proxy, named when its answer names it.
    Lb(Option<LbKind>),
    /// A history from before answers were recorded.
    NotRecorded,
}

/// The LBs whose answers the harness recognises.
#[derive(Debug, Clone, Copy, PartialEq)]
enum LbKind {
    BuiltIn,
    Haproxy,
    Nginx,
    Alb,
    Iis,
}

impl LbKind {
    fn name(self) -> &'static str {
        match self {
            LbKind::BuiltIn => "the built-in LB",
            LbKind::Haproxy => "HAProxy",
            LbKind::Nginx => "nginx",
            LbKind::Alb => "an AWS ALB",
            LbKind::Iis => "IIS/ARR",
        }
    }
}

impl Source {
    fn who(&self) -> &'static str {
        match self {
            Source::Nobody => "nobody",
            Source::Node => "node",
            Source::Lb(_) => "lb",
            Source::NotRecorded => "not recorded",
        }
    }
}

/// Tells an LB's answer from a node's: Octopus answers errors as JSON with
/// `ErrorMessage`; LBs answer their own with a page of their own, and most
/// name themselves in `Server` (HAProxy does not, but its pages are its
/// own).
fn answered_by(a: &UploadAttempt) -> Source {
    use crate::upload::BodyKind;
    if a.status.is_none() {
        return Source::Nobody;
    }
    let server = a.server.as_deref().unwrap_or("").to_ascii_lowercase();
    let body = a.error.as_deref().unwrap_or("").to_ascii_lowercase();
    let named = if server == crate::history::LB_SERVER {
        Some(LbKind::BuiltIn)
    } else if server.starts_with("nginx") || body.contains("<center>nginx") {
        Some(LbKind::Nginx)
    } else if server.starts_with("awselb") {
        Some(LbKind::Alb)
    } else if server.starts_with("microsoft-iis") || body.contains("502.3") {
        Some(LbKind::Iis)
    } else if server.contains("haproxy") || body.contains("the server didn't respond in time") {
        Some(LbKind::Haproxy)
    } else {
        None
    };
    match a.body_kind {
        // Octopus answers an error with its ErrorMessage; other JSON on an
        // error is a gateway's or a proxy's.
        Some(BodyKind::OctopusError) => Source::Node,
        Some(BodyKind::Json) if a.status.is_some_and(|s| (200..300).contains(&s)) => Source::Node,
        Some(_) => Source::Lb(named),
        None if named.is_some() => Source::Lb(named),
        None => Source::NotRecorded,
    }
}

fn class_word(c: UploadClass) -> &'static str {
    match c {
        UploadClass::Accepted => "accepted",
        UploadClass::Exists => "already exists",
        UploadClass::TooLarge => "too large",
        UploadClass::TimedOut => "timed out",
        UploadClass::Reset => "connection cut",
        UploadClass::Other => "failed",
    }
}

/// One failed attempt, in a line a person can act on.
fn failure(seq: u64, u: &Upload<'_>, a: &UploadAttempt, source: &Source) -> String {
    let what = match (a.status, &a.error) {
        (Some(s), _) => format!("answered {s}"),
        (None, Some(e)) => format!("got no answer ({e})"),
        (None, None) => "got no answer".into(),
    };
    let when = match after_last_byte(a) {
        Some(s) => format!("{s:.1}s after its last byte"),
        None => format!(
            "before its last byte, {} sent in {:.1}s",
            gib(a.bytes_sent),
            a.done_us.saturating_sub(a.sent_us) as f64 / 1e6
        ),
    };
    let from = match source {
        Source::Nobody => String::new(),
        Source::Node => " from a node (Octopus's JSON error)".into(),
        Source::Lb(Some(kind)) => format!(
            " from the LB, {}{}",
            kind.name(),
            match (&a.server, a.body_kind) {
                (Some(s), _) => format!(" (Server: {s}; not Octopus's JSON)"),
                (None, Some(crate::upload::BodyKind::Html)) =>
                    " (its HTML page, not Octopus's JSON)".into(),
                _ => " (not Octopus's JSON)".into(),
            }
        ),
        Source::Lb(None) => match a.body_kind {
            Some(crate::upload::BodyKind::Html) => {
                " from the LB or a proxy (an HTML page, not Octopus's JSON)".into()
            }
            _ => " from the LB or a proxy (not Octopus's JSON)".into(),
        },
        Source::NotRecorded => " (who answered was not recorded)".into(),
    };
    let excerpt = a
        .error
        .as_deref()
        .filter(|_| a.status.is_some())
        .map(|e| {
            format!(
                ": \"{}\"",
                e.strip_prefix(&format!("status {}: ", a.status.unwrap_or(0)))
                    .unwrap_or(e)
            )
        })
        .unwrap_or_default();
    let stored = match u.arrived() {
        Some("accepted") => "; a later attempt was accepted",
        Some(_) => "; yet the package was stored (found intact after the failure)",
        None => "; the package did not arrive",
    };
    format!(
        "upload {seq} ({}, {}) attempt {} of {} {what} {when}{from}{excerpt}{stored}: a client such as `octo push` saw it fail. {}",
        a.file,
        gib(a.size),
        a.attempt + 1,
        u.attempts.len(),
        cause(a, source)
    )
}

/// The LB setting that usually gives such an answer.
fn cause(a: &UploadAttempt, source: &Source) -> String {
    const USUAL: &str = "HAProxy `timeout server`, the AWS ALB idle timeout (60s), nginx `proxy_read_timeout` (60s), IIS/ARR's proxy timeout (120s)";
    let after_body = a.last_byte_us.is_some();
    let lb = match source {
        Source::Lb(k) => *k,
        _ => None,
    };
    if a.status.is_some() && *source == Source::Node {
        return "The node refused it: see its ErrorMessage".into();
    }
    match (a.class, a.status) {
        (UploadClass::TooLarge, _) => format!(
            "A request body limit on the way{}: nginx `client_max_body_size` (1m by default), IIS `maxAllowedContentLength` (30,000,000 bytes), a WAF's file-upload limit",
            lb.map(|k| format!(" ({})", k.name())).unwrap_or_default()
        ),
        (_, Some(408)) => "A body read timeout on the way: nginx `client_body_timeout` (60s), HAProxy `timeout http-request`, the ALB idle timeout".into(),
        (_, Some(502 | 503)) => "The LB had no node to answer: a node down or restarting, or the LB's health checks behind".into(),
        (_, Some(504 | 524)) if after_body => {
            let setting = match lb {
                Some(LbKind::BuiltIn)
                    if a.error.as_deref().is_some_and(|e| e.contains("idle timeout")) =>
                {
                    "its idle timeout (`lb.idle_timeout`, as an ALB's)"
                }
                Some(LbKind::BuiltIn) => {
                    "its response timeout (`lb.backend_timeout`, as HAProxy's `timeout server`)"
                }
                Some(LbKind::Haproxy) => "HAProxy's `timeout server`",
                Some(LbKind::Nginx) => "nginx's `proxy_read_timeout`",
                Some(LbKind::Alb) => "the ALB's idle timeout",
                Some(LbKind::Iis) => "IIS/ARR's proxy timeout",
                None => "its server or idle timeout",
            };
            format!(
                "The LB gave up waiting for the node's answer after the body: {setting} is shorter than the node's work on the package; raise it (usually: {USUAL})"
            )
        }
        (_, Some(504 | 524)) => format!(
            "The LB gave up while the body was still coming: its idle or request timeout ({USUAL})"
        ),
        (_, Some(status)) => format!(
            "Not a timeout: {status} came from something in front of Octopus{}, such as a WAF, an authentication proxy or a gateway's own rule; its logs say why",
            lb.map(|k| format!(" ({})", k.name())).unwrap_or_default()
        ),
        (UploadClass::TimedOut, None) => format!(
            "No byte moved either way for the client's idle timeout: an LB holding the answer back, or a stalled link ({USUAL})"
        ),
        (_, None) if after_body => format!(
            "The connection was cut after the body, before any answer: an LB or proxy timeout that closes instead of answering ({USUAL})"
        ),
        (_, None) => format!(
            "The connection was cut mid-body: a proxy limit or a dying node (the timeouts that usually cut uploads: {USUAL})"
        ),
    }
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
        assert_eq!(
            pass.detail,
            "2 uploads at 20.0 MiB/s or faster to the last byte (median 80.0); floor 10.0 MiB/s"
        );
        // An upload the LB answered 504 after its last byte: its bytes
        // were timed all the same, and the detail says how it was answered.
        let mut cut = vec![upload(0, UploadClass::TimedOut, 30.0)];
        if let Event::Upload(a) = &mut cut[0] {
            a.status = Some(504);
        }
        let timed = crate::check::judge(
            &yaml("10MiB/s").checks[0].value,
            &History {
                events: cut.clone(),
            },
        );
        assert_eq!(timed.verdict, Verdict::Pass, "{}", timed.detail);
        assert!(
            timed
                .detail
                .contains("1 upload at 30.0 MiB/s or faster to the last byte")
                && timed
                    .detail
                    .contains("1 of them answered with a failure after the last byte (status 504)"),
            "{}",
            timed.detail
        );
        let slow = crate::check::judge(&yaml("50MiB/s").checks[0].value, &History { events: cut });
        assert_eq!(slow.verdict, Verdict::Fail);
        assert!(
            slow.detail
                .contains("30.0 MiB/s to its last byte (its answer failed), under the floor"),
            "{}",
            slow.detail
        );
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

    /// A workload attempt: its last byte at 1 s, its answer at `done_us`.
    fn attempt(
        attempt: u32,
        class: UploadClass,
        status: Option<u16>,
        done_us: u64,
    ) -> UploadAttempt {
        let Event::Upload(mut a) = step(0, 4 << 20, class, status) else {
            unreachable!()
        };
        a.purpose = UploadPurpose::Workload;
        a.attempt = attempt;
        a.file = "HarnessProbe.1.0.0-rab12cd34.zip".into();
        a.sent_us = 0;
        a.last_byte_us = Some(1_000_000);
        a.done_us = done_us;
        a.sha1 = Some("aa".into());
        a
    }

    fn answered_by_lb(
        mut a: UploadAttempt,
        server: Option<&str>,
        kind: crate::upload::BodyKind,
        body: &str,
    ) -> UploadAttempt {
        a.server = server.map(str::to_string);
        a.body_kind = Some(kind);
        a.error = Some(format!("status {}: {body}", a.status.unwrap_or(0)));
        a
    }

    fn found_intact(seq: u64) -> Event {
        Event::PackageRead(PackageRead {
            at_us: 2_000_000,
            seq,
            id: "packages-HarnessProbe.1.0.0-rab12cd34".into(),
            via: "lb".into(),
            kind: PackageReadKind::AfterFailure,
            status: Some(200),
            size: Some(4 << 20),
            sha1: Some("aa".into()),
            expected: Some("aa".into()),
            error: None,
        })
    }

    fn answered_check(events: Vec<Event>) -> (Verdict, String) {
        let s = crate::scenario::parse_str(
            "name: t\nduration: 10s\nworkload:\n  - upload: { size: 4MiB }\nchecks:\n  - upload_intact: {}\n",
        )
        .unwrap();
        let h = History { events };
        let results = crate::check::run_all(&s, &h, None);
        let r = results
            .iter()
            .find(|r| r.kind == "upload_answered")
            .expect("judged without being declared");
        (r.verdict, r.detail.clone())
    }

    #[test]
    fn a_stored_package_the_lb_answered_504_for_fails_naming_the_lb_s_timeout() {
        use crate::upload::BodyKind;
        let cut = answered_by_lb(
            attempt(0, UploadClass::TimedOut, Some(504), 1_500_000),
            Some("harness-lb"),
            BodyKind::Text,
            "gateway timeout (no response in time)",
        );
        let events = vec![Event::Upload(cut), found_intact(0)];
        let (v, d) = answered_check(events.clone());
        assert_eq!(v, Verdict::Fail, "{d}");
        for want in [
            "attempt 1 of 1 answered 504 0.5s after its last byte",
            "from the LB, the built-in LB (Server: harness-lb; not Octopus's JSON)",
            "found intact after the failure",
            "`lb.backend_timeout`",
            "HAProxy `timeout server`",
            "ALB idle timeout",
            "nginx `proxy_read_timeout`",
            "IIS/ARR",
        ] {
            assert!(d.contains(want), "{want:?} not in {d}");
        }
        // Integrity is its own verdict: the bytes did arrive.
        let intact = crate::check::judge(
            &crate::scenario::Check::UploadIntact(crate::scenario::UploadIntact { name: None }),
            &History { events },
        );
        assert_ne!(intact.verdict, Verdict::Fail, "{}", intact.detail);
    }

    #[test]
    fn the_lb_is_named_from_its_page_or_server_header_and_a_node_from_its_json() {
        use crate::upload::BodyKind;
        let haproxy = answered_by_lb(
            attempt(0, UploadClass::TimedOut, Some(504), 3_000_000),
            None,
            BodyKind::Html,
            "<html><body><h1>504 Gateway Time-out</h1> The server didn't respond in time. </body></html>",
        );
        let (v, d) = answered_check(vec![Event::Upload(haproxy)]);
        assert_eq!(v, Verdict::Fail);
        assert!(
            d.contains("2.0s after its last byte from the LB, HAProxy (its HTML page"),
            "{d}"
        );
        assert!(d.contains("HAProxy's `timeout server` is shorter"), "{d}");
        assert!(d.contains("the package did not arrive"), "{d}");
        let nginx = answered_by_lb(
            attempt(0, UploadClass::TimedOut, Some(504), 2_000_000),
            Some("nginx/1.24.0"),
            BodyKind::Html,
            "<html> <head><title>504 Gateway Time-out</title></head>",
        );
        let (_, d) = answered_check(vec![Event::Upload(nginx)]);
        assert!(d.contains("nginx (Server: nginx/1.24.0"), "{d}");
        assert!(d.contains("nginx's `proxy_read_timeout` is shorter"), "{d}");
        let alb = answered_by_lb(
            attempt(0, UploadClass::TimedOut, Some(504), 2_000_000),
            Some("awselb/2.0"),
            BodyKind::Html,
            "<html>",
        );
        let (_, d) = answered_check(vec![Event::Upload(alb)]);
        assert!(d.contains("the ALB's idle timeout is shorter"), "{d}");
        // An unnamed HTML page is still not the node's.
        let proxy = answered_by_lb(
            attempt(0, UploadClass::Other, Some(500), 2_000_000),
            None,
            BodyKind::Html,
            "<html><body>Internal error</body></html>",
        );
        let (_, d) = answered_check(vec![Event::Upload(proxy)]);
        assert!(d.contains("from the LB or a proxy (an HTML page"), "{d}");
        let node = answered_by_lb(
            attempt(1, UploadClass::Exists, Some(409), 2_000_000),
            None,
            BodyKind::OctopusError,
            r#"{"ErrorMessage":"A package with the same ID and version already exists"}"#,
        );
        let first = answered_by_lb(
            attempt(0, UploadClass::TimedOut, Some(504), 2_000_000),
            Some("harness-lb"),
            BodyKind::Text,
            "gateway timeout (idle timeout)",
        );
        let (v, d) = answered_check(vec![Event::Upload(first), Event::Upload(node)]);
        assert_eq!(v, Verdict::Fail);
        assert!(d.contains("its idle timeout (`lb.idle_timeout`"), "{d}");
        assert!(d.contains("(and 1 more failed attempts)"), "{d}");
    }

    #[test]
    fn a_refusal_before_the_last_byte_and_a_cut_fail_and_a_clean_run_passes() {
        use crate::upload::BodyKind;
        let mut refused = answered_by_lb(
            attempt(0, UploadClass::TooLarge, Some(413), 300_000),
            Some("harness-lb"),
            BodyKind::Text,
            "request body too large",
        );
        refused.last_byte_us = None;
        refused.bytes_sent = 1 << 20;
        let (v, d) = answered_check(vec![Event::Upload(refused)]);
        assert_eq!(v, Verdict::Fail);
        assert!(
            d.contains("answered 413 before its last byte, 1.0 MiB sent in 0.3s"),
            "{d}"
        );
        assert!(d.contains("client_max_body_size"), "{d}");
        let mut reset = attempt(0, UploadClass::Reset, None, 1_200_000);
        reset.error = Some("body error: connection reset".into());
        let (v, d) = answered_check(vec![Event::Upload(reset.clone())]);
        assert_eq!(v, Verdict::Fail);
        assert!(
            d.contains("got no answer (body error: connection reset) 0.2s after its last byte"),
            "{d}"
        );
        assert!(d.contains("cut after the body"), "{d}");
        // Under an injected kill, the cut is the fault's; upload_intact
        // judges whether the package made it.
        let fault = |at_us, action| {
            Event::Fault(crate::history::FaultEvent {
                at_us,
                done_us: None,
                step: None,
                name: "kill-n2".into(),
                kind: FaultKind::Kill,
                nodes: vec!["n2".into()],
                action,
                error: None,
            })
        };
        let accepted = attempt(1, UploadClass::Accepted, Some(201), 5_000_000);
        let (v, d) = answered_check(vec![
            fault(500_000, crate::history::FaultAction::Inject),
            Event::Upload(reset),
            fault(3_000_000, crate::history::FaultAction::Heal),
            Event::Upload(accepted.clone()),
        ]);
        assert_eq!(v, Verdict::Pass, "{d}");
        assert!(d.contains("1 of 2 attempts answered with success; 1 failed under an injected fault or were cut by the harness, left to upload_intact: upload 0 attempt 1 (connection cut) during kill-n2"), "{d}");
        // Cut by the harness as a stopped run ended: not the cluster's doing.
        let mut stopped = attempt(0, UploadClass::Reset, None, 900_000);
        stopped.last_byte_us = None;
        stopped.error = Some(format!(
            "{}, 1000 bytes sent",
            crate::upload::STOPPED_BY_HARNESS
        ));
        let (v, d) = answered_check(vec![Event::Upload(stopped)]);
        // Nothing left that tells how the cluster answers.
        assert_eq!(v, Verdict::Unknown, "{d}");
        assert!(d.contains("upload 0 attempt 1 cut by the harness"), "{d}");
        let mut ok = accepted;
        ok.attempt = 0;
        let (v, d) = answered_check(vec![Event::Upload(ok)]);
        assert_eq!(v, Verdict::Pass, "{d}");
        assert_eq!(d, "1 of 1 attempt answered with success");
        let (v, _) = answered_check(Vec::new());
        assert_eq!(v, Verdict::Unknown);
    }

    #[test]
    fn a_fault_excuses_only_the_failures_it_explains_while_it_lasts() {
        use crate::history::{FaultAction, FaultEvent};
        use crate::upload::BodyKind;
        let fault = |kind: FaultKind, at_us, action, error: Option<&str>| {
            Event::Fault(FaultEvent {
                at_us,
                done_us: None,
                step: None,
                name: format!("{kind}-n2"),
                kind,
                nodes: vec!["n2".into()],
                action,
                error: error.map(str::to_string),
            })
        };
        let gateway = answered_by_lb(
            attempt(0, UploadClass::TimedOut, Some(504), 2_000_000),
            Some("harness-lb"),
            BodyKind::Text,
            "gateway timeout (no response in time)",
        );
        let window = |kind: FaultKind, error: Option<&str>, heal_us: u64| {
            vec![
                fault(kind, 500_000, FaultAction::Inject, error),
                Event::Upload(gateway.clone()),
                fault(kind, heal_us, FaultAction::Heal, None),
            ]
        };
        // A frozen node is what makes an LB answer 504: excused, and with
        // nothing else judged, unknown.
        let (v, d) = answered_check(window(FaultKind::Pause, None, 3_000_000));
        assert_eq!(v, Verdict::Unknown, "{d}");
        // A drain must fail nothing, and a killed node is refused, not
        // waited for: the 504 is the LB's timeout all the same.
        for kind in [FaultKind::Drain, FaultKind::Kill] {
            let (v, d) = answered_check(window(kind, None, 3_000_000));
            assert_eq!(v, Verdict::Fail, "{kind}: {d}");
            assert!(d.contains("answered 504"), "{d}");
        }
        // Nor a fault that was never injected, or one long over.
        let (v, _) = answered_check(window(
            FaultKind::Pause,
            Some("no pause command"),
            3_000_000,
        ));
        assert_eq!(v, Verdict::Fail);
        let mut late = window(FaultKind::Pause, None, 1_000_000);
        if let Event::Upload(a) = &mut late[1] {
            a.done_us = 1_000_000 + FAULT_GRACE_US + 1;
        }
        let (v, _) = answered_check(late);
        assert_eq!(v, Verdict::Fail);
        // A refusal is never a fault's doing.
        let mut refused = window(FaultKind::Pause, None, 3_000_000);
        refused[1] = Event::Upload(answered_by_lb(
            attempt(0, UploadClass::TooLarge, Some(413), 2_000_000),
            Some("harness-lb"),
            BodyKind::Text,
            "request body too large",
        ));
        let (v, _) = answered_check(refused);
        assert_eq!(v, Verdict::Fail);
    }

    #[test]
    fn a_gateway_s_json_is_not_octopus_s_and_a_refusal_is_not_called_a_timeout() {
        use crate::upload::BodyKind;
        let waf = answered_by_lb(
            attempt(0, UploadClass::Other, Some(403), 1_100_000),
            Some("awselb/2.0"),
            BodyKind::Json,
            r#"{"message":"Forbidden"}"#,
        );
        let (v, d) = answered_check(vec![Event::Upload(waf)]);
        assert_eq!(v, Verdict::Fail);
        assert!(d.contains("from the LB, an AWS ALB"), "{d}");
        assert!(
            d.contains("Not a timeout: 403 came from something in front of Octopus"),
            "{d}"
        );
        assert!(!d.contains("raise it"), "{d}");
    }

    #[test]
    fn ladder_sizes_double_up_to_the_ceiling() {
        assert_eq!(
            crate::scenario::ladder_sizes(1 << 20, 5 << 20),
            vec![1 << 20, 2 << 20, 4 << 20, 5 << 20]
        );
        assert_eq!(crate::scenario::ladder_sizes(8, 8), vec![8]);
    }

    /// Issue 17: an upload in flight when the run stopped (its start
    /// recorded, its end not; or its attempt cut by the harness) makes
    /// upload_intact unknown, never "no upload was attempted", and never
    /// a failure.
    #[test]
    fn r17_an_upload_in_flight_at_the_stop_is_unknown() {
        let judge = |events: Vec<Event>| {
            let s = crate::scenario::parse_str(
                "name: t\nduration: 10s\nworkload:\n  - upload: { size: 4MiB }\nchecks:\n  - upload_intact: {}\n",
            )
            .unwrap();
            let results = crate::check::run_all(&s, &History { events }, None);
            results
                .into_iter()
                .filter(|r| r.kind.starts_with("upload_"))
                .map(|r| (r.kind, r.verdict, r.detail))
                .collect::<Vec<_>>()
        };
        let start = |attempt: u32| {
            Event::UploadStarted(UploadStart {
                purpose: UploadPurpose::Workload,
                seq: 0,
                attempt,
                file: "HarnessProbe.1.0.0-rab12cd34.zip".into(),
                via: "lb".into(),
                size: 4 << 20,
                sent_us: 1_500_000,
            })
        };
        // Its end never recorded: the harness died, or aborted it.
        let open = judge(vec![start(0)]);
        assert_eq!(open[0].1, Verdict::Unknown, "{open:?}");
        assert_eq!(
            open[0].2,
            "upload 0 (HarnessProbe.1.0.0-rab12cd34.zip, 4.0 MiB) was in flight when the run ended: attempt 1 started at 1.5s and its end was never recorded; cannot tell whether it arrived"
        );
        assert_eq!(open[1].1, Verdict::Unknown, "{open:?}");
        assert!(open[1].2.contains("1 was in flight"), "{open:?}");
        // A retry in flight after a failed first attempt.
        let mut reset = attempt(0, UploadClass::Reset, None, 900_000);
        reset.last_byte_us = None;
        let retry = judge(vec![start(0), Event::Upload(reset), start(1)]);
        assert_eq!(retry[0].1, Verdict::Unknown, "{retry:?}");
        assert!(retry[0].2.contains("attempt 2 started at"), "{retry:?}");
        // Cut by the harness as the run stopped.
        let mut cut = attempt(0, UploadClass::Reset, None, 900_000);
        cut.last_byte_us = None;
        cut.error = Some(format!(
            "{}, 1000 bytes sent",
            crate::upload::STOPPED_BY_HARNESS
        ));
        let stopped = judge(vec![start(0), Event::Upload(cut)]);
        assert_eq!(stopped[0].1, Verdict::Unknown, "{stopped:?}");
        assert!(
            stopped[0].2.contains(
                "was in flight when the run was stopped (attempt 1: stopped by the harness"
            ),
            "{stopped:?}"
        );
        // No start at all: nothing was attempted.
        let none = judge(Vec::new());
        assert_eq!(none[0].2, "no upload was attempted");
    }
}
