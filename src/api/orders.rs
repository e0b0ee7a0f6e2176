//! Selling over HTTP: carts (an account's, or a guest's behind
//! `X-Cart-Token`), checkout (with a required `Idempotency-Key`), the
//! customer's orders, the staff's orders and status moves, the payment
//! provider's webhook, and discount codes. Each handler parses its input
//! with the domain's parser, calls one `orders` use case and wraps its
//! answer in the views below (which the Postgres-design baseline renders
//! too, so both answer byte-identical JSON).

use super::auth::Principal;
use super::error::ApiError;
use super::extract::{Body, Input, PageQuery, Query};
use super::state::ApiState;
use crate::domain::FieldErrors;
use crate::domain::account::Role;
use crate::domain::address::Address;
use crate::domain::cart::{self, CartItem, CartOwner, PricedCart};
use crate::domain::discount::{DiscountCode, DiscountDraft, DiscountKind};
use crate::domain::listing::{PageMeta, PageRequest};
use crate::domain::order::OrderFilter;
use crate::domain::order::{self, CheckoutRequest, Order, OrderStatus};
use crate::domain::{Id, Timestamp};
use crate::orders::Shopper;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::future::{Ready, ready};
use utoipa::ToSchema;

pub const CART_TOKEN_HEADER: &str = "x-cart-token";
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

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

impl From<&Order> for OrderView {
    fn from(o: &Order) -> Self {
        OrderView {
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
struct Data<T> {
    data: T,
}

fn data<T: Serialize>(status: StatusCode, body: T) -> HttpResponse {
    HttpResponse::build(status).json(Data { data: body })
}

#[derive(Serialize)]
struct Page<T> {
    data: Vec<T>,
    meta: PageMeta,
}

/// What the webhook answers.
#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookAnswer {
    received: bool,
    /// The event was applied before; nothing changed.
    duplicate: bool,
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

/// A discount code's kind.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum DiscountTypeName {
    Percent,
    Fixed,
}

macro_rules! input {
    ($schema:ident, $parsed:ty, $parse:expr) => {
        impl Input for $schema {
            type Parsed = Result<$parsed, FieldErrors>;
            fn parse(body: &Map<String, Value>) -> Self::Parsed {
                $parse(body)
            }
        }
    };
}

/// `POST /cart/items`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"productId": "prod-000001", "quantity": 2})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct CartItemBody {
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    product_id: String,
    /// 1–99 (default 1).
    #[schema(minimum = 1, maximum = 99)]
    quantity: Option<u32>,
}
input!(CartItemBody, CartItem, CartItem::parse);

/// `PATCH /cart/items/{id}`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"quantity": 3})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct QuantityBody {
    #[schema(minimum = 1, maximum = 99)]
    quantity: u32,
}
input!(QuantityBody, u32, cart::parse_quantity);

/// A shipping address.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct AddressBody {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[schema(min_length = 1, max_length = 200)]
    line1: String,
    #[schema(min_length = 1, max_length = 200)]
    line2: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    city: String,
    #[schema(min_length = 1, max_length = 16)]
    postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. DE.
    #[schema(min_length = 2, max_length = 2, pattern = "^[A-Za-z]{2}$")]
    country: String,
}

/// `POST /checkout`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({
    "email": "ada@example.com",
    "shippingAddress": {"name": "Ada Lovelace", "line1": "12 Example Road", "city": "London",
                        "postalCode": "NW1 6XE", "country": "GB"},
    "paymentMethod": "bank_transfer"
})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct CheckoutBody {
    /// Required of guests; a signed-in account's own email is used.
    #[schema(max_length = 254)]
    email: Option<String>,
    /// This, or `addressId` (one of the account's saved addresses).
    shipping_address: Option<AddressBody>,
    #[schema(min_length = 1, max_length = 64)]
    address_id: Option<String>,
    #[schema(value_type = PaymentMethodName)]
    payment_method: String,
    #[schema(min_length = 3, max_length = 32)]
    discount_code: Option<String>,
}
input!(CheckoutBody, CheckoutRequest, CheckoutRequest::parse);

