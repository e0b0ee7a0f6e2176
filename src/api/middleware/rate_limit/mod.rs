//! Rate limiting: one GCRA limiter (governor) per class of the route table
//! ([`RateLimit`]), each holding one state per caller, and the layer
//! ([`layer`]) that [`super::configure`] puts around every limited route,
//! inside its access check and before its handler reads the body.
//!
//! # Keys
//! - `api` and `auth`: the client IP ([`RateLimits::client_ip`]).
//! - `auth` again per email address, which sign-in, registration and
//!   password-reset handlers check themselves once they have read it
//!   ([`RateLimits::check_auth_email`]).
//! - `write` and `checkout`: the caller, [`Principal::rate_subject`]
//!   (account, API key, admin token); the client IP for a caller without one.
//!
//! The client IP is the TCP peer's address. When the peer is one of the
//! configured trusted proxies, it is the rightmost `X-Forwarded-For` entry
//! that is not itself a trusted proxy; from any other peer the header is
//! ignored, so a client cannot pick its own bucket. IPv6 clients are keyed
//! by their /64 (one host usually holds a whole /64).
//!
//! # Headers
//! Every response of a limited route whose class is on carries
//! `X-RateLimit-Limit` (the quota's N), `X-RateLimit-Remaining` (requests
//! left right now) and `X-RateLimit-Reset` (seconds until the whole quota is
//! back, i.e. until Remaining would equal Limit again). A refused request is
//! answered 429 `rate_limited` with `Retry-After`: seconds until one more
//! request is allowed. A request refused by the access check (401) never
//! reaches the layer and is not counted.
//!
//! # Memory
//! A key whose state is indistinguishable from a fresh one (its quota is all
//! back) is dropped by [`RateLimits::sweep`], which startup runs every
//! [`SWEEP_EVERY`]; so the maps hold about the callers seen within one
//! period of each class.
//!
//! This module owns the limiter state and its headers; who the caller is
//! belongs to [`super::auth`], which routes are limited to the route table.

use crate::accounts::Principal;
use crate::api::error::ApiError;
use crate::api::error::LIMIT;
use crate::api::route::RateLimit;
use crate::api::state::ApiState;
use actix_web::Error;
use actix_web::HttpMessage;
use actix_web::ResponseError;
use actix_web::body::EitherBody;
use actix_web::body::MessageBody;
use actix_web::dev::ServiceRequest;
use actix_web::dev::ServiceResponse;
use actix_web::middleware::Next;
use actix_web::web;

pub(crate) mod failures;
pub(crate) mod limiter;

/// The rate-limit layer of one route of class `class`: counts the request
/// against its caller's quota, answers 429 itself when it is spent (as a
/// response, so the outer middleware still adds request ids, metrics and
/// headers), else calls the handler and adds the `X-RateLimit-*` headers
/// (unless a check inside the handler, such as the per-email one, already
/// answered with its own).
pub(crate) async fn layer(
    class: RateLimit,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, Error> {
    let verdict = match req.app_data::<web::Data<ApiState>>() {
        Some(state) => {
            let subject = req
                .extensions()
                .get::<Principal>()
                .and_then(Principal::rate_subject);
            state.limits.check(class, req.request(), subject)
        }
        None => Err(ApiError::Internal(anyhow::anyhow!(
            "ApiState is not registered"
        ))),
    };
    match verdict {
        Ok(status) => {
            let mut res = next.call(req).await?;
            if let Some(status) = status
                && !res.headers().contains_key(LIMIT)
            {
                status.apply(res.headers_mut());
            }
            Ok(res.map_into_left_body())
        }
        Err(e) => {
            let res = e.error_response();
            Ok(req.into_response(res).map_into_right_body())
        }
    }
}
