//! The HTTP section: the listening socket, workers, request limits, slow
//! clients, shutdown, the bootstrap admin token, and the edge's parsed
//! values: the proxies whose `X-Forwarded-For` is believed
//! ([`TrustedProxies`]), the CORS allowlist ([`CorsOrigins`]), HSTS.
//!
//! Pure values with their parsers; what enforces them lives under `api`
//! (`middleware`) and `startup`.

use super::layer::{List, Problems, raw_section};
use super::secret::Secret;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The default listen address.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Accept queue: room for a storm of connects (the 10,000-connection bench)
/// while the workers accept; Linux caps it at `net.core.somaxconn` (4096 by
/// default since 5.4). std's `TcpListener::bind` asks for 128.
pub const DEFAULT_BACKLOG: u32 = 4096;
pub(crate) const DEFAULT_BODY_LIMIT: usize = 256 * 1024;
/// Longest HSTS max-age accepted: two years (what preload lists ask for
/// is one).
const MAX_HSTS_SECS: u64 = 2 * 365 * 24 * 60 * 60;

raw_section! {
    #[command(next_help_heading = "HTTP server")]
    /// The HTTP server's settings as given.
    pub(crate) struct Raw {
        /// Address to listen on.
        #[arg(long, env = "SHOPD_LISTEN")]
        pub listen: Option<String>,
        /// Accept-queue length of the listening socket (default 4096; the
        /// kernel caps it at net.core.somaxconn).
        #[arg(long, env = "SHOPD_BACKLOG")]
        pub backlog: Option<u32>,
        /// Bearer token that admin writes must present (at least 32
        /// characters).
        #[arg(long, env = "SHOPD_ADMIN_TOKEN", hide_env_values = true)]
        pub admin_token: Option<Secret>,
        /// Bearer token that GET /metrics must present (at least 32
        /// characters). Default: /metrics is open.
        #[arg(long, env = "SHOPD_METRICS_TOKEN", hide_env_values = true)]
        pub metrics_token: Option<Secret>,
        /// HTTP worker threads (default: one per core).
        #[arg(long, env = "SHOPD_WORKERS")]
        pub workers: Option<usize>,
        /// Largest accepted request body in bytes.
        #[arg(long, env = "SHOPD_BODY_LIMIT")]
        pub body_limit: Option<usize>,
        /// Longest request target (path and query) in bytes; longer gets 414 (default 8192).
        #[arg(long, env = "SHOPD_MAX_URI_BYTES")]
        pub max_uri_bytes: Option<usize>,
        /// Most bytes of request headers together; more gets 431 (default 32768).
        #[arg(long, env = "SHOPD_MAX_HEADER_BYTES")]
        pub max_header_bytes: Option<usize>,
        /// Open connections held at most, over all workers; more wait in the accept queue (default 100000).
        #[arg(long, env = "SHOPD_MAX_CONNECTIONS")]
        pub max_connections: Option<usize>,
        /// Seconds an idle keep-alive connection stays open (default 15; 0 = no keep-alive).
        #[arg(long, env = "SHOPD_KEEP_ALIVE_SECS")]
        pub keep_alive_secs: Option<u64>,
        /// Seconds a new connection has to send its first request head; slower gets 408 (default 5).
        #[arg(long, env = "SHOPD_HEAD_TIMEOUT_SECS")]
        pub head_timeout_secs: Option<u64>,
        /// Seconds a client has to send a request body; slower gets 408 (default 30).
        #[arg(long, env = "SHOPD_BODY_TIMEOUT_SECS")]
        pub body_timeout_secs: Option<u64>,
        /// Seconds in-flight requests and running jobs get to finish on shutdown (default 10).
        #[arg(long, env = "SHOPD_SHUTDOWN_TIMEOUT_SECS")]
        pub shutdown_timeout_secs: Option<u64>,
        /// Serve GET /bench/ceiling, a fixed body for load-test ceilings.
        #[arg(long, env = "SHOPD_BENCH_CEILING")]
        pub bench_ceiling: bool,
        /// Reverse proxies whose X-Forwarded-For names the client:
        /// comma-separated addresses or CIDR blocks (10.0.0.0/8,::1).
        #[arg(long, env = "SHOPD_TRUSTED_PROXIES")]
        pub trusted_proxies: Option<List>,
        /// Browser origins allowed to call the API (CORS, with credentials):
        /// comma-separated, e.g. https://shop.example.com. Default: none.
        #[arg(long, env = "SHOPD_CORS_ORIGINS")]
        pub cors_origins: Option<List>,
        /// Send Strict-Transport-Security with this max-age in seconds (only
        /// behind TLS). Default: not sent.
        #[arg(long, env = "SHOPD_HSTS_MAX_AGE")]
        #[serde(rename = "hsts_max_age_secs")]
        pub hsts_max_age: Option<u64>,
    }
}

