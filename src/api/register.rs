//! Registers the route table with actix ([`configure`]): one resource per
//! pattern, each method's handler behind its access check and then its rate
//! limit, a JSON 405 (with `Allow`) for other methods on a known pattern, the
//! JSON 404 for unknown paths ([`not_found`]), and the contract the docs
//! pages serve.

use crate::api::error::ApiError;
use crate::api::handlers::docs::Contract;
use crate::api::middleware::{access, rate_limit};
use crate::api::openapi::document::document;
use crate::api::route::{Access, RateLimit, Verb};
use crate::api::routes::{self, ROUTES};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use std::sync::LazyLock;

/// The contract, rendered once per process.
static CONTRACT: LazyLock<bytes::Bytes> = LazyLock::new(|| {
    // An `OpenApi` holds strings, maps and numbers only: serializing it to
    // memory cannot fail.
    let json = serde_json::to_vec(&document()).expect("the OpenAPI document serializes");
    bytes::Bytes::from(json)
});

/// Registers every route of [`routes::ROUTES`] (and the contract the docs
/// pages serve): one resource per pattern,
/// each method's handler behind its access check and then its rate limit
/// (so per-caller limits know the caller), and a JSON 405 (with `Allow`)
/// for any other method on a known pattern. Unknown paths fall to
/// the app's default service, [`not_found`].
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::Data::new(Contract(CONTRACT.clone())));
    for (i, first) in ROUTES.iter().enumerate() {
        if ROUTES[..i].iter().any(|r| r.pattern == first.pattern) {
            continue;
        }
        let mut resource = web::resource(first.pattern);
        for route in ROUTES[i..].iter().filter(|r| r.pattern == first.pattern) {
            // A GET route answers HEAD too (RFC 9110 §9.3.2): the same
            // handler, checks and headers; actix sends no body.
            let methods = if route.verb == Verb::Get {
                vec![Method::GET, Method::HEAD]
            } else {
                vec![route.verb.method()]
            };
            for method in methods {
                let r = (route.handler.attach)(web::route().method(method));
                let r = match route.rate {
                    RateLimit::None => r,
                    class => r.wrap(from_fn(move |req, next| {
                        rate_limit::layer(class, req, next)
                    })),
                };
                let access = route.access;
                resource = resource.route(match access {
                    Access::Public => r,
                    _ => r.wrap(from_fn(move |req, next| access::check(access, req, next))),
                });
            }
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
    Err(ApiError::no_route(req.method(), req.path()))
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
