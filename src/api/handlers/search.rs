//! `/api/v1/search…` handlers: search, synonyms, analytics.

use crate::api::dto::cached;
use crate::api::dto::catalog::SynonymGroups;
use crate::api::dto::json;
use crate::api::error::ApiError;
use crate::api::extract::body::Body;
use crate::api::extract::query::Params;
use crate::api::extract::wants::Wants;
use crate::api::state::ApiState;
use crate::domain::search::{SearchQuery, SuggestQuery};
use actix_web::HttpResponse;
use actix_web::web;

/// Most entries in each analytics list.
const ANALYTICS_SIZE: usize = 20;

pub(crate) async fn search(
    state: web::Data<ApiState>,
    Params(query): Params<SearchQuery>,
    Wants(wanted): Wants,
) -> Result<HttpResponse, ApiError> {
    Ok(cached(
        wanted,
        &state.services.catalog.serve_search(&query, wanted).await?,
    ))
}

pub(crate) async fn suggest(
    state: web::Data<ApiState>,
    Params(query): Params<SuggestQuery>,
    Wants(wanted): Wants,
) -> Result<HttpResponse, ApiError> {
    Ok(cached(
        wanted,
        &state.services.catalog.serve_suggest(&query, wanted).await?,
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
