//! Orders: what a checkout made, its money in integer cents, and the status
//! machine it moves through.
//!
//! # Status machine
//! `pending → paid → shipped → completed`; `cancelled` from `pending` or
//! `paid` (stock goes back; a paid order is flagged for a refund). Every
//! other move is illegal ([`OrderStatus::can_become`]). Each move is kept in
//! the order's history with who made it and when.
//!
//! # Holds
//! A pending order that is not paid holds its stock until
//! [`Order::held_until`]: its creation plus the hold of its payment method
//! ([`Holds`]). Past that it is cancelled (by `orders`' periodic expiry).
//! Cash on delivery is paid at the door, so it is never held: staff decide.
//!
//! # Money
//! Lines are snapshots: title and unit price (after the product's own
//! discount) as they were at checkout. [`Totals::compute`]: subtotal − code
//! discount + flat shipping + tax on the discounted subtotal; every step in
//! whole cents, rounding half up.

use super::account::Email;
use super::address::{self, Address};
use super::discount::code_from_json;
use super::fields::{Presence, read_object, text_line};
use super::{FieldErrors, Id, Timestamp};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrderStatus {
    Pending = 0,
    Paid = 1,
    Shipped = 2,
    Completed = 3,
    Cancelled = 4,
}

impl OrderStatus {
    pub(crate) const ALL: [OrderStatus; 5] = [
        OrderStatus::Pending,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_code(c: u8) -> Option<OrderStatus> {
        OrderStatus::ALL.get(c as usize).copied()
    }

    /// Whether an order in this status may move to `to`.
    pub(crate) fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Pending, Paid)
                | (Paid, Shipped)
                | (Shipped, Completed)
                | (Pending, Cancelled)
                | (Paid, Cancelled)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentMethod {
    BankTransfer = 0,
    CashOnDelivery = 1,
    /// Paid through a provider, confirmed by its signed webhook.
    Card = 2,
}

impl PaymentMethod {
    pub(crate) const ALL: [PaymentMethod; 3] = [
        PaymentMethod::BankTransfer,
        PaymentMethod::CashOnDelivery,
        PaymentMethod::Card,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::BankTransfer => "bank_transfer",
            PaymentMethod::CashOnDelivery => "cash_on_delivery",
            PaymentMethod::Card => "card",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentMethod> {
        PaymentMethod::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_code(c: u8) -> Option<PaymentMethod> {
        PaymentMethod::ALL.get(c as usize).copied()
    }
}

/// How long an unpaid order holds its stock, by payment method, in
/// milliseconds (cash on delivery: not held).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holds {
    pub card_ms: i64,
    pub bank_transfer_ms: i64,
}

impl Holds {
    /// The defaults (`config::orders` says why): card 30 minutes, bank
    /// transfer 7 days.
    pub const DEFAULT: Holds = Holds {
        card_ms: 30 * 60 * 1_000,
        bank_transfer_ms: 7 * 86_400 * 1_000,
    };

    /// The hold of `method`; `None`: not held (cash on delivery).
    pub(crate) fn of(&self, method: PaymentMethod) -> Option<i64> {
        match method {
            PaymentMethod::Card => Some(self.card_ms),
            PaymentMethod::BankTransfer => Some(self.bank_transfer_ms),
            PaymentMethod::CashOnDelivery => None,
        }
    }

    /// The shortest hold: no held order created after `now` minus this has
    /// expired.
    pub(crate) fn shortest_ms(&self) -> i64 {
        self.card_ms.min(self.bank_transfer_ms)
    }
}

/// One line of an order, as it was at checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub product_id: Id,
    pub title: String,
    pub unit_price_cents: u64,
    pub quantity: u32,
}

impl OrderLine {
    pub(crate) fn total_cents(&self) -> u64 {
        self.unit_price_cents * self.quantity as u64
    }
}

/// An order's money, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub subtotal: u64,
    pub discount: u64,
    pub shipping: u64,
    pub tax: u64,
    pub total: u64,
}

/// What a shop charges on top of the lines (from configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charges {
    /// Flat shipping per order, in cents.
    pub shipping_cents: u64,
    /// Tax on the discounted subtotal, in basis points (1/100 of a percent).
    pub tax_basis_points: u32,
}

impl Totals {
    pub fn compute(subtotal: u64, discount: u64, charges: Charges) -> Totals {
        let discount = discount.min(subtotal);
        let taxable = subtotal - discount;
        let tax = (taxable * charges.tax_basis_points as u64 + 5_000) / 10_000;
        Totals {
            subtotal,
            discount,
            shipping: charges.shipping_cents,
            tax,
            total: taxable + charges.shipping_cents + tax,
        }
    }
}

