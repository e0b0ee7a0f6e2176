//! The store's core, the same for every area: the [`Store`] handle (open,
//! read, the one write path, close), the writer thread and its group commit
//! ([`writer`]), the write transaction every area writes into ([`txn`]) and
//! taking one write back ([`undo`]), the write-ahead log ([`wal`]) and its
//! checkpoints, snapshots and replicated commits ([`snapshot`]), the
//! `meta` table ([`meta`]), read transactions ([`read`]) and injected
//! storage faults for tests ([`faults`]).
//!
//! The core knows no area's tables by name: it reaches them through
//! [`super::schema`] (creation, replay, dumps) and through each area's
//! reader and writer ([`read::ReadTxn`], [`txn::WriteTxn`]).

pub mod faults;
pub(crate) mod meta;
pub(crate) mod read;
pub(crate) mod snapshot;
pub(crate) mod txn;
pub(crate) mod undo;
pub(crate) mod wal;
pub(crate) mod writer;

use super::error::{StoreError, StoreResult};
use read::ReadTxn;
use txn::{Commit, WriteTxn};
use writer::{CommitSink, NoSink, WriteStats};

use redb::{Database, ReadableDatabase};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use writer::{Answer, Job, Msg};

/// How long [`Store::close`] waits for readers still holding the database.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

thread_local! {
    /// Read transactions begun on this thread, ever.
    static LOOKUPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Read transactions begun on the calling thread so far: one per consistent
/// snapshot a request reads, the store's counterpart of a database query.
/// The difference across a piece of work is what that work cost.
pub fn lookups_on_this_thread() -> u64 {
    LOOKUPS.with(|c| c.get())
}

/// Handle to the open database; cheap to clone, shared by all workers.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` once closed: every later read or write fails.
    db: arc_swap::ArcSwapOption<Database>,
    path: PathBuf,
    sink: Arc<dyn CommitSink>,
    counters: Arc<writer::WriteCounters>,
    /// The committed position (see `meta`), kept current by every commit.
    position: Arc<std::sync::atomic::AtomicU64>,
    /// A follower's store: every write is refused (`StoreError::ReadOnly`);
    /// only commits applied from the leader change it.
    read_only: std::sync::atomic::AtomicBool,
    /// Brands and categories decoded in memory (see `catalog::taxonomy`).
    taxonomy: super::catalog::taxonomy::TaxonomySlot,
    /// The writer thread's queue and handle; `None` once closed.
    writer: Mutex<Option<(writer::Queue, std::thread::JoinHandle<()>)>>,
}

/// A queued write: the caller's closure and where its answer goes.
struct WriteJob<F, T, E> {
    f: F,
    reply: tokio::sync::oneshot::Sender<Result<T, E>>,
    /// The caller's span (its request), entered while `f` runs.
    span: tracing::Span,
    /// Wait for the log's fsync before answering.
    sync: bool,
}

impl<F, T, E> Job for WriteJob<F, T, E>
where
    F: FnOnce(&mut WriteTxn) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, txn: &mut WriteTxn) -> Answer {
        let WriteJob {
            f,
            reply,
            span,
            sync,
        } = *self;
        match span.in_scope(|| f(txn)) {
            Ok(value) => Answer {
                kept: true,
                sync,
                send: Box::new(move |committed| {
                    let _ = reply.send(committed.map(|_| value).map_err(E::from));
                }),
            },
            Err(e) => Answer {
                kept: false,
                sync: false,
                send: Box::new(move |committed| {
                    let _ = reply.send(Err(match committed {
                        Ok(_) => e,
                        Err(commit_error) => E::from(commit_error),
                    }));
                }),
            },
        }
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(E::from(error)));
    }
}

/// How a store opens.
pub struct StoreOptions {
    /// Told about every commit: what a commit sets off (search, caches, job
    /// wake-ups, replication). It holds no store.
    pub sink: Arc<dyn CommitSink>,
    /// Injected I/O failures (tests of storage errors; see [`faults`]).
    pub faults: Option<Arc<faults::FaultPlan>>,
    /// How often the write-ahead log is checkpointed while writes come
    /// (`--checkpoint-every`).
    pub checkpoint_every: std::time::Duration,
    /// What to do with a log damaged in the middle (`--accept-log-loss`).
    pub recovery: wal::Recovery,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sink: Arc::new(NoSink),
            faults: None,
            checkpoint_every: writer::CHECKPOINT_EVERY,
            recovery: wal::Recovery::Strict,
        }
    }
}

