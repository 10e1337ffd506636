//! Human units in scenario files: durations (`30s`, `1m30s`, `250ms`),
//! sizes (`512MiB`, `1.2GiB`), rates (`200/s`, `90/min`), percentages
//! (`5%`) and sets of HTTP status codes (`[200, 204]` or an ALB matcher
//! such as `"200-499"`).
//!
//! Each unit is parsed from a YAML string exactly once, here, into a typed
//! value; the rest of the harness never sees the text again. The error
//! messages name the text and give an example, because the loader prints
//! them next to the file, line, column and field path.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// A span of time written as `30s`, `1m30s` or `250ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(std::time::Duration);

impl Duration {
    /// Wraps a standard duration.
    pub const fn new(d: std::time::Duration) -> Self {
        Self(d)
    }

    /// A duration of whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        Self(std::time::Duration::from_secs(s))
    }

    /// A duration of whole milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }

    /// The standard duration.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }

    /// Whole microseconds, saturating.
    pub fn as_micros_u64(self) -> u64 {
        u64::try_from(self.0.as_micros()).unwrap_or(u64::MAX)
    }
}

impl FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        humantime::parse_duration(s.trim())
            .map(Duration)
            .map_err(|e| format!("invalid duration {s:?}: {e} (examples: 30s, 1m30s, 250ms)"))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// A number of bytes written as `512MiB`, `1.2GiB`, `10MB` or `100B`.
///
/// `KB`, `MB`, `GB` and `TB` are powers of 1000; `KiB`, `MiB`, `GiB` and
/// `TiB` are powers of 1024, as load-balancer documentation mixes both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(u64);

impl Size {
    /// A size of `bytes` bytes.
    pub const fn from_bytes(bytes: u64) -> Self {
        Self(bytes)
    }

    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

const SIZE_UNITS: &[(&str, f64)] = &[
    ("B", 1.0),
    ("KB", 1e3),
    ("MB", 1e6),
    ("GB", 1e9),
    ("TB", 1e12),
    ("KiB", 1024.0),
    ("MiB", 1048576.0),
    ("GiB", 1073741824.0),
    ("TiB", 1099511627776.0),
];

impl FromStr for Size {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid size {s:?}: expected a number and a unit (examples: 512MiB, 1.2GiB, 10MB, 100B)"
            )
        };
        let text = s.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (number, unit) = text.split_at(split);
        let number: f64 = number.parse().map_err(|_| bad())?;
        let (_, factor) = SIZE_UNITS
            .iter()
            .find(|(name, _)| *name == unit.trim())
            .ok_or_else(bad)?;
        let bytes = number * factor;
        if !bytes.is_finite() || bytes > u64::MAX as f64 {
            return Err(bad());
        }
        Ok(Size(bytes.round() as u64))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Print the largest binary unit that keeps the value at least 1.
        let mut best = ("B", 1.0);
        for &(name, factor) in SIZE_UNITS.iter().filter(|(n, _)| n.ends_with("iB")) {
            if self.0 as f64 >= factor {
                best = (name, factor);
            }
        }
        if best.0 == "B" {
            write!(f, "{}B", self.0)
        } else {
            let value = self.0 as f64 / best.1;
            if value.fract() == 0.0 {
                write!(f, "{value}{}", best.0)
            } else {
                write!(f, "{value:.2}{}", best.0)
            }
        }
    }
}

/// Events per second, written as `200/s`, `90/min` or `3600/h`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Rate(f64);

impl Rate {
    /// Events each second.
    pub fn get(self) -> f64 {
        self.0
    }

    /// `per_second` events each second, if that is a rate (finite, above 0).
    pub fn per_second(per_second: f64) -> Option<Self> {
        (per_second.is_finite() && per_second > 0.0).then_some(Self(per_second))
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid rate {s:?}: expected a positive number per unit of time (examples: 200/s, 90/min, 3600/h)"
            )
        };
        let (number, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let number: f64 = number.trim().parse().map_err(|_| bad())?;
        let seconds = per_unit(unit).ok_or_else(bad)?;
        if !number.is_finite() || number <= 0.0 {
            return Err(bad());
        }
        Ok(Rate(number / f64::from(seconds)))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.0)
    }
}

