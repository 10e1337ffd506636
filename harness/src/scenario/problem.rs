//! A problem found in a scenario or target file, with where it is: what
//! the parser, the validator and the sweep's check of each combination
//! all report, so that none of them needs another to say it.

/// One problem in a scenario, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    /// Field path such as `faults[1].kill.node`; empty for the document.
    pub path: String,
    /// Lowercase sentence fragment.
    pub message: String,
}

impl Problem {
    /// A problem at a YAML location.
    pub fn at(
        loc: &serde_saphyr::Location,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            line: loc.line(),
            column: loc.column(),
            path: path.into(),
            message: message.into(),
        }
    }
}
