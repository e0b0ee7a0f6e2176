//! One validated [`Config`], resolved from defaults, an optional TOML file,
//! `SHOPD_*` environment variables and command-line flags (later wins).
//!
//! The CLI hands over raw, unchecked values ([`Overrides`], where env and flags
//! are already merged by clap); [`Config::resolve`] layers them over the file
//! and defaults and checks every field, reporting all problems at once.
//! The HTTP edge's value types (quotas, trusted proxies, CORS origins) and
//! their parsers are in [`http`].

pub mod http;

use http::{CorsOrigins, Rate, RateLimitSettings, TrustedProxies};
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A secret string: never printed by `Debug`, compared in constant time.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, to hand to the library that needs it (an SMTP
    /// client). Never log or echo what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison (`subtle`: no early exit on the first
    /// differing byte; only the length can show).
    pub fn matches(&self, candidate: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("unknown log format '{s}' (text or json)")),
        }
    }
}

/// The resolved configuration of a shopd process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// Accept-queue length asked of the kernel at `listen(2)` (capped by
    /// `net.core.somaxconn`): connections that completed the handshake but
    /// that no worker has accepted yet wait here; past it the kernel drops
    /// them (`TcpExtListenOverflows`).
    pub backlog: u32,
    /// Holds `shopd.redb` (and, later, the search index).
    pub data_dir: PathBuf,
    /// Import the embedded demo catalogue when the data dir is empty.
    pub demo: bool,
    /// Bearer token for admin writes; `None` disables them.
    pub admin_token: Option<Secret>,
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `shopd=debug`.
    pub log_level: String,
    /// HTTP worker threads; defaults to one per core.
    pub workers: usize,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Request head size, slow-client timeouts, connections held.
    pub http_limits: http::HttpLimits,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Bytes the response cache may hold; 0 turns it off.
    pub cache_bytes: u64,
    /// How long cached bodies of each kind may be served.
    pub cache_ttls: crate::cache::Ttls,
    /// Serve `GET /bench/ceiling`: a fixed, pre-rendered body the size of a
    /// product detail, for the load harness's ceiling scenario.
    pub bench_ceiling: bool,
    /// Where mail goes: `smtp://user:pass@host:587` and friends (see
    /// `jobs::mail`); `None` writes `.eml` files to `DATA_DIR/outbox`.
    pub smtp_url: Option<Secret>,
    /// The `From:` of every message.
    pub mail_from: String,
    /// The shop's name in messages.
    pub shop_name: String,
    /// The job queues (workers, attempts, backoff, timeout).
    pub queues: Vec<crate::jobs::QueueSettings>,
    /// Consecutive mail failures that open the circuit breaker.
    pub breaker_failures: u32,
    /// Seconds the breaker stays open before one probe.
    pub breaker_open_secs: u64,
    /// Seconds between runs of the job-retention task.
    pub prune_every_secs: u64,
    /// Done jobs kept per queue by the retention task (older ones beyond
    /// this count go even before they are a day old).
    pub job_done_keep: u64,
    /// Where mailed links point (verify email, reset password); default
    /// `http://LISTEN`.
    pub public_url: Option<String>,
    /// JWT signing keys (generated when missing); default
    /// `DATA_DIR/jwt.keys`.
    pub jwt_key_file: Option<PathBuf>,
    /// Password hashes computed at once, at most.
    pub password_hash_threads: usize,
    /// The quota of each rate-limit class (`api`, `auth`, `write`,
    /// `checkout`); a class set `off` is not limited.
    pub rate_limits: RateLimitSettings,
    /// Peers whose `X-Forwarded-For` names the client (for rate limits);
    /// from any other peer the header is ignored.
    pub trusted_proxies: TrustedProxies,
    /// Origins whose browsers may call the API (CORS, credentials
    /// included); empty: no cross-origin access.
    pub cors_origins: CorsOrigins,
    /// `Strict-Transport-Security: max-age=N; includeSubDomains` on every
    /// response when set (deployments behind TLS only).
    pub hsts_max_age_secs: Option<u64>,
    /// Flat shipping per order and the tax rate (on the discounted
    /// subtotal).
    pub charges: crate::domain::order::Charges,
    /// The payment provider's webhook secret; without it card payments
    /// cannot be confirmed.
    pub payment_webhook_secret: Option<Secret>,
    /// Leader and follower settings, scheduled backups.
    pub replication: crate::replication::ReplicationSettings,
    /// Injected I/O failures of the database file and its log, for tests
    /// of storage errors (`store::faults`). No flag, variable or file sets
    /// it: always `None` outside tests.
    pub faults: Option<std::sync::Arc<crate::store::faults::FaultPlan>>,
}

