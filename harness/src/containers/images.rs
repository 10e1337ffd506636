//! The stand-in images, built on the engine through its API from what is
//! on this machine, with no registry: the reference node (this harness
//! binary and the libraries it links) for `octopusdeploy/octopusdeploy`,
//! and Debian's HAProxy (its binary and libraries) for the `haproxy`
//! image. Each is `FROM scratch` plus those files, so it runs on any
//! engine of the same architecture (docs/containers.md).

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::BuildImageOptionsBuilder;

/// Where HAProxy reads its configuration, in the stand-in as in the real
/// image.
pub const HAPROXY_CFG: &str = "/usr/local/etc/haproxy/haproxy.cfg";

/// Where the harness binary goes in the node image.
const HARNESS_IN_IMAGE: &str = "/usr/local/bin/harness";

/// The tag both stand-ins carry.
pub const STAND_IN_TAG: &str = "stand-in";

/// One stand-in image: its name, the program it runs and how.
#[derive(Debug, Clone)]
pub struct StandIn {
    /// The image's name (tagged [`STAND_IN_TAG`]).
    pub name: &'static str,
    /// The program on this machine, copied to `inside`.
    pub program: PathBuf,
    /// Its path in the image.
    pub inside: &'static str,
    /// The entrypoint's arguments after the program.
    pub args: &'static [&'static str],
    /// Empty folders the program expects.
    pub folders: &'static [&'static str],
}

impl StandIn {
    /// The node image's name.
    pub const NODE: &str = "harness-node";
    /// The HAProxy image's name.
    pub const HAPROXY: &str = "harness-haproxy";

    /// The reference node: this very binary, run as `cluster node`.
    pub fn node() -> Result<Self, String> {
        let program = std::env::current_exe()
            .map_err(|e| format!("failed to find the harness executable: {e}"))?;
        Ok(Self {
            name: Self::NODE,
            program,
            inside: HARNESS_IN_IMAGE,
            args: &["cluster", "node"],
            folders: &["/tmp", "/database", "/repository"],
        })
    }

    /// HAProxy from this machine, as the `haproxy` image runs it.
    pub fn haproxy() -> Result<Self, String> {
        let program = reference_cluster::supervisor::find_program("haproxy")
            .ok_or("the HAProxy stand-in needs HAProxy on this machine (apt install haproxy)")?;
        Ok(Self {
            name: Self::HAPROXY,
            program,
            inside: "/usr/sbin/haproxy",
            args: &["-db", "-f", HAPROXY_CFG],
            folders: &["/tmp", "/usr/local/etc/haproxy", "/run"],
        })
    }

    /// The image's reference, `name:stand-in`.
    pub fn reference(&self) -> String {
        format!("{}:{STAND_IN_TAG}", self.name)
    }

    /// The Dockerfile: the files, and the program as the entrypoint.
    fn dockerfile(&self) -> String {
        let entrypoint: Vec<String> = std::iter::once(self.inside)
            .chain(self.args.iter().copied())
            .map(|a| format!("{a:?}"))
            .collect();
        format!(
            "FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [{}]\n",
            entrypoint.join(", ")
        )
    }

    /// The build context as a tar: the Dockerfile, the program, every
    /// library `ldd` lists for it at the path it resolved, and the
    /// folders.
    pub fn context(&self) -> Result<Vec<u8>, String> {
        let mut tar = tar::Builder::new(Vec::new());
        tar.mode(tar::HeaderMode::Deterministic);
        let add = |tar: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8], mode: u32| {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(mode);
            h.set_cksum();
            tar.append_data(&mut h, path, bytes)
                .map_err(|e| format!("failed to write the build context: {e}"))
        };
        add(&mut tar, "Dockerfile", self.dockerfile().as_bytes(), 0o644)?;
        let mut files = vec![(self.program.clone(), self.inside.to_string())];
        for lib in libraries(&self.program)? {
            let inside = lib.display().to_string();
            files.push((lib, inside));
        }
        for (from, inside) in files {
            let bytes = std::fs::read(&from)
                .map_err(|e| format!("failed to read {}: {e}", from.display()))?;
            add(&mut tar, &format!("rootfs{inside}"), &bytes, 0o755)?;
        }
        for folder in self.folders {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o1777);
            h.set_size(0);
            h.set_cksum();
            tar.append_data(&mut h, format!("rootfs{folder}/"), std::io::empty())
                .map_err(|e| format!("failed to write the build context: {e}"))?;
        }
        tar.into_inner()
            .map_err(|e| format!("failed to write the build context: {e}"))
    }
}

/// The shared libraries `ldd` resolves for `program`, the dynamic loader
/// included, as absolute paths.
fn libraries(program: &Path) -> Result<Vec<PathBuf>, String> {
    let out = std::process::Command::new("ldd")
        .arg(program)
        .output()
        .map_err(|e| format!("failed to run ldd on {}: {e}", program.display()))?;
    if !out.status.success() {
        return Err(format!(
            "ldd could not list the libraries of {}: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(parse_ldd(&String::from_utf8_lossy(&out.stdout)))
}

/// The paths in `ldd`'s output: `name => /path (addr)` and the loader's
/// `/path (addr)`; the vDSO, which has no file, is left out.
fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let path = match line.split_once("=>") {
                Some((_, after)) => after.trim(),
                None => line,
            };
            let path = path.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// Builds `image` on the engine `docker` reaches, tagged
/// [`StandIn::reference`]. Err carries what the engine said.
pub async fn build(docker: &Docker, image: &StandIn) -> Result<(), String> {
    let context = image.context()?;
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&image.reference())
        .rm(true)
        .forcerm(true)
        .build();
    let failed = |why: String| format!("building {} failed: {why}", image.reference());
    let mut steps = docker.build_image(
        options,
        None,
        Some(testcontainers::bollard::body_full(context.into())),
    );
    while let Some(step) = steps.next().await {
        let step = step.map_err(|e| failed(e.to_string()))?;
        if let Some(why) = step.error_detail.and_then(|d| d.message) {
            return Err(failed(why));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_every_library_and_the_loader_but_not_the_vdso() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f67)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f67)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f67)\n";
        assert_eq!(
            parse_ldd(text),
            [
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn the_node_image_holds_the_binary_its_libraries_and_runs_cluster_node() {
        let node = StandIn::node().expect("the test binary");
        assert_eq!(
            node.dockerfile(),
            "FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"/usr/local/bin/harness\", \"cluster\", \"node\"]\n"
        );
        let context = node.context().expect("a build context");
        let mut names = Vec::new();
        for entry in tar::Archive::new(context.as_slice()).entries().unwrap() {
            names.push(entry.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(names[0], "Dockerfile");
        assert!(
            names.contains(&"rootfs/usr/local/bin/harness".to_string()),
            "{names:?}"
        );
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("rootfs/") && n.contains("libc.so")),
            "{names:?}"
        );
        assert!(names.contains(&"rootfs/database/".to_string()), "{names:?}");
    }
}
