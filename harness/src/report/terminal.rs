//! The terminal: live progress while a run goes (phase, requests, errors,
//! current rate) and the summary at the end.

mod capacity;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::model::{FaultOutcome, Report};
use super::polling::PollingReport;
use crate::check::Verdict;
use crate::history::{
    Event, FaultAction, FaultEvent, FleetStarted, HealthTaskSeen, Phase, Request, UploadAttempt,
};
use crate::metrics::{CleanupReport, DrainReport, TaskReport};

/// Live progress on stderr. A spinner line on a terminal; elsewhere (CI
/// logs) one line per phase, node start and fault, and a status line every
/// five seconds.
pub struct LiveProgress {
    bar: ProgressBar,
    phase: Phase,
    requests: u64,
    errors: u64,
    window_start: Instant,
    window_requests: u64,
    rate: f64,
    last_status_line: Instant,
    tasks_submitted: u64,
    tasks_ended: u64,
}

impl LiveProgress {
    /// Progress on stderr, as the first line of `multi`, where upload
    /// progress bars go too.
    pub fn new(multi: &MultiProgress) -> Self {
        let bar = multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            bar,
            phase: Phase::Boot,
            requests: 0,
            errors: 0,
            window_start: Instant::now(),
            window_requests: 0,
            rate: 0.0,
            last_status_line: Instant::now(),
            tasks_submitted: 0,
            tasks_ended: 0,
        }
    }

    fn line(&self, text: String) {
        if self.bar.is_hidden() {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    /// Takes one event of the stream.
    pub fn observe(&mut self, event: &Event) {
        match event {
            Event::Phase { phase, .. } => self.phase = *phase,
            Event::Request(r) => self.count_request(r),
            Event::TaskSubmitted(_) => self.tasks_submitted += 1,
            Event::Task(t) if t.state.is_completed() => self.tasks_ended += 1,
            _ => {}
        }
        for line in event_lines(event) {
            self.line(line);
        }
    }

    /// Counts a request, and every half second refreshes the rate and the
    /// status: on the spinner, or as a line every five seconds without one.
    fn count_request(&mut self, r: &Request) {
        self.requests += 1;
        self.window_requests += 1;
        if r.is_error() {
            self.errors += 1;
        }
        let elapsed = self.window_start.elapsed();
        if elapsed < Duration::from_millis(500) {
            return;
        }
        self.rate = self.window_requests as f64 / elapsed.as_secs_f64();
        self.window_start = Instant::now();
        self.window_requests = 0;
        let mut status = format!(
            "{} | requests {} | errors {} | {:.0}/s",
            phase_name(self.phase),
            self.requests,
            self.errors,
            self.rate
        );
        if self.tasks_submitted > 0 {
            let _ = write!(
                status,
                " | tasks {} submitted, {} ended",
                self.tasks_submitted, self.tasks_ended
            );
        }
        if !self.bar.is_hidden() {
            self.bar.set_message(status);
        } else if self.last_status_line.elapsed() >= Duration::from_secs(5) {
            self.last_status_line = Instant::now();
            eprintln!("[{:>7.1}s] {status}", r.done_us as f64 / 1e6);
        }
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A node count the capacity search goes on to, or cannot.
fn capacity_level_line(l: &crate::history::CapacityLevel) -> String {
    let drained = if l.drained.is_empty() {
        String::new()
    } else {
        format!(" ({} drained)", l.drained.join(", "))
    };
    let nodes = crate::metrics::node_count(l.nodes);
    let what = match &l.error {
        None => format!("searching with {nodes}{drained}"),
        Some(e) => format!("{nodes}{drained} not measured: {e}"),
    };
    format!("[{:>7.1}s] capacity: {what}", l.at_us as f64 / 1e6)
}

/// A shard's clock reading, as the run goes.
fn clock_offset_line(c: &crate::history::ClockOffset) -> String {
    let at = c.at_us as f64 / 1e6;
    match (c.offset_us, c.within_us, &c.error) {
        (Some(off), Some(within), _) => format!(
            "[{at:>7.1}s] clock: {}'s is {:+.1} ms from this machine's (± {:.1} ms)",
            c.node,
            off as f64 / 1e3,
            within as f64 / 1e3
        ),
        (_, _, e) => format!(
            "[{at:>7.1}s] clock: no reading against {}: {}",
            c.node,
            e.as_deref().unwrap_or("no tick seen")
        ),
    }
}

/// The lines an event is shown as while the run goes; none for most.
fn event_lines(event: &Event) -> Vec<String> {
    match event {
        Event::Phase { at_us, phase } => vec![format!(
            "[{:>7.1}s] phase {}",
            *at_us as f64 / 1e6,
            phase_name(*phase)
        )],
        Event::NodeUp {
            at_us,
            node,
            address,
            boot_ms,
            ..
        } => vec![node_up_line(*at_us, node, address, *boot_ms)],
        Event::LoadEnded {
            at_us,
            users,
            requests,
            failed,
            error,
            ..
        } => vec![load_ended_line(
            *at_us,
            *users,
            (*requests, *failed),
            error.as_deref(),
        )],
        Event::CpuLimit {
            at_us,
            method,
            cores_per_node,
            asked,
        } => vec![format!(
            "[{:>7.1}s] each node limited to {cores_per_node} CPUs ({asked} asked) by {method}",
            *at_us as f64 / 1e6
        )],
        Event::Fault(f) => vec![fault_line(f)],
        Event::LbHealth {
            at_us,
            node,
            healthy,
        } => vec![lb_health_line(*at_us, node, *healthy)],
        Event::NodeStatus {
            at_us,
            node,
            status,
        } => vec![node_status_line(*at_us, node, *status)],
        // A capacity step's uploads are hundreds: its own line tells them.
        Event::Upload(u) if u.purpose == crate::history::UploadPurpose::Capacity => Vec::new(),
        Event::Upload(u) => vec![upload_line(u)],
        Event::Fleet(f) => fleet_lines(f),
        Event::HealthTask(t) => vec![health_task_line(t)],
        Event::NodeIdentities { at_us, nodes } => nodes
            .iter()
            .map(|n| {
                format!(
                    "[{:>7.1}s] {} is the cluster's {} ({})",
                    *at_us as f64 / 1e6,
                    n.node,
                    n.name,
                    n.id
                )
            })
            .collect(),
        Event::Interrupted { at_us, why, phase } => vec![format!(
            "[{:>7.1}s] {why} during {}: stopping",
            *at_us as f64 / 1e6,
            phase.as_str()
        )],
        Event::FleetRemoved { at_us, removed, .. } => vec![format!(
            "[{:>7.1}s] fleet: {removed} machines removed",
            *at_us as f64 / 1e6
        )],
        Event::CapacityLevel(l) => vec![capacity_level_line(l)],
        Event::ClockOffset(c) => vec![clock_offset_line(c)],
        Event::RunStarted { .. }
        | Event::Shards(_)
        | Event::RunEnded { .. }
        | Event::CapacityStep(_)
        | Event::Generator(_)
        | Event::NodeSeen { .. }
        | Event::Request(_)
        | Event::TaskSubmitted(_)
        | Event::Task(_)
        | Event::UploadStarted(_)
        | Event::ClusterNodes { .. }
        | Event::TaskLog(_)
        | Event::PackageRead(_)
        | Event::PackageDeleted { .. }
        | Event::PackageLook { .. }
        | Event::Removed { .. }
        | Event::HealFailed { .. }
        | Event::Polling(_)
        | Event::PollingProbe(_)
        | Event::Health(_)
        | Event::PeakMemory { .. } => Vec::new(),
    }
}

fn lb_health_line(at_us: u64, node: &str, healthy: bool) -> String {
    let state = if healthy {
        "back in rotation"
    } else {
        "out of rotation"
    };
    format!("[{:>7.1}s] lb: {node} {state}", at_us as f64 / 1e6)
}

fn node_status_line(at_us: u64, node: &str, status: Option<u16>) -> String {
    let said = status.map_or("no answer".to_string(), |s| s.to_string());
    format!(
        "[{:>7.1}s] {node} ping (direct): {said}",
        at_us as f64 / 1e6
    )
}

fn node_up_line(at_us: u64, node: &str, address: &str, boot_ms: u64) -> String {
    // A real target's nodes are known by their URLs.
    let url = if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    };
    format!(
        "[{:>7.1}s] {node} up at {url} in {boot_ms} ms",
        at_us as f64 / 1e6
    )
}

/// A load phase's end; a merged run has one from each shard, each
/// giving its users.
fn load_ended_line(
    at_us: u64,
    users: u32,
    (requests, failed): (u64, u64),
    error: Option<&str>,
) -> String {
    let how = match error {
        Some(e) => format!(": {e}"),
        None => String::new(),
    };
    // A history from before the users were recorded says 0.
    let of = match users {
        0 => String::new(),
        1 => " of 1 user".into(),
        n => format!(" of {n} users"),
    };
    format!(
        "[{:>7.1}s] load phase{of} ended: goose counted {requests} requests, {failed} failed{how}",
        at_us as f64 / 1e6
    )
}

fn fault_line(f: &FaultEvent) -> String {
    let what = match (f.action, &f.step) {
        (FaultAction::Inject, _) => "inject".to_string(),
        (FaultAction::Step, Some(step)) => step.clone(),
        (FaultAction::Step, None) => "step".to_string(),
        (FaultAction::Heal, _) => "heal".to_string(),
    };
    let err = f
        .error
        .as_ref()
        .map(|e| format!(" FAILED: {e}"))
        .unwrap_or_default();
    format!(
        "[{:>7.1}s] {what} {} ({} {}){err}",
        f.at_us as f64 / 1e6,
        f.name,
        f.kind,
        acts_on(f.kind.as_str(), &f.nodes)
    )
}

/// What a fault acts on, for the lines that show it: its nodes, or the
/// shared database for a fault on the whole cluster.
fn acts_on(kind: &str, nodes: &[String]) -> String {
    if kind == crate::vocab::FaultKind::DatabaseOutage.as_str() {
        "the shared database".to_string()
    } else {
        nodes.join(",")
    }
}

fn upload_line(u: &UploadAttempt) -> String {
    let how = match (u.status, &u.error) {
        (Some(s), _) => format!("{s}"),
        (None, Some(e)) => e.clone(),
        (None, None) => "no answer".into(),
    };
    let speed = u
        .mib_s
        .map(|m| format!(", {m:.0} MiB/s"))
        .unwrap_or_default();
    format!(
        "[{:>7.1}s] upload {} attempt {}: {:?} ({how}{speed})",
        u.done_us as f64 / 1e6,
        u.file,
        u.attempt + 1,
        u.class
    )
}

/// The fleet's registration, and the first few errors of it.
fn fleet_lines(f: &FleetStarted) -> Vec<String> {
    let endpoints: Vec<String> = f
        .endpoints
        .iter()
        .map(|(n, a)| format!("{n}={a}"))
        .collect();
    let mut lines = vec![format!(
        "[{:>7.1}s] fleet: {} of {} Tentacles registered, {} connection(s) each to {}",
        f.at_us as f64 / 1e6,
        f.tentacles.len(),
        f.requested,
        f.connections,
        endpoints.join(" ")
    )];
    lines.extend(
        f.registration_errors
            .iter()
            .take(3)
            .map(|e| format!("  fleet: {e}")),
    );
    lines
}

fn health_task_line(t: &HealthTaskSeen) -> String {
    let state = t.state.map_or("not finished", |s| s.as_str());
    let err = t
        .error
        .as_ref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    format!(
        "[{:>7.1}s] health round {} on {} ({}): {state}{err}",
        t.done_us as f64 / 1e6,
        t.round + 1,
        t.node,
        t.task.as_deref().unwrap_or("not created")
    )
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Boot => "boot",
        Phase::Warmup => "warm-up",
        Phase::Workload => "workload",
        Phase::Heal => "heal",
        Phase::Settle => "settle",
        Phase::Check => "check",
    }
}

/// One line per check: verdict, name, detail; the names in a column as
/// wide as the longest (28 at least), so every detail starts in one place.
pub fn checks_table(checks: &[crate::check::CheckResult]) -> String {
    let width = checks
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(28);
    let mut s = String::new();
    for c in checks {
        let _ = writeln!(
            s,
            "  {:<8} {:<width$} {}",
            mark(c.verdict),
            c.name,
            c.detail
        );
    }
    s
}

/// `harness doctor`'s output.
pub fn doctor_summary(d: &crate::doctor::DoctorReport) -> String {
    let mut s = format!(
        "doctor {}  ({:.2}s, {})\n\nchecks\n",
        d.target,
        d.duration_s,
        if d.read_only {
            "read-only"
        } else {
            "a drain tried"
        }
    );
    s.push_str(&checks_table(&d.checks));
    let _ = writeln!(s, "\nverdict: {}", mark(d.verdict));
    s
}

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Unknown => "UNKNOWN",
    }
}

