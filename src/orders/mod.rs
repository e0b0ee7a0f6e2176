//! The selling service: carts, saved addresses, wishlists, checkout, orders
//! and their status machine, payments, discount codes, notifications and
//! verified-purchase reviews.
//!
//! # What a checkout does, in one write
//! One closure on the store's writer (so it shares a group commit with
//! other writes, and is undone alone if it fails): replay an idempotency
//! key, re-price the cart from the catalogue and refuse blocked lines,
//! apply the discount code and count its use, compute the totals in cents,
//! decrement stock (never below zero: a line asking for more than is left
//! refuses the whole checkout), take the next order number, store the
//! order, remember the idempotency key for 24 hours, clear the cart, and
//! enqueue the confirmation mail and a notification (the outbox). Nothing
//! of it is visible until all of it is durable. Stock changes go through
//! the catalogue's own product write, so lists, search filters and the
//! response cache follow in the same commit (`services::CommitDispatch`).
//!
//! # Who sees an order
//! Its account, staff, and a guest holding the signed link mailed to them
//! ([`Orders::order_link_token`]); anybody else gets 404, as if it did not
//! exist.

pub mod payments;

use crate::config::orders::OrdersSettings;
use crate::domain::account::Email;
use crate::domain::address::{AddressDraft, MAX_SAVED, NewAddress, SavedAddress};
use crate::domain::cart::{self, Cart, CartError, CartItem, CartOwner, LineProblem, PricedCart};
use crate::domain::discount::{CodeRejection, DiscountCode, DiscountDraft};
use crate::domain::notification::Notification;
use crate::domain::order::OrderFilter;
use crate::domain::order::{
    CheckoutRequest, IllegalTransition, Order, OrderLine, OrderStatus, PaymentMethod, ShipTo,
    Totals, Transition,
};
use crate::domain::review::ReviewDraft;
use crate::domain::{Checked, FieldErrors, Id, Product, Timestamp};
use crate::jobs::mail::EmailJob;
use crate::jobs::{Jobs, JobsError};
use crate::store::error::StoreError;
use crate::store::orders::{IdempotentReply, OrderPage};
use crate::store::{Store, WriteTxn};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use std::path::Path;
use std::sync::Arc;

/// How long an idempotency key answers with its order.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3600 * 1000;
/// Products one wishlist may hold.
pub const MAX_WISHLIST: usize = 500;

