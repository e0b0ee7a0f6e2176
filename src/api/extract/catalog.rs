//! The catalogue's query parameters: product lists (filters, sort, page),
//! search, and plain pages.

use crate::api::error::ApiError;
use crate::api::extract::query::{Query, QueryParams};
use crate::api::openapi::describe::Inputs;
use crate::api::openapi::describe::filter_params;
use crate::api::openapi::describe::integer;
use crate::api::openapi::describe::page_params;
use crate::api::openapi::describe::query_param;
use crate::api::openapi::describe::sort_param;
use crate::domain::FieldErrors;
use crate::domain::Id;
use crate::domain::Price;
use crate::domain::listing::ProductFilter;
use crate::domain::listing::ProductQuery;
use crate::domain::listing::ProductSort;
use crate::domain::search::MAX_QUERY_CHARS;
use crate::domain::search::SearchQuery;
use crate::domain::search::SearchSort;
use crate::domain::search::SuggestQuery;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::schema::Type;

pub(crate) fn price(
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
    ProductQuery::from_query(q)
}

/// The product list (`GET /products`): page, filters, sort.
impl QueryParams for ProductQuery {
    fn read(q: &Query, errors: &mut FieldErrors) -> Result<Self, ApiError> {
        let page = q.page(errors)?;
        let filter = filter(q, errors)?;
        let sort = q.choice(
            "sort",
            &ProductSort::ALL,
            ProductSort::as_str,
            ProductSort::Featured,
            errors,
        );
        Ok(ProductQuery { filter, sort, page })
    }

    fn describe(inputs: &mut Inputs) {
        inputs.query.extend(page_params());
        inputs.query.extend(filter_params());
        inputs
            .query
            .push(sort_param(ProductSort::ALL.map(ProductSort::as_str)));
    }
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

/// Parses the search query: `q` longer than allowed → 400
/// `query_too_long`, unparseable values → 400, out-of-range → 422 listing
/// every bad parameter.
pub fn search_query(q: &Query) -> Result<SearchQuery, ApiError> {
    SearchQuery::from_query(q)
}

/// `q`, the words to find: at most [`MAX_QUERY_CHARS`] characters, else
/// 400 `query_too_long`.
fn query_text(q: &Query) -> Result<String, ApiError> {
    let text = q.get("q").unwrap_or("").to_string();
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::BadRequest {
            code: "query_too_long",
            message: format!("'q' must be at most {MAX_QUERY_CHARS} characters"),
        });
    }
    Ok(text)
}

/// Search (`GET /search`): the words, page, filters, sort.
impl QueryParams for SearchQuery {
    fn read(q: &Query, errors: &mut FieldErrors) -> Result<Self, ApiError> {
        let text = query_text(q)?;
        let page = q.page(errors)?;
        let filter = filter(q, errors)?;
        let sort = q.choice(
            "sort",
            &SearchSort::ALL,
            SearchSort::as_str,
            SearchSort::Relevance,
            errors,
        );
        Ok(SearchQuery {
            text,
            filter,
            sort,
            page,
        })
    }

    fn describe(inputs: &mut Inputs) {
        inputs.query.push(query_param(
            "q",
            "Words to find (typos and prefixes allowed); empty browses with the filters",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(MAX_QUERY_CHARS)),
        ));
        inputs.query.extend(page_params());
        inputs.query.extend(filter_params());
        inputs
            .query
            .push(sort_param(SearchSort::ALL.map(SearchSort::as_str)));
    }
}

/// Search-as-you-type (`GET /search/suggest`): `q` as for search, `limit`
/// products (1–10, default 5).
impl QueryParams for SuggestQuery {
    fn read(q: &Query, errors: &mut FieldErrors) -> Result<Self, ApiError> {
        let text = query_text(q)?;
        let limit = q
            .int("limit")?
            .unwrap_or(SuggestQuery::DEFAULT_LIMIT as i64);
        let limit = match u32::try_from(limit) {
            Ok(n) if (1..=SuggestQuery::MAX_LIMIT).contains(&n) => n,
            _ => {
                errors.push(
                    "limit",
                    format!("must be from 1 to {}", SuggestQuery::MAX_LIMIT),
                );
                SuggestQuery::DEFAULT_LIMIT
            }
        };
        Ok(SuggestQuery { text, limit })
    }

    fn describe(inputs: &mut Inputs) {
        inputs.query.push(query_param(
            "q",
            "What has been typed so far; the last word is completed",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(MAX_QUERY_CHARS)),
        ));
        inputs.query.push(query_param(
            "limit",
            "Products to show",
            integer(1, SuggestQuery::MAX_LIMIT, SuggestQuery::DEFAULT_LIMIT),
        ));
    }
}
