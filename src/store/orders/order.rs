//! Orders and their three indexes (by account, by status and paid flag, by
//! creation time), the order number sequence, and staff lists.

use super::profile::AddressV1;
use super::tables::*;
use super::{OrdersReader, OrdersWriter};
use super::{id, ts};
use crate::domain::Timestamp;
use crate::domain::account::Email;
use crate::domain::order::{
    Order, OrderFilter, OrderLine, OrderStatus, PaymentMethod, Totals, Transition,
};
use crate::store::codec::record;
use crate::store::codec::{Record, decode};
use crate::store::error::StoreResult;
use redb::ReadableTable;
use rkyv::{Archive, Deserialize, Serialize};

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct OrderLineV1 {
    pub product_id: String,
    pub title: String,
    pub unit_price_cents: u64,
    pub quantity: u32,
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct TransitionV1 {
    pub status: u8,
    pub by: String,
    pub at: i64,
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct OrderV1 {
    pub id: String,
    pub number: u64,
    pub account_id: Option<String>,
    pub email: String,
    pub status: u8,
    pub paid_at: Option<i64>,
    pub payment_method: u8,
    pub lines: Vec<OrderLineV1>,
    pub address: AddressV1,
    pub subtotal: u64,
    pub discount: u64,
    pub shipping: u64,
    pub tax: u64,
    pub total: u64,
    pub discount_code: Option<String>,
    pub refund_due: bool,
    pub history: Vec<TransitionV1>,
    pub created_at: i64,
    pub updated_at: i64,
}

record! {
    pub(crate) OrderRec in "orders", version 1;
    OrderV1 as ArchivedOrderV1 <=> Order;
    encode(o) {
        OrderV1 {
            id: o.id.to_string(),
            number: o.number,
            account_id: o.account_id.as_ref().map(|a| a.to_string()),
            email: o.email.as_str().to_string(),
            status: o.status.code(),
            paid_at: o.paid_at.map(Timestamp::millis),
            payment_method: o.payment_method.code(),
            lines: o
                .lines
                .iter()
                .map(|l| OrderLineV1 {
                    product_id: l.product_id.to_string(),
                    title: l.title.clone(),
                    unit_price_cents: l.unit_price_cents,
                    quantity: l.quantity,
                })
                .collect(),
            address: AddressV1::of(&o.address),
            subtotal: o.totals.subtotal,
            discount: o.totals.discount,
            shipping: o.totals.shipping,
            tax: o.totals.tax,
            total: o.totals.total,
            discount_code: o.discount_code.clone(),
            refund_due: o.refund_due,
            history: o
                .history
                .iter()
                .map(|t| TransitionV1 {
                    status: t.status.code(),
                    by: t.by.clone(),
                    at: t.at.millis(),
                })
                .collect(),
            created_at: o.created_at.millis(),
            updated_at: o.updated_at.millis(),
        }
    }
    decode(a) {
        let status = |c: u8| OrderStatus::from_code(c).ok_or("unknown order status");
        Ok(Order {
            id: id(&a.id)?,
            number: a.number.to_native(),
            account_id: a.account_id.as_ref().map(|s| id(s)).transpose()?,
            email: Email::parse(&a.email)?,
            status: status(a.status)?,
            paid_at: a.paid_at.as_ref().map(|v| ts(v.to_native())).transpose()?,
            payment_method: PaymentMethod::from_code(a.payment_method)
                .ok_or("unknown payment method")?,
            lines: a
                .lines
                .iter()
                .map(|l| {
                    Ok(OrderLine {
                        product_id: id(&l.product_id)?,
                        title: l.title.to_string(),
                        unit_price_cents: l.unit_price_cents.to_native(),
                        quantity: l.quantity.to_native(),
                    })
                })
                .collect::<Result<_, String>>()?,
            address: a.address.to_domain(),
            totals: Totals {
                subtotal: a.subtotal.to_native(),
                discount: a.discount.to_native(),
                shipping: a.shipping.to_native(),
                tax: a.tax.to_native(),
                total: a.total.to_native(),
            },
            discount_code: a.discount_code.as_ref().map(|s| s.to_string()),
            refund_due: a.refund_due,
            history: a
                .history
                .iter()
                .map(|t| {
                    Ok(Transition {
                        status: status(t.status)?,
                        by: t.by.to_string(),
                        at: ts(t.at.to_native())?,
                    })
                })
                .collect::<Result<_, String>>()?,
            created_at: ts(a.created_at.to_native())?,
            updated_at: ts(a.updated_at.to_native())?,
        })
    }
}

/// One page of orders, newest first.
#[derive(Debug, Clone)]
pub(crate) struct OrderPage {
    pub items: Vec<Order>,
    pub total: u64,
}

fn matches_q(o: &Order, q: &str) -> bool {
    let number = q.trim_start_matches('#');
    (!number.is_empty() && number.parse::<u64>().ok() == Some(o.number))
        || o.email.as_str().contains(q)
}

/// Orders newest first from the index that narrows `f` most, then the
/// filters that index does not cover.
fn order_page(
    txn: &redb::ReadTransaction,
    f: &OrderFilter,
    offset: u64,
    limit: usize,
) -> StoreResult<OrderPage> {
    let from = f.from.map_or(i64::MIN, Timestamp::millis);
    let to = f.to.map_or(i64::MAX, Timestamp::millis);
    // (created, id) of every candidate the index gives.
    let mut candidates: Vec<(i64, String)> = Vec::new();
    let mut exact = true; // the index alone decides status and paid
    if let Some(account) = &f.account {
        let t = txn.open_table(ORDERS_BY_ACCOUNT)?;
        for item in t.range((account.as_str(), from, "")..(account.as_str(), to, ""))? {
            let (k, _) = item?;
            let (_, created, oid) = k.value();
            candidates.push((created, oid.to_string()));
        }
        exact = f.status.is_none() && f.is_paid.is_none();
    } else if f.status.is_some() || f.is_paid.is_some() {
        let t = txn.open_table(ORDERS_BY_STATUS)?;
        let statuses: Vec<OrderStatus> = f.status.map_or(OrderStatus::ALL.to_vec(), |s| vec![s]);
        let paids: Vec<u8> = f.is_paid.map_or(vec![0, 1], |p| vec![p as u8]);
        for s in &statuses {
            for p in &paids {
                let lo = (s.code(), *p, from, "");
                let hi = (s.code(), *p, to, "");
                for item in t.range(lo..hi)? {
                    let (k, _) = item?;
                    let (_, _, created, oid) = k.value();
                    candidates.push((created, oid.to_string()));
                }
            }
        }
    } else {
        let t = txn.open_table(ORDERS_BY_CREATED)?;
        for item in t.range((from, "")..(to, ""))? {
            let (k, _) = item?;
            let (created, oid) = k.value();
            candidates.push((created, oid.to_string()));
        }
    }
    candidates.sort_unstable_by(|a, b| b.cmp(a));
    let orders = txn.open_table(ORDERS)?;
    let residual = !exact || f.q.is_some();
    let mut items = Vec::new();
    let mut total = 0u64;
    for (_, oid) in candidates {
        let wanted = total >= offset && items.len() < limit;
        if !residual && !wanted {
            total += 1;
            continue;
        }
        let Some(g) = orders.get(oid.as_str())? else {
            continue;
        };
        let o = decode::<OrderRec>(g.value(), &oid)?;
        if f.status.is_some_and(|s| o.status != s)
            || f.is_paid.is_some_and(|p| o.is_paid() != p)
            || f.q.as_deref().is_some_and(|q| !matches_q(&o, q))
        {
            continue;
        }
        if wanted {
            items.push(o);
        }
        total += 1;
    }
    Ok(OrderPage { items, total })
}

impl OrdersReader<'_> {
    pub(crate) fn order(&self, order_id: &str) -> StoreResult<Option<Order>> {
        let t = self.txn.open_table(ORDERS)?;
        let found = t.get(order_id)?;
        found
            .map(|g| decode::<OrderRec>(g.value(), order_id))
            .transpose()
    }

    /// Orders matching `f`, newest first, skipping `offset`.
    pub(crate) fn list(
        &self,
        f: &OrderFilter,
        offset: u64,
        limit: usize,
    ) -> StoreResult<OrderPage> {
        order_page(self.txn, f, offset, limit)
    }
}

impl OrdersWriter<'_> {
    pub(crate) fn order(&self, order_id: &str) -> StoreResult<Option<Order>> {
        let t = self.tables.open(ORDERS)?;
        let found = t.get(order_id)?;
        found
            .map(|g| decode::<OrderRec>(g.value(), order_id))
            .transpose()
    }

    /// Up to `limit` pending unpaid orders created before `created_before`
    /// (milliseconds) that `wanted` picks, oldest first (expiry's
    /// candidates).
    pub(crate) fn pending_unpaid_before(
        &self,
        created_before: i64,
        limit: usize,
        wanted: impl Fn(&Order) -> bool,
    ) -> StoreResult<Vec<Order>> {
        let index = self.tables.open(ORDERS_BY_STATUS)?;
        let orders = self.tables.open(ORDERS)?;
        let pending = OrderStatus::Pending.code();
        let mut found = Vec::new();
        for item in index.range((pending, 0u8, i64::MIN, "")..(pending, 0u8, created_before, ""))? {
            if found.len() == limit {
                break;
            }
            let (k, _) = item?;
            let (_, _, _, oid) = k.value();
            if let Some(g) = orders.get(oid)? {
                let o = decode::<OrderRec>(g.value(), oid)?;
                if wanted(&o) {
                    found.push(o);
                }
            }
        }
        Ok(found)
    }

    /// Takes the next order number.
    pub(crate) fn next_order_number(&mut self) -> StoreResult<u64> {
        let mut t = self.tables.open(COMMERCE_SEQ)?;
        let n = t.get(ORDER_SEQ)?.map_or(0, |g| g.value()) + 1;
        t.insert(ORDER_SEQ, n)?;
        Ok(n)
    }

    /// Stores a new order with its index entries.
    pub(crate) fn insert_order(&mut self, o: &Order) -> StoreResult<()> {
        let created = o.created_at.millis();
        self.tables
            .open(ORDERS)?
            .insert(o.id.as_str(), OrderRec::encode(o).as_slice())?;
        self.tables
            .open(ORDERS_BY_NUMBER)?
            .insert(o.number, o.id.as_str())?;
        if let Some(a) = &o.account_id {
            self.tables
                .open(ORDERS_BY_ACCOUNT)?
                .insert((a.as_str(), created, o.id.as_str()), ())?;
        }
        self.tables.open(ORDERS_BY_STATUS)?.insert(
            (o.status.code(), o.is_paid() as u8, created, o.id.as_str()),
            (),
        )?;
        self.tables
            .open(ORDERS_BY_CREATED)?
            .insert((created, o.id.as_str()), ())
    }

    /// Replaces a stored order (same id, account and creation time),
    /// moving its status index entry.
    pub(crate) fn put_order(&mut self, before: &Order, after: &Order) -> StoreResult<()> {
        let created = after.created_at.millis();
        let mut by_status = self.tables.open(ORDERS_BY_STATUS)?;
        by_status.remove((
            before.status.code(),
            before.is_paid() as u8,
            created,
            before.id.as_str(),
        ))?;
        by_status.insert(
            (
                after.status.code(),
                after.is_paid() as u8,
                created,
                after.id.as_str(),
            ),
            (),
        )?;
        self.tables
            .open(ORDERS)?
            .insert(after.id.as_str(), OrderRec::encode(after).as_slice())
    }
}
