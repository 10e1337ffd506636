//! `harness doctor`: a read-only preflight of a target cluster, in seconds,
//! for the cheapest nightly gate. Every request is a GET; nothing is
//! created, changed or deleted; unless asked (`--allow-disruptive`) to try
//! whether the LB takes a drained node out, which drains one node for a
//! moment (`drain`).
//!
//! It checks, all at once with short timeouts:
//! - each node's ping, directly and through the LB;
//! - the API key works;
//! - every node runs the same version;
//! - every node lists the same nodes;
//! - the LB spreads pings over every node that answers 200;
//! - no node is draining or offline;
//! - each polling endpoint answers and serves the server's thumbprint.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use crate::check::{CheckResult, Verdict};
use crate::client::{ApiClient, ApiKey};
use crate::history::{Clock, Events, NodeMap};
use crate::identity;
use crate::target::TargetFile;
use reference_cluster::api::{NodeBody, PING_PATH, PingBody};

/// Deadline of each request: a node that does not answer in this time is
/// as good as down for a preflight.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// How long pings through the LB go on, in rounds, until every healthy
/// node has answered one (an LB with sticky or weighted routing needs
/// more than one round).
const SPREAD_WITHIN: Duration = Duration::from_millis(1500);

/// Most rounds of pings through the LB.
const SPREAD_ROUNDS: u32 = 5;

/// What doctor found.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The target's name.
    pub target: String,
    /// Every check merged.
    pub verdict: Verdict,
    /// One entry per check.
    pub checks: Vec<CheckResult>,
    /// How long it took.
    pub duration_s: f64,
    /// Nothing was changed: no drain was tried.
    pub read_only: bool,
    /// Whether anything answered at all (the LB or a node).
    #[serde(skip)]
    pub reachable: bool,
}

/// A GET's answer: the status and the JSON body, or why there was none.
type Answer = Result<(u16, Value), String>;

async fn get(client: &ApiClient, path: &str) -> Answer {
    let (status, body) = client
        .call(Method::GET, path, None, REQUEST_TIMEOUT)
        .await
        .map_err(|e| e.message)?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// The node list: `/all`, or the first page of the paged list where a
/// cluster lacks `/all`, given as `/all` gives it (a bare array).
async fn get_list(client: &ApiClient) -> Answer {
    let all = get(client, "/api/octopusservernodes/all").await;
    if matches!(&all, Ok((200, v)) if v.is_array()) {
        return all;
    }
    match get(client, "/api/octopusservernodes?skip=0&take=1000").await {
        Ok((200, page)) if page.get("Items").is_some_and(Value::is_array) => {
            Ok((200, page["Items"].clone()))
        }
        // The first answer says best what went wrong (a 401, say).
        _ => all,
    }
}

fn result(kind: &str, verdict: Verdict, detail: String, evidence: Value) -> CheckResult {
    CheckResult {
        name: kind.to_string(),
        kind: kind.to_string(),
        verdict,
        detail,
        evidence,
    }
}

fn pass_or_fail(problems: &[String]) -> Verdict {
    if problems.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail
    }
}

