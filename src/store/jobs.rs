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

use super::codec::{Record, decode, encode_with};
use super::db::meta::META;
use super::db::read::ReadTxn;
use super::db::undo::Tables;
use super::error::StoreResult;
use crate::domain::Timestamp;
use crate::domain::job::Retention;
use crate::domain::job::{AttemptEnd, Job, JobState, NewJob, QueueCounts};
use redb::{ReadableTable, TableDefinition};
use rkyv::{Archive, Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
pub(crate) const JOBS_SCHED: TableDefinition<(&str, u8, u64, u64), ()> =
    TableDefinition::new("jobs_sched");
pub(crate) const JOBS_LIST: TableDefinition<(&str, u8, u64), ()> =
    TableDefinition::new("jobs_list");
pub(crate) const JOBS_UNIQUE: TableDefinition<&str, u64> = TableDefinition::new("jobs_unique");
pub(crate) const JOB_COUNTS: TableDefinition<(&str, u8), u64> = TableDefinition::new("job_counts");

/// `job_counts` slot of the attempts that ended well, ever.
pub const TOTAL_PROCESSED: u8 = 100;
/// `job_counts` slot of the attempts that failed, ever.
pub const TOTAL_FAILED: u8 = 101;
const SEQ_KEY: &str = "job_seq";

pub const JOB_V1: u8 = 1;

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct JobV1 {
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

pub struct JobRec;

impl Record for JobRec {
    const TABLE: &'static str = "jobs";
    const VERSION: u8 = JOB_V1;
    type Archived = ArchivedJobV1;
    type Domain = Job;
    fn encode(j: &Job) -> Vec<u8> {
        encode_with(
            Self::VERSION,
            &JobV1 {
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
            },
        )
    }
    fn to_domain(a: &ArchivedJobV1) -> Result<Job, String> {
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
pub enum Discard {
    Removed,
    NotFound,
    /// A worker holds it: it cannot be discarded now.
    Running,
}

/// The result of an admin retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    Queued(Job),
    NotFound,
    /// Only failed and dead jobs can be retried.
    NotRetryable(JobState),
}

/// The job queue's part of a write transaction.
pub struct JobsWriter<'w> {
    pub(crate) tables: &'w Tables,
    pub(crate) changes: &'w mut JobsChanges,
}

impl JobsWriter<'_> {
    /// Adds a job, in the caller's transaction. With a unique key that a
    /// pending job holds, adds nothing and answers that job's id.
    pub fn enqueue(&mut self, new: NewJob, now: Timestamp) -> StoreResult<Enqueued> {
        if let Some(key) = &new.unique_key {
            let unique = self.tables.open(JOBS_UNIQUE)?;
            if let Some(id) = unique.get(key.as_str())? {
                return Ok(Enqueued {
                    id: id.value(),
                    created: false,
                });
            }
        }
        let id = {
            let mut meta = self.tables.open(META)?;
            let next = meta.get(SEQ_KEY)?.map_or(0, |g| g.value()) + 1;
            meta.insert(SEQ_KEY, next)?;
            next
        };
        let job = Job {
            id,
            queue: new.queue,
            kind: new.kind,
            payload: new.payload,
            state: JobState::Queued,
            attempts: 0,
            max_attempts: new.max_attempts.max(1),
            backoff_ms: new.backoff_ms,
            run_at: new.run_at,
            lease_until: None,
            last_error: None,
            created_at: now,
            finished_at: None,
            unique_key: new.unique_key,
        };
        if let Some(key) = &job.unique_key {
            self.tables
                .open(JOBS_UNIQUE)?
                .insert(key.as_str(), job.id)?;
        }
        self.set(None, &job)?;
        Ok(Enqueued { id, created: true })
    }

    /// One job by id, as this transaction sees it.
    pub fn get(&self, id: u64) -> StoreResult<Option<Job>> {
        let t = self.tables.open(JOBS)?;
        let found = t.get(id)?;
        found
            .map(|g| decode::<JobRec>(g.value(), &id.to_string()))
            .transpose()
    }

    /// Leases up to `max` due jobs of `queue` (queued or failed with
    /// `run_at <= now`, and running ones whose lease expired), oldest due
    /// first: each becomes `running` until `now + lease_ms`, with one more
    /// attempt started.
    pub fn lease(
        &mut self,
        queue: &str,
        now: Timestamp,
        max: usize,
        lease_ms: u64,
    ) -> StoreResult<Vec<Job>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let now_ms = now.millis().max(0) as u64;
        let mut due: Vec<(u64, u64)> = Vec::new();
        {
            let sched = self.tables.open(JOBS_SCHED)?;
            for state in [JobState::Running, JobState::Failed, JobState::Queued] {
                let s = state.code();
                for item in sched.range((queue, s, 0, 0)..=(queue, s, now_ms, u64::MAX))? {
                    let (k, _) = item?;
                    let (_, _, at, id) = k.value();
                    due.push((at, id));
                    if due.len() >= max * 3 {
                        break;
                    }
                }
            }
        }
        due.sort_unstable();
        due.truncate(max);
        let mut leased = Vec::with_capacity(due.len());
        for (_, id) in due {
            let Some(old) = self.get(id)? else { continue };
            let mut job = old.clone();
            job.state = JobState::Running;
            job.attempts += 1;
            job.lease_until = Some(
                Timestamp::from_millis(now.millis().saturating_add(lease_ms as i64)).unwrap_or(now),
            );
            self.set(Some(&old), &job)?;
            leased.push(job);
        }
        Ok(leased)
    }

    /// Ends attempt number `attempt` of job `id`. Ignored (`Ok(None)`) when
    /// the job is no longer running that attempt (its lease expired and
    /// another worker took it, or an admin discarded it): the fence that
    /// keeps a late worker from overwriting a newer attempt.
    pub fn finish(
        &mut self,
        id: u64,
        attempt: u32,
        end: AttemptEnd,
        now: Timestamp,
    ) -> StoreResult<Option<Job>> {
        let Some(old) = self.get(id)? else {
            return Ok(None);
        };
        if old.state != JobState::Running || old.attempts != attempt {
            return Ok(None);
        }
        let mut job = old.clone();
        job.lease_until = None;
        let mut total = None;
        match end {
            AttemptEnd::Done => {
                job.state = JobState::Done;
                job.finished_at = Some(now);
                job.last_error = None;
                total = Some(TOTAL_PROCESSED);
            }
            AttemptEnd::Retry { error, at } => {
                job.state = JobState::Failed;
                job.run_at = at;
                job.last_error = Some(error);
                total = Some(TOTAL_FAILED);
            }
            AttemptEnd::Dead { error } => {
                job.state = JobState::Dead;
                job.finished_at = Some(now);
                job.last_error = Some(error);
                total = Some(TOTAL_FAILED);
            }
            AttemptEnd::Postpone { at } => {
                job.state = JobState::Queued;
                job.attempts -= 1;
                job.run_at = at;
            }
            AttemptEnd::Release => {
                job.state = JobState::Queued;
                job.attempts -= 1;
                job.run_at = now;
            }
        }
        if let Some(slot) = total {
            let mut counts = self.tables.open(JOB_COUNTS)?;
            let n = counts
                .get((job.queue.as_str(), slot))?
                .map_or(0, |g| g.value());
            counts.insert((job.queue.as_str(), slot), n + 1)?;
        }
        self.set(Some(&old), &job)?;
        Ok(Some(job))
    }

    /// Admin: a failed or dead job runs again now (a dead one with its
    /// attempts reset).
    pub fn retry(&mut self, id: u64, now: Timestamp) -> StoreResult<Retry> {
        let Some(old) = self.get(id)? else {
            return Ok(Retry::NotFound);
        };
        if !matches!(old.state, JobState::Failed | JobState::Dead) {
            return Ok(Retry::NotRetryable(old.state));
        }
        let mut job = old.clone();
        if job.state == JobState::Dead {
            job.attempts = 0;
            job.finished_at = None;
            if let Some(key) = &job.unique_key {
                let mut unique = self.tables.open(JOBS_UNIQUE)?;
                if unique.get(key.as_str())?.is_none() {
                    unique.insert(key.as_str(), id)?;
                } else {
                    // Another pending job holds the key now; this one runs
                    // without it.
                    drop(unique);
                    job.unique_key = None;
                }
            }
        }
        job.state = JobState::Queued;
        job.run_at = now;
        self.set(Some(&old), &job)?;
        Ok(Retry::Queued(job))
    }

    /// Admin: removes a job that no worker holds.
    pub fn discard(&mut self, id: u64) -> StoreResult<Discard> {
        let Some(old) = self.get(id)? else {
            return Ok(Discard::NotFound);
        };
        if old.state == JobState::Running {
            return Ok(Discard::Running);
        }
        self.remove(&old)?;
        Ok(Discard::Removed)
    }

    /// Removes done jobs older than the retention (and beyond the count to
    /// keep) and old dead jobs, in every queue; returns how many went.
    pub fn prune(&mut self, now: Timestamp, r: Retention) -> StoreResult<usize> {
        let now_ms = now.millis().max(0) as u64;
        let counts = self.counts()?;
        let mut doomed: Vec<u64> = Vec::new();
        {
            let sched = self.tables.open(JOBS_SCHED)?;
            for (queue, c) in &counts {
                let q = queue.as_str();
                // Done: everything older than the age, and the oldest beyond
                // the count to keep.
                let over = c.done.saturating_sub(r.done_keep);
                let cutoff = now_ms.saturating_sub(r.done_age_ms);
                let d = JobState::Done.code();
                for (i, item) in sched
                    .range((q, d, 0, 0)..=(q, d, u64::MAX, u64::MAX))?
                    .enumerate()
                {
                    let (k, _) = item?;
                    let (_, _, at, id) = k.value();
                    if (i as u64) >= over && at >= cutoff || doomed.len() >= r.max_removed {
                        break;
                    }
                    doomed.push(id);
                }
                let cutoff = now_ms.saturating_sub(r.dead_age_ms);
                let x = JobState::Dead.code();
                for item in sched.range((q, x, 0, 0)..(q, x, cutoff, 0))? {
                    if doomed.len() >= r.max_removed {
                        break;
                    }
                    let (k, _) = item?;
                    doomed.push(k.value().3);
                }
            }
        }
        for id in &doomed {
            if let Some(job) = self.get(*id)? {
                self.remove(&job)?;
            }
        }
        Ok(doomed.len())
    }

    fn counts(&self) -> StoreResult<BTreeMap<String, QueueCounts>> {
        let t = self.tables.open(JOB_COUNTS)?;
        read_counts(t.iter()?)
    }

    /// Moves a job from `old` (None: new) to `new` in the record table and
    /// every index (see the module invariants).
    fn set(&mut self, old: Option<&Job>, new: &Job) -> StoreResult<()> {
        let mut sched = self.tables.open(JOBS_SCHED)?;
        let mut list = self.tables.open(JOBS_LIST)?;
        let mut counts = self.tables.open(JOB_COUNTS)?;
        if let Some(old) = old {
            let q = old.queue.as_str();
            let s = old.state.code();
            sched.remove((q, s, sched_at(old), old.id))?;
            list.remove((q, s, old.id))?;
            let n = counts.get((q, s))?.map_or(0, |g| g.value());
            counts.insert((q, s), n.saturating_sub(1))?;
            if old.state.is_pending()
                && !new.state.is_pending()
                && let Some(key) = &old.unique_key
            {
                let mut unique = self.tables.open(JOBS_UNIQUE)?;
                if unique.get(key.as_str())?.map(|g| g.value()) == Some(old.id) {
                    unique.remove(key.as_str())?;
                }
            }
        }
        let q = new.queue.as_str();
        let s = new.state.code();
        sched.insert((q, s, sched_at(new), new.id), ())?;
        list.insert((q, s, new.id), ())?;
        let n = counts.get((q, s))?.map_or(0, |g| g.value());
        counts.insert((q, s), n + 1)?;
        self.tables
            .open(JOBS)?
            .insert(new.id, JobRec::encode(new).as_slice())?;
        if matches!(new.state, JobState::Queued | JobState::Failed)
            && old.is_none_or(|o| o.state != new.state || o.run_at != new.run_at)
        {
            self.changes.woken.insert(new.queue.clone());
        }
        Ok(())
    }

    fn remove(&mut self, job: &Job) -> StoreResult<()> {
        let q = job.queue.as_str();
        let s = job.state.code();
        self.tables
            .open(JOBS_SCHED)?
            .remove((q, s, sched_at(job), job.id))?;
        self.tables.open(JOBS_LIST)?.remove((q, s, job.id))?;
        let mut counts = self.tables.open(JOB_COUNTS)?;
        let n = counts.get((q, s))?.map_or(0, |g| g.value());
        counts.insert((q, s), n.saturating_sub(1))?;
        drop(counts);
        if let Some(key) = &job.unique_key {
            let mut unique = self.tables.open(JOBS_UNIQUE)?;
            if unique.get(key.as_str())?.map(|g| g.value()) == Some(job.id) {
                unique.remove(key.as_str())?;
            }
        }
        self.tables.open(JOBS)?.remove(job.id)?;
        Ok(())
    }
}

