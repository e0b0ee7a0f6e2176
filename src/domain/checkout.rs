//! The checkout's rules, as one pure decision: given the cart, the products
//! as they are now, where to ship, the discount code asked for and the
//! shop's charges, either the order to place — with the stock it takes and
//! the code use it counts — or the reasons it is refused.
//!
//! The orders service loads the inputs and applies the result inside one
//! write (load → [`place`] → apply), so nothing here reads or writes
//! storage and every rule can be tested without it.
//!
//! # Invariants (property-tested below)
//! - The total is the sum of the lines, less the discount, plus shipping and
//!   tax; the discount never exceeds the subtotal.
//! - Stock never goes negative: a line asking for more than is left refuses
//!   the whole checkout.
//! - A code is never used past its usage limit or its per-customer limit.
//!
//! # Refusals, in the order they are checked
//! An empty cart; a guest who gave no email (where would the confirmation
//! go?); lines that cannot be bought as asked (every one of them listed); a
//! saved address that is not there; a code that is unknown, inactive,
//! outside its window, above the subtotal's minimum or used up. An empty
//! cart comes first: whatever else the request says, there is nothing to
//! buy.

use super::account::Email;
use super::address::Address;
use super::cart::{self, Cart, LineProblem};
use super::discount::{CodeRejection, DiscountCode};
use super::order::{Charges, Order, OrderLine, OrderStatus, PaymentMethod, Totals, Transition};
use super::{Id, Product, Timestamp};

/// One line checkout refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedLine {
    pub product_id: String,
    pub problem: LineProblem,
    pub requested: u32,
    pub available: u32,
}

/// The discount code a checkout asks for, as the store found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CodeAsked {
    /// No such code.
    Unknown,
    /// The code, and how many orders this customer placed with it.
    Found {
        code: DiscountCode,
        customer_uses: u32,
    },
}

/// Everything a checkout decides on.
#[derive(Debug, Clone)]
pub(crate) struct Checkout {
    pub cart: Cart,
    /// The products of the cart's lines, in line order (`None`: deleted).
    pub products: Vec<Option<Product>>,
    /// Where to ship: the address, or the saved address named that the
    /// customer does not have (a guest has none).
    pub ship_to: Result<Address, Id>,
    pub code: Option<CodeAsked>,
    pub charges: Charges,
    pub now: Timestamp,
    /// The new order's id and number, its account (a guest has none), the
    /// email it is confirmed to (`None`: a guest who gave none), and how it
    /// is paid.
    pub id: Id,
    pub number: u64,
    pub account: Option<Id>,
    pub email: Option<Email>,
    pub payment_method: PaymentMethod,
}

/// Why a checkout is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    CartEmpty,
    /// A guest's checkout without an email.
    NoEmail,
    /// Every line that cannot be bought as asked.
    Blocked(Vec<BlockedLine>),
    /// The saved address named is not the customer's.
    Address(Id),
    Code(CodeRejection),
}

/// What a checkout places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placed {
    pub order: Order,
    /// Each product's stock after the order: `(product, new stock)`.
    pub stock: Vec<(Id, u32)>,
    /// The code to count one more use of (for this customer too).
    pub code: Option<DiscountCode>,
}

