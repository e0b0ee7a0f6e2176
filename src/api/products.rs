//! `/api/v1/products…` handlers, and the product list query parser shared
//! with search and the baseline.

use super::auth::Principal;
use super::dto::{ProductCreate, ProductPatch, ReviewCreate};
use super::error::ApiError;
use super::extract::{Body, ListQuery, PageQuery, Query, Wants};
use super::http_cache::cached;
use super::state::ApiState;
use super::{created, json};
use crate::catalog::reviews::ReviewAuthor;
use crate::domain::account::Role;
use crate::domain::listing::{ProductFilter, ProductQuery, ProductSort};
use crate::domain::{FieldErrors, Id, Price};
use actix_web::{HttpResponse, web};
use serde_json::Value;

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
pub(crate) fn filter(q: &Query, errors: &mut FieldErrors) -> Result<ProductFilter, ApiError> {
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

pub(crate) async fn list(
    state: web::Data<ApiState>,
    ListQuery(query): ListQuery,
    Wants(wanted): Wants,
) -> Result<HttpResponse, ApiError> {
    Ok(cached(
        wanted,
        &state
            .services
            .catalog
            .serve_products(&query, wanted)
            .await?,
    ))
}

pub(crate) async fn detail(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    Wants(wanted): Wants,
) -> Result<HttpResponse, ApiError> {
    Ok(cached(
        wanted,
        &state.services.catalog.serve_product(&id, wanted).await?,
    ))
}

pub(crate) async fn reviews(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    PageQuery(page): PageQuery,
    Wants(wanted): Wants,
) -> Result<HttpResponse, ApiError> {
    Ok(cached(
        wanted,
        &state
            .services
            .catalog
            .serve_reviews(&id, page, wanted)
            .await?,
    ))
}

pub(crate) async fn create(
    state: web::Data<ApiState>,
    Body(draft, _): Body<ProductCreate>,
) -> Result<HttpResponse, ApiError> {
    let c = state.services.catalog.create_product(draft).await?;
    Ok(created(format!("/api/v1/products/{}", c.id), c))
}

pub(crate) async fn update(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    Body(draft, _): Body<ProductPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    Ok(json(
        state.services.catalog.update_product(&id, draft).await?,
    ))
}

pub(crate) async fn delete(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state.services.catalog.delete_product(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn create_review(
    state: web::Data<ApiState>,
    p: Principal,
    id: web::Path<String>,
    Body(draft, raw): Body<ReviewCreate>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let location = format!("/api/v1/products/{id}/reviews");
    if p.role().is_some_and(|r| r >= Role::Staff) {
        // Staff import reviews of any user.
        let c = state
            .services
            .catalog
            .create_review(ReviewAuthor::Staff, &id, draft)
            .await?;
        return Ok(created(location, c));
    }
    // A customer reviews, as themselves, what they bought.
    let (account, _) = p.account().ok_or_else(|| ApiError::Forbidden {
        code: "forbidden",
        message: "reviews need a signed-in customer or staff".into(),
    })?;
    let mut map = raw.map;
    let foreign = match map.get("userId") {
        None => {
            map.insert("userId".into(), Value::String(account.to_string()));
            false
        }
        Some(u) => u.as_str() != Some(account.as_str()),
    };
    let mut draft =
        crate::domain::review::ReviewDraft::parse(&map, crate::domain::InputMode::Create);
    if foreign {
        draft
            .errors
            .push("userId", "must be your own account id, or left out");
    }
    let c = state
        .services
        .catalog
        .create_review(ReviewAuthor::Customer(account.clone()), &id, draft)
        .await?;
    Ok(created(location, c))
}

pub(crate) async fn hide_review(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.services.catalog.hide_review(&id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn show_review(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.services.catalog.show_review(&id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
