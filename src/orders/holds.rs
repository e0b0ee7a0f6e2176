//! Unpaid orders' holds: a pending order that is not paid within its
//! payment method's hold (`domain::order::Holds`, set by `--hold-card` and
//! `--hold-bank-transfer`) is cancelled by a periodic job on the
//! maintenance queue — its stock back, its discount use returned, the
//! customer mailed and notified — in one write per batch, so a payment
//! that lands in between is seen (a paid order is no longer a candidate).
//!
//! # Invariants
//! - Only pending, unpaid card and bank-transfer orders past
//!   [`Order::held_until`] are cancelled; cash on delivery never is.
//! - The job runs at least every minute (more often with holds under two
//!   minutes), so an order is cancelled at most that long after its hold
//!   ends; its page says until when it is held (`heldUntil`).
//!
//! The job service is built, and its periodic kinds fixed, before this
//! service exists (it is shared with it), so the job's handler reaches the
//! service through a slot [`Expiry::attach`] fills, holding it weakly.

use super::status::cancel;
use super::{Inner, Orders, OrdersError, now};
use crate::domain::Timestamp;
use crate::domain::job::Job;
use crate::domain::order::{Holds, Order};
use crate::jobs::{Handler, HandlerFuture, JobError};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

/// The periodic job's kind.
pub(crate) const KIND_EXPIRE_UNPAID: &str = "expire_unpaid_orders";

/// Orders cancelled per write.
const BATCH: usize = 200;

/// Who the order's history names as the canceller.
const BY: &str = "hold expired";

/// Why, in the customer's mail.
const REASON: &str = "it was not paid in time";

/// How often the expiry runs: half the shortest hold, from 1 s to 1 min.
pub(crate) fn period(holds: &Holds) -> Duration {
    let half = u64::try_from(holds.shortest_ms() / 2).unwrap_or(0);
    Duration::from_millis(half.clamp(1_000, 60_000))
}

/// The expiry job's handler, made before the service it calls.
#[derive(Clone, Default)]
pub(crate) struct Expiry {
    orders: Arc<OnceLock<Weak<Inner>>>,
}

impl Expiry {
    pub(crate) fn handler(&self) -> Arc<dyn Handler> {
        Arc::new(self.clone())
    }

    /// Points the handler at `orders` (once).
    pub(crate) fn attach(&self, orders: &Orders) {
        let _ = self.orders.set(Arc::downgrade(&orders.inner));
    }
}

impl Handler for Expiry {
    fn run(&self, _job: Job) -> HandlerFuture {
        let orders = self
            .orders
            .get()
            .and_then(Weak::upgrade)
            .map(|inner| Orders { inner });
        Box::pin(async move {
            let Some(orders) = orders else {
                return Ok(()); // shutting down, or not attached in this process
            };
            orders
                .expire_unpaid(now())
                .await
                .map(|n| {
                    if n > 0 {
                        tracing::info!(cancelled = n, "unpaid orders past their hold cancelled");
                    }
                })
                .map_err(|e| JobError::Failed(e.to_string()))
        })
    }
}

impl Orders {
    /// How long unpaid orders hold their stock.
    pub(crate) fn holds(&self) -> &Holds {
        &self.inner.settings.holds
    }

    /// Cancels every pending unpaid order past its hold at `at`; the
    /// number cancelled.
    pub(crate) async fn expire_unpaid(&self, at: Timestamp) -> Result<usize, OrdersError> {
        let holds = *self.holds();
        let mut cancelled = 0;
        loop {
            let jobs = self.inner.jobs.clone();
            let (done, more) = self
                .store()
                .write(move |tx| {
                    let before = at.millis().saturating_sub(holds.shortest_ms());
                    let expired = |o: &Order| o.held_until(&holds).is_some_and(|u| u <= at);
                    let found = tx.orders().pending_unpaid_before(before, BATCH, expired)?;
                    let done = found.len();
                    for o in found {
                        cancel(tx, &jobs, o, BY.into(), Some(REASON), at)?;
                    }
                    Ok::<_, OrdersError>((done, done == BATCH))
                })
                .await?;
            cancelled += done;
            if !more {
                return Ok(cancelled);
            }
        }
    }
}
