//! The job queue service: durable jobs in the store, run by in-process
//! workers, and the handlers of each kind (email now; accounts and orders
//! enqueue their mail here).
//!
//! # Guarantees
//! - **Outbox**: a job is enqueued inside the caller's write
//!   ([`crate::store::WriteTxn::jobs`]): it exists exactly when the rest of
//!   that write committed, and no worker sees it before the commit.
//! - **At least once**: a worker leases a job (`running` until
//!   `lease_until`); if the process dies, the lease expires and any worker
//!   takes it again. A handler therefore may run twice for one job; it gets
//!   a stable idempotency key ([`Job::idempotency_key`]; email uses it as the
//!   `Message-ID`). A worker that finishes after its lease was taken over
//!   changes nothing (attempt fencing in `store::jobs`).
//! - **Retries**: a failed attempt is retried after an exponential backoff
//!   with full jitter (`backoff × 2^(attempt−1)`, uniformly random below
//!   that); after `max_attempts` the job is `dead`. A handler that finds an
//!   outside service known to be down (the mail breaker is open) postpones
//!   the job without spending an attempt.
//! - **Ordering**: none promised. Due jobs are leased oldest-due first, but
//!   up to `concurrency` run at once per queue and retries go back in line.
//! - **Wake-ups**: the commit that enqueues wakes its queue's worker (step 3
//!   of `services::CommitDispatch`); a timer covers delayed jobs and expired
//!   leases. An idle queue costs nothing.
//! - **Retention**: a periodic `prune` job (queue `maintenance`) removes done
//!   jobs after 24 h (keeping at most 1,000 per queue) and dead ones after
//!   7 days.
//! - **Shutdown**: workers stop leasing, running jobs get until the shutdown
//!   timeout to finish, the rest go back to the queue (attempt not spent).

pub mod mail;
mod runner;
pub(crate) mod sealed;

use crate::config::jobs::{JobsSettings, QueueSettings};
use crate::domain::Timestamp;
use crate::domain::job::JobFilter;
use crate::domain::job::{EMAILS, MAINTENANCE};
use crate::domain::job::{Job, JobState, NewJob, QueueCounts};
use crate::store::{Discard, Enqueued, JobsChanges, Retry, Store, StoreError};
use mail::{EmailJob, Mailer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Job kinds this build handles.
pub const KIND_EMAIL: &str = "email";
pub(crate) const KIND_PRUNE: &str = "prune";
/// Does nothing (benchmarks, tests).
pub const KIND_NOOP: &str = "noop";

pub(crate) type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;

/// Runs jobs of one kind. Must tolerate running twice for one job.
pub(crate) trait Handler: Send + Sync + 'static {
    fn run(&self, job: Job) -> HandlerFuture;
}

/// How a handler's attempt failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JobError {
    /// Worth retrying (after backoff, while attempts remain).
    #[error("{0}")]
    Failed(String),
    /// Retrying cannot help (a malformed payload, a bad address): dead now.
    #[error("{0}")]
    Permanent(String),
    /// Not attempted: run again after `after`, no attempt spent.
    #[error("postponed: {reason}")]
    Postpone { after: Duration, reason: String },
}

/// A job of `kind` on `queue` with that queue's attempts and backoff, due
/// now (to enqueue inside a write; a tool without the job service, such as
/// `shopd import`, makes jobs that a server runs later).
pub(crate) fn new_job(
    settings: &JobsSettings,
    queue: &str,
    kind: &str,
    payload: &impl serde::Serialize,
) -> Result<NewJob, JobsError> {
    let q = settings
        .queues
        .iter()
        .find(|q| q.name == queue)
        .ok_or_else(|| JobsError::UnknownQueue(queue.into()))?;
    Ok(NewJob {
        queue: q.name.clone(),
        kind: kind.into(),
        // Serializing a payload struct to JSON text cannot fail.
        payload: serde_json::to_string(payload).unwrap_or_else(|_| "null".into()),
        max_attempts: q.max_attempts,
        backoff_ms: q.backoff.as_millis() as u64,
        run_at: Timestamp::now(),
        unique_key: None,
    })
}