/// `POST /admin/orders/{id}/status`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"status": "cancelled"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct StatusBody {
    #[schema(value_type = OrderStatusName)]
    status: String,
}
input!(StatusBody, OrderStatus, order::parse_status_change);

/// `POST /admin/discount-codes`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"code": "WELCOME10", "type": "percent", "value": 10, "usageLimit": 100, "perCustomerLimit": 1})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct DiscountBody {
    /// 3–32 letters, digits, `-` or `_`; matched case-insensitively.
    #[schema(min_length = 3, max_length = 32)]
    code: String,
    #[serde(rename = "type")]
    #[schema(value_type = DiscountTypeName)]
    kind: String,
    /// A whole percent 1–100, or an amount.
    value: f64,
    #[schema(format = DateTime)]
    starts_at: Option<String>,
    #[schema(format = DateTime)]
    ends_at: Option<String>,
    #[schema(minimum = 0)]
    min_order: Option<f64>,
    #[schema(minimum = 1)]
    usage_limit: Option<u32>,
    #[schema(minimum = 1)]
    per_customer_limit: Option<u32>,
    active: Option<bool>,
}
input!(DiscountBody, DiscountDraft, |m| DiscountDraft::parse(
    m, true
));

/// `PATCH /admin/discount-codes/{id}`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"active": false})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct DiscountPatchBody {
    #[serde(rename = "type")]
    #[schema(value_type = Option<DiscountTypeName>)]
    kind: Option<String>,
    value: Option<f64>,
    #[schema(format = DateTime)]
    starts_at: Option<String>,
    #[schema(format = DateTime)]
    ends_at: Option<String>,
    #[schema(minimum = 0)]
    min_order: Option<f64>,
    #[schema(minimum = 1)]
    usage_limit: Option<u32>,
    #[schema(minimum = 1)]
    per_customer_limit: Option<u32>,
    active: Option<bool>,
}
input!(DiscountPatchBody, DiscountDraft, |m| DiscountDraft::parse(
    m, false
));

/// A payment provider's event (signed; see `orders::payments`).
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"id": "evt_1", "type": "payment.succeeded", "data": {"orderId": "ord_x", "amount": 24.98}})))]
#[allow(dead_code)]
pub(crate) struct PaymentEventBody {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: Option<Value>,
}

// ---- extractors -----------------------------------------------------------------------------

/// The `X-Cart-Token` request header (a guest's cart), if sent.
pub(crate) struct CartToken(pub Option<String>);

impl FromRequest for CartToken {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(cart_token(req).map(CartToken))
    }
}

/// The cart token of `req`: absent, or 16–128 URL-safe characters (400
/// otherwise).
pub fn cart_token(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get(CART_TOKEN_HEADER) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    if s.is_empty() {
        return Ok(None);
    }
    if (16..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(Some(s.to_string()))
    } else {
        Err(ApiError::BadRequest {
            code: "invalid_cart_token",
            message: "X-Cart-Token must be the token an earlier cart answer gave".into(),
        })
    }
}

/// A guest cart's owner key for `token` (its SHA-256, hex).
pub(crate) fn guest(token: &str) -> CartOwner {
    CartOwner::Guest(crate::accounts::tokens::token_hash(token))
}

/// The required `Idempotency-Key` header of a checkout.
pub(crate) struct IdempotencyKey(pub String);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(idempotency_key(req).map(IdempotencyKey))
    }
}

