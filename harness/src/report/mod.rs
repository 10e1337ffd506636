//! Reports, all built from the one recorded history: the live terminal
//! progress, the terminal summary, `report.json` (its schema is
//! `harness/schemas/report.schema.json`), `report.html` and JUnit XML.

mod build;
mod files;
mod html;
mod junit;
mod model;
mod polling;
mod sweep;
mod terminal;
mod timeline;

pub use crate::metrics::{
    CleanupReport, DrainReport, DrainStep, LatencyMs, Metrics, Outcome, Percentiles, Removal,
    TaskLeft, TaskReport, UploadReport, cleanup, metrics, task_report,
};
pub use build::build;
pub use files::{against, judge_and_write, write, write_sweep};
pub use html::{html, sweep_html};
pub use junit::{doctor_junit_xml, junit_xml};
pub use model::{
    CpuLimitReport, FaultOutcome, FaultReport, LbHealthReport, MemoryReport, NodeReport, Report,
    UploadInFlight,
};
pub use polling::{PollingNode, PollingReport};
pub use sweep::{SweepReport, SweepRow};
pub use terminal::{LiveProgress, doctor_summary, summary};
pub use timeline::{Timeline, TimelinePoint, timeline};
