//! `/api/v1/products…` handlers.

use crate::accounts::Principal;
use crate::api::dto::cached;
use crate::api::dto::catalog::ProductCreate;
use crate::api::dto::catalog::ProductPatch;
use crate::api::dto::catalog::ReviewCreate;
use crate::api::dto::created;
use crate::api::dto::json;
use crate::api::error::ApiError;
use crate::api::extract::body::Body;
use crate::api::extract::query::Params;
use crate::api::extract::wants::Wants;
use crate::api::state::ApiState;
use crate::catalog::reviews::ReviewAuthor;
use crate::domain::account::Role;
use crate::domain::listing::{PageRequest, ProductQuery};
use actix_web::HttpResponse;
use actix_web::web;
use serde_json::Value;

pub(crate) async fn list(
    state: web::Data<ApiState>,
    Params(query): Params<ProductQuery>,
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
    Params(page): Params<PageRequest>,
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
    match map.get("userId") {
        None => {
            map.insert("userId".into(), Value::String(account.to_string()));
        }
        // Another user's id is well-formed; a customer just may not write
        // as anyone else (a 403, like a product they did not buy).
        Some(Value::String(u)) if u != account.as_str() => {
            return Err(ApiError::Forbidden {
                code: "forbidden",
                message: "a customer reviews as themselves: leave userId out or send your own id"
                    .into(),
            });
        }
        Some(_) => {}
    }
    let draft = crate::domain::review::ReviewDraft::parse(&map, crate::domain::InputMode::Create);
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
