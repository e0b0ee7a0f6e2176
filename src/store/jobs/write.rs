//! The job queue's part of a write: enqueue (inside the caller's write),
//! lease, record attempts, retry, discard, prune.

use super::{
    Discard, Enqueued, JOB_COUNTS, JOBS, JOBS_LIST, JOBS_SCHED, JOBS_UNIQUE, JobRec, JobsChanges,
    Retry, SEQ_KEY, TOTAL_FAILED, TOTAL_PROCESSED, sched_at,
};
use crate::domain::Timestamp;
use crate::domain::job::{AttemptEnd, Job, JobState, NewJob, QueueCounts, Retention};
use crate::store::codec::{Record, decode};
use crate::store::db::meta::META;
use crate::store::db::undo::Tables;
use crate::store::error::StoreResult;
use redb::ReadableTable;
use std::collections::BTreeMap;

/// The job queue's part of a write transaction (`tx.jobs()`).
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
    pub(crate) fn get(&self, id: u64) -> StoreResult<Option<Job>> {
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
    pub(crate) fn lease(
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
    pub(crate) fn finish(
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
    pub(crate) fn retry(&mut self, id: u64, now: Timestamp) -> StoreResult<Retry> {
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
    pub(crate) fn discard(&mut self, id: u64) -> StoreResult<Discard> {
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
    pub(crate) fn prune(&mut self, now: Timestamp, r: Retention) -> StoreResult<usize> {
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
        super::read::read_counts(t.iter()?)
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
