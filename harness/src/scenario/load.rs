//! Reading a scenario file: YAML to the typed model, then the second
//! validation pass, with every problem located by file, line, column and
//! field path.
//!
//! serde-saphyr stops at the first syntax or type error, so a file that does
//! not parse reports one problem; a file that parses reports every
//! cross-reference problem the validator finds.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::model::Scenario;
pub use super::problem::Problem;
use super::validate;
use crate::limits::MAX_SCENARIO_BYTES;

/// Why a scenario could not be loaded.
#[derive(Debug)]
pub struct ScenarioError {
    /// The file, as the user named it.
    pub file: PathBuf,
    /// What went wrong.
    pub kind: ScenarioErrorKind,
}

/// The ways loading a scenario fails.
#[derive(Debug)]
pub enum ScenarioErrorKind {
    /// The file could not be read, was larger than [`MAX_SCENARIO_BYTES`],
    /// or its read did not end in time.
    Read(crate::input::InputError),
    /// The file was read but is not a valid scenario.
    Invalid(Vec<Problem>),
}

impl std::error::Error for ScenarioError {}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match &self.kind {
            ScenarioErrorKind::Read(e) => write!(f, "failed to read scenario {file}: {e}"),
            ScenarioErrorKind::Invalid(problems) => {
                write_problems(f, "scenario", &self.file, problems)
            }
        }
    }
}

/// `invalid <what> FILE: N problems`, then each problem on its own line
/// as `FILE:LINE:COLUMN: PATH: MESSAGE`.
pub(crate) fn write_problems(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    file: &Path,
    problems: &[Problem],
) -> fmt::Result {
    let file = file.display();
    let s = if problems.len() == 1 { "" } else { "s" };
    write!(f, "invalid {what} {file}: {} problem{s}", problems.len())?;
    for p in problems {
        write!(f, "\n  {file}")?;
        if p.line > 0 {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        if !p.path.is_empty() {
            write!(f, ": {}", printable(&p.path))?;
        }
        write!(f, ": {}", printable(&p.message))?;
    }
    Ok(())
}

/// Control characters escaped: a field path or a message may quote the
/// input, and a hostile file must not start new lines or drive the
/// terminal.
fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return s.into();
    }
    s.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect::<String>()
        .into()
}

/// A scenario that parsed and passed validation.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// Where it was read from.
    pub file: PathBuf,
    /// The file's text, kept so a run folder can hold an exact copy.
    pub source: String,
    /// The typed scenario.
    pub scenario: Scenario,
}

/// Reads, parses and validates a scenario file.
pub fn load(file: &Path) -> Result<LoadedScenario, ScenarioError> {
    load_for_nodes(file, None)
}

/// As [`load`], for a real target with these node names.
pub fn load_for_nodes(
    file: &Path,
    nodes: Option<&[String]>,
) -> Result<LoadedScenario, ScenarioError> {
    let err = |kind| ScenarioError {
        file: file.to_path_buf(),
        kind,
    };
    let bytes = crate::input::read(file, MAX_SCENARIO_BYTES)
        .map_err(|e| err(ScenarioErrorKind::Read(e)))?;
    let source = utf8(bytes).map_err(|p| err(ScenarioErrorKind::Invalid(vec![p])))?;
    let scenario = parse_only(&source)
        .map_err(|p| vec![p])
        .and_then(|s| validate::validate_for_nodes(&s, nodes).map(|()| s))
        .map_err(|p| err(ScenarioErrorKind::Invalid(p)))?;
    Ok(LoadedScenario {
        file: file.to_path_buf(),
        source,
        scenario,
    })
}

/// Parses and validates scenario text; the problems are in source order.
pub fn parse_str(source: &str) -> Result<Scenario, Vec<Problem>> {
    parse_str_for_nodes(source, None)
}

/// As [`parse_str`], its node names checked against `nodes` (a target
/// file's, or those a run's history recorded) instead of the embedded
/// cluster's.
pub fn parse_str_for_nodes(
    source: &str,
    nodes: Option<&[String]>,
) -> Result<Scenario, Vec<Problem>> {
    let scenario = parse_only(source).map_err(|p| vec![p])?;
    validate::validate_for_nodes(&scenario, nodes)?;
    Ok(scenario)
}

