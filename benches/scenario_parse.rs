//! Parsing and validating a scenario: the cost `harness validate` and every
//! run pay before anything starts.

use criterion::{Criterion, criterion_group, criterion_main};

fn parse(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/failover.yaml");
    let source = std::fs::read_to_string(path).expect("scenarios/failover.yaml");
    c.bench_function("parse_and_validate_failover_yaml", |b| {
        b.iter(|| harness::scenario::parse_str(std::hint::black_box(&source)).expect("valid"))
    });
    // The peer: the same YAML read into an untyped value, with no model and
    // no validation; the ratio is what typing and validating cost.
    c.bench_function("parse_failover_yaml_untyped", |b| {
        b.iter(|| {
            serde_saphyr::from_str::<serde_json::Value>(std::hint::black_box(&source))
                .expect("yaml")
        })
    });
}

criterion_group!(benches, parse);
criterion_main!(benches);
