//! `harness cluster up` once its folder and key file exist: the cluster
//! boots, its PID files, target file and ready file are written, its
//! endpoints printed, and it serves (the LB's rotation and node starts
//! said as they come, `start` requests on the control socket answered)
//! until the process's interrupt watch turns, when it stops and tidies its
//! folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::UnixListener;
use tokio::sync::{mpsc, watch};

use crate::cluster::{EmbeddedCluster, NodeNaming};
use crate::control::{self, TARGET_KEY_ENV, Tidy};
use crate::events::{ClusterEvent, EventSink};
use crate::lb::LB_NAME;
use crate::spec::Spec;
use crate::vocab::ApiKey;

/// What `cluster up` serves: the cluster's spec and naming, its folder,
/// and its API key and the file that holds it.
pub struct Up<'a> {
    /// The cluster: nodes, LB, heartbeats, task queue.
    pub spec: &'a Spec,
    /// How the nodes name themselves to the API.
    pub naming: NodeNaming,
    /// The cluster's folder, absolute.
    pub dir: &'a Path,
    /// The file holding the key, already written.
    pub key_file: &'a Path,
    /// The cluster's API key.
    pub key: ApiKey,
}

/// A cluster booted and listening, its files written.
struct Booted {
    cluster: Arc<EmbeddedCluster>,
    control: UnixListener,
    pids: Vec<(String, u32)>,
    target_file: PathBuf,
}

/// Boots the cluster and serves it until `stop` holds a reason (Ctrl-C or
/// SIGTERM), then stops it; `tidy` removes the files only a running
/// cluster may have, however this ends. Prints "cluster stopped" on a
/// stop; an error is the message to print (the cluster is stopped by
/// then).
pub async fn serve(
    up: Up<'_>,
    mut tidy: Tidy,
    stop: watch::Receiver<Option<String>>,
) -> Result<(), String> {
    let Up {
        spec,
        naming,
        dir,
        key_file,
        key,
    } = up;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let events = EventSink::new(move |e| drop(tx.send(e)));
    let booted = boot(spec, naming, dir, key, events).await?;
    let cluster = &booted.cluster;
    if stop.borrow().is_some() {
        // Interrupted while it booted: it was never ready.
        cluster.shutdown();
        drop(tidy);
        println!("cluster stopped");
        return Ok(());
    }
    if let Some(ready) = tidy.ready()
        && let Err(e) = ready.write(&booted.target_file, key_file, dir)
    {
        cluster.shutdown();
        return Err(e);
    }
    announce(&booted, dir, key_file);
    // Boot's own events are the lines above.
    while rx.try_recv().is_ok() {}
    until_stopped(&booted, dir, &mut rx, stop).await;
    cluster.shutdown();
    drop(tidy);
    println!("cluster stopped");
    Ok(())
}

/// Boots the cluster, listens on its control socket, and writes its PID
/// files and target file.
async fn boot(
    spec: &Spec,
    naming: NodeNaming,
    dir: &Path,
    key: ApiKey,
    events: EventSink,
) -> Result<Booted, String> {
    let cluster = EmbeddedCluster::boot(spec, naming, dir, key, events)
        .await
        .map(Arc::new)
        .map_err(|e| format!("the embedded cluster did not boot: {e}"))?;
    let control = control::listen(dir)?;
    let pids = cluster.pids();
    for (name, pid) in &pids {
        control::write_pid(dir, name, *pid)
            .map_err(|e| format!("failed to write {name}'s process ID: {e}"))?;
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("harness"));
    let target_file = dir.join("target.yaml");
    std::fs::write(&target_file, control::target_yaml(&cluster, dir, &exe))
        .map_err(|e| format!("failed to write {}: {e}", target_file.display()))?;
    Ok(Booted {
        cluster,
        control,
        pids,
        target_file,
    })
}

/// The cluster's endpoints, processes and files, and how to try it.
fn announce(booted: &Booted, dir: &Path, key_file: &Path) {
    let Booted {
        cluster,
        pids,
        target_file,
        ..
    } = booted;
    let lb = cluster.lb_url();
    let pid = |name: &str| pids.iter().find(|(n, _)| n == name).map_or(0, |(_, p)| *p);
    println!(
        "embedded cluster up in {:.2}s; files in {}",
        cluster.boot_time().as_secs_f64(),
        dir.display()
    );
    println!("  lb  {lb} pid {}", pid(LB_NAME));
    for n in cluster.nodes() {
        println!(
            "  {:<3} {} pid {}  Name {}  Id {}",
            n.key(),
            n.url(),
            pid(n.key()),
            n.cluster_name(),
            n.id()
        );
    }
    println!("API key: in {} (not printed)", key_file.display());
    println!("target file: {}", target_file.display());
    println!(
        "  {TARGET_KEY_ENV}=$(cat {}) harness doctor --target {}",
        key_file.display(),
        target_file.display()
    );
    println!("try:");
    println!("  curl -i {lb}/api/octopusservernodes/ping");
    println!(
        "  curl -H \"X-Octopus-ApiKey: $(cat {})\" {lb}/api/octopusservernodes",
        key_file.display()
    );
    println!("Ctrl-C stops the cluster.");
}

/// Says the LB's rotation and node starts as they come, and answers the
/// control socket, until `stop` holds a reason or the events end.
async fn until_stopped(
    booted: &Booted,
    dir: &Path,
    rx: &mut mpsc::UnboundedReceiver<ClusterEvent>,
    stop: watch::Receiver<Option<String>>,
) {
    let starting = Arc::new(tokio::sync::Mutex::new(()));
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(ClusterEvent::LbHealth { node, healthy }) => {
                    println!("lb: {node} {}", if healthy { "back in rotation" } else { "out of rotation" });
                }
                Some(ClusterEvent::NodeUp { node, pid: Some(pid), .. }) => {
                    println!("{node} started, pid {pid}");
                    if let Err(e) = control::write_pid(dir, &node, pid) {
                        eprintln!("error: failed to write {node}'s process ID: {e}");
                    }
                }
                Some(_) => {}
                None => break,
            },
            conn = booted.control.accept() => {
                // Each request on its own, so a slow start holds up
                // neither Ctrl-C nor another node's start.
                if let Ok((stream, _)) = conn {
                    let (cluster, dir, starting) = (booted.cluster.clone(), dir.to_path_buf(), starting.clone());
                    tokio::spawn(async move {
                        control::serve(&cluster, &dir, &starting, stream).await
                    });
                }
            }
            _ = stopped(stop.clone()) => break,
        }
    }
}

/// Resolves once `stop` holds a reason; never, if its sender is gone.
pub async fn stopped(mut stop: watch::Receiver<Option<String>>) {
    if stop.wait_for(Option::is_some).await.is_err() {
        std::future::pending::<()>().await;
    }
}
