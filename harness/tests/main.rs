//! The integration tests, compiled to one binary. Every test uses real
//! processes and real sockets on loopback, binds port 0, puts a timeout on
//! every wait, and reaps every child it starts, even when it fails.

// The 100-line bound is for the crates' own code; a test reads as one
// story from setup to its last assertion, and a few are longer.
#![allow(clippy::too_many_lines)]

// Loading scenarios: the invalid fixtures, the shipped scenarios, the CLI.
mod scenarios;
// scenarios/capacity.yaml: the sweep's table, CSV, JSON and page. Named
// so it sorts early: libtest starts tests in name order, and this long
// one then runs beside the short ones instead of ending the suite alone.
mod capacity;
// The capacity search: the knee at three node counts by drains undone,
// and a starved generator that says so.
mod capacity_search;
// The shared database and file store taken away: the faults, the
// scenarios, broken nodes.
mod database_and_store;
// The modules' floors: no import runs up one.
mod layering;
// The embedded cluster in-process: the REST surface, the LB, faults.
mod cluster;
// Tasks through the REST API: logs, the orphan rule, exactly once.
mod tasks;
// Packages through the REST API: streamed uploads, reads through every
// node, overwrite modes, and uploads that must leave nothing behind.
mod packages;
// Halibut over mutual TLS on loopback: the polling sequence, and the
// thumbprint checks on both sides.
mod halibut;
// Polling Tentacles against the cluster: trust, the LB's forwarded ports,
// a node killed mid-request.
mod polling;
// HTTPS trust as a target file sets it.
mod tls;
// `harness doctor` against `harness cluster up`'s target file.
mod doctor;
// `harness run --target` against `harness cluster up`: the real-target
// path end to end, and nothing left behind.
mod real_target;
// A run split into shards and merged. Named to sort early: libtest
// starts tests in name order, and its tests hold a share of the machine
// for a minute and half a minute, which started last left the machine
// half idle at the end of the run.
mod distributed;
// `harness kube`'s manifests, validated against the Kubernetes schemas.
mod kube;
// A cluster the harness did not write: an Octopus-like server with node
// Names and Ids unlike the target's, that can refuse drains.
mod foreign;
// `harness cleanup --run-id` against a server of the test's own that lacks
// one API: the other kinds are still removed, and the exit is 3.
mod cleanup;
// `harness containers up`: no Docker daemon gives exit 3; the whole
// containerized cluster where Docker and a licence are at hand.
mod containers;
// The official Octopus TypeScript client, run by Node.js, against
// `harness cluster up`: spaces, package pushes and lists, tasks.
mod ts_client;
// `harness run` end to end: failover passes, a misconfigured LB fails.
mod run;
// The README's sample run has the layout the code prints.
mod readme;
// The goose load phase: its counts match the history, its thresholds are
// checks.
mod load;
// run --baseline: no_regression passes against the run's own baseline and
// fails on a cluster slowed by a CPU limit.
mod baseline;
// report.html: self-contained, rebuilt by `harness report`, drawn by
// headless Chromium.
mod report;
// No node or LB process outlives the harness: normal end, Ctrl-C, SIGKILL.
mod lifecycle;
// Hostile input: the fuzzers' seeds and findings replayed, and validate
// against every fixture and thousands of mutated scenarios.
mod fuzz;
// Hostile clients against a node and the LB, and hostile Halibut peers,
// with a well-behaved client beside them.
mod hostile;
// Round trips over generated inputs: Halibut, packages, scenarios.
mod roundtrip;
// Shared helpers.
mod util;
