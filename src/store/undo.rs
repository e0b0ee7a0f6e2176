//! Undoing one write inside a shared transaction.
//!
//! Group commit runs many writes in one redb transaction, and a write that
//! fails halfway (a validation error found after it changed something, a
//! storage error, a panic) must leave its batch-mates untouched. redb's
//! savepoints cannot help: they can only be taken before a transaction opens
//! any table. So every change goes through [`Table`], which, while the log is
//! recording, remembers the previous value of each key it changes; replaying
//! those records backwards ([`UndoLog::undo`]) puts every table back as it was
//! when the write began.
//!
//! # Invariants
//! - Area code never writes a redb table directly: [`Tables::open`] is the
//!   only way to a writable table, and it always logs.
//! - A record restores exactly one key to its state before the change that
//!   made it; records are replayed newest first, so a key changed twice ends
//!   at its oldest value.
//! - A log that is not recording (a bulk import runs alone in its own
//!   transaction, whose failure aborts everything) costs nothing.

use super::error::{StoreError, StoreResult};
use redb::{Key, TableDefinition, Value};
use std::borrow::Borrow;
use std::cell::RefCell;

/// Puts one key back as it was.
type UndoRecord = Box<dyn FnOnce(&redb::WriteTransaction) -> StoreResult<()>>;

/// The undo records of the write in progress.
#[derive(Default)]
pub(crate) struct UndoLog {
    recording: bool,
    records: RefCell<Vec<UndoRecord>>,
}

impl UndoLog {
    pub(crate) fn new(recording: bool) -> UndoLog {
        UndoLog {
            recording,
            records: RefCell::default(),
        }
    }

    /// Forgets the records: the write they belong to is kept.
    pub(crate) fn clear(&self) {
        self.records.borrow_mut().clear();
    }

    /// Restores every key the current write changed, newest change first.
    pub(crate) fn undo(&self, txn: &redb::WriteTransaction) -> StoreResult<()> {
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
    ) {
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
        let old = self
            .inner
            .insert(key, value)?
            .map(|g| V::as_bytes(&g.value()).as_ref().to_vec());
        self.undo.push(self.def, k, old);
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
            self.undo.push(self.def, k, old);
        }
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::ReadableTable;

    const T: TableDefinition<&str, u64> = TableDefinition::new("t");

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
        tables.undo.clear(); // the first write is kept
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
