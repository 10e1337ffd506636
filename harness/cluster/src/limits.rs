//! Every bound on what a client can make a reference node, the built-in LB
//! or `cluster up`'s control socket hold, and on how long they wait for a
//! client: docs/robustness.md's limits table lists these with the
//! harness's and the Halibut codec's. A bound reached is a 4xx or a closed
//! connection, never a crash. `ServerTimeouts` makes the waits settings.

use std::time::Duration;

/// Open connections one listener (a node's REST or polling port, the LB,
/// a forwarded polling port) serves at once: above the 20,000 polling
/// connections a scenario may ask of one listener. One more is accepted
/// and closed at once, so a flood costs a descriptor for a moment, not a
/// slot for good. The harness raises its descriptor limit (and its
/// children's) to the hard limit at start; below this cap, that limit
/// decides, and accepting backs off while descriptors are out.
pub const MAX_CONNECTIONS: usize = 32_768;

/// Largest request head (request line and headers) a listener buffers;
/// past it the answer is 431.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Most headers in one request; past it the answer is 431.
pub const MAX_HEADERS: usize = 100;

/// How long a client may take to send its request headers, on a new
/// connection and between requests on a kept-alive one.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest JSON body (a node update, a new task) a node reads.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// Longest package file name (Octopus has a `FileNameTooLong` issue).
pub const MAX_FILE_NAME: usize = 255;

/// Largest block of multipart part headers.
pub const MAX_PART_HEADERS: usize = 16 * 1024;

/// Largest non-file multipart part, which is read and dropped.
pub const MAX_FIELD: usize = 64 * 1024;

/// Longest multipart boundary (RFC 2046 says 70).
pub const MAX_BOUNDARY: usize = 200;

/// Longest wait for the next bytes of an upload (one that stalls is
/// refused with 400 and leaves nothing behind), and for the whole of a
/// small JSON body (408).
pub const BODY_STALL: Duration = Duration::from_secs(120);

/// How long a refused request's body is read and dropped: nginx's
/// `lingering_time`.
pub const LINGER: Duration = Duration::from_secs(30);

/// How long a connection through the LB's forwarded polling ports may
/// carry no byte either way before it is closed: a response's time and a
/// heartbeat's, the longest a live polling connection is quiet.
pub const FORWARD_IDLE: Duration = Duration::from_secs(300 + 60);

/// Longest request line on `harness cluster up`'s control socket.
pub const CONTROL_MAX_LINE: usize = 256;
