//! Which cluster node each of the run's nodes is.
//!
//! A target file names its nodes as its author likes (`n1`, `web-a`), and
//! a scenario names the embedded cluster's nodes `n1`, `n2`, ...; the
//! cluster itself names them by host (`OCTOPUS01`) and by an Id
//! (`OctopusServerNodes-…`). Nothing about one can be assumed from the
//! other. So before a run disrupts anything, and in `harness doctor`, each
//! node is asked who it is (its own ping body, which carries its `Id` and
//! `Name`) and the answer is matched against the cluster's node list. The
//! one mapping that comes out names every node in every event, fault,
//! check and report; a node that answers as no listed node, two entries
//! that answer as the same node, or a listed node that no entry covers is
//! an error before anything is disrupted.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::Method;

use crate::client::ApiClient;
use crate::history::NodeIdentity;
use reference_cluster::api::{NodeBody, PING_PATH, PingBody};

/// Deadline of each request while nodes are asked who they are.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// What a node's ping said about itself, or why it said nothing.
pub type Said = Result<PingBody, String>;

/// The mapping and what stands in its way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    /// One entry per node that said who it is and is listed.
    pub identities: Vec<NodeIdentity>,
    /// Why the mapping cannot be trusted; empty when it can.
    pub problems: Vec<String>,
    /// Of the problems, the nodes that did not answer at all (a preflight
    /// reports those under their ping).
    pub silent: Vec<String>,
    /// Listed nodes no entry covers that the cluster itself reports
    /// offline (a node record left behind by a machine long gone): said,
    /// not an error.
    pub offline_unclaimed: Vec<NodeBody>,
}

/// A listed node, as reports name it: its Name and Id.
pub fn describe(n: &NodeBody) -> String {
    if n.name.is_empty() {
        n.id.clone()
    } else {
        format!("{} ({})", n.name, n.id)
    }
}

/// The listed node a ping body names: by its Id where the body gives one,
/// else by its Name, exactly or (Windows host names being caseless)
/// differing only in case when one node alone matches. A body whose Id the
/// list does not hold is no node of it, whatever its Name: two clusters
/// may well both have an `OCTOPUS01`.
fn find<'a>(said: &PingBody, listed: &'a [NodeBody]) -> Option<&'a NodeBody> {
    if let Some(id) = said.id.as_deref() {
        return listed.iter().find(|n| n.id.eq_ignore_ascii_case(id));
    }
    let name = said.name.as_deref()?;
    if let Some(n) = listed.iter().find(|n| n.name == name) {
        return Some(n);
    }
    let mut folded = listed.iter().filter(|n| n.name.eq_ignore_ascii_case(name));
    match (folded.next(), folded.next()) {
        (Some(n), None) => Some(n),
        _ => None,
    }
}

/// A ping body with empty fields as absent ones.
fn tidy(b: &PingBody) -> PingBody {
    let keep = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    PingBody {
        id: keep(&b.id),
        name: keep(&b.name),
    }
}

