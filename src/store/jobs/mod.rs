//! The job queue's tables: job records and the indexes that make taking the
//! next due job, every admin list and the queue counts O(page).
//!
//! # Tables
//! - `jobs`: id → versioned rkyv `JobV1`. Ids come from the `job_seq`
//!   counter in `meta`, so they grow with time: newest first is id order.
//! - `jobs_sched`: (queue, state, at, id) → (). `at` is `run_at` for
//!   `queued`/`failed` (when it is due), `lease_until` for `running` (when it
//!   may be taken again), `finished_at` for `done`/`dead` (when it may be
//!   pruned). Taking due work, recovering expired leases and pruning are
//!   range scans of one prefix each.
//! - `jobs_list`: (queue, state, id) → (): admin lists, newest first.
//! - `jobs_unique`: unique key → id of the pending job holding it.
//! - `job_counts`: (queue, state) → jobs in that state; (queue, 100 + t) →
//!   all-time totals ([`TOTAL_PROCESSED`], [`TOTAL_FAILED`]).
//!
//! # Invariants
//! - Every job has exactly one `jobs_sched` and one `jobs_list` entry, for
//!   its current state, and is counted once in `job_counts`; every state
//!   change goes through [`JobsWriter::set`], which moves all three.
//! - A unique key maps to a job only while that job is pending
//!   (queued, running, failed).
//! - Enqueueing happens inside the caller's write (the outbox): the job
//!   exists exactly when the rest of that write committed.

mod read;
mod write;

pub(crate) use write::JobsWriter;

use crate::domain::Timestamp;
use crate::domain::job::{Job, JobState};
use crate::store::codec::record;
use redb::TableDefinition;
use rkyv::{Archive, Deserialize, Serialize};
use std::collections::BTreeSet;

pub(crate) const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
pub(crate) const JOBS_SCHED: TableDefinition<(&str, u8, u64, u64), ()> =
    TableDefinition::new("jobs_sched");
pub(crate) const JOBS_LIST: TableDefinition<(&str, u8, u64), ()> =
    TableDefinition::new("jobs_list");
pub(crate) const JOBS_UNIQUE: TableDefinition<&str, u64> = TableDefinition::new("jobs_unique");
pub(crate) const JOB_COUNTS: TableDefinition<(&str, u8), u64> = TableDefinition::new("job_counts");

/// `job_counts` slot of the attempts that ended well, ever.
pub(crate) const TOTAL_PROCESSED: u8 = 100;
/// `job_counts` slot of the attempts that failed, ever.
pub(crate) const TOTAL_FAILED: u8 = 101;
const SEQ_KEY: &str = "job_seq";

pub(crate) const JOB_V1: u8 = 1;

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct JobV1 {
    pub id: u64,
    pub queue: String,
    pub kind: String,
    pub payload: String,
    pub state: u8,
    pub attempts: u32,
    pub max_attempts: u32,
    pub backoff_ms: u64,
    pub run_at: i64,
    pub lease_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub unique_key: Option<String>,
}

record! {
    pub(crate) JobRec in "jobs", version JOB_V1;
    JobV1 as ArchivedJobV1 <=> Job;
    encode(j) {
        JobV1 {
            id: j.id,
            queue: j.queue.clone(),
            kind: j.kind.clone(),
            payload: j.payload.clone(),
            state: j.state.code(),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            backoff_ms: j.backoff_ms,
            run_at: j.run_at.millis(),
            lease_until: j.lease_until.map(Timestamp::millis),
            last_error: j.last_error.clone(),
            created_at: j.created_at.millis(),
            finished_at: j.finished_at.map(Timestamp::millis),
            unique_key: j.unique_key.clone(),
        }
    }
    decode(a) {
        let ts = |ms: i64| Timestamp::from_millis(ms);
        Ok(Job {
            id: a.id.to_native(),
            queue: a.queue.to_string(),
            kind: a.kind.to_string(),
            payload: a.payload.to_string(),
            state: JobState::from_code(a.state).ok_or("unknown job state")?,
            attempts: a.attempts.to_native(),
            max_attempts: a.max_attempts.to_native(),
            backoff_ms: a.backoff_ms.to_native(),
            run_at: ts(a.run_at.to_native())?,
            lease_until: a
                .lease_until
                .as_ref()
                .map(|v| ts(v.to_native()))
                .transpose()?,
            last_error: a.last_error.as_ref().map(|s| s.to_string()),
            created_at: ts(a.created_at.to_native())?,
            finished_at: a
                .finished_at
                .as_ref()
                .map(|v| ts(v.to_native()))
                .transpose()?,
            unique_key: a.unique_key.as_ref().map(|s| s.to_string()),
        })
    }
}

