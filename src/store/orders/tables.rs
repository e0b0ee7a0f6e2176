//! The selling tables (see the module docs of `store::orders` for what
//! their keys mean).

use redb::TableDefinition;

pub(crate) const CARTS: TableDefinition<&str, &[u8]> = TableDefinition::new("carts");
pub(crate) const ADDRESSES: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("addresses");
pub(crate) const WISHLIST: TableDefinition<(&str, &str), i64> = TableDefinition::new("wishlist");
pub(crate) const ORDERS: TableDefinition<&str, &[u8]> = TableDefinition::new("orders");
pub(crate) const ORDERS_BY_NUMBER: TableDefinition<u64, &str> =
    TableDefinition::new("orders_by_number");
pub(crate) const ORDERS_BY_ACCOUNT: TableDefinition<(&str, i64, &str), ()> =
    TableDefinition::new("orders_by_account");
pub(crate) const ORDERS_BY_STATUS: TableDefinition<(u8, u8, i64, &str), ()> =
    TableDefinition::new("orders_by_status");
pub(crate) const ORDERS_BY_CREATED: TableDefinition<(i64, &str), ()> =
    TableDefinition::new("orders_by_created");
pub(crate) const DISCOUNT_CODES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("discount_codes");
pub(crate) const DISCOUNT_USES: TableDefinition<(&str, &str), u32> =
    TableDefinition::new("discount_uses");
pub(crate) const IDEMPOTENCY: TableDefinition<(&str, &str), (&str, &str, i64)> =
    TableDefinition::new("idempotency");
pub(crate) const PAYMENT_EVENTS: TableDefinition<&str, i64> =
    TableDefinition::new("payment_events");
pub(crate) const NOTIFICATIONS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("notifications");
pub(crate) const CUSTOMER_REVIEWS: TableDefinition<(&str, &str), &str> =
    TableDefinition::new("customer_reviews");
pub(crate) const COMMERCE_SEQ: TableDefinition<&str, u64> = TableDefinition::new("commerce_seq");

/// The `commerce_seq` counter of order numbers.
pub(crate) const ORDER_SEQ: &str = "order_seq";