/// Matches what each node said against the node list.
pub fn resolve(said: &[(String, Said)], listed: &[NodeBody]) -> Resolved {
    let mut r = Resolved::default();
    let mut all_said = true;
    for (node, answer) in said {
        let body = match answer.as_ref().map(tidy) {
            Ok(b) if b.name.is_some() || b.id.is_some() => b,
            Ok(_) => {
                all_said = false;
                r.problems.push(format!(
                    "{node}'s ping body names no node (it has neither Id nor Name)"
                ));
                continue;
            }
            Err(e) => {
                all_said = false;
                let why = format!("{node} did not say which node it is: {e}");
                r.silent.push(why.clone());
                r.problems.push(why);
                continue;
            }
        };
        match find(&body, listed) {
            Some(l) => r.identities.push(NodeIdentity {
                node: node.clone(),
                id: l.id.clone(),
                name: l.name.clone(),
            }),
            None => {
                let as_what = match (&body.name, &body.id) {
                    (Some(n), Some(i)) => format!("{n} ({i})"),
                    (Some(n), None) => n.clone(),
                    (None, Some(i)) => i.clone(),
                    (None, None) => String::new(),
                };
                r.problems.push(format!(
                    "{node} answers ping as {as_what}, which the cluster's node list does not hold ({})",
                    if listed.is_empty() {
                        "it lists no node".to_string()
                    } else {
                        format!(
                            "it lists {}",
                            listed.iter().map(describe).collect::<Vec<_>>().join(", ")
                        )
                    }
                ));
            }
        }
    }
    // Two entries that are one node: disrupting "both" would disrupt one
    // node twice and leave another untouched.
    let mut seen: Vec<(&str, Vec<&str>)> = Vec::new();
    for i in &r.identities {
        match seen.iter_mut().find(|(id, _)| *id == i.id) {
            Some((_, nodes)) => nodes.push(&i.node),
            None => seen.push((&i.id, vec![&i.node])),
        }
    }
    let mut twice = Vec::new();
    for (id, nodes) in &seen {
        if nodes.len() > 1 {
            let name = listed
                .iter()
                .find(|n| n.id == *id)
                .map_or_else(|| id.to_string(), describe);
            twice.push(format!(
                "{} all answer ping as {name}: the target lists one node more than once",
                nodes.join(", ")
            ));
        }
    }
    r.problems.extend(twice);
    // Only when every entry said who it is: a silent one may be the node
    // that looks left out.
    if all_said {
        for n in listed {
            if r.identities.iter().any(|i| i.id == n.id) {
                continue;
            }
            if n.is_offline {
                r.offline_unclaimed.push(n.clone());
            } else {
                r.problems.push(format!(
                    "the cluster lists {}, which no node of the target is: a run would neither disrupt nor judge it (add it to the target file)",
                    describe(n)
                ));
            }
        }
    }
    r
}

/// What a ping answer says about the node that gave it: its status, and
/// its body parsed by `parse`.
pub fn said_by<E: std::fmt::Display>(
    answer: Result<u16, &String>,
    parse: impl FnOnce() -> Result<PingBody, E>,
) -> Said {
    match answer {
        // A drained node answers 418 with its resource all the same.
        Ok(200 | 418) => parse().map_err(|e| format!("its ping body is not a node ({e})")),
        Ok(status) => Err(format!("it answered ping with {status}")),
        Err(e) => Err(e.clone()),
    }
}

/// How long learning who is who may take in all: every request has its own
/// deadline, and this bounds the lot.
const LEARN_WITHIN: Duration = Duration::from_secs(30);

/// What the cluster told the run about its nodes.
#[derive(Debug, Clone)]
pub struct Learnt {
    /// Which cluster node each of the run's nodes is.
    pub identities: Vec<NodeIdentity>,
    /// The node list as the cluster gave it.
    pub listed: Vec<NodeBody>,
    /// Listed nodes the cluster reports offline that no entry covers.
    pub offline_unclaimed: Vec<String>,
}

/// Asks every node who it is and the cluster (through the LB, else
/// through any node) for its node list, and matches the two, within
/// [`LEARN_WITHIN`]. An error names every problem.
pub async fn learn(nodes: &[(String, ApiClient)], lb: &ApiClient) -> Result<Learnt, String> {
    tokio::time::timeout(LEARN_WITHIN, learn_now(nodes, lb))
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "the cluster did not say which node is which within {}s",
                LEARN_WITHIN.as_secs()
            ))
        })
}