/// The end-of-run summary.
pub fn summary(r: &Report) -> String {
    let mut s = String::new();
    header(&mut s, r);
    let _ = writeln!(s, "\nchecks");
    s.push_str(&checks_table(&r.checks));
    throughput(&mut s, r);
    // A search judges the generator step by step instead.
    for c in &r.capacity {
        capacity::capacity(&mut s, c);
    }
    if let (true, Some(g)) = (r.capacity.is_empty(), &r.generator) {
        capacity::generator(&mut s, g);
    }
    nodes(&mut s, r);
    if let Some(t) = &r.tasks {
        tasks(&mut s, t);
    }
    if let Some(c) = &r.cpu_limit {
        let _ = writeln!(
            s,
            "\neach node limited to {} CPUs ({} asked) by {}",
            c.cores_per_node, c.asked, c.method
        );
    }
    if !r.memory.is_empty() {
        let list: Vec<String> = r
            .memory
            .iter()
            .map(|m| format!("{} {:.0} MiB", m.process, m.peak_rss_mib))
            .collect();
        let _ = writeln!(s, "\npeak memory: {}", list.join(", "));
    }
    if let Some(c) = &r.cleanup {
        cleanup(&mut s, c);
    }
    if let Some(p) = &r.polling {
        polling(&mut s, p);
    }
    uploads(&mut s, r);
    for d in &r.drains {
        drain(&mut s, d);
    }
    timeline(&mut s, r);
    let _ = writeln!(s, "\nverdict: {}", mark(r.verdict));
    s
}

