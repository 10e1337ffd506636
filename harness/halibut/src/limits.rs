//! Every bound on what a Halibut peer can make this codec hold, and on how
//! long a peer is waited for, as docs/robustness.md's limits table lists
//! them. A bound reached is an error the caller reports, never a crash.

use std::time::Duration;

/// Longest line (preamble, identification, control) the reader accepts.
pub const HALIBUT_MAX_LINE: usize = 8 * 1024;

/// Largest BSON document a message may declare or inflate to.
pub const MAX_MESSAGE: usize = 16 << 20;

/// Largest DataStream frame the reader accepts. Frames are read past as
/// they arrive and never held, so this bounds a frame's length field, not
/// memory; the largest package a server pushes to a Tentacle fits.
pub const MAX_STREAM: u64 = 64 << 30;

/// Deepest nesting of BSON documents and arrays.
pub const BSON_MAX_DEPTH: usize = 32;

/// Connect and TLS handshake from a simulated Tentacle
/// (`TcpClientConnectTimeout`: 60 s).
pub const HALIBUT_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the TLS handshake and identification may take on a node
/// (`TcpClientTimeout` in Tentacle's recommended values: 1 min).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a Tentacle may take over a response
/// (`TcpClientReceiveResponseTimeout`, recommended 5 min).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(300);

/// How long NEXT or PROCEED may take (`TcpClientHeartbeatTimeout`).
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a write may wait for a peer that does not read
/// (`TcpClientTimeout`: 1 min).
pub const HALIBUT_WRITE_TIMEOUT: Duration = Duration::from_secs(60);
