//! `/api/v1/admin/discount-codes…` handlers.

use crate::api::dto::Data;
use crate::api::dto::data;
use crate::api::dto::discounts::DiscountBody;
use crate::api::dto::discounts::DiscountPatchBody;
use crate::api::dto::orders::DiscountView;
use crate::api::error::ApiError;
use crate::api::extract::body::Body;
use crate::api::state::ApiState;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::web;

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