type CountsIter<'a> = redb::Range<'a, (&'static str, u8), u64>;

fn read_counts(iter: CountsIter<'_>) -> StoreResult<BTreeMap<String, QueueCounts>> {
    let mut out: BTreeMap<String, QueueCounts> = BTreeMap::new();
    for item in iter {
        let (k, v) = item?;
        let (queue, slot) = k.value();
        let c = out.entry(queue.to_string()).or_default();
        let n = v.value();
        match slot {
            TOTAL_PROCESSED => c.processed_total = n,
            TOTAL_FAILED => c.failed_total = n,
            s => {
                if let Some(state) = JobState::from_code(s) {
                    *c.get_mut(state) = n;
                }
            }
        }
    }
    Ok(out)
}

/// Which jobs an admin list shows.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub queue: Option<String>,
    pub state: Option<JobState>,
    pub kind: Option<String>,
}

/// The job queue's tables as a read transaction sees them (`read.jobs()`).
pub struct JobsReader<'r> {
    txn: &'r redb::ReadTransaction,
}

impl ReadTxn {
    /// Jobs, their schedule and counts.
    pub fn jobs(&self) -> JobsReader<'_> {
        JobsReader { txn: &self.txn }
    }
}

impl JobsReader<'_> {
    pub fn job(&self, id: u64) -> StoreResult<Option<Job>> {
        let t = self.txn.open_table(JOBS)?;
        let found = t.get(id)?;
        found
            .map(|g| decode::<JobRec>(g.value(), &id.to_string()))
            .transpose()
    }

    /// Counts by state and totals, per queue.
    pub fn job_counts(&self) -> StoreResult<BTreeMap<String, QueueCounts>> {
        let t = self.txn.open_table(JOB_COUNTS)?;
        read_counts(t.iter()?)
    }

    /// When the oldest due job of `queue` became due (queued or failed,
    /// `run_at <= now`), if any.
    pub fn oldest_due(&self, queue: &str, now: Timestamp) -> StoreResult<Option<Timestamp>> {
        let t = self.txn.open_table(JOBS_SCHED)?;
        let now_ms = now.millis().max(0) as u64;
        let mut oldest: Option<u64> = None;
        for state in [JobState::Queued, JobState::Failed] {
            let s = state.code();
            if let Some(item) = t
                .range((queue, s, 0, 0)..=(queue, s, now_ms, u64::MAX))?
                .next()
            {
                let at = item?.0.value().2;
                oldest = Some(oldest.map_or(at, |o| o.min(at)));
            }
        }
        Ok(oldest.and_then(|ms| Timestamp::from_millis(ms as i64).ok()))
    }

    /// The next time `queue` has something to do: the earliest `run_at` of a
    /// queued or failed job, or lease expiry of a running one.
    pub fn next_job_time(&self, queue: &str) -> StoreResult<Option<Timestamp>> {
        let t = self.txn.open_table(JOBS_SCHED)?;
        let mut next: Option<u64> = None;
        for state in [JobState::Queued, JobState::Failed, JobState::Running] {
            let s = state.code();
            if let Some(item) = t
                .range((queue, s, 0, 0)..=(queue, s, u64::MAX, u64::MAX))?
                .next()
            {
                let at = item?.0.value().2;
                next = Some(next.map_or(at, |o| o.min(at)));
            }
        }
        Ok(next.and_then(|ms| Timestamp::from_millis(ms as i64).ok()))
    }

    /// A page of jobs, newest first, with the total matching count (exact
    /// for queue/state filters; with a kind filter, the kind is checked on
    /// each job of the queue/state lists, so the total costs a scan).
    pub fn jobs_page(
        &self,
        filter: &JobFilter,
        offset: usize,
        limit: usize,
    ) -> StoreResult<(Vec<Job>, u64)> {
        let counts = self.job_counts()?;
        let queues: Vec<&String> = match &filter.queue {
            Some(q) => counts.keys().filter(|k| *k == q).collect(),
            None => counts.keys().collect(),
        };
        let states: Vec<JobState> = match filter.state {
            Some(s) => vec![s],
            None => JobState::ALL.to_vec(),
        };
        let list = self.txn.open_table(JOBS_LIST)?;
        let jobs = self.txn.open_table(JOBS)?;
        // Newest first across the chosen (queue, state) lists: a k-way merge
        // of their reverse iterators by id.
        let mut iters = Vec::new();
        let mut total = 0u64;
        for q in &queues {
            for s in &states {
                total += counts[q.as_str()].get(*s);
                let code = s.code();
                let q = q.as_str();
                iters.push(
                    list.range((q, code, 0)..=(q, code, u64::MAX))?
                        .rev()
                        .peekable(),
                );
            }
        }
        let mut out = Vec::new();
        let mut skipped = 0usize;
        let mut matched = 0u64;
        loop {
            let mut best: Option<(usize, u64)> = None;
            for (i, it) in iters.iter_mut().enumerate() {
                if let Some(Ok(item)) = it.peek() {
                    let id = item.0.value().2;
                    if best.is_none_or(|(_, b)| id > b) {
                        best = Some((i, id));
                    }
                }
            }
            let Some((i, id)) = best else { break };
            iters[i].next();
            if let Some(kind) = &filter.kind {
                let Some(g) = jobs.get(id)? else { continue };
                let job = decode::<JobRec>(g.value(), &id.to_string())?;
                if &job.kind != kind {
                    continue;
                }
                matched += 1;
                if skipped < offset {
                    skipped += 1;
                } else if out.len() < limit {
                    out.push(job);
                }
                continue;
            }
            if skipped < offset {
                skipped += 1;
                continue;
            }
            if out.len() >= limit {
                break;
            }
            if let Some(g) = jobs.get(id)? {
                out.push(decode::<JobRec>(g.value(), &id.to_string())?);
            }
        }
        if filter.kind.is_some() {
            total = matched;
        }
        Ok((out, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            .jobs_page(&JobFilter::default(), 0, 10)
            .unwrap();
        assert_eq!((page.len(), total), (1, 1));
        assert_eq!(page[0].id, fresh.id);
    }
}
