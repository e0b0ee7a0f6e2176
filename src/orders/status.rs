//! Orders after checkout: who may see one, staff lists, and the status
//! machine (`domain::order`) with its side effects — stock back on cancel,
//! mail and notifications — in the same write.
use super::mail::{mail_to, unhex};
use super::{Orders, OrdersError, money, now, product_in};
use crate::domain::discount;
use crate::domain::notification::Notification;
use crate::domain::order::{Order, OrderFilter, OrderStatus, PaymentMethod};
use crate::domain::{Id, Timestamp};
use crate::jobs::Jobs;
use crate::store::WriteTxn;
use crate::store::error::StoreError;
use crate::store::orders::OrderPage;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

impl Orders {
    /// An order its account, or a guest with its signed link, may see.
    pub(crate) fn order_for(
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

    pub(crate) fn order(&self, id: &str) -> Result<Order, OrdersError> {
        self.store()
            .read()?
            .orders()
            .order(id)?
            .ok_or_else(|| OrdersError::NotFound(format!("no order {id}")))
    }

    pub(crate) fn orders(
        &self,
        filter: &OrderFilter,
        offset: u64,
        limit: usize,
    ) -> Result<OrderPage, OrdersError> {
        Ok(self.store().read()?.orders().list(filter, offset, limit)?)
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
    pub(crate) async fn set_status(
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
                if to == OrderStatus::Cancelled {
                    return cancel(tx, &jobs, before, by, None, now);
                }
                let mut o = before.clone();
                o.transition(to, by, now)
                    .map_err(OrdersError::IllegalTransition)?;
                tx.orders().put_order(&before, &o)?;
                if to == OrderStatus::Shipped {
                    let mail = mail_to(&o, "order_shipped", json!({}));
                    tx.jobs().enqueue(jobs.email(&mail)?, now)?;
                }
                let kind = match to {
                    OrderStatus::Shipped => "order_shipped",
                    _ => "order_completed",
                };
                notify(tx, &o, kind, now)?;
                Ok(o)
            })
            .await
    }

    /// Marks a bank-transfer or cash-on-delivery order paid (staff).
    pub(crate) async fn mark_paid(&self, id: &str, by: String) -> Result<Order, OrdersError> {
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
}

/// Cancels `before` inside a write on behalf of `by`: stock back, the
/// discount code's use returned (to the code and the customer), the
/// customer mailed (with `reason`, if any) and notified.
pub(super) fn cancel(
    tx: &mut WriteTxn,
    jobs: &Jobs,
    before: Order,
    by: String,
    reason: Option<&str>,
    now: Timestamp,
) -> Result<Order, OrdersError> {
    let mut o = before.clone();
    o.transition(OrderStatus::Cancelled, by, now)
        .map_err(OrdersError::IllegalTransition)?;
    for l in &o.lines {
        if let Some(p) = product_in(tx, l.product_id.as_str())? {
            tx.catalog()
                .set_stock(p.id.as_str(), p.stock.saturating_add(l.quantity))?;
        }
    }
    if let Some(code) = &o.discount_code {
        let customer = discount::customer_identity(o.email.as_str());
        tx.orders().release_discount_code(code, &customer)?;
    }
    tx.orders().put_order(&before, &o)?;
    let mail = mail_to(
        &o,
        "order_cancelled",
        json!({"reason": reason, "refund": o.refund_due}),
    );
    tx.jobs().enqueue(jobs.email(&mail)?, now)?;
    notify(tx, &o, "order_cancelled", now)?;
    Ok(o)
}

/// Marks `o` paid inside a write: status, mail, notification.
pub(super) fn pay(
    tx: &mut WriteTxn,
    jobs: &Jobs,
    before: Order,
    by: String,
) -> Result<Order, OrdersError> {
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

pub(super) fn notify(
    tx: &mut WriteTxn,
    o: &Order,
    kind: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
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
