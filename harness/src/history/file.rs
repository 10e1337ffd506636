//! The `history.jsonl` format: one JSON event a line, written as the
//! events arrive ([`HistoryWriter`]), read back whole ([`History::read`]),
//! and the run's header, its `run_started` line.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use super::event::Event;
use super::views::History;

impl History {
    /// The run's header, if present.
    pub fn header(&self) -> Option<(&str, u64, &str, &str)> {
        self.events.iter().find_map(|e| match e {
            Event::RunStarted {
                scenario,
                seed,
                target,
                started_at,
                ..
            } => Some((
                scenario.as_str(),
                *seed,
                target.as_str(),
                started_at.as_str(),
            )),
            _ => None,
        })
    }

    /// Reads a `history.jsonl` file. A last line cut off before its
    /// newline is left out: the harness that wrote it was killed mid-write,
    /// and the events before it stand (its history has no `run_ended`, so
    /// it is judged as a run that did not finish).
    pub fn read(path: &Path) -> Result<History, HistoryError> {
        let file = File::open(path).map_err(|e| HistoryError::Io(path.display().to_string(), e))?;
        let mut events = Vec::new();
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        for i in 0.. {
            line.clear();
            let read = reader
                .read_line(&mut line)
                .map_err(|e| HistoryError::Io(path.display().to_string(), e))?;
            if read == 0 {
                break;
            }
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(&line) {
                Ok(event) => events.push(event),
                Err(_) if !line.ends_with('\n') => break,
                Err(e) => {
                    return Err(HistoryError::Parse {
                        file: path.display().to_string(),
                        line: i + 1,
                        error: e,
                    });
                }
            }
        }
        Ok(History { events })
    }
}

/// Why a history file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file could not be read.
    #[error("failed to read history {0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// A line is not an event.
    #[error("failed to parse history {file}:{line}: {error}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The JSON error.
        #[source]
        error: serde_json::Error,
    },
}

/// Appends events to `history.jsonl` as they arrive.
pub struct HistoryWriter {
    out: BufWriter<File>,
}

impl HistoryWriter {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            out: BufWriter::with_capacity(1 << 16, File::create(path)?),
        })
    }

    /// Writes one event. Events other than requests are flushed at once, so
    /// someone watching the file (a person, or a test waiting for the nodes)
    /// sees them while the run goes on.
    pub fn write(&mut self, event: &Event) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, event)?;
        self.out.write_all(b"\n")?;
        if !matches!(event, Event::Request(_)) {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Flushes what is buffered.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_last_line_cut_off_by_a_kill_is_left_out_and_a_bad_line_before_it_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let whole = "{\"event\":\"phase\",\"at_us\":1,\"phase\":\"warmup\"}\n";
        std::fs::write(&path, format!("{whole}{whole}{{\"event\":\"request\",\"se")).unwrap();
        assert_eq!(History::read(&path).unwrap().events.len(), 2);
        std::fs::write(&path, format!("{whole}{{\"event\":\n{whole}")).unwrap();
        let e = History::read(&path).unwrap_err().to_string();
        assert!(e.contains("history.jsonl:2"), "{e}");
    }
}
