//! Configuration: one section per area, each resolved from defaults, an
//! optional TOML file, `SHOPD_*` environment variables and command-line
//! flags (later wins).
//!
//! Every setting is declared once, in its section's raw layer (see
//! [`layer`]): a field that clap fills from a flag and its variable and
//! serde from a file key. [`Config::resolve`] puts the command line over
//! the file, then each section's `resolve` checks its values and turns them
//! into the section type that its service takes; every problem of every
//! section is reported at once.
//!
//! This module imports no service: sections are plain values. A service
//! takes its section (`jobs` takes [`jobs::JobsSettings`], …) and never the
//! whole [`Config`]; only `startup` and `main` see all of it. [`Secret`]
//! and [`DataDir`] are leaf types any layer may hold.
//!
//! The reference of every setting is `docs/guide/configuration.md`; a test
//! checks it against the flags and file keys declared here.

pub mod accounts;
pub mod backups;
pub mod cache;
pub(crate) mod data_dir;
pub mod http;
pub mod jobs;
pub(crate) mod layer;
pub mod log;
pub(crate) mod mail;
pub mod media;
pub(crate) mod orders;
pub mod rate_limits;
pub(crate) mod replication;
pub(crate) mod secret;
pub mod storage;

pub(crate) use data_dir::DataDir;
pub use secret::Secret;

use layer::{Layer, Problems, raw_section};
use std::path::{Path, PathBuf};

raw_section! {
    /// What every command reads: where the data is, how to log.
    pub(crate) struct CommonRaw {
        /// Where shopd keeps its data.
        #[arg(long, global = true, env = "SHOPD_DATA_DIR")]
        pub data_dir: Option<PathBuf>,
        #[command(flatten)]
        #[serde(flatten)]
        pub log: log::Raw,
    }
}

raw_section! {
    /// What `shopd serve` reads: every section of the server.
    pub(crate) struct ServeRaw {
        /// On an empty data dir, import the embedded demo catalogue first.
        #[arg(long, env = "SHOPD_DEMO")]
        pub demo: bool,
        #[command(flatten)]
        #[serde(flatten)]
        pub http: http::Raw,
        #[command(flatten)]
        #[serde(flatten)]
        pub rate_limits: rate_limits::Raw,
        #[command(flatten)]
        #[serde(flatten)]
        pub cache: cache::Raw,
        #[command(flatten)]
        #[serde(flatten)]
        pub mail: mail::Raw,
        #[command(flatten)]
        #[serde(flatten)]
        pub jobs: jobs::Raw,
        #[command(flatten)]
        #[serde(flatten)]
        pub accounts: accounts::Raw,
        #[command(flatten)]
        #[serde(flatten)]
        pub orders: orders::Raw,
        #[command(flatten)]
        #[serde(flatten)]
        pub replication: replication::Raw,
        #[command(flatten)]
        #[serde(flatten)]
        pub backups: backups::Raw,
        #[command(flatten)]
        #[serde(flatten)]
        pub storage: storage::Raw,
        #[command(flatten)]
        #[serde(flatten)]
        pub media: media::Raw,
    }
}

/// Every setting as given by one layer (the command line, or the file).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct Raw {
    #[serde(flatten)]
    pub common: CommonRaw,
    #[serde(flatten)]
    pub serve: ServeRaw,
}

impl Layer for Raw {
    fn or(self, lower: Raw) -> Raw {
        Raw {
            common: self.common.or(lower.common),
            serve: self.serve.or(lower.serve),
        }
    }
}

impl Raw {
    /// The optional TOML file; the same names as the flags, in snake_case.
    /// A key no section reads is an error (a typo must not pass silently).
    pub(crate) fn load(path: &Path) -> Result<Raw, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let parse = |message: String| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        };
        let table: toml::Table = toml::from_str(&text).map_err(|e| parse(e.to_string()))?;
        let known = file_keys();
        let unknown: Vec<&str> = table
            .keys()
            .map(String::as_str)
            .filter(|k| !known.contains(k))
            .collect();
        if !unknown.is_empty() {
            return Err(parse(format!(
                "unknown setting(s): {} (see docs/guide/configuration.md)",
                unknown.join(", ")
            )));
        }
        Raw::deserialize_table(table).map_err(parse)
    }

    fn deserialize_table(table: toml::Table) -> Result<Raw, String> {
        serde::Deserialize::deserialize(toml::Value::Table(table)).map_err(|e| e.to_string())
    }
}

/// Every key the TOML file may hold, section by section.
pub(crate) fn file_keys() -> Vec<&'static str> {
    use layer::keys_of;
    [
        &["data_dir", "demo"][..],
        keys_of::<log::Raw>(),
        keys_of::<http::Raw>(),
        keys_of::<rate_limits::Raw>(),
        keys_of::<cache::Raw>(),
        keys_of::<mail::Raw>(),
        keys_of::<jobs::Raw>(),
        keys_of::<accounts::Raw>(),
        keys_of::<orders::Raw>(),
        keys_of::<replication::Raw>(),
        keys_of::<backups::Raw>(),
        keys_of::<storage::Raw>(),
        keys_of::<media::Raw>(),
    ]
    .concat()
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

