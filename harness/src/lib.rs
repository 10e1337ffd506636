//! The `harness` library: the harness proper, a conformance and load test
//! harness for Octopus Deploy High Availability clusters. It stands on the
//! `halibut` crate (the wire protocol its simulated Tentacles speak) and
//! the `reference_cluster` crate (the embedded cluster it boots when no
//! target is named), and may not know the command line that drives it:
//! the `harness` binary (`harness/cli`) parses arguments and maps outcomes
//! to exit codes, and nothing here reads argv or exits the process.
//!
//! The pipeline, in Jepsen's terms: a [`scenario`] (typed YAML, validated in
//! two passes) gives a [`schedule`] (pure and seeded) of requests for the
//! [`client`] and of faults for the [`fault`] module to inject into the
//! cluster (the [`embedded`] one, or a [`target`]); the [`runner`] drives the phases and records every event in
//! the [`history`]; each [`check`] judges that history alone; the [`report`]
//! module renders it for people and for CI. The [`fleet`] of simulated
//! polling Tentacles speaks Halibut to the nodes. A run split into
//! shards is judged on one [`history::merge`]d history; [`kube`] writes
//! the manifests that run its shards as a Kubernetes Indexed Job.

#![warn(missing_docs)]

pub mod check;
pub mod cleanup;
pub mod client;
pub mod containers;
pub mod doctor;
pub mod embedded;
pub mod exit;
pub mod fault;
pub mod fleet;
pub mod fuzz;
pub mod history;
pub mod identity;
pub mod input;
pub mod kube;
pub mod limits;
pub mod metrics;
pub mod package;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod target;
pub mod upload;
pub mod vocab;
