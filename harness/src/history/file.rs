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

    /// Reads a `history.jsonl` file.
    pub fn read(path: &Path) -> Result<History, HistoryError> {
        let file = File::open(path).map_err(|e| HistoryError::Io(path.display().to_string(), e))?;
        let mut events = Vec::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| HistoryError::Io(path.display().to_string(), e))?;
            if line.trim().is_empty() {
                continue;
            }
            let event = serde_json::from_str(&line).map_err(|e| HistoryError::Parse {
                file: path.display().to_string(),
                line: i + 1,
                error: e,
            })?;
            events.push(event);
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