/// The resolved configuration of a shopd process: one section per area.
#[derive(Debug, Clone)]
pub struct Config {
    /// Holds `shopd.redb`, its log, the search index, keys and mail.
    pub data: DataDir,
    /// Import the embedded demo catalogue when the data dir is empty.
    pub demo: bool,
    /// With the demo catalogue, its generated product photos (on unless a
    /// test turns them off: the Postgres-design baseline loads the
    /// catalogue without them).
    pub demo_images: bool,
    pub log: log::LogSettings,
    pub http: http::HttpSettings,
    pub rate_limits: rate_limits::RateLimitSettings,
    pub cache: cache::CacheSettings,
    pub mail: mail::MailSettings,
    pub jobs: jobs::JobsSettings,
    pub accounts: accounts::AccountsSettings,
    pub orders: orders::OrdersSettings,
    pub replication: replication::ReplicationSettings,
    pub backups: backups::BackupSettings,
    pub storage: storage::StorageSettings,
    pub media: media::MediaSettings,
}

impl Config {
    /// Defaults < file < environment < flags (`given`: the command line,
    /// where clap has put flags over variables), then validation.
    pub fn resolve(given: Raw, file: Option<&Path>) -> Result<Config, ConfigError> {
        let from_file = match file {
            Some(p) => Raw::load(p)?,
            None => Raw::default(),
        };
        Config::from_raw(given.or(from_file))
    }

    /// Every section from one (already layered) raw input.
    pub fn from_raw(raw: Raw) -> Result<Config, ConfigError> {
        let Raw { common, serve } = raw;
        let mut problems = Problems::default();
        let data = DataDir::new(
            common
                .data_dir
                .unwrap_or_else(|| PathBuf::from(data_dir::DEFAULT_DATA_DIR)),
        );
        let log = log::resolve(common.log, &mut problems);
        let replication = replication::resolve(serve.replication, &mut problems);
        let mut backups = backups::resolve(serve.backups, &mut problems);
        let storage = storage::resolve(serve.storage, &mut problems);
        let http = http::resolve(serve.http, &mut problems);
        let cache = cache::resolve(serve.cache, &mut problems);
        let mail = mail::resolve(serve.mail, &data, &mut problems);
        let jobs = jobs::resolve(serve.jobs, http.shutdown_timeout, &mut problems);
        let accounts = accounts::resolve(serve.accounts, &data, http.listen, &mut problems);
        let rate_limits = rate_limits::resolve(serve.rate_limits, &mut problems);
        let orders = orders::resolve(serve.orders, &data, &accounts.public_url, &mut problems);
        let media = media::resolve(
            serve.media,
            &data,
            replication.follow.as_deref(),
            &mut problems,
        );
        backups.media = Some(media.store.clone());
        if !problems.0.is_empty() {
            return Err(ConfigError::Invalid(problems.0));
        }
        Ok(Config {
            data,
            demo: serve.demo,
            demo_images: true,
            log,
            http,
            rate_limits,
            cache,
            mail,
            jobs,
            accounts,
            orders,
            replication,
            backups,
            storage,
            media,
        })
    }

    /// The defaults (tests, tools).
    pub fn defaults() -> Config {
        // The defaults are checked by a unit test.
        Config::from_raw(Raw::default()).expect("the defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::time::Duration;

    /// The command line of `shopd serve`, as the binary parses it.
    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        common: CommonRaw,
        #[command(flatten)]
        serve: ServeRaw,
    }

    fn flags(args: &[&str]) -> Raw {
        let s = Serve::try_parse_from(std::iter::once("shopd").chain(args.iter().copied()))
            .expect("flags parse");
        Raw {
            common: s.common,
            serve: s.serve,
        }
    }

    fn resolve(args: &[&str]) -> Result<Config, ConfigError> {
        Config::resolve(flags(args), None)
    }

    #[test]
    fn the_defaults_are_valid() {
        let c = Config::defaults();
        assert_eq!(c.http.listen.to_string(), http::DEFAULT_LISTEN);
        assert_eq!(c.data.path(), Path::new(data_dir::DEFAULT_DATA_DIR));
    }

    #[test]
    fn replication_settings_are_checked() {
        use replication::parse_duration;
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("fast").is_err());
        let c = resolve(&[
            "--follow",
            "http://leader:8080/",
            "--replication-token",
            "follower-token-0123456789abcdef0123",
            "--follow-interval",
            "200ms",
            "--follower-writes",
            "reject",
        ])
        .unwrap();
        assert_eq!(c.replication.follow.as_deref(), Some("http://leader:8080"));
        assert_eq!(c.replication.follow_interval, Duration::from_millis(200));
        assert_eq!(
            c.replication.follower_writes,
            replication::FollowerWrites::Reject
        );
        let e = resolve(&[
            "--follow",
            "leader:8080",
            "--follow-interval",
            "1",
            "--follower-writes",
            "drop",
            "--backup-to",
            "gs://x",
        ])
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
    fn holds_of_unpaid_orders_default_per_method_and_are_bounded() {
        use crate::domain::order::Holds;
        assert_eq!(resolve(&[]).unwrap().orders.holds, Holds::DEFAULT);
        let c = resolve(&["--hold-card", "45m", "--hold-bank-transfer", "3d"]).unwrap();
        assert_eq!(c.orders.holds.card_ms, 45 * 60_000);
        assert_eq!(c.orders.holds.bank_transfer_ms, 3 * 86_400_000);
        let e = resolve(&["--hold-card", "0s", "--hold-bank-transfer", "31d"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("hold-card: must be from 1s to 30d"), "{e}");
        assert!(
            e.contains("hold-bank-transfer: must be from 1s to 30d"),
            "{e}"
        );
    }

    #[test]
    fn flags_override_file_and_all_problems_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shopd.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\nworkers = 3\nadmin_token = \"from-the-file-0123456789abcdef0123\"\n",
        )
        .unwrap();
        let c = Config::resolve(flags(&["--workers", "1"]), Some(&path)).unwrap();
        assert_eq!(c.http.listen.port(), 9000);
        assert_eq!(c.http.workers, 1);
        assert!(
            c.http
                .admin_token
                .unwrap()
                .matches("from-the-file-0123456789abcdef0123")
        );

        let err = resolve(&["--listen", "nope", "--workers", "0"]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("listen") && text.contains("workers"),
            "{text}"
        );
    }

