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
//!   after the commit listener ran (search told, caches invalidated), so a
//!   read that starts after the answer sees the write everywhere.
//! - A write that fails (its closure returns `Err`, panics, or its deferred
//!   index work fails) is undone alone ([`WriteTxn::rollback_write`]); its
//!   batch-mates commit.
//! - Writes of a batch run in queue order and each sees the ones before it:
//!   the result is the same as running them one by one.
//! - When the commit fails, every write of the batch gets the error, none is
//!   acknowledged, and nothing of the batch is visible.

use super::error::StoreError;
use super::txn::{ChangeSet, Commit, WriteTxn};
use redb::Database;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, RwLock};

/// Most writes in one commit. Bounds the first write's wait and the undo
/// memory of a batch.
pub const MAX_BATCH: usize = 256;

/// Told about every durable commit that changed something, on the writer's
/// thread, before the commit's writes are acknowledged.
pub trait CommitListener: Send + Sync {
    fn on_commit(&self, commit: &Commit);
}

pub(super) type ListenerSlot = Arc<RwLock<Option<Arc<dyn CommitListener>>>>;

/// One queued write: run it, or fail it without running.
pub(super) trait Job: Send {
    fn run(self: Box<Self>, txn: &mut WriteTxn) -> Answer;
    fn fail(self: Box<Self>, error: StoreError);
}

/// What a job leaves to do after the commit.
pub(super) struct Answer {
    /// The closure returned `Ok`: keep its changes.
    pub kept: bool,
    /// Sends the caller its result, given how the commit went (`Ok` with the
    /// generation, or the commit's error).
    pub send: Box<dyn FnOnce(Result<u64, StoreError>) + Send>,
}

pub(super) enum Msg {
    Write(Box<dyn Job>),
    Stop,
}

/// Runs the writer loop until `Stop` or until every sender is gone.
pub(super) fn run(db: Arc<Database>, rx: Receiver<Msg>, listener: ListenerSlot) {
    let mut stop = false;
    while !stop {
        let Ok(first) = rx.recv() else { break };
        let mut jobs = Vec::new();
        match first {
            Msg::Write(j) => jobs.push(j),
            Msg::Stop => break,
        }
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Write(j)) => jobs.push(j),
                Ok(Msg::Stop) => {
                    stop = true;
                    break;
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        commit_batch(&db, jobs, &listener);
    }
}

fn failed(what: &str, e: &StoreError) -> StoreError {
    StoreError::Unavailable(format!("{what}: {e}"))
}

/// Runs `jobs` in one transaction and commits it durably.
fn commit_batch(db: &Database, jobs: Vec<Box<dyn Job>>, listener: &ListenerSlot) {
    let size = jobs.len();
    let txn = match db.begin_write() {
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
    let mut txn = WriteTxn::new(txn, true);
    let mut answers: Vec<Answer> = Vec::with_capacity(size);
    let mut changes = ChangeSet::default();
    let mut kept = 0usize;
    let mut jobs = jobs.into_iter();
    let mut broken: Option<StoreError> = None;
    for job in jobs.by_ref() {
        let outcome = catch_unwind(AssertUnwindSafe(|| job.run(&mut txn)));
        let keep = match outcome {
            Ok(answer) if answer.kept => match txn.finish_write() {
                Ok(c) => {
                    changes.merge(c);
                    kept += 1;
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
                // The job and its reply channel were dropped while unwinding:
                // the caller sees the write aborted.
                tracing::error!("a write panicked; undoing it");
                false
            }
        };
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
    match txn.commit(changes) {
        Ok(commit) => {
            tracing::debug!(writes = size, kept, "group commit");
            if !commit.changes.is_empty() {
                let l = listener.read().ok().and_then(|l| l.clone());
                if let Some(l) = l {
                    l.on_commit(&commit);
                }
            }
            for a in answers {
                (a.send)(Ok(commit.generation));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, writes = size, "durable commit failed; no write of the batch is acknowledged");
            for a in answers {
                (a.send)(Err(failed("the commit failed", &e)));
            }
        }
    }
}

/// Sender side used by [`super::Store`].
pub(super) type Queue = Sender<Msg>;