/// Runs every check against the target; with `trial`, and once every
/// read-only check has passed, the drain of one node too.
pub async fn run(
    t: &TargetFile,
    key: ApiKey,
    trial: Option<DrainTrial>,
) -> Result<DoctorReport, String> {
    let begun = Instant::now();
    let trust = t.trust();
    let lb = ApiClient::with_trust(&t.lb.value, key.clone(), &trust)?;
    let nodes: Vec<(String, ApiClient)> = t
        .nodes
        .iter()
        .map(|n| {
            ApiClient::with_trust(&n.value.url.value, key.clone(), &trust)
                .map(|c| (n.value.name.value.clone(), c))
        })
        .collect::<Result<_, _>>()?;
    let lb_pings = (3 * nodes.len()).max(6);
    // Everything at once: the slowest request bounds the whole.
    let direct = join_all(nodes.iter().map(|(_, c)| get(c, PING_PATH)));
    let lists = join_all(nodes.iter().map(|(_, c)| get_list(c)));
    let through_lb = join_all((0..lb_pings).map(|_| get(&lb, PING_PATH)));
    let events = Events::channel(Clock::start()).0;
    let polling = join_all(t.nodes.iter().filter_map(|n| {
        let n = &n.value;
        let addr = n.polling.as_ref()?.value.clone();
        let name = n.name.value.clone();
        let events = events.clone();
        Some(async move {
            let p = probe(&addr, &events).await;
            (name, addr, p)
        })
    }));
    let (direct, lists, through_lb, lb_list, certificate, polling) = tokio::join!(
        direct,
        lists,
        through_lb,
        get_list(&lb),
        get(&lb, "/api/configuration/certificates/certificate-global"),
        polling,
    );
    let names: Vec<&str> = nodes.iter().map(|(n, _)| n.as_str()).collect();
    // Who each target node is, as a run would learn it.
    let resolved = identify(&names, &direct, &lb_list, &lists);
    let direct = with_versions(&names, direct, &resolved, &lb_list);
    let map = spread_map(&names, &direct, &resolved);
    // More rounds through the LB until every healthy node has answered,
    // a few at most, a moment apart; not when the LB fails pings, which
    // more of would only repeat.
    let mut through_lb = through_lb;
    let mut rounds = 1;
    while rounds < SPREAD_ROUNDS
        && begun.elapsed() < SPREAD_WITHIN
        && through_lb.iter().all(|a| matches!(a, Ok((200, _))))
        && !unseen(&healthy(&names, &direct), &map, &through_lb).is_empty()
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        through_lb.extend(join_all((0..lb_pings).map(|_| get(&lb, PING_PATH))).await);
        rounds += 1;
    }
    let expected_thumbprint = match &certificate {
        Ok((200, v)) => v
            .get("Thumbprint")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    };

    let mut checks = vec![
        ping_direct(&names, &direct),
        ping_via_lb(&through_lb),
        api_key(&t.api_key_env.value, &lb_list),
        same_version(&names, &direct),
        node_list_agrees(&names, &lists, &resolved),
        lb_spreads(&names, &direct, &map, &through_lb),
        no_unexpected_drain(&lb_list, &map, &resolved.offline_unclaimed),
    ];
    // Only where the target has polling endpoints: a cluster without
    // polling Tentacles has nothing to check there.
    if !polling.is_empty() {
        checks.push(polling_endpoints(&polling, expected_thumbprint.as_deref()));
    }
    let read_only = trial.is_none();
    if let Some(trial) = trial {
        let tried = try_drain(trial, &checks, (&lb, &nodes), (&names, &direct), &resolved).await;
        checks.push(tried);
    }
    // A server whose certificate was refused answered: the trust in the
    // target file is what is wrong, which the checks say (exit 1).
    let reachable = direct
        .iter()
        .chain(&through_lb)
        .any(|a| a.is_ok() || refused_by_tls(a));
    Ok(DoctorReport {
        target: t.name.value.clone(),
        verdict: Verdict::merge(checks.iter().map(|c| c.verdict)),
        checks,
        duration_s: begun.elapsed().as_secs_f64(),
        read_only,
        reachable,
    })
}

/// `lb_honours_drain`, once every read-only check has passed: a drain on
/// a cluster in doubt is a disruption for nothing.
async fn try_drain(
    trial: DrainTrial,
    checks: &[CheckResult],
    (lb, nodes): (&ApiClient, &[(String, ApiClient)]),
    (names, direct): (&[&str], &[Answer]),
    resolved: &identity::Resolved,
) -> CheckResult {
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .map(|c| c.kind.as_str())
        .collect();
    if !failed.is_empty() {
        return result(
            "lb_honours_drain",
            Verdict::Unknown,
            format!("not tried: {} did not pass", failed.join(", ")),
            json!({ "not_passed": failed }),
        );
    }
    // Drained by the Id the cluster's own list confirmed.
    let ids = NodeMap::new(resolved.identities.clone());
    drain::lb_honours_drain(lb, nodes, &healthy(names, direct), &ids, trial).await
}

