//! The run's clock and its one event stream: [`Clock`] (microseconds since
//! the start, and server timestamps placed on it) and [`Events`], the
//! sending end every part of the runner emits on.

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
