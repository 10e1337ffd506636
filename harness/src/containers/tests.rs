use std::path::Path;

use super::spec::{OCTOPUS_IMAGE, SHARED_PATHS, STAND_IN_PATHS};
use super::*;

fn cfg(images: Images, nodes: u32, licence: Option<&str>) -> ContainerConfig {
    let mut cluster = cluster_like(None);
    cluster.task_cap = 20;
    ContainerConfig {
        images,
        nodes,
        spec: crate::embedded::spec_of(&cluster),
        octopus_tag: "2025.1".into(),
        licence: licence.map(str::to_string),
        id: "ab12cd34".into(),
        lb_port: 18080,
        node_ports: (0..nodes as u16).map(|i| (18081 + i, 20943 + i)).collect(),
        secrets: Secrets::generate().expect("randomness"),
    }
}

fn env<'a>(s: &'a ContainerSpec, k: &str) -> Option<&'a str> {
    s.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

#[test]
fn nodes_share_the_database_and_the_volumes_and_differ_in_name() {
    let c = cfg(Images::Real, 3, Some("TElDRU5TRQ=="));
    let specs = c.node_specs();
    assert_eq!(specs.len(), 3);
    for (i, s) in specs.iter().enumerate() {
        assert_eq!(s.image, (OCTOPUS_IMAGE.to_string(), "2025.1".to_string()));
        assert_eq!(s.name, format!("harness-ab12cd34-octo{}", i + 1));
        assert_eq!(env(s, "ACCEPT_EULA"), Some("Y"));
        assert_eq!(
            env(s, "OCTOPUS_SERVER_NODE_NAME"),
            Some(format!("octo{}", i + 1).as_str())
        );
        assert_eq!(env(s, "TASK_CAP"), Some("20"));
        assert_eq!(
            env(s, "OCTOPUS_SERVER_BASE64_LICENSE"),
            Some("TElDRU5TRQ==")
        );
        assert_eq!(env(s, "ADMIN_API_KEY"), Some(c.secrets.api_key.expose()));
        let db = env(s, "DB_CONNECTION_STRING").expect("a connection string");
        assert!(db.starts_with("Server=harness-ab12cd34-sql,1433;"), "{db}");
        assert!(db.contains(&c.secrets.sa_password), "{db}");
        assert_eq!(env(s, "MASTER_KEY"), Some(c.secrets.master_key.as_str()));
        let paths: Vec<&str> = s.volumes.iter().map(|(_, p)| p.as_str()).collect();
        assert_eq!(paths, SHARED_PATHS);
        assert_eq!(s.volumes, specs[0].volumes, "one set of volumes for all");
        assert!(s.cmd.is_empty(), "the image's own command");
        // Only the API: polling comes in through the gateway.
        assert_eq!(s.ports, vec![(18081 + i as u16, 8080)]);
    }
    // The master key is base64 of 16 bytes.
    assert_eq!(c.secrets.master_key.len(), 24);
    assert!(c.secrets.master_key.ends_with("=="));
    // Without a licence, none is passed (one node tries a free one).
    let one = cfg(Images::Real, 1, None);
    assert_eq!(
        env(&one.node_specs()[0], "OCTOPUS_SERVER_BASE64_LICENSE"),
        None
    );
    assert!(!format!("{:?}", c.secrets).contains(&c.secrets.sa_password));
    let shown = format!("{:?}", specs[0]);
    assert!(shown.contains("MASTER_KEY"), "{shown}");
    for secret in [
        &c.secrets.sa_password,
        &c.secrets.master_key,
        &c.secrets.admin_password,
    ] {
        assert!(!shown.contains(secret.as_str()), "{shown}");
    }
    assert!(!shown.contains(c.secrets.api_key.expose()), "{shown}");
}

#[test]
fn stand_in_nodes_run_cluster_node_on_a_shared_database_volume_with_octopus_shaped_ids() {
    let c = cfg(Images::StandIns, 3, None);
    let specs = c.node_specs();
    for (i, s) in specs.iter().enumerate() {
        assert_eq!(
            s.image,
            ("harness-node".to_string(), "stand-in".to_string())
        );
        // The key goes in the environment, never on the command line,
        // which `docker inspect` and `ps` show.
        assert_eq!(env(s, "HARNESS_API_KEY"), Some(c.secrets.api_key.expose()));
        assert!(!s.cmd.iter().any(|a| a.contains(c.secrets.api_key.expose())));
        let n = i + 1;
        for flag in [
            format!("--name=octo{n}"),
            format!("--id=OctopusServerNodes-ab12cd{n:02}"),
            "--listen=0.0.0.0:8080".to_string(),
            "--polling-listen=0.0.0.0:10943".to_string(),
            "--database=/database/shared.db".to_string(),
            "--storage=/repository".to_string(),
            "--task-cap=20".to_string(),
            "--heartbeat=1000ms".to_string(),
            "--offline-after=5000ms".to_string(),
        ] {
            assert!(s.cmd.contains(&flag), "{flag} not in {:?}", s.cmd);
        }
        let paths: Vec<&str> = s.volumes.iter().map(|(_, p)| p.as_str()).collect();
        assert_eq!(paths, STAND_IN_PATHS);
        assert_eq!(s.volumes, specs[0].volumes, "one database for all");
        assert_eq!(s.volumes[0].0, "harness-ab12cd34-database");
    }
    let lb = c.lb_spec();
    assert_eq!(
        lb.image,
        ("harness-haproxy".to_string(), "stand-in".to_string())
    );
    // No SQL Server, so no database commands.
    let yaml = c.target_yaml(&[], "HARNESS_API_KEY");
    assert!(!yaml.contains("database:"), "{yaml}");
}

