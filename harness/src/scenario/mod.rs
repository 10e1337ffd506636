//! Scenarios: the typed model of a YAML scenario file, its human units, the
//! loader that locates every error, and the second validation pass.

mod load;
mod model;
mod problem;
pub mod sweep;
pub mod units;
mod validate;
mod words;

pub use load::{
    LoadedScenario, Problem, ScenarioError, ScenarioErrorKind, load, load_for_nodes, parse_str,
    parse_str_for_nodes, print,
};
pub(crate) use load::{parse_yaml, utf8, write_problems};
pub use model::{
    ApiLoad, ApiSearch, Availability, Capacity, Check, Claim, Cluster, DrainContract, ExactlyOnce,
    Fault, FleetLoad, GeneratorBound, HealthCheck, HealthMode, KINDS, Ladder, LadderLoad,
    LadderReaches, Latency, Lb, LbEngine, LbLimits, LbPreset, LoadMix, LoadPhase, MaintenanceFault,
    Mix, NamedCheck, NoRegression, NodeBehaviour, NodeFault, Objective, OnDatabaseLoss,
    OrphanedTasks, OutageCheck, PackageFeed, PartitionFault, PartitionFrom, PollingLayout,
    PollingListeners, Polls, Reconnect, ReconnectStorm, Recovers, RestartFault, RoutesAround,
    RpcLatency, Scenario, SearchKind, Shape, SharedStorageCheck, Storage, Sustains, Sweep, TaskCap,
    TaskLoad, TaskObjective, TaskQueue, TaskSearch, UploadIntact, UploadLoad, UploadObjective,
    UploadSearch, UploadThroughput, Via, Workload, ladder_sizes, spanned,
};
pub use validate::{
    MAX_NODES, MAX_TASKS_PER_STEP, is_tag, node_names, planned_steps, shard_problems, validate,
};
