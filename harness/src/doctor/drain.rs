//! `harness doctor --allow-disruptive`: whether the LB takes a drained node
//! out of rotation, tried on one node. The node is drained through the
//! API, as an operator would; once the cluster reports it in maintenance
//! mode and its own ping answers 418, pings go through the LB until 20 in
//! a row came from the other nodes; and whatever happened, Ctrl-C
//! included, the node is undrained and its ping seen to answer 200 again.
//! The capacity search's drains and a rolling maintenance rely on the LB
//! doing this (docs/targets.md, "harness doctor").

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::json;

use crate::check::{CheckResult, Verdict};
use crate::client::ApiClient;
use crate::fault::{OUT_OF_LB_PINGS, confirm_one_drained, confirm_out_of_lb};
use crate::history::NodeMap;

/// What the trial may take, and what stops it.
pub struct DrainTrial {
    /// How long the cluster may take to confirm the drain, and then the
    /// LB to stop sending the node requests; and the node its ping of 200
    /// once undrained.
    pub within: Duration,
    /// Resolves, with a reason, when the trial must stop (Ctrl-C): the
    /// node is undrained all the same.
    pub stop: Pin<Box<dyn Future<Output = String> + Send>>,
}

/// Time between two looks at an undrained node's ping.
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// The check `lb_honours_drain`: one node drained and undrained, as the
/// module says. `nodes` are the target's, in its order, each with a client
/// at its own URL; the last that answered ping 200 (`healthy`) and that
/// `ids` knows is tried, and at least one other must serve meanwhile.
pub(super) async fn lb_honours_drain(
    lb: &ApiClient,
    nodes: &[(String, ApiClient)],
    healthy: &BTreeSet<String>,
    ids: &NodeMap,
    trial: DrainTrial,
) -> CheckResult {
    let known = |n: &&(String, ApiClient)| healthy.contains(&n.0) && ids.identity(&n.0).is_some();
    let serving = nodes.iter().filter(known).count();
    let Some((node, own)) = nodes.iter().rev().find(known).filter(|_| serving >= 2) else {
        return result(
            Verdict::Unknown,
            format!(
                "not tried: it needs two nodes serving whose identity the cluster confirms, and {serving} are"
            ),
            json!({ "serving": serving }),
        );
    };
    let id = ids.identity(node).map_or("", |i| i.id.as_str());
    // Someone may have drained it since the read-only checks: theirs to
    // undo, not the trial's.
    match lb.node(id).await {
        Ok(n) if !n.is_in_maintenance_mode => {}
        seen => {
            return result(
                Verdict::Unknown,
                format!(
                    "not tried: {node} {}",
                    seen.map_or_else(
                        |e| format!("could not be read ({e})"),
                        |_| "was drained by someone else meanwhile".to_string()
                    )
                ),
                json!({ "node": node, "id": id }),
            );
        }
    }
    // Said first: a second Ctrl-C ends the harness at once, undrain or not.
    eprintln!(
        "doctor: draining {node} ({id}) to see whether the LB takes it out; it is undrained at the end (if this is cut short, take {id} out of maintenance mode yourself)"
    );
    let mut stop = trial.stop;
    let tried = tokio::select! {
        // A stop already asked for wins: no drain then.
        biased;
        why = &mut stop => {
            eprintln!("doctor: {why}: undraining {node}");
            None
        }
        r = take_out(lb, ids, (node, id), own, trial.within) => Some(r),
    };
    // Undrained whatever happened: a drain whose answer was lost may have
    // been done.
    let undone = undrain(lb, (node, id), own, trial.within).await;
    let evidence = json!({ "node": node, "id": id, "pings_in_a_row": OUT_OF_LB_PINGS });
    match (tried, undone) {
        (_, Err(e)) => result(
            Verdict::Fail,
            format!("{node} may still be drained: {e}; take {id} out of maintenance mode yourself"),
            evidence,
        ),
        (None, Ok(())) => result(
            Verdict::Unknown,
            format!("stopped before the LB was seen to take {node} out; {node} undrained"),
            evidence,
        ),
        (Some(Ok(took)), Ok(())) => result(
            Verdict::Pass,
            format!(
                "drained {node}; {OUT_OF_LB_PINGS} pings in a row through the LB then came from the other nodes, within {:.1}s; {node} undrained",
                took.as_secs_f64()
            ),
            evidence,
        ),
        (Some(Err(e)), Ok(())) => result(Verdict::Fail, format!("{e}; {node} undrained"), evidence),
    }
}

/// Drains the node, waits for the cluster to confirm it and the LB to
/// stop sending it requests; gives how long the LB took from the confirmed
/// drain.
async fn take_out(
    lb: &ApiClient,
    ids: &NodeMap,
    (node, id): (&str, &str),
    own: &ApiClient,
    within: Duration,
) -> Result<Duration, String> {
    lb.set_drain(id, true)
        .await
        .map_err(|e| format!("draining {node} failed: {e}"))?;
    confirm_one_drained(lb, (node, id), own, tokio::time::Instant::now() + within).await?;
    let confirmed = tokio::time::Instant::now();
    confirm_out_of_lb(lb, ids, node, within).await?;
    Ok(confirmed.elapsed())
}

/// Takes the node out of maintenance mode and waits, within `within`, for
/// its own ping to answer 200 again, undraining it again while it answers
/// 418: a drain cut short may land after the first undrain.
async fn undrain(
    lb: &ApiClient,
    (node, id): (&str, &str),
    own: &ApiClient,
    within: Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + within;
    let mut put = lb.set_drain(id, false).await;
    loop {
        let ping = own.ping_status(within.min(Duration::from_secs(2))).await;
        if ping == Some(200) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            put.map_err(|e| format!("undraining {node} failed: {e}"))?;
            return Err(format!(
                "{node} was undrained, but {} later its own ping answers {}",
                humantime::format_duration(within),
                ping.map_or_else(|| "nothing".to_string(), |p| p.to_string())
            ));
        }
        tokio::time::sleep(LOOK_EVERY).await;
        if ping == Some(418) || put.is_err() {
            put = lb.set_drain(id, false).await;
        }
    }
}

fn result(verdict: Verdict, detail: String, evidence: serde_json::Value) -> CheckResult {
    CheckResult {
        name: "lb_honours_drain".to_string(),
        kind: "lb_honours_drain".to_string(),
        verdict,
        detail,
        evidence,
    }
}
