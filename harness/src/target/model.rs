//! What a target file may say, as serde reads it: the cluster's name, its
//! LB, the space, the variable that holds the API key, TLS trust, the
//! time limit of node commands, and each node with its URL, its polling
//! endpoint and the commands that disrupt it; and what the file asks for
//! in the harness's terms (the trust, the API key, a node's command by
//! its verb). Reading and validating a file is the module's.

use std::path::PathBuf;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::scenario::units::Duration;
use crate::vocab::{ApiKey, Trust};

/// A cluster described by a target file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    /// A name for reports.
    pub name: Spanned<String>,
    /// The load balancer's base URL, such as `https://octopus.example.com`.
    pub lb: Spanned<String>,
    /// The space the run works in.
    #[serde(default = "default_space")]
    pub space: Spanned<String>,
    /// The name of the environment variable that holds the API key.
    pub api_key_env: Spanned<String>,
    /// How HTTPS servers are trusted.
    #[serde(default)]
    pub tls: Tls,
    /// How long a node command may run before it is killed.
    #[serde(default = "default_command_timeout")]
    pub command_timeout: Spanned<Duration>,
    /// The nodes.
    pub nodes: Vec<Spanned<TargetNode>>,
    /// Shell commands that disrupt the shared database.
    #[serde(default)]
    pub database: DatabaseCommands,
}

/// The commands the harness may run on the cluster's shared database, each
/// with `sh -c` (docs/targets.md, "Database commands").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseCommands {
    /// Make the database unreachable for every node.
    #[serde(default)]
    pub outage: Option<Spanned<String>>,
    /// Make it reachable again.
    #[serde(default)]
    pub restore: Option<Spanned<String>>,
    /// Fail it over to another server; it comes back by itself.
    #[serde(default)]
    pub failover: Option<Spanned<String>>,
}

impl DatabaseCommands {
    /// The command for a verb (`outage`, `restore`).
    pub(crate) fn get(&self, verb: &str) -> Option<&Spanned<String>> {
        match verb {
            "outage" => self.outage.as_ref(),
            "restore" => self.restore.as_ref(),
            "failover" => self.failover.as_ref(),
            _ => None,
        }
    }
}

/// TLS trust for HTTPS URLs: the system's roots unless a CA file or a
/// pinned thumbprint is given; no verification only when `insecure` says
/// so.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// A PEM file of the CA certificates to trust instead of the system's.
    #[serde(default)]
    pub ca_file: Option<Spanned<String>>,
    /// The one server certificate to trust, by its SHA-1 thumbprint.
    #[serde(default)]
    pub thumbprint: Option<Spanned<String>>,
    /// Trust any certificate. Off unless set.
    #[serde(default)]
    pub insecure: Option<Spanned<bool>>,
}

/// One node of the target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetNode {
    /// Its name, as scenarios refer to it (n1, octo1, ...).
    pub name: Spanned<String>,
    /// Its own URL, bypassing the LB.
    pub url: Spanned<String>,
    /// Where polling Tentacles reach it: `host:port`.
    #[serde(default)]
    pub polling: Option<Spanned<String>>,
    /// Shell commands that disrupt it.
    #[serde(default)]
    pub commands: Commands,
    /// Shell commands that take the shared store away from it and give it
    /// back.
    #[serde(default)]
    pub storage: StorageCommands,
    /// Shell commands that cut it off from the LB or the polling Tentacles
    /// and join it again.
    #[serde(default)]
    pub partition: PartitionCommands,
}

/// The commands that cut one node off the network and join it again,
/// each run with `sh -c` (docs/targets.md, "Partition commands").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionCommands {
    /// Cut the node off from the LB, leaving it running.
    #[serde(default)]
    pub from_lb: Option<Spanned<String>>,
    /// Join the node and the LB again.
    #[serde(default)]
    pub rejoin_lb: Option<Spanned<String>>,
    /// Cut the node off from the polling Tentacles.
    #[serde(default)]
    pub from_tentacles: Option<Spanned<String>>,
    /// Join the node and the Tentacles again.
    #[serde(default)]
    pub rejoin_tentacles: Option<Spanned<String>>,
}

