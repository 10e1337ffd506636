use super::*;
use crate::history::{Op, Outcome};

fn request(op: Op, sent_us: u64, took_us: u64, ok: bool, load: bool) -> Event {
    Event::Request(Request {
        seq: sent_us,
        op,
        intended_us: sent_us,
        sent_us,
        done_us: sent_us + took_us,
        outcome: if ok { Outcome::Ok } else { Outcome::Fail },
        status: Some(if ok { 200 } else { 503 }),
        error: None,
        bytes: 0,
        node: None,
        held: false,
        load,
    })
}

fn load_ended(goose: Vec<ThresholdOutcome>, error: Option<&str>) -> Event {
    Event::LoadEnded {
        at_us: 20_000_000,
        users: 4,
        hold_us: Some((2_000_000, 12_000_000)),
        requests: 0,
        failed: 0,
        thresholds: goose,
        error: error.map(str::to_string),
        reports: Vec::new(),
    }
}

/// 100 load pings sent one every 100 ms over the ten-second hold, taking
/// 1 to 100 ms, the last ten failing; 50 load task reads of 500 ms before
/// the hold; and the `api` workload's slow requests, which no rule judges.
fn history(ended: Vec<Event>) -> History {
    let mut events: Vec<Event> = (0..100u64)
        .map(|i| {
            request(
                Op::Ping,
                2_000_000 + i * 100_000,
                (i + 1) * 1_000,
                i < 90,
                true,
            )
        })
        .collect();
    events.extend((0..50u64).map(|i| request(Op::TaskRead, i * 10_000, 500_000, true, true)));
    events.extend((0..50u64).map(|i| request(Op::Ping, i * 10_000, 9_000_000, false, false)));
    events.extend(ended);
    History { events }
}

fn judged(rule: &str, h: &History) -> (Verdict, String) {
    let (v, d, _) = judge(rule, h);
    (v, d)
}

#[test]
fn rules_read_as_goose_reads_them() {
    let p = |t: &str| parse(t).unwrap();
    assert_eq!(p("p95<500ms").metric, Metric::Percentile(95.0));
    assert_eq!(p("p95<500ms").limit, 500_000.0);
    assert_eq!(p("p99.9<=2s").limit, 2_000_000.0);
    assert_eq!(p("avg<150").limit, 150_000.0, "a bare number is ms");
    assert_eq!(p("max < 250us").limit, 250.0);
    assert_eq!(
        (p("error-rate<1%").limit, p("error-rate<1").limit),
        (1.0, 1.0)
    );
    let r = p("rps>=200 for GET /api/tasks/{id}");
    assert_eq!((r.metric, r.op, r.limit), (Metric::PerSecond, ">=", 200.0));
    assert_eq!(r.request.as_deref(), Some("GET /api/tasks/{id}"));
    // Every rule goose takes, this reads; what it refuses, this does not.
    let taken = [
        "p50<1",
        "p95 > 2.5ms",
        "max>=1s for POST /api/tasks",
        "error-rate<=100%",
        "rps>0.5",
    ];
    let refused = [
        "p95",
        "q95<1s",
        "p95<-1s",
        "p95<1e3",
        "avg=<1s",
        "rps>=fast",
    ];
    for (rule, takes) in taken
        .iter()
        .map(|r| (r, true))
        .chain(refused.iter().map(|r| (r, false)))
    {
        let goose = rule.parse::<goose::threshold::Threshold>().is_ok();
        assert_eq!((goose, parse(rule).is_some()), (takes, takes), "{rule}");
    }
}

