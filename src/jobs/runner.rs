//! One queue's worker loop: lease due jobs up to the queue's concurrency,
//! run each handler under its timeout, record how each attempt ended.
//!
//! Every store round trip does both at once: the attempts that ended since
//! the last one are recorded and new jobs are leased in the same write, so
//! at full load one group commit carries a whole wave of jobs. These writes
//! are relaxed (`Store::write_relaxed`): they do not wait for an fsync,
//! because losing one to a power cut only runs a job again.
//!
//! The loop sleeps until one of: a commit enqueued work for this queue (the
//! `Notify`), a handler finished, the earliest delayed job or lease expiry
//! is due, or shutdown. An idle queue makes no store round trips.

use super::{Inner, JobError};
use crate::config::jobs::QueueSettings;
use crate::domain::Timestamp;
use crate::domain::job::{AttemptEnd, Job};
use crate::store::StoreError;
use futures_util::FutureExt;
use rand::Rng;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// How an attempt ended, before it is recorded.
struct Ended {
    id: u64,
    attempt: u32,
    end: AttemptEnd,
}

/// A lease lasts twice the handler's timeout (60 s for the default 30 s),
/// so a live worker's job is never taken over, and a dead process's jobs
/// run again within that time.
const LEASE_FACTOR: u32 = 2;

