//! Node size on one machine: a CPU limit for each node process, so that
//! "two nodes of 8 cores or four of 4" is a real variable of the embedded
//! cluster. The limit is a CFS quota in a cgroup of the node's own (cgroup
//! v2 `cpu.max` where the harness may write it, else cgroup v1
//! `cpu.cfs_quota_us`), and CPU affinity where neither can be written, for
//! whole CPUs that do not share a core between nodes (anything else would
//! not be the size asked for, so it is refused). Which one was used goes
//! into the history.
//!
//! The node joins its cgroup or sets its affinity itself, first thing,
//! before its runtime starts a thread: nothing of it runs unlimited.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ClusterError;

/// The CFS period every quota is a share of.
const PERIOD_US: u64 = 100_000;

/// Where a node process puts itself before it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuPlacement {
    /// Join this cgroup, whose quota is set.
    Cgroup(PathBuf),
    /// Run on these CPUs only.
    Affinity(Vec<usize>),
}

/// How the limit is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// cgroup v2 `cpu.max`.
    CgroupV2,
    /// cgroup v1 `cpu.cfs_quota_us`.
    CgroupV1,
    /// `sched_setaffinity`, whole cores.
    Affinity,
}

impl Method {
    /// The name the history and the report use.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::CgroupV2 => "cgroup_v2",
            Method::CgroupV1 => "cgroup_v1",
            Method::Affinity => "affinity",
        }
    }
}

/// The limits of one cluster's nodes; removes its cgroups when dropped.
#[derive(Debug)]
pub struct CpuLimits {
    method: Method,
    cores: f64,
    placements: Vec<CpuPlacement>,
}

