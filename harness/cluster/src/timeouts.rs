//! The reference cluster's server-side waits, as settings. Each defaults
//! to its production value in `limits` (the values docs/robustness.md's limits
//! table lists); a test about what happens when one runs out sets it short
//! rather than waiting the production value out.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::limits::{BODY_STALL, HEADER_READ_TIMEOUT, LINGER};
use halibut::limits::{HANDSHAKE_TIMEOUT, HEARTBEAT_TIMEOUT};

/// How long a node or the built-in LB waits for a client, in milliseconds
/// (the form a child's JSON configuration carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerTimeouts {
    /// A request's headers, on a new connection and between requests.
    pub header_read_ms: u64,
    /// The next bytes of an upload, and the whole of a small JSON body.
    pub body_stall_ms: u64,
    /// How long a refused request's body is read and dropped.
    pub linger_ms: u64,
    /// A polling peer's TLS handshake and identification.
    pub handshake_ms: u64,
    /// A polling peer's NEXT or PROCEED.
    pub heartbeat_ms: u64,
}

impl Default for ServerTimeouts {
    fn default() -> Self {
        Self {
            header_read_ms: millis(HEADER_READ_TIMEOUT),
            body_stall_ms: millis(BODY_STALL),
            linger_ms: millis(LINGER),
            handshake_ms: millis(HANDSHAKE_TIMEOUT),
            heartbeat_ms: millis(HEARTBEAT_TIMEOUT),
        }
    }
}

impl ServerTimeouts {
    /// See [`ServerTimeouts::header_read_ms`].
    pub fn header_read(&self) -> Duration {
        Duration::from_millis(self.header_read_ms)
    }

    /// See [`ServerTimeouts::body_stall_ms`].
    pub fn body_stall(&self) -> Duration {
        Duration::from_millis(self.body_stall_ms)
    }

    /// See [`ServerTimeouts::linger_ms`].
    pub fn linger(&self) -> Duration {
        Duration::from_millis(self.linger_ms)
    }

    /// See [`ServerTimeouts::handshake_ms`].
    pub fn handshake(&self) -> Duration {
        Duration::from_millis(self.handshake_ms)
    }

    /// See [`ServerTimeouts::heartbeat_ms`].
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }

    /// Every wait set to `d`: what a test of their running out uses.
    pub fn all(d: Duration) -> Self {
        let ms = millis(d);
        Self {
            header_read_ms: ms,
            body_stall_ms: ms,
            linger_ms: ms,
            handshake_ms: ms,
            heartbeat_ms: ms,
        }
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_production_values_and_a_child_reads_back_what_it_was_given() {
        let d = ServerTimeouts::default();
        assert_eq!(d.body_stall(), BODY_STALL);
        assert_eq!(d.header_read(), HEADER_READ_TIMEOUT);
        assert_eq!(d.linger(), LINGER);
        assert_eq!(d.handshake(), HANDSHAKE_TIMEOUT);
        assert_eq!(d.heartbeat(), HEARTBEAT_TIMEOUT);
        // A configuration written before the setting existed gets them.
        let old: ServerTimeouts = serde_json::from_str("{}").unwrap();
        assert_eq!(old, d);
        let short = ServerTimeouts::all(Duration::from_secs(2));
        let back: ServerTimeouts =
            serde_json::from_str(&serde_json::to_string(&short).unwrap()).unwrap();
        assert_eq!(back.body_stall(), Duration::from_secs(2));
        assert!(serde_json::from_str::<ServerTimeouts>(r#"{"stall_ms":1}"#).is_err());
    }
}