/// The HTTP server's settings.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Address to bind; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// Accept-queue length asked of the kernel at `listen(2)` (capped by
    /// `net.core.somaxconn`): connections that completed the handshake but
    /// that no worker has accepted yet wait here; past it the kernel drops
    /// them (`TcpExtListenOverflows`).
    pub backlog: u32,
    /// HTTP worker threads; defaults to one per core.
    pub workers: usize,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Request head size, slow-client timeouts, connections held.
    pub limits: HttpLimits,
    /// How long in-flight requests get to finish on shutdown.
    pub shutdown_timeout: Duration,
    /// Bearer token for admin writes; `None` disables them.
    pub admin_token: Option<Secret>,
    /// Bearer token `GET /metrics` needs; `None`: open.
    pub metrics_token: Option<Secret>,
    /// Serve `GET /bench/ceiling`: a fixed, pre-rendered body the size of a
    /// product detail, for the load harness's ceiling scenario.
    pub bench_ceiling: bool,
    /// Peers whose `X-Forwarded-For` names the client (for rate limits);
    /// from any other peer the header is ignored.
    pub trusted_proxies: TrustedProxies,
    /// Origins whose browsers may call the API (CORS, credentials
    /// included); empty: no cross-origin access.
    pub cors_origins: CorsOrigins,
    /// `Strict-Transport-Security: max-age=N; includeSubDomains` on every
    /// response when set (deployments behind TLS only).
    pub hsts_max_age_secs: Option<u64>,
}

pub(super) fn resolve(raw: Raw, problems: &mut Problems) -> HttpSettings {
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listen = listen_text.parse::<SocketAddr>().unwrap_or_else(|_| {
        problems.push(format!(
            "listen: '{listen_text}' is not an address like 127.0.0.1:8080"
        ));
        SocketAddr::from(([127, 0, 0, 1], 8080))
    });
    let backlog = problems.within(
        "backlog",
        raw.backlog.unwrap_or(DEFAULT_BACKLOG),
        1..=65_535,
        "",
    );
    let workers = problems.within(
        "workers",
        raw.workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        1..=256,
        "",
    );
    let body_limit = raw.body_limit.unwrap_or(DEFAULT_BODY_LIMIT);
    if !(1024..=64 * 1024 * 1024).contains(&body_limit) {
        problems.push(format!(
            "body-limit: {body_limit} is not within 1 KiB..=64 MiB"
        ));
    }
    let d = HttpLimits::DEFAULT;
    let limits = HttpLimits {
        max_uri_bytes: raw.max_uri_bytes.unwrap_or(d.max_uri_bytes),
        max_header_bytes: raw.max_header_bytes.unwrap_or(d.max_header_bytes),
        max_connections: raw.max_connections.unwrap_or(d.max_connections),
        keep_alive: raw
            .keep_alive_secs
            .map_or(d.keep_alive, Duration::from_secs),
        head_timeout: raw
            .head_timeout_secs
            .map_or(d.head_timeout, Duration::from_secs),
        body_timeout: raw
            .body_timeout_secs
            .map_or(d.body_timeout, Duration::from_secs),
    };
    problems.extend(limits.problems());
    let admin_token = raw.admin_token;
    let metrics_token = raw.metrics_token;
    for (setting, token) in [
        ("admin-token", &admin_token),
        ("metrics-token", &metrics_token),
    ] {
        if let Some(problem) = token.as_ref().and_then(|t| t.token_problem(setting)) {
            problems.push(problem);
        }
    }
    let trusted_proxies = raw
        .trusted_proxies
        .map_or(Ok(TrustedProxies::default()), |l| {
            TrustedProxies::parse(l.iter())
        })
        .unwrap_or_else(|e| {
            problems.push(format!("trusted-proxies: {e}"));
            TrustedProxies::default()
        });
    let cors_origins = raw
        .cors_origins
        .map_or(Ok(CorsOrigins::default()), |l| CorsOrigins::parse(l.iter()))
        .unwrap_or_else(|e| {
            problems.push(format!("cors-origins: {e}"));
            CorsOrigins::default()
        });
    let hsts_max_age_secs = raw.hsts_max_age;
    if let Some(s) = hsts_max_age_secs
        && s > MAX_HSTS_SECS
    {
        problems.push(format!(
            "hsts-max-age: {s} is more than {MAX_HSTS_SECS} seconds (two years)"
        ));
    }
    HttpSettings {
        listen,
        backlog,
        workers,
        body_limit,
        limits,
        shutdown_timeout: Duration::from_secs(raw.shutdown_timeout_secs.unwrap_or(10)),
        admin_token,
        metrics_token,
        bench_ceiling: raw.bench_ceiling,
        trusted_proxies,
        cors_origins,
        hsts_max_age_secs,
    }
}

/// Addresses and CIDR blocks of the reverse proxies in front of shopd:
/// only from these is `X-Forwarded-For` believed. Empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Entries such as `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    pub(crate) fn parse<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<TrustedProxies, String> {
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
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`, as a dual-stack
/// socket reports IPv4 peers) as the IPv4 address it is.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Browser origins allowed to call the API cross-origin (CORS), with
/// credentials: exact `scheme://host[:port]` values, lowercase. Empty by
/// default: no cross-origin access.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<String>);

impl CorsOrigins {
    pub(crate) fn parse<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<CorsOrigins, String> {
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

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub(crate) fn is_empty(&self) -> bool {
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
pub(crate) const MAX_HEADER_COUNT: usize = 64;

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
    pub(crate) fn problems(&self) -> Vec<String> {
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
