//! Discount codes and how often each customer used them.

use super::tables::*;
use super::ts;
use super::{OrdersReader, OrdersWriter};
use crate::domain::Timestamp;
use crate::domain::discount::{DiscountCode, DiscountKind};
use crate::store::codec::record;
use crate::store::codec::{Record, decode};
use crate::store::error::StoreResult;
use redb::ReadableTable;
use rkyv::{Archive, Deserialize, Serialize};

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct DiscountV1 {
    pub code: String,
    /// 0: percent (`amount` is the percent), 1: fixed (`amount` in cents).
    pub kind: u8,
    pub amount: u64,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub min_order_cents: u64,
    pub usage_limit: Option<u32>,
    pub per_customer_limit: Option<u32>,
    pub used: u32,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

record! {
    pub(crate) DiscountRec in "discount_codes", version 1;
    DiscountV1 as ArchivedDiscountV1 <=> DiscountCode;
    encode(d) {
        let (kind, amount) = match d.kind {
            DiscountKind::Percent(p) => (0, p as u64),
            DiscountKind::Fixed(c) => (1, c),
        };
        DiscountV1 {
            code: d.code.clone(),
            kind,
            amount,
            starts_at: d.starts_at.map(Timestamp::millis),
            ends_at: d.ends_at.map(Timestamp::millis),
            min_order_cents: d.min_order_cents,
            usage_limit: d.usage_limit,
            per_customer_limit: d.per_customer_limit,
            used: d.used,
            active: d.active,
            created_at: d.created_at.millis(),
            updated_at: d.updated_at.millis(),
        }
    }
    decode(a) {
        let amount = a.amount.to_native();
        Ok(DiscountCode {
            code: a.code.to_string(),
            kind: match a.kind {
                0 => DiscountKind::Percent(amount as u32),
                1 => DiscountKind::Fixed(amount),
                _ => return Err("unknown discount kind".into()),
            },
            starts_at: a
                .starts_at
                .as_ref()
                .map(|v| ts(v.to_native()))
                .transpose()?,
            ends_at: a.ends_at.as_ref().map(|v| ts(v.to_native())).transpose()?,
            min_order_cents: a.min_order_cents.to_native(),
            usage_limit: a.usage_limit.as_ref().map(|v| v.to_native()),
            per_customer_limit: a.per_customer_limit.as_ref().map(|v| v.to_native()),
            used: a.used.to_native(),
            active: a.active,
            created_at: ts(a.created_at.to_native())?,
            updated_at: ts(a.updated_at.to_native())?,
        })
    }
}

impl OrdersReader<'_> {
    pub(crate) fn discount_code(&self, code: &str) -> StoreResult<Option<DiscountCode>> {
        let t = self.txn.open_table(DISCOUNT_CODES)?;
        let found = t.get(code)?;
        found
            .map(|g| decode::<DiscountRec>(g.value(), code))
            .transpose()
    }

    /// Every discount code, by code.
    pub(crate) fn discount_codes(&self) -> StoreResult<Vec<DiscountCode>> {
        let t = self.txn.open_table(DISCOUNT_CODES)?;
        let mut out = Vec::new();
        for item in t.iter()? {
            let (k, v) = item?;
            out.push(decode::<DiscountRec>(v.value(), k.value())?);
        }
        Ok(out)
    }
}

impl OrdersWriter<'_> {
    pub(crate) fn discount_code(&self, code: &str) -> StoreResult<Option<DiscountCode>> {
        let t = self.tables.open(DISCOUNT_CODES)?;
        let found = t.get(code)?;
        found
            .map(|g| decode::<DiscountRec>(g.value(), code))
            .transpose()
    }

    pub(crate) fn put_discount_code(&mut self, d: &DiscountCode) -> StoreResult<()> {
        self.tables
            .open(DISCOUNT_CODES)?
            .insert(d.code.as_str(), DiscountRec::encode(d).as_slice())
    }

    /// Removes a code (its use counts stay, for the orders that used it).
    pub(crate) fn delete_discount_code(&mut self, code: &str) -> StoreResult<bool> {
        self.tables.open(DISCOUNT_CODES)?.remove(code)
    }

    /// Orders `customer` placed with `code`.
    pub(crate) fn discount_uses(&self, code: &str, customer: &str) -> StoreResult<u32> {
        let t = self.tables.open(DISCOUNT_USES)?;
        Ok(t.get((code, customer))?.map_or(0, |g| g.value()))
    }

    /// Counts one more order of `customer` using `d` (the code and the
    /// customer's count).
    pub(crate) fn use_discount_code(
        &mut self,
        d: &mut DiscountCode,
        customer: &str,
    ) -> StoreResult<()> {
        let uses = self.discount_uses(&d.code, customer)?;
        self.tables
            .open(DISCOUNT_USES)?
            .insert((d.code.as_str(), customer), uses + 1)?;
        d.used += 1;
        self.put_discount_code(d)
    }

    /// Gives back one use of `code` by `customer` (a cancelled order's):
    /// the customer's count and the code's. A code deleted since is only
    /// uncounted for the customer.
    pub(crate) fn release_discount_code(&mut self, code: &str, customer: &str) -> StoreResult<()> {
        let uses = self.discount_uses(code, customer)?;
        let mut t = self.tables.open(DISCOUNT_USES)?;
        if uses > 1 {
            t.insert((code, customer), uses - 1)?;
        } else {
            t.remove((code, customer))?;
        }
        drop(t);
        if uses > 0
            && let Some(mut d) = self.discount_code(code)?
        {
            d.used = d.used.saturating_sub(1);
            self.put_discount_code(&d)?;
        }
        Ok(())
    }
}
