//! The storage section: how often the write-ahead log is checkpointed, and
//! what a start does with a log damaged in the middle.

use super::layer::{Problems, raw_section};
use super::replication::duration;
use std::time::Duration;

raw_section! {
    #[command(next_help_heading = "Storage")]
    /// The storage settings as given.
    pub(crate) struct Raw {
        /// How often the write-ahead log is folded into the database while
        /// writes come (default 10s; 10ms to 1h).
        #[arg(long, env = "SHOPD_CHECKPOINT_EVERY")]
        pub checkpoint_every: Option<String>,
        /// Start even when the write-ahead log is damaged in the middle:
        /// replay the batches before the damage and lose the acknowledged
        /// ones after it (the log is kept as shopd.redb.wal.damaged). A
        /// flag only, for one start: no variable or file key sets it.
        #[arg(long)]
        #[serde(skip)]
        pub accept_log_loss: bool,
    }
}

/// How storage runs.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub checkpoint_every: Duration,
    /// Start from a log damaged in the middle, losing what follows the
    /// damage.
    pub accept_log_loss: bool,
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            checkpoint_every: Duration::from_secs(10),
            accept_log_loss: false,
        }
    }
}

pub(super) fn resolve(raw: Raw, problems: &mut Problems) -> StorageSettings {
    let d = StorageSettings::default();
    let checkpoint_every = duration(
        "checkpoint-every",
        raw.checkpoint_every,
        d.checkpoint_every,
        problems,
    );
    if !(Duration::from_millis(10)..=Duration::from_secs(3600)).contains(&checkpoint_every) {
        problems.push("checkpoint-every: must be from 10ms to 1h");
    }
    StorageSettings {
        checkpoint_every,
        accept_log_loss: raw.accept_log_loss,
    }
}
