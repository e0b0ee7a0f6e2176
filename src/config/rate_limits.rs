//! The rate-limit section: one quota per class of the route table
//! ([`RateLimitSettings`]), each a [`Rate`] (`N/PERIOD`) or `off`.
//!
//! Pure values with their parsers; the limiter lives under `api`.

use super::layer::{Problems, raw_section};
use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

/// A quota: `count` requests per `period`, as `N/PERIOD` (`100/min`,
/// `5/5min`, `10/30s`, `1000/h`). Within a period a client may spend the
/// whole quota at once (a burst); it comes back at one request per
/// `period / count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    count: NonZeroU32,
    period: Duration,
}

/// Largest `N` of a quota.
const MAX_COUNT: u32 = 1_000_000;
/// Longest period of a quota: a day.
const MAX_PERIOD: Duration = Duration::from_secs(24 * 60 * 60);

impl Rate {
    /// `count` per `period`; `None` outside 1..=1,000,000 per 1 s..=24 h
    /// (whole seconds).
    pub(crate) fn new(count: u32, period: Duration) -> Option<Rate> {
        let count = NonZeroU32::new(count).filter(|c| c.get() <= MAX_COUNT)?;
        let whole = period.subsec_nanos() == 0;
        (whole && period >= Duration::from_secs(1) && period <= MAX_PERIOD)
            .then_some(Rate { count, period })
    }

    pub(crate) fn count(&self) -> NonZeroU32 {
        self.count
    }

    pub(crate) fn period(&self) -> Duration {
        self.period
    }

    /// A setting's value: `off` (not limited) or a quota.
    pub fn parse_setting(s: &str) -> Result<Option<Rate>, String> {
        if s.trim().eq_ignore_ascii_case("off") {
            Ok(None)
        } else {
            s.parse().map(Some)
        }
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Rate, String> {
        let bad = || format!("'{s}' is not N/PERIOD such as 100/min, 5/5min, 10/30s, or off");
        let (count, period) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let period = period.trim();
        let digits = period.len()
            - period
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        let (times, unit) = period.split_at(digits);
        let times: u64 = if times.is_empty() {
            1
        } else {
            times.parse().map_err(|_| bad())?
        };
        let unit_secs = match unit.trim() {
            "s" | "sec" | "second" | "seconds" => 1,
            "m" | "min" | "minute" | "minutes" => 60,
            "h" | "hour" | "hours" => 3600,
            _ => return Err(bad()),
        };
        let period = Duration::from_secs(times.saturating_mul(unit_secs));
        Rate::new(count, period)
            .ok_or_else(|| format!("'{s}' is outside 1..={MAX_COUNT} requests per 1 s..=24 h"))
    }
}

impl fmt::Display for Rate {
    /// `100/min`, `5/5min`, `10/30s`, `1000/h`: parses back to the same rate.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.period.as_secs();
        let (n, unit) = if secs.is_multiple_of(3600) {
            (secs / 3600, "h")
        } else if secs.is_multiple_of(60) {
            (secs / 60, "min")
        } else {
            (secs, "s")
        };
        if n == 1 {
            write!(f, "{}/{unit}", self.count)
        } else {
            write!(f, "{}/{n}{unit}", self.count)
        }
    }
}

/// The quota of each rate-limit class of the route table; `None` = not
/// limited (`off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Catalogue reads and search, per client IP.
    pub api: Option<Rate>,
    /// Sign-in, registration and password reset: per client IP, and the
    /// same quota again per email address.
    pub auth: Option<Rate>,
    /// Writes, per caller (account, API key, admin token; else client IP).
    pub write: Option<Rate>,
    /// Checkout, per account (else client IP).
    pub checkout: Option<Rate>,
    /// Failed credential checks (bearer tokens, API keys, the admin,
    /// replication and metrics tokens) per client IP: past it, 429 until
    /// the period is over.
    pub credentials: Option<Rate>,
}

impl RateLimitSettings {
    /// Nothing limited (tests, the load harness).
    pub fn off() -> RateLimitSettings {
        RateLimitSettings {
            api: None,
            auth: None,
            write: None,
            checkout: None,
            credentials: None,
        }
    }
}