/// What ran against what, how the cluster came up, and whether the run
/// was stopped with uploads in flight.
fn header(s: &mut String, r: &Report) {
    let _ = writeln!(
        s,
        "scenario {}  seed {}  target {}  started {}",
        r.scenario, r.seed, r.target, r.started_at
    );
    if r.target == "embedded" {
        let _ = writeln!(s, "cluster booted in {:.2}s", r.boot_s);
    } else {
        let _ = writeln!(s, "cluster answered in {:.2}s", r.boot_s);
    }
    if let Some(why) = &r.interrupted {
        match &r.interrupted_phase {
            Some(phase) => {
                let _ = writeln!(s, "interrupted: {why} during {phase}");
            }
            None => {
                let _ = writeln!(s, "interrupted: {why}");
            }
        }
    }
    if let Some(m) = &r.shards {
        shards(s, m);
    }
    for u in &r.uploads_in_flight {
        let _ = writeln!(
            s,
            "upload in flight when the run stopped: {} (upload {}, attempt {}, via {}, from {:.1}s)",
            u.file,
            u.seq,
            u.attempt + 1,
            u.via,
            u.started_s
        );
    }
}

/// The shards a merged run came from, and the skew it assumed.
fn shards(s: &mut String, m: &crate::history::ShardsMerged) {
    let each: Vec<String> = m
        .shards
        .iter()
        .map(|x| format!("{} requests from shard {}", x.requests, x.index))
        .collect();
    let _ = writeln!(
        s,
        "merged from {} of {} shards: {}",
        m.shards.len(),
        m.count,
        each.join(", ")
    );
    let _ = match m.skew_bound_us {
        Some(b) => writeln!(
            s,
            "shards' clocks assumed within ±{:.1} ms of each other (read against one node's Date)",
            b as f64 / 1e3
        ),
        None => writeln!(
            s,
            "shards' clock skew unknown: a shard could not read its clock against the cluster's"
        ),
    };
}

