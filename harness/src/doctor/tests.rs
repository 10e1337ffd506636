//! Tests of the preflight.

use super::*;

/// The cluster's Name for the node the target calls `key` (n2 is
/// OCTO-2): never the key, as on a real installation.
fn name(key: &str) -> String {
    format!("OCTO-{}", &key[1..])
}

fn id(key: &str) -> String {
    format!("OctopusServerNodes-x{}", &key[1..])
}

/// The ping of the node the target calls `key`.
fn ping(key: &str, status: u16, version: &str) -> Answer {
    Ok((
        status,
        json!({ "Id": id(key), "Name": name(key), "Version": version }),
    ))
}

fn list(keys: &[&str]) -> Answer {
    Ok((
        200,
        Value::Array(
            keys.iter()
                .map(|k| json!({ "Id": id(k), "Name": name(k), "IsInMaintenanceMode": false, "IsOffline": false }))
                .collect(),
        ),
    ))
}

/// node_list_agrees as doctor runs it: the mapping from the pings and
/// the first list.
fn agrees(names: &[&str], direct: &[Answer], lists: &[Answer]) -> CheckResult {
    let resolved = identify(names, direct, &lists[0], lists);
    node_list_agrees(names, lists, &resolved)
}

fn map_of(names: &[&str], direct: &[Answer]) -> NodeMap {
    let resolved = identify(names, direct, &list(names), &[]);
    spread_map(names, direct, &resolved)
}

const NAMES: [&str; 3] = ["n1", "n2", "n3"];

fn healthy() -> Vec<Answer> {
    NAMES.iter().map(|n| ping(n, 200, "2025.1")).collect()
}

#[test]
fn ping_direct_fails_naming_a_silent_node_and_a_bad_status() {
    let mut direct = healthy();
    assert_eq!(ping_direct(&NAMES, &direct).verdict, Verdict::Pass);
    direct[1] = Err("GET http://x/ping: timeout error".into());
    direct[2] = ping("n3", 503, "2025.1");
    let r = ping_direct(&NAMES, &direct);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.detail.contains("n2 did not answer ping"), "{}", r.detail);
    assert!(
        r.detail.contains("n3 answered ping with 503"),
        "{}",
        r.detail
    );
    // A drained node (418) still answers.
    direct[1] = ping("n2", 418, "2025.1");
    direct[2] = ping("n3", 200, "2025.1");
    assert_eq!(ping_direct(&NAMES, &direct).verdict, Verdict::Pass);
}

#[test]
fn a_refused_certificate_counts_as_an_answer() {
    assert!(refused_by_tls(&Err(
        "GET https://x/ping: tls error (invalid peer certificate: UnknownIssuer)".into()
    )));
    assert!(!refused_by_tls(&Err(
        "GET https://x/ping: connect error (Connection refused (os error 111))".into()
    )));
    assert!(!refused_by_tls(&ping("n1", 200, "v")));
}

#[test]
fn ping_via_lb_fails_on_any_answer_but_200() {
    let mut pings = vec![ping("n1", 200, "v"), ping("n2", 200, "v")];
    assert_eq!(ping_via_lb(&pings).verdict, Verdict::Pass);
    pings.push(Ok((502, Value::Null)));
    pings.push(Ok((502, Value::Null)));
    let r = ping_via_lb(&pings);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.detail.contains("2 of 4 pings"), "{}", r.detail);
    assert!(r.detail.ends_with("the others: 502 (×2)"), "{}", r.detail);
}

#[test]
fn api_key_fails_when_refused_and_is_unknown_without_an_answer() {
    assert_eq!(api_key("K", &list(&NAMES)).verdict, Verdict::Pass);
    let r = api_key("K", &Ok((401, Value::Null)));
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.detail.contains("in K was refused (401)"), "{}", r.detail);
    assert_eq!(
        api_key("K", &Err("connect error".into())).verdict,
        Verdict::Unknown
    );
}

#[test]
fn same_version_names_the_odd_node_and_knows_nothing_without_versions() {
    let mut direct = healthy();
    assert_eq!(same_version(&NAMES, &direct).verdict, Verdict::Pass);
    direct[2] = ping("n3", 200, "2025.2");
    let r = same_version(&NAMES, &direct);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.detail.contains("2025.2 on n3"), "{}", r.detail);
    let silent: Vec<Answer> = NAMES.iter().map(|_| Err("down".into())).collect();
    assert_eq!(same_version(&NAMES, &silent).verdict, Verdict::Unknown);
}

