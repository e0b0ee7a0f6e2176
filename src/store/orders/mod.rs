//! The shop's selling tables, by concept: carts ([`carts`]), orders with
//! their indexes ([`order`]), discount codes and their uses
//! ([`discounts`]), idempotency keys and payment events ([`payments`]),
//! the customer's addresses, wishlist and notifications ([`profile`]), and
//! verified-purchase reviews ([`reviews`]). A read transaction's
//! `read.orders()` and a write's `tx.orders()` reach them.
//!
//! # Tables
//! - `carts`: owner key (`a:<account>` / `g:<token hash>`) → rkyv `CartV1`.
//! - `addresses`: (account, address id) → rkyv `SavedAddressV1`.
//! - `wishlist`: (account, product) → added at (ms).
//! - `orders`: order id → rkyv `OrderV1`.
//! - `orders_by_number`: number → order id (the number is `order_seq` + 1,
//!   taken in the checkout's write, so numbers are gap-free and unique).
//! - `orders_by_account`: (account, created ms, order id) → ().
//! - `orders_by_status`: (status, paid 0/1, created ms, order id) → ().
//! - `orders_by_created`: (created ms, order id) → ().
//! - `discount_codes`: code → rkyv `DiscountV1`; `discount_uses`: (code,
//!   customer) → orders of that customer that used it.
//! - `idempotency`: (caller, key) → (request fingerprint, order id, expiry
//!   ms).
//! - `payment_events`: provider event id → when it was applied (ms).
//! - `notifications`: (account, notification id) → rkyv `NotificationV1`.
//! - `customer_reviews`: (account, product) → review id.
//! - `commerce_seq`: name → counter (`order_seq`).
//!
//! # Invariants
//! - Each order has exactly one entry in each of the three order indexes,
//!   for its current account, status, paid flag and creation time
//!   (`OrdersWriter::put_order` moves the status entry).
//! - `discount_codes.used` = Σ `discount_uses` of the code = orders that
//!   used it; both change only in a checkout's write.

mod carts;
mod discounts;
mod order;
mod payments;
mod profile;
mod reviews;
pub(crate) mod tables;

pub(crate) use carts::CartRec;
pub(crate) use order::OrderPage;
pub(crate) use payments::IdempotentReply;
#[cfg(test)]
pub(crate) use {
    discounts::DiscountRec, order::OrderRec, profile::NotificationRec, profile::SavedAddressRec,
};

use crate::domain::{Id, Timestamp};
use crate::store::codec::{Record, decode};
use crate::store::db::read::ReadTxn;
use crate::store::db::undo::Tables;
use crate::store::error::StoreResult;
use redb::ReadableTable;
use tables::{CARTS, IDEMPOTENCY};

/// The selling tables as a read transaction sees them.
pub(crate) struct OrdersReader<'r> {
    txn: &'r redb::ReadTransaction,
}

impl ReadTxn {
    /// Carts, orders, discount codes, addresses, wishlists, notifications.
    pub(crate) fn orders(&self) -> OrdersReader<'_> {
        OrdersReader { txn: &self.txn }
    }
}

/// The selling tables' part of a write transaction.
pub(crate) struct OrdersWriter<'w> {
    pub(crate) tables: &'w Tables,
}

pub(super) fn ts(ms: i64) -> Result<Timestamp, String> {
    Timestamp::from_millis(ms)
}

pub(super) fn id(s: &str) -> Result<Id, String> {
    Id::parse(s)
}

pub(super) fn decode_rows<R: Record>(
    t: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    account: &str,
) -> StoreResult<Vec<R::Domain>> {
    let mut out = Vec::new();
    for item in t.range((account, "")..)? {
        let (k, v) = item?;
        let (a, rid) = k.value();
        if a != account {
            break;
        }
        out.push(decode::<R>(v.value(), rid)?);
    }
    Ok(out)
}

impl OrdersWriter<'_> {
    /// Removes guest carts untouched since before `guest_cutoff` and
    /// idempotency keys expired at `now`, at most `max` of each; how many.
    pub(crate) fn prune(
        &mut self,
        now: Timestamp,
        guest_cutoff: Timestamp,
        max: usize,
    ) -> StoreResult<usize> {
        let carts: Vec<String> = {
            let t = self.tables.open(CARTS)?;
            let mut out = Vec::new();
            for item in t.range("g:".."g;")? {
                if out.len() >= max {
                    break;
                }
                let (k, v) = item?;
                let key = k.value();
                let at = crate::store::codec::with_archived::<CartRec, _>(v.value(), key, |c| {
                    c.updated_at.to_native()
                })?;
                if at < guest_cutoff.millis() {
                    out.push(key.to_string());
                }
            }
            out
        };
        let keys: Vec<(String, String)> = {
            let t = self.tables.open(IDEMPOTENCY)?;
            let mut out = Vec::new();
            for item in t.iter()? {
                if out.len() >= max {
                    break;
                }
                let (k, v) = item?;
                if v.value().2 <= now.millis() {
                    let (c, key) = k.value();
                    out.push((c.to_string(), key.to_string()));
                }
            }
            out
        };
        let mut t = self.tables.open(CARTS)?;
        for k in &carts {
            t.remove(k.as_str())?;
        }
        let mut t = self.tables.open(IDEMPOTENCY)?;
        for (c, k) in &keys {
            t.remove((c.as_str(), k.as_str()))?;
        }
        Ok(carts.len() + keys.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cart::Cart;
    use crate::store::{Store, StoreError};

    fn cart(at: i64) -> Cart {
        let mut c = Cart::default();
        c.add(Id::parse("p1").unwrap(), 1, 100).unwrap();
        c.updated_at = Some(Timestamp::from_millis(at).unwrap());
        c
    }

    #[test]
    fn prune_drops_idle_guest_carts_and_expired_keys_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        let day = 24 * 3600 * 1000;
        let now = Timestamp::from_millis(100 * day).unwrap();
        store
            .write_blocking(move |tx| -> Result<(), StoreError> {
                let mut c = tx.orders();
                c.put_cart("g:idle", &cart(10 * day))?;
                c.put_cart("g:fresh", &cart(95 * day))?;
                c.put_cart("a:someone", &cart(day))?;
                let reply = |o: &str| IdempotentReply {
                    fingerprint: "f".into(),
                    order_id: o.into(),
                };
                c.put_idempotent("g:x", "old", &reply("o1"), now)?;
                let later = Timestamp::from_millis(now.millis() + 1).unwrap();
                c.put_idempotent("g:x", "new", &reply("o2"), later)?;
                Ok(())
            })
            .unwrap();
        let cutoff = Timestamp::from_millis(now.millis() - 30 * day).unwrap();
        let removed = store
            .write_blocking(move |tx| tx.orders().prune(now, cutoff, 100))
            .unwrap();
        assert_eq!(removed, 2);
        let r = store.read().unwrap();
        assert!(r.orders().cart("g:idle").unwrap().is_none());
        assert!(r.orders().cart("g:fresh").unwrap().is_some());
        assert!(
            r.orders().cart("a:someone").unwrap().is_some(),
            "account carts stay"
        );
        store
            .write_blocking(move |tx| -> Result<(), StoreError> {
                let c = tx.orders();
                assert!(c.idempotent("g:x", "old", now)?.is_none());
                assert_eq!(c.idempotent("g:x", "new", now)?.unwrap().order_id, "o2");
                Ok(())
            })
            .unwrap();
    }
}
