//! What the embedded cluster can take away from its nodes without
//! touching their code: the shared database (`db::Outage`, for a while or
//! as a failover that ends by itself) and each node's view of the shared
//! file store (docs/faults.md).
//!
//! Each node reaches the store through a view of its own: a symbolic link
//! in the cluster's `views/` folder, which points at the store (or, for a
//! cluster whose storage is per node, at the node's folder). A storage
//! outage points the link at a path that does not exist, so the node's
//! opens and folder creations fail with the kernel's `ENOENT`, as a share
//! gone away fails them; files it holds open go on. Unsharing points the
//! link at a folder of the node's own, the unmapped-drive mistake: what
//! the node writes meanwhile stays there. Each change replaces the link
//! in one rename, so no open sees it half made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::db;
use crate::error::ClusterError;

/// Longest wait for the nodes' database calls in progress when an outage
/// begins.
const OUTAGE_TAKES: Duration = Duration::from_secs(5);

/// The database outage in effect, if one is, with its number: a
/// failover's timer ends its own outage and no later one.
type Held = Arc<Mutex<Option<(u64, db::Outage)>>>;

/// The cluster's database and its nodes' views of the store.
pub(crate) struct Disruptions {
    dir: PathBuf,
    outage: Held,
    /// Each node's view's usual target, by key.
    homes: BTreeMap<String, PathBuf>,
}

impl Disruptions {
    /// For the cluster whose folder is `dir`.
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            outage: Arc::default(),
            homes: BTreeMap::new(),
        }
    }

    /// Makes node `key`'s view of `home` (created if missing); gives the
    /// path the node is to use as its storage.
    pub(crate) fn view(&mut self, key: &str, home: &Path) -> Result<PathBuf, ClusterError> {
        std::fs::create_dir_all(home).map_err(|e| io("the storage", home, &e))?;
        let view = self.dir.join("views").join(key);
        point(&view, home)?;
        self.homes.insert(key.to_string(), home.to_path_buf());
        Ok(view)
    }

    /// Takes the shared database away from every node until
    /// [`Disruptions::database_restore`]. One at a time.
    pub(crate) fn database_outage(&self) -> Result<(), ClusterError> {
        let mut outage = self.outage.lock().unwrap_or_else(|e| e.into_inner());
        if outage.is_some() {
            return Err(ClusterError::new("the database is unreachable already"));
        }
        let begun = db::Outage::begin(&self.dir.join("shared.db"), OUTAGE_TAKES)
            .map_err(ClusterError::new)?;
        *outage = Some((getrandom::u64().unwrap_or(0), begun));
        Ok(())
    }

    /// A failover: the database away for `away`, then back by itself.
    pub(crate) fn database_failover(&self, away: Duration) -> Result<(), ClusterError> {
        self.database_outage()?;
        let outage = self.outage.clone();
        let number = outage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|(n, _)| *n);
        std::thread::Builder::new()
            .name("failover".into())
            .spawn(move || {
                std::thread::sleep(away);
                let mut outage = outage.lock().unwrap_or_else(|e| e.into_inner());
                if outage.as_ref().map(|(n, _)| *n) == number {
                    outage.take();
                }
            })
            .map_err(|e| ClusterError::new(format!("failed to time the failover: {e}")))?;
        Ok(())
    }

    /// Gives the database back; nothing to do when it is there.
    pub(crate) fn database_restore(&self) {
        self.outage.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Takes the store away from node `key`: its view points nowhere.
    pub(crate) fn storage_outage(&self, key: &str) -> Result<(), ClusterError> {
        self.home(key)?;
        let nowhere = self.dir.join("views").join(".unreachable").join(key);
        point(&self.dir.join("views").join(key), &nowhere)
    }

    /// Points node `key`'s view at a folder of its own.
    pub(crate) fn storage_unshare(&self, key: &str) -> Result<(), ClusterError> {
        self.home(key)?;
        let own = self.dir.join("node-local").join(key);
        std::fs::create_dir_all(&own).map_err(|e| io("a node's own folder", &own, &e))?;
        point(&self.dir.join("views").join(key), &own)
    }

    /// Points node `key`'s view back at its usual target.
    pub(crate) fn storage_restore(&self, key: &str) -> Result<(), ClusterError> {
        let home = self.home(key)?;
        point(&self.dir.join("views").join(key), home)
    }

    /// Gives everything back: the database and every node's view.
    pub(crate) fn restore_all(&self) -> Vec<ClusterError> {
        self.database_restore();
        self.homes
            .keys()
            .filter_map(|key| self.storage_restore(key).err())
            .collect()
    }

    fn home(&self, key: &str) -> Result<&PathBuf, ClusterError> {
        self.homes
            .get(key)
            .ok_or_else(|| ClusterError::new(format!("unknown node {key:?}")))
    }
}

