//! `harness kube` end to end: the manifests of a split run validate
//! against the Kubernetes 1.37 schemas (kubernetes-validate, strict, which
//! .ci/run installs from PyPI), hold the scenario and target file but no
//! API key, and carry a CA file the target names; what cannot run as
//! shards is refused before anything is written.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::util::{harness, root, run_with_timeout};

/// The key in the environment while the manifests are written: it must
/// be in none of them.
const KEY: &str = "API-KEY-VALUE-0123456789";

fn kube<S: AsRef<std::ffi::OsStr>>(args: &[S], out: &Path) -> crate::util::Output {
    let mut cmd = harness();
    cmd.arg("kube")
        .args(args)
        .arg("--out")
        .arg(out)
        .env("OCTOPUS_API_KEY", KEY)
        .current_dir(root());
    run_with_timeout(cmd, Duration::from_secs(30))
}

/// kubernetes-validate's verdict on `files`, strict, for Kubernetes 1.37.
fn validate(files: &[std::path::PathBuf]) -> crate::util::Output {
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "kubernetes_validate", "--strict", "-k", "1.37.0"])
        .args(files);
    run_with_timeout(cmd, Duration::from_secs(120))
}

#[test]
fn the_manifests_validate_against_the_kubernetes_schemas_and_hold_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("kube");
    let base = [
        "fixtures/targets/scenarios/kill-octo2.yaml",
        "--target",
        "fixtures/targets/example.yaml",
        "--shards",
        "3",
        "--image",
        "registry.example.com/harness:0.1.0",
        "--secret",
        "octopus-api-key",
        "--run-id",
        "ab12cd34",
        "--namespace",
        "load",
    ];
    // Faults disrupt the target: refused without --allow-disruptive.
    let refused = kube(&base, &out);
    assert_eq!(refused.code(), 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("--allow-disruptive"),
        "{}",
        refused.stderr
    );
    assert!(!out.exists());

    let mut args = base.to_vec();
    args.push("--allow-disruptive");
    let made = kube(&args, &out);
    assert_eq!(made.code(), 0, "{}{}", made.stdout, made.stderr);
    let shards = out.join("harness-kill-octo2-ab12cd34.yaml");
    let merge = out.join("harness-kill-octo2-ab12cd34-merge.yaml");
    for command in [
        format!("kubectl -n load apply -f {}", shards.display()),
        "kubectl -n load wait --for=condition=complete".to_string(),
        format!("kubectl -n load apply -f {}", merge.display()),
        "kubectl -n load logs job/harness-kill-octo2-ab12cd34-merge".to_string(),
    ] {
        assert!(made.stdout.contains(&command), "{command}\n{}", made.stdout);
    }
    let checked = validate(&[shards.clone(), merge.clone()]);
    assert_eq!(checked.code(), 0, "{}{}", checked.stdout, checked.stderr);
    let said = format!("{}{}", checked.stdout, checked.stderr);
    for resource in [
        "configmap/harness-kill-octo2-ab12cd34",
        "job/harness-kill-octo2-ab12cd34 ",
        "job/harness-kill-octo2-ab12cd34-merge",
    ] {
        assert!(
            said.contains(&format!("passed for resource {resource}")),
            "{resource}: {said}"
        );
    }
    // The validator refuses what the schema does not know: a field
    // misspelt in a copy fails it.
    let text = std::fs::read_to_string(&shards).unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, text.replace("completionMode:", "completionMod:")).unwrap();
    let refused = validate(&[broken]);
    assert_ne!(refused.code(), 0, "{}{}", refused.stdout, refused.stderr);

    // The scenario and target file as given, the key by reference only.
    let scenario =
        std::fs::read_to_string(root().join("fixtures/targets/scenarios/kill-octo2.yaml")).unwrap();
    let docs: Vec<serde_json::Value> = text
        .split("\n---\n")
        .map(|d| serde_saphyr::from_str(d).unwrap())
        .collect();
    assert_eq!(docs[0]["data"]["scenario.yaml"], scenario.as_str());
    let pod = &docs[1]["spec"]["template"]["spec"];
    let env = &pod["containers"][0]["env"][0];
    assert_eq!(env["name"], "OCTOPUS_API_KEY");
    assert_eq!(env["valueFrom"]["secretKeyRef"]["name"], "octopus-api-key");
    assert!(env.get("value").is_none(), "{env}");
    for t in [
        &text,
        &std::fs::read_to_string(&merge).unwrap(),
        &made.stdout,
    ] {
        assert!(!t.contains(KEY), "the API key was written");
    }
}

#[test]
fn a_ca_file_is_carried_and_what_cannot_run_as_shards_is_refused_naming_where() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(root().join("fixtures/targets/example.yaml")).unwrap();
    let with_ca = |ca: &str| example.replace("tls: {}", &format!("tls: {{ ca_file: {ca} }}"));
    std::fs::write(
        dir.path().join("ca.pem"),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/ca.pem"), "x").unwrap();
    std::fs::write(dir.path().join("target.yaml"), with_ca("ca.pem")).unwrap();
    std::fs::write(dir.path().join("nested.yaml"), with_ca("sub/ca.pem")).unwrap();
    let scenario = root().join("fixtures/targets/scenarios/kill-octo2.yaml");
    let args = |target: &str| {
        vec![
            scenario.display().to_string(),
            "--target".into(),
            dir.path().join(target).display().to_string(),
            "--shards".into(),
            "2".into(),
            "--image".into(),
            "harness:test".into(),
            "--allow-disruptive".into(),
        ]
    };
    let out = dir.path().join("kube");
    let run = |v: Vec<String>| kube(&v, &out);
    let made = run(args("target.yaml"));
    assert_eq!(made.code(), 0, "{}", made.stderr);
    let file = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| !p.to_string_lossy().ends_with("-merge.yaml"))
        .unwrap();
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains("ca.pem: |") && text.contains("MIIB"),
        "{text}"
    );

    let nested = run(args("nested.yaml"));
    assert_eq!(nested.code(), 2, "{}", nested.stderr);
    assert!(
        nested.stderr.contains("nested.yaml:") && nested.stderr.contains("tls.ca_file"),
        "{}",
        nested.stderr
    );

    // A load phase of one user cannot be shared between two shards:
    // refused, at its line; with two users it can.
    let mixed = dir.path().join("mixed.yaml");
    let with_users = |users: u32| {
        let text = format!(
            "name: mixed\nduration: 10s\nworkload:\n  - api: {{ rate: 10/s }}\n  - load: {{ hold: 5s,\n      users: {users} }}\n"
        );
        std::fs::write(&mixed, text).unwrap();
        let mut a = args("target.yaml");
        a[0] = mixed.display().to_string();
        run(a)
    };
    let refused = with_users(1);
    assert_eq!(refused.code(), 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("mixed.yaml:6:14")
            && refused.stderr.contains("workload[1].load.users")
            && refused.stderr.contains("1 cannot be shared among 2 shards"),
        "{}",
        refused.stderr
    );
    let made = with_users(2);
    assert_eq!(made.code(), 0, "{}", made.stderr);
}
