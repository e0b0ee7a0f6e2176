//! The HTTP API under `/api/v1`, plus probes, metrics and the docs pages.
//!
//! [`routes`] is the one route table; [`configure`] registers it with actix.
//! Handlers take extractors ([`extract`], [`auth`]) that parse and check
//! input into domain types, call one catalogue use case, and wrap its JSON.
//! Reads run on the worker thread (they take microseconds); writes are queued
//! to the store's writer thread and awaited (group commit). Errors become responses
//! only in [`error`]. [`openapi`] turns the table into the contract that
//! [`docs`] serves. Every limited route also runs through [`rate_limit`]'s
//! layer; [`security_headers`] and [`cors`] apply to every response.
//!
//! The Postgres-design baseline (`benches/baseline`) uses a small part of
//! this module: [`error::ApiError`], [`extract`]'s functions, the list and
//! search query parsers, [`state::HttpSettings`], [`json`], [`created`],
//! [`not_found`] and the request-id, caching and compression middleware.

pub(crate) mod accounts;
pub(crate) mod auth;
pub(crate) mod brands;
pub(crate) mod categories;
pub mod compression;
pub mod cors;
pub(crate) mod docs;
pub(crate) mod dto;
pub mod error;
pub mod extract;
#[cfg(test)]
mod fuzz;
pub(crate) mod health;
pub mod http_cache;
pub(crate) mod jobs;
pub mod live;
pub(crate) mod metrics;
pub mod openapi;
pub mod orders;
pub mod products;
pub(crate) mod profile;
pub mod rate_limit;
pub mod replication;
pub mod request_id;
pub mod request_limits;
pub mod routes;
pub mod search;
pub mod security_headers;
pub mod state;

use crate::catalog::Created;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use error::ApiError;
use routes::{Access, ROUTES, RateLimit};
use state::ApiState;

/// Registers every route of [`routes::ROUTES`]: one resource per pattern,
/// each method's handler behind its access check and then its rate limit
/// (so per-caller limits know the caller), and a JSON 405 (with `Allow`)
/// for any other method on a known pattern. Unknown paths fall to
/// the app's default service, [`not_found`].
pub fn configure(cfg: &mut web::ServiceConfig) {
    for (i, first) in ROUTES.iter().enumerate() {
        if ROUTES[..i].iter().any(|r| r.pattern == first.pattern) {
            continue;
        }
        let mut resource = web::resource(first.pattern);
        for route in ROUTES[i..].iter().filter(|r| r.pattern == first.pattern) {
            let r = (route.handler.attach)(web::route().method(route.verb.method()));
            let r = match route.rate {
                RateLimit::None => r,
                class => r.wrap(from_fn(move |req, next| {
                    rate_limit::layer(class, req, next)
                })),
            };
            let access = route.access;
            resource = resource.route(match access {
                Access::Public => r,
                _ => r.wrap(from_fn(move |req, next| auth::check(access, req, next))),
            });
        }
        let pattern = first.pattern;
        resource = resource.default_service(web::to(move |req: HttpRequest| {
            method_not_allowed(req, pattern)
        }));
        cfg.service(resource);
    }
}

/// The JSON 404 for a path no route serves (the app's default service).
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}

/// `GET /bench/ceiling`: a fixed, pre-rendered body the size of a product
/// detail, through the same middleware as every route; the load harness's
/// upper bound. 404 unless the server was started with `--bench-ceiling`.
pub(crate) async fn ceiling(
    req: HttpRequest,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    match &state.http.ceiling {
        Some(body) => Ok(json(body.clone())),
        None => not_found(req).await,
    }
}

/// 405 for a method `pattern` does not serve, with `Allow` listing those it
/// does.
async fn method_not_allowed(req: HttpRequest, pattern: &'static str) -> HttpResponse {
    let mut res =
        ApiError::MethodNotAllowed(format!("{} is not allowed on {}", req.method(), req.path()))
            .error_response();
    let allow: Vec<&str> = routes::allowed(pattern).map(|v| v.as_str()).collect();
    if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
        res.headers_mut().insert(header::ALLOW, v);
    }
    res
}

/// `200 OK` with a rendered JSON body (owned or shared from the cache).
pub fn json(body: impl actix_web::body::MessageBody + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(body)
}

/// `201 Created` with `Location`.
pub fn created(location: String, c: Created) -> HttpResponse {
    HttpResponse::Created()
        .content_type(header::ContentType::json())
        .insert_header((header::LOCATION, location))
        .body(c.body)
}
