//! The Octopus surface's own words, which the reference cluster and its
//! clients both speak: a task's state as Octopus spells it, the API key
//! that never prints, and how Octopus reads a package's ID, version and
//! extension from its file name (with the lowercase hex of its hash).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A task's state, as Octopus spells it in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaskState {
    /// Waiting for a node.
    Queued,
    /// A node runs it.
    Executing,
    /// Ended in failure.
    Failed,
    /// Canceled, by a user or by the orphan rule.
    Canceled,
    /// Waited too long in the queue.
    TimedOut,
    /// Ended well.
    Success,
    /// A cancel was asked for and has not finished.
    Cancelling,
}

impl TaskState {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "Queued",
            TaskState::Executing => "Executing",
            TaskState::Failed => "Failed",
            TaskState::Canceled => "Canceled",
            TaskState::TimedOut => "TimedOut",
            TaskState::Success => "Success",
            TaskState::Cancelling => "Cancelling",
        }
    }

    /// Octopus's `IsCompleted`: not Queued, Executing or Cancelling.
    pub fn is_completed(self) -> bool {
        !matches!(
            self,
            TaskState::Queued | TaskState::Executing | TaskState::Cancelling
        )
    }

    /// Every state.
    pub const ALL: [TaskState; 7] = [
        TaskState::Queued,
        TaskState::Executing,
        TaskState::Failed,
        TaskState::Canceled,
        TaskState::TimedOut,
        TaskState::Success,
        TaskState::Cancelling,
    ];
}

impl std::str::FromStr for TaskState {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        TaskState::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or(())
    }
}

/// An API key. It never prints: `Debug` and reports show it redacted, and
/// only [`ApiKey::expose`] gives the text, for the one header that needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: String) -> Self {
        Self(key)
    }

    /// A fresh random key in Octopus's format (`API-` and 26 characters).
    pub fn generate() -> Result<Self, String> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut bytes = [0u8; 26];
        getrandom::fill(&mut bytes).map_err(|e| format!("failed to read OS randomness: {e}"))?;
        let key: String = bytes
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        Ok(Self(format!("API-{key}")))
    }

    /// The key itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A package's ID and version, read from its file name by Octopus's rules
/// (docs/octopus-surface.md, "Package file names"): the extension goes
/// (with a `.tar` before it), and the ID is the shortest run of word
/// segments joined by `.`, `_` or `-` that leaves a valid semantic version
/// after a dot.
pub fn parse_file_name(name: &str) -> Option<(String, String, String)> {
    const EXTENSIONS: &[&str] = &[
        ".tar.gz", ".tar.bz2", ".tar.bz", ".tar.Z", ".nupkg", ".zip", ".jar", ".war", ".ear",
        ".rar", ".tar", ".tgz", ".tbz2", ".tbz",
    ];
    let ext = EXTENSIONS.iter().find(|e| name.ends_with(*e))?;
    let stem = &name[..name.len() - ext.len()];
    for (i, _) in stem.match_indices('.') {
        let (id, version) = (&stem[..i], &stem[i + 1..]);
        if version.starts_with(|c: char| c.is_ascii_digit())
            && valid_id(id)
            && valid_version(version)
        {
            return Some((id.to_string(), version.to_string(), ext.to_string()));
        }
    }
    None
}

fn word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// `\w+([_.-]\w+)*`: `_` is a word character, so only `.` and `-` split.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.split(['.', '-']).all(word)
}

/// `\d+(\.\d+){0,3}(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`
fn valid_version(v: &str) -> bool {
    let (v, build) = match v.split_once('+') {
        Some((v, b)) => (v, Some(b)),
        None => (v, None),
    };
    let (numbers, pre) = match v.split_once('-') {
        Some((n, p)) => (n, Some(p)),
        None => (v, None),
    };
    let labels = |s: &str| {
        s.split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    (1..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && pre.is_none_or(labels)
        && build.is_none_or(labels)
}
