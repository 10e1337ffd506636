//! Every bound on what untrusted input can make the harness hold, and on
//! how long the harness waits, in one place: the limits table of
//! docs/robustness.md lists these with the reference cluster's
//! (`reference_cluster::limits`) and the Halibut codec's
//! (`halibut::limits`), and the modules that enforce them import them from
//! here. A bound reached is a refusal the user can
//! read (a located problem, a 4xx, a closed connection), never a crash.

use std::time::Duration;

// --- YAML: scenario and target files ---------------------------------

/// Scenario files larger than this are refused before parsing; no real
/// scenario comes near it.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;

/// Target files larger than this are refused before parsing.
pub const MAX_TARGET_BYTES: u64 = 1 << 20;

/// Baseline reports (one report, or a suite's array of them) larger than
/// this are refused; a suite of twenty runs' reports is well under it.
pub const MAX_BASELINE_BYTES: u64 = 16 << 20;

/// API key files larger than this are refused: a key is 36 characters.
pub const MAX_KEY_FILE_BYTES: u64 = 64 << 10;

/// How long reading a file the user named may take, opening included: a
/// FIFO with no writer is given up on, not waited for.
pub const INPUT_READ_WITHIN: Duration = Duration::from_secs(5);

/// Most package bytes a scenario may keep on the cluster's storage at
/// once (`Scenario::stored_at_most`: every upload's package until the
/// run's end, the ladder's steps, spooled copies). Each field has its own
/// bound; this one weighs them together.
pub const MAX_STORED_BYTES: u64 = 2 << 40;

/// Free space the embedded cluster keeps beyond what a scenario stores:
/// its database, logs and the LB's spool of small bodies.
pub const STORAGE_HEADROOM: u64 = 1 << 30;

/// Most nodes a target may list.
pub const MAX_TARGET_NODES: usize = 64;

/// Longest `command_timeout` a target may give its stop and start
/// commands: a heal runs each at most twice per node.
pub const MAX_COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// How long a real target's node has to stop answering its own ping after
/// its `kill`, `stop` or `pause` command succeeded (or the target's
/// `command_timeout`, if shorter): a node that still answers was not the
/// one the command acted on.
pub const NODE_DOWN_WITHIN: Duration = Duration::from_secs(15);

/// Deepest nesting of YAML collections (the deepest scenario nests 6).
pub const YAML_MAX_DEPTH: usize = 32;

/// Most YAML parser events (scalars, collection starts and ends) in one
/// file; the largest shipped scenario has a few hundred.
pub const YAML_MAX_EVENTS: usize = 500_000;

/// Most anchors and most aliases in one file: scenarios have no use for
/// them beyond sharing a block or two.
pub const YAML_MAX_ALIASES: usize = 1_000;

/// Most events an alias may replay in all, so a "billion laughs" of
/// nested aliases is refused instead of expanded.
pub const YAML_MAX_REPLAYED_EVENTS: usize = 100_000;

/// serde-saphyr's options with the budgets above: one document, bounded
/// depth, events, anchors, aliases and alias expansion.
pub fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = YAML_MAX_DEPTH;
    budget.max_events = YAML_MAX_EVENTS;
    budget.max_nodes = YAML_MAX_EVENTS;
    budget.max_aliases = YAML_MAX_ALIASES;
    budget.max_anchors = YAML_MAX_ALIASES;
    budget.max_merge_keys = YAML_MAX_ALIASES;
    budget.max_documents = 1;
    budget.max_total_scalar_bytes = MAX_SCENARIO_BYTES as usize;
    budget.max_recorded_anchor_events = YAML_MAX_REPLAYED_EVENTS;
    budget.max_recorded_anchor_bytes = MAX_SCENARIO_BYTES as usize;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = YAML_MAX_REPLAYED_EVENTS;
    options
}

/// The most of an upload's answer the harness keeps.
pub const MAX_ANSWER: usize = 64 * 1024;

/// The most of an Octopus error (its `ErrorMessage` and `Errors`) an
/// upload's outcome quotes, in characters: whole for any real error, short
/// enough for a terminal line.
pub const MAX_SERVER_ERROR_KEPT: usize = 2_000;

// --- Runs ----------------------------------------------------------------

/// What a run may take beyond the time its scenario states (warm-up,
/// duration, settle, and the time its tasks are given to finish): booting
/// the cluster, healing, verifying uploads and cleaning up. A run still
/// going past its limit is stopped, healed, and reported as a harness
/// error (exit 3); `harness run --time-limit` sets the whole limit.
pub const RUN_ALLOWANCE: Duration = Duration::from_secs(600);

