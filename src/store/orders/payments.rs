//! What makes a checkout and a payment happen once: idempotency keys (a
//! checkout's request fingerprint and order) and the payment provider's
//! events already applied.

use super::OrdersWriter;
use super::tables::*;
use crate::domain::Timestamp;
use crate::store::error::StoreResult;
use redb::ReadableTable;

/// An idempotency key as a checkout finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdempotentReply {
    pub fingerprint: String,
    pub order_id: String,
}

impl OrdersWriter<'_> {
    /// The order an idempotency key of `caller` made, if any (and not
    /// expired at `now`).
    pub(crate) fn idempotent(
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

    pub(crate) fn put_idempotent(
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
    pub(crate) fn record_payment_event(
        &mut self,
        event: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut t = self.tables.open(PAYMENT_EVENTS)?;
        if t.get(event)?.is_some() {
            return Ok(false);
        }
        t.insert(event, now.millis())?;
        Ok(true)
    }
}
