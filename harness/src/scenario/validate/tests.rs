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
fn a_split_run_needs_a_user_for_every_shard_and_no_sweep() {
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