    #[test]
    fn tokens_guessed_online_must_be_at_least_32_characters() {
        let long = "0123456789abcdef0123456789abcdef";
        let e = resolve(&[
            "--admin-token",
            "secret",
            "--replication-token",
            "s3cret",
            "--metrics-token",
            &long[1..],
        ])
        .unwrap_err()
        .to_string();
        for part in [
            "admin-token",
            "replication-token",
            "metrics-token",
            "32 characters",
        ] {
            assert!(e.contains(part), "{part}: {e}");
        }
        assert!(!e.contains(long), "a token is never echoed: {e}");
        let c = resolve(&[
            "--admin-token",
            long,
            "--replication-token",
            long,
            "--metrics-token",
            long,
        ])
        .unwrap();
        assert!(c.http.metrics_token.is_some());
    }

    #[test]
    fn edge_settings_layer_like_the_others_and_report_every_bad_value() {
        use rate_limits::RateLimitSettings;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shopd.toml");
        std::fs::write(
            &path,
            "rate_limit_api = \"off\"\nrate_limit_write = \"50/min\"\n\
             trusted_proxies = [\"10.0.0.0/8\"]\ncors_origins = [\"https://shop.example.com\"]\n\
             hsts_max_age_secs = 31536000\n",
        )
        .unwrap();
        let c = Config::resolve(flags(&["--rate-limit-write", "7/30s"]), Some(&path)).unwrap();
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
        assert!(c.http.trusted_proxies.contains("10.9.8.7".parse().unwrap()));
        assert_eq!(
            c.http.cors_origins.iter().collect::<Vec<_>>(),
            ["https://shop.example.com"]
        );
        assert_eq!(c.http.hsts_max_age_secs, Some(31_536_000));

        let defaults = resolve(&[]).unwrap();
        assert_eq!(defaults.rate_limits, RateLimitSettings::default());
        assert!(defaults.http.trusted_proxies.is_empty() && defaults.http.cors_origins.is_empty());
        assert_eq!(defaults.http.hsts_max_age_secs, None);

        let err = resolve(&[
            "--rate-limit-api",
            "lots",
            "--rate-limit-checkout",
            "0/min",
            "--trusted-proxies",
            "10.0.0.1,proxy.internal",
            "--cors-origins",
            "https://shop.example.com/",
            "--hsts-max-age",
            &u64::MAX.to_string(),
        ])
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
    fn a_file_key_no_section_reads_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shopd.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\nlsiten = \"oops\"\n").unwrap();
        let err = Config::resolve(Raw::default(), Some(&path))
            .unwrap_err()
            .to_string();
        assert!(err.contains("lsiten") && !err.contains("listen,"), "{err}");
        // File-only and renamed keys are known.
        for key in [
            "queues",
            "cache_ttl_detail_secs",
            "hsts_max_age_secs",
            "shop_name",
            "data_dir",
            "log_level",
        ] {
            assert!(file_keys().contains(&key), "{key}");
        }
    }

    #[test]
    fn file_values_of_every_shape_layer_under_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shopd.toml");
        std::fs::write(
            &path,
            "shipping = 3.5\ntax_rate = 19\ndemo = true\ncache_ttl_list_secs = 30\n\
             [queues.emails]\nconcurrency = 2\n",
        )
        .unwrap();
        let c = Config::resolve(flags(&["--tax-rate", "7.5%"]), Some(&path)).unwrap();
        assert_eq!(c.orders.charges.shipping_cents, 350);
        assert_eq!(c.orders.charges.tax_basis_points, 750);
        assert!(c.demo);
        assert_eq!(c.cache.ttls.lists, Duration::from_secs(30));
        assert_eq!(c.jobs.queues[0].concurrency, 2);
    }
}
