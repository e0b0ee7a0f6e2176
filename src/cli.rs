//! Command-line interface (clap). Flags also read `SHOPD_*` environment
//! variables; see `configuration` for how they layer over the config file.

use crate::configuration::Overrides;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "shopd",
    version,
    about = "One binary that runs a whole online shop's backend"
)]
pub struct Cli {
    /// Optional TOML configuration file.
    #[arg(long, global = true, env = "SHOPD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where shopd keeps its data.
    #[arg(long, global = true, env = "SHOPD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long, global = true, env = "SHOPD_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or shopd=debug (RUST_LOG wins when set).
    #[arg(long, global = true, env = "SHOPD_LOG_LEVEL")]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve(Box<ServeArgs>),
    /// Import JSONL files (brands, categories, users, products, reviews).
    Import(ImportArgs),
    /// Export the catalogue as JSONL files.
    Export(ExportArgs),
    /// Generate a deterministic synthetic catalogue as JSONL files.
    Gen(GenArgs),
    /// Rebuild the search index from the catalogue (offline).
    Reindex,
    /// Administer accounts on a stopped server's data dir.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Back up and restore the whole shop (a directory or S3).
    #[command(subcommand)]
    Backup(BackupCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account with a role (bootstraps the first admin). The
    /// password is asked for on the terminal, or read from standard input
    /// with --password-stdin.
    Create(AdminCreateArgs),
}

#[derive(Debug, Args)]
pub struct AdminCreateArgs {
    #[arg(long)]
    pub email: String,
    /// customer, staff or admin.
    #[arg(long, default_value = "admin")]
    pub role: String,
    /// Display name (default: the part of the email before '@').
    #[arg(long)]
    pub name: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SHOPD_LISTEN")]
    pub listen: Option<String>,
    /// Accept-queue length of the listening socket (default 4096; the
    /// kernel caps it at net.core.somaxconn).
    #[arg(long, env = "SHOPD_BACKLOG")]
    pub backlog: Option<u32>,
    /// On an empty data dir, import the embedded demo catalogue first.
    #[arg(long, env = "SHOPD_DEMO")]
    pub demo: bool,
    /// Bearer token that admin writes must present.
    #[arg(long, env = "SHOPD_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
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
    /// Bytes of rendered responses to keep in memory (default 64 MiB; 0 = off).
    #[arg(long, env = "SHOPD_CACHE_BYTES")]
    pub cache_bytes: Option<u64>,
    /// Seconds a cached product detail or reviews page is served (default 1800).
    #[arg(long, env = "SHOPD_CACHE_TTL_DETAIL")]
    pub cache_ttl_detail: Option<u64>,
    /// Seconds a cached product list or search is served (default 600).
    #[arg(long, env = "SHOPD_CACHE_TTL_LIST")]
    pub cache_ttl_list: Option<u64>,
    /// Seconds cached brands and categories are served (default 3600).
    #[arg(long, env = "SHOPD_CACHE_TTL_TAXONOMY")]
    pub cache_ttl_taxonomy: Option<u64>,
    /// Serve GET /bench/ceiling, a fixed body for load-test ceilings.
    #[arg(long, env = "SHOPD_BENCH_CEILING")]
    pub bench_ceiling: bool,
    /// Where mail goes: smtp://user:pass@host:587 (STARTTLS), smtps://…:465,
    /// smtp://127.0.0.1:2525?tls=none. Default: .eml files in DATA_DIR/outbox.
    #[arg(long, env = "SHOPD_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From: of every message, e.g. "Shop <shop@example.com>".
    #[arg(long, env = "SHOPD_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// The shop's public address, for links in mail (verify, reset);
    /// default http://LISTEN.
    #[arg(long, env = "SHOPD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// JWT signing keys, one `kid base64url-secret` per line, the first
    /// signs (default: DATA_DIR/jwt.keys, generated on first start).
    #[arg(long, env = "SHOPD_JWT_KEY_FILE")]
    pub jwt_key_file: Option<PathBuf>,
    /// Catalogue reads and search per client IP: N/PERIOD (100/min,
    /// 5/5min, 10/30s) or off. Default 100/min.
    #[arg(long, env = "SHOPD_RATE_LIMIT_API")]
    pub rate_limit_api: Option<String>,
    /// Sign-in, registration, password reset per client IP and per email:
    /// N/PERIOD or off. Default 5/5min.
    #[arg(long, env = "SHOPD_RATE_LIMIT_AUTH")]
    pub rate_limit_auth: Option<String>,
    /// Writes per account, API key or admin token: N/PERIOD or off.
    /// Default 20/min.
    #[arg(long, env = "SHOPD_RATE_LIMIT_WRITE")]
    pub rate_limit_write: Option<String>,
    /// Checkouts per account: N/PERIOD or off. Default 10/10min.
    #[arg(long, env = "SHOPD_RATE_LIMIT_CHECKOUT")]
    pub rate_limit_checkout: Option<String>,
    /// Reverse proxies whose X-Forwarded-For names the client:
    /// comma-separated addresses or CIDR blocks (10.0.0.0/8,::1).
    #[arg(long, env = "SHOPD_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// Browser origins allowed to call the API (CORS, with credentials):
    /// comma-separated, e.g. https://shop.example.com. Default: none.
    #[arg(long, env = "SHOPD_CORS_ORIGINS")]
    pub cors_origins: Option<String>,
    /// Send Strict-Transport-Security with this max-age in seconds (only
    /// behind TLS). Default: not sent.
    #[arg(long, env = "SHOPD_HSTS_MAX_AGE")]
    pub hsts_max_age: Option<u64>,
    /// Flat shipping charged per order (default 4.99).
    #[arg(long, env = "SHOPD_SHIPPING")]
    pub shipping: Option<String>,
    /// Tax rate in percent on the discounted subtotal, e.g. 19 or 7.5
    /// (default 0).
    #[arg(long, env = "SHOPD_TAX_RATE")]
    pub tax_rate: Option<String>,
    /// The payment provider's webhook secret (HMAC-SHA256 signatures of
    /// POST /api/v1/payments/webhook). Without it card payments cannot be
    /// confirmed.
    #[arg(long, env = "SHOPD_PAYMENT_WEBHOOK_SECRET", hide_env_values = true)]
    pub payment_webhook_secret: Option<String>,
    /// Turns on the leader side of replication: followers (and `backup
    /// create --from`) must present this token. Without it replication is
    /// off.
    #[arg(long, env = "SHOPD_REPLICATION_TOKEN", hide_env_values = true)]
    pub replication_token: Option<String>,
    /// Run as a read-only follower of the leader at this URL
    /// (http://leader:8080); needs --replication-token.
    #[arg(long, env = "SHOPD_FOLLOW")]
    pub follow: Option<String>,
    /// How often a follower asks its leader for new commits (default 1s).
    #[arg(long, env = "SHOPD_FOLLOW_INTERVAL")]
    pub follow_interval: Option<String>,
    /// A follower further behind than this answers 503 on /ready
    /// (default 10s).
    #[arg(long, env = "SHOPD_FOLLOW_MAX_LAG")]
    pub follow_max_lag: Option<String>,
    /// What a follower answers to a write: redirect (307 to the leader,
    /// default) or reject (503 read_only).
    #[arg(long, env = "SHOPD_FOLLOWER_WRITES")]
    pub follower_writes: Option<String>,
    /// Bytes of recent commits a leader keeps for its followers (default
    /// 64 MiB); a follower further behind bootstraps again.
    #[arg(long, env = "SHOPD_REPLICATION_LOG_BYTES")]
    pub replication_log_bytes: Option<u64>,
    /// Age of the oldest commit a leader keeps for its followers (default
    /// 10m).
    #[arg(long, env = "SHOPD_REPLICATION_LOG_AGE")]
    pub replication_log_age: Option<String>,
    /// Take scheduled backups to this directory or s3://bucket/prefix.
    #[arg(long, env = "SHOPD_BACKUP_TO")]
    pub backup_to: Option<String>,
    /// How often scheduled backups run (default 1h).
    #[arg(long, env = "SHOPD_BACKUP_EVERY")]
    pub backup_every: Option<String>,
    /// Scheduled backups kept; older ones are deleted (default 7).
    #[arg(long, env = "SHOPD_BACKUP_KEEP")]
    pub backup_keep: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Write a backup of a stopped server's data dir (--data-dir), or of a
    /// running leader (--from URL with --replication-token), to DEST: a
    /// directory or s3://bucket/prefix (AWS_* variables give credentials,
    /// region and endpoint).
    Create(BackupCreateArgs),
    /// List the backups in DEST, newest last.
    List(BackupListArgs),
    /// Restore a backup (the newest, or --id) from SRC into an empty
    /// --data-dir, search index included.
    Restore(BackupRestoreArgs),
}

#[derive(Debug, Args)]
pub struct BackupCreateArgs {
    pub dest: String,
    /// Take the backup from a running leader instead of a data dir.
    #[arg(long)]
    pub from: Option<String>,
    /// The leader's replication token (with --from).
    #[arg(long, env = "SHOPD_REPLICATION_TOKEN", hide_env_values = true)]
    pub replication_token: Option<String>,
}

#[derive(Debug, Args)]
pub struct BackupListArgs {
    pub dest: String,
}

#[derive(Debug, Args)]
pub struct BackupRestoreArgs {
    pub src: String,
    /// Which backup (as `backup list` names it); default the newest.
    #[arg(long)]
    pub id: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Directory holding the .jsonl files.
    pub dir: PathBuf,
    /// Abort with nothing written if any line is bad.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Directory to write the .jsonl files into.
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Number of products.
    #[arg(long, default_value_t = 100_000)]
    pub products: u32,
    /// Random seed; the same seed gives byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of brands.
    #[arg(long, default_value_t = 1_000)]
    pub brands: u32,
    /// Approximate number of categories (two levels).
    #[arg(long, default_value_t = 200)]
    pub categories: u32,
    /// Number of users.
    #[arg(long, default_value_t = 20_000)]
    pub users: u32,
    /// Output directory.
    pub dir: PathBuf,
}

impl Cli {
    /// The configuration inputs this invocation gave.
    pub fn overrides(&self) -> Overrides {
        let mut o = Overrides {
            config_file: self.config.clone(),
            data_dir: self.data_dir.clone(),
            log_format: self.log_format.clone(),
            log_level: self.log_level.clone(),
            ..Overrides::default()
        };
        if let Command::Serve(s) = &self.command {
            o.listen = s.listen.clone();
            o.backlog = s.backlog;
            o.demo = s.demo;
            o.admin_token = s.admin_token.clone();
            o.workers = s.workers;
            o.body_limit = s.body_limit;
            o.max_uri_bytes = s.max_uri_bytes;
            o.max_header_bytes = s.max_header_bytes;
            o.max_connections = s.max_connections;
            o.keep_alive_secs = s.keep_alive_secs;
            o.head_timeout_secs = s.head_timeout_secs;
            o.body_timeout_secs = s.body_timeout_secs;
            o.cache_bytes = s.cache_bytes;
            o.cache_ttl_detail_secs = s.cache_ttl_detail;
            o.cache_ttl_list_secs = s.cache_ttl_list;
            o.cache_ttl_taxonomy_secs = s.cache_ttl_taxonomy;
            o.bench_ceiling = s.bench_ceiling;
            o.smtp_url = s.smtp_url.clone();
            o.mail_from = s.mail_from.clone();
            o.public_url = s.public_url.clone();
            o.jwt_key_file = s.jwt_key_file.clone();
            o.rate_limit_api = s.rate_limit_api.clone();
            o.rate_limit_auth = s.rate_limit_auth.clone();
            o.rate_limit_write = s.rate_limit_write.clone();
            o.rate_limit_checkout = s.rate_limit_checkout.clone();
            o.trusted_proxies = s.trusted_proxies.clone();
            o.cors_origins = s.cors_origins.clone();
            o.hsts_max_age_secs = s.hsts_max_age;
            o.shipping = s.shipping.clone();
            o.tax_rate = s.tax_rate.clone();
            o.payment_webhook_secret = s.payment_webhook_secret.clone();
            o.replication_token = s.replication_token.clone();
            o.follow = s.follow.clone();
            o.follow_interval = s.follow_interval.clone();
            o.follow_max_lag = s.follow_max_lag.clone();
            o.follower_writes = s.follower_writes.clone();
            o.replication_log_bytes = s.replication_log_bytes;
            o.replication_log_age = s.replication_log_age.clone();
            o.backup_to = s.backup_to.clone();
            o.backup_every = s.backup_every.clone();
            o.backup_keep = s.backup_keep;
        }
        o
    }
}
