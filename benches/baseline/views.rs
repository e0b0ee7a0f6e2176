//! The JSON of carts, orders and discount codes, field for field as shopd
//! renders them (field order as declared; money as decimal cents / 100).
//!
//! Also the error bodies shopd's checkout adds to its envelope: 409
//! `out_of_stock` with the blocking `lines`, 409 `cart_empty`, 422
//! `discount_code_invalid`, 422 `idempotency_key_reused`.

use crate::orders::{Blocked, CheckoutError};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde::Serialize;
use shopd::api::error::ApiError;
use shopd::domain::Timestamp;
use shopd::domain::address::Address;
use shopd::domain::cart::PricedCart;
use shopd::domain::discount::{DiscountCode, DiscountKind};
use shopd::domain::order::Order;

fn money(cents: u64) -> f64 {
    cents as f64 / 100.0
}

#[derive(Serialize)]
pub struct Data<T> {
    pub data: T,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CartLineView<'a> {
    product_id: &'a str,
    title: Option<&'a str>,
    quantity: u32,
    unit_price: f64,
    line_total: f64,
    stock: u32,
    problems: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CartView<'a> {
    lines: Vec<CartLineView<'a>>,
    item_count: u32,
    subtotal: f64,
}

pub fn cart(c: &PricedCart) -> CartView<'_> {
    CartView {
        lines: c
            .lines
            .iter()
            .map(|l| CartLineView {
                product_id: l.product_id.as_str(),
                title: l.title.as_deref(),
                quantity: l.quantity,
                unit_price: money(l.unit_price_cents),
                line_total: money(l.total_cents()),
                stock: l.stock,
                problems: l.problems.iter().map(|p| p.as_str()).collect(),
            })
            .collect(),
        item_count: c.item_count,
        subtotal: money(c.subtotal_cents),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderLineView<'a> {
    product_id: &'a str,
    title: &'a str,
    unit_price: f64,
    quantity: u32,
    line_total: f64,
}

#[derive(Serialize)]
struct TransitionView<'a> {
    status: &'static str,
    by: &'a str,
    at: Timestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView<'a> {
    id: &'a str,
    number: u64,
    status: &'static str,
    is_paid: bool,
    paid_at: Option<Timestamp>,
    payment_method: &'static str,
    email: &'a str,
    user_id: Option<&'a str>,
    lines: Vec<OrderLineView<'a>>,
    shipping_address: &'a Address,
    subtotal: f64,
    discount: f64,
    shipping: f64,
    tax: f64,
    total: f64,
    discount_code: Option<&'a str>,
    refund_due: bool,
    history: Vec<TransitionView<'a>>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

pub fn order(o: &Order) -> OrderView<'_> {
    OrderView {
        id: o.id.as_str(),
        number: o.number,
        status: o.status.as_str(),
        is_paid: o.is_paid(),
        paid_at: o.paid_at,
        payment_method: o.payment_method.as_str(),
        email: o.email.as_str(),
        user_id: o.account_id.as_ref().map(|a| a.as_str()),
        lines: o
            .lines
            .iter()
            .map(|l| OrderLineView {
                product_id: l.product_id.as_str(),
                title: &l.title,
                unit_price: money(l.unit_price_cents),
                quantity: l.quantity,
                line_total: money(l.total_cents()),
            })
            .collect(),
        shipping_address: &o.address,
        subtotal: money(o.totals.subtotal),
        discount: money(o.totals.discount),
        shipping: money(o.totals.shipping),
        tax: money(o.totals.tax),
        total: money(o.totals.total),
        discount_code: o.discount_code.as_deref(),
        refund_due: o.refund_due,
        history: o
            .history
            .iter()
            .map(|h| TransitionView {
                status: h.status.as_str(),
                by: &h.by,
                at: h.at,
            })
            .collect(),
        created_at: o.created_at,
        updated_at: o.updated_at,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscountView<'a> {
    code: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    value: f64,
    starts_at: Option<Timestamp>,
    ends_at: Option<Timestamp>,
    min_order: f64,
    usage_limit: Option<u32>,
    per_customer_limit: Option<u32>,
    used: u32,
    active: bool,
    created_at: Timestamp,
    updated_at: Timestamp,
}

pub fn discount(d: &DiscountCode) -> DiscountView<'_> {
    let (kind, value) = match d.kind {
        DiscountKind::Percent(p) => ("percent", p as f64),
        DiscountKind::Fixed(c) => ("fixed", money(c)),
    };
    DiscountView {
        code: &d.code,
        kind,
        value,
        starts_at: d.starts_at,
        ends_at: d.ends_at,
        min_order: money(d.min_order_cents),
        usage_limit: d.usage_limit,
        per_customer_limit: d.per_customer_limit,
        used: d.used,
        active: d.active,
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

pub fn to_vec<T: Serialize>(v: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail.
    serde_json::to_vec(v).expect("views serialize")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BlockedView<'a> {
    product_id: &'a str,
    problem: &'static str,
    requested: u32,
    available: u32,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    lines: Option<Vec<BlockedView<'a>>>,
}

fn error(
    status: StatusCode,
    code: &'static str,
    message: String,
    lines: Option<&[Blocked]>,
) -> HttpResponse {
    #[derive(Serialize)]
    struct Envelope<'a> {
        error: ErrorBody<'a>,
    }
    let body = Envelope {
        error: ErrorBody {
            code,
            message,
            lines: lines.map(|ls| {
                ls.iter()
                    .map(|b| BlockedView {
                        product_id: &b.product_id,
                        problem: b.problem.as_str(),
                        requested: b.requested,
                        available: b.available,
                    })
                    .collect()
            }),
        },
    };
    HttpResponse::build(status).json(body)
}

/// A refused checkout as shopd answers it.
pub fn checkout_error(e: CheckoutError) -> Result<HttpResponse, ApiError> {
    Ok(match e {
        CheckoutError::Api(e) => return Err(e),
        CheckoutError::CartEmpty => error(
            StatusCode::CONFLICT,
            "cart_empty",
            "the cart is empty".into(),
            None,
        ),
        CheckoutError::OutOfStock(lines) => error(
            StatusCode::CONFLICT,
            "out_of_stock",
            "some lines cannot be bought as they are".into(),
            Some(&lines),
        ),
        CheckoutError::CodeInvalid(r) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "discount_code_invalid",
            r.to_string(),
            None,
        ),
        CheckoutError::KeyReused => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body".into(),
            None,
        ),
    })
}
