//! Carts: what a shopper means to buy, before checkout.
//!
//! A cart holds product ids and quantities, and the unit price each line
//! was last shown at; reading it re-prices every line from the catalogue and
//! names each line's problems ([`LineProblem`]). Invariants: at most
//! [`MAX_LINES`] lines, one per product, each quantity within
//! `1..=`[`MAX_QUANTITY`].

use super::fields::{Presence, read_object, uint};
use super::{FieldErrors, Id, Product, Timestamp};
use serde_json::{Map, Value};

pub(crate) const MAX_LINES: usize = 100;
pub(crate) const MAX_QUANTITY: u32 = 99;
/// A guest cart nobody touched for this long is removed.
pub const GUEST_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// Whose cart: an account's (one each) or a guest's, known by the SHA-256
/// of its `X-Cart-Token` (hex).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum CartOwner {
    Account(Id),
    Guest(String),
}

impl CartOwner {
    /// The store key: `a:<account id>` or `g:<token hash>`.
    pub(crate) fn key(&self) -> String {
        match self {
            CartOwner::Account(id) => format!("a:{id}"),
            CartOwner::Guest(hash) => format!("g:{hash}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub product_id: Id,
    pub quantity: u32,
    /// The unit price (after the product's discount) when the line was last
    /// added or changed: a later price shows as `price_changed`.
    pub unit_price_cents: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    pub updated_at: Option<Timestamp>,
}

/// Why a cart change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    #[error("a cart holds at most {MAX_LINES} different products")]
    TooManyLines,
    #[error("at most {MAX_QUANTITY} of one product per cart")]
    TooMany,
    #[error("product {0} is not in the cart")]
    NotInCart(String),
}

impl Cart {
    pub(crate) fn line(&self, product: &str) -> Option<&CartLine> {
        self.lines.iter().find(|l| l.product_id.as_str() == product)
    }

    /// Adds `quantity` of a product (to its line, if it has one).
    pub fn add(
        &mut self,
        product: Id,
        quantity: u32,
        unit_price_cents: u64,
    ) -> Result<(), CartError> {
        if let Some(l) = self.lines.iter_mut().find(|l| l.product_id == product) {
            let q = l.quantity + quantity;
            if q > MAX_QUANTITY {
                return Err(CartError::TooMany);
            }
            l.quantity = q;
            l.unit_price_cents = unit_price_cents;
            return Ok(());
        }
        if self.lines.len() >= MAX_LINES {
            return Err(CartError::TooManyLines);
        }
        self.lines.push(CartLine {
            product_id: product,
            quantity,
            unit_price_cents,
        });
        Ok(())
    }

    /// Sets a line's quantity.
    pub(crate) fn set(
        &mut self,
        product: &str,
        quantity: u32,
        unit_price_cents: u64,
    ) -> Result<(), CartError> {
        let l = self
            .lines
            .iter_mut()
            .find(|l| l.product_id.as_str() == product)
            .ok_or_else(|| CartError::NotInCart(product.into()))?;
        l.quantity = quantity;
        l.unit_price_cents = unit_price_cents;
        Ok(())
    }

    pub(crate) fn remove(&mut self, product: &str) -> Result<(), CartError> {
        let before = self.lines.len();
        self.lines.retain(|l| l.product_id.as_str() != product);
        if self.lines.len() == before {
            return Err(CartError::NotInCart(product.into()));
        }
        Ok(())
    }

    /// Takes a guest cart's lines into this one: quantities of the same
    /// product add up (at most [`MAX_QUANTITY`]); lines past [`MAX_LINES`]
    /// are dropped. How many lines were dropped.
    pub(crate) fn merge(&mut self, guest: Cart) -> usize {
        let mut dropped = 0;
        for g in guest.lines {
            if let Some(l) = self.lines.iter_mut().find(|l| l.product_id == g.product_id) {
                l.quantity = (l.quantity + g.quantity).min(MAX_QUANTITY);
            } else if self.lines.len() < MAX_LINES {
                self.lines.push(g);
            } else {
                dropped += 1;
            }
        }
        dropped
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// What is wrong with a cart line now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineProblem {
    /// The product no longer exists.
    Deleted,
    /// The product is not for sale.
    Unavailable,
    OutOfStock,
    /// Fewer in stock than the line asks for.
    InsufficientStock,
    /// The unit price differs from when the line was added.
    PriceChanged,
}

impl LineProblem {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LineProblem::Deleted => "deleted",
            LineProblem::Unavailable => "unavailable",
            LineProblem::OutOfStock => "out_of_stock",
            LineProblem::InsufficientStock => "insufficient_stock",
            LineProblem::PriceChanged => "price_changed",
        }
    }

    /// Whether checkout must refuse the line (a changed price is charged
    /// as it is now, not refused).
    pub(crate) fn blocks_checkout(self) -> bool {
        !matches!(self, LineProblem::PriceChanged)
    }
}

/// The unit price of a product after its own discount, in cents (rounded
/// half away from zero).
pub fn unit_price_cents(p: &Product) -> u64 {
    discounted(p.price.cents(), p.discount.value())
}

/// `cents` less the fraction `discount`, rounded to a cent.
pub(crate) fn discounted(cents: u64, discount: f64) -> u64 {
    ((cents as f64) * (1.0 - discount)).round().max(0.0) as u64
}

/// The problems of `line` given the product as it is now (`None`: gone).
pub(crate) fn problems(line: &CartLine, product: Option<&Product>) -> Vec<LineProblem> {
    let Some(p) = product else {
        return vec![LineProblem::Deleted];
    };
    let mut out = Vec::new();
    if !p.is_available {
        out.push(LineProblem::Unavailable);
    }
    if p.stock == 0 {
        out.push(LineProblem::OutOfStock);
    } else if p.stock < line.quantity {
        out.push(LineProblem::InsufficientStock);
    }
    if unit_price_cents(p) != line.unit_price_cents {
        out.push(LineProblem::PriceChanged);
    }
    out
}

/// A cart line re-priced from the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct PricedLine {
    pub product_id: Id,
    /// `None` when the product is gone.
    pub title: Option<String>,
    pub quantity: u32,
    /// The unit price now (the remembered one for a deleted product).
    pub unit_price_cents: u64,
    /// In stock now (0 for a deleted product).
    pub stock: u32,
    pub problems: Vec<LineProblem>,
}

