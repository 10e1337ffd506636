//! `harness`: a conformance and load test harness for Octopus Deploy High
//! Availability clusters.
//!
//! The pipeline, in Jepsen's terms: a [`scenario`] (typed YAML, validated in
//! two passes) gives a [`schedule`] (pure and seeded) of requests for the
//! [`client`] and of faults for the [`fault`] module to inject into the
//! [`cluster`]; the [`runner`] drives the phases and records every event in
//! the [`history`]; each [`check`] judges that history alone; the [`report`]
//! module renders it for people and for CI; [`cli`] is the command line.
//! The [`fleet`] of simulated polling Tentacles speaks [`halibut`] to the
//! nodes.

#![warn(missing_docs)]

pub mod check;
pub mod cleanup;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod containers;
pub mod doctor;
pub mod exit;
pub mod fault;
pub mod fleet;
pub mod fuzz;
pub mod halibut;
pub mod history;
pub mod identity;
pub mod input;
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
