//! The work of a task on a reference node: a tiny script language for
//! `AdHocScript` tasks, and the task log in storage.
//!
//! Real Octopus runs the script; the reference node understands three
//! commands, enough to give a task a duration, an outcome and a line of
//! output that proves it ran: `echo TEXT`, `sleep SECONDS` and `exit CODE`,
//! separated by newlines or `;`. Every execution appends to the task's log
//! file, `TaskLogs/servertasks-<n>.txt`, in the node's storage folder;
//! when the folder is shared, any node can serve the log.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest `sleep` a script may ask for, so a typo cannot hold a slot for
/// a year.
const MAX_SLEEP: Duration = Duration::from_secs(24 * 3600);

/// One command of a script.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A line in the log.
    Echo(String),
    /// Wait.
    Sleep(Duration),
    /// End with this code; not 0 fails the task.
    Exit(i32),
}

/// Parses a script, or says which command the reference node cannot run.
pub fn parse_script(body: &str) -> Result<Vec<Command>, String> {
    let mut commands = Vec::new();
    for raw in body.split(['\n', ';']) {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let command = match word {
            "echo" => Command::Echo(unquote(rest).to_string()),
            "sleep" => {
                let secs: f64 = rest
                    .parse()
                    .map_err(|_| format!("sleep needs a number of seconds, not {rest:?}"))?;
                if !(0.0..=MAX_SLEEP.as_secs_f64()).contains(&secs) {
                    return Err(format!("sleep {rest} is out of range (0 to 86400)"));
                }
                Command::Sleep(Duration::from_secs_f64(secs))
            }
            "exit" => Command::Exit(
                rest.parse()
                    .map_err(|_| format!("exit needs a number, not {rest:?}"))?,
            ),
            other => {
                return Err(format!(
                    "the reference node runs only echo, sleep and exit, not {other:?}"
                ));
            }
        };
        commands.push(command);
    }
    Ok(commands)
}

fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// The log file of task `seq` under a storage folder.
pub fn log_path(storage: &Path, seq: i64) -> PathBuf {
    storage
        .join("TaskLogs")
        .join(format!("servertasks-{seq}.txt"))
}

/// Appends one line to a task's log. Each line is one `write` on a file
/// opened for appending, so lines of two writers never interleave within a
/// line.
pub fn log_line(storage: &Path, seq: i64, text: &str) -> std::io::Result<()> {
    let path = log_path(storage, seq);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let stamp = humantime::format_rfc3339_millis(std::time::SystemTime::now());
    let line = format!("{stamp}  Info  {text}\n");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(line.as_bytes())
}

/// The time, category and text of a line [`log_line`] wrote; a line in
/// another form is all text.
pub fn split_log_line(line: &str) -> (&str, &str, &str) {
    let mut parts = line.splitn(3, "  ");
    match (parts.next(), parts.next(), parts.next()) {
        (Some(stamp), Some(category), Some(text)) => (stamp, category, text),
        _ => ("", "Info", line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_and_unknown_commands_are_named() {
        assert_eq!(
            parse_script("echo \"HARNESS-EXEC r-1\"; sleep 0.5\nexit 3").unwrap(),
            vec![
                Command::Echo("HARNESS-EXEC r-1".into()),
                Command::Sleep(Duration::from_millis(500)),
                Command::Exit(3),
            ]
        );
        assert_eq!(parse_script("  \n# note\n").unwrap(), vec![]);
        assert!(parse_script("rm -rf /").unwrap_err().contains("\"rm\""));
        assert!(parse_script("sleep forever").is_err());
        assert!(parse_script("sleep -1").is_err());
        assert!(parse_script("sleep 1e9").is_err());
    }

    #[test]
    fn log_lines_append() {
        let dir = tempfile::tempdir().unwrap();
        log_line(dir.path(), 7, "one").unwrap();
        log_line(dir.path(), 7, "two").unwrap();
        let text = std::fs::read_to_string(log_path(dir.path(), 7)).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with("Info  two\n"), "{text}");
    }
}
