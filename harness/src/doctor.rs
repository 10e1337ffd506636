//! `harness doctor`: a read-only preflight of a target cluster, in seconds,
//! for the cheapest nightly gate. Every request is a GET; nothing is
//! created, changed or deleted.
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
use crate::cluster::api::PING_PATH;
use crate::history::{Clock, Events};
use crate::target::TargetFile;

/// Deadline of each request: a node that does not answer in this time is
/// as good as down for a preflight.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

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

/// Runs every check against the target.
pub async fn run(t: &TargetFile, key: ApiKey) -> Result<DoctorReport, String> {
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
    let lists = join_all(
        nodes
            .iter()
            .map(|(_, c)| get(c, "/api/octopusservernodes/all")),
    );
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
        get(&lb, "/api/octopusservernodes/all"),
        get(&lb, "/api/configuration/certificates/certificate-global"),
        polling,
    );
    let expected_thumbprint = match &certificate {
        Ok((200, v)) => v
            .get("Thumbprint")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    };

    let names: Vec<&str> = nodes.iter().map(|(n, _)| n.as_str()).collect();
    let mut checks = vec![
        ping_direct(&names, &direct),
        ping_via_lb(&through_lb),
        api_key(&t.api_key_env.value, &lb_list),
        same_version(&names, &direct),
        node_list_agrees(&names, &lists),
        lb_spreads(&names, &direct, &through_lb),
        no_unexpected_drain(&lb_list),
    ];
    checks.push(polling_endpoints(&polling, expected_thumbprint.as_deref()));
    let reachable = direct.iter().chain(&through_lb).any(Result::is_ok);
    Ok(DoctorReport {
        target: t.name.value.clone(),
        verdict: Verdict::merge(checks.iter().map(|c| c.verdict)),
        checks,
        duration_s: begun.elapsed().as_secs_f64(),
        reachable,
    })
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
    let bad: Vec<String> = pings
        .iter()
        .filter(|a| !matches!(a, Ok((200, _))))
        .map(describe)
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

fn listed_names(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| field(n, "Name").map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn node_list_agrees(names: &[&str], lists: &[Answer]) -> CheckResult {
    let mut seen: BTreeMap<BTreeSet<String>, Vec<&str>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, a) in names.iter().zip(lists) {
        match a {
            Ok((200, body)) => seen.entry(listed_names(body)).or_default().push(name),
            other => problems.push(format!("{name}: {}", describe(other))),
        }
    }
    let (verdict, detail) = match seen.len() {
        0 => (
            Verdict::Unknown,
            format!("no node listed the nodes: {}", problems.join("; ")),
        ),
        1 if problems.is_empty() => (
            Verdict::Pass,
            format!(
                "every node lists the same {} nodes",
                seen.keys().next().map_or(0, BTreeSet::len)
            ),
        ),
        1 => (
            Verdict::Unknown,
            format!(
                "the nodes that answered agree; no list from {}",
                problems.join("; ")
            ),
        ),
        _ => (
            Verdict::Fail,
            format!(
                "the nodes disagree on the node list: {}",
                seen.iter()
                    .map(|(list, by)| format!(
                        "{} see {}",
                        by.join(", "),
                        list.iter().cloned().collect::<Vec<_>>().join(", ")
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
    };
    result(
        "node_list_agrees",
        verdict,
        detail,
        json!({ "unanswered": problems }),
    )
}

fn lb_spreads(names: &[&str], direct: &[Answer], through_lb: &[Answer]) -> CheckResult {
    // The nodes' own names, as their pings say them.
    let healthy: BTreeSet<String> = direct
        .iter()
        .filter_map(|a| match a {
            Ok((200, body)) => field(body, "Name").map(str::to_string),
            _ => None,
        })
        .collect();
    let mut served: BTreeMap<String, u32> = BTreeMap::new();
    for a in through_lb {
        if let Ok((200, body)) = a
            && let Some(n) = field(body, "Name")
        {
            *served.entry(n.to_string()).or_default() += 1;
        }
    }
    let missing: Vec<&String> = healthy
        .iter()
        .filter(|n| !served.contains_key(*n))
        .collect();
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
                    .map(|(n, c)| format!("{n} {c}"))
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
                    .map(|s| s.as_str())
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

fn no_unexpected_drain(list: &Answer) -> CheckResult {
    let Ok((200, body)) = list else {
        return result(
            "no_unexpected_drain",
            Verdict::Unknown,
            format!("no node list through the LB: {}", describe(list)),
            json!({}),
        );
    };
    let mut problems = Vec::new();
    for n in body.as_array().into_iter().flatten() {
        let name = field(n, "Name").unwrap_or("?");
        if n.get("IsInMaintenanceMode").and_then(Value::as_bool) == Some(true) {
            problems.push(format!("{name} is draining"));
        }
        if n.get("IsOffline").and_then(Value::as_bool) == Some(true) {
            problems.push(format!("{name} is offline"));
        }
    }
    let detail = if problems.is_empty() {
        "no node is draining or offline".to_string()
    } else {
        problems.join("; ")
    };
    result(
        "no_unexpected_drain",
        pass_or_fail(&problems),
        detail,
        json!({ "problems": problems }),
    )
}

fn polling_endpoints(
    probes: &[(String, String, Result<crate::history::PollingProbe, String>)],
    expected: Option<&str>,
) -> CheckResult {
    if probes.is_empty() {
        return result(
            "polling_endpoints",
            Verdict::Pass,
            "the target lists no polling endpoints; nothing to check".into(),
            json!({}),
        );
    }
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