pub(super) async fn run_queue(
    inner: Arc<Inner>,
    q: QueueSettings,
    notify: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let lease_ms = (q.timeout * LEASE_FACTOR).as_millis() as u64;
    let labels = super::QueueLabel {
        queue: q.name.clone(),
    };
    let mut running: JoinSet<Ended> = JoinSet::new();
    let mut in_flight: HashMap<u64, u32> = HashMap::new();
    let mut ended: Vec<Ended> = Vec::new();
    // Whether due work may be waiting (start: look once).
    let mut look = true;
    let mut next_at: Option<tokio::time::Instant> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        let free = q.concurrency.saturating_sub(running.len());
        let take = if look { free } else { 0 };
        if !ended.is_empty() || take > 0 {
            let batch = std::mem::take(&mut ended);
            let queue = q.name.clone();
            // Relaxed: a lease or a result lost to a power cut only runs
            // the job again (at least once); enqueues stay durable.
            let result = inner
                .store
                .write_relaxed(move |tx| {
                    let now = Timestamp::now();
                    for e in batch {
                        tx.jobs().finish(e.id, e.attempt, e.end, now)?;
                    }
                    tx.jobs().lease(&queue, now, take, lease_ms)
                })
                .await;
            match result {
                Ok(leased) => {
                    look = take > 0 && leased.len() == take;
                    for job in leased {
                        in_flight.insert(job.id, job.attempts);
                        spawn(&inner, &q, &labels, &mut running, job);
                    }
                }
                Err(e) => {
                    // The ends are lost; their leases expire and the jobs run
                    // again (at least once).
                    tracing::warn!(queue = %q.name, error = %e, "job queue write failed; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    look = true;
                    continue;
                }
            }
            next_at = match inner
                .store
                .read()
                .and_then(|r| r.jobs().next_job_time(&q.name))
            {
                Ok(Some(at)) => {
                    let wait = (at.millis() - Timestamp::now().millis()).max(0) as u64;
                    Some(tokio::time::Instant::now() + Duration::from_millis(wait))
                }
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(queue = %q.name, error = %e, "reading the next job time failed");
                    Some(tokio::time::Instant::now() + Duration::from_secs(1))
                }
            };
        }
        tokio::select! {
            _ = notify.notified() => look = true,
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(e) = done {
                    in_flight.remove(&e.id);
                    ended.push(e);
                }
                // Every attempt that has ended goes into the next write.
                while let Some(done) = running.try_join_next() {
                    if let Ok(e) = done {
                        in_flight.remove(&e.id);
                        ended.push(e);
                    }
                }
                // A slot is free: due work may be waiting for it.
                look = true;
            }
            _ = sleep_until(next_at), if next_at.is_some() => {
                next_at = None;
                look = true;
            }
            _ = stop.changed() => {}
        }
    }
    drain(&inner, &q, running, in_flight, ended).await;
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Shutdown: running jobs get the shutdown timeout; the unfinished ones go
/// back to the queue without spending their attempt.
async fn drain(
    inner: &Arc<Inner>,
    q: &QueueSettings,
    mut running: JoinSet<Ended>,
    mut in_flight: HashMap<u64, u32>,
    mut ended: Vec<Ended>,
) {
    let deadline = tokio::time::Instant::now() + inner.settings.shutdown_timeout;
    while !running.is_empty() {
        match tokio::time::timeout_at(deadline, running.join_next()).await {
            Ok(Some(Ok(e))) => {
                in_flight.remove(&e.id);
                ended.push(e);
            }
            Ok(Some(Err(_))) => {}
            Ok(None) | Err(_) => break,
        }
    }
    running.abort_all();
    for (id, attempt) in in_flight {
        ended.push(Ended {
            id,
            attempt,
            end: AttemptEnd::Release,
        });
    }
    if ended.is_empty() {
        return;
    }
    let n = ended.len();
    let result = inner
        .store
        .write(move |tx| {
            let now = Timestamp::now();
            for e in ended {
                tx.jobs().finish(e.id, e.attempt, e.end, now)?;
            }
            Ok::<_, StoreError>(())
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(queue = %q.name, error = %e, jobs = n, "recording jobs at shutdown failed; their leases will expire");
    }
}

fn spawn(
    inner: &Arc<Inner>,
    q: &QueueSettings,
    labels: &super::QueueLabel,
    running: &mut JoinSet<Ended>,
    job: Job,
) {
    let handler = inner.handlers.get(job.kind.as_str()).cloned();
    let metrics = inner.metrics.clone();
    let labels = labels.clone();
    let timeout = q.timeout;
    running.spawn(async move {
        let start = std::time::Instant::now();
        let (id, attempt) = (job.id, job.attempts);
        let outcome = match handler {
            None => Err(JobError::Permanent(format!(
                "no handler for job kind '{}'",
                job.kind
            ))),
            Some(h) => {
                let run = AssertUnwindSafe(h.run(job.clone())).catch_unwind();
                match tokio::time::timeout(timeout, run).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(_)) => Err(JobError::Failed("the handler panicked".into())),
                    Err(_) => Err(JobError::Failed(format!(
                        "timed out after {} s",
                        timeout.as_secs_f64()
                    ))),
                }
            }
        };
        metrics
            .duration
            .get_or_create(&labels)
            .observe(start.elapsed().as_secs_f64());
        let now = Timestamp::now();
        let end = match outcome {
            Ok(()) => {
                metrics.processed.get_or_create(&labels).inc();
                AttemptEnd::Done
            }
            Err(JobError::Postpone { after, reason }) => {
                metrics.postponed.get_or_create(&labels).inc();
                tracing::debug!(job = id, %reason, "job postponed");
                AttemptEnd::Postpone {
                    at: later(now, after),
                }
            }
            Err(e) => {
                metrics.failed.get_or_create(&labels).inc();
                let error = e.to_string();
                if matches!(e, JobError::Permanent(_)) || attempt >= job.max_attempts {
                    metrics.dead.get_or_create(&labels).inc();
                    tracing::warn!(job = id, kind = %job.kind, attempt, %error, "job is dead");
                    AttemptEnd::Dead { error }
                } else {
                    metrics.retried.get_or_create(&labels).inc();
                    let delay = backoff(job.backoff_ms, attempt);
                    tracing::info!(job = id, kind = %job.kind, attempt, %error, retry_in_ms = delay.as_millis() as u64, "job failed; will retry");
                    AttemptEnd::Retry {
                        error,
                        at: later(now, delay),
                    }
                }
            }
        };
        Ended { id, attempt, end }
    });
}

fn later(now: Timestamp, after: Duration) -> Timestamp {
    Timestamp::from_millis(now.millis().saturating_add(after.as_millis() as i64)).unwrap_or(now)
}

/// Full jitter: uniformly random in `[0, base × 2^(attempt−1)]`, capped at
/// an hour.
pub(crate) fn backoff(base_ms: u64, attempt: u32) -> Duration {
    let cap = base_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(30))
        .min(3_600_000);
    Duration::from_millis(rand::rng().random_range(0..=cap))
}
