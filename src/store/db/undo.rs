//! Logging every table change of a write: undo records to take one write
//! back inside a shared transaction, and redo records for the write-ahead
//! log.
//!
//! Group commit runs many writes in one redb transaction, and a write that
//! fails halfway (a validation error found after it changed something, a
//! storage error, a panic) must leave its batch-mates untouched. redb's
//! savepoints cannot help: they can only be taken before a transaction opens
//! any table. So every change goes through [`Table`], which, while the log is
//! recording, remembers the previous value of each key it changes; replaying
//! those records backwards ([`UndoLog::undo`]) puts every table back as it was
//! when the write began. The same call appends the new value to the write's
//! redo bytes (see `wal`): replayed in order on top of the last durable
//! state, they rebuild every table the kept writes changed.
//!
//! # Invariants
//! - Area code never writes a redb table directly: [`Tables::open`] is the
//!   only way to a writable table, it always logs, and it refuses a table
//!   the write-ahead log could not replay (see `wal`).
//! - An undo record restores exactly one key to its state before the change
//!   that made it; records are replayed newest first, so a key changed twice
//!   ends at its oldest value.
//! - The redo bytes of a write hold its changes in the order made; an undone
//!   write's redo bytes are dropped with it.
//! - A log that is not recording (a bulk import runs alone in its own,
//!   durable transaction, whose failure aborts everything) costs nothing.

use crate::store::error::{StoreError, StoreResult};
use redb::{Key, TableDefinition, TableHandle, Value};
use std::borrow::Borrow;
use std::cell::RefCell;

/// Puts one key back as it was.
type UndoRecord = Box<dyn FnOnce(&redb::WriteTransaction) -> StoreResult<()>>;

/// The undo records and redo bytes of the write in progress.
#[derive(Default)]
pub(crate) struct UndoLog {
    recording: bool,
    records: RefCell<Vec<UndoRecord>>,
    /// Redo bytes of the write in progress (`wal::push_redo` format).
    redo: RefCell<Vec<u8>>,
}

impl UndoLog {
    pub(crate) fn new(recording: bool) -> UndoLog {
        UndoLog {
            recording,
            records: RefCell::default(),
            redo: RefCell::default(),
        }
    }

    /// Whether changes are recorded (undo records and redo bytes).
    pub(crate) fn recording(&self) -> bool {
        self.recording
    }

    /// The write in progress is kept: forgets its undo records and moves its
    /// redo bytes to the end of `batch`.
    pub(crate) fn keep(&self, batch: &mut Vec<u8>) {
        self.records.borrow_mut().clear();
        batch.append(&mut self.redo.borrow_mut());
    }

    /// Restores every key the current write changed, newest change first,
    /// and drops its redo bytes.
    pub(crate) fn undo(&self, txn: &redb::WriteTransaction) -> StoreResult<()> {
        self.redo.borrow_mut().clear();
        let records = std::mem::take(&mut *self.records.borrow_mut());
        for record in records.into_iter().rev() {
            record(txn)?;
        }
        Ok(())
    }

    fn push<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<'static, K, V>,
        key: Vec<u8>,
        old: Option<Vec<u8>>,
        new: Option<&[u8]>,
    ) {
        super::wal::push_redo(&mut self.redo.borrow_mut(), def.name(), &key, new);
        self.records.borrow_mut().push(Box::new(move |txn| {
            let mut t = txn.open_table(def)?;
            let k = K::from_bytes(&key);
            match &old {
                Some(v) => {
                    t.insert(k, V::from_bytes(v))?;
                }
                None => {
                    t.remove(k)?;
                }
            }
            Ok(())
        }));
    }
}

/// The open redb write transaction and the undo log of the write in progress.
pub(crate) struct Tables {
    pub(crate) txn: redb::WriteTransaction,
    pub(crate) undo: UndoLog,
}

