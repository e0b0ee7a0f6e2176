//! The mail section: where mail goes (SMTP or `.eml` files), its sender, the
//! shop's name in messages, and the circuit breaker in front of the SMTP
//! server.

use super::data_dir::DataDir;
use super::layer::{Problems, raw_section};
use super::secret::Secret;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) const DEFAULT_MAIL_FROM: &str = "shopd <shop@localhost>";

raw_section! {
    #[command(next_help_heading = "Mail")]
    /// The mail settings as given.
    pub(crate) struct Raw {
        /// Where mail goes: smtp://user:pass@host:587 (STARTTLS), smtps://…:465,
        /// smtp://127.0.0.1:2525?tls=none. Default: .eml files in DATA_DIR/outbox.
        #[arg(long, env = "SHOPD_SMTP_URL", hide_env_values = true)]
        pub smtp_url: Option<Secret>,
        /// The From: of every message, e.g. "Shop <shop@example.com>".
        #[arg(long, env = "SHOPD_MAIL_FROM")]
        pub mail_from: Option<String>,
        /// The shop's name in messages (default shopd).
        #[arg(long, env = "SHOPD_SHOP_NAME")]
        pub shop_name: Option<String>,
        /// Consecutive mail failures that open the circuit breaker (default 5).
        #[arg(long, env = "SHOPD_BREAKER_FAILURES")]
        pub breaker_failures: Option<u32>,
        /// Seconds the mail breaker stays open before one probe (default 30).
        #[arg(long, env = "SHOPD_BREAKER_OPEN_SECS")]
        pub breaker_open_secs: Option<u64>,
    }
}

/// How mail leaves shopd.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub smtp_url: Option<Secret>,
    pub from: String,
    /// Where the file transport writes (`DATA_DIR/outbox`).
    pub outbox_dir: PathBuf,
    /// Template overrides (`DATA_DIR/templates`).
    pub templates_dir: PathBuf,
    /// The key that seals mails' secret values at rest (`DATA_DIR/mail.key`).
    pub key_file: PathBuf,
    /// The shop's name in every message.
    pub shop_name: String,
    /// Consecutive failures that open the breaker.
    pub breaker_failures: u32,
    /// How long it stays open.
    pub breaker_open: Duration,
    /// Longest an SMTP conversation may take.
    pub timeout: Duration,
}

impl MailSettings {
    /// Mail written to `dir/outbox`, templates from `dir/templates`, the
    /// default sender and breaker (tools, benchmarks, tests).
    pub(crate) fn local(dir: &Path) -> MailSettings {
        let data = DataDir::new(dir);
        MailSettings {
            smtp_url: None,
            from: DEFAULT_MAIL_FROM.into(),
            outbox_dir: data.outbox(),
            templates_dir: data.templates(),
            key_file: data.mail_key(),
            shop_name: "shopd".into(),
            breaker_failures: 5,
            breaker_open: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

pub(super) fn resolve(raw: Raw, data: &DataDir, problems: &mut Problems) -> MailSettings {
    let from = raw
        .mail_from
        .unwrap_or_else(|| DEFAULT_MAIL_FROM.to_string());
    if from.parse::<lettre::message::Mailbox>().is_err() {
        problems.push(format!(
            "mail-from: '{from}' is not a mailbox such as 'Shop <shop@example.com>'"
        ));
    }
    let breaker_failures = raw.breaker_failures.unwrap_or(5);
    if breaker_failures == 0 {
        problems.push("breaker_failures: must be at least 1");
    }
    MailSettings {
        smtp_url: raw.smtp_url,
        from,
        outbox_dir: data.outbox(),
        templates_dir: data.templates(),
        key_file: data.mail_key(),
        shop_name: raw.shop_name.unwrap_or_else(|| "shopd".into()),
        breaker_failures,
        breaker_open: Duration::from_secs(raw.breaker_open_secs.unwrap_or(30)),
        timeout: Duration::from_secs(10),
    }
}