/// Bytes per second, written as a size per unit of time: `4MiB/s`,
/// `100MB/min`. The size and the unit are kept as written, so the value
/// prints back exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bandwidth {
    size: Size,
    /// Seconds in the unit of time: 1, 60 or 3600.
    per: u32,
}

impl Bandwidth {
    /// Bytes each second.
    pub fn bytes_per_sec(self) -> f64 {
        self.size.bytes() as f64 / f64::from(self.per)
    }
}

/// The units of time a rate or a bandwidth is written per, and their
/// seconds.
fn per_unit(unit: &str) -> Option<u32> {
    match unit.trim() {
        "s" | "sec" => Some(1),
        "m" | "min" => Some(60),
        "h" => Some(3600),
        _ => None,
    }
}

impl FromStr for Bandwidth {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid bandwidth {s:?}: expected a size per unit of time (examples: 4MiB/s, 100MB/min)"
            )
        };
        let (size, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let size: Size = size.parse().map_err(|_| bad())?;
        let per = per_unit(unit).ok_or_else(bad)?;
        if size.bytes() == 0 {
            return Err(bad());
        }
        Ok(Bandwidth { size, per })
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}MiB/s", self.bytes_per_sec() / 1048576.0)
    }
}

/// A fraction written as a percentage, `5%` or `0.5%`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percent(f64);

impl Percent {
    /// The fraction, between 0 and 1.
    pub fn fraction(self) -> f64 {
        self.0 / 100.0
    }

    /// The percentage, between 0 and 100.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl FromStr for Percent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid percentage {s:?}: expected a number from 0 to 100 followed by % (examples: 5%, 0.5%)"
            )
        };
        let number = s.trim().strip_suffix('%').ok_or_else(bad)?;
        let number: f64 = number.trim().parse().map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&number) {
            return Err(bad());
        }
        Ok(Percent(number))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// HTTP status codes, as a list (`[200, 204]`) or an AWS ALB matcher
/// string (`"200"`, `"200,202"`, `"200-499"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCodes(Vec<(u16, u16)>);

impl StatusCodes {
    /// The codes from `lo` to `hi`, both included.
    pub fn range(lo: u16, hi: u16) -> Self {
        Self(vec![(lo, hi)])
    }

    /// Whether a code is in the set.
    pub fn contains(&self, code: u16) -> bool {
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&code))
    }

    /// The ranges, inclusive.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.0
    }
}

fn status_code(text: &str) -> Result<u16, String> {
    let code: u16 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not an HTTP status code"))?;
    if !(100..=599).contains(&code) {
        return Err(format!("{code} is not an HTTP status code (100 to 599)"));
    }
    Ok(code)
}

impl FromStr for StatusCodes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for part in s.split(',') {
            let (lo, hi) = match part.split_once('-') {
                Some((lo, hi)) => (status_code(lo)?, status_code(hi)?),
                None => {
                    let c = status_code(part)?;
                    (c, c)
                }
            };
            if lo > hi {
                return Err(format!("the range {lo}-{hi} is empty"));
            }
            ranges.push((lo, hi));
        }
        Ok(Self(ranges))
    }
}

impl fmt::Display for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl<'de> Deserialize<'de> for StatusCodes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = StatusCodes;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of status codes ([200, 204]) or a matcher (\"200-499\")")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StatusCodes, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<StatusCodes, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<StatusCodes, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<StatusCodes, A::Error> {
                let mut ranges = Vec::new();
                while let Some(code) = seq.next_element::<i64>()? {
                    let c = status_code(&code.to_string()).map_err(serde::de::Error::custom)?;
                    ranges.push((c, c));
                }
                Ok(StatusCodes(ranges))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Deserializes a unit from a YAML string through its `FromStr`.
macro_rules! deserialize_from_str {
    ($($ty:ty),*) => {$(
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

deserialize_from_str!(Duration, Size, Rate, Percent, Bandwidth);

/// Text that parses back to exactly the same value, for printing a
/// scenario.
trait Exact {
    fn exact(&self) -> String;
}

impl Exact for Duration {
    fn exact(&self) -> String {
        self.to_string()
    }
}

impl Exact for Size {
    /// The largest binary unit the size is a whole number of, else bytes.
    /// (Display rounds, for people.)
    fn exact(&self) -> String {
        SIZE_UNITS
            .iter()
            .rev()
            .filter(|(name, _)| name.ends_with("iB"))
            .find(|(_, factor)| self.0 > 0 && self.0.is_multiple_of(*factor as u64))
            .map_or_else(
                || format!("{}B", self.0),
                |(name, factor)| format!("{}{name}", self.0 / *factor as u64),
            )
    }
}

impl Exact for Rate {
    fn exact(&self) -> String {
        // Rust prints the shortest text that reads back as the same f64.
        format!("{}/s", self.0)
    }
}

impl Exact for Bandwidth {
    fn exact(&self) -> String {
        let unit = match self.per {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        format!("{}/{unit}", self.size.exact())
    }
}

impl Exact for Percent {
    fn exact(&self) -> String {
        format!("{}%", self.0)
    }
}

impl Exact for StatusCodes {
    fn exact(&self) -> String {
        self.to_string()
    }
}

/// Serializes a unit as its exact text.
macro_rules! serialize_exact {
    ($($ty:ty),*) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.exact())
            }
        }
    )*};
}

