//! serde-saphyr's parse errors said in a scenario's words: what a field
//! expects rather than a Rust type (`expected a whole number from 1 to
//! 16, found `three``, not `invalid u32`), the nearest known field for an
//! unknown one, and an indentation slip as a structure error at the line
//! that slipped rather than a type error on the line above it.

use serde_saphyr::Error;

use super::validate;

/// A parse problem as the user should read it: where, and what.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Said {
    pub line: u64,
    pub column: u64,
    pub path: String,
    pub message: String,
}

/// `err`, found at `line`:`column` under the field `path`, in the
/// scenario's words; `None` where serde-saphyr's own message says it well.
pub(crate) fn explain(
    err: &Error,
    source: &str,
    line: u64,
    column: u64,
    path: &str,
) -> Option<Said> {
    let at = |message: String| Said {
        line,
        column,
        path: path.to_string(),
        message,
    };
    match err {
        Error::InvalidScalar { ty, .. } => {
            if let Some(slip) = indentation_slip(source, line, path) {
                return Some(slip);
            }
            let found = scalar_at(source, line, column);
            Some(at(format!(
                "expected {}, found `{found}`",
                expected(ty, path)
            )))
        }
        Error::InvalidBooleanStrict { .. } => {
            let found = scalar_at(source, line, column);
            Some(at(format!("expected true or false, found `{found}`")))
        }
        Error::SerdeUnknownField {
            field, expected, ..
        } => Some(at(unknown("field", field, expected))),
        Error::SerdeUnknownVariant {
            variant, expected, ..
        } => Some(at(unknown("kind", variant, expected))),
        Error::ExpectedMappingEndAfterEnumVariantValue { .. } => {
            // The path ends at the item's kind: `workload[0].api`.
            let item = path.rsplit_once('.').map_or(path, |(item, _)| item);
            let kind = path.rsplit_once('.').map_or("", |(_, kind)| kind);
            Some(Said {
                path: item.to_string(),
                message: format!(
                    "each item of this list holds exactly one kind, and this one has `{kind}` and a second key; start the next kind as its own item with `- `"
                ),
                ..at(String::new())
            })
        }
        _ => {
            let text = err.to_string();
            text.contains("did not find expected key").then(|| Said {
                path: String::new(),
                message: "this line's indentation matches no key above it: indent it as the keys beside it are".to_string(),
                ..at(String::new())
            })
        }
    }
}

/// What a field of Rust type `ty` takes, with its bounds where validation
/// sets them.
fn expected(ty: &str, path: &str) -> String {
    let whole = ty.starts_with('u') || ty.starts_with('i');
    if let (true, Some((lo, hi))) = (whole, validate::whole_number_bounds(path)) {
        return format!("a whole number from {lo} to {hi}");
    }
    match ty {
        _ if ty.starts_with('u') => "a whole number, 0 or more".to_string(),
        _ if ty.starts_with('i') => "a whole number".to_string(),
        _ if ty.starts_with('f') => "a number".to_string(),
        "bool" => "true or false".to_string(),
        "char" => "a single character".to_string(),
        other => format!("a {other}"),
    }
}

/// `unknown field `duraton`; did you mean `duration`? (known: ...)`.
fn unknown(what: &str, name: &str, known: &[&str]) -> String {
    let nearest = known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(name, k), *k))
        .filter(|(d, k)| *d <= (k.chars().count() / 3).max(1))
        .min();
    let list = known.join(", ");
    match nearest {
        Some((_, k)) => format!("unknown {what} `{name}`; did you mean `{k}`? (known: {list})"),
        None => format!("unknown {what} `{name}`; known: {list}"),
    }
}

/// The scalar that starts at `line`:`column` (1-based), as written: to the
/// end of the line, a comment, or, in a flow collection, the next `,`.
fn scalar_at(source: &str, line: u64, column: u64) -> String {
    let Some(text) = source.lines().nth(line.saturating_sub(1) as usize) else {
        return String::new();
    };
    let start = text
        .char_indices()
        .nth(column.saturating_sub(1) as usize)
        .map_or(text.len(), |(i, _)| i);
    let in_flow = text[..start].contains(['{', '[']);
    let rest = &text[start..];
    let end = rest
        .find(" #")
        .into_iter()
        .chain(in_flow.then(|| rest.find([',', '}', ']'])).flatten())
        .min()
        .unwrap_or(rest.len());
    let found = rest[..end].trim();
    // A hostile file's value is quoted back, but never at length.
    match found.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &found[..i]),
        None => found.to_string(),
    }
}

