//! Handlers of the guest cart, checkout, discount codes and the staff order
//! detail (registered in `routes`): headers and body in, `carts` and
//! `orders` called, shopd's own views out (`shopd::api::dto::orders`), so the
//! JSON is byte-identical. After a checkout commits, the ordered products'
//! cache tags are invalidated, as product writes do.
//!
//! Request checks run in shopd's order: cart token (400), idempotency key
//! (400), body (400/413), fields (422), no cart token (409 `cart_empty`);
//! then the checkout's own (`orders`), a guest without email among them.

use crate::carts::Carts;
use crate::orders::{self, Checkout};
use crate::routes::{State, invalidate_product};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use shopd::api::dto::orders::{CartView, DiscountView, OrderView};
use shopd::api::error::ApiError;
use shopd::api::extract::body::json_object;
use shopd::api::extract::orders::{CART_TOKEN_HEADER, cart_token, idempotency_key};
use shopd::api::extract::principal::require_admin;
use shopd::api::state::HttpSettings;
use shopd::catalog::json::Data;
use shopd::domain::cart::{Cart, CartItem, PricedCart, price, unit_price_cents};
use shopd::domain::discount::DiscountDraft;
use shopd::domain::order::CheckoutRequest;
use shopd::domain::order::Holds;
use shopd::orders::OrdersError;

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
/// token, when the request names none or one the server does not hold).
pub async fn add_item(
    req: HttpRequest,
    payload: web::Payload,
    settings: web::Data<HttpSettings>,
    s: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    let token = cart_token(&req)?;
    let body = json_object(&req, payload, settings.body_limit).await?;
    let item = CartItem::parse(&body).map_err(ApiError::validation)?;
    // As shopd: a token names a cart the server issued; one it does not
    // hold gets a new cart under a new token, never the client's.
    let known = match token {
        Some(t) => s.carts.load(&t).await?.map(|c| (t, c)),
        None => None,
    };
    let (token, mut cart) = known.unwrap_or_else(|| (Carts::new_token(), Cart::default()));
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
    // A token the server does not hold names nothing: no cart, no token.
    let known = match token {
        Some(t) => s.carts.load(&t).await?.map(|c| (t, c)),
        None => None,
    };
    let (token, cart) = match known {
        Some((t, c)) => (Some(t), c),
        None => (None, Cart::default()),
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
    let c = Checkout {
        caller: format!("g:{token}"),
        key,
        fingerprint: shopd::orders::fingerprint(&body),
        email: request.email.clone(),
        request,
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
        data: OrderView::new(&placed.order, &Holds::DEFAULT),
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
    Ok(answer(
        StatusCode::OK,
        OrderView::new(&order, &Holds::DEFAULT),
        None,
    ))
}
