//! `/api/v1/cart…` handlers: an account's cart, or a guest's behind
//! `X-Cart-Token`.

use crate::api::dto::Data;
use crate::api::dto::orders::CartItemBody;
use crate::api::dto::orders::CartView;
use crate::api::dto::orders::QuantityBody;
use crate::api::error::ApiError;
use crate::api::extract::body::Body;
use crate::api::extract::orders::CART_TOKEN_HEADER;
use crate::api::extract::orders::ShopperCart;
use crate::api::state::ApiState;
use crate::domain::cart::PricedCart;
use actix_web::HttpResponse;
use actix_web::web;

/// The cart answer; a guest's carries its token.
fn cart_answer(c: &PricedCart, cart: &ShopperCart) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    if let Some(t) = &cart.guest_token {
        res.insert_header((CART_TOKEN_HEADER, t.to_string()));
    }
    res.json(Data {
        data: CartView::from(c),
    })
}

pub(crate) async fn get_cart(
    state: web::Data<ApiState>,
    cart: ShopperCart,
) -> Result<HttpResponse, ApiError> {
    let cart = cart.known(&state.services.orders).await?;
    let c = match &cart.owner {
        Some(o) => state.services.orders.cart(o)?,
        None => PricedCart::default(),
    };
    Ok(cart_answer(&c, &cart))
}

pub(crate) async fn clear_cart(
    state: web::Data<ApiState>,
    cart: ShopperCart,
) -> Result<HttpResponse, ApiError> {
    let cart = cart.known(&state.services.orders).await?;
    if let Some(o) = &cart.owner {
        state.services.orders.clear_cart(o).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn add_item(
    state: web::Data<ApiState>,
    cart: ShopperCart,
    Body(item, _): Body<CartItemBody>,
) -> Result<HttpResponse, ApiError> {
    let item = item.map_err(ApiError::validation)?;
    // A guest without a cart (or with a token the server does not know)
    // gets one, and its token.
    let (o, cart) = cart.known(&state.services.orders).await?.or_new();
    let c = state.services.orders.add_item(&o, item).await?;
    Ok(cart_answer(&c, &cart))
}

pub(crate) async fn set_quantity(
    state: web::Data<ApiState>,
    cart: ShopperCart,
    path: web::Path<String>,
    Body(quantity, _): Body<QuantityBody>,
) -> Result<HttpResponse, ApiError> {
    let quantity = quantity.map_err(ApiError::validation)?;
    let cart = cart.known(&state.services.orders).await?;
    let c = state
        .services
        .orders
        .set_quantity(cart.existing()?, &path.into_inner(), quantity)
        .await?;
    Ok(cart_answer(&c, &cart))
}

pub(crate) async fn remove_item(
    state: web::Data<ApiState>,
    cart: ShopperCart,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let cart = cart.known(&state.services.orders).await?;
    let c = state
        .services
        .orders
        .remove_item(cart.existing()?, &path.into_inner())
        .await?;
    Ok(cart_answer(&c, &cart))
}
