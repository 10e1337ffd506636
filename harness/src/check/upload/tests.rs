//! Tests of the upload checks, on hand-made histories.

use super::answered::FAULT_GRACE_US;
use super::*;
use crate::history::{Event, UploadAttempt, UploadStart};
use crate::upload::OverwriteMode;
use crate::vocab::FaultKind;

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
fn attempt(attempt: u32, class: UploadClass, status: Option<u16>, done_us: u64) -> UploadAttempt {
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
        stopped[0]
            .2
            .contains("was in flight when the run was stopped (attempt 1: stopped by the harness"),
        "{stopped:?}"
    );
    // No start at all: nothing was attempted.
    let none = judge(Vec::new());
    assert_eq!(none[0].2, "no upload was attempted");
}