impl Default for RateLimitSettings {
    /// The plans' defaults: api 100/min, auth 5/5min, write 20/min,
    /// checkout 10/10min.
    fn default() -> RateLimitSettings {
        let rate = |n, secs| Rate::new(n, Duration::from_secs(secs));
        RateLimitSettings {
            api: rate(100, 60),
            auth: rate(5, 300),
            write: rate(20, 60),
            checkout: rate(10, 600),
            credentials: rate(20, 300),
        }
    }
}

raw_section! {
    #[command(next_help_heading = "Rate limits")]
    /// The rate-limit quotas as given.
    pub(crate) struct Raw {
        /// Catalogue reads and search per client IP: N/PERIOD (100/min,
        /// 5/5min, 10/30s) or off. Default 100/min.
        #[arg(long, env = "SHOPD_RATE_LIMIT_API")]
        pub rate_limit_api: Option<String>,
        /// Sign-in, registration, password reset per client IP; registration
        /// and reset requests per email; failed sign-ins per email and
        /// address: N/PERIOD or off. Default 5/5min.
        #[arg(long, env = "SHOPD_RATE_LIMIT_AUTH")]
        pub rate_limit_auth: Option<String>,
        /// Writes per account, API key or admin token: N/PERIOD or off.
        /// Default 20/min.
        #[arg(long, env = "SHOPD_RATE_LIMIT_WRITE")]
        pub rate_limit_write: Option<String>,
        /// Checkouts per account: N/PERIOD or off. Default 10/10min.
        #[arg(long, env = "SHOPD_RATE_LIMIT_CHECKOUT")]
        pub rate_limit_checkout: Option<String>,
        /// Failed credential checks per client IP (a wrong bearer token, API
        /// key, admin, replication or metrics token): N/PERIOD or off.
        /// Default 20/5min.
        #[arg(long, env = "SHOPD_RATE_LIMIT_CREDENTIALS")]
        pub rate_limit_credentials: Option<String>,
    }
}

pub(super) fn resolve(raw: Raw, problems: &mut Problems) -> RateLimitSettings {
    let defaults = RateLimitSettings::default();
    let mut rate = |name: &str, given: Option<String>, default| match given {
        None => default,
        Some(text) => Rate::parse_setting(&text).unwrap_or_else(|e| {
            problems.push(format!("{name}: {e}"));
            default
        }),
    };
    RateLimitSettings {
        api: rate("rate-limit-api", raw.rate_limit_api, defaults.api),
        auth: rate("rate-limit-auth", raw.rate_limit_auth, defaults.auth),
        write: rate("rate-limit-write", raw.rate_limit_write, defaults.write),
        checkout: rate(
            "rate-limit-checkout",
            raw.rate_limit_checkout,
            defaults.checkout,
        ),
        credentials: rate(
            "rate-limit-credentials",
            raw.rate_limit_credentials,
            defaults.credentials,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_the_documented_forms_and_print_back() {
        for (text, count, secs, shown) in [
            ("100/min", 100, 60, "100/min"),
            ("5/5min", 5, 300, "5/5min"),
            ("20/1m", 20, 60, "20/min"),
            ("10/10min", 10, 600, "10/10min"),
            ("3/30s", 3, 30, "3/30s"),
            (" 1000 / h ", 1000, 3600, "1000/h"),
            ("7/90s", 7, 90, "7/90s"),
            ("2/24h", 2, 86_400, "2/24h"),
        ] {
            let r: Rate = text.parse().unwrap();
            assert_eq!(
                (r.count().get(), r.period().as_secs()),
                (count, secs),
                "{text}"
            );
            assert_eq!(r.to_string(), shown);
            assert_eq!(shown.parse::<Rate>().unwrap(), r);
        }
        assert_eq!(Rate::parse_setting("off").unwrap(), None);
        assert_eq!(Rate::parse_setting("OFF").unwrap(), None);
        for bad in [
            "",
            "100",
            "/min",
            "0/min",
            "100/",
            "100/fortnight",
            "-1/min",
            "1/0s",
            "1/25h",
            "1000001/h",
            "x/min",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }
}
