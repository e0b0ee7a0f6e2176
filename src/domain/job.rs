//! Background jobs as values: what a job is, its states, and what it takes
//! to enqueue one. No I/O: the store keeps jobs (`store::jobs`), the `jobs`
//! service runs them.
//!
//! # Lifecycle
//! `queued` → (leased by a worker) `running` → `done`; or, when the handler
//! fails, `failed` (waiting for its retry at `run_at`) → `running` again, and
//! after `max_attempts` attempts `dead`. A `running` job whose lease expired
//! (its process died) is leased again: delivery is at least once.

use super::Timestamp;
use serde::Serialize;

/// The queues shopd runs: mail, in-app notifications, its own upkeep,
/// product images' variants.
pub(crate) const EMAILS: &str = "emails";
pub const NOTIFICATIONS: &str = "notifications";
pub const MEDIA: &str = "media";
pub(crate) const MAINTENANCE: &str = "maintenance";

/// How much pruning of finished jobs keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Done jobs older than this go.
    pub done_age_ms: u64,
    /// At most this many done jobs per queue stay.
    pub done_keep: u64,
    /// Dead jobs older than this go.
    pub dead_age_ms: u64,
    /// Most jobs removed by one call (keeps the writer's transaction short).
    pub max_removed: usize,
}

/// Where a job is in its lifecycle (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum JobState {
    Queued,
    Running,
    Done,
    Failed,
    Dead,
}

impl JobState {
    pub(crate) const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Failed,
        JobState::Dead,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
        }
    }

    /// The byte stored in index keys.
    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_code(code: u8) -> Option<JobState> {
        JobState::ALL.get(code as usize).copied()
    }

    /// Still to run (or running): holds its unique key.
    pub(crate) fn is_pending(self) -> bool {
        matches!(
            self,
            JobState::Queued | JobState::Running | JobState::Failed
        )
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Job {
    pub id: u64,
    pub queue: String,
    pub kind: String,
    /// JSON text, read by the kind's handler.
    pub payload: String,
    pub state: JobState,
    /// Attempts started so far (a lease starts one).
    pub attempts: u32,
    pub max_attempts: u32,
    /// First retry delay; doubles with every attempt (full jitter).
    pub backoff_ms: u64,
    /// Not run before this time.
    pub run_at: Timestamp,
    /// While `running`: taken again by any worker after this time.
    pub lease_until: Option<Timestamp>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// At most one pending job per key.
    pub unique_key: Option<String>,
}

impl Job {
    /// The key a handler uses to make its side effect recognisable when it
    /// runs twice (at-least-once delivery): stable across attempts.
    pub(crate) fn idempotency_key(&self) -> String {
        format!("job-{}", self.id)
    }
}

/// What `enqueue` needs.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub queue: String,
    pub kind: String,
    pub payload: String,
    pub max_attempts: u32,
    pub backoff_ms: u64,
    pub run_at: Timestamp,
    pub unique_key: Option<String>,
}

/// How a finished attempt ends.
#[derive(Debug, Clone)]
pub(crate) enum AttemptEnd {
    Done,
    /// Run again at the given time (an attempt was spent).
    Retry {
        error: String,
        at: Timestamp,
    },
    /// No attempts left.
    Dead {
        error: String,
    },
    /// Not run (an outside service is known to be down): run at the given
    /// time without spending an attempt.
    Postpone {
        at: Timestamp,
    },
    /// Given back unfinished (shutdown): queued again now, attempt not spent.
    Release,
}

/// Counts of one queue by state, and its all-time totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueCounts {
    pub queued: u64,
    pub running: u64,
    pub done: u64,
    pub failed: u64,
    pub dead: u64,
    /// Attempts that ended well, ever.
    pub processed_total: u64,
    /// Attempts that failed (retried or dead), ever.
    pub failed_total: u64,
}

impl QueueCounts {
    pub(crate) fn get(&self, s: JobState) -> u64 {
        match s {
            JobState::Queued => self.queued,
            JobState::Running => self.running,
            JobState::Done => self.done,
            JobState::Failed => self.failed,
            JobState::Dead => self.dead,
        }
    }

    pub(crate) fn get_mut(&mut self, s: JobState) -> &mut u64 {
        match s {
            JobState::Queued => &mut self.queued,
            JobState::Running => &mut self.running,
            JobState::Done => &mut self.done,
            JobState::Failed => &mut self.failed,
            JobState::Dead => &mut self.dead,
        }
    }
}

/// Which jobs an admin list shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobFilter {
    pub queue: Option<String>,
    pub state: Option<JobState>,
    pub kind: Option<String>,
}
