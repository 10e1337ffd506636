//! Tests of scenario validation.

use super::*;

#[test]
fn tags_are_lower_case_words_listed_once() {
    let s: Scenario = crate::scenario::parse_yaml(
        "name: x\ntags: [nightly, Bad Tag, nightly, pre-upgrade]\nduration: 2s\nworkload:\n  - api: { rate: 10/s }\n",
    )
    .expect("parses");
    let problems: Vec<String> = validate(&s)
        .expect_err("two bad tags")
        .iter()
        .map(|p| format!("{}:{} {}: {}", p.line, p.column, p.path, p.message))
        .collect();
    assert_eq!(
        problems,
        [
            "2:17 tags[1]: must be 1 to 32 lower-case letters, digits or '-'",
            "2:26 tags[2]: \"nightly\" is listed twice",
        ]
    );
    assert!(is_tag("pre-upgrade") && !is_tag("") && !is_tag(&"a".repeat(33)));
}

#[test]
fn a_split_run_needs_one_of_each_at_work_in_every_busy_shard_and_no_sweep() {
    let load = |users: u32| {
        crate::scenario::parse_str(&format!(
            "name: x\nduration: 9s\nworkload:\n  - upload: {{ size: 1MiB }}\n  - load:\n      hold: 5s\n      users: {users}\n"
        ))
        .expect("valid")
    };
    let shown: Vec<String> = shard_problems(&load(2), 3)
        .iter()
        .map(|p| format!("{}:{} {}", p.line, p.column, p.path))
        .collect();
    assert_eq!(shown, ["7:14 workload[1].load.users"]);
    assert!(shard_problems(&load(3), 3).is_empty());
    assert!(shard_problems(&load(1), 1).is_empty());
    // Uploads and task clients: one at a time in each shard that has
    // work, so fewer than that would put more at work than asked.
    let at_once = |uploads: &str, tasks: &str| {
        let s = crate::scenario::parse_str(&format!(
            "name: x\nduration: 9s\nworkload:\n  - upload: {{ size: 1MiB, {uploads} }}\n  - tasks: {{ {tasks} }}\n"
        ))
        .expect("valid");
        let problems: Vec<String> = shard_problems(&s, 3)
            .into_iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect();
        problems
    };
    assert_eq!(
        at_once("count: 6", "rate: 2/s, clients: 2"),
        [
            "workload[0].upload.concurrency: 1 cannot be shared among 3 shards: each shard with work to do takes one at least, so 3 would be at work at once; give 3 or more, or run fewer shards",
            "workload[1].tasks.clients: 2 cannot be shared among 3 shards: each shard with work to do takes one at least, so 3 would be at work at once; give 3 or more, or run fewer shards",
        ]
    );
    // Two packages, two tasks: only two shards have work.
    assert!(at_once("count: 2, concurrency: 2", "burst: 2, clients: 2").is_empty());
    assert_eq!(at_once("count: 2", "burst: 2, clients: 3").len(), 1);
    let swept = crate::scenario::parse_str(
        "name: x\nduration: 9s\nworkload:\n  - load: { users: 4, hold: 5s }\nsweep:\n  nodes: [2, 3]\n  one_node_down: false\n",
    )
    .expect("valid");
    let paths: Vec<String> = shard_problems(&swept, 2)
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert_eq!(paths, ["sweep"]);
}

#[test]
fn a_threshold_for_a_request_the_mix_never_sends_is_refused() {
    let with = |rule: &str| {
        crate::scenario::parse_str(&format!(
            "name: x\nduration: 9s\nworkload:\n  - load:\n      users: 2\n      hold: 5s\n      mix: {{ ping: 1, task: 1 }}\n      thresholds: [\"{rule}\"]\n"
        ))
    };
    assert!(with("p95<1s for GET /api/tasks/{id}").is_ok());
    assert!(with("p95<1s for GET /api/octopusservernodes/ping").is_ok());
    for (rule, why) in [
        ("p95<1s for GET /api", "\"GET /api\""),
        ("p95<1s for get /api/octopusservernodes/ping", "\"get /api"),
    ] {
        let problems = with(rule).expect_err(rule);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        assert_eq!(
            (p.line, p.path.as_str()),
            (8, "workload[0].load.thresholds[0]")
        );
        assert!(
            p.message.contains(why) && p.message.contains("POST /api/tasks, GET /api/tasks/{id}"),
            "{}",
            p.message
        );
    }
}
