//! The job queue's reads: a job, counts per queue and state, the next due
//! time, admin pages.

use super::{JOB_COUNTS, JOBS, JOBS_LIST, JOBS_SCHED, JobRec, TOTAL_FAILED, TOTAL_PROCESSED};
use crate::domain::Timestamp;
use crate::domain::job::JobFilter;
use crate::domain::job::{Job, JobState, QueueCounts};
use crate::store::codec::decode;
use crate::store::db::read::ReadTxn;
use crate::store::error::StoreResult;
use redb::ReadableTable;
use std::collections::BTreeMap;

type CountsIter<'a> = redb::Range<'a, (&'static str, u8), u64>;

pub(super) fn read_counts(iter: CountsIter<'_>) -> StoreResult<BTreeMap<String, QueueCounts>> {
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

/// The job queue's tables as a read transaction sees them (`read.jobs()`).
pub(crate) struct JobsReader<'r> {
    txn: &'r redb::ReadTransaction,
}

impl ReadTxn {
    /// Jobs, their schedule and counts.
    pub(crate) fn jobs(&self) -> JobsReader<'_> {
        JobsReader { txn: &self.txn }
    }
}

impl JobsReader<'_> {
    pub(crate) fn job(&self, id: u64) -> StoreResult<Option<Job>> {
        let t = self.txn.open_table(JOBS)?;
        let found = t.get(id)?;
        found
            .map(|g| decode::<JobRec>(g.value(), &id.to_string()))
            .transpose()
    }

    /// Counts by state and totals, per queue.
    pub(crate) fn job_counts(&self) -> StoreResult<BTreeMap<String, QueueCounts>> {
        let t = self.txn.open_table(JOB_COUNTS)?;
        read_counts(t.iter()?)
    }

    /// When the oldest due job of `queue` became due (queued or failed,
    /// `run_at <= now`), if any.
    pub(crate) fn oldest_due(&self, queue: &str, now: Timestamp) -> StoreResult<Option<Timestamp>> {
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
    pub(crate) fn next_job_time(&self, queue: &str) -> StoreResult<Option<Timestamp>> {
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
    pub(crate) fn jobs_page(
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
