//! The request head's size limits ([`HttpLimits`]): a path and query longer
//! than `max_uri_bytes` gets 414 `uri_too_long`, headers weighing more than
//! `max_header_bytes` (names and values) or more than [`MAX_HEADER_COUNT`] of
//! them get 431 `headers_too_large` — both with the error envelope, before
//! any route, rate limit or proxying to a leader runs.
//!
//! Slow clients are bounded elsewhere: the head timeout and keep-alive by
//! the server (`startup`), the body timeout where bodies are read
//! (`extract::read_body`).

use crate::api::error::ApiError;
use crate::api::state::ApiState;
use crate::config::http::HttpLimits;
use crate::config::http::MAX_HEADER_COUNT;
use actix_web::Error;
use actix_web::ResponseError;
use actix_web::body::EitherBody;
use actix_web::body::MessageBody;
use actix_web::dev::ServiceRequest;
use actix_web::dev::ServiceResponse;
use actix_web::middleware::Next;
use actix_web::web;

/// What is wrong with a request head, if anything.
pub(crate) fn check(req: &actix_web::HttpRequest, limits: &HttpLimits) -> Result<(), ApiError> {
    let target = req
        .uri()
        .path_and_query()
        .map_or(req.path().len(), |p| p.as_str().len());
    if target > limits.max_uri_bytes {
        return Err(ApiError::UriTooLong {
            limit: limits.max_uri_bytes,
        });
    }
    let headers = req.headers();
    let weight: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if weight > limits.max_header_bytes || headers.len() > MAX_HEADER_COUNT {
        return Err(ApiError::HeadersTooLarge {
            limit: limits.max_header_bytes,
            count: MAX_HEADER_COUNT,
        });
    }
    Ok(())
}

/// The layer (inside the metrics and request-id layers, so the refusal is
/// counted and carries a request id).
pub(crate) async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, Error> {
    let refused = req
        .app_data::<web::Data<ApiState>>()
        .and_then(|state| check(req.request(), &state.http.limits).err());
    match refused {
        Some(e) => {
            let res = e.error_response();
            Ok(req.into_response(res).map_into_right_body())
        }
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}
