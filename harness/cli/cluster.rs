//! `harness cluster up`, `cluster start`, `cluster storage` and `cluster
//! database`: the embedded cluster's settings checked and its folder and
//! key file made here; the serving itself is [`reference_cluster::serve`]'s.

use std::path::Path;

use crate::args::{DatabaseVerb, StorageVerb};
use crate::shared::{cluster_folder, runtime, write_key_file};
use harness::client::ApiKey;
use harness::exit::{Failure, Outcome};
use harness::runner;
use harness::scenario::{self, MAX_NODES};
use reference_cluster::control::{self, ReadyFile, Tidy};
use reference_cluster::{NodeNaming, serve};

/// `cluster up`'s flags.
pub(crate) struct UpArgs<'a> {
    pub(crate) nodes: Option<u32>,
    pub(crate) task_cap: Option<u32>,
    pub(crate) like: Option<&'a Path>,
    pub(crate) naming: NodeNaming,
    pub(crate) out: &'a Path,
    pub(crate) ready_file: Option<&'a Path>,
}

pub(crate) fn up(a: &UpArgs<'_>) -> Result<Outcome, Failure> {
    // Checked before anything starts.
    let ready = a
        .ready_file
        .map(ReadyFile::prepare)
        .transpose()
        .map_err(Failure::invalid)?;
    let spec = cluster_spec(a)?;
    let rt = runtime()?;
    rt.block_on(async move {
        // Caught from the start: a signal before the handler is in place
        // would end the process at once and leave the socket and PID files.
        let stop = runner::interrupts();
        let dir = cluster_folder(a.out, "cluster-up").map_err(Failure::environment)?;
        let key_file = dir.join("api-key");
        // Whatever way this ends, the files that only a running cluster
        // may have go with it.
        let tidy = Tidy::new(&dir, &key_file, ready);
        let key = ApiKey::generate().map_err(Failure::environment)?;
        // The key goes to a file only the user can read, never to the
        // terminal or a log.
        write_key_file(&key_file, &key)?;
        let spec = harness::embedded::spec_of(&spec);
        let up = serve::Up {
            spec: &spec,
            naming: a.naming,
            dir: &dir,
            key_file: &key_file,
            key,
        };
        serve::serve(up, tidy, stop)
            .await
            .map_err(Failure::environment)?;
        Ok(Outcome::Pass)
    })
}

/// The cluster `--like`, `--nodes` and `--task-cap` describe, with polling
/// listeners.
fn cluster_spec(a: &UpArgs<'_>) -> Result<scenario::Cluster, Failure> {
    let mut spec = match a.like {
        Some(file) => {
            scenario::load(file)
                .map_err(|e| Failure::invalid(e.to_string()))?
                .scenario
                .cluster
        }
        None => scenario::Cluster::default(),
    };
    if let Some(n) = a.nodes {
        if n == 0 || n > MAX_NODES {
            return Err(Failure::invalid(format!(
                "--nodes must be from 1 to {MAX_NODES}, not {n}"
            )));
        }
        spec.nodes.value = n;
    }
    if let Some(cap) = a.task_cap {
        spec.task_cap = cap;
    }
    // Polling listeners too, so the cluster is a whole target: doctor
    // probes them and a fleet can poll them.
    if spec.polling.is_none() {
        spec.polling = Some(scenario::PollingListeners {
            layout: scenario::spanned(scenario::PollingLayout::UniqueAddress),
            poll_wait: scenario::spanned("30s".parse().expect("a valid duration")),
            pickup_timeout: scenario::spanned("2m".parse().expect("a valid duration")),
        });
    }
    Ok(spec)
}

/// `cluster start`: asks a running `cluster up` to start a node.
pub(crate) fn start(dir: &Path, node: &str) -> Result<Outcome, Failure> {
    asked(runtime()?.block_on(control::request_start(dir, node)))
}

/// `cluster database`: asks a running `cluster up` to take its database
/// away or give it back.
pub(crate) fn database(dir: &Path, verb: DatabaseVerb) -> Result<Outcome, Failure> {
    let verb = match verb {
        DatabaseVerb::Outage => "outage",
        DatabaseVerb::Restore => "restore",
        DatabaseVerb::Failover => "failover",
    };
    asked(runtime()?.block_on(control::request_database(dir, verb)))
}

/// `cluster storage`: asks a running `cluster up` to take its store away
/// from a node or give it back.
pub(crate) fn storage(dir: &Path, node: &str, verb: StorageVerb) -> Result<Outcome, Failure> {
    let verb = match verb {
        StorageVerb::Outage => "outage",
        StorageVerb::Restore => "restore",
    };
    asked(runtime()?.block_on(control::request_storage(dir, node, verb)))
}

/// A control request's answer as the command's outcome: a wrong request
/// is the user's (exit 2), anything else the cluster's (exit 3).
fn asked(answer: Result<(), control::StartError>) -> Result<Outcome, Failure> {
    match answer {
        Ok(()) => Ok(Outcome::Pass),
        Err(control::StartError::Invalid(e)) => Err(Failure::invalid(e)),
        Err(control::StartError::Failed(e)) => Err(Failure::environment(e)),
    }
}
