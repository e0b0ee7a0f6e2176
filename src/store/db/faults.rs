//! Injected I/O failures, so that tests can show what a full or failing
//! disk does to shopd (as SQLite's I/O-error tests and redb's
//! crash-injecting fuzzer do): a [`FaultPlan`] shared by the write-ahead log
//! and a redb [`StorageBackend`] wrapping the real file ([`FaultyBackend`]).
//!
//! A plan counts the writes (page writes, file growth, log appends) and the
//! syncs that still succeed; once a count runs out, every later call of that
//! kind fails with the chosen errno (`ENOSPC`, `EIO`) until [`FaultPlan::heal`].
//! Reads always succeed: a failing disk must not stop reads of what is
//! already committed.
//!
//! Only code sets a plan (`Config::faults`, `Store::open_with_faults`); no
//! flag, variable or file does, so a production server never has one.

use redb::StorageBackend;
use redb::backends::FileBackend;
use std::io;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering::SeqCst};

/// What fails, and when. See the module docs.
#[derive(Debug)]
pub struct FaultPlan {
    writes_left: AtomicU64,
    syncs_left: AtomicU64,
    /// Like the two above, for the database file only (not the log): a
    /// checkpoint's writes and fsync.
    db_writes_left: AtomicU64,
    db_syncs_left: AtomicU64,
    /// How many syncs fail once `syncs_left` runs out before syncs work
    /// again (`u64::MAX`: all of them).
    sync_failures: AtomicU64,
    errno: AtomicI32,
    /// Calls failed so far.
    injected: AtomicU64,
    /// Run by the writer between a checkpoint's durable commit and the
    /// log's truncation (a test copies the files there).
    at_checkpoint: Hook,
}

/// A test's callback; `Debug` without showing it.
#[derive(Default)]
struct Hook(std::sync::Mutex<Option<Box<dyn FnMut() + Send>>>);

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
}

/// `ENOSPC`: no space left on the device.
pub const ENOSPC: i32 = 28;
/// `EIO`: an I/O error (what a failed `fsync` reports).
pub const EIO: i32 = 5;

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan {
            writes_left: AtomicU64::new(u64::MAX),
            syncs_left: AtomicU64::new(u64::MAX),
            db_writes_left: AtomicU64::new(u64::MAX),
            db_syncs_left: AtomicU64::new(u64::MAX),
            sync_failures: AtomicU64::new(u64::MAX),
            errno: AtomicI32::new(EIO),
            injected: AtomicU64::new(0),
            at_checkpoint: Hook::default(),
        }
    }
}

impl FaultPlan {
    /// A plan that fails nothing yet.
    pub fn new() -> Arc<FaultPlan> {
        Arc::new(FaultPlan::default())
    }

    /// After `n` more successful writes, every write fails with `errno`.
    pub fn fail_writes_after(&self, n: u64, errno: i32) {
        self.errno.store(errno, SeqCst);
        self.writes_left.store(n, SeqCst);
    }

    /// After `n` more successful syncs, every sync fails with `errno`.
    pub fn fail_syncs_after(&self, n: u64, errno: i32) {
        self.errno.store(errno, SeqCst);
        self.sync_failures.store(u64::MAX, SeqCst);
        self.syncs_left.store(n, SeqCst);
    }

    /// After `n` more successful syncs, one sync fails with `errno`; the
    /// ones after it work (a transient error).
    pub fn fail_one_sync_after(&self, n: u64, errno: i32) {
        self.errno.store(errno, SeqCst);
        self.sync_failures.store(1, SeqCst);
        self.syncs_left.store(n, SeqCst);
    }

    /// After `n` more successful writes to the database file (not the
    /// log), every such write fails with `errno`: what a checkpoint writes.
    pub fn fail_db_writes_after(&self, n: u64, errno: i32) {
        self.errno.store(errno, SeqCst);
        self.db_writes_left.store(n, SeqCst);
    }

    /// After `n` more successful syncs of the database file (not the log),
    /// every such sync fails with `errno`: a checkpoint's fsync.
    pub fn fail_db_syncs_after(&self, n: u64, errno: i32) {
        self.errno.store(errno, SeqCst);
        self.db_syncs_left.store(n, SeqCst);
    }

    /// The disk works again (space was freed).
    pub fn heal(&self) {
        for left in [
            &self.writes_left,
            &self.syncs_left,
            &self.db_writes_left,
            &self.db_syncs_left,
            &self.sync_failures,
        ] {
            left.store(u64::MAX, SeqCst);
        }
    }

    /// Runs `f` on the writer thread after each checkpoint's durable
    /// commit, before the log is emptied.
    pub fn at_checkpoint(&self, f: impl FnMut() + Send + 'static) {
        if let Ok(mut h) = self.at_checkpoint.0.lock() {
            *h = Some(Box::new(f));
        }
    }

    /// The writer reached the point [`FaultPlan::at_checkpoint`] names.
    pub(crate) fn checkpointed(&self) {
        if let Ok(mut h) = self.at_checkpoint.0.lock()
            && let Some(f) = h.as_mut()
        {
            f();
        }
    }

