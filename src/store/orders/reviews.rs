//! Verified-purchase reviews: which review each customer wrote of a product,
//! and whether they bought it (a completed order of theirs holds it).

use super::OrdersWriter;
use super::tables::*;
use crate::domain::order::OrderStatus;
use crate::store::error::StoreResult;
use redb::ReadableTable;

impl OrdersWriter<'_> {
    /// Whether `account` has a completed order with `product` in it.
    pub(crate) fn bought(&self, account: &str, product: &str) -> StoreResult<bool> {
        let ids: Vec<String> = {
            let t = self.tables.open(ORDERS_BY_ACCOUNT)?;
            let mut out = Vec::new();
            for item in t.range((account, i64::MIN, "")..)? {
                let (k, _) = item?;
                let (a, _, oid) = k.value();
                if a != account {
                    break;
                }
                out.push(oid.to_string());
            }
            out
        };
        for oid in ids {
            if let Some(o) = self.order(&oid)?
                && o.status == OrderStatus::Completed
                && o.lines.iter().any(|l| l.product_id.as_str() == product)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The review `account` wrote of `product`, if any.
    pub(crate) fn customer_review(
        &self,
        account: &str,
        product: &str,
    ) -> StoreResult<Option<String>> {
        let t = self.tables.open(CUSTOMER_REVIEWS)?;
        Ok(t.get((account, product))?.map(|g| g.value().to_string()))
    }

    pub(crate) fn put_customer_review(
        &mut self,
        account: &str,
        product: &str,
        review: &str,
    ) -> StoreResult<()> {
        self.tables
            .open(CUSTOMER_REVIEWS)?
            .insert((account, product), review)
    }
}