/// One queue's settings in the TOML file (`[queues.emails]`); absent
/// fields keep the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueFile {
    pub concurrency: Option<usize>,
    pub max_attempts: Option<u32>,
    pub backoff_ms: Option<u64>,
    pub timeout_secs: Option<u64>,
}

/// Values from flags or environment; `None` = not given.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<String>,
    pub backlog: Option<u32>,
    pub data_dir: Option<PathBuf>,
    pub demo: bool,
    pub admin_token: Option<String>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub workers: Option<usize>,
    pub body_limit: Option<usize>,
    pub max_uri_bytes: Option<usize>,
    pub max_header_bytes: Option<usize>,
    pub max_connections: Option<usize>,
    pub keep_alive_secs: Option<u64>,
    pub head_timeout_secs: Option<u64>,
    pub body_timeout_secs: Option<u64>,
    pub cache_bytes: Option<u64>,
    pub cache_ttl_detail_secs: Option<u64>,
    pub cache_ttl_list_secs: Option<u64>,
    pub cache_ttl_taxonomy_secs: Option<u64>,
    pub bench_ceiling: bool,
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub public_url: Option<String>,
    pub jwt_key_file: Option<PathBuf>,
    /// `N/PERIOD` or `off`, per class.
    pub rate_limit_api: Option<String>,
    pub rate_limit_auth: Option<String>,
    pub rate_limit_write: Option<String>,
    pub rate_limit_checkout: Option<String>,
    /// Comma-separated addresses or CIDR blocks.
    pub trusted_proxies: Option<String>,
    /// Comma-separated origins.
    pub cors_origins: Option<String>,
    pub hsts_max_age_secs: Option<u64>,
    /// A decimal amount, e.g. `4.99`.
    pub shipping: Option<String>,
    /// A percent, e.g. `19` or `7.5`.
    pub tax_rate: Option<String>,
    pub payment_webhook_secret: Option<String>,
    pub replication_token: Option<String>,
    pub follow: Option<String>,
    /// Durations as `500ms`, `1s`, `10m`, `1h`.
    pub follow_interval: Option<String>,
    pub follow_max_lag: Option<String>,
    /// `redirect` or `reject`.
    pub follower_writes: Option<String>,
    pub replication_log_bytes: Option<u64>,
    pub replication_log_age: Option<String>,
    pub backup_to: Option<String>,
    pub backup_every: Option<String>,
    pub backup_keep: Option<usize>,
}