/// The longest each clean-up step of a run may take (removing its
/// packages, canceling its tasks, stopping its fleet and removing its
/// machines), after an interrupt too. What is left is recorded in the
/// history, and `harness cleanup --run-id` removes it later.
pub const CLEANUP_WITHIN: Duration = Duration::from_secs(120);

/// How long a run stopped early waits for its upload attempts whose body
/// has all gone to be answered (the node may be storing the package) before
/// it cuts them and deletes what they made.
pub const ATTEMPTS_END_WITHIN: Duration = Duration::from_secs(30);

/// How long upload attempts the run has cut (past [`ATTEMPTS_END_WITHIN`])
/// may take to end, a retry's read-back included, before the workload is
/// dropped where it is.
pub const CUT_ATTEMPTS_END_WITHIN: Duration = Duration::from_secs(10);

/// How long after an upload attempt that may still land its package (its
/// body went, its answer failed, and the server then said it had no such
/// package) the run's clean-up looks for it, to delete it. Past it the
/// report says the package may be left, for `harness cleanup --run-id`.
pub const LATE_LANDING_WITHIN: Duration = Duration::from_secs(10);

/// The longest `harness cleanup --run-id` may take in all.
pub const CLEANUP_COMMAND_WITHIN: Duration = Duration::from_secs(600);

/// How late after a split run's agreed start a shard may be ready and
/// still run: later, its share of the load would not be the schedule's
/// (docs/shards.md).
pub const SHARD_LATE_WITHIN: Duration = Duration::from_secs(2);

/// How long a shard waits for the conductor to publish the run's start
/// when no `--start-at` was given: pods of one Job may be scheduled
/// minutes apart.
pub const SHARD_START_WAIT: Duration = Duration::from_secs(600);

/// The longest the merge Job `harness kube` writes may take: it reads
/// the shards' histories and judges them once.
pub const MERGE_JOB_WITHIN: Duration = Duration::from_secs(600);

/// The longest `harness containers up` waits for its containers (image
/// pulls included) before it gives up and removes them.
pub const CONTAINERS_UP_WITHIN: Duration = Duration::from_secs(1800);
#[cfg(test)]
mod tests {
    use super::*;

    /// Five levels of ten aliases: a "billion laughs" in small.
    fn alias_bomb() -> String {
        let mut doc = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..5 {
            let prev = format!("*l{}", level - 1);
            let items = [prev.as_str(); 10].join(", ");
            doc.push_str(&format!("l{level}: &l{level} [{items}]\n"));
        }
        doc
    }

    /// The limits table moved from the README to docs/robustness.md
    /// (issue 18): every constant is named in one of its rows.
    #[test]
    fn the_robustness_doc_lists_every_limit() {
        let doc = include_str!("../../docs/robustness.md");
        let table: String = doc
            .lines()
            .filter(|l| l.starts_with('|'))
            .collect::<Vec<_>>()
            .join("\n");
        let sources = [
            include_str!("limits.rs"),
            include_str!("../cluster/src/limits.rs"),
            include_str!("../halibut/src/limits.rs"),
        ];
        let names: Vec<&str> = sources
            .iter()
            .flat_map(|s| s.lines())
            .filter_map(|l| l.strip_prefix("pub const ")?.split(':').next())
            .collect();
        assert!(names.len() >= 30, "{names:?}");
        for name in names {
            assert!(
                table.contains(&format!("`{name}`")),
                "docs/robustness.md's limits table: {name}"
            );
        }
    }

    #[test]
    fn the_yaml_budgets_refuse_an_alias_bomb_and_deep_nesting_the_defaults_take() {
        type Any = serde_json::Value;
        let bomb = alias_bomb();
        assert!(serde_saphyr::from_str::<Any>(&bomb).is_ok());
        let e = crate::scenario::parse_yaml::<Any>(&bomb).unwrap_err();
        assert!(e.line > 0, "{e:?}");
        assert!(e.message.contains("too large or too complex"), "{e:?}");

        let deep = format!(
            "a: {}{}",
            "[".repeat(YAML_MAX_DEPTH + 8),
            "]".repeat(YAML_MAX_DEPTH + 8)
        );
        assert!(serde_saphyr::from_str::<Any>(&deep).is_ok());
        let e = crate::scenario::parse_yaml::<Any>(&deep).unwrap_err();
        assert!(e.message.contains("depth"), "{e:?}");

        let two = "a: 1\n---\nb: 2\n";
        assert!(crate::scenario::parse_yaml::<Any>(two).is_err());
    }
}
