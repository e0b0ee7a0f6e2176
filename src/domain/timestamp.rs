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
    pub(crate) const EPOCH: Timestamp = Timestamp(0);

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

    pub(crate) fn from_json(v: &Value) -> Result<Timestamp, String> {
        Timestamp::parse(v.as_str().ok_or("must be a string")?)
    }

    pub fn millis(self) -> i64 {
        self.0
    }
}

/// RFC 3339 text of a timestamp, formatted on the stack (responses carry
/// one or more per item; `fmt` machinery cost more than the rest of an item).
struct Rfc3339Text {
    bytes: [u8; 24],
    len: usize,
}

impl Rfc3339Text {
    fn as_str(&self) -> &str {
        // Only ASCII digits and separators are written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl Timestamp {
    /// `2024-05-01T12:00:00Z`, or `2024-05-01T12:00:00.250Z` when the
    /// milliseconds are not zero.
    fn rfc3339(self) -> Rfc3339Text {
        let secs = self.0.div_euclid(1000);
        let ms = self.0.rem_euclid(1000) as u32;
        // The invariant keeps `secs` inside time's supported range.
        let t = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut out = Rfc3339Text {
            bytes: *b"0000-00-00T00:00:00.000Z",
            len: 20,
        };
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (0..width).rev() {
                out.bytes[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, t.year() as u32);
        put(5, 2, u8::from(t.month()) as u32);
        put(8, 2, t.day() as u32);
        put(11, 2, t.hour() as u32);
        put(14, 2, t.minute() as u32);
        put(17, 2, t.second() as u32);
        if ms != 0 {
            put(20, 3, ms);
            out.len = 24;
        } else {
            out.bytes[19] = b'Z';
        }
        out
    }
}

impl fmt::Display for Timestamp {
    /// See [`Timestamp::rfc3339`]. Parsing the output gives the same value
    /// back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc3339().as_str())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.rfc3339().as_str())
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

    #[test]
    fn formats_the_whole_range_as_time_does() {
        let via_time = |ms: i64| {
            let t = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap();
            let mut s = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            if ms.rem_euclid(1000) != 0 {
                s += &format!(".{:03}", ms.rem_euclid(1000));
            }
            s + "Z"
        };
        let mut ms = MIN_MS;
        while ms < MAX_MS {
            assert_eq!(Timestamp(ms).to_string(), via_time(ms), "{ms}");
            ms += 86_399_999_937; // about a day, every millisecond part in turn
        }
        for ms in [MIN_MS, -1, 0, 1, 999, 1000, MAX_MS] {
            assert_eq!(Timestamp(ms).to_string(), via_time(ms), "{ms}");
        }
        assert_eq!(
            serde_json::to_string(&Timestamp(1_714_564_800_250)).unwrap(),
            "\"2024-05-01T12:00:00.250Z\""
        );
    }
}