/// Spaces before a line's first other character.
fn indent(text: &str) -> usize {
    text.len() - text.trim_start_matches(' ').len()
}

/// A value that is not of its field's type because the key on the next
/// line is indented deeper than the key before it: YAML then reads
/// `task_cap: 3` as more of the value above. Said as the structure error
/// it is, at the line that slipped.
fn indentation_slip(source: &str, line: u64, path: &str) -> Option<Said> {
    let lines: Vec<&str> = source.lines().collect();
    let at = line.checked_sub(1)? as usize;
    let key_line = lines.get(at)?;
    let (next_at, next) = lines
        .iter()
        .enumerate()
        .skip(at + 1)
        .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))?;
    let (key, _) = key_line.trim_start().split_once(':')?;
    let slipped = next.trim_start();
    let (slipped_key, _) = slipped.split_once(':')?;
    if indent(next) <= indent(key_line) || slipped_key.contains(' ') {
        return None;
    }
    let parent = path.rsplit_once('.').map_or("", |(p, _)| p);
    Some(Said {
        line: next_at as u64 + 1,
        column: indent(next) as u64 + 1,
        path: parent.to_string(),
        message: format!(
            "`{slipped_key}` is indented {} deeper than `{key}` above it, so YAML reads this line as more of `{key}`'s value; indent it as `{key}` is",
            spaces(indent(next) - indent(key_line)),
        ),
    })
}

fn spaces(n: usize) -> String {
    if n == 1 {
        "one space".to_string()
    } else {
        format!("{n} spaces")
    }
}

#[cfg(test)]
mod tests {
    use super::super::load::parse_str;

    /// `LINE:COLUMN: PATH: MESSAGE` of the one problem `source` has.
    fn said(source: &str) -> String {
        let problems = parse_str(source).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        format!("{}:{}: {}: {}", p.line, p.column, p.path, p.message)
    }

    const HEAD: &str = "name: x\nduration: 10s\n";

    #[test]
    fn a_value_of_the_wrong_type_says_what_the_field_takes() {
        for found in ["three", "3.5", "-1"] {
            assert_eq!(
                said(&format!("{HEAD}cluster:\n  nodes: {found}\n")),
                format!(
                    "4:10: cluster.nodes: expected a whole number from 1 to 16, found `{found}`"
                )
            );
        }
        assert_eq!(
            said(&format!("{HEAD}cluster: {{ nodes: 2, task_cap: lots }}\n")),
            "3:32: cluster.task_cap: expected a whole number, 0 or more, found `lots`"
        );
    }

    #[test]
    fn an_unknown_field_names_the_nearest_known_one() {
        let s = said("name: x\nduraton: 10s\n");
        assert!(
            s.starts_with(
                "2:1: duraton: unknown field `duraton`; did you mean `duration`? (known: name, "
            ),
            "{s}"
        );
        let far = said(&format!("{HEAD}colour: red\n"));
        assert!(!far.contains("did you mean"), "{far}");
    }

    #[test]
    fn an_indentation_slip_is_a_structure_error_on_its_own_line() {
        assert_eq!(
            said(&format!("{HEAD}cluster:\n  nodes: 2\n   task_cap: 3\n")),
            "5:4: cluster: `task_cap` is indented one space deeper than `nodes` above it, so YAML reads this line as more of `nodes`'s value; indent it as `nodes` is"
        );
        assert_eq!(
            said(&format!(
                "{HEAD}cluster:\n  nodes: 2\n  task_cap: 3\n heartbeat: 1s\n"
            )),
            "6:2: : this line's indentation matches no key above it: indent it as the keys beside it are"
        );
    }

    #[test]
    fn a_workload_item_with_two_kinds_says_each_item_holds_one() {
        assert_eq!(
            said(&format!(
                "{HEAD}workload:\n  - api: {{ rate: 10/s }}\n    upload: {{ size: 1MiB }}\n"
            )),
            "5:5: workload[0]: each item of this list holds exactly one kind, and this one has `api` and a second key; start the next kind as its own item with `- `"
        );
    }
}
