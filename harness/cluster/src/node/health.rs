//! The `Health` task on a reference node: for each target machine, the
//! calls Octopus's Tentacle client makes to run a script, through this
//! node's polling queue (docs/halibut.md, "Tentacle services for a health
//! check"): `GetCapabilities`, `StartScript`, `GetStatus` until complete
//! (backing off from 300 ms by ×1.4 up to 5 s, as for polling Tentacles),
//! then `CompleteScript`.
//!
//! The task runs on whichever node claims it; `PinnedNode` in its
//! arguments keeps it on one node, so a run can exercise every node. Each
//! machine's outcome is one log line the harness reads back:
//! `HEALTH <machine> ok rtt_us=<a>,<b>,...` or `HEALTH <machine> failed
//! rtt_us=<a>,... <why>`, the round trips of the calls made in µs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::state::Node;
use crate::db::MachineRow;
use crate::polling::Polling;
use halibut::services::{self, CAPABILITIES, SCRIPT_V2, ScriptStatus};
use halibut::{Bson, Request};

/// Machines checked at once. Octopus's default machine policy checks
/// about ten at a time; the harness checks fleets of a thousand, so more.
const PARALLEL: usize = 64;

/// Most `GetStatus` calls for one script before the check gives up.
const MAX_STATUS_CALLS: u32 = 1000;

/// The prefix of each machine's log line.
pub const LINE_PREFIX: &str = "HEALTH ";

/// Runs a health task; returns the error that fails it, if any.
pub async fn run(
    node: &Arc<Node>,
    task_id: &str,
    arguments: &str,
    log: &(dyn Fn(String) + Sync),
) -> Option<String> {
    let Some(polling) = node.polling.clone() else {
        return Some(
            "this node has no polling listener, so it cannot reach polling Tentacles".into(),
        );
    };
    let machines = match machines(node, arguments) {
        Ok(m) => m,
        Err(e) => return Some(e),
    };
    let limit = Arc::new(Semaphore::new(PARALLEL));
    let mut checks = JoinSet::new();
    for m in machines {
        let polling = polling.clone();
        let limit = limit.clone();
        let ticket = format!("{task_id}-{}", m.seq);
        checks.spawn(async move {
            let _slot = limit.acquire_owned().await;
            let outcome = check(&polling, &m, &ticket).await;
            (m, outcome)
        });
    }
    let mut failed = Vec::new();
    let mut total = 0;
    while let Some(joined) = checks.join_next().await {
        total += 1;
        let Ok((m, (rtts, outcome))) = joined else {
            // A check that panicked reached nobody: it counts as failed.
            failed.push("a machine's check stopped unexpectedly".to_string());
            continue;
        };
        let id = machine_id(m.seq);
        let list: Vec<String> = rtts.iter().map(|d| d.as_micros().to_string()).collect();
        let rtt = format!("rtt_us={}", list.join(","));
        match outcome {
            Ok(()) => log(format!("{LINE_PREFIX}{id} ok {rtt}")),
            Err(why) => {
                log(format!("{LINE_PREFIX}{id} failed {rtt} {why}"));
                failed.push(format!("{id} ({}): {why}", m.name));
            }
        }
    }
    failed.first().map(|first| {
        format!(
            "the health check failed for {} of {total} machines; first: {first}",
            failed.len()
        )
    })
}

/// `Machines-<seq>`.
pub fn machine_id(seq: i64) -> String {
    format!("Machines-{seq}")
}

/// The machines a task names in `MachineIds`, or every one.
fn machines(node: &Node, arguments: &str) -> Result<Vec<MachineRow>, String> {
    let args: Value = serde_json::from_str(arguments).unwrap_or(Value::Null);
    let db = node.db();
    match args.get("MachineIds").and_then(Value::as_array) {
        None => db
            .machines(0, usize::MAX >> 1)
            .map(|(_, rows)| rows)
            .map_err(|e| format!("database error: {e}")),
        Some(ids) => ids
            .iter()
            .map(|id| {
                let text = id.as_str().unwrap_or_default();
                let seq = text
                    .strip_prefix("Machines-")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| format!("{text:?} is not a machine ID"))?;
                db.machine(seq)
                    .map_err(|e| format!("database error: {e}"))?
                    .ok_or_else(|| format!("there is no machine {text}"))
            })
            .collect(),
    }
}

/// The calls of one machine's check, counted and timed.
struct Caller<'a> {
    polling: &'a Polling,
    machine: &'a MachineRow,
    n: u64,
    rtts: Vec<Duration>,
}

impl Caller<'_> {
    async fn call(
        &mut self,
        service: &str,
        method: &str,
        params: Vec<Bson>,
    ) -> Result<Bson, String> {
        self.n += 1;
        let m = self.machine;
        let request: Request =
            services::request(&m.uri, &m.thumbprint, service, method, self.n, params);
        let begun = Instant::now();
        let r = self.polling.call(&m.uri, request).await;
        // A failed call's time counts too: a pick-up timeout is a round
        // trip of two minutes, not a missing one.
        self.rtts.push(begun.elapsed());
        Ok(r.map_err(|e| format!("{service}.{method}: {e}"))?.result)
    }
}

/// One machine's check: the round trip of every call made, and whether
/// it succeeded.
async fn check(
    polling: &Polling,
    machine: &MachineRow,
    ticket: &str,
) -> (Vec<Duration>, Result<(), String>) {
    let mut c = Caller {
        polling,
        machine,
        n: 0,
        rtts: Vec::new(),
    };
    let outcome = calls(&mut c, ticket).await;
    (c.rtts, outcome)
}

/// The calls of a script run, in order.
async fn calls(c: &mut Caller<'_>, ticket: &str) -> Result<(), String> {
    let caps = services::read_capabilities(&c.call(CAPABILITIES, "GetCapabilities", vec![]).await?);
    if !caps.iter().any(|cap| cap == SCRIPT_V2) {
        return Err(format!(
            "the Tentacle does not offer {SCRIPT_V2}; it offers {caps:?}"
        ));
    }
    let started = c
        .call(
            SCRIPT_V2,
            "StartScript",
            vec![services::start_script(ticket, "echo \"health check\"")],
        )
        .await?;
    let mut status = ScriptStatus::from_bson(&started)
        .ok_or("StartScript did not answer with a script status")?;
    let mut wait = Duration::from_millis(300);
    let mut calls = 0;
    while status.state != services::STATE_COMPLETE {
        calls += 1;
        if calls > MAX_STATUS_CALLS {
            return Err(format!(
                "the script was not complete after {MAX_STATUS_CALLS} status calls"
            ));
        }
        tokio::time::sleep(wait).await;
        wait = wait.mul_f64(1.4).min(Duration::from_secs(5));
        let r = c
            .call(
                SCRIPT_V2,
                "GetStatus",
                vec![services::status_request(ticket, status.next_log_sequence)],
            )
            .await?;
        status =
            ScriptStatus::from_bson(&r).ok_or("GetStatus did not answer with a script status")?;
    }
    c.call(
        SCRIPT_V2,
        "CompleteScript",
        vec![services::complete_script(ticket)],
    )
    .await?;
    if status.exit_code != 0 {
        return Err(format!(
            "the health script exited with code {}",
            status.exit_code
        ));
    }
    Ok(())
}
