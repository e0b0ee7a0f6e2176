//! `/api/v1/brands…` handlers.

use super::error::ApiError;
use super::extract::{Query, json_object, require_admin};
use super::state::ApiState;
use super::{created, json};
use crate::catalog::Catalog;
use crate::domain::brand::BrandDraft;
use crate::domain::{FieldErrors, InputMode};
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn list(req: HttpRequest, catalog: web::Data<Catalog>) -> Result<HttpResponse, ApiError> {
    let q = Query::parse(&req)?;
    let mut errors = FieldErrors::new();
    let page = q.page(&mut errors)?;
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(json(catalog.serve_brands(page).await?))
}

pub async fn detail(
    id: web::Path<String>,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    Ok(json(catalog.serve_brand(&id).await?))
}

pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<ApiState>,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let body = json_object(&req, payload, state.body_limit).await?;
    let draft = BrandDraft::parse(&body, InputMode::Create);
    let c = catalog.create_brand(draft).await?;
    Ok(created(format!("/api/v1/brands/{}", c.id), c))
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
    let draft = BrandDraft::parse(&body, InputMode::Patch);
    let id = id.into_inner();
    Ok(json(catalog.update_brand(&id, draft).await?))
}

pub async fn delete(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<ApiState>,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let id = id.into_inner();
    catalog.delete_brand(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
