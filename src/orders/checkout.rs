//! Checkout, in one write: load what it decides on, decide with
//! `domain::checkout::place` (the rules, pure and tested alone), apply what
//! it placed (see the module docs of `orders` for the whole list).

use super::mail::{confirmation_mail, order_link};
use super::status::notify;
use super::{CheckedOut, IDEMPOTENCY_TTL_MS, Orders, OrdersError, Shopper, after, now, product_in};
use crate::domain::Id;
use crate::domain::account::Email;
use crate::domain::cart::Cart;
use crate::domain::checkout::{self, CodeAsked, Placed, Refusal};
use crate::domain::discount;
use crate::domain::order::{CheckoutRequest, ShipTo};
use crate::store::orders::IdempotentReply;

impl From<Refusal> for OrdersError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::CartEmpty => OrdersError::CartEmpty,
            Refusal::NoEmail => OrdersError::guest_email_required(),
            Refusal::Blocked(lines) => OrdersError::OutOfStock(lines),
            // Well-formed, but naming an address that is not there.
            Refusal::Address(id) => {
                OrdersError::NotFound(format!("no saved address '{id}' (addressId)"))
            }
            Refusal::Code(why) => OrdersError::DiscountInvalid(why),
        }
    }
}

impl Orders {
    /// Places an order from the shopper's cart (see the module docs).
    /// `fingerprint` identifies the request body, for the idempotency key.
    pub(crate) async fn checkout(
        &self,
        shopper: Shopper,
        key: String,
        fingerprint: String,
        req: CheckoutRequest,
    ) -> Result<CheckedOut, OrdersError> {
        let account = match &shopper.account {
            Some(id) => Some(
                self.store()
                    .read()?
                    .accounts()
                    .account(id.as_str())?
                    .ok_or_else(|| OrdersError::NotFound(format!("no account {id}")))?,
            ),
            None => None,
        };
        // A guest without one is refused by `place`, after the cart: an
        // empty cart is the first thing wrong with any checkout.
        let email: Option<Email> = match (&account, &req.email) {
            (Some(a), _) => Some(a.email.clone()),
            (None, e) => e.clone(),
        };
        let jobs = self.inner.jobs.clone();
        let charges = self.inner.settings.charges;
        let link_key = self.inner.link_key;
        let public_url = self.inner.settings.public_url.clone();
        self.store()
            .write(move |tx| {
                let now = now();
                let caller = shopper.caller();
                if let Some(r) = tx.orders().idempotent(&caller, &key, now)? {
                    if r.fingerprint != fingerprint {
                        return Err(OrdersError::IdempotencyKeyReused);
                    }
                    let order = tx
                        .orders()
                        .order(&r.order_id)?
                        .ok_or_else(|| OrdersError::NotFound(format!("no order {}", r.order_id)))?;
                    return Ok(CheckedOut {
                        order,
                        replayed: true,
                    });
                }
                // Load.
                let cart_key = shopper.cart.key();
                let cart = tx.orders().cart(&cart_key)?.unwrap_or_default();
                let mut products = Vec::with_capacity(cart.lines.len());
                for l in &cart.lines {
                    products.push(product_in(tx, l.product_id.as_str())?);
                }
                let ship_to = match &req.ship_to {
                    ShipTo::Address(a) => Ok(a.clone()),
                    ShipTo::Saved(id) => {
                        let saved = match &shopper.account {
                            Some(acct) => tx.orders().addresses(acct.as_str())?,
                            None => Vec::new(),
                        };
                        saved
                            .into_iter()
                            .find(|a| &a.id == id)
                            .map(|a| a.address)
                            .ok_or_else(|| id.clone())
                    }
                };
                // Whose uses of a code count: one person's, however they
                // check out — the normalised email of the account or the
                // guest (an account and a guest with its email share it; a
                // guest without one is refused by `place`).
                let customer = email
                    .as_ref()
                    .map(|e| discount::customer_identity(e.as_str()))
                    .unwrap_or_default();
                let code = match &req.discount_code {
                    None => None,
                    Some(code) => Some(match tx.orders().discount_code(code)? {
                        None => CodeAsked::Unknown,
                        Some(found) => CodeAsked::Found {
                            customer_uses: tx.orders().discount_uses(code, &customer)?,
                            code: found,
                        },
                    }),
                };
                // A refused checkout undoes the whole write, this number
                // included: numbers stay gap-free.
                let number = tx.orders().next_order_number()?;
                // Decide.
                let Placed { order, stock, code } = checkout::place(checkout::Checkout {
                    cart,
                    products,
                    ship_to,
                    code,
                    charges,
                    now,
                    id: Id::generate("ord"),
                    number,
                    account: shopper.account.clone(),
                    email: email.clone(),
                    payment_method: req.payment_method,
                })?;
                // Apply.
                for (product, left) in &stock {
                    tx.catalog().set_stock(product.as_str(), *left)?;
                }
                let mut o = tx.orders();
                if let Some(mut d) = code {
                    o.use_discount_code(&mut d, &customer)?;
                }
                o.insert_order(&order)?;
                o.put_idempotent(
                    &caller,
                    &key,
                    &IdempotentReply {
                        fingerprint: fingerprint.clone(),
                        order_id: order.id.to_string(),
                    },
                    after(now, IDEMPOTENCY_TTL_MS),
                )?;
                o.put_cart(&cart_key, &Cart::default())?;
                let link = order
                    .account_id
                    .is_none()
                    .then(|| order_link(&link_key, &public_url, &order.id));
                let mail = confirmation_mail(&order, link);
                tx.jobs().enqueue(jobs.email(&mail)?, now)?;
                notify(tx, &order, "order_placed", now)?;
                Ok(CheckedOut {
                    order,
                    replayed: false,
                })
            })
            .await
    }
}
