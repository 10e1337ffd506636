use super::*;

fn run() -> KubeRun {
    KubeRun {
        scenario: "failover".into(),
        scenario_text: "name: failover\n".into(),
        target_text: "name: prod\napi_key_env: OCTOPUS_API_KEY\n".into(),
        ca_file: Some(("corp-ca.pem".into(), "-----BEGIN CERTIFICATE-----\n".into())),
        key_env: "OCTOPUS_API_KEY".into(),
        secret: ("octopus-api-key".into(), "api-key".into()),
        shards: 3,
        image: "registry.example.com/harness:0.1.0".into(),
        run_id: "ab12cd34".into(),
        results_claim: "harness-results".into(),
        namespace: Some("load".into()),
        deadline: Duration::from_secs(1200),
        start_lead: Duration::from_secs(30),
    }
}

#[test]
fn names_fit_a_job_and_say_the_scenario_and_run() {
    assert_eq!(run().name(), "harness-failover-ab12cd34");
    let long = KubeRun {
        scenario: "A Very Long Scenario Name With Spaces And More Words!".into(),
        ..run()
    };
    let name = long.name();
    assert!(name.len() <= 63 - "-merge".len(), "{name}");
    assert_eq!(name, "harness-a-very-long-scenario-name-with-ab12cd34");
    let odd = KubeRun {
        scenario: "--".into(),
        ..run()
    };
    assert_eq!(odd.name(), "harness-ab12cd34");
}

#[test]
fn the_shards_are_an_indexed_job_run_once_with_the_key_by_reference() {
    let m = run().manifests();
    let spec = m.shards.spec.as_ref().unwrap();
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
    assert_eq!((spec.completions, spec.parallelism), (Some(3), Some(3)));
    assert_eq!(
        (spec.backoff_limit, spec.backoff_limit_per_index),
        (None, Some(0))
    );
    assert_eq!(spec.active_deadline_seconds, Some(1200));
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(pod.termination_grace_period_seconds, Some(300));
    let c = &pod.containers[0];
    assert_eq!(c.command.as_deref(), Some(&[ENTRYPOINT.to_string()][..]));
    let args = c.args.as_ref().unwrap();
    assert!(args.windows(2).any(|w| w == ["--shards", "3"]), "{args:?}");
    assert!(
        args.windows(2).any(|w| w == ["--run-id", "ab12cd34"]),
        "{args:?}"
    );
    let env = &c.env.as_ref().unwrap()[0];
    assert_eq!(env.name, "OCTOPUS_API_KEY");
    assert_eq!(env.value, None);
    let by = env
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (by.name.as_str(), by.key.as_str()),
        ("octopus-api-key", "api-key")
    );
    // The scenario, the target file and its CA file, as given.
    let data = m.config.data.as_ref().unwrap();
    assert_eq!(data["scenario.yaml"], "name: failover\n");
    assert_eq!(
        data["target.yaml"],
        "name: prod\napi_key_env: OCTOPUS_API_KEY\n"
    );
    assert!(data.contains_key("corp-ca.pem"));
    // Not root, on a read-only root.
    let security = pod.security_context.as_ref().unwrap();
    assert_eq!(security.run_as_non_root, Some(true));
    assert_eq!(security.run_as_user, Some(USER_ID));
    let own = c.security_context.as_ref().unwrap();
    assert_eq!(own.read_only_root_filesystem, Some(true));
    assert_eq!(own.allow_privilege_escalation, Some(false));
    // The merge reads the run's folder on the results volume.
    let merge = m.merge.spec.as_ref().unwrap();
    assert_eq!((merge.completions, merge.backoff_limit), (Some(1), Some(0)));
    let merge_pod = merge.template.spec.as_ref().unwrap();
    assert_eq!(
        merge_pod.containers[0].args.as_deref().unwrap(),
        [
            "merge",
            "/results/failover/ab12cd34",
            "--out",
            "/results/merged"
        ]
    );
    let yaml = m.shards_yaml().unwrap();
    assert!(
        yaml.contains("kind: ConfigMap") && yaml.contains("kind: Job"),
        "{yaml}"
    );
    assert!(yaml.contains("apiVersion: batch/v1"), "{yaml}");
}
