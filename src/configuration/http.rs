//! Settings of the HTTP edge, parsed and checked: rate-limit quotas
//! ([`Rate`], [`RateLimitSettings`]), the proxies whose `X-Forwarded-For` is
//! believed ([`TrustedProxies`]) and the CORS allowlist ([`CorsOrigins`]).
//!
//! Pure values with their parsers; what enforces them lives under `api`
//! (`rate_limit`, `cors`, `security_headers`).

use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
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
    pub fn new(count: u32, period: Duration) -> Option<Rate> {
        let count = NonZeroU32::new(count).filter(|c| c.get() <= MAX_COUNT)?;
        let whole = period.subsec_nanos() == 0;
        (whole && period >= Duration::from_secs(1) && period <= MAX_PERIOD)
            .then_some(Rate { count, period })
    }

    pub fn count(&self) -> NonZeroU32 {
        self.count
    }

    pub fn period(&self) -> Duration {
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
}

impl RateLimitSettings {
    /// Nothing limited (tests, the load harness).
    pub fn off() -> RateLimitSettings {
        RateLimitSettings {
            api: None,
            auth: None,
            write: None,
            checkout: None,
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
        }
    }
}

/// Addresses and CIDR blocks of the reverse proxies in front of shopd:
/// only from these is `X-Forwarded-For` believed. Empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Entries such as `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        let mut bad = Vec::new();
        for e in entries.into_iter().map(str::trim).filter(|e| !e.is_empty()) {
            match e.parse::<IpNet>() {
                Ok(net) => nets.push(net.trunc()),
                Err(_) => match e.parse::<IpAddr>() {
                    Ok(ip) => nets.push(IpNet::from(canonical(ip))),
                    Err(_) => bad.push(format!("'{e}'")),
                },
            }
        }
        if bad.is_empty() {
            Ok(TrustedProxies(nets))
        } else {
            Err(format!(
                "{} not an IP address or CIDR block such as 10.0.0.1 or 10.0.0.0/8",
                bad.join(", ")
            ))
        }
    }

    /// Comma-separated entries (the flag and environment form).
    pub fn parse_list(s: &str) -> Result<TrustedProxies, String> {
        TrustedProxies::parse(s.split(','))
    }

    /// Whether `ip` is one of the proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`, as a dual-stack
/// socket reports IPv4 peers) as the IPv4 address it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Browser origins allowed to call the API cross-origin (CORS), with
/// credentials: exact `scheme://host[:port]` values, lowercase. Empty by
/// default: no cross-origin access.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<String>);

impl CorsOrigins {
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<CorsOrigins, String> {
        let mut origins: Vec<String> = Vec::new();
        let mut bad = Vec::new();
        for e in entries.into_iter().map(str::trim).filter(|e| !e.is_empty()) {
            match origin(e) {
                Some(o) if !origins.contains(&o) => origins.push(o),
                Some(_) => {}
                None => bad.push(format!("'{e}'")),
            }
        }
        if bad.is_empty() {
            Ok(CorsOrigins(origins))
        } else {
            Err(format!(
                "{} not an origin such as https://shop.example.com or http://localhost:3000 \
                 (scheme, host and port only; no path, no trailing slash, no *)",
                bad.join(", ")
            ))
        }
    }