impl CpuLimits {
    /// Limits of `cores` each for `nodes` nodes, by the first method this
    /// machine lets the harness use.
    pub fn prepare(cores: f64, nodes: usize) -> Result<Self, ClusterError> {
        // Unique to this cluster: a suite boots several in one process.
        static CLUSTERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tag = format!(
            "harness-{}-{}",
            std::process::id(),
            CLUSTERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let quota = ((cores * PERIOD_US as f64).round() as u64).max(1000);
        for (method, root) in [
            (Method::CgroupV2, cgroup_v2_root()),
            (Method::CgroupV1, cgroup_v1_cpu_root()),
        ] {
            let Some(root) = root else { continue };
            remove_stale(&root);
            let mut dirs = Vec::new();
            let made = (1..=nodes).try_for_each(|i| {
                let dir = root.join(format!("{tag}-n{i}"));
                std::fs::create_dir(&dir)?;
                dirs.push(dir.clone());
                match method {
                    Method::CgroupV2 => {
                        std::fs::write(dir.join("cpu.max"), format!("{quota} {PERIOD_US}"))
                    }
                    _ => {
                        std::fs::write(dir.join("cpu.cfs_period_us"), PERIOD_US.to_string())?;
                        std::fs::write(dir.join("cpu.cfs_quota_us"), quota.to_string())
                    }
                }
            });
            if made.is_ok() {
                return Ok(Self {
                    method,
                    cores,
                    placements: dirs.into_iter().map(CpuPlacement::Cgroup).collect(),
                });
            }
            for dir in dirs {
                let _ = std::fs::remove_dir(dir);
            }
        }
        let online = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
            .map_err(|e| ClusterError::new(format!("failed to read the CPU affinity: {e}")))?;
        let cpus: Vec<usize> = (0..nix::sched::CpuSet::count())
            .filter(|&c| online.is_set(c).unwrap_or(false))
            .collect();
        if cores.fract() != 0.0 {
            return Err(ClusterError::new(format!(
                "node_cpus {cores} needs a CPU quota, and no cgroup with the cpu controller is writable here (as root, with cgroup v2's cpu controller enabled, or cgroup v1's cpu hierarchy mounted); whole CPUs can be given by CPU affinity instead"
            )));
        }
        let each = cores as usize;
        if nodes * each > cpus.len() {
            return Err(ClusterError::new(format!(
                "node_cpus {cores} for {nodes} nodes needs {} CPUs of their own by CPU affinity, and the harness may use {}; no cgroup with the cpu controller is writable here for a quota",
                nodes * each,
                cpus.len()
            )));
        }
        let placements = (0..nodes)
            .map(|i| CpuPlacement::Affinity(cpus[i * each..(i + 1) * each].to_vec()))
            .collect();
        Ok(Self {
            method: Method::Affinity,
            cores,
            placements,
        })
    }

    /// How the limit is enforced.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The CPUs each node may use.
    pub fn effective_cores(&self) -> f64 {
        self.cores
    }

    /// Where the `i`th node (from 0) goes.
    pub fn placement(&self, i: usize) -> Option<CpuPlacement> {
        self.placements.get(i).cloned()
    }
}

impl Drop for CpuLimits {
    fn drop(&mut self) {
        // A cgroup can only be removed once its processes are gone; the
        // cluster drops this after its supervisor has reaped every child.
        for p in &self.placements {
            if let CpuPlacement::Cgroup(dir) = p {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// Puts the calling process where `p` says; a node calls it before its
/// runtime starts, so every thread it ever has is limited.
pub fn enter(p: &CpuPlacement) -> Result<(), String> {
    match p {
        CpuPlacement::Cgroup(dir) => {
            // Writing 0 moves the writer itself.
            std::fs::write(dir.join("cgroup.procs"), "0")
                .map_err(|e| format!("failed to join the cgroup {}: {e}", dir.display()))
        }
        CpuPlacement::Affinity(cpus) => {
            let mut set = nix::sched::CpuSet::new();
            for &c in cpus {
                set.set(c)
                    .map_err(|e| format!("CPU {c} cannot be used: {e}"))?;
            }
            nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
                .map_err(|e| format!("failed to set the CPU affinity to {cpus:?}: {e}"))
        }
    }
}

/// The CPUs the calling process may use: the CPUs its affinity allows,
/// lowered by any CFS quota on its own cgroup or an ancestor (cgroup v2
/// `cpu.max`, cgroup v1 `cpu.cfs_quota_us`). A load generator held to a
/// tenth of a CPU is saturated at a tenth, not at a whole one.
pub fn own_cpus() -> f64 {
    let affinity = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map(|set| {
            (0..nix::sched::CpuSet::count())
                .filter(|&c| set.is_set(c).unwrap_or(false))
                .count()
        })
        .unwrap_or(1)
        .max(1) as f64;
    let groups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut cpus = affinity;
    for line in groups.lines() {
        // `hierarchy-ID:controllers:path`; v2's line has no controllers.
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let quota = if controllers.is_empty() {
            mount_point(|fstype, _| fstype == "cgroup2").and_then(|root| {
                quota_up(&root, path, |dir| {
                    let max = std::fs::read_to_string(dir.join("cpu.max")).ok()?;
                    let mut words = max.split_whitespace();
                    let (quota, period) = (words.next()?, words.next()?);
                    Some((quota.parse::<f64>().ok()?, period.parse::<f64>().ok()?))
                })
            })
        } else if controllers.split(',').any(|c| c == "cpu") {
            cgroup_v1_cpu_root().and_then(|root| {
                quota_up(&root, path, |dir| {
                    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
                    let quota: f64 = read("cpu.cfs_quota_us")?.trim().parse().ok()?;
                    let period: f64 = read("cpu.cfs_period_us")?.trim().parse().ok()?;
                    (quota > 0.0).then_some((quota, period))
                })
            })
        } else {
            None
        };
        if let Some(q) = quota {
            cpus = cpus.min(q);
        }
    }
    cpus
}

/// The lowest quota, in CPUs, of the cgroup at `path` under `root` and of
/// its ancestors; `read` gives a cgroup's (quota, period), None when it
/// has none.
fn quota_up(root: &Path, path: &str, read: impl Fn(&Path) -> Option<(f64, f64)>) -> Option<f64> {
    let mut dir = root.join(path.trim_start_matches('/'));
    let mut lowest: Option<f64> = None;
    loop {
        if let Some((quota, period)) = read(&dir)
            && period > 0.0
        {
            let cpus = quota / period;
            lowest = Some(lowest.map_or(cpus, |l: f64| l.min(cpus)));
        }
        if dir == root || !dir.pop() || !dir.starts_with(root) {
            return lowest;
        }
    }
}

/// The cgroup v2 hierarchy's root, if it is mounted, has the cpu
/// controller enabled for its children, and lets the harness write.
fn cgroup_v2_root() -> Option<PathBuf> {
    let root = mount_point(|fstype, _| fstype == "cgroup2")?;
    let enabled = std::fs::read_to_string(root.join("cgroup.subtree_control")).ok()?;
    enabled
        .split_whitespace()
        .any(|c| c == "cpu")
        .then_some(root)
}

/// The cgroup v1 hierarchy that holds the cpu controller.
fn cgroup_v1_cpu_root() -> Option<PathBuf> {
    mount_point(|fstype, options| fstype == "cgroup" && options.split(',').any(|o| o == "cpu"))
}

/// The first mount whose file-system type and super options match, from
/// /proc/self/mountinfo.
fn mount_point(matches: impl Fn(&str, &str) -> bool) -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (mount, fstype, options) = parse_mount(line)?;
        matches(fstype, options).then(|| PathBuf::from(mount))
    })
}

/// A mountinfo line's mount point, file-system type and super options:
/// `ID parent major:minor root mount-point options [tags] - fstype source
/// super-options`.
fn parse_mount(line: &str) -> Option<(&str, &str, &str)> {
    let (before, after) = line.split_once(" - ")?;
    let mount = before.split(' ').nth(4)?;
    let mut rest = after.split(' ');
    let fstype = rest.next()?;
    Some((mount, fstype, rest.nth(1).unwrap_or("")))
}

/// Removes the empty cgroups of harnesses that died without removing
/// theirs (`harness-<pid>-n<i>` whose harness is gone).
fn remove_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("harness-"))
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_is_a_quota_where_a_cgroup_is_writable_and_its_groups_go_with_it() {
        match CpuLimits::prepare(0.5, 2) {
            Ok(limits) => {
                let Some(CpuPlacement::Cgroup(dir)) = limits.placement(0) else {
                    panic!("half a CPU can only be a quota: {limits:?}")
                };
                let quota = match limits.method() {
                    Method::CgroupV2 => std::fs::read_to_string(dir.join("cpu.max")).unwrap(),
                    _ => std::fs::read_to_string(dir.join("cpu.cfs_quota_us")).unwrap(),
                };
                assert!(quota.starts_with("50000"), "{quota}");
                assert_eq!(limits.effective_cores(), 0.5);
                drop(limits);
                assert!(!dir.exists(), "{} is left", dir.display());
            }
            // No writable cgroup: a fraction is refused, a whole CPU is
            // given by affinity, on a core of its own.
            Err(e) => {
                assert!(e.to_string().contains("needs a CPU quota"), "{e}");
                let whole = CpuLimits::prepare(1.0, 1).unwrap();
                assert_eq!(whole.method(), Method::Affinity);
                assert!(
                    matches!(whole.placement(0), Some(CpuPlacement::Affinity(c)) if c.len() == 1)
                );
                assert!(
                    CpuLimits::prepare(1.0, 4096).is_err(),
                    "cores shared between nodes"
                );
            }
        }
    }

    #[test]
    fn mountinfo_lines_give_mount_type_and_options() {
        let v1 = "35 25 0:30 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu";
        assert_eq!(
            parse_mount(v1),
            Some(("/sys/fs/cgroup/cpu", "cgroup", "rw,cpu"))
        );
        let v2 = "30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate";
        assert_eq!(
            parse_mount(v2),
            Some(("/sys/fs/cgroup", "cgroup2", "rw,nsdelegate"))
        );
        assert_eq!(parse_mount("no separator here"), None);
    }
}