/// The `Idempotency-Key` of `req`: 1–255 visible ASCII characters; 400
/// when missing or malformed.
pub fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let key = req
        .headers()
        .get(IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty());
    match key {
        Some(k) if k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => Ok(k.to_string()),
        Some(_) => Err(ApiError::BadRequest {
            code: "invalid_idempotency_key",
            message: "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
        }),
        None => Err(ApiError::BadRequest {
            code: "idempotency_key_required",
            message: "checkout needs an Idempotency-Key header (a unique value per order attempt, e.g. a UUID); retries send the same one".into(),
        }),
    }
}

/// `?token=` of a guest's order link.
pub(crate) struct LinkQuery(pub Option<String>);

impl FromRequest for LinkQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Query::parse(req).map(|q| LinkQuery(q.get("token").map(str::to_string))))
    }
}

/// `status`, `isPaid`, `from`, `to`, `userId`, `q`, `page`, `limit` of
/// `GET /admin/orders`.
pub(crate) struct OrdersQuery(pub OrderFilter, pub PageRequest);

impl FromRequest for OrdersQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let q = Query::parse(req)?;
            let mut errors = FieldErrors::new();
            let page = q.page(&mut errors)?;
            let status = q.get("status").and_then(|s| {
                OrderStatus::parse(s).or_else(|| {
                    errors.push(
                        "status",
                        "must be one of pending, paid, shipped, completed, cancelled",
                    );
                    None
                })
            });
            let is_paid = q.bool("isPaid")?;
            let mut time = |name: &str| {
                q.get(name).and_then(|s| match Timestamp::parse(s) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        errors.push(name, e);
                        None
                    }
                })
            };
            let from = time("from");
            let to = time("to");
            let account = q.get("userId").and_then(|s| match Id::parse(s) {
                Ok(id) => Some(id),
                Err(e) => {
                    errors.push("userId", e);
                    None
                }
            });
            let search = q.get("q").and_then(|s| match order::parse_order_query(s) {
                Ok(s) => Some(s),
                Err(e) => {
                    errors.push("q", e);
                    None
                }
            });
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            Ok(OrdersQuery(
                OrderFilter {
                    status,
                    is_paid,
                    from,
                    to,
                    account,
                    q: search,
                },
                page,
            ))
        })())
    }
}

// ---- carts ----------------------------------------------------------------------------------

/// Whose cart a request is about: the account's, or the guest token's.
fn owner(p: &Principal, token: &CartToken) -> Option<CartOwner> {
    match p {
        Principal::Account { id, .. } => Some(CartOwner::Account(id.clone())),
        _ => token.0.as_deref().map(guest),
    }
}

/// The cart answer; a guest's carries its token.
fn cart_answer(c: &PricedCart, token: Option<&str>) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    if let Some(t) = token {
        res.insert_header((CART_TOKEN_HEADER, t.to_string()));
    }
    res.json(Data {
        data: CartView::from(c),
    })
}

fn guest_token(p: &Principal, token: &CartToken) -> Option<String> {
    match p {
        Principal::Account { .. } => None,
        _ => token.0.clone(),
    }
}

pub(crate) async fn get_cart(
    state: web::Data<ApiState>,
    p: Principal,
    token: CartToken,
) -> Result<HttpResponse, ApiError> {
    let c = match owner(&p, &token) {
        Some(o) => state.services.orders.cart(&o)?,
        None => PricedCart::default(),
    };
    Ok(cart_answer(&c, guest_token(&p, &token).as_deref()))
}

