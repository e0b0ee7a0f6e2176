//! `/api/v1/search…` handlers.

use super::error::ApiError;
use super::extract::{Query, json_object, require_admin};
use super::json;
use super::products::filter;
use super::state::ApiState;
use crate::catalog::Catalog;
use crate::domain::FieldErrors;
use crate::domain::search::{MAX_QUERY_CHARS, SearchQuery, SearchSort, Synonyms};
use actix_web::{HttpRequest, HttpResponse, web};

/// Most entries in each analytics list.
const ANALYTICS_SIZE: usize = 20;

pub fn search_query(q: &Query) -> Result<SearchQuery, ApiError> {
    let text = q.get("q").unwrap_or("").to_string();
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::BadRequest {
            code: "query_too_long",
            message: format!("'q' must be at most {MAX_QUERY_CHARS} characters"),
        });
    }
    let mut errors = FieldErrors::new();
    let page = q.page(&mut errors)?;
    let filter = filter(q, &mut errors)?;
    let sort = q.choice(
        "sort",
        &SearchSort::ALL,
        SearchSort::as_str,
        SearchSort::Relevance,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(SearchQuery {
        text,
        filter,
        sort,
        page,
    })
}

pub async fn search(
    req: HttpRequest,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    let query = search_query(&Query::parse(&req)?)?;
    Ok(json(catalog.serve_search(&query).await?))
}

pub async fn get_synonyms(catalog: web::Data<Catalog>) -> HttpResponse {
    json(catalog.synonyms_json())
}

pub async fn put_synonyms(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<ApiState>,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let body = json_object(&req, payload, state.body_limit).await?;
    let synonyms =
        Synonyms::parse(&serde_json::Value::Object(body)).map_err(ApiError::validation)?;
    Ok(json(catalog.set_synonyms(synonyms).await?))
}

pub async fn analytics(
    req: HttpRequest,
    state: web::Data<ApiState>,
    catalog: web::Data<Catalog>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    Ok(json(catalog.search_analytics(ANALYTICS_SIZE).await?))
}