fn tasks(s: &mut String, t: &TaskReport) {
    let _ = writeln!(s, "\ntasks");
    let states: Vec<String> = t.by_state.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let _ = writeln!(
        s,
        "  {} submitted ({} failed to submit): {}",
        t.submitted,
        t.submit_failures,
        states.join(", ")
    );
    let nodes: Vec<String> = t.by_node.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(s, "  by node: {}", nodes.join(", "));
    let p = &t.pickup_ms;
    let _ = writeln!(
        s,
        "  pick-up latency (queued to started): p50 {:.0}ms  p99 {:.0}ms  max {:.0}ms",
        p.p50, p.p99, p.max
    );
    let _ = writeln!(s, "  throughput: {:.1} tasks/s", t.throughput_per_s);
}

fn polling(s: &mut String, p: &PollingReport) {
    let _ = writeln!(s, "\npolling fleet");
    let endpoints: Vec<String> = p
        .endpoints
        .iter()
        .map(|(n, a)| format!("{n}={a}"))
        .collect();
    let _ = writeln!(
        s,
        "  {} Tentacles × {} connection(s) to {}",
        p.tentacles,
        p.connections,
        endpoints.join(" ")
    );
    match (p.time_to_full_fan_out_s, p.handshakes_per_s) {
        (Some(t), Some(rate)) => {
            let _ = writeln!(
                s,
                "  full fan-out {t:.2}s after the fleet started ({rate:.0} handshakes/s)"
            );
        }
        _ => {
            let _ = writeln!(s, "  never fully fanned out");
        }
    }
    let _ = writeln!(
        s,
        "  {} connection attempts, {} failed",
        p.connection_attempts, p.failed_attempts
    );
    for n in &p.nodes {
        let _ = writeln!(
            s,
            "  {:<4} {} Tentacles connected at the end of the workload; health checks {} ok, {} failed",
            n.node, n.tentacles_connected, n.health_ok, n.health_failed
        );
    }
    if let Some(r) = &p.rpc_ms {
        let _ = writeln!(
            s,
            "  RPC round trips: p50 {:.1}ms  p99 {:.1}ms  max {:.1}ms over {} calls",
            r.p50, r.p99, r.max, r.count
        );
    }
}

