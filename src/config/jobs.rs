//! The jobs section: the queues (workers, attempts, backoff, timeout), how
//! often retention runs and what it keeps, and how long running jobs get at
//! shutdown.

use super::layer::{Problems, raw_section};
use crate::domain::job::{EMAILS, MAINTENANCE, MEDIA, NOTIFICATIONS, Retention};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

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

raw_section! {
    #[command(next_help_heading = "Job queues")]
    /// The job queues' settings as given.
    pub(crate) struct Raw {
        /// Per-queue settings (the file only: `[queues.emails]`).
        #[arg(skip)]
        pub queues: Option<BTreeMap<String, QueueFile>>,
        /// Seconds between runs of the job-retention task (default 3600).
        #[arg(long, env = "SHOPD_PRUNE_EVERY_SECS")]
        pub prune_every_secs: Option<u64>,
        /// Done jobs kept per queue by the retention task (default 1000).
        #[arg(long, env = "SHOPD_JOB_DONE_KEEP")]
        pub job_done_keep: Option<u64>,
    }
}

/// One queue's workers and retry policy.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSettings {
    pub name: String,
    /// Jobs run at once.
    pub concurrency: usize,
    pub max_attempts: u32,
    /// First retry delay (doubles per attempt, full jitter).
    pub backoff: Duration,
    /// Longest one attempt may run.
    pub timeout: Duration,
}

impl QueueSettings {
    pub(crate) fn new(name: &str, concurrency: usize, max_attempts: u32, backoff_ms: u64) -> Self {
        QueueSettings {
            name: name.into(),
            concurrency,
            max_attempts,
            backoff: Duration::from_millis(backoff_ms),
            timeout: Duration::from_secs(30),
        }
    }

    /// The plans' queues: emails (10 at once, 3 attempts, backoff from
    /// 2 s), notifications (5, 2, 1 s), and shopd's own maintenance.
    pub(crate) fn defaults() -> Vec<QueueSettings> {
        vec![
            QueueSettings::new(EMAILS, 10, 3, 2_000),
            QueueSettings::new(NOTIFICATIONS, 5, 2, 1_000),
            QueueSettings {
                timeout: Duration::from_secs(300),
                ..QueueSettings::new(MAINTENANCE, 1, 3, 60_000)
            },
            // One image at a time, each on one core: variants are made in
            // the background and must not starve the requests.
            QueueSettings {
                timeout: Duration::from_secs(600),
                ..QueueSettings::new(MEDIA, 1, 5, 5_000)
            },
        ]
    }
}

/// The queue service's settings.
#[derive(Debug, Clone)]
pub struct JobsSettings {
    pub queues: Vec<QueueSettings>,
    /// How often the `prune` job runs.
    pub prune_every: Duration,
    pub retention: Retention,
    /// Running jobs get this long to finish at shutdown.
    pub shutdown_timeout: Duration,
}

impl Default for JobsSettings {
    fn default() -> Self {
        JobsSettings {
            queues: QueueSettings::defaults(),
            prune_every: Duration::from_secs(3600),
            retention: Retention {
                done_age_ms: 24 * 3600 * 1000,
                done_keep: 1_000,
                dead_age_ms: 7 * 24 * 3600 * 1000,
                max_removed: 10_000,
            },
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

pub(super) fn resolve(
    raw: Raw,
    shutdown_timeout: Duration,
    problems: &mut Problems,
) -> JobsSettings {
    let mut queues = QueueSettings::defaults();
    for (name, q) in raw.queues.unwrap_or_default() {
        let Some(d) = queues.iter_mut().find(|d| d.name == name) else {
            problems.push(format!(
                "queues.{name}: unknown queue (emails, notifications, maintenance, media)"
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
    let prune_every_secs = raw.prune_every_secs.unwrap_or(3600);
    if prune_every_secs == 0 {
        problems.push("prune_every_secs: must be at least 1");
    }
    let defaults = JobsSettings::default();
    JobsSettings {
        queues,
        prune_every: Duration::from_secs(prune_every_secs),
        retention: Retention {
            done_keep: raw.job_done_keep.unwrap_or(defaults.retention.done_keep),
            ..defaults.retention
        },
        shutdown_timeout,
    }
}