impl Tables {
    /// Opens (creating if needed) a table whose changes are logged.
    pub(crate) fn open<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<'static, K, V>,
    ) -> StoreResult<Table<'_, K, V>> {
        if self.undo.recording && !crate::store::schema::replayable(def.name()) {
            return Err(StoreError::Unavailable(format!(
                "table '{}' is not replayable by the write-ahead log (list it in store/schema.rs)",
                def.name()
            )));
        }
        Ok(Table {
            inner: self.txn.open_table(def).map_err(StoreError::from)?,
            def,
            undo: &self.undo,
        })
    }
}

/// A table open for writing inside a shared transaction. Reads go straight to
/// redb (it dereferences to `redb::Table`, whose `&self` methods only read);
/// `insert` and `remove` log what they replace.
pub(crate) struct Table<'t, K: Key + 'static, V: Value + 'static> {
    inner: redb::Table<'t, K, V>,
    def: TableDefinition<'static, K, V>,
    undo: &'t UndoLog,
}

impl<'t, K: Key + 'static, V: Value + 'static> std::ops::Deref for Table<'t, K, V> {
    type Target = redb::Table<'t, K, V>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<K: Key + 'static, V: Value + 'static> Table<'_, K, V> {
    pub(crate) fn insert<'k, 'v>(
        &mut self,
        key: impl Borrow<K::SelfType<'k>>,
        value: impl Borrow<V::SelfType<'v>>,
    ) -> StoreResult<()> {
        if !self.undo.recording {
            self.inner.insert(key, value)?;
            return Ok(());
        }
        let k = K::as_bytes(key.borrow()).as_ref().to_vec();
        let new = V::as_bytes(value.borrow()).as_ref().to_vec();
        let old = self
            .inner
            .insert(key, value)?
            .map(|g| V::as_bytes(&g.value()).as_ref().to_vec());
        self.undo.push(self.def, k, old, Some(&new));
        Ok(())
    }

    /// Removes `key`; `true` if it was there.
    pub(crate) fn remove<'k>(&mut self, key: impl Borrow<K::SelfType<'k>>) -> StoreResult<bool> {
        if !self.undo.recording {
            return Ok(self.inner.remove(key)?.is_some());
        }
        let k = K::as_bytes(key.borrow()).as_ref().to_vec();
        let old = self
            .inner
            .remove(key)?
            .map(|g| V::as_bytes(&g.value()).as_ref().to_vec());
        let existed = old.is_some();
        if existed {
            self.undo.push(self.def, k, old, None);
        }
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::ReadableTable;

    const T: TableDefinition<&str, u64> = crate::store::db::meta::META;

    fn dump(txn: &redb::WriteTransaction) -> Vec<(String, u64)> {
        let t = txn.open_table(T).unwrap();
        t.iter()
            .unwrap()
            .map(|i| {
                let (k, v) = i.unwrap();
                (k.value().to_string(), v.value())
            })
            .collect()
    }

    #[test]
    fn undo_restores_inserts_overwrites_and_removes_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("u.redb")).unwrap();
        let tables = Tables {
            txn: db.begin_write().unwrap(),
            undo: UndoLog::new(true),
        };
        {
            let mut t = tables.open(T).unwrap();
            t.insert("a", 1).unwrap();
            t.insert("b", 2).unwrap();
        }
        tables.undo.keep(&mut Vec::new()); // the first write is kept
        let before = dump(&tables.txn);
        {
            let mut t = tables.open(T).unwrap();
            t.insert("a", 10).unwrap(); // overwrite
            t.insert("a", 11).unwrap(); // twice
            assert!(t.remove("b").unwrap());
            assert!(!t.remove("zz").unwrap());
            t.insert("c", 3).unwrap(); // new
        }
        assert_ne!(dump(&tables.txn), before);
        tables.undo.undo(&tables.txn).unwrap();
        assert_eq!(dump(&tables.txn), before);
    }
}