#[test]
fn each_metric_is_judged_on_the_load_requests_alone() {
    use Verdict::{Fail, Pass};
    let h = history(vec![load_ended(Vec::new(), None)]);
    // 150 load requests: 100 pings of 1..100 ms and 50 reads of 500 ms.
    // The 75th is 75 ms, read from the HDR histogram to its 3 figures;
    // the mean is (5050 ms + 25000 ms) / 150; 100 pings came in the 10 s
    // hold, the reads before it. The api workload's 9 s requests are not
    // the load's. A rule whose request never ran fails, as goose's does.
    for (rule, verdict, detail) in [
        ("p50<80ms", Pass, "75.01ms over 150 requests"),
        ("p50<75ms", Fail, "75.01ms over 150 requests"),
        // The bucket's top, 500.22 ms, is past the slowest: kept to it.
        ("p90<500ms", Fail, "500ms over 150 requests"),
        ("p90<=500ms", Pass, "500ms over 150 requests"),
        ("max<=500ms", Pass, "500ms over 150 requests"),
        ("avg<200ms", Fail, "200.33ms over 150 requests"),
        ("error-rate<5%", Fail, "6.67% (10 of 150 requests)"),
        (
            "rps>=10",
            Pass,
            "10 a second (100 requests in the 10s hold)",
        ),
        ("rps>10", Fail, "10 a second (100 requests in the 10s hold)"),
        (
            "p95<1s for GET /api/tasks/{id}",
            Pass,
            "500ms over 50 requests",
        ),
        (
            "p95<1s for GET /api",
            Fail,
            "no samples among 0 load requests",
        ),
    ] {
        let said = if verdict == Pass { ": " } else { " failed: " };
        assert_eq!(
            judged(rule, &h),
            (verdict, format!("{rule}{said}{detail}")),
            "{rule}"
        );
    }
}

#[test]
fn goose_s_finding_is_given_beside_only_where_one_process_ran_the_phase() {
    let goose = vec![ThresholdOutcome {
        rule: "p50<80ms".into(),
        observed: "75ms".into(),
        passed: true,
    }];
    let one = history(vec![load_ended(goose.clone(), None)]);
    let (_, d, e) = judge("p50<80ms", &one);
    assert_eq!(
        d,
        "p50<80ms: 75.01ms over 150 requests; goose observed 75ms"
    );
    assert_eq!(e["goose_observed"], "75ms");
    let merged = history(vec![load_ended(goose, None), load_ended(Vec::new(), None)]);
    assert_eq!(
        judged("p50<80ms", &merged).1,
        "p50<80ms: 75.01ms over 150 requests"
    );
}

#[test]
fn a_phase_that_did_not_end_or_did_not_run_is_unknown() {
    let (v, d) = judged("p95<1s", &history(Vec::new()));
    assert_eq!(
        (v, d.as_str()),
        (Verdict::Unknown, "the load phase did not end: no finding")
    );
    let failed = history(vec![
        load_ended(Vec::new(), None),
        load_ended(Vec::new(), Some("goose refused x")),
    ]);
    assert_eq!(
        judged("p95<1s", &failed),
        (
            Verdict::Unknown,
            "goose did not run the phase: goose refused x".into()
        )
    );
}

/// A history written before the harness judged the rules itself: its
/// requests do not say which the load phase sent, and its load_ended no
/// hold. goose's finding judges it, as it did then.
#[test]
fn an_old_history_is_judged_by_goose_s_finding() {
    let mut old = history(Vec::new());
    for e in &mut old.events {
        if let Event::Request(r) = e {
            r.load = false;
        }
    }
    old.events.push(Event::LoadEnded {
        at_us: 20_000_000,
        users: 0,
        hold_us: None,
        requests: 200,
        failed: 60,
        thresholds: vec![ThresholdOutcome {
            rule: "p95<1s".into(),
            observed: "812ms".into(),
            passed: true,
        }],
        error: None,
        reports: Vec::new(),
    });
    assert_eq!(
        judged("p95<1s", &old),
        (Verdict::Pass, "p95<1s: goose observed 812ms".into())
    );
    assert_eq!(
        judged("rps>1", &old),
        (Verdict::Unknown, "goose did not judge it".into())
    );
}

/// A phase stopped 4 s into its 10 s hold held its users for 4 s: its
/// rate is over those.
#[test]
fn a_hold_cut_short_counts_only_the_time_it_held() {
    let mut h = history(Vec::new());
    h.events
        .retain(|e| !matches!(e, Event::Request(r) if r.sent_us >= 6_000_000));
    h.events.push(Event::LoadEnded {
        at_us: 6_000_000,
        users: 4,
        hold_us: Some((2_000_000, 12_000_000)),
        requests: 0,
        failed: 0,
        thresholds: Vec::new(),
        error: None,
        reports: Vec::new(),
    });
    assert_eq!(
        judged("rps>=10", &h).1,
        "rps>=10: 10 a second (40 requests in the 4s hold)"
    );
}
