//! The accounts section: the JWT signing keys, the password hashing pool,
//! and the shop's public address that mailed links point to.

use super::data_dir::DataDir;
use super::layer::{Problems, raw_section};
use std::path::PathBuf;

raw_section! {
    #[command(next_help_heading = "Accounts")]
    /// The accounts' settings as given.
    pub(crate) struct Raw {
        /// The shop's public address, for links in mail (verify, reset);
        /// default http://LISTEN.
        #[arg(long, env = "SHOPD_PUBLIC_URL")]
        pub public_url: Option<String>,
        /// JWT signing keys, one `kid base64url-secret` per line, the first
        /// signs (default: DATA_DIR/jwt.keys, generated on first start).
        #[arg(long, env = "SHOPD_JWT_KEY_FILE")]
        pub jwt_key_file: Option<PathBuf>,
        /// Password hashes computed at once, at most (default: half the cores).
        #[arg(long, env = "SHOPD_PASSWORD_HASH_THREADS")]
        pub password_hash_threads: Option<usize>,
    }
}

/// The accounts service's settings.
#[derive(Debug, Clone)]
pub struct AccountsSettings {
    /// The JWT key file (created when missing).
    pub key_file: PathBuf,
    /// Where mailed links point: `{public_url}/verify-email?token=…`.
    pub public_url: String,
    /// Password hashes computed at once, at most.
    pub hash_threads: usize,
    /// Whether verified access tokens are cached (off only to measure).
    pub verification_cache: bool,
}

impl AccountsSettings {
    pub fn local(dir: &std::path::Path) -> AccountsSettings {
        AccountsSettings {
            key_file: DataDir::new(dir).jwt_keys(),
            public_url: "http://localhost:8080".into(),
            hash_threads: default_hash_threads(),
            verification_cache: true,
        }
    }
}

/// Half the cores (at least one): hashing must leave room for serving.
pub fn default_hash_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| (n.get() / 2).max(1))
        .unwrap_or(1)
}

pub(super) fn resolve(
    raw: Raw,
    data: &DataDir,
    listen: std::net::SocketAddr,
    problems: &mut Problems,
) -> AccountsSettings {
    if let Some(u) = &raw.public_url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        problems.push(format!(
            "public-url: '{u}' must start with http:// or https://"
        ));
    }
    let hash_threads = raw
        .password_hash_threads
        .unwrap_or_else(default_hash_threads);
    if !(1..=256).contains(&hash_threads) {
        problems.push(format!(
            "password_hash_threads: {hash_threads} is not within 1..=256"
        ));
    }
    AccountsSettings {
        key_file: raw.jwt_key_file.unwrap_or_else(|| data.jwt_keys()),
        public_url: raw.public_url.unwrap_or_else(|| format!("http://{listen}")),
        hash_threads,
        verification_cache: true,
    }
}
