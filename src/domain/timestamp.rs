//! Points in time: Unix milliseconds inside, RFC 3339 UTC outside.

use serde::{Serialize, Serializer};
use serde_json::Value;
use std::fmt;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch, UTC. Invariant: within years 0001–9999,
/// so every value formats as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

const MIN_MS: i64 = -62_135_596_800_000; // 0001-01-01T00:00:00Z
const MAX_MS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);

    pub fn now() -> Timestamp {
        let ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        Timestamp(ms as i64)
    }

    pub fn from_millis(ms: i64) -> Result<Timestamp, String> {
        if (MIN_MS..=MAX_MS).contains(&ms) {
            Ok(Timestamp(ms))
        } else {
            Err("is out of range".into())
        }
    }

    /// Parses RFC 3339 with any offset; sub-millisecond digits are dropped.
    pub fn parse(s: &str) -> Result<Timestamp, String> {
        let t = OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| "must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z")?;
        let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
        Timestamp::from_millis(ms as i64)
    }

    pub fn from_json(v: &Value) -> Result<Timestamp, String> {
        Timestamp::parse(v.as_str().ok_or("must be a string")?)
    }

    pub fn millis(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Timestamp {
    /// `2024-05-01T12:00:00Z`, or `2024-05-01T12:00:00.250Z` when the
    /// milliseconds are not zero. Parsing the output gives the same value back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1000);
        let ms = self.0.rem_euclid(1000);
        // The invariant keeps `secs` inside time's supported range.
        let t = OffsetDateTime::from_unix_timestamp(secs).map_err(|_| fmt::Error)?;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_back() {
        for s in [
            "2024-05-01T12:00:00Z",
            "1999-12-31T23:59:59.250Z",
            "1969-07-20T20:17:40.001Z",
        ] {
            assert_eq!(Timestamp::parse(s).unwrap().to_string(), s);
        }
        let t = Timestamp::parse("2024-05-01T14:00:00+02:00").unwrap();
        assert_eq!(t.to_string(), "2024-05-01T12:00:00Z");
        assert!(Timestamp::parse("yesterday").is_err());
    }
}
