//! The load generator watching itself: samples of the harness process's
//! CPU time, the CPUs it may use, and its open files and sockets, taken
//! every half second from the warm-up to the check phase (and at each
//! capacity step's bounds), recorded in the history and kept for the
//! capacity search to judge its steps with as it goes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::history::{Event, Events, GeneratorSample};

/// Between two samples.
const EVERY: Duration = Duration::from_millis(500);

/// Takes samples and keeps them.
#[derive(Clone)]
pub(super) struct Sampler {
    events: Events,
    kept: Arc<Mutex<Vec<GeneratorSample>>>,
    /// The CPUs the harness may use: read once, as a run does not change
    /// its own cgroup.
    cpus: f64,
}

impl Sampler {
    pub fn new(events: Events) -> Self {
        Self {
            events,
            kept: Arc::default(),
            cpus: reference_cluster::cpu::own_cpus(),
        }
    }

    /// Takes a sample now, records and keeps it.
    pub fn take(&self) -> GeneratorSample {
        let (fds, sockets) = open_files();
        let sample = GeneratorSample {
            at_us: self.events.now_us(),
            cpu_us: cpu_time_us(),
            cpus: self.cpus,
            fds,
            sockets,
        };
        self.events.send(Event::Generator(sample));
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sample);
        sample
    }

    /// Every sample so far, in time order.
    pub fn kept(&self) -> Vec<GeneratorSample> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Takes a sample every [`EVERY`] until `stop` (or its sender is
    /// gone), and one last then. Blocking, for a thread of its own: a
    /// sample reads every open file's link, which with thousands of
    /// sockets would hold up a runtime worker and the requests on it.
    pub fn run(self, stop: watch::Receiver<bool>) {
        let stopped = || stop.has_changed().is_err() || *stop.borrow();
        while !stopped() {
            self.take();
            let next = std::time::Instant::now() + EVERY;
            while !stopped() && std::time::Instant::now() < next {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.take();
    }
}

/// The CPU time, user and system, of the whole process so far.
fn cpu_time_us() -> u64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_SELF).map_or(0, |u| {
        let us = |t: nix::sys::time::TimeVal| {
            (t.tv_sec() as u64).saturating_mul(1_000_000) + t.tv_usec() as u64
        };
        us(u.user_time()) + us(u.system_time())
    })
}

/// Open file descriptors, and of them sockets.
fn open_files() -> (u32, u32) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return (0, 0);
    };
    let (mut fds, mut sockets) = (0, 0);
    for entry in dir.flatten() {
        fds += 1;
        if std::fs::read_link(entry.path())
            .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
        {
            sockets += 1;
        }
    }
    (fds, sockets)
}