    /// How many calls have failed so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(SeqCst)
    }

    fn take(&self, left: &AtomicU64) -> io::Result<()> {
        let ok = left
            .fetch_update(SeqCst, SeqCst, |n| match n {
                u64::MAX => Some(u64::MAX),
                0 => None,
                n => Some(n - 1),
            })
            .is_ok();
        if ok {
            Ok(())
        } else {
            self.injected.fetch_add(1, SeqCst);
            Err(io::Error::from_raw_os_error(self.errno.load(SeqCst)))
        }
    }

    /// Called before a write; `Err` when the plan says this one fails.
    pub(crate) fn write(&self) -> io::Result<()> {
        self.take(&self.writes_left)
    }

    /// Called before a sync; `Err` when the plan says this one fails.
    pub(crate) fn sync(&self) -> io::Result<()> {
        let failed = self.take(&self.syncs_left);
        if failed.is_err() {
            let left = self
                .sync_failures
                .fetch_update(SeqCst, SeqCst, |n| match n {
                    u64::MAX => Some(u64::MAX),
                    n => Some(n.saturating_sub(1)),
                });
            if left == Ok(1) {
                // That was the last failure of a transient error.
                self.syncs_left.store(u64::MAX, SeqCst);
            }
        }
        failed
    }

    /// Called before a write of the database file.
    fn db_write(&self) -> io::Result<()> {
        self.write().and_then(|()| self.take(&self.db_writes_left))
    }

    /// Called before a sync of the database file.
    fn db_sync(&self) -> io::Result<()> {
        self.sync().and_then(|()| self.take(&self.db_syncs_left))
    }
}

/// The plan's check, when there is a plan.
pub(crate) fn check(
    plan: &Option<Arc<FaultPlan>>,
    f: impl Fn(&FaultPlan) -> io::Result<()>,
) -> io::Result<()> {
    plan.as_deref().map_or(Ok(()), f)
}

/// redb's file backend with the plan's failures in front of its writes,
/// growth and syncs. Locks and reads go straight through.
#[derive(Debug)]
pub(crate) struct FaultyBackend {
    inner: FileBackend,
    plan: Arc<FaultPlan>,
}

impl FaultyBackend {
    pub(crate) fn new(
        file: std::fs::File,
        plan: Arc<FaultPlan>,
    ) -> Result<Self, redb::DatabaseError> {
        Ok(FaultyBackend {
            inner: FileBackend::new(file)?,
            plan,
        })
    }
}

impl StorageBackend for FaultyBackend {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.plan.db_write()?;
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.plan.db_sync()?;
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.plan.db_write()?;
        self.inner.write(offset, data)
    }

    fn close(&self) -> io::Result<()> {
        self.inner.close()
    }

    fn try_lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Brand, Id};
    use crate::store::{Store, StoreError};

    fn brand(i: u32) -> Brand {
        Brand {
            id: Id::parse(&format!("b{i:03}")).unwrap(),
            title: format!("Brand {i}"),
            description: String::new(),
            logo: None,
        }
    }

    fn put(store: &Store, i: u32) -> Result<(), StoreError> {
        store.write_blocking(move |tx| tx.catalog().put_brand(&brand(i)))
    }

    fn has(store: &Store, i: u32) -> bool {
        store
            .read()
            .unwrap()
            .catalog()
            .brand(&format!("b{i:03}"))
            .unwrap()
            .is_some()
    }

    /// A failure injected at every write or sync point in turn, with
    /// `ENOSPC` and `EIO`: the failing write and every later one are
    /// refused (also once the disk is healed: fail-stop until restart),
    /// reads keep answering, and after a restart every acknowledged write
    /// is there, the refused one is not (unless its answer said its
    /// outcome is unknown) and nothing after it is.
    #[test]
    fn acknowledged_writes_survive_a_failure_at_every_point() {
        const WRITES: u32 = 12;
        let mut failures_seen = 0;
        for (kind, errno) in [("write", ENOSPC), ("sync", EIO), ("write", EIO)] {
            for point in 0..24 {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("f.redb");
                let plan = FaultPlan::new();
                let store = Store::open_with(
                    &path,
                    crate::store::StoreOptions {
                        faults: Some(plan.clone()),
                        ..Default::default()
                    },
                )
                .unwrap();
                match kind {
                    "write" => plan.fail_writes_after(point, errno),
                    _ => plan.fail_syncs_after(point, errno),
                }
                let mut acked = Vec::new();
                let mut failed_at = None;
                // Whether the refused write was taken back for sure (else
                // its outcome is unknown: the take-back failed too).
                let mut refused = true;
                for i in 0..WRITES {
                    match put(&store, i) {
                        Ok(()) => acked.push(i),
                        Err(e) => {
                            assert!(
                                matches!(
                                    e,
                                    StoreError::Unavailable(_) | StoreError::OutcomeUnknown(_)
                                ),
                                "{kind} {point}: {e:?}"
                            );
                            refused = matches!(e, StoreError::Unavailable(_));
                            failed_at = Some(i);
                            break;
                        }
                    }
                }
                if let Some(i) = failed_at {
                    failures_seen += 1;
                    assert!(store.write_failure().is_some(), "{kind} {point}");
                    plan.heal();
                    assert!(put(&store, i + 1).is_err(), "{kind} {point}: fail-stop");
                    for a in &acked {
                        assert!(has(&store, *a), "{kind} {point}: read of {a}");
                    }
                    assert!(
                        !has(&store, i),
                        "{kind} {point}: the refused write is not visible"
                    );
                }
                drop(store);
                let store = Store::open(&path).unwrap();
                for a in &acked {
                    assert!(has(&store, *a), "{kind} {point}: acknowledged {a} lost");
                }
                if let Some(i) = failed_at
                    && refused
                {
                    assert!(!has(&store, i), "{kind} {point}: the refused {i} came back");
                }
                let next = failed_at.map_or(WRITES, |i| i + 1);
                for later in next..WRITES {
                    assert!(
                        !has(&store, later),
                        "{kind} {point}: {later} was never sent"
                    );
                }
                put(&store, 500).expect("writes work again after the restart");
            }
        }
        // Points past the last write of a run fail nothing; most must hit.
        assert!(
            failures_seen >= 30,
            "the plan hit only {failures_seen} runs"
        );
    }
}
