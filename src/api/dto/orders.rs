//! Selling over the wire: carts, orders, discount codes, the payment
//! webhook's answer and event, and the bodies of cart changes, checkout,
//! status moves and code changes. The Postgres-design baseline renders the
//! same views, so both answer byte-identical JSON.

use super::input;
use crate::domain::address::Address;
use crate::domain::cart;
use crate::domain::cart::CartItem;
use crate::domain::cart::PricedCart;
use crate::domain::discount::DiscountCode;
use crate::domain::discount::DiscountKind;
use crate::domain::listing::PageMeta;
use crate::domain::order;
use crate::domain::order::CheckoutRequest;
use crate::domain::order::Holds;
use crate::domain::order::Order;
use crate::domain::order::OrderStatus;
use serde::Deserialize;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::AllOfBuilder;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::schema::OneOfBuilder;
use utoipa::openapi::schema::Schema;

fn decimal(cents: u64) -> f64 {
    cents as f64 / 100.0
}

// ---- views ----------------------------------------------------------------------------------

/// One cart line, priced now.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartLineView {
    pub product_id: String,
    /// `null` when the product was deleted.
    pub title: Option<String>,
    pub quantity: u32,
    /// The unit price now, after the product's own discount.
    pub unit_price: f64,
    pub line_total: f64,
    /// In stock now.
    pub stock: u32,
    /// `deleted`, `unavailable`, `out_of_stock`, `insufficient_stock`,
    /// `price_changed`.
    #[schema(value_type = Vec<String>)]
    pub problems: Vec<&'static str>,
}

/// A cart as its shopper sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartView {
    pub lines: Vec<CartLineView>,
    pub item_count: u32,
    pub subtotal: f64,
}

