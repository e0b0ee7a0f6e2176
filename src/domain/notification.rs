//! In-app notifications (the plans' Notification model): a short message to
//! one account about one of its orders, read or not.

use super::{Id, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notification {
    pub id: Id,
    pub account_id: Id,
    /// `order_placed`, `payment_received`, `order_shipped`,
    /// `order_completed`, `order_cancelled`.
    pub kind: String,
    pub message: String,
    pub order_id: Option<Id>,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
}