pub(crate) async fn clear_cart(
    state: web::Data<ApiState>,
    p: Principal,
    token: CartToken,
) -> Result<HttpResponse, ApiError> {
    if let Some(o) = owner(&p, &token) {
        state.services.orders.clear_cart(&o).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn add_item(
    state: web::Data<ApiState>,
    p: Principal,
    token: CartToken,
    Body(item, _): Body<CartItemBody>,
) -> Result<HttpResponse, ApiError> {
    let item = item.map_err(ApiError::validation)?;
    // A guest without a cart gets one, and its token.
    let token = match (&p, token.0) {
        (Principal::Account { .. }, t) => CartToken(t),
        (_, Some(t)) => CartToken(Some(t)),
        (_, None) => CartToken(Some(crate::accounts::tokens::random_secret())),
    };
    let o =
        owner(&p, &token).ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no cart owner")))?;
    let c = state.services.orders.add_item(&o, item).await?;
    Ok(cart_answer(&c, guest_token(&p, &token).as_deref()))
}

fn cart_of(p: &Principal, token: &CartToken) -> Result<CartOwner, ApiError> {
    owner(p, token).ok_or_else(|| ApiError::NotFound("there is no cart: add an item first".into()))
}

pub(crate) async fn set_quantity(
    state: web::Data<ApiState>,
    p: Principal,
    token: CartToken,
    path: web::Path<String>,
    Body(quantity, _): Body<QuantityBody>,
) -> Result<HttpResponse, ApiError> {
    let quantity = quantity.map_err(ApiError::validation)?;
    let o = cart_of(&p, &token)?;
    let c = state
        .services
        .orders
        .set_quantity(&o, &path.into_inner(), quantity)
        .await?;
    Ok(cart_answer(&c, guest_token(&p, &token).as_deref()))
}

pub(crate) async fn remove_item(
    state: web::Data<ApiState>,
    p: Principal,
    token: CartToken,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let o = cart_of(&p, &token)?;
    let c = state
        .services
        .orders
        .remove_item(&o, &path.into_inner())
        .await?;
    Ok(cart_answer(&c, guest_token(&p, &token).as_deref()))
}

// ---- checkout and orders --------------------------------------------------------------------

fn order_answer(status: StatusCode, o: &Order) -> HttpResponse {
    data(status, OrderView::from(o))
}

pub(crate) async fn checkout(
    state: web::Data<ApiState>,
    p: Principal,
    token: CartToken,
    IdempotencyKey(key): IdempotencyKey,
    Body(req, raw): Body<CheckoutBody>,
) -> Result<HttpResponse, ApiError> {
    let req = req.map_err(ApiError::validation)?;
    let Some(cart) = owner(&p, &token) else {
        return Err(crate::orders::OrdersError::CartEmpty.into());
    };
    let fingerprint = crate::orders::fingerprint(&raw.map);
    let shopper = Shopper {
        cart,
        account: p.account().map(|(id, _)| id.clone()),
    };
    let done = state
        .services
        .orders
        .checkout(shopper, key, fingerprint, req)
        .await?;
    let mut res = HttpResponse::Created();
    res.insert_header((LOCATION, format!("/api/v1/orders/{}", done.order.id)));
    if done.replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(res.json(Data {
        data: OrderView::from(&done.order),
    }))
}

pub(crate) async fn my_orders(
    state: web::Data<ApiState>,
    p: Principal,
    PageQuery(page): PageQuery,
) -> Result<HttpResponse, ApiError> {
    let (id, _) = p.account().ok_or_else(|| ApiError::Forbidden {
        code: "forbidden",
        message: "this needs a signed-in account's access token".into(),
    })?;
    let filter = OrderFilter {
        account: Some(id.clone()),
        ..OrderFilter::default()
    };
    let found = state
        .services
        .orders
        .orders(&filter, page.offset(), page.limit() as usize)?;
    Ok(HttpResponse::Ok().json(Page {
        data: found.items.iter().map(OrderView::from).collect(),
        meta: page.meta(found.total),
    }))
}

pub(crate) async fn my_order(
    state: web::Data<ApiState>,
    p: Principal,
    path: web::Path<String>,
    LinkQuery(link): LinkQuery,
) -> Result<HttpResponse, ApiError> {
    let o = state.services.orders.order_for(
        &path.into_inner(),
        p.account().map(|(id, _)| id),
        link.as_deref(),
    )?;
    Ok(order_answer(StatusCode::OK, &o))
}

pub(crate) async fn admin_orders(
    state: web::Data<ApiState>,
    OrdersQuery(filter, page): OrdersQuery,
) -> Result<HttpResponse, ApiError> {
    let found = state
        .services
        .orders
        .orders(&filter, page.offset(), page.limit() as usize)?;
    Ok(HttpResponse::Ok().json(Page {
        data: found.items.iter().map(OrderView::from).collect(),
        meta: page.meta(found.total),
    }))
}

pub(crate) async fn admin_order(
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let o = state.services.orders.order(&path.into_inner())?;
    Ok(order_answer(StatusCode::OK, &o))
}

/// Who a staff move is recorded as.
fn actor(p: &Principal) -> String {
    match p {
        Principal::Account { id, role, .. } if *role >= Role::Staff => format!("{role} {id}"),
        other => other.to_string(),
    }
}

pub(crate) async fn set_status(
    state: web::Data<ApiState>,
    p: Principal,
    path: web::Path<String>,
    Body(status, _): Body<StatusBody>,
) -> Result<HttpResponse, ApiError> {
    let status = status.map_err(ApiError::validation)?;
    let o = state
        .services
        .orders
        .set_status(&path.into_inner(), status, actor(&p))
        .await?;
    Ok(order_answer(StatusCode::OK, &o))
}

pub(crate) async fn mark_paid(
    state: web::Data<ApiState>,
    p: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let o = state
        .services
        .orders
        .mark_paid(&path.into_inner(), actor(&p))
        .await?;
    Ok(order_answer(StatusCode::OK, &o))
}

/// The raw body of a webhook (its signature covers the exact bytes).
pub(crate) struct WebhookBody(pub web::Bytes);

impl FromRequest for WebhookBody {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload);
        Box::pin(async move {
            let payload = payload
                .await
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("taking the body: {e}")))?;
            let limit = req
                .app_data::<web::Data<ApiState>>()
                .map_or(64 * 1024, |s| s.http.body_limit);
            let bytes = super::extract::read_body(&req, payload, limit).await?;
            Ok(WebhookBody(bytes))
        })
    }
}