/// Makes `link` point at `target`, replacing what was there in one rename.
/// The target is made absolute first: a relative one would be read from
/// the link's own folder, and a cluster under a relative `--out` would
/// have every view point nowhere.
fn point(link: &Path, target: &Path) -> Result<(), ClusterError> {
    let target =
        std::path::absolute(target).map_err(|e| io("a node's view of the store", target, &e))?;
    let target = target.as_path();
    let folder = link.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(|e| io("the views folder", folder, &e))?;
    let name = link
        .file_name()
        .map_or_else(|| "view".into(), |n| n.to_string_lossy().into_owned());
    let new = folder.join(format!(
        ".{name}.{:016x}.new",
        getrandom::u64().unwrap_or(0)
    ));
    std::os::unix::fs::symlink(target, &new)
        .and_then(|()| std::fs::rename(&new, link))
        .map_err(|e| {
            let _ = std::fs::remove_file(&new);
            io("a node's view of the store", link, &e)
        })
}

fn io(what: &str, path: &Path, e: &std::io::Error) -> ClusterError {
    ClusterError::new(format!("failed to set {what} ({}): {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_goes_away_comes_back_and_unshares_and_the_node_sees_each() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared-storage");
        let mut d = Disruptions::new(dir.path());
        let view = d.view("n2", &shared).unwrap();
        std::fs::write(view.join("a.txt"), "shared").unwrap();
        assert_eq!(
            std::fs::read_to_string(shared.join("a.txt")).unwrap(),
            "shared"
        );
        d.storage_outage("n2").unwrap();
        let gone = std::fs::read(view.join("a.txt")).unwrap_err();
        assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
        // A folder cannot be made through a view that points nowhere.
        assert!(std::fs::create_dir_all(view.join("TaskLogs")).is_err());
        assert!(!dir.path().join("views/.unreachable").exists());
        d.storage_unshare("n2").unwrap();
        std::fs::write(view.join("b.txt"), "own").unwrap();
        assert!(
            !shared.join("b.txt").exists(),
            "written to the node's own folder"
        );
        assert!(d.restore_all().is_empty());
        assert_eq!(
            std::fs::read_to_string(view.join("a.txt")).unwrap(),
            "shared"
        );
        assert!(
            !view.join("b.txt").exists(),
            "what it wrote meanwhile stays where it went"
        );
        assert!(dir.path().join("node-local/n2/b.txt").exists());
        assert!(d.storage_outage("n9").is_err());
    }

    /// Found by running the README's command, whose `--out runs` is
    /// relative: each view pointed at a path read from the views folder,
    /// which is nowhere.
    #[test]
    fn a_cluster_under_a_relative_folder_has_views_that_reach_the_store() {
        // In the working folder, named relative to it, as `--out runs` is.
        let dir = tempfile::Builder::new()
            .prefix(".disrupt-test")
            .tempdir_in(".")
            .unwrap();
        let relative = PathBuf::from(dir.path().file_name().unwrap());
        assert!(
            relative.is_relative() && relative.is_dir(),
            "{}",
            relative.display()
        );
        let mut d = Disruptions::new(&relative);
        let view = d.view("n1", &relative.join("shared-storage")).unwrap();
        std::fs::write(view.join("log.txt"), "through the view").unwrap();
        let shared = dir.path().join("shared-storage/log.txt");
        assert_eq!(std::fs::read_to_string(shared).unwrap(), "through the view");
        d.storage_unshare("n1").unwrap();
        std::fs::write(view.join("own.txt"), "own").unwrap();
        assert!(dir.path().join("node-local/n1/own.txt").exists());
    }
}