impl Store {
    /// Opens (creating if needed) the database file at `path`, creates missing
    /// tables, checks the schema version and starts the writer thread.
    pub fn open(path: &Path) -> StoreResult<Store> {
        Store::open_with(path, StoreOptions::default())
    }

    /// [`Store::open`] with a commit sink (and, in tests, injected faults).
    pub(crate) fn open_with(path: &Path, options: StoreOptions) -> StoreResult<Store> {
        let StoreOptions {
            sink,
            faults,
            checkpoint_every,
            recovery,
        } = options;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Engine(redb::Error::Io(e)))?;
        }
        let parts = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            open_parts(path, faults.clone(), recovery)
        }));
        let (db, wal, seq, position) = match parts {
            Ok(Ok(parts)) => parts,
            Ok(Err(e)) => return Err(damaged(path, e)),
            Err(panic) => {
                let detail = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("reading it failed");
                return Err(StoreError::Damaged {
                    path: path.display().to_string(),
                    detail: detail.to_string(),
                });
            }
        };
        sink.opened(position);
        let position = Arc::new(std::sync::atomic::AtomicU64::new(position));
        let db = Arc::new(db);
        let counters = Arc::new(writer::WriteCounters::default());
        let (tx, rx) = mpsc::channel();
        let thread = {
            let writer = writer::Writer {
                db: db.clone(),
                sink: sink.clone(),
                counters: counters.clone(),
                position: position.clone(),
                wal,
                seq,
                last_checkpoint: std::time::Instant::now(),
                checkpoint_every,
                faults,
                unsynced: false,
                failed: None,
                synced: position.load(std::sync::atomic::Ordering::Relaxed),
            };
            std::thread::Builder::new()
                .name("shopd-writer".into())
                .spawn(move || writer.run(rx))
                .map_err(|e| StoreError::Engine(redb::Error::Io(e)))?
        };
        Ok(Store {
            inner: Arc::new(Inner {
                db: arc_swap::ArcSwapOption::new(Some(db)),
                path: path.to_path_buf(),
                sink,
                counters,
                position,
                read_only: std::sync::atomic::AtomicBool::new(false),
                taxonomy: Default::default(),
                writer: Mutex::new(Some((tx, thread))),
            }),
        })
    }

    /// Commits and writes the writer made since the store opened.
    pub(crate) fn write_stats(&self) -> WriteStats {
        self.inner.counters.read()
    }

    /// Why the writer refuses every write until restart (a failed log
    /// append or sync, a failed commit or checkpoint); `None` while it
    /// accepts writes.
    pub(crate) fn write_failure(&self) -> Option<String> {
        self.inner.counters.failure.get().cloned()
    }

    /// The current generation (see [`meta::META`]).
    pub(crate) fn generation(&self) -> StoreResult<u64> {
        Ok(meta::Facts::committed(&*self.db()?)?.generation)
    }

    /// The committed position (see [`meta::META`]): what `X-Generation`
    /// reports. Read from memory; never behind what a reader can see.
    pub(crate) fn position(&self) -> u64 {
        self.inner
            .position
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Refuses every later write with [`StoreError::ReadOnly`] (a
    /// follower: only [`Store::apply_replicated`] changes it).
    pub(crate) fn set_read_only(&self) {
        self.inner
            .read_only
            .store(true, std::sync::atomic::Ordering::Release);
    }

    pub(crate) fn is_read_only(&self) -> bool {
        self.inner
            .read_only
            .load(std::sync::atomic::Ordering::Acquire)
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The open database, or `Unavailable` once closed. (Reads take it
    /// without touching its reference count: [`Store::read`].)
    pub(crate) fn db(&self) -> StoreResult<Arc<Database>> {
        self.inner.db.load_full().ok_or_else(closed)
    }

    /// A consistent snapshot for reading.
    pub fn read(&self) -> StoreResult<ReadTxn> {
        LOOKUPS.with(|c| c.set(c.get() + 1));
        let db = self.inner.db.load();
        let db = db.as_ref().ok_or_else(closed)?;
        Ok(ReadTxn::new(db.begin_read()?, self.inner.taxonomy.clone()))
    }

    fn submit<T, E, F>(&self, f: F, sync: bool) -> tokio::sync::oneshot::Receiver<Result<T, E>>
    where
        F: FnOnce(&mut WriteTxn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let job: Box<dyn Job> = Box::new(WriteJob {
            f,
            reply,
            span: tracing::Span::current(),
            sync,
        });
        if self.is_read_only() {
            job.fail(StoreError::ReadOnly);
            return rx;
        }
        let writer = self.inner.writer.lock().ok();
        match writer.as_ref().and_then(|w| w.as_ref()) {
            Some((queue, _)) => {
                if let Err(mpsc::SendError(Msg::Write(job))) = queue.send(Msg::Write(job)) {
                    job.fail(StoreError::Unavailable("the writer has stopped".into()));
                }
            }
            None => job.fail(StoreError::Unavailable("the store is closed".into())),
        }
        rx
    }

    /// Runs `f` in the shared write transaction (group commit) and returns
    /// its result once the transaction is durable; on `Err` nothing `f`
    /// wrote is kept. `f` runs on the writer thread: keep it to storage work.
    pub(crate) async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut WriteTxn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.submit(f, true)
            .await
            .unwrap_or_else(|_| Err(E::from(aborted())))
    }

    /// [`Store::write`] for bookkeeping that may be lost on a power cut
    /// (not on a process crash): answered after the commit is visible and
    /// its log record written, without waiting for the record's `fdatasync`
    /// (the next synced batch or checkpoint covers it). The job queue's
    /// leases and attempt results use it: losing one only runs a job again,
    /// which at-least-once delivery allows. A relaxed write that shares a
    /// batch with a durable one is synced with it.
    pub(crate) async fn write_relaxed<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut WriteTxn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.submit(f, false)
            .await
            .unwrap_or_else(|_| Err(E::from(aborted())))
    }

    /// [`Store::write`] for threads that may block (CLI, tests, benches).
    /// Must not be called on an async runtime's worker thread.
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut WriteTxn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.submit(f, true)
            .blocking_recv()
            .unwrap_or_else(|_| Err(E::from(aborted())))
    }

    /// Runs `f` in a transaction of its own on the calling thread, without
    /// undo records (a bulk import: all or nothing, too big to log). Waits
    /// for the writer's current commit; the writer waits for this one.
    pub fn write_alone<T, E>(&self, f: impl FnOnce(&mut WriteTxn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        if self.is_read_only() {
            return Err(StoreError::ReadOnly.into());
        }
        let mut txn = WriteTxn::new(self.db()?.begin_write().map_err(StoreError::from)?, false);
        let out = f(&mut txn)?;
        let mut changes = txn.finish_write()?;
        let (generation, position) = txn.prepare(&mut changes, None)?;
        let redo = txn.commit(None, true)?;
        self.inner
            .position
            .store(position, std::sync::atomic::Ordering::Release);
        let commit = Commit {
            generation,
            position,
            changes,
            redo,
        };
        self.notify(&commit);
        self.inner.sink.synced(position);
        Ok(out)
    }

    /// Makes every commit so far survive a power cut (fsyncs the log
    /// records of relaxed writes), and waits for it. Whatever must never be
    /// taken back — a snapshot a follower will install — waits for this.
    pub(crate) async fn sync(&self) -> StoreResult<()> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let sent = {
            let writer = self.inner.writer.lock().ok();
            match writer.as_ref().and_then(|w| w.as_ref()) {
                Some((queue, _)) => queue.send(Msg::Sync(reply)).is_ok(),
                None => false,
            }
        };
        if !sent {
            return Err(StoreError::Unavailable("the store is closed".into()));
        }
        rx.await.unwrap_or_else(|_| Err(aborted()))
    }

    /// Tells the commit sink about `commit`.
    fn notify(&self, commit: &Commit) {
        self.inner.sink.committed(commit);
    }

    /// Closes the database now, whoever else holds a handle: stops the
    /// writer after the batch it is committing (its last checkpoint makes
    /// every commit durable in the file) and releases the file. Every later
    /// read or write, through any handle, fails with
    /// [`StoreError::Unavailable`]. Closing twice is harmless.
    pub fn close(&self) -> StoreResult<()> {
        self.inner.stop_writer();
        let Some(db) = self.inner.db.swap(None) else {
            return Ok(());
        };
        let path = self.inner.path.display().to_string();
        // A reader between loading the handle and ending its transaction
        // may still hold it: wait for it (briefly), so that the file's lock
        // is released when `close` returns and the next open (a restart, a
        // restore) does not find the database "already open".
        let deadline = std::time::Instant::now() + CLOSE_WAIT;
        let mut db = db;
        loop {
            match Arc::try_unwrap(db) {
                Ok(db) => {
                    return db
                        .close()
                        .map_err(|source| StoreError::Open { path, source });
                }
                Err(held) if std::time::Instant::now() < deadline => {
                    db = held;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(_) => {
                    tracing::warn!(
                        path,
                        "storage is still in use after {CLOSE_WAIT:?}; its file is released when \
                         the last reader ends"
                    );
                    return Ok(());
                }
            }
        }
    }
}

impl Inner {
    /// Stops the writer after the batch it is committing and waits for it,
    /// so the file is released when the last handle goes.
    fn stop_writer(&self) {
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some((queue, thread)) = writer {
            let _ = queue.send(Msg::Stop);
            // A write closure may hold the last handle; the writer cannot
            // wait for itself.
            if thread.thread().id() != std::thread::current().id() && thread.join().is_err() {
                tracing::error!("the writer thread panicked");
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_writer();
    }
}

/// The write-ahead log file beside the database file `db`.
pub fn wal_path(db: &Path) -> PathBuf {
    wal::Wal::path_for(db)
}

fn closed() -> StoreError {
    StoreError::Unavailable("the store is closed".into())
}

fn aborted() -> StoreError {
    StoreError::Unavailable("the write was aborted (it panicked, or the store closed)".into())
}

/// Opens the file, checks its integrity, creates missing tables, replays
/// the write-ahead log: the database, the log, its last sequence number and
/// the committed position.
fn open_parts(
    path: &Path,
    faults: Option<Arc<faults::FaultPlan>>,
    recovery: wal::Recovery,
) -> StoreResult<(Database, wal::Wal, u64, u64)> {
    let opened = match &faults {
        None => Database::create(path),
        Some(plan) => std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(redb::DatabaseError::from)
            .and_then(|file| faults::FaultyBackend::new(file, plan.clone()))
            .and_then(|backend| redb::Builder::new().create_with_backend(backend)),
    };
    let mut db = opened.map_err(|source| StoreError::Open {
        path: path.display().to_string(),
        source,
    })?;
    // Every page against its checksum: flipped bytes anywhere in the file
    // must stop the start, not become wrong answers later.
    let started = std::time::Instant::now();
    match db.check_integrity() {
        Ok(true) => {}
        Ok(false) => {
            return Err(StoreError::Damaged {
                path: path.display().to_string(),
                detail: "it failed its integrity check; what redb could repair may lack \
                         acknowledged writes"
                    .into(),
            });
        }
        Err(e) => {
            return Err(StoreError::Damaged {
                path: path.display().to_string(),
                detail: format!("integrity check: {e}"),
            });
        }
    }
    tracing::debug!(
        millis = started.elapsed().as_millis() as u64,
        "database integrity checked"
    );
    let txn = db.begin_write()?;
    if let Some(found) = meta::check_schema(&txn)? {
        return Err(StoreError::Schema {
            found,
            supported: meta::SCHEMA_VERSION,
        });
    }
    super::schema::create_all(&txn)?;
    txn.commit()?;
    let (wal, seq) = wal::recover(&db, &wal::Wal::path_for(path), faults, recovery)?;
    let position = meta::Facts::committed(&db)?.position;
    Ok((db, wal, seq, position))
}

/// An error met while opening `path`, as the user should read it: the
/// file's damage ([`StoreError::Damaged`]) unless it is about something
/// else (the file is in use, cannot be opened, or is from another version).
fn damaged(path: &Path, e: StoreError) -> StoreError {
    use redb::{DatabaseError as D, StorageError as S};
    match e {
        StoreError::Open {
            source: D::DatabaseAlreadyOpen | D::LockProtocolMismatch | D::UpgradeRequired(_),
            ..
        }
        | StoreError::Schema { .. }
        | StoreError::LogDamaged { .. }
        | StoreError::Damaged { .. } => e,
        StoreError::Open {
            source: D::Storage(S::Io(ref io)),
            ..
        } if io.kind() != std::io::ErrorKind::InvalidData
            && io.kind() != std::io::ErrorKind::UnexpectedEof =>
        {
            e
        }
        StoreError::Open { source, .. } => StoreError::Damaged {
            path: path.display().to_string(),
            detail: source.to_string(),
        },
        other => StoreError::Damaged {
            path: path.display().to_string(),
            detail: other.to_string(),
        },
    }
}
