//! Exit codes: a documented contract (README, "Exit codes"), written once.

/// Every check passed.
pub const PASS: u8 = 0;
/// A check failed or could not be decided.
pub const CHECK_FAILED: u8 = 1;
/// Invalid usage or an invalid scenario (clap also uses 2 for usage errors).
pub const INVALID_INPUT: u8 = 2;
/// The environment or the harness failed: the cluster did not boot, the
/// target is unreachable, the run was interrupted.
pub const ENVIRONMENT: u8 = 3;