/// One line checkout refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedLine {
    pub product_id: String,
    pub problem: LineProblem,
    pub requested: u32,
    pub available: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("{0}")]
    NotFound(String),
    #[error("invalid input")]
    Validation(FieldErrors),
    #[error("product {0} is not for sale")]
    Unavailable(String),
    #[error("a cart holds at most {} different products", cart::MAX_LINES)]
    CartFull,
    #[error("the cart is empty")]
    CartEmpty,
    #[error("{} line(s) cannot be bought as asked", .0.len())]
    OutOfStock(Vec<BlockedLine>),
    #[error("{0}")]
    DiscountInvalid(CodeRejection),
    #[error("this Idempotency-Key was used with another request body")]
    IdempotencyKeyReused,
    #[error("{0}")]
    IllegalTransition(IllegalTransition),
    #[error("card payments are marked paid by the payment provider's webhook")]
    PaidByProvider,
    #[error("at most {MAX_SAVED} saved addresses")]
    TooManyAddresses,
    #[error("a wishlist holds at most {MAX_WISHLIST} products")]
    WishlistFull,
    #[error("discount code {0} exists")]
    Exists(String),
    #[error("only customers with a completed order of this product may review it")]
    NotPurchased,
    #[error("you have already reviewed this product")]
    AlreadyReviewed,
    #[error("payments are not configured (no webhook secret)")]
    PaymentsOff,
    #[error("{}", .0)]
    Signature(payments::SignatureError),
    #[error("{0}")]
    BadEvent(String),
    #[error("the paid amount {paid} is not the order's total {total}")]
    AmountMismatch { paid: String, total: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Jobs(#[from] JobsError),
}

impl From<CartError> for OrdersError {
    fn from(e: CartError) -> Self {
        match e {
            CartError::TooManyLines => OrdersError::CartFull,
            CartError::TooMany => field("quantity", &e.to_string()),
            CartError::NotInCart(p) => {
                OrdersError::NotFound(format!("product {p} is not in the cart"))
            }
        }
    }
}

impl OrdersError {
    /// A guest's checkout without an `email` (422).
    pub fn guest_email_required() -> OrdersError {
        field("email", "is required for a guest checkout")
    }
}

/// What identifies a checkout's request body for its idempotency key: the
/// SHA-256 of its JSON object in canonical form (serde_json's map is sorted
/// by key), so the same body sent again matches however it is spaced.
pub fn fingerprint(body: &Map<String, Value>) -> String {
    crate::accounts::tokens::token_hash(&serde_json::to_string(body).unwrap_or_default())
}

fn field(name: &str, reason: &str) -> OrdersError {
    let mut e = FieldErrors::new();
    e.push(name, reason);
    OrdersError::Validation(e)
}

/// What a checkout answered.
#[derive(Debug, Clone)]
pub struct CheckedOut {
    pub order: Order,
    /// The order came from an earlier request with the same key.
    pub replayed: bool,
}

/// Who is checking out.
#[derive(Debug, Clone)]
pub struct Shopper {
    pub cart: CartOwner,
    /// The signed-in account, if any.
    pub account: Option<Id>,
}

impl Shopper {
    /// The scope of its idempotency keys.
    fn caller(&self) -> String {
        self.cart.key()
    }
}

/// The selling service; cheap to clone.
#[derive(Clone)]
pub struct Orders {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    jobs: Jobs,
    settings: OrdersSettings,
    link_key: [u8; 32],
}

fn load_or_create_key(path: &Path) -> std::io::Result<[u8; 32]> {
    use rand::RngCore;
    if let Ok(bytes) = std::fs::read(path)
        && bytes.len() == 32
    {
        let mut k = [0u8; 32];
        k.copy_from_slice(&bytes);
        return Ok(k);
    }
    let mut k = [0u8; 32];
    rand::rng().fill_bytes(&mut k);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&k)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(k)
}

fn now() -> Timestamp {
    Timestamp::now()
}

fn after(t: Timestamp, ms: i64) -> Timestamp {
    Timestamp::from_millis(t.millis().saturating_add(ms)).unwrap_or(t)
}

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The product `id` inside a write, as a domain value.
fn product_in(tx: &mut WriteTxn, id: &str) -> Result<Option<Product>, StoreError> {
    tx.catalog().product(id)
}

impl Orders {
    pub fn new(store: Store, jobs: Jobs, settings: OrdersSettings) -> std::io::Result<Orders> {
        let link_key = load_or_create_key(&settings.link_key_file)?;
        Ok(Orders {
            inner: Arc::new(Inner {
                store,
                jobs,
                settings,
                link_key,
            }),
        })
    }

    /// Local settings in `dir` (tools, benchmarks, tests).
    pub fn local(store: Store, jobs: Jobs, dir: &Path) -> std::io::Result<Orders> {
        Orders::new(store, jobs, OrdersSettings::local(dir))
    }