impl PartitionCommands {
    /// The command for a verb (`from_lb`, `rejoin_lb`, ...).
    pub(crate) fn get(&self, verb: &str) -> Option<&Spanned<String>> {
        match verb {
            "from_lb" => self.from_lb.as_ref(),
            "rejoin_lb" => self.rejoin_lb.as_ref(),
            "from_tentacles" => self.from_tentacles.as_ref(),
            "rejoin_tentacles" => self.rejoin_tentacles.as_ref(),
            _ => None,
        }
    }
}

/// The commands that disrupt one node's view of the shared store, each run
/// with `sh -c` (docs/targets.md).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageCommands {
    /// Make the store unreachable for the node.
    #[serde(default)]
    pub outage: Option<Spanned<String>>,
    /// Make it reachable again.
    #[serde(default)]
    pub restore: Option<Spanned<String>>,
}

impl StorageCommands {
    /// The command for a verb (`outage`, `restore`).
    pub(crate) fn get(&self, verb: &str) -> Option<&Spanned<String>> {
        match verb {
            "outage" => self.outage.as_ref(),
            "restore" => self.restore.as_ref(),
            _ => None,
        }
    }
}

/// The commands the harness may run on a node, each with `sh -c`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commands {
    /// Kill the node's process at once.
    #[serde(default)]
    pub kill: Option<Spanned<String>>,
    /// Stop it cleanly.
    #[serde(default)]
    pub stop: Option<Spanned<String>>,
    /// Start it.
    #[serde(default)]
    pub start: Option<Spanned<String>>,
    /// Freeze it (it keeps its sockets).
    #[serde(default)]
    pub pause: Option<Spanned<String>>,
    /// Unfreeze it.
    #[serde(default)]
    pub resume: Option<Spanned<String>>,
}

fn spanned<T>(value: T) -> Spanned<T> {
    Spanned {
        value,
        referenced: serde_saphyr::Location::UNKNOWN,
        defined: serde_saphyr::Location::UNKNOWN,
    }
}

fn default_space() -> Spanned<String> {
    spanned(reference_cluster::api::SPACE_ID.to_string())
}

fn default_command_timeout() -> Spanned<Duration> {
    spanned("2m".parse().expect("a valid duration"))
}

impl TargetFile {
    /// The trust the file asks for.
    pub fn trust(&self) -> Trust {
        match (&self.tls.ca_file, &self.tls.thumbprint, &self.tls.insecure) {
            (Some(f), _, _) => Trust::CaFile(PathBuf::from(&f.value)),
            (None, Some(t), _) => Trust::Thumbprint(t.value.to_ascii_uppercase()),
            (None, None, Some(i)) if i.value => Trust::Insecure,
            _ => Trust::System,
        }
    }

    /// The API key, from the environment variable the file names.
    pub fn api_key(&self) -> Result<ApiKey, String> {
        let var = &self.api_key_env.value;
        match std::env::var(var) {
            Ok(k) if !k.trim().is_empty() => Ok(ApiKey::new(k.trim().to_string())),
            _ => Err(format!(
                "the target's api_key_env names {var}, which is not set or empty; set it to the API key"
            )),
        }
    }
}

impl Commands {
    /// The command for a verb (`kill`, `stop`, ...).
    pub(crate) fn get(&self, name: &str) -> Option<&Spanned<String>> {
        match name {
            "kill" => self.kill.as_ref(),
            "stop" => self.stop.as_ref(),
            "start" => self.start.as_ref(),
            "pause" => self.pause.as_ref(),
            "resume" => self.resume.as_ref(),
            _ => None,
        }
    }
}
