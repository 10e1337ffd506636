//! Manifests that run a split run on Kubernetes (docs/shards.md, "On
//! Kubernetes"), built as typed Kubernetes objects: a ConfigMap with the
//! scenario and the target file, an Indexed Job whose pods are the
//! shards, and a follow-on Job that merges them. The API key comes from
//! an existing Secret, by name; no value of it is ever written here.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource,
    EnvVar, EnvVarSource, PersistentVolumeClaimVolumeSource, PodAffinityTerm, PodAntiAffinity,
    PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile,
    SecretKeySelector, SecurityContext, Volume, VolumeMount, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

/// The harness binary in the image the Dockerfile builds: its entrypoint,
/// which every container of the manifests runs.
pub const ENTRYPOINT: &str = "/usr/local/bin/harness";

/// Where the ConfigMap is mounted in each pod.
pub const CONFIG_AT: &str = "/config";

/// Where the results volume is mounted in each pod.
pub const RESULTS_AT: &str = "/results";

/// How long a pod told to stop has to heal and record before it is
/// killed.
pub const TERMINATION_GRACE: Duration = Duration::from_secs(300);

/// The user (and group) every container runs as: not root.
pub const USER_ID: i64 = 10001;

/// What the manifests of one split run are made from.
#[derive(Debug, Clone)]
pub struct KubeRun {
    /// The scenario's name, as its run folder is named.
    pub scenario: String,
    /// The scenario file, byte for byte.
    pub scenario_text: String,
    /// The target file, byte for byte.
    pub target_text: String,
    /// A CA file the target file names, carried beside it: its name as
    /// the target file writes it, and its text.
    pub ca_file: Option<(String, String)>,
    /// The environment variable the target file reads its API key from.
    pub key_env: String,
    /// The Secret that holds the API key, and the key in it.
    pub secret: (String, String),
    /// How many shards.
    pub shards: u32,
    /// The image that holds the harness (the Dockerfile's).
    pub image: String,
    /// The run's ID, every shard's.
    pub run_id: String,
    /// A ReadWriteMany PersistentVolumeClaim every pod mounts: where the
    /// conductor publishes the start and every shard its history.
    pub results_claim: String,
    /// The namespace, when not the current one.
    pub namespace: Option<String>,
    /// The longest the shards' Job may take.
    pub deadline: Duration,
    /// How far ahead the conductor puts the start it publishes.
    pub start_lead: Duration,
}

/// The objects of one split run: applied in order, the merge after the
/// shards' Job has ended.
#[derive(Debug, Clone)]
pub struct Manifests {
    /// The scenario and the target file.
    pub config: ConfigMap,
    /// The shards.
    pub shards: Job,
    /// The merge of the shards' folders.
    pub merge: Job,
}

impl KubeRun {
    /// The shards' Job's name: `harness-<scenario>-<run ID>`, within the
    /// 63 characters a Job's pods' labels allow.
    pub fn name(&self) -> String {
        let mut scenario: String = self
            .scenario
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(30)
            .collect();
        while scenario.ends_with('-') {
            scenario.pop();
        }
        let scenario = scenario.trim_start_matches('-');
        if scenario.is_empty() {
            format!("harness-{}", self.run_id)
        } else {
            format!("harness-{scenario}-{}", self.run_id)
        }
    }

    /// What every shard runs: the harness's `run` with `--shards`, its
    /// index from the Job, the start published by shard 0 on the results
    /// volume.
    pub fn shard_args(&self) -> Vec<String> {
        let lead = format!("{}s", self.start_lead.as_secs().max(1));
        [
            "run",
            &format!("{CONFIG_AT}/scenario.yaml"),
            "--target",
            &format!("{CONFIG_AT}/target.yaml"),
            "--allow-disruptive",
            "--shards",
            &self.shards.to_string(),
            "--run-id",
            &self.run_id,
            "--start-lead",
            &lead,
            "--out",
            RESULTS_AT,
        ]
        .map(str::to_string)
        .to_vec()
    }

    /// What the merge runs: `merge` over the run's folder on the results
    /// volume, into `merged/` beside it.
    pub fn merge_args(&self) -> Vec<String> {
        [
            "merge",
            &format!("{RESULTS_AT}/{}/{}", self.scenario, self.run_id),
            "--out",
            &format!("{RESULTS_AT}/merged"),
        ]
        .map(str::to_string)
        .to_vec()
    }

    /// The run's objects.
    pub fn manifests(&self) -> Manifests {
        let name = self.name();
        let mut data = BTreeMap::from([
            ("scenario.yaml".to_string(), self.scenario_text.clone()),
            ("target.yaml".to_string(), self.target_text.clone()),
        ]);
        if let Some((file, text)) = &self.ca_file {
            data.insert(file.clone(), text.clone());
        }
        let config = ConfigMap {
            metadata: self.meta(&name),
            data: Some(data),
            ..ConfigMap::default()
        };
        let shards = self.job(
            &name,
            self.pod(&name, "shard", self.shard_args(), true),
            (self.shards, self.deadline),
        );
        let merge_name = format!("{name}-merge");
        let merge = self.job(
            &merge_name,
            self.pod(&name, "merge", self.merge_args(), false),
            (1, crate::limits::MERGE_JOB_WITHIN),
        );
        Manifests {
            config,
            shards,
            merge,
        }
    }

