//! `/api/v1/brands…` handlers.

use crate::api::dto::cached;
use crate::api::dto::catalog::BrandCreate;
use crate::api::dto::catalog::BrandPatch;
use crate::api::dto::created;
use crate::api::dto::json;
use crate::api::error::ApiError;
use crate::api::extract::body::Body;
use crate::api::extract::query::Params;
use crate::api::extract::wants::Wants;
use crate::api::state::ApiState;
use crate::domain::listing::PageRequest;
use actix_web::HttpResponse;
use actix_web::web;

pub(crate) async fn list(
    state: web::Data<ApiState>,
    Params(page): Params<PageRequest>,
    Wants(wanted): Wants,
) -> Result<HttpResponse, ApiError> {
    Ok(cached(
        wanted,
        &state.services.catalog.serve_brands(page, wanted).await?,
    ))
}

pub(crate) async fn detail(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    Wants(wanted): Wants,
) -> Result<HttpResponse, ApiError> {
    Ok(cached(
        wanted,
        &state.services.catalog.serve_brand(&id, wanted).await?,
    ))
}

pub(crate) async fn create(
    state: web::Data<ApiState>,
    Body(draft, _): Body<BrandCreate>,
) -> Result<HttpResponse, ApiError> {
    let c = state.services.catalog.create_brand(draft).await?;
    Ok(created(format!("/api/v1/brands/{}", c.id), c))
}

pub(crate) async fn update(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    Body(draft, _): Body<BrandPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    Ok(json(state.services.catalog.update_brand(&id, draft).await?))
}

pub(crate) async fn delete(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state.services.catalog.delete_brand(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
