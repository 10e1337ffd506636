//! A run's seed and ID: the seed `--seed` or the scenario gives, or one
//! drawn at random that a JSON reader of doubles still holds exactly (or,
//! for the shards of a split run, from their run ID), and the short ID in
//! the name of everything the run creates in the cluster.

use super::options::RunOptions;
use super::outcome::RunError;

/// The seed `--seed` or the scenario gives (any `u64`), or a random one
/// below 2^53.
pub(super) fn seed_of(opts: &RunOptions, s: &crate::scenario::Scenario) -> Result<u64, RunError> {
    match opts.seed.or(s.seed) {
        Some(seed) => Ok(seed),
        None => draw_seed(),
    }
}

/// Seeds drawn at random stay at or below this, the largest integer a
/// JSON reader that holds numbers as doubles (`jq`, JavaScript) reads
/// exactly, so `--seed $(jq .seed report.json)` replays the same run. See
/// docs/scenarios.md, "What a run leaves behind".
pub const MAX_DRAWN_SEED: u64 = (1 << 53) - 1;

/// A random seed a double holds exactly.
fn draw_seed() -> Result<u64, RunError> {
    getrandom::u64()
        .map(|n| n & MAX_DRAWN_SEED)
        .map_err(|e| RunError::new(format!("failed to draw a seed: {e}")))
}

/// The seed the shards of a split run agree on when neither the scenario
/// nor `--seed` gives one: drawn from the run ID, which they share, below
/// 2^53 as a drawn seed is.
pub(super) fn agreed_seed(run_id: &str) -> u64 {
    use sha1::Digest;
    let digest = sha1::Sha1::digest(run_id.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes) & MAX_DRAWN_SEED
}

/// A short ID unique to the run, in the name of everything it creates in
/// the cluster, so that only those are removed.
pub(super) fn new_run_id(seed: u64) -> String {
    format!("{:08x}", getrandom::u32().unwrap_or(seed as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A drawn seed survives a JSON reader that holds numbers as doubles:
    /// `jq .seed` prints the seed that replays the run. See: issue 17.
    /// Shards given one run ID draw one seed, which a double holds.
    #[test]
    fn shards_of_one_run_agree_on_the_seed() {
        assert_eq!(agreed_seed("ab12cd34"), agreed_seed("ab12cd34"));
        assert_ne!(agreed_seed("ab12cd34"), agreed_seed("ab12cd35"));
        assert!(agreed_seed("ab12cd34") <= MAX_DRAWN_SEED);
    }

    #[test]
    fn r17_drawn_seeds_are_exact_as_doubles() {
        for _ in 0..256 {
            let seed = draw_seed().unwrap();
            assert!(seed <= MAX_DRAWN_SEED, "{seed}");
            assert_eq!(seed as f64 as u64, seed);
        }
    }
}
