//! Group commit: one writer thread turns concurrent writes into few durable
//! commits.
//!
//! Callers queue write closures ([`super::Store::write`]). The writer takes
//! the first, then everything else already queued (at most [`MAX_BATCH`]),
//! runs them one after another in **one** redb transaction, and commits it
//! durably once. No write waits for company: a lone write commits at once,
//! and the writes that arrive while a commit's fsync runs form the next
//! batch, so the batch size follows the load.
//!
//! # Guarantees
//! - A write is answered only after the durable commit that covers it, and
//!   after the commit sink ran (search told, caches invalidated), so a
//!   read that starts after the answer sees the write everywhere.
//! - A write that fails (its closure returns `Err`, panics, or its deferred
//!   index work fails) is undone alone ([`WriteTxn::rollback_write`]); its
//!   batch-mates commit.
//! - Writes of a batch run in queue order and each sees the ones before it:
//!   the result is the same as running them one by one.
//! - A batch is durable once its redo record is synced to the write-ahead
//!   log (`wal`); its redb commit follows (visible to readers), durable in
//!   redb itself only at checkpoints ([`CHECKPOINT_EVERY`]).
//! - When logging or committing fails, every write of the batch gets the
//!   error, none is acknowledged, and the writer refuses all later writes
//!   until restart.

use super::faults::FaultPlan;
use super::meta;
use super::txn::{ChangeSet, Commit, WriteTxn};
use super::wal::Wal;
use crate::store::error::{StoreError, StoreResult};
use redb::Database;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

/// Most writes in one commit. Bounds the first write's wait and the undo
/// memory of a batch.
pub(crate) const MAX_BATCH: usize = 256;

/// Where what a commit sets off goes: given to the store when it opens
/// ([`super::StoreOptions`]), so it must hold no store itself (the store
/// holds it until it closes).
pub trait CommitSink: Send + Sync {
    /// The store opened at `position`, before its first commit.
    fn opened(&self, position: u64) {
        let _ = position;
    }

    /// A commit that kept a write (even one whose change set is empty:
    /// replication ships every commit), on the committing thread, before
    /// the commit's writes are acknowledged. Its writes survive the
    /// process dying; a relaxed batch's survive a power cut only once
    /// [`CommitSink::synced`] reaches its position.
    fn committed(&self, commit: &Commit);

    /// Every commit up to `position` survives a power cut now (its log
    /// record is fsynced, or a checkpoint made it durable in the file).
    /// What must never be taken back (a follower's copy) waits for this.
    fn synced(&self, position: u64) {
        let _ = position;
    }
}

/// A sink that is told nothing (tools, tests of the store alone).
pub(crate) struct NoSink;

impl CommitSink for NoSink {
    fn committed(&self, _: &Commit) {}
}

/// What the writer has done since the store opened (for `/metrics`).
#[derive(Debug, Default)]
pub(crate) struct WriteCounters {
    /// Durable commits made by the writer.
    pub commits: AtomicU64,
    /// Writes made durable.
    pub kept: AtomicU64,
    /// Writes undone (their closure failed or panicked).
    pub undone: AtomicU64,
    /// The writer stopped accepting writes after a storage failure.
    pub failed: AtomicBool,
    /// What failed (set once, with `failed`).
    pub failure: std::sync::OnceLock<String>,
}

/// A reading of [`WriteCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WriteStats {
    pub commits: u64,
    pub kept: u64,
    pub undone: u64,
    /// Writes are refused until restart (a sync or commit failed).
    pub failed: bool,
}

impl WriteCounters {
    pub(crate) fn read(&self) -> WriteStats {
        WriteStats {
            commits: self.commits.load(Relaxed),
            kept: self.kept.load(Relaxed),
            undone: self.undone.load(Relaxed),
            failed: self.failed.load(Relaxed),
        }
    }
}

/// One queued write: run it, or fail it without running.
pub(super) trait Job: Send {
    fn run(self: Box<Self>, txn: &mut WriteTxn) -> Answer;
    fn fail(self: Box<Self>, error: StoreError);
}

/// What a job leaves to do after the commit.
pub(super) struct Answer {
    /// The closure returned `Ok`: keep its changes.
    pub kept: bool,
    /// Its acknowledgement must wait for the log's fsync (false: a relaxed
    /// write, see `Store::write_relaxed`).
    pub sync: bool,
    /// Sends the caller its result, given how the commit went (`Ok` with the
    /// generation, or the commit's error).
    pub send: Box<dyn FnOnce(Result<u64, StoreError>) + Send>,
}

pub(super) enum Msg {
    Write(Box<dyn Job>),
    /// Make every commit so far survive a power cut, then answer.
    Sync(tokio::sync::oneshot::Sender<StoreResult<()>>),
    Stop,
}