serialize_exact!(Duration, Size, Rate, Percent, Bandwidth, StatusCodes);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            "1m30s".parse::<Duration>().unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            "250ms".parse::<Duration>().unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(
            "5".parse::<Duration>().unwrap_err(),
            "invalid duration \"5\": time unit needed, for example 5sec or 5ms (examples: 30s, 1m30s, 250ms)"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!("512MiB".parse::<Size>().unwrap().bytes(), 512 << 20);
        assert_eq!("1.5GiB".parse::<Size>().unwrap().bytes(), 3 << 29);
        assert_eq!("10MB".parse::<Size>().unwrap().bytes(), 10_000_000);
        assert_eq!("1MiB".parse::<Size>().unwrap().to_string(), "1MiB");
        assert!("12 parsecs".parse::<Size>().is_err());
        assert!("MiB".parse::<Size>().is_err());
        assert!("99999999999999999999TiB".parse::<Size>().is_err());
    }

    #[test]
    fn rates() {
        assert_eq!("200/s".parse::<Rate>().unwrap().get(), 200.0);
        assert_eq!("90/min".parse::<Rate>().unwrap().get(), 1.5);
        assert!("0/s".parse::<Rate>().is_err());
        assert!("200".parse::<Rate>().is_err());
        assert!("NaN/s".parse::<Rate>().is_err());
    }

    #[test]
    fn bandwidths() {
        assert_eq!(
            "4MiB/s".parse::<Bandwidth>().unwrap().bytes_per_sec(),
            4194304.0
        );
        assert_eq!(
            "60MB/min".parse::<Bandwidth>().unwrap().bytes_per_sec(),
            1e6
        );
        assert!("0B/s".parse::<Bandwidth>().is_err());
        assert!("4MiB".parse::<Bandwidth>().is_err());
    }

    #[test]
    fn exact_text_reads_back_as_the_same_value() {
        for (text, exact) in [
            ("1.5GiB", "1536MiB"),
            ("1.2GiB", "1288490189B"),
            ("10MB", "10000000B"),
            ("0B", "0B"),
            ("2048KiB", "2MiB"),
        ] {
            let size: Size = text.parse().unwrap();
            assert_eq!(size.exact(), exact);
            assert_eq!(exact.parse::<Size>().unwrap(), size);
        }
        let b: Bandwidth = "100MB/min".parse().unwrap();
        assert_eq!(b.exact(), "100000000B/min");
        assert_eq!(b.exact().parse::<Bandwidth>().unwrap(), b);
        let r: Rate = "7/min".parse().unwrap();
        assert_eq!(r.exact().parse::<Rate>().unwrap(), r);
    }

    #[test]
    fn status_codes() {
        let m: StatusCodes = "200-299,418".parse().unwrap();
        assert!(m.contains(204) && m.contains(418) && !m.contains(404));
        assert_eq!(m.to_string(), "200-299,418");
        assert!("499-200".parse::<StatusCodes>().is_err());
        assert!("700".parse::<StatusCodes>().is_err());
        assert!("".parse::<StatusCodes>().is_err());
    }

    #[test]
    fn percents() {
        assert_eq!("5%".parse::<Percent>().unwrap().fraction(), 0.05);
        assert!("101%".parse::<Percent>().is_err());
        assert!("5".parse::<Percent>().is_err());
    }
}
