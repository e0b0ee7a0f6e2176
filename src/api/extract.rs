//! Turning raw request parts into checked values: admin token, JSON body,
//! query parameters. Each failure is an [`ApiError`] with the right status.
//!
//! The functions ([`require_admin`], [`json_object`], [`Query`]) are the
//! building blocks, also used by the Postgres-design baseline. The actix
//! extractors built on them ([`Body`], [`ListQuery`], [`SearchParams`],
//! [`PageQuery`], [`Wants`]) are what shopd's handlers take, so no handler repeats a
//! parsing preamble; the route table documents each from its type.

use super::compression::accepts_gzip;
use super::error::ApiError;
use super::products::list_query;
use super::search::search_query;
use super::state::{ApiState, HttpSettings};
use crate::cache::Wanted;
use crate::domain::FieldErrors;
use crate::domain::listing::{PageRequest, ProductQuery};
use crate::domain::search::SearchQuery;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::future::{Future, Ready, ready};
use std::marker::PhantomData;
use std::pin::Pin;

/// The 401 message when a protected route gets no credentials (shopd's
/// and the baseline's, so the differential test sees one API).
pub const MISSING_CREDENTIALS: &str =
    "this endpoint needs 'Authorization: Bearer <access token>' or an 'X-API-Key' header";

/// Checks `Authorization: Bearer <admin token>` (constant-time comparison).
/// The Postgres-design baseline's only check; shopd's is `auth`.
pub fn require_admin(req: &HttpRequest, settings: &HttpSettings) -> Result<(), ApiError> {
    let Some(token) = &settings.admin_token else {
        return Err(ApiError::Unauthorized(
            "admin writes are disabled: start shopd with SHOPD_ADMIN_TOKEN set".into(),
        ));
    };
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(p) if token.matches(p) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized(
            "the bearer token is not valid".into(),
        )),
        None => Err(ApiError::Unauthorized(MISSING_CREDENTIALS.into())),
    }
}

/// Reads the whole request body: at most `limit` bytes (413 above, also
/// when `Content-Length` says so up front), within the configured body
/// timeout (408 `request_timeout`: a client trickling its body does not
/// hold a handler forever).
pub(crate) async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    // shopd registers `ApiState`; the Postgres-design baseline, which
    // shares these extractors, registers its `HttpSettings` alone.
    let timeout = req
        .app_data::<web::Data<ApiState>>()
        .map(|s| s.http.limits.body_timeout)
        .or_else(|| {
            req.app_data::<web::Data<HttpSettings>>()
                .map(|h| h.limits.body_timeout)
        })
        .unwrap_or(crate::config::http::HttpLimits::DEFAULT.body_timeout);
    match tokio::time::timeout(timeout, payload.to_bytes_limited(limit)).await {
        Err(_) => Err(ApiError::RequestTimeout {
            secs: timeout.as_secs(),
        }),
        Ok(Err(_)) => Err(ApiError::PayloadTooLarge { limit }),
        Ok(Ok(Err(e))) => Err(ApiError::BadRequest {
            code: "bad_request",
            message: format!("could not read the request body: {e}"),
        }),
        Ok(Ok(Ok(body))) => Ok(body),
    }
}

/// Reads the body (at most `limit` bytes) and parses it as a JSON object.
pub async fn json_object(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Map<String, Value>, ApiError> {
    let body = read_body(req, payload, limit).await?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::BadRequest {
            code: "malformed_json",
            message: "the request body must be a JSON object".into(),
        }),
        Err(e) => Err(ApiError::BadRequest {
            code: "malformed_json",
            message: format!("the request body is not valid JSON: {e}"),
        }),
    }
}

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
    pub fn choice<T: Copy>(
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
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// An integer parameter: unparseable → 400 (`Err`); returns the value so
    /// the caller can range-check it (422).
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|s| {
                s.trim().parse::<i64>().map_err(|_| {
                    ApiError::invalid_query(format!("'{name}' must be a whole number, got '{s}'"))
                })
            })
            .transpose()
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
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

/// A request body type: its OpenAPI schema, and how its JSON object becomes
/// a domain value (the domain's hand-written parser, which collects every
/// field error for the use case to report as one 422).
pub(crate) trait Input: utoipa::ToSchema {
    type Parsed;
    fn parse(body: &Map<String, Value>) -> Self::Parsed;
}

/// A JSON object body, at most the configured body limit, parsed by `T`:
/// 413 `payload_too_large`, 400 `malformed_json` (not JSON, or not an
/// object) as [`json_object`] answers them.
pub(crate) struct Body<T: Input>(pub T::Parsed, pub RawBody<T>);

/// The JSON object a [`Body`] was parsed from.
pub(crate) struct RawBody<T> {
    pub map: Map<String, Value>,
    _t: PhantomData<T>,
}

impl<T: Input + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload);
        Box::pin(async move {
            let payload = payload
                .await
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("taking the body: {e}")))?;
            let limit = state(&req)?.http.body_limit;
            let map = json_object(&req, payload, limit).await?;
            Ok(Body(
                T::parse(&map),
                RawBody {
                    map,
                    _t: PhantomData,
                },
            ))
        })
    }
}

fn state(req: &HttpRequest) -> Result<&web::Data<ApiState>, ApiError> {
    req.app_data::<web::Data<ApiState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("ApiState is not registered")))
}

/// The product list query (`GET /products`), checked by [`list_query`].
pub(crate) struct ListQuery(pub ProductQuery);

impl FromRequest for ListQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            Query::parse(req)
                .and_then(|q| list_query(&q))
                .map(ListQuery),
        )
    }
}

/// The search query (`GET /search`), checked by [`search_query`].
pub(crate) struct SearchParams(pub SearchQuery);

impl FromRequest for SearchParams {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            Query::parse(req)
                .and_then(|q| search_query(&q))
                .map(SearchParams),
        )
    }
}

/// The form the client takes cached bodies in: gzip when its
/// `Accept-Encoding` allows it ([`accepts_gzip`]), else plain.
pub(crate) struct Wants(pub Wanted);

impl FromRequest for Wants {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Wants(if accepts_gzip(req) {
            Wanted::Gzip
        } else {
            Wanted::Plain
        })))
    }
}

/// `page` and `limit` alone (reviews, brands): 400 when unparseable, 422
/// when out of range.
pub(crate) struct PageQuery(pub PageRequest);

impl FromRequest for PageQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let q = Query::parse(req)?;
            let mut errors = FieldErrors::new();
            let page = q.page(&mut errors)?;
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            Ok(PageQuery(page))
        })())
    }
}