/// The optional TOML file; same names as the flags, in snake_case.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub backlog: Option<u32>,
    pub data_dir: Option<PathBuf>,
    pub demo: Option<bool>,
    pub admin_token: Option<Secret>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<String>,
    pub workers: Option<usize>,
    pub body_limit: Option<usize>,
    pub max_uri_bytes: Option<usize>,
    pub max_header_bytes: Option<usize>,
    pub max_connections: Option<usize>,
    pub keep_alive_secs: Option<u64>,
    pub head_timeout_secs: Option<u64>,
    pub body_timeout_secs: Option<u64>,
    pub shutdown_timeout_secs: Option<u64>,
    pub cache_bytes: Option<u64>,
    pub cache_ttl_detail_secs: Option<u64>,
    pub cache_ttl_list_secs: Option<u64>,
    pub cache_ttl_taxonomy_secs: Option<u64>,
    pub bench_ceiling: Option<bool>,
    pub smtp_url: Option<Secret>,
    pub mail_from: Option<String>,
    pub shop_name: Option<String>,
    pub queues: Option<std::collections::BTreeMap<String, QueueFile>>,
    pub breaker_failures: Option<u32>,
    pub breaker_open_secs: Option<u64>,
    pub prune_every_secs: Option<u64>,
    pub job_done_keep: Option<u64>,
    pub public_url: Option<String>,
    pub jwt_key_file: Option<PathBuf>,
    pub password_hash_threads: Option<usize>,
    pub rate_limit_api: Option<String>,
    pub rate_limit_auth: Option<String>,
    pub rate_limit_write: Option<String>,
    pub rate_limit_checkout: Option<String>,
    /// A list, e.g. `["10.0.0.0/8", "192.168.1.7"]`.
    pub trusted_proxies: Option<Vec<String>>,
    /// A list, e.g. `["https://shop.example.com"]`.
    pub cors_origins: Option<Vec<String>>,
    pub hsts_max_age_secs: Option<u64>,
    pub shipping: Option<f64>,
    pub tax_rate: Option<f64>,
    pub payment_webhook_secret: Option<Secret>,
    pub replication_token: Option<Secret>,
    pub follow: Option<String>,
    pub follow_interval: Option<String>,
    pub follow_max_lag: Option<String>,
    pub follower_writes: Option<String>,
    pub replication_log_bytes: Option<u64>,
    pub replication_log_age: Option<String>,
    pub backup_to: Option<String>,
    pub backup_every: Option<String>,
    pub backup_keep: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid configuration: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./data";
/// Accept queue: room for a storm of connects (the 10,000-connection bench)
/// while the workers accept; Linux caps it at `net.core.somaxconn` (4096 by
/// default since 5.4). std's `TcpListener::bind` asks for 128.
pub const DEFAULT_BACKLOG: u32 = 4096;
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;
pub const DEFAULT_MAIL_FROM: &str = "shopd <shop@localhost>";
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// Longest cache TTL accepted: a day.
const MAX_TTL_SECS: u64 = 24 * 60 * 60;
/// Longest HSTS max-age accepted: two years (what preload lists ask for
/// is one).
const MAX_HSTS_SECS: u64 = 2 * 365 * 24 * 60 * 60;