async fn learn_now(nodes: &[(String, ApiClient)], lb: &ApiClient) -> Result<Learnt, String> {
    let pings = join_all(nodes.iter().map(|(_, c)| async move {
        c.call(Method::GET, PING_PATH, None, ASK_TIMEOUT)
            .await
            .map_err(|e| e.message)
    }));
    let (pings, from_lb) = tokio::join!(pings, lb.nodes());
    let listed = match from_lb {
        Ok(l) => l,
        // Any node's list will do; asked all at once.
        Err(lb_error) => join_all(nodes.iter().map(|(_, c)| c.nodes()))
            .await
            .into_iter()
            .find_map(Result::ok)
            .ok_or_else(|| format!("the cluster's node list could not be read: {lb_error}"))?,
    };
    let said: Vec<(String, Said)> = nodes
        .iter()
        .zip(&pings)
        .map(|((node, _), answer)| {
            let said = said_by(answer.as_ref().map(|(s, _)| *s), || {
                serde_json::from_slice::<PingBody>(answer.as_ref().map_or(&[][..], |(_, b)| b))
            });
            (node.clone(), said)
        })
        .collect();
    let r = resolve(&said, &listed);
    if !r.problems.is_empty() {
        return Err(format!(
            "the target's nodes are not the cluster's: {}",
            r.problems.join("; ")
        ));
    }
    Ok(Learnt {
        identities: r.identities,
        listed,
        offline_unclaimed: r.offline_unclaimed.iter().map(describe).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(nodes: &[(&str, &str, bool)]) -> Vec<NodeBody> {
        nodes
            .iter()
            .map(|(id, name, offline)| NodeBody {
                id: id.to_string(),
                name: name.to_string(),
                max_concurrent_tasks: 5,
                is_in_maintenance_mode: false,
                is_offline: *offline,
                running_task_count: None,
            })
            .collect()
    }

    fn ping(id: Option<&str>, name: Option<&str>) -> Said {
        Ok(PingBody {
            id: id.map(str::to_string),
            name: name.map(str::to_string),
        })
    }

    const CLUSTER: [(&str, &str, bool); 2] = [
        ("OctopusServerNodes-a1", "OCTOPUS01", false),
        ("OctopusServerNodes-b2", "OCTOPUS02", false),
    ];

    #[test]
    fn nodes_are_matched_by_id_then_name_then_name_in_any_case() {
        let said = vec![
            (
                "web-a".to_string(),
                ping(Some("OctopusServerNodes-b2"), Some("x")),
            ),
            ("web-b".to_string(), ping(None, Some("octopus01"))),
        ];
        let r = resolve(&said, &listed(&CLUSTER));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(
            r.identities,
            [
                NodeIdentity {
                    node: "web-a".into(),
                    id: "OctopusServerNodes-b2".into(),
                    name: "OCTOPUS02".into()
                },
                NodeIdentity {
                    node: "web-b".into(),
                    id: "OctopusServerNodes-a1".into(),
                    name: "OCTOPUS01".into()
                },
            ]
        );
    }

    #[test]
    fn a_stranger_a_node_listed_twice_and_a_node_left_out_are_each_named() {
        let three = [
            ("OctopusServerNodes-a1", "OCTOPUS01", false),
            ("OctopusServerNodes-b2", "OCTOPUS02", false),
            ("OctopusServerNodes-c3", "OCTOPUS03", false),
        ];
        let said = vec![
            ("n1".to_string(), ping(None, Some("OCTOPUS01"))),
            ("n2".to_string(), ping(Some("OctopusServerNodes-a1"), None)),
            ("n3".to_string(), ping(Some("X-9"), Some("ELSEWHERE"))),
        ];
        let r = resolve(&said, &listed(&three));
        let all = r.problems.join("\n");
        assert!(
            all.contains(
                "n3 answers ping as ELSEWHERE (X-9), which the cluster's node list does not hold"
            ),
            "{all}"
        );
        assert!(
            all.contains(
                "n1, n2 all answer ping as OCTOPUS01 (OctopusServerNodes-a1): the target lists one node more than once"
            ),
            "{all}"
        );
        for left_out in [
            "OCTOPUS02 (OctopusServerNodes-b2)",
            "OCTOPUS03 (OctopusServerNodes-c3)",
        ] {
            assert!(
                all.contains(&format!(
                    "the cluster lists {left_out}, which no node of the target is"
                )),
                "{all}"
            );
        }
        assert_eq!(r.problems.len(), 4, "{all}");
    }

    #[test]
    fn a_silent_node_hides_nothing_and_an_offline_leftover_is_no_error() {
        let said = vec![
            ("n1".to_string(), ping(None, Some("OCTOPUS01"))),
            ("n2".to_string(), Err("connect error".to_string())),
        ];
        let r = resolve(&said, &listed(&CLUSTER));
        // OCTOPUS02 is not said to be left out: n2 may be it.
        assert_eq!(
            r.problems,
            ["n2 did not say which node it is: connect error"]
        );
        assert_eq!(r.silent, r.problems);
        let with_ghost = [
            ("OctopusServerNodes-a1", "OCTOPUS01", false),
            ("OctopusServerNodes-old", "RETIRED", true),
        ];
        let said = vec![("n1".to_string(), ping(None, Some("OCTOPUS01")))];
        let r = resolve(&said, &listed(&with_ghost));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        let retired: Vec<String> = r.offline_unclaimed.iter().map(describe).collect();
        assert_eq!(retired, ["RETIRED (OctopusServerNodes-old)"]);
        // Two cluster nodes whose names differ only in case are not
        // guessed between.
        let twins = [
            ("OctopusServerNodes-1", "Octo", false),
            ("OctopusServerNodes-2", "OCTO", false),
        ];
        let said = vec![("n1".to_string(), ping(None, Some("octo")))];
        let r = resolve(&said, &listed(&twins));
        assert!(
            r.problems[0].contains("n1 answers ping as octo"),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn a_ping_answer_says_its_node_on_200_and_418_only() {
        let body = br#"{"Id":"OctopusServerNodes-a1","Name":"OCTOPUS01"}"#;
        let parse = |b: &[u8]| serde_json::from_slice::<PingBody>(b);
        for status in [200, 418] {
            let said = said_by(Ok(status), || parse(body)).expect("a node");
            assert_eq!(said.name.as_deref(), Some("OCTOPUS01"));
            assert_eq!(said.id.as_deref(), Some("OctopusServerNodes-a1"));
        }
        assert_eq!(
            said_by(Ok(503), || parse(body)).unwrap_err(),
            "it answered ping with 503"
        );
        let junk = said_by(Ok(200), || parse(b"<html>"));
        assert!(junk.unwrap_err().starts_with("its ping body is not a node"));
        let silent = "GET http://n1/ping: connect error".to_string();
        assert_eq!(said_by(Err(&silent), || parse(body)).unwrap_err(), silent);
    }

    #[test]
    fn an_id_the_list_lacks_is_a_stranger_whatever_its_name_and_empty_fields_name_nothing() {
        // Another cluster's OCTOPUS01: same Name, an Id this one lacks.
        let said = vec![(
            "n1".to_string(),
            ping(Some("OctopusServerNodes-staging"), Some("OCTOPUS01")),
        )];
        let r = resolve(&said, &listed(&CLUSTER[..1]));
        assert!(
            r.problems[0].starts_with(
                "n1 answers ping as OCTOPUS01 (OctopusServerNodes-staging), which the cluster's node list does not hold"
            ),
            "{:?}",
            r.problems
        );
        // An Id in another case is the same Id.
        let said = vec![("n1".to_string(), ping(Some("octopusservernodes-A1"), None))];
        assert!(resolve(&said, &listed(&CLUSTER[..1])).problems.is_empty());
        let said = vec![("n1".to_string(), ping(Some(" "), Some("")))];
        let r = resolve(&said, &listed(&CLUSTER[..1]));
        assert_eq!(
            r.problems,
            ["n1's ping body names no node (it has neither Id nor Name)"]
        );
        assert!(r.silent.is_empty());
    }
}