    /// Comma-separated origins (the flag and environment form).
    pub fn parse_list(s: &str) -> Result<CorsOrigins, String> {
        CorsOrigins::parse(s.split(','))
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `e` as a browser serializes an origin, or `None` when it is not one.
fn origin(e: &str) -> Option<String> {
    let lower = e.to_ascii_lowercase();
    let (scheme, authority) = lower.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    // `host`, `host:port`, `[v6]`, `[v6]:port`.
    let port = match authority.strip_prefix('[') {
        Some(v6) => {
            let (addr, after) = v6.split_once(']')?;
            addr.parse::<std::net::Ipv6Addr>().ok()?;
            after
        }
        None => {
            let (host, after) = authority.split_at(authority.find(':').unwrap_or(authority.len()));
            let label = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
            if host.is_empty() || !host.bytes().all(label) {
                return None;
            }
            after
        }
    };
    if !port.is_empty() {
        let digits = port.strip_prefix(':')?;
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || !digits.parse::<u16>().is_ok_and(|n| n > 0)
        {
            return None;
        }
    }
    Some(lower)
}

/// Limits of the HTTP edge against oversized and slow clients: what a
/// request head may weigh, how long a client may take to send a request,
/// how many connections are held. Defaults: [`HttpLimits::DEFAULT`].
///
/// The parser below us (actix-http) has hard limits of its own: a head of
/// 128 KiB or 96 headers. Ours sit below them so that an oversized head gets
/// the API's error envelope (431 `headers_too_large`, 414 `uri_too_long`);
/// only a head past actix's limits gets its bare 431 and a closed
/// connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Longest request target (path and query) in bytes; longer: 414.
    pub max_uri_bytes: usize,
    /// Most bytes of header names and values together; more: 431.
    pub max_header_bytes: usize,
    /// Open connections the server holds at most (over all workers); the
    /// next ones wait in the accept queue until one closes.
    pub max_connections: usize,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive: Duration,
    /// How long a new connection has to send its first request head
    /// (slowloris); slower: 408 and closed.
    pub head_timeout: Duration,
    /// How long a client has to send a request body; slower: 408
    /// `request_timeout`.
    pub body_timeout: Duration,
}

/// Most headers a request may carry (actix-http refuses more than 96 with
/// a bare 431; ours answers with the envelope).
pub const MAX_HEADER_COUNT: usize = 64;

impl HttpLimits {
    pub const DEFAULT: HttpLimits = HttpLimits {
        max_uri_bytes: 8 * 1024,
        max_header_bytes: 32 * 1024,
        max_connections: 100_000,
        keep_alive: Duration::from_secs(15),
        head_timeout: Duration::from_secs(5),
        body_timeout: Duration::from_secs(30),
    };

    /// The problems of a set of limits, one line each (empty: usable).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let within = |name: &str, v: u64, lo: u64, hi: u64, unit: &str, out: &mut Vec<String>| {
            if !(lo..=hi).contains(&v) {
                out.push(format!("{name}: {v} is not within {lo}..={hi} {unit}"));
            }
        };
        within(
            "max-uri-bytes",
            self.max_uri_bytes as u64,
            256,
            65_536,
            "bytes",
            &mut out,
        );
        within(
            "max-header-bytes",
            self.max_header_bytes as u64,
            1024,
            65_536,
            "bytes",
            &mut out,
        );
        within(
            "max-connections",
            self.max_connections as u64,
            1,
            10_000_000,
            "connections",
            &mut out,
        );
        within(
            "keep-alive-secs",
            self.keep_alive.as_secs(),
            0,
            3600,
            "seconds",
            &mut out,
        );
        within(
            "head-timeout-secs",
            self.head_timeout.as_secs(),
            1,
            600,
            "seconds",
            &mut out,
        );
        within(
            "body-timeout-secs",
            self.body_timeout.as_secs(),
            1,
            3600,
            "seconds",
            &mut out,
        );
        out
    }
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits::DEFAULT
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

    #[test]
    fn trusted_proxies_take_addresses_and_blocks_and_name_every_bad_entry() {
        let p = TrustedProxies::parse_list("10.0.0.0/8, 192.168.1.7,::1, fd00::/8").unwrap();
        assert!(p.contains("10.20.30.40".parse().unwrap()));
        assert!(p.contains("192.168.1.7".parse().unwrap()));
        assert!(!p.contains("192.168.1.8".parse().unwrap()));
        assert!(p.contains("::1".parse().unwrap()));
        assert!(p.contains("fd12::1".parse().unwrap()));
        assert!(
            p.contains("::ffff:10.1.1.1".parse().unwrap()),
            "v4-mapped v6"
        );
        assert!(!p.contains("11.0.0.1".parse().unwrap()));
        assert!(TrustedProxies::parse_list("").unwrap().is_empty());
        let err = TrustedProxies::parse_list("10.0.0.1, nope, 10.0.0.0/33").unwrap_err();
        assert!(
            err.contains("'nope'") && err.contains("'10.0.0.0/33'"),
            "{err}"
        );
    }

    #[test]
    fn cors_origins_are_exact_lowercase_origins() {
        let o = CorsOrigins::parse_list(
            "https://Shop.Example.com, http://localhost:3000,http://[::1]:8080, https://shop.example.com",
        )
        .unwrap();
        assert_eq!(
            o.iter().collect::<Vec<_>>(),
            [
                "https://shop.example.com",
                "http://localhost:3000",
                "http://[::1]:8080"
            ]
        );
        for bad in [
            "*",
            "shop.example.com",
            "https://shop.example.com/",
            "https://shop.example.com/app",
            "ftp://x",
            "https://",
            "https://x:0",
            "https://x:99999",
            "https://user@x",
            "null",
        ] {
            assert!(CorsOrigins::parse_list(bad).is_err(), "{bad}");
        }
    }
}
