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
