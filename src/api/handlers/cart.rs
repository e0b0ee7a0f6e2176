//! `/api/v1/cart…` handlers: an account's cart, or a guest's behind
//! `X-Cart-Token`.

use crate::accounts::Principal;
use crate::api::dto::Data;
use crate::api::dto::orders::CartItemBody;
use crate::api::dto::orders::CartView;
use crate::api::dto::orders::QuantityBody;
use crate::api::error::ApiError;
use crate::api::extract::body::Body;
use crate::api::extract::orders::CART_TOKEN_HEADER;
use crate::api::extract::orders::CartToken;
use crate::api::extract::orders::cart_of;
use crate::api::extract::orders::guest_token;
use crate::api::extract::orders::owner;
use crate::api::state::ApiState;
use crate::domain::cart::PricedCart;
use actix_web::HttpResponse;
use actix_web::web;

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
