//! Read transactions: a consistent snapshot of the whole database.
//!
//! Reads run on the calling thread. They touch pages that are almost always
//! in the OS page cache and take microseconds, which is less than the cost of
//! a hop to a blocking pool; writes go to the writer thread (see `writer`).
//! Each area adds its read methods to [`ReadTxn`] in its own module
//! (`catalog::read`, `search_settings`).

use crate::store::catalog::read::RecordTables;
use crate::store::catalog::taxonomy::TaxonomySlot;

pub struct ReadTxn {
    pub(crate) txn: redb::ReadTransaction,
    /// The catalogue's record tables, opened on first use.
    pub(crate) catalog: RecordTables,
    /// The store's shared in-memory taxonomy (see `catalog::taxonomy`).
    pub(crate) taxonomy_slot: TaxonomySlot,
}

impl ReadTxn {
    pub(crate) fn new(txn: redb::ReadTransaction, taxonomy_slot: TaxonomySlot) -> Self {
        ReadTxn {
            txn,
            catalog: RecordTables::default(),
            taxonomy_slot,
        }
    }
}