/// A scenario as YAML that parses back to the same scenario: every field
/// written out, defaults included, units in exact form.
pub fn print(scenario: &Scenario) -> Result<String, String> {
    serde_saphyr::to_string(scenario).map_err(|e| format!("failed to print the scenario: {e}"))
}

/// The first pass alone: YAML to the typed model.
fn parse_only(source: &str) -> Result<Scenario, Problem> {
    parse_yaml(source)
}

/// A file's bytes as text; bytes that are not UTF-8 are a problem located
/// at the first of them.
pub(crate) fn utf8(bytes: Vec<u8>) -> Result<String, Problem> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let good = &bytes[..e.utf8_error().valid_up_to()];
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let before = std::str::from_utf8(&good[line_start..]).unwrap_or_default();
        Problem {
            line: 1 + good.iter().filter(|&&b| b == b'\n').count() as u64,
            column: 1 + before.chars().count() as u64,
            path: String::new(),
            message: format!(
                "the file is not UTF-8 text (byte 0x{:02x})",
                bytes[good.len()]
            ),
        }
    })
}

/// YAML to any typed model (scenarios, target files), the first error
/// located by line, column and field path.
pub(crate) fn parse_yaml<T: for<'de> Deserialize<'de>>(source: &str) -> Result<T, Problem> {
    let mut track = serde_path_to_error::Track::new();
    let result = serde_saphyr::with_deserializer_from_str_with_options(
        source,
        crate::limits::yaml_options(),
        |de| T::deserialize(serde_path_to_error::Deserializer::new(de, &mut track)),
    );
    result.map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        let path = field_path(&track.path().to_string());
        if let Some(said) = super::words::explain(e.without_snippet(), source, line, column, &path)
        {
            return Problem {
                line: said.line,
                column: said.column,
                path: said.path,
                message: said.message,
            };
        }
        let message = serde_saphyr::MessageFormatter::format_message(
            &serde_saphyr::UserMessageFormatter,
            e.without_snippet(),
        );
        Problem {
            line,
            column,
            // serde_path_to_error's `?` is "no field yet", said as nothing.
            path: if path == "?" { String::new() } else { path },
            message: message.into_owned(),
        }
    })
}

/// serde_path_to_error's path, minus the `value` step that `Spanned` adds
/// (no scenario field is called `value`), and `.` for the document itself.
fn field_path(raw: &str) -> String {
    let path = raw
        .split('.')
        .filter(|step| *step != "value")
        .collect::<Vec<_>>()
        .join(".");
    if path == "." { String::new() } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the mutation test of `harness validate`: a quoted key with
    /// a line break went into the field path as it was, and started a
    /// line of the error that named no location.
    #[test]
    fn a_field_path_with_a_line_break_stays_on_its_problem_s_line() {
        let problems = parse_str("name: x\nduration: 1s\n\"evil\\nkey\": 1\n").unwrap_err();
        let shown = ScenarioError {
            file: "s.yaml".into(),
            kind: ScenarioErrorKind::Invalid(problems),
        }
        .to_string();
        assert_eq!(shown.lines().count(), 2, "{shown}");
        assert!(shown.contains("s.yaml:3:1: "), "{shown}");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_located() {
        let p = utf8(b"name: x\nduration: 1\xffs\n".to_vec()).unwrap_err();
        assert_eq!((p.line, p.column), (2, 12));
        assert!(p.message.contains("0xff"), "{}", p.message);
        assert_eq!(utf8(b"\xc3".to_vec()).unwrap_err().column, 1);
        assert_eq!(utf8("é".into()).unwrap(), "é");
    }

    #[test]
    fn paths_drop_spanned_steps() {
        assert_eq!(
            field_path("faults[0].value.kill.at.value"),
            "faults[0].kill.at"
        );
        assert_eq!(field_path("."), "");
    }
}