/// One move of an order's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub status: OrderStatus,
    /// Who made it: `customer <id>`, `staff <id>`, `payment provider`…
    pub by: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: Id,
    /// Sequential, human-facing: 1, 2, 3…
    pub number: u64,
    /// `None` for a guest's order.
    pub account_id: Option<Id>,
    pub email: Email,
    pub status: OrderStatus,
    pub paid_at: Option<Timestamp>,
    pub payment_method: PaymentMethod,
    pub lines: Vec<OrderLine>,
    pub address: Address,
    pub totals: Totals,
    pub discount_code: Option<String>,
    /// Cancelled after payment: the money is to be returned.
    pub refund_due: bool,
    pub history: Vec<Transition>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Order {
    pub(crate) fn is_paid(&self) -> bool {
        self.paid_at.is_some()
    }

    /// Until when this order holds its stock unpaid: set while it is
    /// pending and unpaid and its payment method is held.
    pub(crate) fn held_until(&self, holds: &Holds) -> Option<Timestamp> {
        if self.status != OrderStatus::Pending || self.is_paid() {
            return None;
        }
        let hold = holds.of(self.payment_method)?;
        Timestamp::from_millis(self.created_at.millis().saturating_add(hold)).ok()
    }

    /// Moves the order to `to`, or says why not.
    pub(crate) fn transition(
        &mut self,
        to: OrderStatus,
        by: String,
        now: Timestamp,
    ) -> Result<(), IllegalTransition> {
        if !self.status.can_become(to) {
            return Err(IllegalTransition {
                from: self.status,
                to,
            });
        }
        if to == OrderStatus::Paid {
            self.paid_at = Some(now);
        }
        if to == OrderStatus::Cancelled && self.is_paid() {
            self.refund_due = true;
        }
        self.status = to;
        self.updated_at = now;
        self.history.push(Transition {
            status: to,
            by,
            at: now,
        });
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an order cannot go from {} to {}", from.as_str(), to.as_str())]
pub struct IllegalTransition {
    pub from: OrderStatus,
    pub to: OrderStatus,
}

/// Where a checkout ships to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShipTo {
    Address(Address),
    /// One of the customer's saved addresses.
    Saved(Id),
}

/// `POST /checkout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// Required of guests; an account's own email otherwise.
    pub email: Option<Email>,
    pub ship_to: ShipTo,
    pub payment_method: PaymentMethod,
    pub discount_code: Option<String>,
}

fn payment_method(v: &Value) -> Result<PaymentMethod, String> {
    v.as_str()
        .and_then(PaymentMethod::parse)
        .ok_or_else(|| "must be one of bank_transfer, cash_on_delivery, card".into())
}

impl CheckoutRequest {
    pub fn parse(map: &Map<String, Value>) -> Result<CheckoutRequest, FieldErrors> {
        let mut nested = FieldErrors::new();
        let mut result = read_object(map, |f| {
            let email = f.get("email", Presence::Optional, Email::from_json);
            let address = f.get("shippingAddress", Presence::Optional, |v| Ok(v.clone()));
            let saved = f.get("addressId", Presence::Optional, Id::from_json);
            let method = f.get("paymentMethod", Presence::Required, payment_method);
            let code = f.get("discountCode", Presence::Optional, code_from_json);
            let ship_to = match (address, saved) {
                (Some(v), None) => match address::parse_nested(&v, "shippingAddress") {
                    Ok(a) => Some(ShipTo::Address(a)),
                    Err(e) => {
                        nested = e;
                        None
                    }
                },
                (None, Some(id)) => Some(ShipTo::Saved(id)),
                (Some(_), Some(_)) => {
                    f.errors
                        .push("addressId", "send shippingAddress or addressId, not both");
                    None
                }
                (None, None) => {
                    if !f.errors.as_slice().iter().any(|e| e.field == "addressId") {
                        f.errors
                            .push("shippingAddress", "is required (or an addressId)");
                    }
                    None
                }
            };
            Some(CheckoutRequest {
                email,
                ship_to: ship_to?,
                payment_method: method?,
                discount_code: code,
            })
        });
        if !nested.is_empty() {
            let mut all = result.err().unwrap_or_default();
            all.extend(nested);
            result = Err(all);
        }
        result
    }
}

/// `POST /admin/orders/{id}/status`.
pub(crate) fn parse_status_change(map: &Map<String, Value>) -> Result<OrderStatus, FieldErrors> {
    read_object(map, |f| {
        f.get("status", Presence::Required, |v| {
            v.as_str().and_then(OrderStatus::parse).ok_or_else(|| {
                "must be one of pending, paid, shipped, completed, cancelled".to_string()
            })
        })
    })
}

/// A free-text search over orders (`q`): a number (`1042` or `#1042`) or
/// part of an email.
pub(crate) fn parse_order_query(v: &str) -> Result<String, String> {
    text_line(&Value::String(v.into()), 254).map(|s| s.to_lowercase())
}

/// Which orders a staff list shows (every field optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OrderFilter {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_documented_moves_are_legal() {
        use OrderStatus::*;
        let legal: Vec<(OrderStatus, OrderStatus)> = OrderStatus::ALL
            .into_iter()
            .flat_map(|a| OrderStatus::ALL.into_iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            legal,
            [
                (Pending, Paid),
                (Pending, Cancelled),
                (Paid, Shipped),
                (Paid, Cancelled),
                (Shipped, Completed)
            ]
        );
    }

    #[test]
    fn totals_round_half_up_in_cents() {
        let c = Charges {
            shipping_cents: 499,
            tax_basis_points: 1_900,
        };
        let t = Totals::compute(10_001, 1_000, c);
        assert_eq!(t.tax, 1_710); // 9_001 × 0.19 = 1_710.19
        assert_eq!(t.total, 9_001 + 499 + 1_710);
        assert_eq!(Totals::compute(100, 500, c).discount, 100);
    }

    #[test]
    fn checkout_needs_one_address_and_a_method() {
        let ok = json!({"email": "a@b.co", "paymentMethod": "card", "addressId": "adr_1"});
        let r = CheckoutRequest::parse(ok.as_object().unwrap()).unwrap();
        assert_eq!(r.ship_to, ShipTo::Saved(Id::parse("adr_1").unwrap()));
        let bad = json!({"paymentMethod": "cash", "shippingAddress": {"name": "A"}});
        let e = CheckoutRequest::parse(bad.as_object().unwrap()).unwrap_err();
        let fields: Vec<_> = e.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"paymentMethod"));
        assert!(fields.contains(&"shippingAddress.line1"));
    }
}