impl PricedLine {
    pub(crate) fn total_cents(&self) -> u64 {
        self.unit_price_cents * self.quantity as u64
    }

    /// Whether checkout must refuse this line.
    pub fn blocked(&self) -> Option<LineProblem> {
        self.problems.iter().copied().find(|p| p.blocks_checkout())
    }
}

/// A cart as a shopper sees it: every line priced now, with its problems.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PricedCart {
    pub lines: Vec<PricedLine>,
    /// Σ unit price × quantity of the lines that are not deleted.
    pub subtotal_cents: u64,
    pub item_count: u32,
}

/// Prices `cart` with the products as `product` finds them now.
pub fn price(cart: &Cart, mut product: impl FnMut(&str) -> Option<Product>) -> PricedCart {
    let mut out = PricedCart::default();
    for l in &cart.lines {
        let p = product(l.product_id.as_str());
        let line = PricedLine {
            product_id: l.product_id.clone(),
            title: p.as_ref().map(|p| p.title.clone()),
            quantity: l.quantity,
            unit_price_cents: p.as_ref().map_or(l.unit_price_cents, unit_price_cents),
            stock: p.as_ref().map_or(0, |p| p.stock),
            problems: problems(l, p.as_ref()),
        };
        if p.is_some() {
            out.subtotal_cents += line.total_cents();
        }
        out.item_count += l.quantity;
        out.lines.push(line);
    }
    out
}

fn quantity(v: &Value) -> Result<u32, String> {
    match uint(v, MAX_QUANTITY as u64) {
        Ok(0) => Err(format!("must be from 1 to {MAX_QUANTITY}")),
        Ok(n) => Ok(n as u32),
        Err(_) => Err(format!("must be a whole number from 1 to {MAX_QUANTITY}")),
    }
}

/// `POST /cart/items`.
#[derive(Debug, Clone)]
pub struct CartItem {
    pub product_id: Id,
    pub quantity: u32,
}

impl CartItem {
    pub fn parse(map: &Map<String, Value>) -> Result<CartItem, FieldErrors> {
        read_object(map, |f| {
            let product_id = f.get("productId", Presence::Required, Id::from_json);
            let quantity = f.get("quantity", Presence::Optional, quantity);
            Some(CartItem {
                product_id: product_id?,
                quantity: quantity.unwrap_or(1),
            })
        })
    }
}

/// `PATCH /cart/items/{productId}`: the new quantity.
pub(crate) fn parse_quantity(map: &Map<String, Value>) -> Result<u32, FieldErrors> {
    read_object(map, |f| f.get("quantity", Presence::Required, quantity))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Id {
        Id::parse(s).unwrap()
    }

    #[test]
    fn lines_add_up_within_the_limits_and_merge_caps_quantities() {
        let mut c = Cart::default();
        c.add(id("p1"), 60, 100).unwrap();
        assert_eq!(c.add(id("p1"), 40, 100), Err(CartError::TooMany));
        c.add(id("p1"), 39, 120).unwrap();
        assert_eq!(c.line("p1").unwrap().quantity, 99);
        for i in 0..MAX_LINES - 1 {
            c.add(id(&format!("q{i}")), 1, 1).unwrap();
        }
        assert_eq!(c.add(id("z"), 1, 1), Err(CartError::TooManyLines));
        let mut mine = Cart::default();
        mine.add(id("p1"), 90, 100).unwrap();
        let dropped = mine.merge(c);
        assert_eq!(dropped, 0);
        assert_eq!(mine.line("p1").unwrap().quantity, 99);
        assert_eq!(mine.lines.len(), MAX_LINES);
    }

    #[test]
    fn discounted_prices_round_to_the_cent() {
        assert_eq!(discounted(999, 0.1), 899);
        assert_eq!(discounted(1000, 0.0), 1000);
        assert_eq!(discounted(1000, 1.0), 0);
        assert_eq!(discounted(12999, 0.15), 11049);
    }
}