impl Config {
    /// Defaults < file < environment < flags, then validation.
    pub fn resolve(o: Overrides) -> Result<Config, ConfigError> {
        let file = match &o.config_file {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        let mut problems = Vec::new();
        let replication = replication_settings(&o, &file, &mut problems);
        let listen_text = o
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen = listen_text.parse::<SocketAddr>().unwrap_or_else(|_| {
            problems.push(format!(
                "listen: '{listen_text}' is not an address like 127.0.0.1:8080"
            ));
            SocketAddr::from(([127, 0, 0, 1], 8080))
        });
        let backlog = o.backlog.or(file.backlog).unwrap_or(DEFAULT_BACKLOG);
        if !(1..=65_535).contains(&backlog) {
            problems.push(format!("backlog: {backlog} is not within 1..=65535"));
        }
        let log_format = match o.log_format {
            Some(s) => s.parse().unwrap_or_else(|e: String| {
                problems.push(format!("log-format: {e}"));
                LogFormat::Text
            }),
            None => file.log_format.unwrap_or_default(),
        };
        let workers = o
            .workers
            .or(file.workers)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if !(1..=256).contains(&workers) {
            problems.push(format!("workers: {workers} is not within 1..=256"));
        }
        let body_limit = o
            .body_limit
            .or(file.body_limit)
            .unwrap_or(DEFAULT_BODY_LIMIT);
        if !(1024..=64 * 1024 * 1024).contains(&body_limit) {
            problems.push(format!(
                "body-limit: {body_limit} is not within 1 KiB..=64 MiB"
            ));
        }
        let d = http::HttpLimits::DEFAULT;
        let http_limits = http::HttpLimits {
            max_uri_bytes: o
                .max_uri_bytes
                .or(file.max_uri_bytes)
                .unwrap_or(d.max_uri_bytes),
            max_header_bytes: o
                .max_header_bytes
                .or(file.max_header_bytes)
                .unwrap_or(d.max_header_bytes),
            max_connections: o
                .max_connections
                .or(file.max_connections)
                .unwrap_or(d.max_connections),
            keep_alive: o
                .keep_alive_secs
                .or(file.keep_alive_secs)
                .map_or(d.keep_alive, Duration::from_secs),
            head_timeout: o
                .head_timeout_secs
                .or(file.head_timeout_secs)
                .map_or(d.head_timeout, Duration::from_secs),
            body_timeout: o
                .body_timeout_secs
                .or(file.body_timeout_secs)
                .map_or(d.body_timeout, Duration::from_secs),
        };
        problems.extend(http_limits.problems());
        let cache_bytes = o
            .cache_bytes
            .or(file.cache_bytes)
            .unwrap_or(DEFAULT_CACHE_BYTES);
        if cache_bytes > 64 * 1024 * 1024 * 1024 {
            problems.push(format!("cache-bytes: {cache_bytes} is more than 64 GiB"));
        }
        let defaults = crate::cache::Ttls::default();
        let mut ttl =
            |name: &str, flag: Option<u64>, file: Option<u64>, default: Duration| match flag
                .or(file)
            {
                None => default,
                Some(s) if (1..=MAX_TTL_SECS).contains(&s) => Duration::from_secs(s),
                Some(s) => {
                    problems.push(format!(
                        "{name}: {s} is not within 1..={MAX_TTL_SECS} seconds"
                    ));
                    default
                }
            };
        let cache_ttls = crate::cache::Ttls {
            detail: ttl(
                "cache-ttl-detail",
                o.cache_ttl_detail_secs,
                file.cache_ttl_detail_secs,
                defaults.detail,
            ),
            lists: ttl(
                "cache-ttl-list",
                o.cache_ttl_list_secs,
                file.cache_ttl_list_secs,
                defaults.lists,
            ),
            taxonomy: ttl(
                "cache-ttl-taxonomy",
                o.cache_ttl_taxonomy_secs,
                file.cache_ttl_taxonomy_secs,
                defaults.taxonomy,
            ),
        };
        let admin_token = o.admin_token.map(Secret::new).or(file.admin_token);
        if admin_token.as_ref().is_some_and(|t| t.0.trim().is_empty()) {
            problems.push("admin-token: must not be empty".into());
        }
        let smtp_url = o.smtp_url.map(Secret::new).or(file.smtp_url);
        let mail_from = o
            .mail_from
            .or(file.mail_from)
            .unwrap_or_else(|| DEFAULT_MAIL_FROM.to_string());
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            problems.push(format!(
                "mail-from: '{mail_from}' is not a mailbox such as 'Shop <shop@example.com>'"
            ));
        }
        let mut queues = crate::jobs::QueueSettings::defaults();
        for (name, q) in file.queues.unwrap_or_default() {
            let Some(d) = queues.iter_mut().find(|d| d.name == name) else {
                problems.push(format!(
                    "queues.{name}: unknown queue (emails, notifications, maintenance)"
                ));
                continue;
            };
            if let Some(c) = q.concurrency {
                if !(1..=1024).contains(&c) {
                    problems.push(format!(
                        "queues.{name}.concurrency: {c} is not within 1..=1024"
                    ));
                }
                d.concurrency = c;
            }
            if let Some(a) = q.max_attempts {
                if !(1..=100).contains(&a) {
                    problems.push(format!(
                        "queues.{name}.max_attempts: {a} is not within 1..=100"
                    ));
                }
                d.max_attempts = a;
            }
            if let Some(b) = q.backoff_ms {
                d.backoff = Duration::from_millis(b.min(3_600_000));
            }
            if let Some(t) = q.timeout_secs {
                if !(1..=3600).contains(&t) {
                    problems.push(format!(
                        "queues.{name}.timeout_secs: {t} is not within 1..=3600"
                    ));
                }
                d.timeout = Duration::from_secs(t);
            }
        }
        let breaker_failures = file.breaker_failures.unwrap_or(5);
        if breaker_failures == 0 {
            problems.push("breaker_failures: must be at least 1".into());
        }
        let prune_every_secs = file.prune_every_secs.unwrap_or(3600);
        if prune_every_secs == 0 {
            problems.push("prune_every_secs: must be at least 1".into());
        }
        let public_url = o.public_url.or(file.public_url);
        if let Some(u) = &public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            problems.push(format!(
                "public-url: '{u}' must start with http:// or https://"
            ));
        }
        let password_hash_threads = file
            .password_hash_threads
            .unwrap_or_else(crate::accounts::password::Hasher::default_threads);
        if !(1..=256).contains(&password_hash_threads) {
            problems.push(format!(
                "password_hash_threads: {password_hash_threads} is not within 1..=256"
            ));
        }
        let defaults = RateLimitSettings::default();
        let mut rate =
            |name: &str, flag: Option<String>, file: Option<String>, default| match flag.or(file) {
                None => default,
                Some(text) => Rate::parse_setting(&text).unwrap_or_else(|e| {
                    problems.push(format!("{name}: {e}"));
                    default
                }),
            };
        let rate_limits = RateLimitSettings {
            api: rate(
                "rate-limit-api",
                o.rate_limit_api,
                file.rate_limit_api,
                defaults.api,
            ),
            auth: rate(
                "rate-limit-auth",
                o.rate_limit_auth,
                file.rate_limit_auth,
                defaults.auth,
            ),
            write: rate(
                "rate-limit-write",
                o.rate_limit_write,
                file.rate_limit_write,
                defaults.write,
            ),
            checkout: rate(
                "rate-limit-checkout",
                o.rate_limit_checkout,
                file.rate_limit_checkout,
                defaults.checkout,
            ),
        };
        let trusted_proxies = match (o.trusted_proxies, file.trusted_proxies) {
            (Some(flag), _) => TrustedProxies::parse_list(&flag),
            (None, Some(list)) => TrustedProxies::parse(list.iter().map(String::as_str)),
            (None, None) => Ok(TrustedProxies::default()),
        }
        .unwrap_or_else(|e| {
            problems.push(format!("trusted-proxies: {e}"));
            TrustedProxies::default()
        });
        let cors_origins = match (o.cors_origins, file.cors_origins) {
            (Some(flag), _) => CorsOrigins::parse_list(&flag),
            (None, Some(list)) => CorsOrigins::parse(list.iter().map(String::as_str)),
            (None, None) => Ok(CorsOrigins::default()),
        }
        .unwrap_or_else(|e| {
            problems.push(format!("cors-origins: {e}"));
            CorsOrigins::default()
        });
        let hsts_max_age_secs = o.hsts_max_age_secs.or(file.hsts_max_age_secs);
        if let Some(s) = hsts_max_age_secs
            && s > MAX_HSTS_SECS
        {
            problems.push(format!(
                "hsts-max-age: {s} is more than {MAX_HSTS_SECS} seconds (two years)"
            ));
        }
        let charges = charges(
            (o.shipping.as_deref(), file.shipping),
            (o.tax_rate.as_deref(), file.tax_rate),
            &mut problems,
        );
        let payment_webhook_secret = o
            .payment_webhook_secret
            .map(Secret::new)
            .or(file.payment_webhook_secret.clone())
            .filter(|s| !s.expose().is_empty());
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        let data_dir = o
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        Ok(Config {
            listen,
            backlog,
            jwt_key_file: o.jwt_key_file.or(file.jwt_key_file),
            data_dir,
            demo: o.demo || file.demo.unwrap_or(false),
            admin_token,
            log_format,
            log_level: o
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".into()),
            workers,
            body_limit,
            http_limits,
            shutdown_timeout_secs: file.shutdown_timeout_secs.unwrap_or(10),
            cache_bytes,
            cache_ttls,
            bench_ceiling: o.bench_ceiling || file.bench_ceiling.unwrap_or(false),
            smtp_url,
            mail_from,
            shop_name: file.shop_name.unwrap_or_else(|| "shopd".into()),
            queues,
            breaker_failures,
            breaker_open_secs: file.breaker_open_secs.unwrap_or(30),
            prune_every_secs,
            job_done_keep: file.job_done_keep.unwrap_or(1_000),
            public_url,
            password_hash_threads,
            rate_limits,
            trusted_proxies,
            cors_origins,
            hsts_max_age_secs,
            charges,
            payment_webhook_secret,
            replication,
            faults: None,
        })
    }

    /// The catalogue database inside the data dir.
    pub fn database_path(&self) -> PathBuf {
        database_path(&self.data_dir)
    }

    /// How mail leaves shopd (see `jobs::mail`).
    pub fn mail_settings(&self) -> crate::jobs::mail::MailSettings {
        crate::jobs::mail::MailSettings {
            smtp_url: self.smtp_url.clone(),
            from: self.mail_from.clone(),
            outbox_dir: self.data_dir.join("outbox"),
            templates_dir: self.data_dir.join("templates"),
            shop_name: self.shop_name.clone(),
            breaker_failures: self.breaker_failures,
            breaker_open: Duration::from_secs(self.breaker_open_secs),
            timeout: Duration::from_secs(10),
        }
    }

    /// The job queues' settings.
    pub fn jobs_settings(&self) -> crate::jobs::JobsSettings {
        let defaults = crate::jobs::JobsSettings::default().retention;
        crate::jobs::JobsSettings {
            queues: self.queues.clone(),
            prune_every: Duration::from_secs(self.prune_every_secs),
            retention: crate::store::Retention {
                done_keep: self.job_done_keep,
                ..defaults
            },
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
        }
    }

    /// The accounts service's settings.
    pub fn accounts_settings(&self) -> crate::accounts::AccountsSettings {
        crate::accounts::AccountsSettings {
            key_file: self
                .jwt_key_file
                .clone()
                .unwrap_or_else(|| self.data_dir.join("jwt.keys")),
            public_url: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", self.listen)),
            hash_threads: self.password_hash_threads,
            verification_cache: true,
        }
    }

    /// The selling service's settings.
    pub fn orders_settings(&self) -> crate::orders::OrdersSettings {
        crate::orders::OrdersSettings {
            charges: self.charges,
            webhook_secret: self.payment_webhook_secret.clone(),
            link_key_file: self.data_dir.join("links.key"),
            public_url: self.accounts_settings().public_url,
        }
    }

    /// The search index directory inside the data dir.
    pub fn search_dir(&self) -> PathBuf {
        self.data_dir.join("search")
    }
}

