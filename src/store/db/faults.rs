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
    errno: AtomicI32,
    /// Calls failed so far.
    injected: AtomicU64,
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
            errno: AtomicI32::new(EIO),
            injected: AtomicU64::new(0),
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
        self.syncs_left.store(n, SeqCst);
    }

    /// The disk works again (space was freed).
    pub fn heal(&self) {
        self.writes_left.store(u64::MAX, SeqCst);
        self.syncs_left.store(u64::MAX, SeqCst);
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
        self.take(&self.syncs_left)
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
        self.plan.write()?;
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.plan.sync()?;
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.plan.write()?;
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
    /// is there and nothing after the failing write is.
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
                for i in 0..WRITES {
                    match put(&store, i) {
                        Ok(()) => acked.push(i),
                        Err(e) => {
                            assert!(
                                matches!(e, StoreError::Unavailable(_)),
                                "{kind} {point}: {e:?}"
                            );
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
