//! The command line: flags (each with an environment variable) parsed by
//! clap into raw values, then checked into one [`ServeConfig`].

use clap::{Parser, Subcommand, ValueEnum};
use shopd::config::Secret;
use shopd::config::log::LogFormat;
use shopd::domain::Price;
use shopd::domain::order::Charges;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "shopd-baseline",
    version,
    about = "shopd's read API served the Postgres design's way: PostgreSQL, a connection pool and a Redis cache"
)]
pub struct Cli {
    /// Log format.
    #[arg(
        long,
        global = true,
        env = "BASELINE_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: String,
    /// Log filter (RUST_LOG wins when set).
    #[arg(
        long,
        global = true,
        env = "BASELINE_LOG_LEVEL",
        default_value = "info"
    )]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API.
    Serve(ServeArgs),
    /// Load a shopd JSONL catalogue dir into PostgreSQL (replaces the schema).
    Load(LoadArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the "listening on" line says which).
    #[arg(long, env = "BASELINE_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// Accept-queue length of the listening socket, as shopd's `--backlog`
    /// (capped by net.core.somaxconn).
    #[arg(long, env = "BASELINE_BACKLOG", default_value_t = shopd::config::http::DEFAULT_BACKLOG)]
    pub backlog: u32,
    /// PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/shop.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Redis URL for the cache.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379/")]
    pub redis_url: String,
    /// Most PostgreSQL connections in the pool (the plans' pool_size).
    #[arg(long, env = "BASELINE_POOL_SIZE", default_value_t = 20)]
    pub pool_size: usize,
    /// `off`: no Redis at all, every answer from PostgreSQL.
    #[arg(long, env = "BASELINE_CACHE", value_enum, default_value = "on")]
    pub cache: Switch,
    /// Bearer token for admin writes (none: they answer 401, as in shopd).
    #[arg(long, env = "BASELINE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "BASELINE_WORKERS")]
    pub workers: Option<usize>,
    /// Largest accepted request body, in bytes (shopd's default).
    #[arg(long, env = "BASELINE_BODY_LIMIT", default_value_t = 262_144)]
    pub body_limit: usize,
    /// Flat shipping per order, a decimal amount (shopd's `--shipping`).
    #[arg(long, env = "BASELINE_SHIPPING", default_value = "4.99")]
    pub shipping: String,
    /// Tax on the discounted subtotal, in percent with at most two decimals
    /// (shopd's `--tax-rate`).
    #[arg(long, env = "BASELINE_TAX_RATE", default_value = "0")]
    pub tax_rate: String,
    /// Where uploaded images' files are kept (their rows are in PostgreSQL).
    #[arg(long, env = "BASELINE_MEDIA_DIR", default_value = "baseline-media")]
    pub media_dir: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// The catalogue dir (brands.jsonl, categories.jsonl, users.jsonl, products.jsonl, reviews.jsonl).
    #[arg(long)]
    pub dir: PathBuf,
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
}

/// Checked settings of `serve`.
#[derive(Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub backlog: u32,
    pub database_url: String,
    /// `None`: caching is off.
    pub redis_url: Option<String>,
    /// Carts live in Redis whether or not answers are cached.
    pub carts_redis_url: String,
    /// Shipping and tax of every order.
    pub charges: Charges,
    pub pool_size: usize,
    pub admin_token: Option<Secret>,
    pub workers: usize,
    pub body_limit: usize,
    pub media_dir: PathBuf,
}

impl ServeArgs {
    pub fn check(self) -> Result<ServeConfig, String> {
        let mut problems = Vec::new();
        if self.pool_size == 0 {
            problems.push("--pool-size must be at least 1".to_string());
        }
        if self.workers == Some(0) {
            problems.push("--workers must be at least 1".to_string());
        }
        if self.body_limit == 0 {
            problems.push("--body-limit must be at least 1".to_string());
        }
        if self.admin_token.as_deref().is_some_and(str::is_empty) {
            problems.push("--admin-token must not be empty".to_string());
        }
        let shipping = parse_amount(&self.shipping, "--shipping", 999_999_999, &mut problems);
        let tax = parse_amount(&self.tax_rate, "--tax-rate", 10_000, &mut problems);
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        Ok(ServeConfig {
            listen: self.listen,
            backlog: self.backlog,
            database_url: self.database_url,
            redis_url: (self.cache == Switch::On).then(|| self.redis_url.clone()),
            carts_redis_url: self.redis_url,
            charges: Charges {
                shipping_cents: shipping,
                tax_basis_points: tax as u32,
            },
            pool_size: self.pool_size,
            admin_token: self.admin_token.map(Secret::new),
            workers: self
                .workers
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            body_limit: self.body_limit,
            media_dir: self.media_dir,
        })
    }
}

/// A decimal with at most two fraction digits, in hundredths (cents, or
/// basis points of a percent), at most `max`.
fn parse_amount(s: &str, flag: &str, max: u64, problems: &mut Vec<String>) -> u64 {
    match s.trim().parse::<f64>().map(Price::from_decimal) {
        Ok(Ok(p)) if p.cents() <= max => p.cents(),
        _ => {
            problems.push(format!(
                "{flag} must be a number from 0 to {} with at most 2 decimals, not '{s}'",
                max as f64 / 100.0
            ));
            0
        }
    }
}

impl Cli {
    pub fn log_format(&self) -> Result<LogFormat, String> {
        self.log_format.parse()
    }
}