/// Shipping (default 4.99) and tax rate (default 0 %) from flags or file.
fn charges(
    shipping: (Option<&str>, Option<f64>),
    tax_rate: (Option<&str>, Option<f64>),
    problems: &mut Vec<String>,
) -> crate::domain::order::Charges {
    let shipping = match shipping {
        (Some(s), _) => s.trim().parse::<f64>().map_err(|_| ()),
        (None, Some(x)) => Ok(x),
        (None, None) => Ok(4.99),
    };
    let shipping_cents = match shipping.map(crate::domain::Price::from_decimal) {
        Ok(Ok(p)) => p.cents(),
        _ => {
            problems.push("shipping: must be an amount such as 4.99".into());
            0
        }
    };
    let rate = match tax_rate {
        (Some(s), _) => s.trim().trim_end_matches('%').parse::<f64>().ok(),
        (None, Some(x)) => Some(x),
        (None, None) => Some(0.0),
    };
    let tax_basis_points = match rate {
        Some(r)
            if r.is_finite()
                && (0.0..=100.0).contains(&r)
                && ((r * 100.0).round() - r * 100.0).abs() < 1e-6 =>
        {
            (r * 100.0).round() as u32
        }
        _ => {
            problems.push("tax-rate: must be a percent from 0 to 100 with at most 2 decimals, such as 19 or 7.5".into());
            0
        }
    };
    crate::domain::order::Charges {
        shipping_cents,
        tax_basis_points,
    }
}