fn uploads(s: &mut String, r: &Report) {
    if !r.uploads.is_empty() {
        let _ = writeln!(s, "\nuploads");
    }
    for u in &r.uploads {
        let size = u.size as f64 / (1u64 << 20) as f64;
        let how = match (u.status, &u.error) {
            (Some(st), _) => format!("{st}"),
            (None, Some(e)) => e.clone(),
            (None, None) => "no answer".into(),
        };
        let speed = u.mib_s.map_or(String::new(), |m| format!(", {m:.0} MiB/s"));
        let wait = u.last_byte_to_response_s.map_or(String::new(), |w| {
            format!(", answer {w:.1}s after the last byte")
        });
        let _ = writeln!(
            s,
            "  {} ({size:.0} MiB via {}): {:?} ({how}) after {} attempt{}{speed}{wait}",
            u.file,
            u.via,
            u.class,
            u.attempts,
            if u.attempts == 1 { "" } else { "s" }
        );
        if !u.intact_on.is_empty() {
            let _ = writeln!(s, "    intact on {}", u.intact_on.join(", "));
        }
    }
}

/// A drain's or maintenance's steps, in time order.
fn drain(s: &mut String, d: &DrainReport) {
    let _ = writeln!(s, "\n{} ({} {})", d.fault, d.kind, d.nodes.join(","));
    let at = |t: Option<f64>| t.map_or("never seen".to_string(), |t| format!("{t:.1}s"));
    let _ = writeln!(
        s,
        "  {:>9}  drain requested",
        format!("{:.1}s", d.drained_s)
    );
    let _ = writeln!(s, "  {:>9}  ping answers 418", at(d.ping_418_s));
    if d.lb_out_s.is_some() {
        let _ = writeln!(s, "  {:>9}  LB takes it out", at(d.lb_out_s));
    }
    for step in &d.steps {
        let err = step
            .error
            .as_ref()
            .map(|e| format!(" FAILED: {e}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  {:>9}  {}{err}",
            format!("{:.1}s", step.at_s),
            step.step
        );
    }
    let _ = writeln!(s, "  {:>9}  undrain requested", at(d.undrained_s));
    let _ = writeln!(s, "  {:>9}  ping answers 200", at(d.ping_200_s));
    if d.lb_in_s.is_some() {
        let _ = writeln!(s, "  {:>9}  LB takes it back", at(d.lb_in_s));
    }
}

/// Faults and the LB's view of the nodes, merged in time order.
fn timeline(s: &mut String, r: &Report) {
    if !r.faults.is_empty() || !r.lb_health.is_empty() {
        let _ = writeln!(s, "\ntimeline");
        let mut lines: Vec<(f64, String)> = Vec::new();
        for f in &r.faults {
            // As recorded: a fault that failed is never shown as done.
            let why = f.error.as_deref().unwrap_or("no reason recorded");
            let outcome = match f.outcome {
                FaultOutcome::Done => String::new(),
                FaultOutcome::Failed => format!(" FAILED: {why}"),
                FaultOutcome::Stopped => format!(" STOPPED: {why}"),
            };
            lines.push((
                f.start_s,
                format!(
                    "{} {} on {}{outcome}",
                    f.name,
                    f.kind,
                    acts_on(&f.kind, &f.nodes)
                ),
            ));
            if let Some(end) = f.end_s {
                let undone = match &f.heal_error {
                    Some(e) => format!("{} undo FAILED: {e}", f.name),
                    None => format!("{} undone", f.name),
                };
                lines.push((end, undone));
            }
        }
        for h in &r.lb_health {
            let state = if h.healthy {
                "back in rotation"
            } else {
                "out of rotation"
            };
            lines.push((h.at_s, format!("lb: {} {state}", h.node)));
        }
        lines.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (t, text) in lines {
            let _ = writeln!(s, "  {t:>7.1}s  {text}");
        }
    }
}

/// Requests and their latency; nothing for a run that sent none (a
/// polling fleet alone).
fn throughput(s: &mut String, r: &Report) {
    let m = &r.metrics;
    if m.requests == 0 {
        return;
    }
    let l = &m.latency_ms;
    let _ = writeln!(s, "\nthroughput");
    let _ = writeln!(
        s,
        "  {} requests in {:.1}s = {:.0}/s, {} errors ({} indeterminate)",
        m.requests, m.duration_s, m.rps, m.errors, m.indeterminate
    );
    if m.errors >= m.requests {
        let _ = writeln!(s, "  latency: no request succeeded");
    } else {
        let _ = writeln!(
            s,
            "  latency from intended start: p50 {:.2}ms  p90 {:.2}ms  p99 {:.2}ms  max {:.2}ms",
            l.p50, l.p90, l.p99, l.max
        );
    }
}

/// The nodes: each one's share of the pings through the LB where any
/// went through it, the fleet's Tentacles on it where there is a fleet,
/// and its restarts.
fn nodes(s: &mut String, r: &Report) {
    if r.nodes.is_empty() {
        return;
    }
    let pinged = r.nodes.iter().any(|n| n.pings_served > 0);
    let fleet = r.polling.as_ref();
    let heading = match (pinged, fleet.is_some()) {
        (true, false) => "nodes (share of successful pings)",
        (true, true) => "nodes (share of successful pings; polling Tentacles connected)",
        (false, true) => "nodes (polling Tentacles connected at the end of the workload)",
        (false, false) => "nodes",
    };
    let _ = writeln!(s, "\n{heading}");
    let width = r
        .nodes
        .iter()
        .map(|n| n.label().chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    for n in &r.nodes {
        let mut line = format!("  {:<width$} {:<22}", n.label(), n.address);
        if pinged {
            let _ = write!(
                line,
                " {:>5.1}%  {:>7} pings ",
                n.share * 100.0,
                n.pings_served
            );
        }
        if let Some(p) = fleet {
            let connected = p.connected_to(&n.name);
            let _ = write!(line, " {connected:>5}/{} Tentacles ", p.tentacles);
        }
        let restarts = n.starts.saturating_sub(1);
        let _ = writeln!(
            s,
            "{line} {restarts} restart{}",
            if restarts == 1 { "" } else { "s" }
        );
    }
}

/// What the run created, and anything it could not remove.
fn cleanup(s: &mut String, c: &CleanupReport) {
    if c.packages.is_empty() && c.machines.is_empty() && c.tasks.is_empty() {
        return;
    }
    let canceled = c.tasks.iter().filter(|t| t.canceled_by_run).count();
    let outcomes = c.package_outcomes();
    let left = c.left_behind();
    let _ = writeln!(
        s,
        "\ncreated by run {}: {} packages{}, {} machines, {} tasks ({}); {}",
        c.run_id,
        c.packages.len(),
        if outcomes.is_empty() {
            String::new()
        } else {
            format!(" ({outcomes})")
        },
        c.machines.len(),
        c.tasks.len(),
        if canceled > 0 {
            format!("{canceled} canceled by the run")
        } else {
            "none canceled".to_string()
        },
        if c.clean {
            "nothing left behind"
        } else if left.is_empty() {
            "NOT CONFIRMED GONE:"
        } else {
            "LEFT BEHIND:"
        }
    );
    for line in left.iter().chain(&c.unconfirmed()) {
        let _ = writeln!(s, "  {line}");
    }
}

#[cfg(test)]
mod tests;
