//! `/api/v1/products…` handlers.

use super::error::ApiError;
use super::extract::{Query, json_object, require_admin};
use super::state::ApiState;
use super::{created, json};
use crate::catalog::Catalog;
use crate::domain::listing::{ProductFilter, ProductQuery, ProductSort};
use crate::domain::product::ProductDraft;
use crate::domain::review::ReviewDraft;
use crate::domain::{FieldErrors, Id, InputMode, Price};
use actix_web::{HttpRequest, HttpResponse, web};

fn price(
    q: &Query,
    name: &'static str,
    errors: &mut FieldErrors,
) -> Result<Option<Price>, ApiError> {
    let Some(s) = q.get(name) else {
        return Ok(None);
    };
    match Price::from_query(s) {
        None => Err(ApiError::invalid_query(format!(
            "'{name}' must be a number, got '{s}'"
        ))),
        Some(Ok(p)) => Ok(Some(p)),
        Some(Err(reason)) => {
            errors.push(name, reason);
            Ok(None)
        }
    }
}

/// An id filter; an impossible id matches nothing (200, empty), not an error.
fn id_filter(q: &Query, name: &str, matches_nothing: &mut bool) -> Option<Id> {
    let s = q.get(name)?;
    let id = Id::parse(s).ok();
    *matches_nothing |= id.is_none();
    id
}

/// Parses the list query: unparseable values → 400, out-of-range → 422
/// listing every bad parameter.
pub fn list_query(q: &Query) -> Result<ProductQuery, ApiError> {
    let mut errors = FieldErrors::new();
    let page = q.page(&mut errors)?;
    let filter = filter(q, &mut errors)?;
    let sort = q.choice(
        "sort",
        &ProductSort::ALL,
        ProductSort::as_str,
        ProductSort::Featured,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(ProductQuery { filter, sort, page })
}

/// The product filters shared by lists and search.
pub fn filter(q: &Query, errors: &mut FieldErrors) -> Result<ProductFilter, ApiError> {
    let available = q.bool("isAvailable")?;
    let min_price = price(q, "minPrice", errors)?;
    let max_price = price(q, "maxPrice", errors)?;
    if let (Some(lo), Some(hi)) = (min_price, max_price)
        && lo > hi
    {
        errors.push("minPrice", "must not be greater than maxPrice");
    }
    let mut matches_nothing = false;
    Ok(ProductFilter {
        category: id_filter(q, "category", &mut matches_nothing),
        brand: id_filter(q, "brand", &mut matches_nothing),
        available,
        min_price,
        max_price,
        matches_nothing,
    })
}

pub async fn list(req: HttpRequest, catalog: web::Data<Catalog>) -> Result<HttpResponse, ApiError> {
    let query = list_query(&Query::parse(&req)?)?;
    Ok(json(catalog.serve_products(&query).await?))
}

pub async fn detail(
    id: web::Path<String>,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    Ok(json(catalog.serve_product(&id).await?))
}

pub async fn reviews(
    req: HttpRequest,
    id: web::Path<String>,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    let q = Query::parse(&req)?;
    let mut errors = FieldErrors::new();
    let page = q.page(&mut errors)?;
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(json(catalog.serve_reviews(&id, page).await?))
}

pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<ApiState>,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let body = json_object(&req, payload, state.body_limit).await?;
    let draft = ProductDraft::parse(&body, InputMode::Create);
    let c = catalog.create_product(draft).await?;
    Ok(created(format!("/api/v1/products/{}", c.id), c))
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
    let draft = ProductDraft::parse(&body, InputMode::Patch);
    let id = id.into_inner();
    Ok(json(catalog.update_product(&id, draft).await?))
}

pub async fn delete(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<ApiState>,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let id = id.into_inner();
    catalog.delete_product(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn create_review(
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<ApiState>,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let body = json_object(&req, payload, state.body_limit).await?;
    let draft = ReviewDraft::parse(&body, InputMode::Create);
    let id = id.into_inner();
    let location = format!("/api/v1/products/{id}/reviews");
    let c = catalog.create_review(&id, draft).await?;
    Ok(created(location, c))
}