/// A duration as `250ms`, `1s`, `10m`, `2h` or `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 500ms, 1s, 10m, 1h or 1d"))?;
    let ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "'{text}' is not a duration like 500ms, 1s, 10m, 1h or 1d"
            ));
        }
    };
    Ok(Duration::from_millis(n.saturating_mul(ms)))
}

fn replication_settings(
    o: &Overrides,
    file: &FileConfig,
    problems: &mut Vec<String>,
) -> crate::replication::ReplicationSettings {
    use crate::replication::{FollowerWrites, ReplicationSettings};
    let d = ReplicationSettings::default();
    let mut duration =
        |name: &str, flag: &Option<String>, file: &Option<String>, default| match flag
            .as_ref()
            .or(file.as_ref())
        {
            None => default,
            Some(t) => parse_duration(t).unwrap_or_else(|e| {
                problems.push(format!("{name}: {e}"));
                default
            }),
        };
    let follow_interval = duration(
        "follow-interval",
        &o.follow_interval,
        &file.follow_interval,
        d.follow_interval,
    );
    let follow_max_lag = duration(
        "follow-max-lag",
        &o.follow_max_lag,
        &file.follow_max_lag,
        d.follow_max_lag,
    );
    let log_age = duration(
        "replication-log-age",
        &o.replication_log_age,
        &file.replication_log_age,
        d.log_age,
    );
    let backup_every = duration(
        "backup-every",
        &o.backup_every,
        &file.backup_every,
        d.backup_every,
    );
    if follow_interval < Duration::from_millis(50) {
        problems.push("follow-interval: must be at least 50ms".into());
    }
    if backup_every < Duration::from_secs(60) {
        problems.push("backup-every: must be at least 1m".into());
    }
    let writes = match o
        .follower_writes
        .as_deref()
        .or(file.follower_writes.as_deref())
    {
        None | Some("redirect") => FollowerWrites::Redirect,
        Some("reject") => FollowerWrites::Reject,
        Some(other) => {
            problems.push(format!(
                "follower-writes: '{other}' is not redirect or reject"
            ));
            FollowerWrites::Redirect
        }
    };
    let follow = o.follow.clone().or(file.follow.clone());
    if let Some(u) = &follow
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        problems.push(format!(
            "follow: '{u}' must be the leader's base URL, http://host:port"
        ));
    }
    let token = o
        .replication_token
        .clone()
        .map(Secret::new)
        .or(file.replication_token.clone())
        .filter(|s| !s.expose().is_empty());
    if follow.is_some() && token.is_none() {
        problems.push("follow: a follower needs the leader's --replication-token".into());
    }
    let backup_to = o.backup_to.clone().or(file.backup_to.clone());
    if let Some(b) = &backup_to
        && let Err(e) = crate::replication::backup::Target::parse(b)
    {
        problems.push(format!("backup-to: {e}"));
    }
    let backup_keep = o.backup_keep.or(file.backup_keep).unwrap_or(d.backup_keep);
    if backup_keep == 0 {
        problems.push("backup-keep: must be at least 1".into());
    }
    ReplicationSettings {
        token,
        follow: follow.map(|u| u.trim_end_matches('/').to_string()),
        follow_interval,
        follow_max_lag,
        follower_writes: writes,
        log_bytes: o
            .replication_log_bytes
            .or(file.replication_log_bytes)
            .unwrap_or(d.log_bytes),
        log_age,
        backup_to,
        backup_every,
        backup_keep,
    }
}

pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("shopd.redb")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_settings_are_checked() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("fast").is_err());
        let c = Config::resolve(Overrides {
            follow: Some("http://leader:8080/".into()),
            replication_token: Some("t".into()),
            follow_interval: Some("200ms".into()),
            follower_writes: Some("reject".into()),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(c.replication.follow.as_deref(), Some("http://leader:8080"));
        assert_eq!(c.replication.follow_interval, Duration::from_millis(200));
        assert_eq!(
            c.replication.follower_writes,
            crate::replication::FollowerWrites::Reject
        );
        let e = Config::resolve(Overrides {
            follow: Some("leader:8080".into()),
            follow_interval: Some("1".into()),
            follower_writes: Some("drop".into()),
            backup_to: Some("gs://x".into()),
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
        for part in [
            "follow: 'leader:8080'",
            "needs the leader's --replication-token",
            "follow-interval",
            "follower-writes",
            "backup-to",
        ] {
            assert!(e.contains(part), "{part}: {e}");
        }
    }

    #[test]
    fn flags_override_file_and_all_problems_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shopd.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\nworkers = 3\nadmin_token = \"from-file\"\n",
        )
        .unwrap();
        let c = Config::resolve(Overrides {
            config_file: Some(path.clone()),
            workers: Some(1),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.workers, 1);
        assert!(c.admin_token.unwrap().matches("from-file"));

        let err = Config::resolve(Overrides {
            listen: Some("nope".into()),
            workers: Some(0),
            ..Overrides::default()
        })
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("listen") && text.contains("workers"),
            "{text}"
        );
    }

    #[test]
    fn edge_settings_layer_like_the_others_and_report_every_bad_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shopd.toml");
        std::fs::write(
            &path,
            "rate_limit_api = \"off\"\nrate_limit_write = \"50/min\"\n\
             trusted_proxies = [\"10.0.0.0/8\"]\ncors_origins = [\"https://shop.example.com\"]\n\
             hsts_max_age_secs = 31536000\n",
        )
        .unwrap();
        let c = Config::resolve(Overrides {
            config_file: Some(path),
            rate_limit_write: Some("7/30s".into()),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(c.rate_limits.api, None, "off in the file");
        assert_eq!(
            c.rate_limits.write.unwrap().to_string(),
            "7/30s",
            "the flag wins"
        );
        assert_eq!(
            c.rate_limits.auth.unwrap().to_string(),
            "5/5min",
            "the default"
        );
        assert_eq!(c.rate_limits.checkout.unwrap().to_string(), "10/10min");
        assert!(c.trusted_proxies.contains("10.9.8.7".parse().unwrap()));
        assert_eq!(
            c.cors_origins.iter().collect::<Vec<_>>(),
            ["https://shop.example.com"]
        );
        assert_eq!(c.hsts_max_age_secs, Some(31_536_000));

        let defaults = Config::resolve(Overrides::default()).unwrap();
        assert_eq!(defaults.rate_limits, RateLimitSettings::default());
        assert!(defaults.trusted_proxies.is_empty() && defaults.cors_origins.is_empty());
        assert_eq!(defaults.hsts_max_age_secs, None);

        let err = Config::resolve(Overrides {
            rate_limit_api: Some("lots".into()),
            rate_limit_checkout: Some("0/min".into()),
            trusted_proxies: Some("10.0.0.1,proxy.internal".into()),
            cors_origins: Some("https://shop.example.com/".into()),
            hsts_max_age_secs: Some(u64::MAX),
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
        for name in [
            "rate-limit-api",
            "rate-limit-checkout",
            "trusted-proxies",
            "cors-origins",
            "hsts-max-age",
        ] {
            assert!(err.contains(name), "{name} missing from: {err}");
        }
    }

    #[test]
    fn secret_compares_whole_strings_and_hides_itself() {
        let s = Secret::new("abc");
        assert!(s.matches("abc"));
        assert!(!s.matches("abd") && !s.matches("ab") && !s.matches("abcd"));
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }
}