#[test]
fn node_list_agrees_catches_disagreement_duplicates_and_left_out_nodes() {
    let lists = vec![list(&NAMES), list(&NAMES), list(&NAMES)];
    let r = agrees(&NAMES, &healthy(), &lists);
    assert_eq!(r.verdict, Verdict::Pass, "{}", r.detail);
    // It says who is who, as a run will take it.
    assert!(
        r.detail
            .contains("n2 is OCTO-2 (OctopusServerNodes-x2), n3 is OCTO-3"),
        "{}",
        r.detail
    );
    // One node sees a different cluster.
    let split = vec![list(&NAMES), list(&NAMES), list(&["n1", "n3"])];
    let r = agrees(&NAMES, &healthy(), &split);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.detail.contains("n3 see OCTO-1, OCTO-3"), "{}", r.detail);
    // Two target entries are the same node.
    let mut direct = healthy();
    direct[2] = ping("n2", 200, "2025.1");
    let r = agrees(&NAMES, &direct, &lists);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(
        r.detail
            .contains("n2, n3 all answer ping as OCTO-2 (OctopusServerNodes-x2)"),
        "{}",
        r.detail
    );
    // A target node that answers as no listed node.
    let mut direct = healthy();
    direct[0] = Ok((200, json!({ "Id": "Elsewhere-1", "Name": "STRANGER" })));
    let r = agrees(&NAMES, &direct, &lists);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(
        r.detail.contains(
            "n1 answers ping as STRANGER (Elsewhere-1), which the cluster's node list does not hold"
        ),
        "{}",
        r.detail
    );
    // The target leaves a node of the cluster out.
    let two = ["n1", "n2"];
    let r = agrees(&two, &healthy()[..2], &lists[..2]);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(
        r.detail
            .contains("the cluster lists OCTO-3 (OctopusServerNodes-x3)"),
        "{}",
        r.detail
    );
    // Lists that are empty or not lists say nothing.
    let junk = vec![
        Ok((200, json!([]))),
        Ok((200, json!({"x": 1}))),
        Ok((200, Value::Null)),
    ];
    let r = agrees(&NAMES, &healthy(), &junk);
    assert_eq!(r.verdict, Verdict::Unknown, "{}", r.detail);
}

#[test]
fn lb_spreads_fails_naming_a_healthy_node_the_lb_never_reached() {
    let map = map_of(&NAMES, &healthy());
    let through: Vec<Answer> = ["n1", "n2", "n3", "n1"]
        .iter()
        .map(|n| ping(n, 200, "v"))
        .collect();
    let r = lb_spreads(&NAMES, &healthy(), &map, &through);
    assert_eq!(r.verdict, Verdict::Pass);
    assert!(
        r.detail
            .ends_with("n1 (OCTO-1) 2, n2 (OCTO-2) 1, n3 (OCTO-3) 1"),
        "{}",
        r.detail
    );
    let stuck: Vec<Answer> = (0..9).map(|_| ping("n1", 200, "v")).collect();
    let r = lb_spreads(&NAMES, &healthy(), &map, &stuck);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(
        r.detail.contains("never reached n2 (OCTO-2), n3 (OCTO-3)"),
        "{}",
        r.detail
    );
    // A drained node (418) is not expected behind the LB.
    let mut direct = healthy();
    direct[1] = ping("n2", 418, "v");
    direct[2] = ping("n3", 418, "v");
    assert_eq!(
        lb_spreads(&NAMES, &direct, &map, &stuck).verdict,
        Verdict::Pass
    );
    let silent: Vec<Answer> = NAMES.iter().map(|_| Err("down".into())).collect();
    assert_eq!(
        lb_spreads(&NAMES, &silent, &map, &stuck).verdict,
        Verdict::Unknown
    );
}

#[test]
fn without_a_node_list_the_lb_s_spread_is_judged_by_what_each_node_says_it_is() {
    // A refused key: no list to match against.
    let refused: Answer = Ok((401, json!({ "ErrorMessage": "no" })));
    let resolved = identify(&NAMES, &healthy(), &refused, &[]);
    assert!(resolved.identities.is_empty());
    let map = spread_map(&NAMES, &healthy(), &resolved);
    let through: Vec<Answer> = ["n1", "n2", "n3"]
        .iter()
        .map(|n| ping(n, 200, "v"))
        .collect();
    let r = lb_spreads(&NAMES, &healthy(), &map, &through);
    assert_eq!(r.verdict, Verdict::Pass, "{}", r.detail);
    let stuck: Vec<Answer> = (0..9).map(|_| ping("n1", 200, "v")).collect();
    let r = lb_spreads(&NAMES, &healthy(), &map, &stuck);
    assert!(
        r.detail.contains("never reached n2 (OCTO-2), n3 (OCTO-3)"),
        "{}",
        r.detail
    );
}

