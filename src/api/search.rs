//! `/api/v1/search…` handlers, and the search query parser shared with the
//! baseline.

use super::dto::SynonymGroups;
use super::error::ApiError;
use super::extract::{Body, Query, SearchParams, Wants};
use super::http_cache::cached;
use super::json;
use super::products::filter;
use super::state::ApiState;
use crate::domain::FieldErrors;
use crate::domain::search::{MAX_QUERY_CHARS, SearchQuery, SearchSort};
use actix_web::{HttpResponse, web};

/// Most entries in each analytics list.
const ANALYTICS_SIZE: usize = 20;

/// Parses the search query: `q` longer than allowed → 400
/// `query_too_long`, unparseable values → 400, out-of-range → 422 listing
/// every bad parameter.
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

pub(crate) async fn search(
    state: web::Data<ApiState>,
    SearchParams(query): SearchParams,
    Wants(wanted): Wants,
) -> Result<HttpResponse, ApiError> {
    Ok(cached(
        wanted,
        &state.services.catalog.serve_search(&query, wanted).await?,
    ))
}

pub(crate) async fn get_synonyms(state: web::Data<ApiState>) -> HttpResponse {
    json(state.services.catalog.synonyms_json())
}

pub(crate) async fn put_synonyms(
    state: web::Data<ApiState>,
    Body(synonyms, _): Body<SynonymGroups>,
) -> Result<HttpResponse, ApiError> {
    let synonyms = synonyms.map_err(ApiError::validation)?;
    Ok(json(state.services.catalog.set_synonyms(synonyms).await?))
}

pub(crate) async fn analytics(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    Ok(json(
        state
            .services
            .catalog
            .search_analytics(ANALYTICS_SIZE)
            .await?,
    ))
}
