//! What every workload shares: the run's context, which each one starts
//! from, and the one shape they all have (start, finish, and an interrupt
//! that comes while they finish), so the check phase finishes them in one
//! loop.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use indicatif::MultiProgress;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::client::{ApiClient, ApiKey};
use crate::history::{Events, NodeMap};
use crate::target::{Target, Trust};

/// What a workload needs of the run to start: the cluster and how to
/// reach it, where to record, when its times count from, and what it
/// names what it creates by.
pub(super) struct RunContext {
    /// The cluster the run drives.
    pub cluster: Arc<Target>,
    /// The cluster's API through its LB.
    pub lb: ApiClient,
    /// Each node's own API, by the run's name for the node.
    pub nodes: Vec<(String, ApiClient)>,
    /// The API key every client sends.
    pub key: ApiKey,
    /// The TLS trust every client uses.
    pub trust: Trust,
    /// Which cluster node each of the run's nodes is.
    pub ids: NodeMap,
    /// The run's event stream.
    pub events: Events,
    /// The instant a workload's times count from: the planned end of the
    /// warm-up while the warm-up starts what it starts (the fleet), then
    /// the moment the workload phase began.
    pub start: Instant,
    /// How long the workload phase lasts, from `start`.
    pub duration: Duration,
    /// The seed of every random choice.
    pub seed: u64,
    /// The run's ID, in the name of everything it creates in the cluster.
    pub run_id: String,
    /// Which shard of the run this process is; 0 of 1 unless split.
    pub shard: crate::vocab::Shard,
    /// The run folder.
    pub dir: PathBuf,
    /// Turns to Some, with why, once the run is to stop.
    pub interrupt: watch::Receiver<Option<String>>,
    /// Live progress bars, when the run shows them.
    pub bars: Option<MultiProgress>,
    /// The generator's samples of itself.
    pub sampler: super::generator::Sampler,
}

/// A workload: started from the run's context and its part of the
/// scenario, finished in the check phase.
pub(super) trait Workload: Sized + Send + 'static {
    /// Its part of the scenario.
    type Part;

    /// Starts it; its times count from `ctx.start`. An error is the
    /// harness's (a client that cannot be made).
    fn start(ctx: &RunContext, part: Self::Part) -> Result<Self, String>;

    /// Ends it and cleans up what it created. `stopped` says the run was
    /// stopped (an interrupt, or a workload's finish interrupted) before
    /// this finish began; `interrupt` is watched while it finishes. Gives
    /// an interrupt that came while it finished.
    fn finish(
        self,
        stopped: bool,
        interrupt: watch::Receiver<Option<String>>,
    ) -> impl Future<Output = Option<String>> + Send;
}

/// A finish, whichever workload's.
type Finishing = Pin<Box<dyn Future<Output = Option<String>> + Send>>;

/// Any workload, as the check phase finishes it.
trait Finish: Send {
    fn finish_boxed(
        self: Box<Self>,
        stopped: bool,
        interrupt: watch::Receiver<Option<String>>,
    ) -> Finishing;
}

impl<W: Workload> Finish for W {
    fn finish_boxed(
        self: Box<Self>,
        stopped: bool,
        interrupt: watch::Receiver<Option<String>>,
    ) -> Finishing {
        Box::pin(Workload::finish(*self, stopped, interrupt))
    }
}

/// A workload under way. Dropping it stops it as the workload's own drop
/// does.
pub(super) struct Running(Box<dyn Finish>);

impl Running {
    /// Starts `part`'s workload, if the scenario has that part.
    pub fn start<W: Workload>(
        ctx: &RunContext,
        part: Option<W::Part>,
    ) -> Result<Option<Self>, String> {
        part.map(|p| W::start(ctx, p).map(|w| Self(Box::new(w))))
            .transpose()
    }

    /// See [`Workload::finish`].
    pub async fn finish(
        self,
        stopped: bool,
        interrupt: watch::Receiver<Option<String>>,
    ) -> Option<String> {
        self.0.finish_boxed(stopped, interrupt).await
    }
}

/// The run's workloads, each there if the scenario has it.
#[derive(Default)]
pub(super) struct Workloads {
    /// The goose load phase.
    pub load: Option<Running>,
    /// The task workload.
    pub tasks: Option<Running>,
    /// The polling Tentacle fleet, started in the warm-up.
    pub fleet: Option<Running>,
    /// The body-limit ladder.
    pub ladder: Option<Running>,
    /// The upload workload.
    pub uploads: Option<Running>,
}

impl Workloads {
    /// In the order they are finished: the load phase's test plan ends
    /// within the duration; the tasks get their time to end; the fleet
    /// stops; then the uploads' read-back, the longest, reads whole
    /// packages from every node.
    pub fn in_finish_order(self) -> impl Iterator<Item = Running> {
        [self.load, self.tasks, self.fleet, self.ladder, self.uploads]
            .into_iter()
            .flatten()
    }
}