    fn meta(&self, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: self.namespace.clone(),
            labels: Some(self.labels()),
            ..ObjectMeta::default()
        }
    }

    fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), "harness".to_string()),
            ("harness/run-id".to_string(), self.run_id.clone()),
        ])
    }

    /// A Job of `count` pods at once, each run once: a shard run again
    /// would double its load, so no pod restarts and no failure retries.
    /// A shard that fails fails its index alone (`backoffLimitPerIndex`),
    /// not the Job: the others, the conductor amid a fault among them, run
    /// to their end and heal.
    fn job(&self, name: &str, pod: PodTemplateSpec, (count, within): (u32, Duration)) -> Job {
        let count = i32::try_from(count).unwrap_or(i32::MAX);
        let indexed = count > 1;
        Job {
            metadata: self.meta(name),
            spec: Some(JobSpec {
                completion_mode: Some(if indexed { "Indexed" } else { "NonIndexed" }.into()),
                completions: Some(count),
                parallelism: Some(count),
                backoff_limit: (!indexed).then_some(0),
                backoff_limit_per_index: indexed.then_some(0),
                active_deadline_seconds: Some(within.as_secs().max(1) as i64),
                ttl_seconds_after_finished: Some(7 * 86_400),
                template: pod,
                ..JobSpec::default()
            }),
            ..Job::default()
        }
    }

    /// A pod of the run: the harness as a non-root user on a read-only
    /// root, the scenario and target file at [`CONFIG_AT`], the results
    /// volume at [`RESULTS_AT`]; the shards spread over machines where
    /// they can be.
    fn pod(&self, run: &str, role: &str, args: Vec<String>, spread: bool) -> PodTemplateSpec {
        let mut labels = self.labels();
        labels.insert("harness/role".into(), role.into());
        let affinity = spread.then(|| Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    WeightedPodAffinityTerm {
                        weight: 100,
                        pod_affinity_term: PodAffinityTerm {
                            label_selector: Some(LabelSelector {
                                match_labels: Some(BTreeMap::from([
                                    ("harness/run-id".to_string(), self.run_id.clone()),
                                    ("harness/role".to_string(), role.to_string()),
                                ])),
                                ..LabelSelector::default()
                            }),
                            topology_key: "kubernetes.io/hostname".into(),
                            ..PodAffinityTerm::default()
                        },
                    },
                ]),
                ..PodAntiAffinity::default()
            }),
            ..Affinity::default()
        });
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                restart_policy: Some("Never".into()),
                // SIGTERM (the deadline, a deleted Job) stops a shard, which
                // then heals what it disrupted: time for the target's
                // commands.
                termination_grace_period_seconds: Some(TERMINATION_GRACE.as_secs() as i64),
                affinity,
                security_context: Some(PodSecurityContext {
                    run_as_non_root: Some(true),
                    run_as_user: Some(USER_ID),
                    run_as_group: Some(USER_ID),
                    fs_group: Some(USER_ID),
                    seccomp_profile: Some(SeccompProfile {
                        type_: "RuntimeDefault".into(),
                        ..SeccompProfile::default()
                    }),
                    ..PodSecurityContext::default()
                }),
                containers: vec![self.container(role, args)],
                volumes: Some(vec![
                    Volume {
                        name: "config".into(),
                        config_map: Some(ConfigMapVolumeSource {
                            name: run.to_string(),
                            ..ConfigMapVolumeSource::default()
                        }),
                        ..Volume::default()
                    },
                    Volume {
                        name: "results".into(),
                        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                            claim_name: self.results_claim.clone(),
                            read_only: None,
                        }),
                        ..Volume::default()
                    },
                    Volume {
                        name: "tmp".into(),
                        empty_dir: Some(EmptyDirVolumeSource::default()),
                        ..Volume::default()
                    },
                ]),
                ..PodSpec::default()
            }),
        }
    }

    fn container(&self, role: &str, args: Vec<String>) -> Container {
        let mount = |name: &str, at: &str, read_only: bool| VolumeMount {
            name: name.into(),
            mount_path: at.into(),
            read_only: read_only.then_some(true),
            ..VolumeMount::default()
        };
        Container {
            name: role.into(),
            image: Some(self.image.clone()),
            command: Some(vec![ENTRYPOINT.into()]),
            args: Some(args),
            // The key by reference only: the Secret's name and key.
            env: Some(vec![EnvVar {
                name: self.key_env.clone(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: self.secret.0.clone(),
                        key: self.secret.1.clone(),
                        optional: Some(false),
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            }]),
            resources: Some(ResourceRequirements {
                requests: Some(BTreeMap::from([
                    ("cpu".to_string(), Quantity("1".into())),
                    ("memory".to_string(), Quantity("256Mi".into())),
                ])),
                limits: Some(BTreeMap::from([(
                    "memory".to_string(),
                    Quantity("2Gi".into()),
                )])),
                ..ResourceRequirements::default()
            }),
            security_context: Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                read_only_root_filesystem: Some(true),
                capabilities: Some(Capabilities {
                    drop: Some(vec!["ALL".into()]),
                    ..Capabilities::default()
                }),
                ..SecurityContext::default()
            }),
            volume_mounts: Some(vec![
                mount("config", CONFIG_AT, true),
                mount("results", RESULTS_AT, false),
                mount("tmp", "/tmp", false),
            ]),
            ..Container::default()
        }
    }
}

impl Manifests {
    /// The shards' objects, the ConfigMap first, as one YAML stream.
    pub fn shards_yaml(&self) -> Result<String, String> {
        let config = yaml(&self.config)?;
        let job = yaml(&self.shards)?;
        Ok(format!("{config}---\n{job}"))
    }

    /// The merge's Job, as YAML.
    pub fn merge_yaml(&self) -> Result<String, String> {
        yaml(&self.merge)
    }
}

fn yaml<T: serde::Serialize>(object: &T) -> Result<String, String> {
    serde_saphyr::to_string(object).map_err(|e| format!("failed to write a manifest: {e}"))
}

#[cfg(test)]
mod tests;
