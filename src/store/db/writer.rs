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
mod tests {
    use crate::domain::Category;
    use crate::domain::listing::{ProductFilter, ProductSort};
    use crate::store::test_records::{brand, id, product};
    use crate::store::{Commit, CommitSink, Store, StoreError, StoreOptions};
    use std::sync::{Arc, Mutex, mpsc};

    type TestWrite = Box<dyn FnOnce(&mut crate::store::WriteTxn) -> Result<(), String> + Send>;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Commit>>, Mutex<u64>);

    impl CommitSink for Recorder {
        fn committed(&self, c: &Commit) {
            self.0.lock().unwrap().push(c.clone());
        }

        fn synced(&self, position: u64) {
            let mut s = self.1.lock().unwrap();
            assert!(position > *s, "synced goes forward");
            *s = position;
        }
    }

    #[test]
    fn a_relaxed_commit_is_reported_synced_only_after_its_fsync() {
        let (_dir, store, rec) = open();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let synced = || *rec.1.lock().unwrap();
        assert_eq!(synced(), store.position(), "a synced write is synced");
        let p = product("relaxed", 7);
        rt.block_on(store.write_relaxed(move |tx| tx.catalog().put_product(&p)))
            .unwrap();
        assert!(
            synced() < store.position(),
            "a relaxed write is not synced yet"
        );
        rt.block_on(store.sync()).unwrap();
        assert_eq!(synced(), store.position());
        // A synced batch covers the relaxed ones before it.
        let (p, q) = (product("relaxed-2", 8), product("durable", 9));
        rt.block_on(store.write_relaxed(move |tx| tx.catalog().put_product(&p)))
            .unwrap();
        store
            .write_blocking(move |tx| tx.catalog().put_product(&q))
            .unwrap();
        assert_eq!(synced(), store.position());
    }

    fn open() -> (tempfile::TempDir, Store, Arc<Recorder>) {
        open_with(StoreOptions::default())
    }

    fn open_with(options: StoreOptions) -> (tempfile::TempDir, Store, Arc<Recorder>) {
        let dir = tempfile::tempdir().unwrap();
        let rec = Arc::new(Recorder::default());
        let store = Store::open_with(
            &dir.path().join("t.redb"),
            StoreOptions {
                sink: rec.clone(),
                ..options
            },
        )
        .unwrap();
        store
            .write_blocking(|tx| {
                let mut c = tx.catalog();
                c.put_brand(&brand("b1", "Acme"))?;
                c.put_category(&Category {
                    id: id("c1"),
                    title: "Tools".into(),
                    description: String::new(),
                    parent_id: None,
                })?;
                c.put_product(&product("p1", 1_000))
            })
            .unwrap();
        (dir, store, rec)
    }

    /// (total, ids) of the `all` list, cheapest first: what the indexes say.
    fn listed(store: &Store) -> (u64, Vec<String>) {
        let page = store
            .read()
            .unwrap()
            .catalog()
            .list_products(&ProductFilter::default(), ProductSort::PriceAsc, 0, 100)
            .unwrap();
        (page.total, page.hits.into_iter().map(|h| h.id).collect())
    }

    #[test]
    fn a_failing_or_panicking_write_is_undone_alone_and_its_batch_mates_commit() {
        let (_dir, store, rec) = open();
        let commits_before = store.write_stats().commits;
        // Hold the writer inside a first write while the others queue up,
        // so they all land in the next batch.
        let (entered_tx, entered) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let blocker = {
            let store = store.clone();
            std::thread::spawn(move || {
                store.write_blocking(move |_| {
                    entered_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    Ok::<_, StoreError>(())
                })
            })
        };
        entered.recv().unwrap();
        let submit = |f: TestWrite| {
            let store = store.clone();
            let t = std::thread::spawn(move || {
                store.write_blocking(move |tx| f(tx).map_err(WriteError::Mine))
            });
            // Queue in this order.
            std::thread::sleep(std::time::Duration::from_millis(30));
            t
        };
        #[derive(Debug)]
        enum WriteError {
            Mine(String),
            Store(StoreError),
        }
        impl From<StoreError> for WriteError {
            fn from(e: StoreError) -> Self {
                WriteError::Store(e)
            }
        }
        let a = submit(Box::new(|tx| {
            let mut c = tx.catalog();
            c.put_product(&product("p2", 2_000))
                .map_err(|e| e.to_string())
        }));
        // Changes a product (its index entries and counters), a brand and
        // a new product, then fails.
        let b = submit(Box::new(|tx| {
            let mut c = tx.catalog();
            c.put_product(&product("p1", 9_999)).unwrap();
            c.put_brand(&brand("b1", "Renamed")).unwrap();
            c.put_product(&product("p3", 3_000)).unwrap();
            Err("b changed its mind".into())
        }));
        // Deletes a product, then panics.
        let c = submit(Box::new(|tx| {
            let mut c = tx.catalog();
            c.delete_product("p1").unwrap();
            panic!("c panics after deleting p1");
        }));
        // Sees what `a` wrote (same batch, later in the queue).
        let d = submit(Box::new(|tx| {
            let mut c = tx.catalog();
            assert!(c.product_exists("p2").unwrap());
            c.put_product(&product("p4", 4_000))
                .map_err(|e| e.to_string())
        }));
        release.send(()).unwrap();
        blocker.join().unwrap().unwrap();
        a.join().unwrap().unwrap();
        assert!(matches!(
            b.join().unwrap(),
            Err(WriteError::Mine(m)) if m == "b changed its mind"
        ));
        assert!(matches!(
            c.join().unwrap(),
            Err(WriteError::Store(StoreError::Unavailable(_)))
        ));
        d.join().unwrap().unwrap();

        // Only a and d are there; b's and c's changes are gone, indexes and
        // counters included.
        assert_eq!(
            listed(&store),
            (3, vec!["p1".into(), "p2".into(), "p4".into()])
        );
        let txn = store.read().unwrap();
        assert_eq!(
            txn.catalog()
                .product("p1")
                .unwrap()
                .unwrap()
                .to_domain()
                .unwrap(),
            product("p1", 1_000)
        );
        assert!(txn.catalog().product("p3").unwrap().is_none());
        let b1 = txn
            .catalog()
            .brand("b1")
            .unwrap()
            .unwrap()
            .to_domain()
            .unwrap();
        assert_eq!(b1.title, "Acme");
        assert_eq!(txn.catalog().counts().unwrap().products, 3);
        // The blocker's batch, then one commit for a..d.
        let stats = store.write_stats();
        assert_eq!(stats.commits - commits_before, 2, "{stats:?}");
        assert_eq!(stats.undone, 2);
        let last = rec.0.lock().unwrap().last().cloned().unwrap();
        let written: Vec<&str> = last
            .changes
            .catalog
            .products
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(written, ["p2", "p4"], "only kept writes are reported");
        assert!(last.changes.catalog.brands.is_empty());
    }

    #[test]
    fn concurrent_writes_share_commits_and_all_land() {
        let (_dir, store, rec) = open();
        let before = store.write_stats();
        let threads: Vec<_> = (0..64)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..10 {
                        let p = product(&format!("q{t:02}-{i}"), 100 + t * 10 + i);
                        store
                            .write_blocking(move |tx| tx.catalog().put_product(&p))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let after = store.write_stats();
        assert_eq!(after.kept - before.kept, 640);
        assert!(
            after.commits - before.commits < 640,
            "no batching: {} commits for 640 writes",
            after.commits - before.commits
        );
        assert_eq!(listed(&store).0, 641);
        let reported: usize = rec
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.changes.catalog.products.len())
            .sum();
        assert_eq!(
            reported, 641,
            "every kept write reported to the listener once"
        );
    }

    /// What a crash leaves: the database and log files as the OS holds
    /// them (a killed process loses nothing the kernel already has).
    fn crash_copy(store: &Store, to: &std::path::Path) -> std::path::PathBuf {
        let db = to.join("t.redb");
        std::fs::copy(store.path(), &db).unwrap();
        std::fs::copy(
            crate::store::db::wal::Wal::path_for(store.path()),
            crate::store::db::wal::Wal::path_for(&db),
        )
        .unwrap();
        db
    }

    #[test]
    fn batches_only_in_the_log_are_replayed_after_a_crash() {
        // Long enough that the 20 writes below all land within one
        // interval, even on a busy machine.
        let every = std::time::Duration::from_secs(2);
        let (_dir, store, _) = open_with(StoreOptions {
            checkpoint_every: every,
            ..StoreOptions::default()
        });
        // A checkpoint, then batches durable only in the log (written well
        // within one interval).
        std::thread::sleep(every + std::time::Duration::from_millis(100));
        let p = product("first", 400);
        store
            .write_blocking(move |tx| tx.catalog().put_product(&p))
            .unwrap();
        std::thread::sleep(every + std::time::Duration::from_millis(100));
        for i in 0..20 {
            let p = product(&format!("w{i}"), 500 + i);
            store
                .write_blocking(move |tx| tx.catalog().put_product(&p))
                .unwrap();
        }
        let expected = listed(&store);
        assert_eq!(expected.0, 22);
        let copy = tempfile::tempdir().unwrap();
        let db = crash_copy(&store, copy.path());
        assert!(
            std::fs::metadata(crate::store::db::wal::Wal::path_for(&db))
                .unwrap()
                .len()
                > 0,
            "the batches are in the log"
        );
        // Without the log, the database file alone has only the checkpoint.
        let no_log = tempfile::tempdir().unwrap();
        let bare = no_log.path().join("t.redb");
        std::fs::copy(&db, &bare).unwrap();
        assert_eq!(listed(&Store::open(&bare).unwrap()).0, 2);
        let reopened = Store::open(&db).unwrap();
        assert_eq!(listed(&reopened), expected);
        let txn = reopened.read().unwrap();
        assert_eq!(
            txn.catalog()
                .product("w19")
                .unwrap()
                .unwrap()
                .to_domain()
                .unwrap(),
            product("w19", 519)
        );
        assert_eq!(txn.catalog().counts().unwrap().products, 22);
        drop(txn);
        // Recovery checkpointed and emptied the log; new writes go on.
        assert_eq!(
            std::fs::metadata(crate::store::db::wal::Wal::path_for(&db))
                .unwrap()
                .len(),
            0
        );
        let p = product("after", 42);
        reopened
            .write_blocking(move |tx| tx.catalog().put_product(&p))
            .unwrap();
        assert_eq!(listed(&reopened).0, 23);
    }

    #[test]
    fn files_copied_between_a_checkpoint_commit_and_the_log_truncation_recover() {
        let plan = crate::store::db::faults::FaultPlan::new();
        let (dir, store, _) = open_with(StoreOptions {
            checkpoint_every: std::time::Duration::from_millis(50),
            faults: Some(plan.clone()),
            ..StoreOptions::default()
        });
        // At the first checkpoint that has something to fold in: copy the
        // files as a crash there would leave them.
        let copy = tempfile::tempdir().unwrap();
        let (db, to) = (dir.path().join("t.redb"), copy.path().join("t.redb"));
        let copied = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let (db, to, copied) = (db.clone(), to.clone(), copied.clone());
            let wal = |p: &std::path::Path| crate::store::db::wal::Wal::path_for(p);
            plan.at_checkpoint(move || {
                if !copied.load(std::sync::atomic::Ordering::SeqCst)
                    && std::fs::metadata(wal(&db)).map_or(0, |m| m.len()) > 0
                {
                    std::fs::copy(&db, &to).unwrap();
                    std::fs::copy(wal(&db), wal(&to)).unwrap();
                    copied.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
        for i in 0..30 {
            let p = product(&format!("c{i}"), 100 + i);
            store
                .write_blocking(move |tx| tx.catalog().put_product(&p))
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(
            copied.load(std::sync::atomic::Ordering::SeqCst),
            "no checkpoint ran"
        );
        let expected = listed(&store);
        store.close().unwrap();
        // The copy: a database that holds every logged batch, and a log
        // that still has them. Replaying them again must change nothing.
        let reopened = Store::open(&to).unwrap();
        let (total, ids) = listed(&reopened);
        assert!(total >= 2, "{total}");
        assert_eq!(
            reopened
                .read()
                .unwrap()
                .catalog()
                .counts()
                .unwrap()
                .products,
            total
        );
        // Every product the copy holds is one the store had, with the same
        // list order; nothing is doubled.
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(unique, ids);
        assert!(ids.iter().all(|id| expected.1.contains(id)), "{ids:?}");
    }

    #[test]
    fn writes_after_close_fail_cleanly() {
        let (dir, store, _) = open();
        let other = store.clone();
        store.close().unwrap();
        // Every handle sees the store closed: no write, no read.
        let p = product("late", 1);
        assert!(matches!(
            other.write_blocking(move |tx| tx.catalog().put_product(&p)),
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(other.read(), Err(StoreError::Unavailable(_))));
        store.close().unwrap();
        // The file is released at once, though `other` is alive: it opens
        // again, with every acknowledged write.
        let again = Store::open(&dir.path().join("t.redb")).unwrap();
        assert_eq!(listed(&again).0, 1);
        drop(other);
    }
}