#[test]
fn a_ping_without_a_version_takes_the_list_s_and_one_node_listed_twice_is_reached_once() {
    let bare: Vec<Answer> = NAMES
        .iter()
        .map(|k| Ok((200, json!({ "Id": id(k), "Name": name(k) }))))
        .collect();
    let mut listed = list(&NAMES);
    if let Ok((_, Value::Array(items))) = &mut listed {
        for item in items.iter_mut() {
            item["Version"] = json!("2026.1.1");
        }
    }
    let resolved = identify(&NAMES, &bare, &listed, &[]);
    let direct = with_versions(&NAMES, bare, &resolved, &listed);
    let r = same_version(&NAMES, &direct);
    assert_eq!(r.verdict, Verdict::Pass, "{}", r.detail);
    assert!(r.detail.contains("2026.1.1"), "{}", r.detail);
    // n2's entry points at n1's node: the LB reaching n1 reaches both;
    // node_list_agrees says the target is wrong.
    let mut twice = healthy();
    twice[1] = ping("n1", 200, "v");
    let resolved = identify(&NAMES, &twice, &list(&NAMES), &[]);
    let map = spread_map(&NAMES, &twice, &resolved);
    let through: Vec<Answer> = ["n1", "n3"].iter().map(|n| ping(n, 200, "v")).collect();
    let r = lb_spreads(&NAMES, &twice, &map, &through);
    assert_eq!(r.verdict, Verdict::Pass, "{}", r.detail);
}

#[test]
fn no_unexpected_drain_names_drained_and_offline_nodes() {
    let map = map_of(&NAMES, &healthy());
    assert_eq!(
        no_unexpected_drain(&list(&NAMES), &map, &[]).verdict,
        Verdict::Pass
    );
    let body = json!([
        { "Id": id("n1"), "Name": name("n1"), "IsInMaintenanceMode": true, "IsOffline": false },
        { "Id": id("n2"), "Name": name("n2"), "IsInMaintenanceMode": false, "IsOffline": true },
    ]);
    let r = no_unexpected_drain(&Ok((200, body)), &map, &[]);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.detail, "n1 (OCTO-1) is draining; n2 (OCTO-2) is offline");
    for junk in [json!([]), json!({"Items": []})] {
        assert_eq!(
            no_unexpected_drain(&Ok((200, junk)), &map, &[]).verdict,
            Verdict::Unknown
        );
    }
    assert_eq!(
        no_unexpected_drain(&Ok((401, Value::Null)), &map, &[]).verdict,
        Verdict::Unknown
    );
    // An offline record no target node is (a retired machine's) is
    // left alone, as a run leaves it, and said.
    let mut with_ghost = list(&NAMES);
    if let Ok((_, Value::Array(items))) = &mut with_ghost {
        items.push(json!({ "Id": "OctopusServerNodes-old", "Name": "RETIRED", "IsInMaintenanceMode": false, "IsOffline": true }));
    }
    let resolved = identify(&NAMES, &healthy(), &with_ghost, &[]);
    assert!(resolved.problems.is_empty(), "{:?}", resolved.problems);
    let r = no_unexpected_drain(&with_ghost, &map, &resolved.offline_unclaimed);
    assert_eq!(r.verdict, Verdict::Pass, "{}", r.detail);
    assert!(
        r.detail.ends_with(
            "the cluster also lists RETIRED (OctopusServerNodes-old), offline and no target node's"
        ),
        "{}",
        r.detail
    );
}

#[test]
fn polling_endpoints_fail_on_a_wrong_thumbprint_or_no_answer() {
    let probe = |thumbprint: Option<&str>, error: Option<&str>| crate::history::PollingProbe {
        at_us: 0,
        node: String::new(),
        address: "127.0.0.2:10943".into(),
        thumbprint: thumbprint.map(str::to_string),
        friendly_page: true,
        error: error.map(str::to_string),
    };
    let ok = vec![(
        "n1".to_string(),
        "127.0.0.2:10943".to_string(),
        Ok(probe(Some("AB12"), None)),
    )];
    assert_eq!(polling_endpoints(&ok, Some("ab12")).verdict, Verdict::Pass);
    assert_eq!(polling_endpoints(&ok, None).verdict, Verdict::Unknown);
    let bad = vec![
        (
            "n1".to_string(),
            "a:1".to_string(),
            Ok(probe(Some("FFFF"), None)),
        ),
        (
            "n2".to_string(),
            "b:1".to_string(),
            Err("b:1: no answer".into()),
        ),
    ];
    let r = polling_endpoints(&bad, Some("AB12"));
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(
        r.detail
            .contains("n1 (a:1) served thumbprint FFFF, not the server's AB12"),
        "{}",
        r.detail
    );
    assert!(r.detail.contains("n2: b:1: no answer"), "{}", r.detail);
}
