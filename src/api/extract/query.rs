//! Query strings: [`Query`], the first value of each name, checked (a name
//! given twice, or a query that does not decode, is a 400); and the one
//! extractor of typed query parameters, [`Params`], over every area's
//! parameter sets ([`QueryParams`]).

use crate::api::error::ApiError;
use crate::api::openapi::describe::{Describe, Inputs, page_params};
use crate::domain::FieldErrors;
use crate::domain::listing::PageRequest;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use std::collections::HashMap;
use std::future::{Ready, ready};

/// Query parameters: a map of the first value of each name. A name given
/// twice is a 400 (ambiguous), as is a query that does not decode.
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(req: &HttpRequest) -> Result<Query, ApiError> {
        // serde_urlencoded replaces invalid UTF-8 with U+FFFD; refuse it
        // instead, so a value is never silently something else.
        for piece in req.query_string().split('&') {
            if percent_encoding::percent_decode_str(piece)
                .decode_utf8()
                .is_err()
            {
                return Err(ApiError::invalid_query(
                    "the query string is not valid UTF-8 once percent-decoded",
                ));
            }
        }
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(req.query_string()).map_err(|e| {
                ApiError::invalid_query(format!("the query string does not decode: {e}"))
            })?;
        let mut map = HashMap::new();
        for (k, v) in pairs {
            if map.contains_key(&k) {
                return Err(ApiError::invalid_query(format!(
                    "'{k}' is given more than once"
                )));
            }
            map.insert(k, v);
        }
        Ok(Query(map))
    }

    /// One of `all` by its name (`name_of`), `default` when absent; an
    /// unknown name is recorded in `errors` (422, listing the choices).
    pub(crate) fn choice<T: Copy>(
        &self,
        name: &str,
        all: &[T],
        name_of: fn(T) -> &'static str,
        default: T,
        errors: &mut FieldErrors,
    ) -> T {
        let Some(given) = self.get(name) else {
            return default;
        };
        all.iter()
            .copied()
            .find(|c| name_of(*c) == given)
            .unwrap_or_else(|| {
                let names: Vec<_> = all.iter().map(|c| name_of(*c)).collect();
                errors.push(name, format!("must be one of {}", names.join(", ")));
                default
            })
    }

    /// The value of `name`; empty counts as absent (`?category=`).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// An integer parameter: unparseable → 400 (`Err`); returns the value so
    /// the caller can range-check it (422).
    pub(crate) fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|s| {
                s.trim().parse::<i64>().map_err(|_| {
                    ApiError::invalid_query(format!("'{name}' must be a whole number, got '{s}'"))
                })
            })
            .transpose()
    }

    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.get(name)
            .map(|s| match s {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(ApiError::invalid_query(format!(
                    "'{name}' must be true or false, got '{s}'"
                ))),
            })
            .transpose()
    }

    /// `page` and `limit`, each checked; range errors go to `errors`.
    pub fn page(&self, errors: &mut FieldErrors) -> Result<PageRequest, ApiError> {
        let page = self.int("page")?.unwrap_or(1);
        let limit = self
            .int("limit")?
            .unwrap_or(PageRequest::DEFAULT_LIMIT as i64);
        let clamp = |n: i64| u32::try_from(n).unwrap_or(if n < 0 { 0 } else { u32::MAX });
        match PageRequest::new(clamp(page), clamp(limit)) {
            Ok(p) => Ok(p),
            Err(_) => {
                if PageRequest::new(clamp(page), 1).is_err() {
                    errors.push(
                        "page",
                        format!("must be from 1 to {}", PageRequest::MAX_PAGE),
                    );
                }
                if PageRequest::new(1, clamp(limit)).is_err() {
                    errors.push(
                        "limit",
                        format!("must be from 1 to {}", PageRequest::MAX_LIMIT),
                    );
                }
                Ok(PageRequest::default())
            }
        }
    }
}

/// A set of query parameters: how a query string becomes it, and how the
/// contract describes it. Handlers take it as [`Params<T>`].
pub(crate) trait QueryParams: Sized {
    /// Reads `q`: a value that does not parse is a 400 (`Err`); one out of
    /// range goes to `errors` (one 422 lists them all).
    fn read(q: &Query, errors: &mut FieldErrors) -> Result<Self, ApiError>;

    /// The parameters, for the contract.
    fn describe(inputs: &mut Inputs);

    /// `q` read and checked: 400 for the first value that does not parse,
    /// else 422 listing every value out of range.
    fn from_query(q: &Query) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let value = Self::read(q, &mut errors)?;
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(value)
    }
}

/// The request's query string as a `T` (see [`QueryParams::from_query`]).
pub(crate) struct Params<T>(pub T);

impl<T: QueryParams> FromRequest for Params<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            Query::parse(req)
                .and_then(|q| T::from_query(&q))
                .map(Params),
        )
    }
}

impl<T: QueryParams> Describe for Params<T> {
    fn describe(inputs: &mut Inputs) {
        T::describe(inputs);
    }
}

/// `page` and `limit` alone (reviews, brands, a customer's orders).
impl QueryParams for PageRequest {
    fn read(q: &Query, errors: &mut FieldErrors) -> Result<Self, ApiError> {
        q.page(errors)
    }

    fn describe(inputs: &mut Inputs) {
        inputs.query.extend(page_params());
    }
}
