//! The backups section: scheduled backups to a directory or an
//! S3-compatible bucket ([`Target`]), how often, how many kept.

use super::layer::{Problems, raw_section};
use super::replication::duration;
use std::path::PathBuf;
use std::time::Duration;

raw_section! {
    #[command(next_help_heading = "Backups")]
    /// The backup settings as given.
    pub(crate) struct Raw {
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
}

/// Where backups go: a directory, or an S3-compatible bucket and prefix
/// (credentials, region and endpoint from the usual `AWS_*` variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Dir(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl Target {
    /// A directory path, or `s3://bucket[/prefix]`.
    pub fn parse(text: &str) -> Result<Target, String> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("'{text}' names no bucket (s3://bucket/prefix)"));
            }
            return Ok(Target::S3 {
                bucket: bucket.into(),
                prefix: prefix.trim_matches('/').into(),
            });
        }
        if text.contains("://") {
            return Err(format!(
                "'{text}' is neither a directory nor s3://bucket/prefix"
            ));
        }
        if text.is_empty() {
            return Err("an empty path".into());
        }
        Ok(Target::Dir(PathBuf::from(text)))
    }
}

/// Scheduled backups.
#[derive(Debug, Clone)]
pub struct BackupSettings {
    /// Where; `None`: no scheduled backups.
    pub to: Option<Target>,
    pub every: Duration,
    pub keep: usize,
    /// The media store whose image files each backup carries (the media
    /// section's `store`).
    pub media: Option<Target>,
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings {
            to: None,
            every: Duration::from_secs(3600),
            keep: 7,
            media: None,
        }
    }
}

pub(super) fn resolve(raw: Raw, problems: &mut Problems) -> BackupSettings {
    let d = BackupSettings::default();
    let every = duration("backup-every", raw.backup_every, d.every, problems);
    if every < Duration::from_secs(60) {
        problems.push("backup-every: must be at least 1m");
    }
    let to = raw.backup_to.and_then(|b| {
        Target::parse(&b)
            .map_err(|e| problems.push(format!("backup-to: {e}")))
            .ok()
    });
    let keep = raw.backup_keep.unwrap_or(d.keep);
    if keep == 0 {
        problems.push("backup-keep: must be at least 1");
    }
    BackupSettings {
        to,
        every,
        keep,
        media: None,
    }
}
