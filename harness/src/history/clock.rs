//! The run's clock and its one event stream: [`Clock`] (microseconds since
//! the start, and server timestamps placed on it), [`Events`], the
//! sending end every part of the runner emits on, and how far this
//! machine's wall clock is from a server's ([`offset_from_tick`]).

use super::event::Event;

/// The run's clock: microseconds since the run started.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: std::time::Instant,
    /// The wall clock at the start, microseconds since the Unix epoch, to
    /// place server timestamps on the run's clock.
    wall_start_us: i64,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Self {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        Self {
            start: std::time::Instant::now(),
            wall_start_us: wall,
        }
    }

    /// A clock whose start is the wall-clock instant `at`, which may be
    /// ahead: a shard's, so that every shard's times count from the
    /// run's one agreed start (docs/shards.md). Until then it reads 0.
    pub fn starting_at(at: std::time::SystemTime) -> Self {
        let (now, wall_now) = (std::time::Instant::now(), std::time::SystemTime::now());
        let start = match at.duration_since(wall_now) {
            Ok(ahead) => now.checked_add(ahead),
            Err(behind) => now.checked_sub(behind.duration()),
        }
        .unwrap_or(now);
        let wall = at
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        Self {
            start,
            wall_start_us: wall,
        }
    }

    /// The wall clock at the start, microseconds since the Unix epoch.
    pub fn wall_start_us(&self) -> i64 {
        self.wall_start_us
    }

    /// A server timestamp (RFC 3339, with `Z` or an offset) on the run's
    /// clock; None if it does not parse. Times before the start are 0.
    pub fn from_server_time(&self, text: &str) -> Option<u64> {
        let us = parse_server_time(text)?;
        Some(us.saturating_sub(self.wall_start_us).max(0) as u64)
    }

    /// Microseconds since the start.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// An instant on the run's clock; 0 before the start.
    pub fn us_of(&self, at: tokio::time::Instant) -> u64 {
        at.into_std()
            .saturating_duration_since(self.start)
            .as_micros() as u64
    }

    /// The instant `us` microseconds after the start, or a year on if that
    /// is not representable.
    pub fn instant(&self, us: u64) -> tokio::time::Instant {
        let at = self
            .start
            .checked_add(std::time::Duration::from_micros(us))
            .unwrap_or_else(|| self.start + std::time::Duration::from_secs(365 * 86_400));
        tokio::time::Instant::from_std(at)
    }
}

/// The sending end of the run's one event stream.
#[derive(Debug, Clone)]
pub struct Events {
    tx: tokio::sync::mpsc::UnboundedSender<Event>,
    clock: Clock,
}

impl Events {
    /// A stream and its receiving end.
    pub fn channel(clock: Clock) -> (Self, tokio::sync::mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Self { tx, clock }, rx)
    }

    /// The run's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Microseconds since the start.
    pub fn now_us(&self) -> u64 {
        self.clock.now_us()
    }

    /// Sends an event; after the recorder has stopped, events are dropped.
    pub fn send(&self, event: Event) {
        let _ = self.tx.send(event);
    }
}

/// One look at a server's `Date` header: when it was asked and when it
/// answered, by this machine's wall clock (µs since the Unix epoch), and
/// the whole second the server said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateLook {
    /// The request went.
    pub sent_us: i64,
    /// The answer came.
    pub answered_us: i64,
    /// The `Date` header, in seconds since the Unix epoch.
    pub date_s: i64,
}

/// How far a server's clock is ahead of this machine's (µs, negative if
/// behind), and within how much (±µs), from looks at its `Date` header in
/// order: its second ticked over between two looks in a row, after the
/// first was sent and before the second was answered. None if no two looks
/// saw it tick once, as a `Date` has whole seconds only.
pub fn offset_from_tick(looks: &[DateLook]) -> Option<(i64, u64)> {
    looks
        .windows(2)
        .filter(|w| w[1].date_s == w[0].date_s + 1)
        .map(|w| {
            let (from, to) = (w[0].sent_us, w[1].answered_us.max(w[0].sent_us));
            let tick_us = w[1].date_s * 1_000_000;
            let mid = from + (to - from) / 2;
            (tick_us - mid, ((to - from) / 2) as u64)
        })
        .min_by_key(|(_, within)| *within)
}

/// Microseconds since the Unix epoch of an RFC 3339 timestamp with `Z` or
/// a `+hh:mm` / `-hh:mm` offset, as Octopus writes them.
pub fn parse_server_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let (local, offset_s) = if let Some(t) = text.strip_suffix('Z') {
        (t, 0i64)
    } else {
        // An offset is the last six characters: +hh:mm.
        let split = text.len().checked_sub(6)?;
        let (t, off) = text.split_at_checked(split)?;
        let sign = match off.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, m) = off[1..].split_once(':')?;
        let secs = h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60;
        (t, sign * secs)
    };
    let at = humantime::parse_rfc3339_weak(local).ok()?;
    let us = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_micros() as i64;
    Some(us - offset_s * 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_started_ahead_reads_zero_until_then_and_keeps_its_wall_start() {
        let ahead = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        let clock = Clock::starting_at(ahead);
        assert_eq!(clock.now_us(), 0);
        let behind = std::time::SystemTime::now() - std::time::Duration::from_secs(2);
        let clock = Clock::starting_at(behind);
        assert!((2_000_000..3_000_000).contains(&clock.now_us()));
        let wall = behind.duration_since(std::time::UNIX_EPOCH).unwrap();
        assert_eq!(clock.wall_start_us(), wall.as_micros() as i64);
    }

    #[test]
    fn the_offset_comes_from_the_tick_and_is_as_sure_as_the_looks_around_it() {
        // The server is 1.25 s ahead: its second ticks at local x.750.
        let look = |sent_ms: i64| {
            let server_ms = sent_ms + 1 + 1_250;
            DateLook {
                sent_us: sent_ms * 1000,
                answered_us: (sent_ms + 2) * 1000,
                date_s: server_ms.div_euclid(1000),
            }
        };
        let looks: Vec<DateLook> = (0..60).map(|i| look(100_000 + i * 20)).collect();
        let (offset, within) = offset_from_tick(&looks).expect("a tick");
        assert!(
            (offset - 1_250_000).abs() <= within as i64,
            "{offset} ± {within}"
        );
        assert!(within <= 12_000, "{within}");
        // No tick seen: no offset.
        assert_eq!(offset_from_tick(&looks[..5]), None);
    }

    #[test]
    fn server_times_with_z_and_offsets() {
        let z = parse_server_time("2026-11-26T10:00:00.250Z").unwrap();
        let plus = parse_server_time("2026-11-26T20:00:00.250+10:00").unwrap();
        let minus = parse_server_time("2026-11-26T05:30:00.250-04:30").unwrap();
        assert_eq!(z, plus);
        assert_eq!(z, minus);
        assert_eq!(z % 1_000_000, 250_000);
        assert_eq!(parse_server_time("yesterday"), None);
        assert_eq!(parse_server_time("2026-11-26T10:00:00.250*10:00"), None);
    }
}