/// Wakes the workers of queues that got new work: the job queue's part of
/// what a commit sets off (`services::CommitDispatch`). Made before the
/// store opens, and holds no store; cheap to clone.
#[derive(Clone, Default)]
pub struct Waker {
    queues: Arc<HashMap<String, Arc<Notify>>>,
}

impl Waker {
    /// One wake-up per queue of `settings`.
    pub(crate) fn new(settings: &JobsSettings) -> Waker {
        Waker {
            queues: Arc::new(
                settings
                    .queues
                    .iter()
                    .map(|q| (q.name.clone(), Arc::new(Notify::new())))
                    .collect(),
            ),
        }
    }

    /// The workers of the queues a commit gave new work look again.
    pub(crate) fn wake(&self, changes: &JobsChanges) {
        for q in &changes.woken {
            if let Some(n) = self.queues.get(q) {
                n.notify_one();
            }
        }
    }

    /// What the workers of `queue` wait on (a queue not configured gets one
    /// nobody wakes: its timer still runs it).
    fn notify(&self, queue: &str) -> Arc<Notify> {
        self.queues.get(queue).cloned().unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error("no job {0}")]
    NotFound(u64),
    #[error("job {0} is running; it cannot be discarded now")]
    Running(u64),
    #[error("job {id} is {state}; only failed and dead jobs can be retried")]
    NotRetryable { id: u64, state: &'static str },
    #[error("unknown queue '{0}'")]
    UnknownQueue(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct QueueLabel {
    pub queue: String,
}

/// Counters and the handler-duration histogram, per queue (registered by
/// `api::metrics`; depth and age are read at scrape time).
#[derive(Clone)]
pub(crate) struct JobMetrics {
    pub processed: Family<QueueLabel, Counter>,
    pub failed: Family<QueueLabel, Counter>,
    pub retried: Family<QueueLabel, Counter>,
    pub dead: Family<QueueLabel, Counter>,
    pub postponed: Family<QueueLabel, Counter>,
    pub duration: Family<QueueLabel, Histogram>,
}

impl Default for JobMetrics {
    fn default() -> Self {
        JobMetrics {
            processed: Family::default(),
            failed: Family::default(),
            retried: Family::default(),
            dead: Family::default(),
            postponed: Family::default(),
            duration: Family::new_with_constructor(
                (|| {
                    Histogram::new([
                        0.000_1, 0.001, 0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    ])
                }) as fn() -> Histogram,
            ),
        }
    }
}

/// Per-queue figures for the admin API and metrics.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueStats {
    pub queue: String,
    #[serde(flatten)]
    pub counts: QueueCounts,
    /// Seconds the oldest due job has waited (0 when none).
    pub oldest_due_age_secs: f64,
}

/// The job queue service; cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    store: Store,
    settings: JobsSettings,
    handlers: HashMap<&'static str, Arc<dyn Handler>>,
    /// Kinds run once per period on the maintenance queue (besides
    /// `prune`): kind and period.
    periodic: Vec<(&'static str, Duration)>,
    waker: Waker,
    metrics: JobMetrics,
    mailer: Arc<Mailer>,
    stop: watch::Sender<bool>,
    runners: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Jobs {
    /// The service over `store`, sending mail with `mailer`; its workers
    /// wait on `waker` (the one the store's commit sink wakes). Workers
    /// start with [`Jobs::start`].
    pub(crate) fn new(store: Store, settings: JobsSettings, mailer: Mailer, waker: Waker) -> Jobs {
        let mailer = Arc::new(mailer);
        let mut handlers: HashMap<&'static str, Arc<dyn Handler>> = HashMap::new();
        handlers.insert(KIND_EMAIL, mailer.handler());
        handlers.insert(KIND_NOOP, Arc::new(Noop));
        handlers.insert(
            KIND_PRUNE,
            Arc::new(Prune {
                store: store.clone(),
                settings: settings.clone(),
            }),
        );
        Jobs {
            inner: Arc::new(Inner {
                store,
                settings,
                handlers,
                periodic: Vec::new(),
                waker,
                metrics: JobMetrics::default(),
                mailer,
                stop: watch::channel(false).0,
                runners: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Adds a job kind run once every `every` on the maintenance queue
    /// (another service's periodic work, e.g. scheduled backups): each run
    /// schedules the next before it works, so a failing run never ends the
    /// schedule, and a period never runs twice. Call before the service
    /// is shared (cloned) and before [`Jobs::start`].
    pub(crate) fn with_periodic(
        mut self,
        kind: &'static str,
        every: Duration,
        handler: Arc<dyn Handler>,
    ) -> Jobs {
        let Some(inner) = Arc::get_mut(&mut self.inner) else {
            tracing::error!(
                kind,
                "periodic job added after the job service was shared; ignored"
            );
            return self;
        };
        let store = inner.store.clone();
        let settings = inner.settings.clone();
        inner.handlers.insert(
            kind,
            Arc::new(Periodic {
                store,
                settings,
                kind,
                every,
                handler,
            }),
        );
        inner.periodic.push((kind, every));
        self
    }

    /// Adds the handler of a job kind another service enqueues (the media
    /// service's variants). Call before the service is shared (cloned) and
    /// before [`Jobs::start`].
    pub(crate) fn with_handler(mut self, kind: &'static str, handler: Arc<dyn Handler>) -> Jobs {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => {
                inner.handlers.insert(kind, handler);
            }
            None => tracing::error!(
                kind,
                "job handler added after the job service was shared; ignored"
            ),
        }
        self
    }

    /// Default settings, mail written to `dir/outbox` (tools, benchmarks).
    pub fn local(store: Store, dir: &std::path::Path) -> Result<Jobs, mail::MailError> {
        let mailer = Mailer::new(&crate::config::mail::MailSettings::local(dir))?;
        let settings = JobsSettings::default();
        let waker = Waker::new(&settings);
        Ok(Jobs::new(store, settings, mailer, waker))
    }

    /// Starts one worker loop per queue and schedules the periodic jobs.
    /// Call on the async runtime, once.
    pub async fn start(&self) -> Result<(), JobsError> {
        let mut runners = Vec::new();
        for q in &self.inner.settings.queues {
            runners.push(tokio::spawn(runner::run_queue(
                self.inner.clone(),
                q.clone(),
                self.inner.waker.notify(&q.name),
                self.inner.stop.subscribe(),
            )));
        }
        if let Ok(mut r) = self.inner.runners.lock() {
            r.extend(runners);
        }
        let next = prune_job(&self.inner.settings, Timestamp::now(), 0);
        self.enqueue(next).await?;
        for &(kind, every) in &self.inner.periodic {
            let first = periodic_job(&self.inner.settings, kind, every, Timestamp::now(), 0);
            self.enqueue(first).await?;
        }
        tracing::info!(
            queues = self.inner.settings.queues.len(),
            mail = self.inner.mailer.describe(),
            "job workers started"
        );
        Ok(())
    }

    /// Stops the workers: no new leases; running jobs get the shutdown
    /// timeout, then go back to the queue.
    pub async fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
        let runners = self
            .inner
            .runners
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        for r in runners {
            let _ = r.await;
        }
    }

    pub(crate) fn metrics(&self) -> &JobMetrics {
        &self.inner.metrics
    }

    pub(crate) fn mailer(&self) -> &Mailer {
        &self.inner.mailer
    }

    /// A job for `queue` with that queue's retry policy, due now.
    pub(crate) fn new_job(
        &self,
        queue: &str,
        kind: &str,
        payload: &impl serde::Serialize,
    ) -> Result<NewJob, JobsError> {
        new_job(&self.inner.settings, queue, kind, payload)
    }

    /// An email job (queue `emails`), to enqueue inside a write.
    pub(crate) fn email(&self, email: &EmailJob) -> Result<NewJob, JobsError> {
        // The secret values are stored sealed, never in clear.
        let mut stored = email.clone();
        if !stored.secret.is_empty() {
            stored.sealed = Some(self.inner.mailer.sealer.seal(&stored.secret));
            stored.secret.clear();
        }
        self.new_job(EMAILS, KIND_EMAIL, &stored)
    }

    /// Enqueues one job in a write of its own.
    pub(crate) async fn enqueue(&self, job: NewJob) -> Result<Enqueued, JobsError> {
        Ok(self
            .inner
            .store
            .write(move |tx| tx.jobs().enqueue(job, Timestamp::now()))
            .await?)
    }

    pub(crate) fn get(&self, id: u64) -> Result<Job, JobsError> {
        self.inner
            .store
            .read()?
            .jobs()
            .job(id)?
            .ok_or(JobsError::NotFound(id))
    }

    /// A page of jobs, newest first, and how many match.
    pub(crate) fn list(
        &self,
        filter: &JobFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Job>, u64), JobsError> {
        Ok(self
            .inner
            .store
            .read()?
            .jobs()
            .jobs_page(filter, offset, limit)?)
    }

    /// Admin: a failed or dead job runs again now.
    pub(crate) async fn retry(&self, id: u64) -> Result<Job, JobsError> {
        match self
            .inner
            .store
            .write(move |tx| tx.jobs().retry(id, Timestamp::now()))
            .await?
        {
            Retry::Queued(job) => Ok(job),
            Retry::NotFound => Err(JobsError::NotFound(id)),
            Retry::NotRetryable(state) => Err(JobsError::NotRetryable {
                id,
                state: state.as_str(),
            }),
        }
    }

    /// Admin: removes a job no worker holds. Discarding the periodic
    /// `prune` job schedules its next period's run (the schedule goes on).
    pub(crate) async fn discard(&self, id: u64) -> Result<(), JobsError> {
        let next = prune_job(&self.inner.settings, Timestamp::now(), 1);
        match self
            .inner
            .store
            .write(move |tx| {
                let periodic = tx.jobs().get(id)?.is_some_and(|j| j.kind == KIND_PRUNE);
                let outcome = tx.jobs().discard(id)?;
                if periodic && outcome == Discard::Removed {
                    tx.jobs().enqueue(next, Timestamp::now())?;
                }
                Ok::<_, StoreError>(outcome)
            })
            .await?
        {
            Discard::Removed => Ok(()),
            Discard::NotFound => Err(JobsError::NotFound(id)),
            Discard::Running => Err(JobsError::Running(id)),
        }
    }

    /// Counts per queue and state, totals, and the age of the oldest due
    /// job; every configured queue appears, even when empty.
    pub fn stats(&self) -> Result<Vec<QueueStats>, JobsError> {
        let txn = self.inner.store.read()?;
        let counts = txn.jobs().job_counts()?;
        let now = Timestamp::now();
        let mut out = Vec::new();
        for q in &self.inner.settings.queues {
            let oldest = txn.jobs().oldest_due(&q.name, now)?;
            out.push(QueueStats {
                queue: q.name.clone(),
                counts: counts.get(&q.name).cloned().unwrap_or_default(),
                oldest_due_age_secs: oldest
                    .map(|t| (now.millis() - t.millis()).max(0) as f64 / 1000.0)
                    .unwrap_or(0.0),
            });
        }
        Ok(out)
    }
}

/// The job states an admin filter accepts.
pub(crate) fn parse_state(s: &str) -> Option<JobState> {
    JobState::ALL.into_iter().find(|x| x.as_str() == s)
}

struct Noop;

impl Handler for Noop {
    fn run(&self, _job: Job) -> HandlerFuture {
        Box::pin(async { Ok(()) })
    }
}

/// The periodic retention job: prunes, then schedules its next run.
/// How long an ended session's records stay (a day).
const ENDED_SESSION_GRACE_MS: i64 = 24 * 3600 * 1000;

struct Prune {
    store: Store,
    settings: JobsSettings,
}

/// The `prune` job of the period after `slot_offset` periods from `now`'s.
fn prune_job(settings: &JobsSettings, now: Timestamp, slot_offset: i64) -> NewJob {
    periodic_job(settings, KIND_PRUNE, settings.prune_every, now, slot_offset)
}

/// The `kind` job of the period after `slot_offset` periods from `now`'s
/// (periods of `every`). Unique per period, so restarts and retries never
/// double it.
fn periodic_job(
    settings: &JobsSettings,
    kind: &str,
    every: Duration,
    now: Timestamp,
    slot_offset: i64,
) -> NewJob {
    let every = every.as_millis().max(1) as i64;
    let slot = now.millis() / every + slot_offset;
    let run_at = if slot_offset == 0 {
        now
    } else {
        Timestamp::from_millis(slot * every).unwrap_or(now)
    };
    let q = settings
        .queues
        .iter()
        .find(|q| q.name == MAINTENANCE)
        .cloned()
        .unwrap_or_else(|| QueueSettings::new(MAINTENANCE, 1, 3, 60_000));
    NewJob {
        queue: q.name,
        kind: kind.into(),
        payload: "{}".into(),
        max_attempts: q.max_attempts,
        backoff_ms: q.backoff.as_millis() as u64,
        run_at,
        unique_key: Some(format!("periodic:{kind}:{slot}")),
    }
}

/// Runs another service's periodic handler after scheduling its next run.
struct Periodic {
    store: Store,
    settings: JobsSettings,
    kind: &'static str,
    every: Duration,
    handler: Arc<dyn Handler>,
}

impl Handler for Periodic {
    fn run(&self, job: Job) -> HandlerFuture {
        let next = periodic_job(&self.settings, self.kind, self.every, Timestamp::now(), 1);
        let store = self.store.clone();
        let work = self.handler.run(job);
        Box::pin(async move {
            store
                .write(move |tx| tx.jobs().enqueue(next, Timestamp::now()))
                .await
                .map_err(|e| JobError::Failed(e.to_string()))?;
            work.await
        })
    }
}

impl Handler for Prune {
    fn run(&self, _job: Job) -> HandlerFuture {
        let store = self.store.clone();
        let settings = self.settings.clone();
        Box::pin(async move {
            let retention = settings.retention;
            // The next run first, in a write of its own: a prune that fails
            // (even for good) never ends the schedule.
            let next = prune_job(&settings, Timestamp::now(), 1);
            store
                .write(move |tx| tx.jobs().enqueue(next, Timestamp::now()))
                .await
                .map_err(|e| JobError::Failed(e.to_string()))?;
            let removed = store
                .write(move |tx| tx.jobs().prune(Timestamp::now(), retention))
                .await
                .map_err(|e| JobError::Failed(e.to_string()))?;
            if removed > 0 {
                tracing::info!(removed, "pruned finished jobs");
            }
            // Sign-in sessions that ended a day ago (with their refresh
            // tokens) and expired mailed tokens: storage housekeeping of
            // the accounts' tables.
            let removed = store
                .write(move |tx| {
                    tx.accounts().prune(
                        Timestamp::now(),
                        ENDED_SESSION_GRACE_MS,
                        retention.max_removed,
                    )
                })
                .await
                .map_err(|e| JobError::Failed(e.to_string()))?;
            if removed > 0 {
                tracing::info!(removed, "pruned ended sessions and expired tokens");
            }
            // Guest carts idle for 30 days and idempotency keys past their
            // 24 hours: the selling tables' housekeeping.
            let removed = store
                .write(move |tx| {
                    let now = Timestamp::now();
                    let cutoff =
                        Timestamp::from_millis(now.millis() - crate::domain::cart::GUEST_TTL_MS)
                            .unwrap_or(now);
                    tx.orders().prune(now, cutoff, retention.max_removed)
                })
                .await
                .map_err(|e| JobError::Failed(e.to_string()))?;
            if removed > 0 {
                tracing::info!(
                    removed,
                    "pruned idle guest carts and expired idempotency keys"
                );
            }
            Ok(())
        })
    }
}
