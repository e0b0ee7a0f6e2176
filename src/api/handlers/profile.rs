//! The signed-in customer's own things over HTTP: saved addresses, the
//! wishlist (shown with current prices and availability) and
//! notifications.

use crate::api::dto::Data;
use crate::api::dto::data;
use crate::api::dto::profile::AddressPatchBody;
use crate::api::dto::profile::NewAddressBody;
use crate::api::dto::profile::NotificationView;
use crate::api::dto::profile::SavedAddressView;
use crate::api::dto::profile::WishBody;
use crate::api::dto::profile::WishView;
use crate::api::error::ApiError;
use crate::api::extract::body::Body;
use crate::api::extract::principal::Me;
use crate::api::state::ApiState;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::web;

// ---- handlers -------------------------------------------------------------------------------

pub(crate) async fn list_addresses(
    state: web::Data<ApiState>,
    me: Me,
) -> Result<HttpResponse, ApiError> {
    let all = state.services.orders.addresses(&me.id)?;
    Ok(data(
        StatusCode::OK,
        all.iter().map(SavedAddressView::from).collect::<Vec<_>>(),
    ))
}

pub(crate) async fn add_address(
    state: web::Data<ApiState>,
    me: Me,
    Body(new, _): Body<NewAddressBody>,
) -> Result<HttpResponse, ApiError> {
    let new = new.map_err(ApiError::validation)?;
    let a = state.services.orders.add_address(&me.id, new).await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, "/api/v1/me/addresses"))
        .json(Data {
            data: SavedAddressView::from(&a),
        }))
}

pub(crate) async fn update_address(
    state: web::Data<ApiState>,
    me: Me,
    path: web::Path<String>,
    Body(patch, _): Body<AddressPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let patch = patch.map_err(ApiError::validation)?;
    let a = state
        .services
        .orders
        .update_address(&me.id, &path.into_inner(), patch)
        .await?;
    Ok(data(StatusCode::OK, SavedAddressView::from(&a)))
}

pub(crate) async fn delete_address(
    state: web::Data<ApiState>,
    me: Me,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .orders
        .delete_address(&me.id, &path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn wishlist(state: web::Data<ApiState>, me: Me) -> Result<HttpResponse, ApiError> {
    let items = state.services.orders.wishlist(&me.id)?;
    Ok(data(
        StatusCode::OK,
        items
            .iter()
            .map(|(p, at)| WishView::new(p, *at))
            .collect::<Vec<_>>(),
    ))
}

pub(crate) async fn wish(
    state: web::Data<ApiState>,
    me: Me,
    Body(product, _): Body<WishBody>,
) -> Result<HttpResponse, ApiError> {
    let product = product.map_err(ApiError::validation)?;
    state.services.orders.wish(&me.id, &product).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn unwish(
    state: web::Data<ApiState>,
    me: Me,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .orders
        .unwish(&me.id, &path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn notifications(
    state: web::Data<ApiState>,
    me: Me,
) -> Result<HttpResponse, ApiError> {
    let all = state.services.orders.notifications(&me.id)?;
    Ok(data(
        StatusCode::OK,
        all.iter().map(NotificationView::from).collect::<Vec<_>>(),
    ))
}

pub(crate) async fn read_notification(
    state: web::Data<ApiState>,
    me: Me,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .orders
        .read_notification(&me.id, &path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