pub(crate) async fn payment_webhook(
    state: web::Data<ApiState>,
    req: HttpRequest,
    WebhookBody(body): WebhookBody,
) -> Result<HttpResponse, ApiError> {
    let signature = req
        .headers()
        .get(crate::orders::payments::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let applied = state
        .services
        .orders
        .payment_webhook(signature, &body)
        .await?;
    Ok(HttpResponse::Ok().json(Data {
        data: WebhookAnswer {
            received: true,
            duplicate: !applied,
        },
    }))
}

// ---- discount codes -------------------------------------------------------------------------

pub(crate) async fn list_codes(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let codes = state.services.orders.discount_codes()?;
    Ok(data(
        StatusCode::OK,
        codes.iter().map(DiscountView::from).collect::<Vec<_>>(),
    ))
}

pub(crate) async fn create_code(
    state: web::Data<ApiState>,
    Body(draft, _): Body<DiscountBody>,
) -> Result<HttpResponse, ApiError> {
    let draft = draft.map_err(ApiError::validation)?;
    let d = state.services.orders.create_discount_code(draft).await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/api/v1/admin/discount-codes/{}", d.code)))
        .json(Data {
            data: DiscountView::from(&d),
        }))
}

pub(crate) async fn get_code(
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let d = state.services.orders.discount_code(&path.into_inner())?;
    Ok(data(StatusCode::OK, DiscountView::from(&d)))
}

pub(crate) async fn update_code(
    state: web::Data<ApiState>,
    path: web::Path<String>,
    Body(draft, _): Body<DiscountPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let draft = draft.map_err(ApiError::validation)?;
    let d = state
        .services
        .orders
        .update_discount_code(&path.into_inner(), draft)
        .await?;
    Ok(data(StatusCode::OK, DiscountView::from(&d)))
}

pub(crate) async fn delete_code(
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .orders
        .delete_discount_code(&path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
