//! `upload_answered`: every attempt was answered with success, as a client
//! such as `octo push` sees it; and, for one that was not, who answered,
//! when, and the LB setting that usually causes it.

use serde_json::{Value, json};

use super::record::{Upload, class_word, gib, uploads};
use crate::check::verdict::Verdict;
use crate::history::{History, UploadAttempt};
use crate::upload::UploadClass;
use crate::vocab::FaultKind;

/// Every attempt answered with success, or the first that was not.
pub(in crate::check) fn answered(h: &History) -> (Verdict, String, Value) {
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
pub(super) const FAULT_GRACE_US: u64 = 5_000_000;

/// Whether an injected fault explains an attempt's failure: the attempt
/// ended while the fault was in effect (or just after), the fault took a
/// node down or froze it, and the failure is one that does (a cut, no
/// answer, the LB's 502 or 503; a 504 only for a frozen node, which
/// accepts and never answers). A refusal (413, 409, any other 4xx) is
/// never a fault's doing, nor is anything during a drain, which must not
/// fail a request. A node without its store or its database answers a 500
/// of its own (or, for the database, nothing), which the fault explains.
fn fault_explains(w: &crate::history::FaultWindow, a: &UploadAttempt) -> bool {
    if w.inject_error.is_some()
        || a.done_us < w.start_us
        || a.done_us > w.end_us.saturating_add(FAULT_GRACE_US)
    {
        return false;
    }
    let takes_down = matches!(
        w.kind,
        FaultKind::Kill
            | FaultKind::Restart
            | FaultKind::Pause
            | FaultKind::Maintenance
            | FaultKind::PartitionFromLb
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
    // A node that lost its store or its database answers its own error:
    // 500 for a store gone (it cannot write the package), any 5xx, or
    // none, while the database is away.
    let refused_for_want_of = match w.kind {
        FaultKind::StorageOutage => a.status == Some(500),
        FaultKind::DatabaseOutage | FaultKind::DatabaseFailover => {
            a.status.is_none_or(|s| s >= 500)
        }
        _ => false,
    };
    (takes_down && explained) || refused_for_want_of
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
