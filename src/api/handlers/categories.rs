//! `/api/v1/categories…` handlers.

use crate::api::dto::cached;
use crate::api::dto::catalog::CategoryCreate;
use crate::api::dto::catalog::CategoryPatch;
use crate::api::dto::created;
use crate::api::dto::json;
use crate::api::error::ApiError;
use crate::api::extract::body::Body;
use crate::api::extract::wants::Wants;
use crate::api::state::ApiState;
use actix_web::HttpResponse;
use actix_web::web;

/// `GET /categories`: the whole tree (small; not paginated).
pub(crate) async fn tree(
    state: web::Data<ApiState>,
    Wants(wanted): Wants,
) -> Result<HttpResponse, ApiError> {
    Ok(cached(
        wanted,
        &state.services.catalog.serve_categories(wanted).await?,
    ))
}

pub(crate) async fn detail(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    Wants(wanted): Wants,
) -> Result<HttpResponse, ApiError> {
    Ok(cached(
        wanted,
        &state.services.catalog.serve_category(&id, wanted).await?,
    ))
}

pub(crate) async fn create(
    state: web::Data<ApiState>,
    Body(draft, _): Body<CategoryCreate>,
) -> Result<HttpResponse, ApiError> {
    let c = state.services.catalog.create_category(draft).await?;
    Ok(created(format!("/api/v1/categories/{}", c.id), c))
}

pub(crate) async fn update(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    Body(draft, _): Body<CategoryPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    Ok(json(
        state.services.catalog.update_category(&id, draft).await?,
    ))
}

pub(crate) async fn delete(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state.services.catalog.delete_category(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
