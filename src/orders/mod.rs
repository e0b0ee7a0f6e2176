//! The selling service, split by concept: carts ([`cart`]), checkout
//! ([`checkout`]: load → decide with `domain::checkout::place` → apply),
//! orders and their status machine ([`status`]), payments ([`payments`]),
//! discount codes ([`discounts`]), and the customer's addresses, wishlist
//! and notifications ([`profile`]); unpaid orders' holds and their expiry
//! ([`holds`]); the mail each sends ([`mail`]).
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

mod cart;
mod checkout;
mod discounts;
mod holds;
mod mail;
pub mod payments;
mod profile;
mod status;

pub(crate) use holds::{Expiry, KIND_EXPIRE_UNPAID, period as expiry_period};

use crate::config::orders::OrdersSettings;
use crate::domain::address::MAX_SAVED;
use crate::domain::cart::{self as carts, CartError, CartOwner};
use crate::domain::discount::CodeRejection;
use crate::domain::order::{IllegalTransition, Order};
use crate::domain::{FieldErrors, Id, Product, Timestamp};
use crate::jobs::{Jobs, JobsError};
use crate::store::error::StoreError;
use crate::store::{Store, WriteTxn};
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::Arc;

/// How long an idempotency key answers with its order.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3600 * 1000;
/// Products one wishlist may hold.
pub(crate) const MAX_WISHLIST: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("{0}")]
    NotFound(String),
    #[error("invalid input")]
    Validation(FieldErrors),
    #[error("product {0} is not for sale")]
    Unavailable(String),
    #[error("a cart holds at most {} different products", carts::MAX_LINES)]
    CartFull,
    #[error("the cart is empty")]
    CartEmpty,
    #[error("{} line(s) cannot be bought as asked", .0.len())]
    OutOfStock(Vec<crate::domain::checkout::BlockedLine>),
    #[error("{0}")]
    DiscountInvalid(CodeRejection),
    #[error("this Idempotency-Key was used with another request body")]
    IdempotencyKeyReused,
    #[error("{0}")]
    IllegalTransition(IllegalTransition),
    #[error("card payments are marked paid by the payment provider's webhook")]
    PaidByProvider,
    #[error("this order is paid by {0}, not through the payment provider")]
    NotPaidByProvider(&'static str),
    #[error("at most {MAX_SAVED} saved addresses")]
    TooManyAddresses,
    #[error("a wishlist holds at most {MAX_WISHLIST} products")]
    WishlistFull,
    #[error("discount code {0} exists")]
    Exists(String),
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
pub(crate) struct CheckedOut {
    pub order: Order,
    /// The order came from an earlier request with the same key.
    pub replayed: bool,
}

/// Who is checking out.
#[derive(Debug, Clone)]
pub(crate) struct Shopper {
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
    pub(crate) fn new(
        store: Store,
        jobs: Jobs,
        settings: OrdersSettings,
    ) -> std::io::Result<Orders> {
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

    fn store(&self) -> &Store {
        &self.inner.store
    }
}
