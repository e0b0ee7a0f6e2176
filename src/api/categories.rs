//! `/api/v1/categories…` handlers.

use super::error::ApiError;
use super::extract::{json_object, require_admin};
use super::state::ApiState;
use super::{created, json};
use crate::catalog::Catalog;
use crate::domain::InputMode;
use crate::domain::category::CategoryDraft;
use actix_web::{HttpRequest, HttpResponse, web};

/// `GET /categories`: the whole tree (small; not paginated).
pub async fn tree(catalog: web::Data<Catalog>) -> Result<HttpResponse, ApiError> {
    Ok(json(catalog.serve_categories().await?))
}

pub async fn detail(
    id: web::Path<String>,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    Ok(json(catalog.serve_category(&id).await?))
}

pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<ApiState>,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let body = json_object(&req, payload, state.body_limit).await?;
    let draft = CategoryDraft::parse(&body, InputMode::Create);
    let c = catalog.create_category(draft).await?;
    Ok(created(format!("/api/v1/categories/{}", c.id), c))
}

pub async fn update(
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<ApiState>,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let body = json_object(&req, payload, state.body_limit).await?;
    let draft = CategoryDraft::parse(&body, InputMode::Patch);
    let id = id.into_inner();
    Ok(json(catalog.update_category(&id, draft).await?))
}

pub async fn delete(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<ApiState>,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let id = id.into_inner();
    catalog.delete_category(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
