//! The shop's selling tables: carts, saved addresses, wishlists, orders with
//! their indexes, discount codes and their uses, idempotency keys, payment
//! events, notifications and verified-purchase reviews.
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
//!   ([`CommerceWriter::put_order`] moves the status entry).
//! - `discount_codes.used` = Σ `discount_uses` of the code = orders that
//!   used it; both change only in a checkout's write.

use super::codec::{Record, decode, encode_with};
use super::error::StoreResult;
use super::db::read::ReadTxn;
use super::db::undo::Tables;
use crate::domain::account::Email;
use crate::domain::address::{Address, SavedAddress};
use crate::domain::cart::{Cart, CartLine};
use crate::domain::discount::{DiscountCode, DiscountKind};
use crate::domain::notification::Notification;
use crate::domain::order::{Order, OrderLine, OrderStatus, PaymentMethod, Totals, Transition};
use crate::domain::{Id, Timestamp};
use redb::{ReadableTable, TableDefinition};
use rkyv::{Archive, Deserialize, Serialize};

pub(crate) const CARTS: TableDefinition<&str, &[u8]> = TableDefinition::new("carts");
pub(crate) const ADDRESSES: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("addresses");
pub(crate) const WISHLIST: TableDefinition<(&str, &str), i64> = TableDefinition::new("wishlist");
pub(crate) const ORDERS: TableDefinition<&str, &[u8]> = TableDefinition::new("orders");
pub(crate) const ORDERS_BY_NUMBER: TableDefinition<u64, &str> =
    TableDefinition::new("orders_by_number");
pub(crate) const ORDERS_BY_ACCOUNT: TableDefinition<(&str, i64, &str), ()> =
    TableDefinition::new("orders_by_account");
pub(crate) const ORDERS_BY_STATUS: TableDefinition<(u8, u8, i64, &str), ()> =
    TableDefinition::new("orders_by_status");
pub(crate) const ORDERS_BY_CREATED: TableDefinition<(i64, &str), ()> =
    TableDefinition::new("orders_by_created");
pub(crate) const DISCOUNT_CODES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("discount_codes");
pub(crate) const DISCOUNT_USES: TableDefinition<(&str, &str), u32> =
    TableDefinition::new("discount_uses");
pub(crate) const IDEMPOTENCY: TableDefinition<(&str, &str), (&str, &str, i64)> =
    TableDefinition::new("idempotency");
pub(crate) const PAYMENT_EVENTS: TableDefinition<&str, i64> =
    TableDefinition::new("payment_events");
pub(crate) const NOTIFICATIONS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("notifications");
pub(crate) const CUSTOMER_REVIEWS: TableDefinition<(&str, &str), &str> =
    TableDefinition::new("customer_reviews");
pub(crate) const COMMERCE_SEQ: TableDefinition<&str, u64> = TableDefinition::new("commerce_seq");


fn ts(ms: i64) -> Result<Timestamp, String> {
    Timestamp::from_millis(ms)
}

fn id(s: &str) -> Result<Id, String> {
    Id::parse(s)
}

