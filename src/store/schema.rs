//! Every table of the store, in one list, and what is derived from it:
//! creating the tables at open, replaying a logged change into one
//! ([`apply`]: the write-ahead log and replicated commits), emptying them
//! all and dumping every row (snapshots).
//!
//! # Invariant
//! A table exists only if it is listed here: a logged write may open only
//! a listed table (`db::undo` refuses others), so a new area's tables are
//! created, logged, replayed, replicated and backed up once they are
//! listed, and cannot be forgotten by any of those paths.

use super::error::{StoreError, StoreResult};
use redb::{Key, TableDefinition, TableHandle, Value};

/// Whether `bytes` are a `T` as redb writes it (its `from_bytes` panics on
/// a wrong width, text that is not UTF-8, or a tuple's lengths that do not
/// fit). Logged and replicated changes are checksummed, so this refuses
/// only a bug or a forgery — but it must refuse, not panic.
fn readable<T: Value>(bytes: &[u8]) -> bool {
    match T::fixed_width() {
        Some(width) => return bytes.len() == width,
        None if T::type_name() == <&str as Value>::type_name() => {
            return std::str::from_utf8(bytes).is_ok();
        }
        None => {}
    }
    // A variable-width composite: read it back and write it again; the
    // same bytes mean a well-formed value (reading is a pure function, so
    // a panic while reading leaves nothing behind).
    std::panic::catch_unwind(|| T::as_bytes(&T::from_bytes(bytes)).as_ref() == bytes)
        .unwrap_or(false)
}

fn apply_one<K: Key + 'static, V: Value + 'static>(
    def: TableDefinition<'static, K, V>,
    txn: &redb::WriteTransaction,
    key: &[u8],
    value: Option<&[u8]>,
) -> StoreResult<()> {
    if !readable::<K>(key) || !value.is_none_or(readable::<V>) {
        return Err(StoreError::Unavailable(format!(
            "a logged change to table '{}' has a key or value of the wrong shape",
            def.name()
        )));
    }
    let mut t = txn.open_table(def)?;
    match value {
        Some(v) => {
            t.insert(K::from_bytes(key), V::from_bytes(v))?;
        }
        None => {
            t.remove(K::from_bytes(key))?;
        }
    }
    Ok(())
}

/// Receives one row of a dump: table, key, value.
pub(crate) type RowSink<'a> = dyn FnMut(&str, &[u8], &[u8]) -> StoreResult<()> + 'a;

fn dump_one<K: Key + 'static, V: Value + 'static>(
    def: TableDefinition<'static, K, V>,
    txn: &redb::ReadTransaction,
    out: &mut RowSink<'_>,
) -> StoreResult<u64> {
    let t = match txn.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut rows = 0;
    for row in redb::ReadableTable::iter(&t)? {
        let (k, v) = row?;
        out(
            def.name(),
            K::as_bytes(&k.value()).as_ref(),
            V::as_bytes(&v.value()).as_ref(),
        )?;
        rows += 1;
    }
    Ok(rows)
}

/// Generates, from the one list of tables: `create_all`, `replayable`,
/// `apply` (one logged change), `clear_all` and `dump`.
macro_rules! tables {
    ($($def:expr),* $(,)?) => {
        /// Creates every table that does not exist yet (at open).
        pub(crate) fn create_all(txn: &redb::WriteTransaction) -> StoreResult<()> {
            $( txn.open_table($def)?; )*
            Ok(())
        }

        /// Whether the log can replay changes to the table `name`.
        pub(crate) fn replayable(name: &str) -> bool {
            $( name == $def.name() || )* false
        }

        /// Replays one logged change into the table named `table`.
        pub(crate) fn apply(
            txn: &redb::WriteTransaction,
            table: &str,
            key: &[u8],
            value: Option<&[u8]>,
        ) -> StoreResult<()> {
            $(
                if table == $def.name() {
                    return apply_one($def, txn, key, value);
                }
            )*
            Err(StoreError::Unavailable(format!(
                "the write-ahead log names table '{table}', which this build does not know"
            )))
        }

        /// Empties every table (a follower replacing all its data).
        pub(crate) fn clear_all(txn: &redb::WriteTransaction) -> StoreResult<()> {
            $(
                txn.delete_table($def)?;
                txn.open_table($def)?;
            )*
            Ok(())
        }

        /// Calls `out(table, key, value)` for every row of every table in
        /// `txn`; returns the rows per table.
        pub(crate) fn dump(
            txn: &redb::ReadTransaction,
            out: &mut RowSink<'_>,
        ) -> StoreResult<Vec<(&'static str, u64)>> {
            Ok(vec![$( ($def.name(), dump_one($def, txn, out)?) ),*])
        }
    };
}

