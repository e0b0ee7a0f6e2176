//! Guest carts in Redis, as the plans keep them: one hash `cart:<token>` per
//! cart, a field per product (`<position> <quantity> <unit price cents>`),
//! the whole hash expiring 30 days after its last change.
//!
//! The token is the key itself (the plans' cart id in a header): shopd's
//! `random_secret` (32 random bytes, base64url) for a new cart; a token
//! with no cart behind it is not adopted (an add starts a new cart under a
//! new token), as in shopd. An add reads the hash, applies shopd's own [`Cart::add`] (so the limits and
//! errors are shopd's), and writes back the one changed field with the TTL
//! in one pipeline: two adds racing on one cart may lose one of them, as a
//! read-modify-write in the plans would (a cart belongs to one shopper).
//!
//! Redis is not part of PostgreSQL's transaction: a checkout clears the cart
//! after its commit. Carts use Redis whether or not answers are cached
//! (`--cache off` turns off the response cache only).

use crate::db::internal_msg;
use redis::aio::ConnectionManager;
use shopd::api::error::ApiError;
use shopd::domain::Id;
use shopd::domain::cart::{Cart, CartLine};

/// A cart nobody changed for this long is gone (shopd's guest TTL).
const TTL_SECS: u64 = (shopd::domain::cart::GUEST_TTL_MS / 1000) as u64;

#[derive(Clone)]
pub struct Carts {
    redis: ConnectionManager,
}

fn redis_error(e: redis::RedisError, what: &str) -> ApiError {
    internal_msg(e, what)
}

fn key(token: &str) -> String {
    format!("cart:{token}")
}

impl Carts {
    pub async fn connect(url: &str) -> anyhow::Result<Carts> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("parsing the Redis URL {url}: {e}"))?;
        let redis = ConnectionManager::new(client)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to Redis at {url} (carts): {e}"))?;
        Ok(Carts { redis })
    }

    /// A fresh cart token (shopd's).
    pub fn new_token() -> String {
        shopd::accounts::tokens::random_secret()
    }

    /// The cart of `token`, its lines in the order they were first added;
    /// `None` when there is no such cart.
    pub async fn load(&self, token: &str) -> Result<Option<Cart>, ApiError> {
        let mut con = self.redis.clone();
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(key(token))
            .query_async(&mut con)
            .await
            .map_err(|e| redis_error(e, "reading a cart"))?;
        if fields.is_empty() {
            return Ok(None);
        }
        let mut lines = Vec::with_capacity(fields.len());
        for (product, value) in fields {
            let mut parts = value.split(' ').map(str::parse::<u64>);
            let (Some(Ok(position)), Some(Ok(quantity)), Some(Ok(unit_price_cents))) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(internal_msg(value, "a stored cart line"));
            };
            let product_id =
                Id::parse(&product).map_err(|e| internal_msg(e, "a stored cart product"))?;
            lines.push((
                position,
                CartLine {
                    product_id,
                    quantity: quantity as u32,
                    unit_price_cents,
                },
            ));
        }
        lines.sort_by_key(|(position, _)| *position);
        Ok(Some(Cart {
            lines: lines.into_iter().map(|(_, l)| l).collect(),
            updated_at: None,
        }))
    }

    /// Stores line `position` of the cart (new or changed) and restarts the
    /// cart's 30 days.
    pub async fn put_line(
        &self,
        token: &str,
        position: usize,
        line: &CartLine,
    ) -> Result<(), ApiError> {
        let mut con = self.redis.clone();
        let value = format!("{position} {} {}", line.quantity, line.unit_price_cents);
        redis::pipe()
            .cmd("HSET")
            .arg(key(token))
            .arg(line.product_id.as_str())
            .arg(value)
            .ignore()
            .cmd("EXPIRE")
            .arg(key(token))
            .arg(TTL_SECS)
            .ignore()
            .query_async::<()>(&mut con)
            .await
            .map_err(|e| redis_error(e, "writing a cart"))
    }

    /// Removes the cart (after a checkout committed). A failure is logged:
    /// the order exists, and a second checkout of the same cart would need
    /// the stock again.
    pub async fn clear(&self, token: &str) {
        let mut con = self.redis.clone();
        if let Err(e) = redis::cmd("DEL")
            .arg(key(token))
            .query_async::<()>(&mut con)
            .await
        {
            tracing::error!(error = %e, "clearing a checked-out cart failed");
        }
    }
}