/// How often the log is checkpointed while writes keep coming (and how
/// long after the last batch when they stop).
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);
/// A log this big is checkpointed at once.
pub(crate) const CHECKPOINT_BYTES: u64 = 64 * 1024 * 1024;

/// The writer thread's state.
pub(super) struct Writer {
    pub db: Arc<Database>,
    pub sink: Arc<dyn CommitSink>,
    pub counters: Arc<WriteCounters>,
    /// The committed position, published after each commit (see `meta`).
    pub position: Arc<AtomicU64>,
    pub wal: Wal,
    /// The last batch sequence number used.
    pub seq: u64,
    pub last_checkpoint: Instant,
    /// How often to checkpoint while writes come (`--checkpoint-every`).
    pub checkpoint_every: Duration,
    /// Injected failures and the checkpoint hook (tests).
    pub faults: Option<Arc<FaultPlan>>,
    /// Batches committed since the last checkpoint (durable only in the log).
    pub unsynced: bool,
    /// Set after a storage failure: no write is accepted until restart.
    pub failed: Option<String>,
    /// The last position that survives a power cut (told to the sink).
    pub synced: u64,
}

impl Writer {
    /// Runs until `Stop` or until every sender is gone, then checkpoints.
    pub(super) fn run(mut self, rx: Receiver<Msg>) {
        loop {
            let first = if self.unsynced {
                let wait = self
                    .checkpoint_every
                    .saturating_sub(self.last_checkpoint.elapsed());
                match rx.recv_timeout(wait) {
                    Ok(m) => m,
                    Err(RecvTimeoutError::Timeout) => {
                        self.checkpoint();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                }
            };
            let mut jobs = Vec::new();
            let mut syncs = Vec::new();
            let mut stop = false;
            match first {
                Msg::Write(j) => jobs.push(j),
                Msg::Sync(reply) => syncs.push(reply),
                Msg::Stop => break,
            }
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(Msg::Write(j)) => jobs.push(j),
                    Ok(Msg::Sync(reply)) => syncs.push(reply),
                    Ok(Msg::Stop) => {
                        stop = true;
                        break;
                    }
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            if !jobs.is_empty() {
                self.commit_batch(jobs);
            }
            if !syncs.is_empty() {
                let answer = self.sync_now();
                for reply in syncs {
                    let _ = reply.send(match &answer {
                        Ok(()) => Ok(()),
                        Err(e) => Err(failed("syncing the log", e)),
                    });
                }
            }
            if stop {
                break;
            }
        }
        if self.unsynced {
            self.checkpoint();
        }
    }

    /// Makes everything committed so far durable in redb and empties the log.
    fn checkpoint(&mut self) {
        if self.failed.is_some() {
            return;
        }
        let started = Instant::now();
        let committed = meta::checkpoint(&self.db).map(|()| self.at_checkpoint());
        match committed.and_then(|()| self.wal.truncate()) {
            Ok(()) => {
                self.unsynced = false;
                self.last_checkpoint = Instant::now();
                self.made_durable();
                tracing::debug!(
                    micros = started.elapsed().as_micros() as u64,
                    "write-ahead log checkpointed"
                );
            }
            Err(e) => self.fail(&e),
        }
    }

    /// Every commit so far is durable: tells the sink when that moved.
    fn made_durable(&mut self) {
        let position = self.position.load(Relaxed);
        if position > self.synced {
            self.synced = position;
            self.sink.synced(position);
        }
    }

    /// Fsyncs the log's unsynced records (relaxed batches), if any.
    fn sync_now(&mut self) -> StoreResult<()> {
        if let Some(reason) = &self.failed {
            return Err(StoreError::Unavailable(format!(
                "writes are stopped after a storage failure ({reason}); restart shopd"
            )));
        }
        match self.wal.sync() {
            Ok(()) => {
                self.made_durable();
                Ok(())
            }
            Err(e) => {
                self.fail(&e);
                Err(e)
            }
        }
    }

    /// A checkpoint's redb commit is durable and the log not yet emptied:
    /// where a test's hook runs.
    fn at_checkpoint(&self) {
        if let Some(plan) = &self.faults {
            plan.checkpointed();
        }
    }

    /// Stops accepting writes: after a failed sync or commit, what is in
    /// memory may not match what is on disk.
    fn fail(&mut self, e: &StoreError) {
        tracing::error!(error = %e, "storage failed; no more writes are accepted until shopd restarts");
        let _ = self.counters.failure.set(e.to_string());
        self.counters.failed.store(true, Relaxed);
        self.failed = Some(e.to_string());
    }

    /// Runs `jobs` in one transaction, logs and commits it.
    fn commit_batch(&mut self, jobs: Vec<Box<dyn Job>>) {
        if let Some(reason) = &self.failed {
            let e = StoreError::Unavailable(format!(
                "writes are stopped after a storage failure ({reason}); restart shopd"
            ));
            for job in jobs {
                job.fail(failed("no write accepted", &e));
            }
            return;
        }
        let size = jobs.len();
        let txn = match self.db.begin_write() {
            Ok(t) => t,
            Err(e) => {
                let e = StoreError::from(e);
                tracing::error!(error = %e, "could not begin a write transaction");
                for job in jobs {
                    job.fail(failed("could not begin a write", &e));
                }
                return;
            }
        };
        let counters = &self.counters;
        let mut txn = WriteTxn::new(txn, true);
        let mut answers: Vec<Answer> = Vec::with_capacity(size);
        let mut changes = ChangeSet::default();
        let mut kept = 0usize;
        let mut sync = false;
        let mut jobs = jobs.into_iter();
        let mut broken: Option<StoreError> = None;
        for job in jobs.by_ref() {
            let outcome = catch_unwind(AssertUnwindSafe(|| job.run(&mut txn)));
            let keep = match outcome {
                Ok(answer) if answer.kept => match txn.finish_write() {
                    Ok(c) => {
                        changes.merge(c);
                        kept += 1;
                        sync |= answer.sync;
                        answers.push(answer);
                        true
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "finishing a write failed; undoing it");
                        (answer.send)(Err(e));
                        false
                    }
                },
                Ok(answer) => {
                    answers.push(answer);
                    false
                }
                Err(_) => {
                    // The job and its reply channel were dropped while
                    // unwinding: the caller sees the write aborted.
                    tracing::error!("a write panicked; undoing it");
                    false
                }
            };
            if !keep {
                counters.undone.fetch_add(1, Relaxed);
            }
            if !keep && let Err(e) = txn.rollback_write() {
                tracing::error!(error = %e, "undoing a failed write failed; abandoning the batch");
                broken = Some(e);
                break;
            }
        }
        if let Some(e) = broken {
            let _ = txn.abort();
            for job in jobs {
                job.fail(failed("the write's batch was abandoned", &e));
            }
            for a in answers {
                (a.send)(Err(failed("the write's batch was abandoned", &e)));
            }
            return;
        }
        if kept == 0 {
            // Nothing to make durable: the failed writes' own errors stand.
            if let Err(e) = txn.abort() {
                tracing::warn!(error = %e, "aborting an empty batch failed");
            }
            for a in answers {
                (a.send)(Ok(0));
            }
            return;
        }
        let seq = self.seq + 1;
        let (generation, position) = match txn.prepare(&mut changes, Some(seq)) {
            Ok(g) => g,
            Err(e) => {
                // Nothing was logged or made visible: only this batch fails.
                tracing::error!(error = %e, writes = size, "preparing a batch failed; none of its writes is kept");
                let _ = txn.abort();
                for a in answers {
                    (a.send)(Err(failed("the write's batch failed", &e)));
                }
                return;
            }
        };
        let durable = self.last_checkpoint.elapsed() >= self.checkpoint_every
            || self.wal.len() >= CHECKPOINT_BYTES;
        match txn.commit(Some((&mut self.wal, seq, sync)), durable) {
            Ok(redo) => {
                self.position.store(position, Relaxed);
                self.seq = seq;
                counters.commits.fetch_add(1, Relaxed);
                counters.kept.fetch_add(kept as u64, Relaxed);
                if durable {
                    self.at_checkpoint();
                    match self.wal.truncate() {
                        Ok(()) => {
                            self.unsynced = false;
                            self.last_checkpoint = Instant::now();
                        }
                        Err(e) => self.fail(&e),
                    }
                } else {
                    self.unsynced = true;
                }
                tracing::debug!(writes = size, kept, seq, durable, "group commit");
                let commit = Commit {
                    generation,
                    position,
                    changes,
                    redo,
                };
                self.sink.committed(&commit);
                if sync || durable {
                    self.made_durable();
                }
                for a in answers {
                    (a.send)(Ok(commit.generation));
                }
            }
            Err(e) => {
                self.fail(&e);
                for a in answers {
                    (a.send)(Err(failed("the commit failed", &e)));
                }
            }
        }
    }
}

/// The error a write of a failed batch is answered with: unavailable
/// (refused, nothing kept), or unknown when the batch could not be taken
/// back out of the log.
fn failed(what: &str, e: &StoreError) -> StoreError {
    match e {
        StoreError::OutcomeUnknown(m) => StoreError::OutcomeUnknown(format!("{what}: {m}")),
        e => StoreError::Unavailable(format!("{what}: {e}")),
    }
}

/// Sender side used by [`super::Store`].
pub(super) type Queue = Sender<Msg>;

#[cfg(test)]
mod tests;