/// Decides a checkout (see the module docs).
pub(crate) fn place(c: Checkout) -> Result<Placed, Refusal> {
    if c.cart.is_empty() {
        return Err(Refusal::CartEmpty);
    }
    let email = c.email.ok_or(Refusal::NoEmail)?;
    // Re-price and re-check every line against the products now.
    let mut products = c.products.iter();
    let priced = cart::price(&c.cart, |_| products.next().cloned().flatten());
    let blocked: Vec<BlockedLine> = priced
        .lines
        .iter()
        .filter_map(|l| {
            l.blocked().map(|problem| BlockedLine {
                product_id: l.product_id.to_string(),
                problem,
                requested: l.quantity,
                available: l.stock,
            })
        })
        .collect();
    if !blocked.is_empty() {
        return Err(Refusal::Blocked(blocked));
    }
    let address = c.ship_to.map_err(Refusal::Address)?;
    let subtotal = priced.subtotal_cents;
    let (discount, code) = match c.code {
        None => (0, None),
        Some(CodeAsked::Unknown) => return Err(Refusal::Code(CodeRejection::Unknown)),
        Some(CodeAsked::Found {
            code,
            customer_uses,
        }) => {
            let off = code
                .amount_off(subtotal, c.now, customer_uses)
                .map_err(Refusal::Code)?;
            (off, Some(code))
        }
    };
    let totals = Totals::compute(subtotal, discount, c.charges);
    // No line is blocked: every product exists and has the quantity.
    let mut lines = Vec::with_capacity(priced.lines.len());
    let mut stock = Vec::with_capacity(priced.lines.len());
    for (l, p) in priced.lines.iter().zip(&c.products) {
        let Some(p) = p else {
            return Err(Refusal::Blocked(vec![BlockedLine {
                product_id: l.product_id.to_string(),
                problem: LineProblem::Deleted,
                requested: l.quantity,
                available: 0,
            }]));
        };
        stock.push((p.id.clone(), p.stock - l.quantity));
        lines.push(OrderLine {
            product_id: l.product_id.clone(),
            title: p.title.clone(),
            unit_price_cents: l.unit_price_cents,
            quantity: l.quantity,
        });
    }
    let order = Order {
        id: c.id,
        number: c.number,
        account_id: c.account,
        email,
        status: OrderStatus::Pending,
        paid_at: None,
        payment_method: c.payment_method,
        lines,
        address,
        totals,
        discount_code: code.as_ref().map(|d| d.code.clone()),
        refund_due: false,
        history: vec![Transition {
            status: OrderStatus::Pending,
            by: "customer".into(),
            at: c.now,
        }],
        created_at: c.now,
        updated_at: c.now,
    };
    Ok(Placed { order, stock, code })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::discount::DiscountKind;
    use crate::domain::{Discount, Price};
    use proptest::prelude::*;

    fn product(i: usize, price_cents: u64, stock: u32, discount: f64) -> Product {
        Product {
            id: Id::parse(&format!("p{i}")).unwrap(),
            title: format!("Product {i}"),
            description: String::new(),
            images: vec![],
            keywords: vec![],
            price: Price::from_cents(price_cents).unwrap(),
            discount: Discount::new(discount).unwrap(),
            stock,
            is_physical: true,
            is_available: true,
            is_featured: false,
            brand_id: Id::parse("b1").unwrap(),
            category_ids: vec![],
            created_at: Timestamp::from_millis(0).unwrap(),
            updated_at: Timestamp::from_millis(0).unwrap(),
        }
    }

    fn address() -> Address {
        Address {
            name: "Ada".into(),
            line1: "1 Main St".into(),
            line2: None,
            city: "Springfield".into(),
            postal_code: "12345".into(),
            country: "US".into(),
        }
    }

    fn code(kind: DiscountKind, used: u32, limit: Option<u32>, per: Option<u32>) -> DiscountCode {
        DiscountCode {
            code: "SAVE".into(),
            kind,
            starts_at: None,
            ends_at: None,
            min_order_cents: 0,
            usage_limit: limit,
            per_customer_limit: per,
            used,
            active: true,
            created_at: Timestamp::from_millis(0).unwrap(),
            updated_at: Timestamp::from_millis(0).unwrap(),
        }
    }

    fn checkout(lines: &[(u32, u32)], products: Vec<Option<Product>>) -> Checkout {
        let mut cart = Cart::default();
        for (i, (q, _)) in lines.iter().enumerate() {
            let price = products[i].as_ref().map_or(0, cart::unit_price_cents);
            cart.add(Id::parse(&format!("p{i}")).unwrap(), *q, price)
                .unwrap();
        }
        Checkout {
            cart,
            products,
            ship_to: Ok(address()),
            code: None,
            charges: Charges {
                shipping_cents: 499,
                tax_basis_points: 1900,
            },
            now: Timestamp::from_millis(1_000).unwrap(),
            id: Id::parse("ord_1").unwrap(),
            number: 7,
            account: None,
            email: Some(Email::parse("g@example.com").unwrap()),
            payment_method: PaymentMethod::Card,
        }
    }

    #[test]
    fn an_order_takes_its_stock_and_adds_up() {
        let c = checkout(
            &[(2, 0), (1, 0)],
            vec![
                Some(product(0, 1_000, 5, 0.0)),
                Some(product(1, 250, 1, 0.2)),
            ],
        );
        let placed = place(c).unwrap();
        let t = placed.order.totals;
        assert_eq!(t.subtotal, 2 * 1_000 + 200);
        assert_eq!(t.tax, (2_200 * 1_900 + 5_000) / 10_000);
        assert_eq!(t.total, t.subtotal + t.shipping + t.tax);
        assert_eq!(
            placed.stock,
            vec![(Id::parse("p0").unwrap(), 3), (Id::parse("p1").unwrap(), 0)]
        );
        assert_eq!(placed.order.number, 7);
        assert_eq!(placed.order.status, OrderStatus::Pending);
        assert!(placed.code.is_none());
    }

    #[test]
    fn refusals_come_in_their_order() {
        let mut empty = checkout(&[], vec![]);
        empty.email = None;
        assert_eq!(place(empty).unwrap_err(), Refusal::CartEmpty);

        // Then a guest's missing email, before the lines.
        let mut c = checkout(&[(3, 0)], vec![Some(product(0, 100, 2, 0.0))]);
        c.email = None;
        assert_eq!(place(c).unwrap_err(), Refusal::NoEmail);

        // A blocked line wins over a missing address and a bad code.
        let mut c = checkout(&[(3, 0)], vec![Some(product(0, 100, 2, 0.0))]);
        c.ship_to = Err(Id::parse("a1").unwrap());
        c.code = Some(CodeAsked::Unknown);
        match place(c.clone()).unwrap_err() {
            Refusal::Blocked(lines) => {
                assert_eq!(lines.len(), 1);
                assert_eq!(lines[0].problem, LineProblem::InsufficientStock);
                assert_eq!((lines[0].requested, lines[0].available), (3, 2));
            }
            other => panic!("{other:?}"),
        }
        // Then the address, then the code.
        c.products = vec![Some(product(0, 100, 5, 0.0))];
        assert!(matches!(place(c.clone()).unwrap_err(), Refusal::Address(_)));
        c.ship_to = Ok(address());
        assert_eq!(
            place(c.clone()).unwrap_err(),
            Refusal::Code(CodeRejection::Unknown)
        );
        c.code = Some(CodeAsked::Found {
            code: code(DiscountKind::Percent(10), 5, Some(5), None),
            customer_uses: 0,
        });
        assert_eq!(place(c).unwrap_err(), Refusal::Code(CodeRejection::UsedUp));
    }

    #[test]
    fn a_deleted_product_blocks_its_line() {
        let c = checkout(&[(1, 0)], vec![None]);
        match place(c).unwrap_err() {
            Refusal::Blocked(lines) => assert_eq!(lines[0].problem, LineProblem::Deleted),
            other => panic!("{other:?}"),
        }
    }

    fn arb_code() -> impl Strategy<Value = DiscountCode> {
        (
            prop_oneof![
                (1u32..=100).prop_map(DiscountKind::Percent),
                (1u64..=50_000).prop_map(DiscountKind::Fixed)
            ],
            0u32..6,
            proptest::option::of(0u32..6),
            proptest::option::of(0u32..4),
        )
            .prop_map(|(kind, used, limit, per)| code(kind, used, limit, per))
    }

    proptest! {
        /// Totals add up, stock never goes negative, a code is never used
        /// past a limit — for any cart, stock, price and code.
        #[test]
        fn placed_orders_keep_the_invariants(
            lines in proptest::collection::vec((1u32..=99, 0u32..200, 1u64..100_000, 0u32..=50), 1..8),
            shipping in 0u64..2_000,
            tax in 0u32..=10_000,
            asked in proptest::option::of((arb_code(), 0u32..5)),
        ) {
            let products: Vec<Option<Product>> = lines
                .iter()
                .enumerate()
                .map(|(i, (_, stock, price, off))| {
                    Some(product(i, *price, *stock, *off as f64 / 100.0))
                })
                .collect();
            let qty: Vec<(u32, u32)> = lines.iter().map(|(q, s, _, _)| (*q, *s)).collect();
            let mut c = checkout(&qty, products.clone());
            c.charges = Charges { shipping_cents: shipping, tax_basis_points: tax };
            c.code = asked.clone().map(|(code, customer_uses)| CodeAsked::Found { code, customer_uses });
            match place(c) {
                Ok(p) => {
                    let sum: u64 = p.order.lines.iter().map(OrderLine::total_cents).sum();
                    let t = p.order.totals;
                    prop_assert_eq!(t.subtotal, sum);
                    prop_assert!(t.discount <= t.subtotal);
                    prop_assert_eq!(t.total, t.subtotal - t.discount + t.shipping + t.tax);
                    prop_assert_eq!(t.shipping, shipping);
                    for ((id, after), (q, s, _, _)) in p.stock.iter().zip(&lines) {
                        prop_assert!(*q <= *s, "{} sold {} of {}", id, q, s);
                        prop_assert_eq!(*after, s - q);
                    }
                    if let (Some(code), Some((_, uses))) = (&p.code, &asked) {
                        prop_assert!(code.usage_limit.is_none_or(|l| code.used < l));
                        prop_assert!(code.per_customer_limit.is_none_or(|l| *uses < l));
                    }
                    prop_assert_eq!(p.code.is_some(), asked.is_some());
                }
                Err(Refusal::Blocked(blocked)) => {
                    prop_assert!(!blocked.is_empty());
                    prop_assert!(lines.iter().any(|(q, s, _, _)| q > s));
                }
                Err(Refusal::Code(_)) => prop_assert!(asked.is_some()),
                Err(other) => prop_assert!(false, "unexpected refusal {:?}", other),
            }
        }
    }
}
