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
