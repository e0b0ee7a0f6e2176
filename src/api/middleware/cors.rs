//! Cross-origin access (CORS) from the allowlist in the configuration
//! (`--cors-origins`), with actix-cors: a browser on a listed origin may
//! call every route of the API (`/api/…`; nothing else) with credentials (cookies, `Authorization`), send the
//! headers the API reads and read the headers it answers; preflights
//! (`OPTIONS` with `Access-Control-Request-Method`) from listed origins are
//! answered here. With an empty list the middleware is not installed at
//! all: no CORS header on any response.
//!
//! actix-cors adds `Access-Control-Allow-Credentials` and
//! `Access-Control-Expose-Headers` to every response, matching origin or
//! not (browsers ignore them without `Access-Control-Allow-Origin`).
//! [`only_for_listed_origins`] removes them there, so a response to an
//! unlisted origin carries no CORS header at all (only `Vary: Origin`, which
//! caches need).
//!
//! This module owns the CORS policy; which origins are listed is
//! configuration (`config::http::CorsOrigins`).

use crate::config::http::CorsOrigins;
use actix_cors::Cors;
use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::ServiceRequest;
use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::http::header::HeaderName;
use actix_web::middleware::Condition;
use actix_web::middleware::Next;

/// Request headers a cross-origin caller may send (beyond the safelisted
/// ones).
pub(crate) const ALLOWED_HEADERS: [HeaderName; 7] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::IF_NONE_MATCH,
    header::ACCEPT,
    HeaderName::from_static("x-request-id"),
    // A storefront on another origin keeps a guest cart and checks out.
    HeaderName::from_static("x-cart-token"),
    HeaderName::from_static("idempotency-key"),
];

/// Response headers a cross-origin caller may read (beyond the safelisted
/// ones).
pub(crate) const EXPOSED_HEADERS: [HeaderName; 11] = [
    HeaderName::from_static("x-cart-token"),
    HeaderName::from_static("idempotent-replayed"),
    crate::api::error::LIMIT,
    crate::api::error::REMAINING,
    crate::api::error::RESET,
    header::RETRY_AFTER,
    header::ETAG,
    header::LOCATION,
    header::WWW_AUTHENTICATE,
    header::ALLOW,
    HeaderName::from_static("x-request-id"),
];

/// How long a browser may reuse a preflight answer.
const PREFLIGHT_MAX_AGE_SECS: usize = 3600;

/// The CORS middleware for `origins`; off when the list is empty.
pub(crate) fn middleware(origins: &CorsOrigins) -> Condition<Cors> {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers(ALLOWED_HEADERS)
        .expose_headers(EXPOSED_HEADERS)
        .supports_credentials()
        .max_age(PREFLIGHT_MAX_AGE_SECS)
        // An unlisted origin gets an ordinary answer without CORS headers
        // (the browser then withholds it from the page); curl and servers
        // sending an Origin keep working.
        .block_on_origin_mismatch(false);
    for origin in origins.iter() {
        cors = cors.allowed_origin(origin);
    }
    Condition::new(!origins.is_empty(), cors)
}

/// CORS headers that mean nothing without `Access-Control-Allow-Origin`.
const DEPENDENT: [HeaderName; 5] = [
    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
    header::ACCESS_CONTROL_EXPOSE_HEADERS,
    header::ACCESS_CONTROL_ALLOW_METHODS,
    header::ACCESS_CONTROL_ALLOW_HEADERS,
    header::ACCESS_CONTROL_MAX_AGE,
];

/// Outside [`middleware`]: a response that does not allow the request's
/// origin carries no other CORS header either, and only the API is open to
/// other origins — the admin pages, probes and docs never are (a listed
/// storefront has no business reading an admin's pages with their cookie).
pub(crate) async fn only_for_listed_origins(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let api = req.path().starts_with("/api/");
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if !api {
        headers.remove(header::ACCESS_CONTROL_ALLOW_ORIGIN);
    }
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        for name in DEPENDENT {
            headers.remove(name);
        }
    }
    Ok(res)
}