#[test]
fn the_lb_is_haproxy_configured_by_the_embedded_code_for_every_node() {
    let c = cfg(Images::Real, 2, Some("x"));
    let lb = c.lb_spec();
    assert_eq!(lb.image, ("haproxy".to_string(), "lts".to_string()));
    assert_eq!(lb.ports, vec![(18080, 8080)]);
    let (path, text) = &lb.files[0];
    assert_eq!(path, "/usr/local/etc/haproxy/haproxy.cfg");
    assert!(text.contains("bind 0.0.0.0:8080"), "{text}");
    for n in [1, 2] {
        assert!(
            text.contains(&format!("server n{n} harness-ab12cd34-octo{n}:8080 check")),
            "{text}"
        );
    }
    assert!(
        text.contains("option httpchk GET /api/octopusservernodes/ping"),
        "{text}"
    );
    // A restarted container's new address is looked up again, from
    // whichever DNS server the engine gives the container.
    assert!(text.contains("parse-resolv-conf"), "{text}");
    assert!(
        text.contains("resolvers engine init-addr last,libc,none"),
        "{text}"
    );
    // Octopus's recommendation: no body limit.
    assert!(!text.contains("deny_status 413"), "{text}");
}

#[test]
fn the_target_file_names_nodes_as_scenarios_do_acts_on_the_containers_and_loads() {
    let c = cfg(Images::Real, 2, Some("x"));
    let ids = vec![
        ("n1".to_string(), "c0ffee01".to_string()),
        ("n2".to_string(), "c0ffee02".to_string()),
    ];
    let yaml = c.target_yaml(&ids, "HARNESS_API_KEY");
    let t = crate::target::parse_str(&yaml, Path::new(".")).expect("a valid target file");
    assert_eq!(t.nodes.len(), 2);
    let n2 = &t.nodes[1].value;
    assert_eq!(n2.name.value, "n2");
    assert_eq!(n2.url.value, "http://127.0.0.1:18082");
    assert_eq!(
        n2.commands.get("kill").expect("kill").value,
        "docker kill c0ffee02"
    );
    assert_eq!(
        n2.commands.get("resume").expect("resume").value,
        "docker unpause c0ffee02"
    );
    // A partition takes the node off the LB's or the gateway's network.
    let partition = |verb: &str| n2.partition.get(verb).expect(verb).value.clone();
    assert_eq!(
        partition("from_lb"),
        "docker network disconnect harness-ab12cd34-lb c0ffee02"
    );
    assert_eq!(
        partition("rejoin_lb"),
        "docker network connect harness-ab12cd34-lb c0ffee02"
    );
    assert_eq!(
        partition("from_tentacles"),
        "docker network disconnect harness-ab12cd34-polling c0ffee02"
    );
    assert_eq!(
        partition("rejoin_tentacles"),
        "docker network connect harness-ab12cd34-polling c0ffee02"
    );
    assert_eq!(
        n2.polling.as_ref().expect("polling").value,
        "127.0.0.1:20944"
    );
    // The database's commands act on SQL Server's container, by name.
    let database = |verb: &str| t.database.get(verb).expect(verb).value.clone();
    assert_eq!(database("outage"), "docker pause harness-ab12cd34-sql");
    assert_eq!(database("restore"), "docker unpause harness-ab12cd34-sql");
    assert_eq!(database("failover"), "docker restart harness-ab12cd34-sql");
    assert!(!yaml.contains(c.secrets.api_key.expose()));
}

#[test]
fn the_polling_gateway_publishes_each_node_s_polling_port_and_shuts_its_sessions_when_cut() {
    let c = cfg(Images::StandIns, 2, None);
    let g = c.gateway_spec();
    assert_eq!(g.name, "harness-ab12cd34-polling");
    assert_eq!(
        g.image,
        ("harness-haproxy".to_string(), "stand-in".to_string())
    );
    // The target file's polling endpoints, on the gateway's listeners.
    assert_eq!(g.ports, vec![(20943, 20000), (20944, 20001)]);
    let (path, text) = &g.files[0];
    assert_eq!(path, "/usr/local/etc/haproxy/haproxy.cfg");
    assert!(text.contains("mode tcp"), "{text}");
    // A node it cannot reach is out within two checks of half a second.
    assert!(text.contains("timeout check 500ms"), "{text}");
    assert!(text.contains("listen n2\n  bind 0.0.0.0:20001\n"), "{text}");
    assert!(
        text.contains("server n2 harness-ab12cd34-octo2:10943 check inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions resolvers engine"),
        "{text}"
    );
    // On the LB's network and the gateway's, each alone.
    assert_eq!(
        c.side_networks(),
        [
            "harness-ab12cd34-lb".to_string(),
            "harness-ab12cd34-polling".to_string()
        ]
    );
}
