//! `harness list`: every workload, fault and check kind.

use std::fmt::Write as _;
use std::io::Write as _;

use harness::exit::{Failure, Outcome};
use harness::scenario::KINDS;

pub(crate) fn list() -> Result<Outcome, Failure> {
    let _ = std::io::stdout()
        .lock()
        .write_all(list_text(KINDS).as_bytes());
    Ok(Outcome::Pass)
}

/// `harness list`'s text: the kinds by section, in a column as wide as
/// the longest name, so every description starts in the same place.
fn list_text(kinds: &[(&str, &str, &str)]) -> String {
    let width = kinds
        .iter()
        .map(|(_, k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let mut section = "";
    for (sec, kind, what) in kinds {
        if *sec != section {
            let _ = writeln!(out, "{}{sec}s", if section.is_empty() { "" } else { "\n" });
            section = sec;
        }
        let _ = writeln!(out, "  {kind:<width$}  {what}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every description starts in the same column, however long the
    /// longest kind (`every_node_reaches_every_tentacle`). See: issue 17.
    #[test]
    fn r17_list_sizes_its_column_to_the_longest_name() {
        let text = list_text(KINDS);
        let longest = KINDS.iter().map(|(_, k, _)| k.len()).max().unwrap();
        assert!(longest > 27, "the test needs a name past the old column");
        let mut rows = 0;
        for (_, kind, what) in KINDS {
            let line = text
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{kind} ")))
                .unwrap_or_else(|| panic!("{kind} missing:\n{text}"));
            // Two spaces of indent, the column, two spaces, the description.
            assert_eq!(line.find(what), Some(2 + longest + 2), "{line:?}");
            assert_eq!(&line[2..2 + kind.len()], *kind);
            rows += 1;
        }
        assert_eq!(rows, KINDS.len());
    }
}