use super::accounts::{
    ACCOUNTS, ACCOUNTS_BY_EMAIL, API_KEYS, MAIL_TOKENS, MAIL_TOKENS_BY_ACCOUNT, REFRESH_BY_SESSION,
    REFRESH_TOKENS, SESSIONS, SESSIONS_BY_ACCOUNT,
};
use super::catalog::tables::*;
use super::db::meta::META;
use super::jobs::{JOB_COUNTS, JOBS, JOBS_LIST, JOBS_SCHED, JOBS_UNIQUE};
use super::media::MEDIA;
use super::orders::tables::{
    ADDRESSES, CARTS, COMMERCE_SEQ, CUSTOMER_REVIEWS, DISCOUNT_CODES, DISCOUNT_USES, IDEMPOTENCY,
    NOTIFICATIONS, ORDERS, ORDERS_BY_ACCOUNT, ORDERS_BY_CREATED, ORDERS_BY_NUMBER,
    ORDERS_BY_STATUS, PAYMENT_EVENTS, WISHLIST,
};
use super::search_settings::{SEARCH_QUERIES, SEARCH_SYNONYMS};

tables!(
    META,
    BRANDS,
    CATEGORIES,
    PRODUCTS,
    REVIEWS,
    REVIEWERS,
    PRODUCT_RATINGS,
    REVIEWS_BY_PRODUCT,
    BRANDS_BY_TITLE,
    CATEGORY_CHILDREN,
    BY_CREATED,
    BY_PRICE,
    BY_RATING,
    PRODUCT_COUNTS,
    HIDDEN_REVIEWS,
    SEARCH_SYNONYMS,
    SEARCH_QUERIES,
    JOBS,
    JOBS_SCHED,
    JOBS_LIST,
    JOBS_UNIQUE,
    JOB_COUNTS,
    ACCOUNTS,
    ACCOUNTS_BY_EMAIL,
    SESSIONS,
    SESSIONS_BY_ACCOUNT,
    REFRESH_TOKENS,
    REFRESH_BY_SESSION,
    MAIL_TOKENS,
    MAIL_TOKENS_BY_ACCOUNT,
    API_KEYS,
    CARTS,
    ADDRESSES,
    WISHLIST,
    ORDERS,
    ORDERS_BY_NUMBER,
    ORDERS_BY_ACCOUNT,
    ORDERS_BY_STATUS,
    ORDERS_BY_CREATED,
    DISCOUNT_CODES,
    DISCOUNT_USES,
    IDEMPOTENCY,
    PAYMENT_EVENTS,
    NOTIFICATIONS,
    CUSTOMER_REVIEWS,
    COMMERCE_SEQ,
    MEDIA,
);

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{ReadableDatabase, TableHandle};

    #[test]
    fn every_table_a_store_creates_is_replayable() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("t.redb")).unwrap();
        let txn = { store.db().unwrap().begin_read().unwrap() };
        for t in txn.list_tables().unwrap() {
            assert!(
                replayable(t.name()),
                "table '{}' is not replayable",
                t.name()
            );
        }
    }
}