    pub fn settings(&self) -> &OrdersSettings {
        &self.inner.settings
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    // ---- carts --------------------------------------------------------------------------------

    fn price_now(&self, cart: &Cart) -> Result<PricedCart, OrdersError> {
        let txn = self.store().read()?;
        let mut err = None;
        let priced = cart::price(cart, |id| match txn.catalog().product(id) {
            Ok(Some(r)) => r.to_domain().map_err(|e| err = Some(e)).ok(),
            Ok(None) => None,
            Err(e) => {
                err = Some(e);
                None
            }
        });
        match err {
            Some(e) => Err(e.into()),
            None => Ok(priced),
        }
    }

    /// The cart of `owner`, priced now (empty when it has none).
    pub fn cart(&self, owner: &CartOwner) -> Result<PricedCart, OrdersError> {
        let cart = self
            .store()
            .read()?
            .orders()
            .cart(&owner.key())?
            .unwrap_or_default();
        self.price_now(&cart)
    }

    /// Changes the cart of `owner` with `change` in one write; the cart
    /// priced after.
    async fn change_cart(
        &self,
        owner: &CartOwner,
        change: impl FnOnce(&mut WriteTxn, &mut Cart) -> Result<(), OrdersError> + Send + 'static,
    ) -> Result<PricedCart, OrdersError> {
        let key = owner.key();
        let cart = self
            .store()
            .write(move |tx| {
                let mut cart = tx.orders().cart(&key)?.unwrap_or_default();
                change(tx, &mut cart)?;
                cart.updated_at = Some(now());
                tx.orders().put_cart(&key, &cart)?;
                Ok::<_, OrdersError>(cart)
            })
            .await?;
        self.price_now(&cart)
    }

    /// Adds a product (which must exist and be for sale) to a cart.
    pub async fn add_item(
        &self,
        owner: &CartOwner,
        item: CartItem,
    ) -> Result<PricedCart, OrdersError> {
        self.change_cart(owner, move |tx, cart| {
            let pid = item.product_id.to_string();
            let p = product_in(tx, &pid)?
                .ok_or_else(|| OrdersError::NotFound(format!("no product {pid}")))?;
            if !p.is_available {
                return Err(OrdersError::Unavailable(pid));
            }
            cart.add(item.product_id, item.quantity, cart::unit_price_cents(&p))?;
            Ok(())
        })
        .await
    }

    pub async fn set_quantity(
        &self,
        owner: &CartOwner,
        product: &str,
        quantity: u32,
    ) -> Result<PricedCart, OrdersError> {
        let pid = product.to_string();
        self.change_cart(owner, move |tx, cart| {
            if cart.line(&pid).is_none() {
                return Err(CartError::NotInCart(pid).into());
            }
            let price = match product_in(tx, &pid)? {
                Some(p) => cart::unit_price_cents(&p),
                None => cart.line(&pid).map_or(0, |l| l.unit_price_cents),
            };
            cart.set(&pid, quantity, price)?;
            Ok(())
        })
        .await
    }

    pub async fn remove_item(
        &self,
        owner: &CartOwner,
        product: &str,
    ) -> Result<PricedCart, OrdersError> {
        let pid = product.to_string();
        self.change_cart(owner, move |_, cart| Ok(cart.remove(&pid)?))
            .await
    }

    pub async fn clear_cart(&self, owner: &CartOwner) -> Result<(), OrdersError> {
        let key = owner.key();
        self.store()
            .write(move |tx| {
                tx.orders().put_cart(&key, &Cart::default())?;
                Ok::<_, OrdersError>(())
            })
            .await
    }

    /// Moves a guest cart into an account's cart (after sign-in).
    pub async fn merge_guest_cart(
        &self,
        guest: CartOwner,
        account: &Id,
    ) -> Result<(), OrdersError> {
        let from = guest.key();
        let to = CartOwner::Account(account.clone()).key();
        self.store()
            .write(move |tx| {
                let mut c = tx.orders();
                let Some(g) = c.cart(&from)? else {
                    return Ok::<_, OrdersError>(());
                };
                let mut mine = c.cart(&to)?.unwrap_or_default();
                mine.merge(g);
                mine.updated_at = Some(now());
                c.put_cart(&to, &mine)?;
                c.put_cart(&from, &Cart::default())?;
                Ok(())
            })
            .await
    }

    // ---- checkout -----------------------------------------------------------------------------

    /// Places an order from the shopper's cart (see the module docs).
    /// `fingerprint` identifies the request body, for the idempotency key.
    pub async fn checkout(
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
        let email: Email = match (&account, &req.email) {
            (Some(a), _) => a.email.clone(),
            (None, Some(e)) => e.clone(),
            (None, None) => return Err(OrdersError::guest_email_required()),
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
                let cart_key = shopper.cart.key();
                let cart = tx.orders().cart(&cart_key)?.unwrap_or_default();
                if cart.is_empty() {
                    return Err(OrdersError::CartEmpty);
                }
                // Re-price and re-check every line against the products now.
                let mut products = Vec::with_capacity(cart.lines.len());
                for l in &cart.lines {
                    products.push(product_in(tx, l.product_id.as_str())?);
                }
                let mut it = products.iter();
                let priced = cart::price(&cart, |_| it.next().cloned().flatten());
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
                    return Err(OrdersError::OutOfStock(blocked));
                }
                let address = match &req.ship_to {
                    ShipTo::Address(a) => a.clone(),
                    ShipTo::Saved(id) => {
                        let saved = match &shopper.account {
                            Some(acct) => tx.orders().addresses(acct.as_str())?,
                            None => Vec::new(),
                        };
                        saved
                            .into_iter()
                            .find(|a| &a.id == id)
                            .map(|a| a.address)
                            .ok_or_else(|| {
                                field("addressId", &format!("no saved address '{id}'"))
                            })?
                    }
                };
                let subtotal = priced.subtotal_cents;
                let mut discount = 0;
                let mut code_used = None;
                if let Some(code) = &req.discount_code {
                    let customer = match &shopper.account {
                        Some(a) => format!("account:{a}"),
                        None => format!("email:{}", email.as_str()),
                    };
                    let mut c = tx.orders();
                    let mut d = c
                        .discount_code(code)?
                        .ok_or(OrdersError::DiscountInvalid(CodeRejection::Unknown))?;
                    let uses = c.discount_uses(code, &customer)?;
                    discount = d
                        .amount_off(subtotal, now, uses)
                        .map_err(OrdersError::DiscountInvalid)?;
                    c.use_discount_code(&mut d, &customer)?;
                    code_used = Some(d.code.clone());
                }
                let totals = Totals::compute(subtotal, discount, charges);
                // Stock: every line was checked above, in this transaction.
                let mut lines = Vec::with_capacity(priced.lines.len());
                for (l, p) in priced.lines.iter().zip(products) {
                    let p = p.ok_or_else(|| {
                        OrdersError::NotFound(format!("no product {}", l.product_id))
                    })?;
                    tx.catalog()
                        .set_stock(p.id.as_str(), p.stock - l.quantity)?;
                    lines.push(OrderLine {
                        product_id: l.product_id.clone(),
                        title: p.title.clone(),
                        unit_price_cents: l.unit_price_cents,
                        quantity: l.quantity,
                    });
                }
                let number = tx.orders().next_order_number()?;
                let order = Order {
                    id: Id::generate("ord"),
                    number,
                    account_id: shopper.account.clone(),
                    email: email.clone(),
                    status: OrderStatus::Pending,
                    paid_at: None,
                    payment_method: req.payment_method,
                    lines,
                    address,
                    totals,
                    discount_code: code_used,
                    refund_due: false,
                    history: vec![Transition {
                        status: OrderStatus::Pending,
                        by: "customer".into(),
                        at: now,
                    }],
                    created_at: now,
                    updated_at: now,
                };
                let mut c = tx.orders();
                c.insert_order(&order)?;
                c.put_idempotent(
                    &caller,
                    &key,
                    &IdempotentReply {
                        fingerprint: fingerprint.clone(),
                        order_id: order.id.to_string(),
                    },
                    after(now, IDEMPOTENCY_TTL_MS),
                )?;
                c.put_cart(&cart_key, &Cart::default())?;
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

    // ---- orders -------------------------------------------------------------------------------

    /// An order its account, or a guest with its signed link, may see.
    pub fn order_for(
        &self,
        id: &str,
        account: Option<&Id>,
        link_token: Option<&str>,
    ) -> Result<Order, OrdersError> {
        let not_found = || OrdersError::NotFound(format!("no order {id}"));
        let order = self
            .store()
            .read()?
            .orders()
            .order(id)?
            .ok_or_else(not_found)?;
        let own = account.is_some() && order.account_id.as_ref() == account;
        let linked = link_token.is_some_and(|t| self.link_matches(&order.id, t));
        if own || linked {
            Ok(order)
        } else {
            Err(not_found())
        }
    }

    pub fn order(&self, id: &str) -> Result<Order, OrdersError> {
        self.store()
            .read()?
            .orders()
            .order(id)?
            .ok_or_else(|| OrdersError::NotFound(format!("no order {id}")))
    }

    pub fn orders(
        &self,
        filter: &OrderFilter,
        offset: u64,
        limit: usize,
    ) -> Result<OrderPage, OrdersError> {
        Ok(self.store().read()?.orders().list(filter, offset, limit)?)
    }

    /// The token of a guest's order link (HMAC-SHA256 of the order id).
    pub fn order_link_token(&self, order: &Id) -> String {
        link_token(&self.inner.link_key, order)
    }

    fn link_matches(&self, order: &Id, token: &str) -> bool {
        let Some(tag) = unhex(token) else {
            return false;
        };
        let mut m = Hmac::<Sha256>::new_from_slice(&self.inner.link_key)
            .expect("HMAC accepts any key length");
        m.update(b"order:");
        m.update(order.as_str().as_bytes());
        m.verify_slice(&tag).is_ok()
    }

    /// Moves an order to `to` on behalf of `by` (staff), with its side
    /// effects: stock back on cancel, mail and a notification.
    pub async fn set_status(
        &self,
        id: &str,
        to: OrderStatus,
        by: String,
    ) -> Result<Order, OrdersError> {
        if to == OrderStatus::Paid {
            return self.mark_paid(id, by).await;
        }
        let id = id.to_string();
        let jobs = self.inner.jobs.clone();
        self.store()
            .write(move |tx| {
                let now = now();
                let before = tx
                    .orders()
                    .order(&id)?
                    .ok_or_else(|| OrdersError::NotFound(format!("no order {id}")))?;
                let mut o = before.clone();
                o.transition(to, by, now)
                    .map_err(OrdersError::IllegalTransition)?;
                if to == OrderStatus::Cancelled {
                    for l in &o.lines {
                        if let Some(p) = product_in(tx, l.product_id.as_str())? {
                            tx.catalog()
                                .set_stock(p.id.as_str(), p.stock.saturating_add(l.quantity))?;
                        }
                    }
                }
                tx.orders().put_order(&before, &o)?;
                if to == OrderStatus::Shipped {
                    let mail = mail_to(&o, "order_shipped", json!({}));
                    tx.jobs().enqueue(jobs.email(&mail)?, now)?;
                }
                let kind = match to {
                    OrderStatus::Shipped => "order_shipped",
                    OrderStatus::Completed => "order_completed",
                    _ => "order_cancelled",
                };
                notify(tx, &o, kind, now)?;
                Ok(o)
            })
            .await
    }

    /// Marks a bank-transfer or cash-on-delivery order paid (staff).
    pub async fn mark_paid(&self, id: &str, by: String) -> Result<Order, OrdersError> {
        let id = id.to_string();
        let jobs = self.inner.jobs.clone();
        self.store()
            .write(move |tx| {
                let o = tx
                    .orders()
                    .order(&id)?
                    .ok_or_else(|| OrdersError::NotFound(format!("no order {id}")))?;
                if o.payment_method == PaymentMethod::Card {
                    return Err(OrdersError::PaidByProvider);
                }
                pay(tx, &jobs, o, by)
            })
            .await
    }

    /// A payment provider's webhook: verifies the signature, then applies
    /// the event once. `Ok(false)`: a replay, nothing changed.
    pub async fn payment_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<bool, OrdersError> {
        let secret = self
            .inner
            .settings
            .webhook_secret
            .as_ref()
            .ok_or(OrdersError::PaymentsOff)?;
        payments::verify(
            secret.expose().as_bytes(),
            signature.unwrap_or(""),
            body,
            now().millis() / 1000,
        )
        .map_err(OrdersError::Signature)?;
        let event = payments::parse_event(body).map_err(OrdersError::BadEvent)?;
        let jobs = self.inner.jobs.clone();
        self.store()
            .write(move |tx| {
                if !tx.orders().record_payment_event(&event.id, now())? {
                    return Ok(false);
                }
                if event.kind != "payment.succeeded" {
                    return Ok(true);
                }
                let oid = event
                    .order_id
                    .clone()
                    .ok_or_else(|| OrdersError::BadEvent("data.orderId is required".into()))?;
                let o = tx
                    .orders()
                    .order(&oid)?
                    .ok_or_else(|| OrdersError::NotFound(format!("no order {oid}")))?;
                if let Some(paid) = event.amount_cents
                    && paid != o.totals.total
                {
                    return Err(OrdersError::AmountMismatch {
                        paid: money(paid),
                        total: money(o.totals.total),
                    });
                }
                pay(tx, &jobs, o, "payment provider".into())?;
                Ok(true)
            })
            .await
    }

    // ---- addresses, wishlist, notifications ---------------------------------------------------

    pub fn addresses(&self, account: &Id) -> Result<Vec<SavedAddress>, OrdersError> {
        Ok(self.store().read()?.orders().addresses(account.as_str())?)
    }

    pub async fn add_address(
        &self,
        account: &Id,
        new: NewAddress,
    ) -> Result<SavedAddress, OrdersError> {
        let account = account.clone();
        self.store()
            .write(move |tx| {
                let mut c = tx.orders();
                let all = c.addresses(account.as_str())?;
                if all.len() >= MAX_SAVED {
                    return Err(OrdersError::TooManyAddresses);
                }
                let is_default = new.is_default || all.is_empty();
                if is_default {
                    unset_default(&mut c, all)?;
                }
                let a = SavedAddress {
                    id: Id::generate("adr"),
                    account_id: account,
                    address: new.address,
                    is_default,
                    created_at: now(),
                };
                c.put_address(&a)?;
                Ok(a)
            })
            .await
    }

    pub async fn update_address(
        &self,
        account: &Id,
        id: &str,
        patch: AddressDraft,
    ) -> Result<SavedAddress, OrdersError> {
        let account = account.clone();
        let id = id.to_string();
        self.store()
            .write(move |tx| {
                let mut c = tx.orders();
                let all = c.addresses(account.as_str())?;
                let mut a = all
                    .iter()
                    .find(|a| a.id.as_str() == id)
                    .cloned()
                    .ok_or_else(|| OrdersError::NotFound(format!("no address {id}")))?;
                a.address = patch.apply(&a.address);
                if patch.is_default == Some(true) && !a.is_default {
                    unset_default(&mut c, all)?;
                    a.is_default = true;
                }
                c.put_address(&a)?;
                Ok(a)
            })
            .await
    }

    pub async fn delete_address(&self, account: &Id, id: &str) -> Result<(), OrdersError> {
        let account = account.clone();
        let id = id.to_string();
        self.store()
            .write(move |tx| {
                let mut c = tx.orders();
                let all = c.addresses(account.as_str())?;
                let Some(gone) = all.iter().find(|a| a.id.as_str() == id) else {
                    return Err(OrdersError::NotFound(format!("no address {id}")));
                };
                c.delete_address(account.as_str(), &id)?;
                // The oldest remaining address becomes the default.
                if gone.is_default
                    && let Some(mut next) = all.into_iter().find(|a| a.id.as_str() != id)
                {
                    next.is_default = true;
                    c.put_address(&next)?;
                }
                Ok(())
            })
            .await
    }

    /// The wishlist with each product as it is now (gone products left out).
    pub fn wishlist(&self, account: &Id) -> Result<Vec<(Product, Timestamp)>, OrdersError> {
        let txn = self.store().read()?;
        let mut out = Vec::new();
        for (pid, at) in txn.orders().wishlist(account.as_str())? {
            if let Some(r) = txn.catalog().product(pid.as_str())? {
                out.push((r.to_domain()?, at));
            }
        }
        Ok(out)
    }

    pub async fn wish(&self, account: &Id, product: &Id) -> Result<(), OrdersError> {
        let account = account.clone();
        let product = product.clone();
        self.store()
            .write(move |tx| {
                if !tx.catalog().product_exists(product.as_str())? {
                    return Err(OrdersError::NotFound(format!("no product {product}")));
                }
                let n = tx
                    .orders()
                    .wish(account.as_str(), product.as_str(), now())?;
                if n > MAX_WISHLIST {
                    return Err(OrdersError::WishlistFull);
                }
                Ok(())
            })
            .await
    }

    pub async fn unwish(&self, account: &Id, product: &str) -> Result<(), OrdersError> {
        let account = account.clone();
        let product = product.to_string();
        self.store()
            .write(move |tx| {
                if tx.orders().unwish(account.as_str(), &product)? {
                    Ok(())
                } else {
                    Err(OrdersError::NotFound(format!(
                        "product {product} is not on the wishlist"
                    )))
                }
            })
            .await
    }

    pub fn notifications(&self, account: &Id) -> Result<Vec<Notification>, OrdersError> {
        Ok(self
            .store()
            .read()?
            .orders()
            .notifications(account.as_str())?)
    }

    pub async fn read_notification(&self, account: &Id, id: &str) -> Result<(), OrdersError> {
        let account = account.clone();
        let id = id.to_string();
        self.store()
            .write(move |tx| {
                let mut c = tx.orders();
                let mut n = c
                    .notification(account.as_str(), &id)?
                    .ok_or_else(|| OrdersError::NotFound(format!("no notification {id}")))?;
                if n.read_at.is_none() {
                    n.read_at = Some(now());
                    c.put_notification(&n)?;
                }
                Ok(())
            })
            .await
    }

    // ---- discount codes -----------------------------------------------------------------------

    pub fn discount_codes(&self) -> Result<Vec<DiscountCode>, OrdersError> {
        Ok(self.store().read()?.orders().discount_codes()?)
    }

    pub fn discount_code(&self, code: &str) -> Result<DiscountCode, OrdersError> {
        let code = code.to_ascii_uppercase();
        self.store()
            .read()?
            .orders()
            .discount_code(&code)?
            .ok_or_else(|| OrdersError::NotFound(format!("no discount code {code}")))
    }

    pub async fn create_discount_code(
        &self,
        draft: DiscountDraft,
    ) -> Result<DiscountCode, OrdersError> {
        let code = draft
            .create(now())
            .ok_or_else(|| field("code", "is required"))?;
        self.store()
            .write(move |tx| {
                let mut c = tx.orders();
                if c.discount_code(&code.code)?.is_some() {
                    return Err(OrdersError::Exists(code.code));
                }
                c.put_discount_code(&code)?;
                Ok(code)
            })
            .await
    }

    pub async fn update_discount_code(
        &self,
        code: &str,
        patch: DiscountDraft,
    ) -> Result<DiscountCode, OrdersError> {
        let code = code.to_ascii_uppercase();
        self.store()
            .write(move |tx| {
                let mut c = tx.orders();
                let d = c
                    .discount_code(&code)?
                    .ok_or_else(|| OrdersError::NotFound(format!("no discount code {code}")))?;
                let n = patch.apply(&d, now()).map_err(OrdersError::Validation)?;
                c.put_discount_code(&n)?;
                Ok(n)
            })
            .await
    }

    pub async fn delete_discount_code(&self, code: &str) -> Result<(), OrdersError> {
        let code = code.to_ascii_uppercase();
        self.store()
            .write(move |tx| {
                if tx.orders().delete_discount_code(&code)? {
                    Ok(())
                } else {
                    Err(OrdersError::NotFound(format!("no discount code {code}")))
                }
            })
            .await
    }

    // ---- verified-purchase reviews ------------------------------------------------------------

    /// A customer's review of a product they bought (a completed order of
    /// theirs holds it); one per product and account. The product's rating
    /// aggregate changes in the same write. The new review's id.
    pub async fn customer_review(
        &self,
        account: &Id,
        product: &str,
        input: Checked<ReviewDraft>,
    ) -> Result<Id, OrdersError> {
        let Checked { value: d, errors } = input;
        let account = account.clone();
        let product = product.to_string();
        let who = self
            .store()
            .read()?
            .accounts()
            .account(account.as_str())?
            .ok_or_else(|| OrdersError::NotFound(format!("no account {account}")))?;
        self.store()
            .write(move |tx| {
                if !tx.catalog().product_exists(&product)? {
                    return Err(OrdersError::NotFound(format!("no product {product}")));
                }
                if !errors.is_empty() {
                    return Err(OrdersError::Validation(errors));
                }
                if tx
                    .orders()
                    .customer_review(account.as_str(), &product)?
                    .is_some()
                {
                    return Err(OrdersError::AlreadyReviewed);
                }
                if !tx.orders().bought(account.as_str(), &product)? {
                    return Err(OrdersError::NotPurchased);
                }
                let now = now();
                if !tx.catalog().reviewer_exists(account.as_str())? {
                    tx.catalog().put_reviewer(&crate::domain::Reviewer {
                        id: account.clone(),
                        email: who.email.as_str().to_string(),
                        name: who.name.clone(),
                        created_at: now,
                    })?;
                }
                let pid = Id::parse(&product)
                    .map_err(|_| OrdersError::NotFound(format!("no product {product}")))?;
                let mut id = Id::generate("r");
                while tx.catalog().review_exists(id.as_str())? {
                    id = Id::generate("r");
                }
                let review = ReviewDraft {
                    user_id: Some(account.clone()),
                    ..d
                }
                .into_review(id.clone(), pid, now)
                .ok_or_else(|| field("rating", "is required"))?;
                tx.catalog().put_review(&review)?;
                tx.orders()
                    .put_customer_review(account.as_str(), &product, id.as_str())?;
                Ok(id)
            })
            .await
    }
}

fn unset_default(
    c: &mut crate::store::orders::OrdersWriter<'_>,
    all: Vec<SavedAddress>,
) -> Result<(), StoreError> {
    for mut a in all.into_iter().filter(|a| a.is_default) {
        a.is_default = false;
        c.put_address(&a)?;
    }
    Ok(())
}

/// Marks `o` paid inside a write: status, mail, notification.
fn pay(tx: &mut WriteTxn, jobs: &Jobs, before: Order, by: String) -> Result<Order, OrdersError> {
    let now = now();
    let mut o = before.clone();
    o.transition(OrderStatus::Paid, by, now)
        .map_err(OrdersError::IllegalTransition)?;
    tx.orders().put_order(&before, &o)?;
    let mail = mail_to(
        &o,
        "payment_received",
        json!({"amount": money(o.totals.total)}),
    );
    tx.jobs().enqueue(jobs.email(&mail)?, now)?;
    notify(tx, &o, "payment_received", now)?;
    Ok(o)
}

fn notify(tx: &mut WriteTxn, o: &Order, kind: &str, now: Timestamp) -> Result<(), StoreError> {
    let Some(account) = &o.account_id else {
        return Ok(());
    };
    let message = match kind {
        "order_placed" => format!(
            "Order #{} is placed: {} in all.",
            o.number,
            money(o.totals.total)
        ),
        "payment_received" => format!("We received the payment for order #{}.", o.number),
        "order_shipped" => format!("Order #{} has shipped.", o.number),
        "order_completed" => format!("Order #{} is complete.", o.number),
        _ => format!("Order #{} is cancelled.", o.number),
    };
    tx.orders().put_notification(&Notification {
        id: Id::generate("ntf"),
        account_id: account.clone(),
        kind: kind.into(),
        message,
        order_id: Some(o.id.clone()),
        created_at: now,
        read_at: None,
    })
}

fn mail_to(o: &Order, template: &str, extra: Value) -> EmailJob {
    let mut vars = Map::new();
    vars.insert("name".into(), o.address.name.clone().into());
    vars.insert("order_id".into(), format!("#{}", o.number).into());
    if let Value::Object(m) = extra {
        vars.extend(m);
    }
    EmailJob {
        template: template.into(),
        to: o.email.as_str().into(),
        vars,
        secret: Map::new(),
    }
}

fn confirmation_mail(o: &Order, link: Option<String>) -> EmailJob {
    let lines: Vec<Value> = o
        .lines
        .iter()
        .map(|l| json!({"quantity": l.quantity, "title": l.title, "total": money(l.total_cents())}))
        .collect();
    let mut m = mail_to(
        o,
        "order_confirmation",
        json!({"lines": lines, "total": money(o.totals.total)}),
    );
    if let Some(link) = link {
        m.secret.insert("order_url".into(), link.into());
    }
    m
}

fn link_token(key: &[u8; 32], order: &Id) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(b"order:");
    m.update(order.as_str().as_bytes());
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn order_link(key: &[u8; 32], public_url: &str, order: &Id) -> String {
    format!(
        "{}/api/v1/orders/{order}?token={}",
        public_url.trim_end_matches('/'),
        link_token(key, order)
    )
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
