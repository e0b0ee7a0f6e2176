//! Handlers of the guest cart, checkout, discount codes and the staff order
//! detail (registered in `routes`): headers and body in, `carts` and
//! `orders` called, shopd's own views out (`shopd::api::orders`), so the
//! JSON is byte-identical. After a checkout commits, the ordered products'
//! cache tags are invalidated, as product writes do.
//!
//! Request checks run in shopd's order: cart token (400), idempotency key
//! (400), body (400/413), fields (422), no cart token (409 `cart_empty`),
//! a guest without email (422); then the checkout's own (`orders`).

use crate::carts::Carts;
use crate::orders::{self, Checkout};
use crate::routes::{State, invalidate_product};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use shopd::api::error::ApiError;
use shopd::api::extract::{json_object, require_admin};
use shopd::api::orders::{
    CART_TOKEN_HEADER, CartView, DiscountView, IDEMPOTENCY_HEADER, OrderView,
};
use shopd::api::state::HttpSettings;
use shopd::catalog::json::Data;
use shopd::domain::FieldErrors;
use shopd::domain::cart::{Cart, CartItem, PricedCart, price, unit_price_cents};
use shopd::domain::discount::DiscountDraft;
use shopd::domain::order::CheckoutRequest;
use shopd::orders::OrdersError;

/// The `X-Cart-Token` header: absent (or blank), or 16–128 URL-safe
/// characters; anything else is 400 (shopd's `api::orders::cart_token`).
fn cart_token(req: &HttpRequest) -> Result<Option<String>, ApiError> {
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

/// The required `Idempotency-Key` header: 1–255 visible ASCII characters
/// (shopd's `api::orders::IdempotencyKey`).
fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
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

/// `{"data": body}` with `status`, and the cart token when there is one.
fn answer<T: Serialize>(status: StatusCode, body: T, token: Option<&str>) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    if let Some(v) = token.and_then(|t| HeaderValue::from_str(t).ok()) {
        res.insert_header((CART_TOKEN_HEADER, v));
    }
    res.json(Data { data: body })
}

fn cart_answer(c: &PricedCart, token: Option<&str>) -> HttpResponse {
    answer(StatusCode::OK, CartView::from(c), token)
}

/// `POST /cart/items`: a product into the caller's cart (a new cart, and
/// token, when the request names none).
pub async fn add_item(
    req: HttpRequest,
    payload: web::Payload,
    settings: web::Data<HttpSettings>,
    s: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    let token = cart_token(&req)?;
    let body = json_object(&req, payload, settings.body_limit).await?;
    let item = CartItem::parse(&body).map_err(ApiError::validation)?;
    let token = token.unwrap_or_else(Carts::new_token);
    let mut cart = s.carts.load(&token).await?.unwrap_or_default();
    let mut ids: Vec<&str> = cart.lines.iter().map(|l| l.product_id.as_str()).collect();
    ids.push(item.product_id.as_str());
    let client = s.db.conn().await?;
    let mut products = orders::products(&s.db.sql(&client), &ids).await?;
    drop(client);
    let pid = item.product_id.as_str();
    let product = products
        .get(pid)
        .ok_or_else(|| ApiError::from(OrdersError::NotFound(format!("no product {pid}"))))?;
    if !product.is_available {
        return Err(OrdersError::Unavailable(pid.to_string()).into());
    }
    let unit = unit_price_cents(product);
    cart.add(item.product_id.clone(), item.quantity, unit)
        .map_err(OrdersError::from)?;
    let position = cart
        .lines
        .iter()
        .position(|l| l.product_id == item.product_id)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the added line is missing")))?;
    s.carts
        .put_line(&token, position, &cart.lines[position])
        .await?;
    let priced = price(&cart, |id| products.remove(id));
    Ok(cart_answer(&priced, Some(&token)))
}

/// `GET /cart`: the caller's cart priced now (an empty one when it has none).
pub async fn get_cart(req: HttpRequest, s: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let token = cart_token(&req)?;
    let cart = match &token {
        Some(t) => s.carts.load(t).await?.unwrap_or_default(),
        None => Cart::default(),
    };
    let priced = if cart.is_empty() {
        PricedCart::default()
    } else {
        orders::price_cart(&s.db, &cart).await?
    };
    Ok(cart_answer(&priced, token.as_deref()))
}

/// `POST /checkout`.
pub async fn checkout(
    req: HttpRequest,
    payload: web::Payload,
    settings: web::Data<HttpSettings>,
    s: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    let token = cart_token(&req)?;
    let key = idempotency_key(&req)?;
    let body = json_object(&req, payload, settings.body_limit).await?;
    let request = CheckoutRequest::parse(&body).map_err(ApiError::validation)?;
    let Some(token) = token else {
        return Err(OrdersError::CartEmpty.into());
    };
    let Some(email) = request.email.clone() else {
        let mut e = FieldErrors::new();
        e.push("email", "is required for a guest checkout");
        return Err(ApiError::validation(e));
    };
    // The same body is the same JSON object (serde_json's map is sorted by
    // key), fingerprinted as shopd does.
    let canonical = serde_json::to_string(&body).map_err(|e| ApiError::Internal(e.into()))?;
    let c = Checkout {
        caller: format!("g:{token}"),
        key,
        fingerprint: shopd::accounts::tokens::token_hash(&canonical),
        request,
        email,
        token,
    };
    let placed = orders::checkout(&s.db, &s.carts, s.charges, c).await?;
    if !placed.replayed {
        // The plans invalidate after the commit: the new stock shows in
        // details and lists.
        for l in &placed.order.lines {
            invalidate_product(&s.cache, l.product_id.as_str()).await;
        }
    }
    let mut res = HttpResponse::Created();
    res.insert_header((
        header::LOCATION,
        format!("/api/v1/orders/{}", placed.order.id),
    ));
    if placed.replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(res.json(Data {
        data: OrderView::from(&placed.order),
    }))
}

/// `POST /admin/discount-codes`.
pub async fn create_code(
    req: HttpRequest,
    payload: web::Payload,
    settings: web::Data<HttpSettings>,
    s: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &settings)?;
    let body = json_object(&req, payload, settings.body_limit).await?;
    let draft = DiscountDraft::parse(&body, true).map_err(ApiError::validation)?;
    let code = orders::create_code(&s.db, draft).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/admin/discount-codes/{}", code.code),
        ))
        .json(Data {
            data: DiscountView::from(&code),
        }))
}

/// `GET /admin/orders/{id}`.
pub async fn order(
    req: HttpRequest,
    id: web::Path<String>,
    settings: web::Data<HttpSettings>,
    s: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &settings)?;
    let order = orders::order(&s.db, &id).await?;
    Ok(answer(StatusCode::OK, OrderView::from(&order), None))
}
