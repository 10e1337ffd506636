//! A real cluster as a run drives it: reached at the URLs of its target
//! file and disrupted only by the file's node commands, each run with
//! `sh -c` under the file's time limit. The harness remembers what it did
//! to each node, so that healing knows which command brings it back.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::client::{ApiClient, ApiKey};
use crate::history::{Event, Events, LB_NAME};
use crate::limits::NODE_DOWN_WITHIN;
use reference_cluster::PollingEndpoint;

use super::model::{TargetFile, TargetNode};
use crate::vocab::Trust;

/// The node commands, by the verb scenarios' faults map to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Kill the node's process at once.
    Kill,
    /// Stop it cleanly.
    Stop,
    /// Start it.
    Start,
    /// Freeze it.
    Pause,
    /// Unfreeze it.
    Resume,
}

impl Verb {
    /// As written in target files.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Kill => "kill",
            Verb::Stop => "stop",
            Verb::Start => "start",
            Verb::Pause => "pause",
            Verb::Resume => "resume",
        }
    }
}

/// Which side of a node a partition cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// The LB.
    Lb,
    /// The polling Tentacles.
    Tentacles,
}

/// A partition's two commands: the cut, and its undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Cut the node off.
    Cut,
    /// Join it again.
    Rejoin,
}

impl Side {
    /// The `partition` command's name in target files for `link`.
    pub fn verb(self, link: Link) -> &'static str {
        match (self, link) {
            (Side::Lb, Link::Cut) => "from_lb",
            (Side::Lb, Link::Rejoin) => "rejoin_lb",
            (Side::Tentacles, Link::Cut) => "from_tentacles",
            (Side::Tentacles, Link::Rejoin) => "rejoin_tentacles",
        }
    }
}

/// What the harness left a node in: frozen, down, or both (a frozen
/// container must be unfrozen before it can be started).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Left {
    paused: bool,
    down: bool,
}

/// Most bytes of a command's output kept for an error message.
const OUTPUT_TAIL: usize = 2000;

/// How long the LB and the nodes have to answer ping before a run.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A cluster the harness did not start.
pub struct RealCluster {
    file: TargetFile,
    key: ApiKey,
    polling: Vec<PollingEndpoint>,
    left: Mutex<HashMap<String, Left>>,
    /// The harness took the database away and has not given it back.
    database_out: Mutex<bool>,
    /// The nodes whose store the harness took away and has not given back.
    storage_out: Mutex<std::collections::BTreeSet<String>>,
    /// The nodes the harness cut off, and from what, not yet joined again.
    cut_off: Mutex<std::collections::BTreeSet<(String, Side)>>,
    events: Events,
}

