//! Exit codes: a documented contract (README, "Exit codes"), written once,
//! and what a command ends with: an [`Outcome`] when it ran to a verdict,
//! a [`Failure`] of some [`Kind`] when it could not. [`code`] is the one
//! mapping from either to the process's exit code.

/// Every check passed.
pub const PASS: u8 = 0;
/// A check failed or could not be decided.
pub const CHECK_FAILED: u8 = 1;
/// Invalid usage or an invalid scenario (clap also uses 2 for usage errors).
pub const INVALID_INPUT: u8 = 2;
/// The environment or the harness failed: the cluster did not boot, the
/// target is unreachable, the run was interrupted.
pub const ENVIRONMENT: u8 = 3;

/// A command that ran to its end: its checks passed, or one failed (or
/// could not be decided). Neither is an error of the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed, or there was nothing to judge.
    Pass,
    /// A check failed or could not be decided.
    CheckFailed,
}

impl Outcome {
    /// Pass if `passed`, else CheckFailed.
    pub fn of(passed: bool) -> Self {
        if passed {
            Self::Pass
        } else {
            Self::CheckFailed
        }
    }
}

/// Why a command could not reach a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Invalid usage, an invalid scenario or target file.
    InvalidInput,
    /// The environment or the harness failed.
    Environment,
}

/// A command's failure: its kind, and the message to print on stderr as
/// `error: <message>`, or none where the command has already said what
/// went wrong as it went (a line per invalid file, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    kind: Kind,
    message: Option<String>,
}

impl Failure {
    /// Invalid input, with the message to print.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::InvalidInput,
            message: Some(message.into()),
        }
    }

    /// A failure of the environment or the harness, with the message to
    /// print.
    pub fn environment(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Environment,
            message: Some(message.into()),
        }
    }

    /// A failure the command has already reported.
    pub fn said(kind: Kind) -> Self {
        Self {
            kind,
            message: None,
        }
    }

    /// The failure's kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// What to print after `error: `, if anything is left to print.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

/// The exit code of a command's result: the one place codes are chosen.
pub fn code(result: &Result<Outcome, Failure>) -> u8 {
    match result {
        Ok(Outcome::Pass) => PASS,
        Ok(Outcome::CheckFailed) => CHECK_FAILED,
        Err(f) => match f.kind {
            Kind::InvalidInput => INVALID_INPUT,
            Kind::Environment => ENVIRONMENT,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_and_kind_has_its_documented_code() {
        assert_eq!(code(&Ok(Outcome::Pass)), 0);
        assert_eq!(code(&Ok(Outcome::CheckFailed)), 1);
        assert_eq!(code(&Err(Failure::invalid("x"))), 2);
        assert_eq!(code(&Err(Failure::said(Kind::InvalidInput))), 2);
        assert_eq!(code(&Err(Failure::environment("x"))), 3);
        assert_eq!(code(&Err(Failure::said(Kind::Environment))), 3);
        assert_eq!(Failure::invalid("bad").message(), Some("bad"));
        assert_eq!(Failure::said(Kind::Environment).message(), None);
    }
}