/// The time a job is filed under in `jobs_sched` for its state.
fn sched_at(j: &Job) -> u64 {
    let t = match j.state {
        JobState::Queued | JobState::Failed => j.run_at,
        JobState::Running => j.lease_until.unwrap_or(j.run_at),
        JobState::Done | JobState::Dead => j.finished_at.unwrap_or(j.run_at),
    };
    t.millis().max(0) as u64
}

/// What a write changed in the job queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JobsChanges {
    /// Queues that got new work to run (now or later): their workers look
    /// again after the commit.
    pub woken: BTreeSet<String>,
}

impl JobsChanges {
    pub(crate) fn merge(&mut self, other: JobsChanges) {
        self.woken.extend(other.woken);
    }
}

/// The result of an enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    pub id: u64,
    /// `false` when a pending job already held the unique key (nothing was
    /// added; `id` is that job's).
    pub created: bool,
}

/// The result of an admin discard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Discard {
    Removed,
    NotFound,
    /// A worker holds it: it cannot be discarded now.
    Running,
}

/// The result of an admin retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Retry {
    Queued(Job),
    NotFound,
    /// Only failed and dead jobs can be retried.
    NotRetryable(JobState),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::job::{AttemptEnd, NewJob, QueueCounts, Retention};
    use crate::store::{Store, StoreError};

    fn new_job(queue: &str, unique: Option<&str>) -> NewJob {
        NewJob {
            queue: queue.into(),
            kind: "noop".into(),
            payload: "{}".into(),
            max_attempts: 2,
            backoff_ms: 10,
            run_at: Timestamp::from_millis(1_000).unwrap(),
            unique_key: unique.map(str::to_string),
        }
    }

    fn ts(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms).unwrap()
    }

    fn counts(store: &Store) -> QueueCounts {
        store
            .read()
            .unwrap()
            .jobs()
            .job_counts()
            .unwrap()
            .remove("q")
            .unwrap_or_default()
    }

    #[test]
    fn an_enqueue_lives_and_dies_with_its_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("j.redb")).unwrap();
        // The business write fails after enqueueing: no job.
        let failed: Result<(), StoreError> = store.write_blocking(|tx| {
            tx.jobs().enqueue(new_job("q", None), ts(1))?;
            Err(StoreError::Unavailable("the order was refused".into()))
        });
        assert!(failed.is_err());
        assert_eq!(counts(&store), QueueCounts::default());
        assert!(store.read().unwrap().jobs().job(1).unwrap().is_none());
        // It succeeds: the job is there, queued, and counted once.
        let e = store
            .write_blocking(|tx| tx.jobs().enqueue(new_job("q", None), ts(1)))
            .unwrap();
        let job = store.read().unwrap().jobs().job(e.id).unwrap().unwrap();
        assert_eq!(job.state, JobState::Queued);
        assert_eq!(counts(&store).queued, 1);
    }

    #[test]
    fn unique_keys_leases_fences_retries_and_pruning() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("j.redb")).unwrap();
        let a = store
            .write_blocking(|tx| tx.jobs().enqueue(new_job("q", Some("k")), ts(1)))
            .unwrap();
        let again = store
            .write_blocking(|tx| tx.jobs().enqueue(new_job("q", Some("k")), ts(2)))
            .unwrap();
        assert_eq!(
            again,
            Enqueued {
                id: a.id,
                created: false
            }
        );
        // Not due before run_at.
        let none = store
            .write_blocking(|tx| tx.jobs().lease("q", ts(999), 10, 100))
            .unwrap();
        assert!(none.is_empty());
        let leased = store
            .write_blocking(|tx| tx.jobs().lease("q", ts(1_000), 10, 100))
            .unwrap();
        assert_eq!(leased.len(), 1);
        assert_eq!(
            (leased[0].attempts, leased[0].state),
            (1, JobState::Running)
        );
        assert_eq!(counts(&store).running, 1);
        // The lease expires (its worker died): another worker takes it.
        let retaken = store
            .write_blocking(|tx| tx.jobs().lease("q", ts(1_101), 10, 100))
            .unwrap();
        assert_eq!(retaken[0].attempts, 2);
        // The first worker's late verdict changes nothing (fenced).
        let late = store
            .write_blocking(move |tx| tx.jobs().finish(a.id, 1, AttemptEnd::Done, ts(1_102)))
            .unwrap();
        assert!(late.is_none());
        // The second fails: retried later, then dead; unique key released.
        let failed = store
            .write_blocking(move |tx| {
                let end = AttemptEnd::Retry {
                    error: "boom".into(),
                    at: ts(5_000),
                };
                tx.jobs().finish(a.id, 2, end, ts(1_103))
            })
            .unwrap()
            .unwrap();
        assert_eq!(failed.state, JobState::Failed);
        assert_eq!(
            store.read().unwrap().jobs().next_job_time("q").unwrap(),
            Some(ts(5_000))
        );
        let leased = store
            .write_blocking(|tx| tx.jobs().lease("q", ts(5_000), 10, 100))
            .unwrap();
        assert_eq!(leased[0].attempts, 3);
        store
            .write_blocking(move |tx| {
                let end = AttemptEnd::Dead {
                    error: "boom".into(),
                };
                tx.jobs().finish(a.id, 3, end, ts(5_001))
            })
            .unwrap();
        let c = counts(&store);
        assert_eq!((c.dead, c.running, c.queued, c.failed), (1, 0, 0, 0));
        assert_eq!(c.failed_total, 2);
        let fresh = store
            .write_blocking(|tx| tx.jobs().enqueue(new_job("q", Some("k")), ts(6)))
            .unwrap();
        assert!(fresh.created, "the dead job no longer holds the key");

        // Postponing does not spend an attempt.
        let leased = store
            .write_blocking(|tx| tx.jobs().lease("q", ts(6_000), 10, 100))
            .unwrap();
        assert_eq!(leased.len(), 1);
        let postponed = store
            .write_blocking(move |tx| {
                tx.jobs().finish(
                    fresh.id,
                    1,
                    AttemptEnd::Postpone { at: ts(7_000) },
                    ts(6_001),
                )
            })
            .unwrap()
            .unwrap();
        assert_eq!((postponed.attempts, postponed.state), (0, JobState::Queued));

        // Pruning: dead jobs older than their retention go, others stay.
        let removed = store
            .write_blocking(|tx| {
                tx.jobs().prune(
                    ts(5_001 + 10_000),
                    Retention {
                        done_age_ms: 1_000,
                        done_keep: 10,
                        dead_age_ms: 5_000,
                        max_removed: 100,
                    },
                )
            })
            .unwrap();
        assert_eq!(removed, 1);
        assert!(store.read().unwrap().jobs().job(a.id).unwrap().is_none());
        let (page, total) = store
            .read()
            .unwrap()
            .jobs()
            .jobs_page(&crate::domain::job::JobFilter::default(), 0, 10)
            .unwrap();
        assert_eq!((page.len(), total), (1, 1));
        assert_eq!(page[0].id, fresh.id);
    }
}