async fn probe(addr: &str, events: &Events) -> Result<crate::history::PollingProbe, String> {
    let resolved = tokio::time::timeout(REQUEST_TIMEOUT, tokio::net::lookup_host(addr))
        .await
        .map_err(|_| format!("{addr}: no address within {}s", REQUEST_TIMEOUT.as_secs()))?
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let p = tokio::time::timeout(REQUEST_TIMEOUT, crate::fleet::probe("", resolved, events))
        .await
        .map_err(|_| format!("{addr}: no answer"))?;
    Ok(p)
}

/// A TLS handshake that failed on the certificate (the client's word for
/// it is `tls`).
fn refused_by_tls(a: &Answer) -> bool {
    matches!(a, Err(e) if e.contains(": tls error"))
}

fn describe(a: &Answer) -> String {
    match a {
        Ok((s, _)) => s.to_string(),
        Err(e) => e.clone(),
    }
}

fn ping_direct(names: &[&str], direct: &[Answer]) -> CheckResult {
    let mut problems = Vec::new();
    let mut seen = BTreeMap::new();
    for (name, a) in names.iter().zip(direct) {
        seen.insert(*name, describe(a));
        match a {
            Ok((200 | 418, _)) => {}
            Ok((s, _)) => problems.push(format!("{name} answered ping with {s}")),
            Err(e) => problems.push(format!("{name} did not answer ping: {e}")),
        }
    }
    let detail = if problems.is_empty() {
        format!("all {} nodes answered ping directly", names.len())
    } else {
        problems.join("; ")
    };
    result(
        "ping_direct",
        pass_or_fail(&problems),
        detail,
        json!({ "nodes": seen }),
    )
}

fn ping_via_lb(pings: &[Answer]) -> CheckResult {
    let ok = pings.iter().filter(|a| matches!(a, Ok((200, _)))).count();
    // Each different answer once, with how many times it came.
    let mut counted: BTreeMap<String, usize> = BTreeMap::new();
    for a in pings.iter().filter(|a| !matches!(a, Ok((200, _)))) {
        *counted.entry(describe(a)).or_default() += 1;
    }
    let bad: Vec<String> = counted
        .into_iter()
        .map(|(what, n)| {
            if n > 1 {
                format!("{what} (×{n})")
            } else {
                what
            }
        })
        .collect();
    let (verdict, detail) = if bad.is_empty() {
        (
            Verdict::Pass,
            format!("the LB answered all {ok} pings with 200"),
        )
    } else {
        (
            Verdict::Fail,
            format!(
                "the LB answered {ok} of {} pings with 200; the others: {}",
                pings.len(),
                bad.join("; ")
            ),
        )
    };
    result(
        "ping_via_lb",
        verdict,
        detail,
        json!({ "ok": ok, "failed": bad }),
    )
}

fn api_key(var: &str, list: &Answer) -> CheckResult {
    let (verdict, detail) = match list {
        Ok((200, _)) => (Verdict::Pass, format!("the API key in {var} was accepted")),
        Ok((s @ (401 | 403), _)) => (
            Verdict::Fail,
            format!("the API key in {var} was refused ({s})"),
        ),
        Ok((s, _)) => (
            Verdict::Fail,
            format!("the node list through the LB answered {s}"),
        ),
        Err(e) => (Verdict::Unknown, format!("the LB did not answer: {e}")),
    };
    result("api_key", verdict, detail, json!({}))
}