// ---- records ----------------------------------------------------------------------------------

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct CartLineV1 {
    pub product_id: String,
    pub quantity: u32,
    pub unit_price_cents: u64,
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct CartV1 {
    pub lines: Vec<CartLineV1>,
    pub updated_at: i64,
}

pub struct CartRec;

impl Record for CartRec {
    const TABLE: &'static str = "carts";
    const VERSION: u8 = 1;
    type Archived = ArchivedCartV1;
    type Domain = Cart;
    fn encode(c: &Cart) -> Vec<u8> {
        encode_with(
            Self::VERSION,
            &CartV1 {
                lines: c
                    .lines
                    .iter()
                    .map(|l| CartLineV1 {
                        product_id: l.product_id.to_string(),
                        quantity: l.quantity,
                        unit_price_cents: l.unit_price_cents,
                    })
                    .collect(),
                updated_at: c.updated_at.map_or(0, Timestamp::millis),
            },
        )
    }
    fn to_domain(a: &ArchivedCartV1) -> Result<Cart, String> {
        Ok(Cart {
            lines: a
                .lines
                .iter()
                .map(|l| {
                    Ok(CartLine {
                        product_id: id(&l.product_id)?,
                        quantity: l.quantity.to_native(),
                        unit_price_cents: l.unit_price_cents.to_native(),
                    })
                })
                .collect::<Result<_, String>>()?,
            updated_at: Some(ts(a.updated_at.to_native())?),
        })
    }
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct AddressV1 {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

impl AddressV1 {
    fn of(a: &Address) -> AddressV1 {
        AddressV1 {
            name: a.name.clone(),
            line1: a.line1.clone(),
            line2: a.line2.clone(),
            city: a.city.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }
    }
}

impl ArchivedAddressV1 {
    fn to_domain(&self) -> Address {
        Address {
            name: self.name.to_string(),
            line1: self.line1.to_string(),
            line2: self.line2.as_ref().map(|s| s.to_string()),
            city: self.city.to_string(),
            postal_code: self.postal_code.to_string(),
            country: self.country.to_string(),
        }
    }
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct SavedAddressV1 {
    pub id: String,
    pub account_id: String,
    pub address: AddressV1,
    pub is_default: bool,
    pub created_at: i64,
}

pub struct SavedAddressRec;

impl Record for SavedAddressRec {
    const TABLE: &'static str = "addresses";
    const VERSION: u8 = 1;
    type Archived = ArchivedSavedAddressV1;
    type Domain = SavedAddress;
    fn encode(a: &SavedAddress) -> Vec<u8> {
        encode_with(
            Self::VERSION,
            &SavedAddressV1 {
                id: a.id.to_string(),
                account_id: a.account_id.to_string(),
                address: AddressV1::of(&a.address),
                is_default: a.is_default,
                created_at: a.created_at.millis(),
            },
        )
    }
    fn to_domain(a: &ArchivedSavedAddressV1) -> Result<SavedAddress, String> {
        Ok(SavedAddress {
            id: id(&a.id)?,
            account_id: id(&a.account_id)?,
            address: a.address.to_domain(),
            is_default: a.is_default,
            created_at: ts(a.created_at.to_native())?,
        })
    }
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct OrderLineV1 {
    pub product_id: String,
    pub title: String,
    pub unit_price_cents: u64,
    pub quantity: u32,
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct TransitionV1 {
    pub status: u8,
    pub by: String,
    pub at: i64,
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct OrderV1 {
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

pub struct OrderRec;

impl Record for OrderRec {
    const TABLE: &'static str = "orders";
    const VERSION: u8 = 1;
    type Archived = ArchivedOrderV1;
    type Domain = Order;
    fn encode(o: &Order) -> Vec<u8> {
        encode_with(
            Self::VERSION,
            &OrderV1 {
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
            },
        )
    }
    fn to_domain(a: &ArchivedOrderV1) -> Result<Order, String> {
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

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct DiscountV1 {
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

pub struct DiscountRec;

impl Record for DiscountRec {
    const TABLE: &'static str = "discount_codes";
    const VERSION: u8 = 1;
    type Archived = ArchivedDiscountV1;
    type Domain = DiscountCode;
    fn encode(d: &DiscountCode) -> Vec<u8> {
        let (kind, amount) = match d.kind {
            DiscountKind::Percent(p) => (0, p as u64),
            DiscountKind::Fixed(c) => (1, c),
        };
        encode_with(
            Self::VERSION,
            &DiscountV1 {
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
            },
        )
    }
    fn to_domain(a: &ArchivedDiscountV1) -> Result<DiscountCode, String> {
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

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct NotificationV1 {
    pub id: String,
    pub account_id: String,
    pub kind: String,
    pub message: String,
    pub order_id: Option<String>,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

pub struct NotificationRec;

impl Record for NotificationRec {
    const TABLE: &'static str = "notifications";
    const VERSION: u8 = 1;
    type Archived = ArchivedNotificationV1;
    type Domain = Notification;
    fn encode(n: &Notification) -> Vec<u8> {
        encode_with(
            Self::VERSION,
            &NotificationV1 {
                id: n.id.to_string(),
                account_id: n.account_id.to_string(),
                kind: n.kind.clone(),
                message: n.message.clone(),
                order_id: n.order_id.as_ref().map(|o| o.to_string()),
                created_at: n.created_at.millis(),
                read_at: n.read_at.map(Timestamp::millis),
            },
        )
    }
    fn to_domain(a: &ArchivedNotificationV1) -> Result<Notification, String> {
        Ok(Notification {
            id: id(&a.id)?,
            account_id: id(&a.account_id)?,
            kind: a.kind.to_string(),
            message: a.message.to_string(),
            order_id: a.order_id.as_ref().map(|s| id(s)).transpose()?,
            created_at: ts(a.created_at.to_native())?,
            read_at: a.read_at.as_ref().map(|v| ts(v.to_native())).transpose()?,
        })
    }
}

// ---- queries ----------------------------------------------------------------------------------

/// Which orders a staff list shows (every field optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub is_paid: Option<bool>,
    /// Created at or after.
    pub from: Option<Timestamp>,
    /// Created before.
    pub to: Option<Timestamp>,
    pub account: Option<Id>,
    /// An order number (`1042`, `#1042`) or part of the email, lower case.
    pub q: Option<String>,
}

/// One page of orders, newest first.
#[derive(Debug, Clone)]
pub struct OrderPage {
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

fn decode_rows<R: Record>(
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

impl ReadTxn {
    pub fn cart(&self, owner_key: &str) -> StoreResult<Option<Cart>> {
        let t = self.txn.open_table(CARTS)?;
        let found = t.get(owner_key)?;
        found
            .map(|g| decode::<CartRec>(g.value(), owner_key))
            .transpose()
    }

    /// An account's saved addresses, oldest first.
    pub fn addresses(&self, account: &str) -> StoreResult<Vec<SavedAddress>> {
        let t = self.txn.open_table(ADDRESSES)?;
        let mut v = decode_rows::<SavedAddressRec>(&t, account)?;
        v.sort_by_key(|a| (a.created_at, a.id.clone()));
        Ok(v)
    }

    /// An account's wishlist: product ids with when they were added, newest
    /// first.
    pub fn wishlist(&self, account: &str) -> StoreResult<Vec<(Id, Timestamp)>> {
        let t = self.txn.open_table(WISHLIST)?;
        let mut out = Vec::new();
        for item in t.range((account, "")..)? {
            let (k, v) = item?;
            let (a, pid) = k.value();
            if a != account {
                break;
            }
            if let (Ok(p), Ok(at)) = (Id::parse(pid), Timestamp::from_millis(v.value())) {
                out.push((p, at));
            }
        }
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(out)
    }

    pub fn order(&self, order_id: &str) -> StoreResult<Option<Order>> {
        let t = self.txn.open_table(ORDERS)?;
        let found = t.get(order_id)?;
        found
            .map(|g| decode::<OrderRec>(g.value(), order_id))
            .transpose()
    }

    /// Orders matching `f`, newest first, skipping `offset`.
    pub fn orders(&self, f: &OrderFilter, offset: u64, limit: usize) -> StoreResult<OrderPage> {
        order_page(&self.txn, f, offset, limit)
    }

    pub fn discount_code(&self, code: &str) -> StoreResult<Option<DiscountCode>> {
        let t = self.txn.open_table(DISCOUNT_CODES)?;
        let found = t.get(code)?;
        found
            .map(|g| decode::<DiscountRec>(g.value(), code))
            .transpose()
    }

    /// Every discount code, by code.
    pub fn discount_codes(&self) -> StoreResult<Vec<DiscountCode>> {
        let t = self.txn.open_table(DISCOUNT_CODES)?;
        let mut out = Vec::new();
        for item in t.iter()? {
            let (k, v) = item?;
            out.push(decode::<DiscountRec>(v.value(), k.value())?);
        }
        Ok(out)
    }

    /// An account's notifications: unread first, then newest first.
    pub fn notifications(&self, account: &str) -> StoreResult<Vec<Notification>> {
        let t = self.txn.open_table(NOTIFICATIONS)?;
        let mut v = decode_rows::<NotificationRec>(&t, account)?;
        v.sort_by(|a, b| {
            a.read_at
                .is_some()
                .cmp(&b.read_at.is_some())
                .then_with(|| b.created_at.cmp(&a.created_at))
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(v)
    }

    /// Orders in all (the number of the newest).
    pub fn order_count(&self) -> StoreResult<u64> {
        let t = self.txn.open_table(COMMERCE_SEQ)?;
        Ok(t.get(ORDER_SEQ)?.map_or(0, |g| g.value()))
    }
}

const ORDER_SEQ: &str = "order_seq";

/// An idempotency key as a checkout finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentReply {
    pub fingerprint: String,
    pub order_id: String,
}

// ---- writes -----------------------------------------------------------------------------------

/// The selling tables' part of a write transaction.
pub struct CommerceWriter<'w> {
    pub(crate) tables: &'w Tables,
}

impl CommerceWriter<'_> {
    pub fn cart(&self, owner_key: &str) -> StoreResult<Option<Cart>> {
        let t = self.tables.open(CARTS)?;
        let found = t.get(owner_key)?;
        found
            .map(|g| decode::<CartRec>(g.value(), owner_key))
            .transpose()
    }

    /// Stores a cart; an empty one is removed.
    pub fn put_cart(&mut self, owner_key: &str, cart: &Cart) -> StoreResult<()> {
        let mut t = self.tables.open(CARTS)?;
        if cart.is_empty() {
            t.remove(owner_key)?;
        } else {
            t.insert(owner_key, CartRec::encode(cart).as_slice())?;
        }
        Ok(())
    }

    pub fn addresses(&self, account: &str) -> StoreResult<Vec<SavedAddress>> {
        let t = self.tables.open(ADDRESSES)?;
        let mut v = decode_rows::<SavedAddressRec>(&*t, account)?;
        v.sort_by_key(|a| (a.created_at, a.id.clone()));
        Ok(v)
    }

    pub fn put_address(&mut self, a: &SavedAddress) -> StoreResult<()> {
        self.tables.open(ADDRESSES)?.insert(
            (a.account_id.as_str(), a.id.as_str()),
            SavedAddressRec::encode(a).as_slice(),
        )
    }

    pub fn delete_address(&mut self, account: &str, address: &str) -> StoreResult<bool> {
        self.tables.open(ADDRESSES)?.remove((account, address))
    }

    /// Adds a product to a wishlist (keeping the first time it was added);
    /// the list's size after.
    pub fn wish(&mut self, account: &str, product: &str, now: Timestamp) -> StoreResult<usize> {
        let mut t = self.tables.open(WISHLIST)?;
        if t.get((account, product))?.is_none() {
            t.insert((account, product), now.millis())?;
        }
        let mut n = 0;
        for item in t.range((account, "")..)? {
            if item?.0.value().0 != account {
                break;
            }
            n += 1;
        }
        Ok(n)
    }

    pub fn unwish(&mut self, account: &str, product: &str) -> StoreResult<bool> {
        self.tables.open(WISHLIST)?.remove((account, product))
    }

    pub fn order(&self, order_id: &str) -> StoreResult<Option<Order>> {
        let t = self.tables.open(ORDERS)?;
        let found = t.get(order_id)?;
        found
            .map(|g| decode::<OrderRec>(g.value(), order_id))
            .transpose()
    }

    /// Takes the next order number.
    pub fn next_order_number(&mut self) -> StoreResult<u64> {
        let mut t = self.tables.open(COMMERCE_SEQ)?;
        let n = t.get(ORDER_SEQ)?.map_or(0, |g| g.value()) + 1;
        t.insert(ORDER_SEQ, n)?;
        Ok(n)
    }

    /// Stores a new order with its index entries.
    pub fn insert_order(&mut self, o: &Order) -> StoreResult<()> {
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
    pub fn put_order(&mut self, before: &Order, after: &Order) -> StoreResult<()> {
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

    pub fn discount_code(&self, code: &str) -> StoreResult<Option<DiscountCode>> {
        let t = self.tables.open(DISCOUNT_CODES)?;
        let found = t.get(code)?;
        found
            .map(|g| decode::<DiscountRec>(g.value(), code))
            .transpose()
    }

    pub fn put_discount_code(&mut self, d: &DiscountCode) -> StoreResult<()> {
        self.tables
            .open(DISCOUNT_CODES)?
            .insert(d.code.as_str(), DiscountRec::encode(d).as_slice())
    }

    /// Removes a code (its use counts stay, for the orders that used it).
    pub fn delete_discount_code(&mut self, code: &str) -> StoreResult<bool> {
        self.tables.open(DISCOUNT_CODES)?.remove(code)
    }

    /// Orders `customer` placed with `code`.
    pub fn discount_uses(&self, code: &str, customer: &str) -> StoreResult<u32> {
        let t = self.tables.open(DISCOUNT_USES)?;
        Ok(t.get((code, customer))?.map_or(0, |g| g.value()))
    }

    /// Counts one more order of `customer` using `d` (the code and the
    /// customer's count).
    pub fn use_discount_code(&mut self, d: &mut DiscountCode, customer: &str) -> StoreResult<()> {
        let uses = self.discount_uses(&d.code, customer)?;
        self.tables
            .open(DISCOUNT_USES)?
            .insert((d.code.as_str(), customer), uses + 1)?;
        d.used += 1;
        self.put_discount_code(d)
    }

    /// The order an idempotency key of `caller` made, if any (and not
    /// expired at `now`).
    pub fn idempotent(
        &self,
        caller: &str,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<IdempotentReply>> {
        let t = self.tables.open(IDEMPOTENCY)?;
        let found = t.get((caller, key))?;
        Ok(found.and_then(|g| {
            let (fingerprint, order_id, expires) = g.value();
            (expires > now.millis()).then(|| IdempotentReply {
                fingerprint: fingerprint.to_string(),
                order_id: order_id.to_string(),
            })
        }))
    }

    pub fn put_idempotent(
        &mut self,
        caller: &str,
        key: &str,
        reply: &IdempotentReply,
        expires: Timestamp,
    ) -> StoreResult<()> {
        self.tables.open(IDEMPOTENCY)?.insert(
            (caller, key),
            (
                reply.fingerprint.as_str(),
                reply.order_id.as_str(),
                expires.millis(),
            ),
        )
    }

    /// Records a payment provider's event; `false` when it was seen before.
    pub fn record_payment_event(&mut self, event: &str, now: Timestamp) -> StoreResult<bool> {
        let mut t = self.tables.open(PAYMENT_EVENTS)?;
        if t.get(event)?.is_some() {
            return Ok(false);
        }
        t.insert(event, now.millis())?;
        Ok(true)
    }

    pub fn put_notification(&mut self, n: &Notification) -> StoreResult<()> {
        self.tables.open(NOTIFICATIONS)?.insert(
            (n.account_id.as_str(), n.id.as_str()),
            NotificationRec::encode(n).as_slice(),
        )
    }

    pub fn notification(&self, account: &str, nid: &str) -> StoreResult<Option<Notification>> {
        let t = self.tables.open(NOTIFICATIONS)?;
        let found = t.get((account, nid))?;
        found
            .map(|g| decode::<NotificationRec>(g.value(), nid))
            .transpose()
    }

    /// Whether `account` has a completed order with `product` in it.
    pub fn bought(&self, account: &str, product: &str) -> StoreResult<bool> {
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
    pub fn customer_review(&self, account: &str, product: &str) -> StoreResult<Option<String>> {
        let t = self.tables.open(CUSTOMER_REVIEWS)?;
        Ok(t.get((account, product))?.map(|g| g.value().to_string()))
    }

    pub fn put_customer_review(
        &mut self,
        account: &str,
        product: &str,
        review: &str,
    ) -> StoreResult<()> {
        self.tables
            .open(CUSTOMER_REVIEWS)?
            .insert((account, product), review)
    }

    /// Removes guest carts untouched since before `guest_cutoff` and
    /// idempotency keys expired at `now`, at most `max` of each; how many.
    pub fn prune(
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
                let at = super::codec::with_archived::<CartRec, _>(v.value(), key, |c| {
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
                let mut c = tx.commerce();
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
            .write_blocking(move |tx| tx.commerce().prune(now, cutoff, 100))
            .unwrap();
        assert_eq!(removed, 2);
        let r = store.read().unwrap();
        assert!(r.cart("g:idle").unwrap().is_none());
        assert!(r.cart("g:fresh").unwrap().is_some());
        assert!(r.cart("a:someone").unwrap().is_some(), "account carts stay");
        store
            .write_blocking(move |tx| -> Result<(), StoreError> {
                let c = tx.commerce();
                assert!(c.idempotent("g:x", "old", now)?.is_none());
                assert_eq!(c.idempotent("g:x", "new", now)?.unwrap().order_id, "o2");
                Ok(())
            })
            .unwrap();
    }
}