impl From<&PricedCart> for CartView {
    fn from(c: &PricedCart) -> Self {
        CartView {
            lines: c
                .lines
                .iter()
                .map(|l| CartLineView {
                    product_id: l.product_id.to_string(),
                    title: l.title.clone(),
                    quantity: l.quantity,
                    unit_price: decimal(l.unit_price_cents),
                    line_total: decimal(l.total_cents()),
                    stock: l.stock,
                    problems: l.problems.iter().map(|p| p.as_str()).collect(),
                })
                .collect(),
            item_count: c.item_count,
            subtotal: decimal(c.subtotal_cents),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddressView {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

impl From<&Address> for AddressView {
    fn from(a: &Address) -> Self {
        AddressView {
            name: a.name.clone(),
            line1: a.line1.clone(),
            line2: a.line2.clone(),
            city: a.city.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLineView {
    pub product_id: String,
    /// As it was at checkout.
    pub title: String,
    /// As it was at checkout, after the product's own discount.
    pub unit_price: f64,
    pub quantity: u32,
    pub line_total: f64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransitionView {
    #[schema(examples("pending", "paid", "shipped", "completed", "cancelled"))]
    pub status: &'static str,
    /// `customer`, `payment provider`, or the staff member, key or token.
    pub by: String,
    pub at: String,
}

/// An order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub id: String,
    /// Sequential, for people: 1, 2, 3…
    pub number: u64,
    #[schema(examples("pending", "paid", "shipped", "completed", "cancelled"))]
    pub status: &'static str,
    pub is_paid: bool,
    pub paid_at: Option<String>,
    #[schema(examples("bank_transfer", "cash_on_delivery", "card"))]
    pub payment_method: &'static str,
    /// While the order is pending and unpaid: when it is cancelled and its
    /// stock released unless paid before (card: `--hold-card`, default 30
    /// minutes; bank transfer: `--hold-bank-transfer`, default 7 days).
    /// `null` otherwise, and always for cash on delivery.
    pub held_until: Option<String>,
    pub email: String,
    /// `null` for a guest's order.
    pub user_id: Option<String>,
    pub lines: Vec<OrderLineView>,
    pub shipping_address: AddressView,
    pub subtotal: f64,
    /// Taken off by the discount code.
    pub discount: f64,
    pub shipping: f64,
    pub tax: f64,
    pub total: f64,
    pub discount_code: Option<String>,
    /// Cancelled after payment: the money is to be returned.
    pub refund_due: bool,
    pub history: Vec<TransitionView>,
    pub created_at: String,
    pub updated_at: String,
}

impl OrderView {
    /// `o` as answered, with its hold under `holds`.
    pub fn new(o: &Order, holds: &Holds) -> Self {
        OrderView {
            held_until: o.held_until(holds).map(|t| t.to_string()),
            id: o.id.to_string(),
            number: o.number,
            status: o.status.as_str(),
            is_paid: o.is_paid(),
            paid_at: o.paid_at.map(|t| t.to_string()),
            payment_method: o.payment_method.as_str(),
            email: o.email.as_str().to_string(),
            user_id: o.account_id.as_ref().map(|a| a.to_string()),
            lines: o
                .lines
                .iter()
                .map(|l| OrderLineView {
                    product_id: l.product_id.to_string(),
                    title: l.title.clone(),
                    unit_price: decimal(l.unit_price_cents),
                    quantity: l.quantity,
                    line_total: decimal(l.total_cents()),
                })
                .collect(),
            shipping_address: AddressView::from(&o.address),
            subtotal: decimal(o.totals.subtotal),
            discount: decimal(o.totals.discount),
            shipping: decimal(o.totals.shipping),
            tax: decimal(o.totals.tax),
            total: decimal(o.totals.total),
            discount_code: o.discount_code.clone(),
            refund_due: o.refund_due,
            history: o
                .history
                .iter()
                .map(|t| TransitionView {
                    status: t.status.as_str(),
                    by: t.by.clone(),
                    at: t.at.to_string(),
                })
                .collect(),
            created_at: o.created_at.to_string(),
            updated_at: o.updated_at.to_string(),
        }
    }
}

/// A discount code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscountView {
    pub code: String,
    #[serde(rename = "type")]
    #[schema(examples("percent", "fixed"))]
    pub kind: &'static str,
    /// Percent (1–100), or the amount off.
    pub value: f64,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub min_order: f64,
    pub usage_limit: Option<u32>,
    pub per_customer_limit: Option<u32>,
    /// Orders that used it.
    pub used: u32,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&DiscountCode> for DiscountView {
    fn from(d: &DiscountCode) -> Self {
        let (kind, value) = match d.kind {
            DiscountKind::Percent(p) => ("percent", p as f64),
            DiscountKind::Fixed(c) => ("fixed", decimal(c)),
        };
        DiscountView {
            code: d.code.clone(),
            kind,
            value,
            starts_at: d.starts_at.map(|t| t.to_string()),
            ends_at: d.ends_at.map(|t| t.to_string()),
            min_order: decimal(d.min_order_cents),
            usage_limit: d.usage_limit,
            per_customer_limit: d.per_customer_limit,
            used: d.used,
            active: d.active,
            created_at: d.created_at.to_string(),
            updated_at: d.updated_at.to_string(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct Page<T> {
    pub data: Vec<T>,
    pub meta: PageMeta,
}

/// What the webhook answers.
#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookAnswer {
    pub(crate) received: bool,
    /// The event was applied before; nothing changed.
    pub(crate) duplicate: bool,
}

// ---- request bodies -------------------------------------------------------------------------

/// An order status, by name (for the document; parsed by the domain).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum OrderStatusName {
    Pending,
    Paid,
    Shipped,
    Completed,
    Cancelled,
}

/// A payment method, by name.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum PaymentMethodName {
    BankTransfer,
    CashOnDelivery,
    Card,
}

/// `POST /cart/items`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"productId": "prod-000001", "quantity": 2})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct CartItemBody {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub(crate) product_id: String,
    /// 1–99 (default 1).
    #[schema(required = false, minimum = 1, maximum = 99)]
    pub(crate) quantity: u32,
}
input!(CartItemBody, CartItem, CartItem::parse);

/// `PATCH /cart/items/{id}`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"quantity": 3})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct QuantityBody {
    #[schema(minimum = 1, maximum = 99)]
    pub(crate) quantity: u32,
}
input!(QuantityBody, u32, cart::parse_quantity);

/// A shipping address.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct AddressBody {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) name: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) line1: String,
    /// `null` or absent: none.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) line2: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) city: String,
    #[schema(
        min_length = 1,
        max_length = 16,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. DE.
    #[schema(min_length = 2, max_length = 2, pattern = "^[A-Za-z]{2}$")]
    pub(crate) country: String,
}

/// `POST /checkout`: exactly one of `shippingAddress` and `addressId`
/// (the `oneOf`).
///
/// `email` is required here although the parser lets a signed-in account
/// leave it out (its own address is used): a guest must send it, and one
/// document serves guests and accounts, so it states the rule that holds
/// for both. A guest's checkout without it is a 422, after the cart checks.
pub(crate) struct CheckoutBody;

// The fields of `CheckoutBody` (one of the two addresses is the `oneOf`).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct CheckoutFields {
    /// Where the confirmation goes. A signed-in account's own address is
    /// used instead (an account may leave this out).
    #[schema(format = Email, max_length = 254, pattern = r"^([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,31}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,32}|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,21}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,21})@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")]
    email: String,
    /// This, or `addressId`.
    #[schema(required = false)]
    shipping_address: AddressBody,
    /// One of the account's saved addresses (`GET /me/addresses`); one it
    /// does not have (a guest has none) is a 404.
    #[schema(required = false, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    address_id: String,
    #[schema(value_type = PaymentMethodName)]
    payment_method: String,
    /// 3–32 letters, digits, `-` or `_`; matched case-insensitively. A
    /// code the shop does not have is a 404, one that cannot apply now a
    /// 409 (both `discount_code_invalid`).
    #[schema(required = false, pattern = "^[A-Za-z0-9_-]{3,32}$")]
    discount_code: String,
}

impl utoipa::PartialSchema for CheckoutBody {
    fn schema() -> RefOr<Schema> {
        let only = |field: &str| ObjectBuilder::new().required(field);
        AllOfBuilder::new()
            .description(Some(
                "`POST /checkout`: exactly one of `shippingAddress` and `addressId`.",
            ))
            .examples([serde_json::json!({
                "email": "ada@example.com",
                "shippingAddress": {"name": "Ada Lovelace", "line1": "12 Example Road",
                                    "city": "London", "postalCode": "NW1 6XE", "country": "GB"},
                "paymentMethod": "bank_transfer"
            })])
            .item(CheckoutFields::schema())
            .item(
                OneOfBuilder::new()
                    .item(only("shippingAddress"))
                    .item(only("addressId")),
            )
            .into()
    }
}

impl ToSchema for CheckoutBody {
    fn name() -> std::borrow::Cow<'static, str> {
        "CheckoutBody".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        CheckoutFields::schemas(schemas);
    }
}
input!(CheckoutBody, CheckoutRequest, CheckoutRequest::parse);

/// `POST /admin/orders/{id}/status`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"status": "cancelled"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct StatusBody {
    #[schema(value_type = OrderStatusName)]
    pub(crate) status: String,
}
input!(StatusBody, OrderStatus, order::parse_status_change);

/// A payment provider's event (signed; see `orders::payments`).
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"id": "evt_1", "type": "payment.succeeded", "data": {"orderId": "ord_x", "amount": 24.98}})))]
#[allow(dead_code)]
pub(crate) struct PaymentEventBody {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) data: Option<Value>,
}