fn field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn same_version(names: &[&str], direct: &[Answer]) -> CheckResult {
    let mut versions: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, a) in names.iter().zip(direct) {
        if let Ok((_, body)) = a
            && let Some(v) = field(body, "Version")
        {
            versions.entry(v.to_string()).or_default().push(name);
        }
    }
    let (verdict, detail) = match versions.len() {
        0 => (Verdict::Unknown, "no node said its version".to_string()),
        1 => (
            Verdict::Pass,
            format!(
                "every node that answered runs {}",
                versions.keys().next().unwrap_or(&String::new())
            ),
        ),
        _ => (
            Verdict::Fail,
            format!(
                "the nodes run different versions: {}",
                versions
                    .iter()
                    .map(|(v, n)| format!("{v} on {}", n.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
    };
    result(
        "same_version",
        verdict,
        detail,
        json!({ "versions": versions }),
    )
}

/// The names in a node list, or None when the body is not a list of
/// named nodes.
fn listed_names(v: &Value) -> Option<BTreeSet<String>> {
    let names: BTreeSet<String> = v
        .as_array()?
        .iter()
        .map(|n| field(n, "Name").map(str::to_string))
        .collect::<Option<_>>()?;
    (!names.is_empty()).then_some(names)
}

/// A node list as the cluster gave it, if the answer is one.
fn node_list(a: &Answer) -> Option<Vec<NodeBody>> {
    match a {
        Ok((200, v)) => serde_json::from_value::<Vec<NodeBody>>(v.clone())
            .ok()
            .filter(|l| !l.is_empty()),
        _ => None,
    }
}

/// Which cluster node each target node is, as a run learns it: each
/// node's ping body against the node list (the LB's, else the first a
/// node gave).
fn identify(
    names: &[&str],
    direct: &[Answer],
    lb_list: &Answer,
    lists: &[Answer],
) -> identity::Resolved {
    let said: Vec<(String, identity::Said)> = names
        .iter()
        .zip(direct)
        .map(|(name, a)| {
            let said = identity::said_by(a.as_ref().map(|(s, _)| *s), || {
                serde_json::from_value::<PingBody>(
                    a.as_ref().map_or(Value::Null, |(_, b)| b.clone()),
                )
            });
            (name.to_string(), said)
        })
        .collect();
    // Without a list there is nothing to match against; node_list_agrees
    // says so on its own.
    match node_list(lb_list).or_else(|| lists.iter().find_map(node_list)) {
        Some(listed) => identity::resolve(&said, &listed),
        None => identity::Resolved::default(),
    }
}

/// The nodes agree on the node list, and it is the target's: each target
/// node answers ping as a different node of the list, and the list has no
/// node the target leaves out; the mapping a run would use.
fn node_list_agrees(
    names: &[&str],
    lists: &[Answer],
    resolved: &identity::Resolved,
) -> CheckResult {
    let mut seen: BTreeMap<BTreeSet<String>, Vec<&str>> = BTreeMap::new();
    let mut unanswered = Vec::new();
    for (name, a) in names.iter().zip(lists) {
        match a {
            Ok((200, body)) => match listed_names(body) {
                Some(list) => seen.entry(list).or_default().push(name),
                None => unanswered.push(format!("{name}: not a list of named nodes")),
            },
            other => unanswered.push(format!("{name}: {}", describe(other))),
        }
    }
    let mut problems = Vec::new();
    if seen.len() > 1 {
        problems.push(format!(
            "the nodes disagree on the node list: {}",
            seen.iter()
                .map(|(list, by)| format!(
                    "{} see {}",
                    by.join(", "),
                    list.iter().cloned().collect::<Vec<_>>().join(", ")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    // A node that did not answer its ping is ping_direct's to report.
    problems.extend(
        resolved
            .problems
            .iter()
            .filter(|p| !resolved.silent.contains(p))
            .cloned(),
    );
    let (verdict, detail) = if !problems.is_empty() {
        (Verdict::Fail, problems.join("; "))
    } else if seen.is_empty() {
        (
            Verdict::Unknown,
            format!("no node listed the nodes: {}", unanswered.join("; ")),
        )
    } else if !unanswered.is_empty() || resolved.identities.len() < names.len() {
        (
            Verdict::Unknown,
            format!(
                "the nodes that answered agree; no list or ping from {}",
                unanswered
                    .iter()
                    .cloned()
                    .chain(resolved.problems.iter().cloned())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
    } else {
        (
            Verdict::Pass,
            format!(
                "every node lists the same {} nodes, and each target node is a different one of them: {}",
                seen.keys().next().map_or(0, BTreeSet::len),
                resolved
                    .identities
                    .iter()
                    .map(|i| format!("{} is {} ({})", i.node, i.name, i.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    };
    result(
        "node_list_agrees",
        verdict,
        detail,
        json!({
            "unanswered": unanswered,
            "identities": resolved.identities,
            "offline_unclaimed": resolved.offline_unclaimed.iter().map(identity::describe).collect::<Vec<_>>(),
        }),
    )
}

/// Which target node served a ping through the LB: the mapping where
/// the cluster's list gave one, else what each node's own ping says it is,
/// so that the LB's spread is judged even when the list cannot be read.
fn spread_map(names: &[&str], direct: &[Answer], resolved: &identity::Resolved) -> NodeMap {
    let mut ids = resolved.identities.clone();
    for (node, a) in names.iter().zip(direct) {
        if ids.iter().any(|i| i.node == *node) {
            continue;
        }
        if let Ok((_, body)) = a
            && let Ok(said) = serde_json::from_value::<PingBody>(body.clone())
        {
            ids.push(crate::history::NodeIdentity {
                node: node.to_string(),
                id: said.id.unwrap_or_default(),
                name: said.name.unwrap_or_default(),
            });
        }
    }
    NodeMap::new(ids)
}

/// The target nodes that answered their own ping with 200.
fn healthy(names: &[&str], direct: &[Answer]) -> BTreeSet<String> {
    names
        .iter()
        .zip(direct)
        .filter(|(_, a)| matches!(a, Ok((200, _))))
        .map(|(n, _)| n.to_string())
        .collect()
}

/// The target node (else the cluster's own name) that served a ping
/// through the LB.
fn served_by(map: &NodeMap, a: &Answer) -> Option<String> {
    let Ok((200, body)) = a else { return None };
    let said = serde_json::from_value::<PingBody>(body.clone())
        .ok()?
        .names()?;
    Some(match map.node_of(&said) {
        Some(node) => node.to_string(),
        None => format!("{said} (not in the target)"),
    })
}

/// Pings whose bodies leave out `Version` (not every cluster puts it
/// there), with the node list's `Version` for that node put in.
fn with_versions(
    names: &[&str],
    mut direct: Vec<Answer>,
    resolved: &identity::Resolved,
    list: &Answer,
) -> Vec<Answer> {
    let Ok((200, Value::Array(listed))) = list else {
        return direct;
    };
    for (name, a) in names.iter().zip(direct.iter_mut()) {
        let Ok((_, body)) = a else { continue };
        if field(body, "Version").is_some() || !body.is_object() {
            continue;
        }
        let listed_version = resolved
            .identities
            .iter()
            .find(|i| i.node == *name)
            .and_then(|i| {
                listed
                    .iter()
                    .find(|n| field(n, "Id") == Some(i.id.as_str()))
            })
            .and_then(|n| field(n, "Version"));
        if let Some(v) = listed_version {
            body["Version"] = Value::String(v.to_string());
        }
    }
    direct
}

/// The healthy nodes no ping through the LB reached. Two entries that are
/// one node (node_list_agrees's to report) are reached together.
fn unseen(healthy: &BTreeSet<String>, map: &NodeMap, through_lb: &[Answer]) -> Vec<String> {
    let served: BTreeSet<String> = through_lb
        .iter()
        .filter_map(|a| served_by(map, a))
        .collect();
    let same = |a: &str, b: &str| match (map.identity(a), map.identity(b)) {
        (Some(x), Some(y)) => x.id == y.id && x.name == y.name,
        _ => a == b,
    };
    healthy
        .iter()
        .filter(|h| !served.iter().any(|s| same(h, s)))
        .cloned()
        .collect()
}

fn lb_spreads(
    names: &[&str],
    direct: &[Answer],
    map: &NodeMap,
    through_lb: &[Answer],
) -> CheckResult {
    let healthy = healthy(names, direct);
    let mut served: BTreeMap<String, u32> = BTreeMap::new();
    for node in through_lb.iter().filter_map(|a| served_by(map, a)) {
        *served.entry(node).or_default() += 1;
    }
    let missing = unseen(&healthy, map, through_lb);
    let (verdict, detail) = if healthy.is_empty() {
        (
            Verdict::Unknown,
            format!("no node of {} answered 200 directly", names.len()),
        )
    } else if missing.is_empty() {
        (
            Verdict::Pass,
            format!(
                "{} pings through the LB reached every healthy node: {}",
                through_lb.len(),
                served
                    .iter()
                    .map(|(n, c)| format!("{} {c}", map.label(n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else {
        (
            Verdict::Fail,
            format!(
                "{} pings through the LB never reached {}, which answer 200 directly",
                through_lb.len(),
                missing
                    .iter()
                    .map(|n| map.label(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    };
    result(
        "lb_spreads",
        verdict,
        detail,
        json!({ "served": served, "healthy": healthy }),
    )
}

/// No node is draining or offline, but for an offline record no target
/// node is (a retired machine's), which the run leaves alone too.
fn no_unexpected_drain(list: &Answer, map: &NodeMap, retired: &[NodeBody]) -> CheckResult {
    let Ok((200, body)) = list else {
        return result(
            "no_unexpected_drain",
            Verdict::Unknown,
            format!("no node list through the LB: {}", describe(list)),
            json!({}),
        );
    };
    let Some(list) = body.as_array().filter(|l| !l.is_empty()) else {
        return result(
            "no_unexpected_drain",
            Verdict::Unknown,
            "the node list through the LB is empty or not a list".into(),
            json!({}),
        );
    };
    let mut problems = Vec::new();
    let mut left_alone = Vec::new();
    for n in list {
        let said = field(n, "Name").unwrap_or("?");
        if let Some(r) = retired
            .iter()
            .find(|r| Some(r.id.as_str()) == field(n, "Id"))
        {
            left_alone.push(identity::describe(r));
            continue;
        }
        // The target's name for it first, where the run knows it.
        let name = match map
            .node_of(said)
            .or_else(|| field(n, "Id").and_then(|i| map.node_of(i)))
        {
            Some(node) if node != said => format!("{node} ({said})"),
            _ => said.to_string(),
        };
        if n.get("IsInMaintenanceMode").and_then(Value::as_bool) == Some(true) {
            problems.push(format!("{name} is draining"));
        }
        if n.get("IsOffline").and_then(Value::as_bool) == Some(true) {
            problems.push(format!("{name} is offline"));
        }
    }
    let detail = match (problems.is_empty(), left_alone.is_empty()) {
        (true, true) => "no node is draining or offline".to_string(),
        (true, false) => format!(
            "no node of the target is draining or offline; the cluster also lists {}, offline and no target node's",
            left_alone.join(", ")
        ),
        (false, _) => problems.join("; "),
    };
    result(
        "no_unexpected_drain",
        pass_or_fail(&problems),
        detail,
        json!({ "problems": problems, "offline_unclaimed": left_alone }),
    )
}

fn polling_endpoints(
    probes: &[(String, String, Result<crate::history::PollingProbe, String>)],
    expected: Option<&str>,
) -> CheckResult {
    let mut problems = Vec::new();
    let mut seen = BTreeMap::new();
    for (node, addr, p) in probes {
        let p = match p {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("{node}: {e}"));
                continue;
            }
        };
        seen.insert(node.clone(), p.thumbprint.clone());
        match (&p.error, &p.thumbprint, expected) {
            (Some(e), _, _) => problems.push(format!("{node} ({addr}): {e}")),
            (None, Some(t), Some(want)) if !t.eq_ignore_ascii_case(want) => problems.push(format!(
                "{node} ({addr}) served thumbprint {t}, not the server's {want}"
            )),
            (None, None, _) => problems.push(format!("{node} ({addr}): no certificate")),
            _ => {}
        }
    }
    let verdict = if !problems.is_empty() {
        Verdict::Fail
    } else if expected.is_none() {
        Verdict::Unknown
    } else {
        Verdict::Pass
    };
    let detail = match (verdict, expected) {
        (Verdict::Fail, _) => problems.join("; "),
        (_, None) => {
            "every polling endpoint answered, but the server's thumbprint could not be read".into()
        }
        (_, Some(t)) => format!(
            "all {} polling endpoints serve thumbprint {t}",
            probes.len()
        ),
    };
    result(
        "polling_endpoints",
        verdict,
        detail,
        json!({ "thumbprints": seen, "expected": expected }),
    )
}

mod drain;

pub use drain::DrainTrial;

#[cfg(test)]
mod tests;