impl RealCluster {
    /// The cluster a target file describes, its polling endpoints resolved
    /// (a name that does not resolve is an error naming the node).
    pub async fn new(file: TargetFile, key: ApiKey, events: Events) -> Result<Self, String> {
        let mut polling = Vec::new();
        for n in &file.nodes {
            let Some(p) = &n.value.polling else { continue };
            let addr = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::net::lookup_host(p.value.as_str()),
            )
            .await
            .map_err(|_| {
                format!(
                    "{}'s polling endpoint did not resolve within 5s",
                    n.value.name.value
                )
            })?
            .map_err(|e| {
                format!(
                    "{}'s polling endpoint does not resolve: {e}",
                    n.value.name.value
                )
            })?
            .next()
            .ok_or_else(|| {
                format!(
                    "{}'s polling endpoint resolves to no address",
                    n.value.name.value
                )
            })?;
            polling.push(PollingEndpoint {
                node: n.value.name.value.clone(),
                addr,
            });
        }
        Ok(Self {
            file,
            key,
            polling,
            left: Mutex::new(HashMap::new()),
            database_out: Mutex::new(false),
            storage_out: Mutex::default(),
            cut_off: Mutex::default(),
            events,
        })
    }

    /// Waits until the LB and every node answer ping (200, or 418 for a
    /// drained node), and records each as up.
    pub async fn wait_ready(&self) -> Result<(), String> {
        let mut all = vec![(LB_NAME.to_string(), self.lb_url())];
        all.extend(self.nodes());
        let waits = all
            .iter()
            .map(|(name, url)| self.wait_up(name, url, READY_WITHIN));
        let failed: Vec<String> = futures_util::future::join_all(waits)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the target {} is not ready: {}; `harness doctor --target` says more",
                self.name(),
                failed.join("; ")
            ))
        }
    }

    /// Waits until one node (or the LB) answers ping, and records it up.
    async fn wait_up(&self, name: &str, url: &str, within: Duration) -> Result<(), String> {
        let client = ApiClient::with_trust(url, self.key.clone(), &self.trust())?;
        let began = tokio::time::Instant::now();
        loop {
            // 200 in service, 418 drained; anything else (a 502 from a
            // proxy, a 503 while starting) is not up.
            if matches!(
                client.ping_status(Duration::from_secs(2)).await,
                Some(200 | 418)
            ) {
                self.events.send(Event::NodeUp {
                    at_us: self.events.now_us(),
                    node: name.to_string(),
                    address: url.to_string(),
                    pid: None,
                    boot_ms: began.elapsed().as_millis() as u64,
                });
                return Ok(());
            }
            if began.elapsed() >= within {
                return Err(format!(
                    "{name} did not answer ping within {}s",
                    within.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until a node no longer answers its own ping with 200 or 418
    /// (refused, silent, or a proxy's 5xx), after `verb`'s command.
    async fn wait_down(
        &self,
        node: &str,
        verb: Verb,
        url: &str,
        within: Duration,
    ) -> Result<(), String> {
        let client = ApiClient::with_trust(url, self.key.clone(), &self.trust())?;
        let began = tokio::time::Instant::now();
        loop {
            let status = client.ping_status(Duration::from_secs(1)).await;
            if !matches!(status, Some(200 | 418)) {
                return Ok(());
            }
            if began.elapsed() >= within {
                return Err(format!(
                    "{node}'s `{}` command succeeded, but {node} still answers ping at {url} after {}s: the command may act on another node than this one",
                    verb.as_str(),
                    within.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The target file's name for reports.
    pub fn name(&self) -> &str {
        &self.file.name.value
    }

    /// The LB's base URL.
    pub fn lb_url(&self) -> String {
        self.file.lb.value.trim_end_matches('/').to_string()
    }

    /// Each node's name and own URL.
    pub fn nodes(&self) -> Vec<(String, String)> {
        self.file
            .nodes
            .iter()
            .map(|n| {
                (
                    n.value.name.value.clone(),
                    n.value.url.value.trim_end_matches('/').to_string(),
                )
            })
            .collect()
    }

    /// The API key.
    pub fn api_key(&self) -> &ApiKey {
        &self.key
    }

    /// How HTTPS servers are trusted.
    pub fn trust(&self) -> Trust {
        self.file.trust()
    }

    /// The nodes' polling endpoints.
    pub fn polling_endpoints(&self) -> &[PollingEndpoint] {
        &self.polling
    }

    /// The target file's entry for `node`.
    fn target_node(&self, node: &str) -> Result<&TargetNode, String> {
        self.file
            .nodes
            .iter()
            .map(|n| &n.value)
            .find(|n| n.name.value == node)
            .ok_or_else(|| format!("unknown node {node:?}"))
    }

    /// Runs a node's command and remembers what it left the node in.
    pub async fn act(&self, node: &str, verb: Verb) -> Result<(), String> {
        let command = self
            .target_node(node)?
            .commands
            .get(verb.as_str())
            .map(|c| c.value.clone())
            .ok_or_else(|| {
                format!(
                    "the target {} gives no `{}` command for {node}",
                    self.name(),
                    verb.as_str()
                )
            })?;
        // Marked before the command runs: one that fails or times out may
        // have done its work all the same, and then must still be undone.
        {
            let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
            let l = left.entry(node.to_string()).or_default();
            match verb {
                Verb::Kill | Verb::Stop => l.down = true,
                Verb::Pause => l.paused = true,
                Verb::Start | Verb::Resume => {}
            }
        }
        let what = format!("{node}'s `{}` command", verb.as_str());
        self.run(Some(node), what, &command).await?;
        let url = self
            .nodes()
            .into_iter()
            .find(|(n, _)| n == node)
            .map(|(_, u)| u)
            .unwrap_or_default();
        match verb {
            // Started as the embedded cluster starts a node: done once it
            // answers, within the command time limit again. Only then is
            // there nothing left to undo.
            Verb::Start => {
                self.wait_up(node, &url, self.file.command_timeout.value.get())
                    .await?
            }
            // Done once the node at this URL no longer answers: a command
            // that acted on another node must not pass for this one's.
            Verb::Kill | Verb::Stop | Verb::Pause => {
                let within = NODE_DOWN_WITHIN.min(self.file.command_timeout.value.get());
                self.wait_down(node, verb, &url, within).await?
            }
            Verb::Resume => {}
        }
        let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = left.get_mut(node) {
            match verb {
                Verb::Start => l.down = false,
                Verb::Resume => l.paused = false,
                Verb::Kill | Verb::Stop | Verb::Pause => {}
            }
            if *l == Left::default() {
                left.remove(node);
            }
        }
        Ok(())
    }

    /// Runs the target's database command `verb` (`outage`, `restore`,
    /// `failover`).
    /// An outage is marked before its command runs: one that failed may
    /// have done its work, and the heal must then still restore.
    pub async fn database(&self, verb: &str) -> Result<(), String> {
        let command = self
            .file
            .database
            .get(verb)
            .map(|c| c.value.clone())
            .ok_or_else(|| {
                format!(
                    "the target {} gives no `database.{verb}` command",
                    self.name()
                )
            })?;
        if verb == "outage" {
            *self.database_out.lock().unwrap_or_else(|e| e.into_inner()) = true;
        }
        self.run(None, format!("the database's `{verb}` command"), &command)
            .await?;
        if verb == "restore" {
            *self.database_out.lock().unwrap_or_else(|e| e.into_inner()) = false;
        }
        Ok(())
    }

    /// Runs node `node`'s storage command `verb` (`outage`, `restore`);
    /// an outage is marked before its command runs, as the database's is.
    pub async fn storage(&self, node: &str, verb: &str) -> Result<(), String> {
        let command = self
            .target_node(node)?
            .storage
            .get(verb)
            .map(|c| c.value.clone())
            .ok_or_else(|| {
                format!(
                    "the target {} gives no `storage.{verb}` command for {node}",
                    self.name()
                )
            })?;
        let mark = |out: bool| {
            let mut set = self.storage_out.lock().unwrap_or_else(|e| e.into_inner());
            if out {
                set.insert(node.to_string());
            } else {
                set.remove(node);
            }
        };
        if verb == "outage" {
            mark(true);
        }
        let what = format!("{node}'s `storage.{verb}` command");
        self.run(Some(node), what, &command).await?;
        if verb == "restore" {
            mark(false);
        }
        Ok(())
    }

    /// Runs a node's `partition` command that cuts it off from `side`, or
    /// joins it again. Marked cut before the command runs: one that fails
    /// may have cut all the same, and the heal must then join it again.
    pub async fn partition(&self, node: &str, side: Side, link: Link) -> Result<(), String> {
        let verb = side.verb(link);
        let command = self
            .target_node(node)?
            .partition
            .get(verb)
            .map(|c| c.value.clone())
            .ok_or_else(|| {
                format!(
                    "the target {} gives no `partition.{verb}` command for {node}",
                    self.name()
                )
            })?;
        let key = (node.to_string(), side);
        if link == Link::Cut {
            self.cut_off
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.clone());
        }
        let what = format!("{node}'s `partition.{verb}` command");
        self.run(Some(node), what, &command).await?;
        if link == Link::Rejoin {
            self.cut_off
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
        }
        Ok(())
    }

    /// Brings back what the harness left out: the database, every node's
    /// store and network, then every node left down or frozen (unfrozen,
    /// then started).
    pub async fn heal_all(&self) -> Vec<String> {
        let out = *self.database_out.lock().unwrap_or_else(|e| e.into_inner());
        let mut errors = Vec::new();
        if out && let Err(e) = self.database("restore").await {
            errors.push(e);
        }
        let cut: Vec<(String, Side)> = self
            .cut_off
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect();
        for (node, side) in cut {
            if let Err(e) = self.partition(&node, side, Link::Rejoin).await {
                errors.push(e);
            }
        }
        let stores: Vec<String> = self
            .storage_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect();
        for node in stores {
            if let Err(e) = self.storage(&node, "restore").await {
                errors.push(e);
            }
        }
        let mut left: Vec<(String, Left)> = {
            let left = self.left.lock().unwrap_or_else(|e| e.into_inner());
            left.iter().map(|(n, l)| (n.clone(), *l)).collect()
        };
        left.sort_by(|a, b| a.0.cmp(&b.0));
        for (node, l) in left {
            let verbs = [(l.paused, Verb::Resume), (l.down, Verb::Start)];
            for (_, verb) in verbs.into_iter().filter(|(needed, _)| *needed) {
                if let Err(e) = self.act(&node, verb).await {
                    errors.push(e);
                }
            }
        }
        errors
    }

    /// Whether the harness left the node down.
    pub fn is_down(&self, node: &str) -> bool {
        let left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        left.get(node).is_some_and(|l| l.down)
    }

    /// `sh -c command` in its own process group, killed whole when the time
    /// limit passes. Done when `sh` exits: a process it leaves running in
    /// the background (a server it started) is left alone. Its output goes
    /// into the error, with the API key blotted out, should the command
    /// print it.
    async fn run(&self, node: Option<&str>, what: String, command: &str) -> Result<(), String> {
        let limit = self.file.command_timeout.value.get();
        let mut sh = tokio::process::Command::new("sh");
        sh.arg("-c").arg(command);
        if let Some(node) = node {
            sh.env("HARNESS_NODE", node);
        }
        let mut child = sh
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{what} could not start: {e}"))?;
        // Should this future be dropped (an interrupt, an aborted
        // maintenance) while `sh` runs, its whole group goes with it: an
        // `ssh ... stop` must not finish after the heal's start.
        let mut group = GroupGuard(child.id().map(|p| p as i32));
        // Both pipes at once, so a command that fills one does not stall.
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut readers = tokio::task::JoinSet::new();
        if let Some(p) = child.stdout.take() {
            readers.spawn(collect(p, output.clone()));
        }
        if let Some(p) = child.stderr.take() {
            readers.spawn(collect(p, output.clone()));
        }
        let status = match tokio::time::timeout(limit, child.wait()).await {
            Ok(status) => {
                // `sh` is done; what it left running is meant to run.
                group.0 = None;
                status.map_err(|e| format!("{what} could not be waited for: {e}"))?
            }
            Err(_) => {
                // The whole group: `sh` and whatever it started.
                group.kill();
                let _ = child.wait().await;
                return Err(format!(
                    "{what} did not finish within {}",
                    self.file.command_timeout.value
                ));
            }
        };
        // What is still in the pipes; a background process that keeps them
        // open is not waited for.
        let _ = tokio::time::timeout(OUTPUT_GRACE, async {
            while readers.join_next().await.is_some() {}
        })
        .await;
        readers.abort_all();
        if status.success() {
            return Ok(());
        }
        let output = output.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let text = String::from_utf8_lossy(&output);
        let text = text.replace(self.key.expose(), "[API key]");
        let text = text.trim();
        let tail = match text.char_indices().rev().nth(OUTPUT_TAIL) {
            Some((i, _)) => &text[i..],
            None => text,
        };
        Err(format!(
            "{what} failed ({status}){}",
            if tail.is_empty() {
                String::new()
            } else {
                format!(": {tail}")
            }
        ))
    }
}

/// Kills a command's process group when dropped, unless disarmed.
struct GroupGuard(Option<i32>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How long output is still read after a command has exited.
const OUTPUT_GRACE: Duration = Duration::from_millis(500);

/// Most bytes of output kept per command.
const OUTPUT_KEPT: usize = 64 << 10;

/// Appends what a pipe gives to `into`, keeping the last [`OUTPUT_KEPT`]
/// bytes (an error is usually at the end; all is read, so the command
/// never blocks on it).
async fn collect<R: tokio::io::AsyncRead + Unpin>(mut pipe: R, into: Arc<Mutex<Vec<u8>>>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let mut out = into.lock().unwrap_or_else(|e| e.into_inner());
        out.extend_from_slice(&buf[..n]);
        let over = out.len().saturating_sub(OUTPUT_KEPT);
        out.drain(..over);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn cluster(commands: &str, timeout: &str) -> RealCluster {
        let yaml = format!(
            "name: t\nlb: http://127.0.0.1:1\napi_key_env: K\ncommand_timeout: {timeout}\nnodes:\n  - name: n1\n    url: http://127.0.0.1:2\n    commands: {commands}\n"
        );
        let file = super::super::parse_str(&yaml, std::path::Path::new(".")).expect("valid");
        let (events, _rx) = Events::channel(crate::history::Clock::start());
        RealCluster::new(file, ApiKey::new("API-SECRET123".into()), events)
            .await
            .expect("no polling to resolve")
    }

    async fn within<F: std::future::Future>(f: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(20), f)
            .await
            .expect("in time")
    }

    #[tokio::test]
    async fn commands_run_with_the_node_named_and_heal_undoes_what_was_left() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("log");
        let log = log.display();
        let c = cluster(
            &format!(
                "{{ kill: 'echo kill $HARNESS_NODE >> {log}', start: 'echo start $HARNESS_NODE >> {log}', pause: 'echo pause >> {log}', resume: 'echo resume >> {log}' }}"
            ),
            "2s",
        )
        .await;
        within(c.act("n1", Verb::Pause)).await.expect("pause runs");
        assert!(!c.is_down("n1"));
        within(c.act("n1", Verb::Kill)).await.expect("kill runs");
        assert!(c.is_down("n1"));
        // The start waits for ping, which nothing answers here: it fails,
        // and the node stays to be healed; the resume worked.
        let e = within(c.heal_all()).await;
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("n1 did not answer ping"), "{e:?}");
        assert!(c.is_down("n1"));
        let text = std::fs::read_to_string(dir.path().join("log")).expect("log");
        // Unfrozen first, then started.
        assert_eq!(text, "pause\nkill n1\nresume\nstart n1\n");
        within(c.act("n1", Verb::Resume))
            .await
            .expect("resume runs");
        assert!(c.is_down("n1"), "a resume does not bring back a dead node");
        let e = within(c.act("n1", Verb::Stop)).await.expect_err("no stop");
        assert!(e.contains("no `stop` command for n1"), "{e}");
        let e = within(c.act("n9", Verb::Kill)).await.expect_err("unknown");
        assert!(e.contains("unknown node"), "{e}");
    }

    #[tokio::test]
    async fn a_database_outage_runs_its_command_and_the_heal_restores_it_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("log");
        let log = log.display();
        // The node's commands, then the cluster's own database section.
        let c = cluster(
            &format!(
                "{{ kill: 'true' }}\ndatabase: {{ outage: 'echo \"out $HARNESS_NODE\" >> {log}', restore: 'echo back >> {log}' }}"
            ),
            "2s",
        )
        .await;
        within(c.database("outage")).await.expect("outage runs");
        assert!(within(c.heal_all()).await.is_empty());
        // Healed once: nothing is left to restore.
        assert!(within(c.heal_all()).await.is_empty());
        let text = std::fs::read_to_string(dir.path().join("log")).expect("log");
        // No node is named to a command on the whole cluster.
        assert_eq!(text, "out \nback\n");
        let e = within(c.database("failover"))
            .await
            .expect_err("no such verb");
        assert!(e.contains("no `database.failover` command"), "{e}");
    }

    #[tokio::test]
    async fn a_failing_command_says_why_without_the_key_and_a_slow_one_is_killed() {
        let c = cluster(
            "{ kill: 'echo using API-SECRET123 >&2; exit 3', stop: 'sleep 30 & sleep 30' }",
            "300ms",
        )
        .await;
        let e = within(c.act("n1", Verb::Kill)).await.expect_err("exit 3");
        assert!(e.contains("n1's `kill` command failed"), "{e}");
        assert!(e.contains("exit status: 3"), "{e}");
        assert!(e.contains("using [API key]"), "{e}");
        assert!(!e.contains("SECRET123"), "{e}");
        assert!(
            c.is_down("n1"),
            "a failed kill may have killed: it is healed"
        );
        // The 30 s sleeps would outlast `within` were the group not killed.
        let e = within(c.act("n1", Verb::Stop)).await.expect_err("slow");
        assert!(e.contains("did not finish within 300ms"), "{e}");
    }

    #[tokio::test]
    async fn a_command_dropped_midway_takes_its_whole_group_with_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pid_file = dir.path().join("pid");
        let c = std::sync::Arc::new(
            cluster(
                &format!(
                    "{{ stop: 'sleep 30 & echo $! > {}; wait' }}",
                    pid_file.display()
                ),
                "60s",
            )
            .await,
        );
        let running = tokio::spawn({
            let c = c.clone();
            async move { c.act("n1", Verb::Stop).await }
        });
        let pid: i32 = within(async {
            loop {
                if let Some(p) = std::fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                {
                    break p;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        running.abort();
        // The sleep, a grandchild, is gone (or a zombie) soon after.
        within(async {
            loop {
                let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .ok()
                    .and_then(|s| s.rsplit(") ").next().and_then(|r| r.chars().next()));
                if matches!(state, None | Some('Z')) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(c.is_down("n1"), "a stop cut short is still healed");
    }

    #[tokio::test]
    async fn a_command_that_leaves_a_process_running_is_done_when_sh_exits() {
        let c = cluster("{ pause: 'sleep 30 & echo started' }", "5s").await;
        within(c.act("n1", Verb::Pause))
            .await
            .expect("done once sh exits, its child left running");
    }
}
