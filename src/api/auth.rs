//! Who is calling: the [`Principal`] a request authenticates as, and the
//! check of a route's [`Access`] that [`super::configure`] puts in front of
//! every non-public route (before any extractor reads the body).
//!
//! Credentials are compared in constant time ([`Secret::matches`]). Public
//! routes read no credentials at all. This module decides *who* may call;
//! which routes need whom is the route table's business.

use super::error::ApiError;
use super::extract::require_admin;
use super::routes::Access;
use super::state::ApiState;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, ResponseError, web};
use std::future::{Ready, ready};

#[cfg(doc)]
use crate::configuration::Secret;

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// No credentials were checked (a public route).
    Anonymous,
    /// The holder of the admin token.
    Admin,
}

impl Principal {
    /// A stable key for the caller, for the per-caller rate limits
    /// (`write`, `checkout`; see [`super::rate_limit`]): the same for every
    /// request of one account, API key or token, different between callers,
    /// and no secret (it is held in memory as a map key). `None` for a caller
    /// without one, who is limited by client IP instead.
    pub fn rate_subject(&self) -> Option<String> {
        match self {
            Principal::Anonymous => None,
            Principal::Admin => Some("admin-token".into()),
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Principal::Anonymous => "anonymous",
            Principal::Admin => "admin",
        })
    }
}

/// Authenticates `req` for a route that needs `access`.
pub fn authenticate(
    access: Access,
    req: &HttpRequest,
    state: &ApiState,
) -> Result<Principal, ApiError> {
    match access {
        Access::Public => Ok(Principal::Anonymous),
        Access::Admin => require_admin(req, &state.http).map(|()| Principal::Admin),
    }
}

/// The access layer of one route: answers the error itself (as a response,
/// so the outer middleware still adds request ids, metrics and headers), or
/// records the principal and calls the handler.
pub(crate) async fn check(
    access: Access,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, Error> {
    let verdict = match req.app_data::<web::Data<ApiState>>() {
        Some(state) => authenticate(access, req.request(), state),
        None => Err(ApiError::Internal(anyhow::anyhow!(
            "ApiState is not registered"
        ))),
    };
    match verdict {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(e) => {
            let res = e.error_response();
            Ok(req.into_response(res).map_into_right_body())
        }
    }
}

/// The principal the route's access check authenticated; `Anonymous` on
/// public routes.
impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Principal, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(req
            .extensions()
            .get::<Principal>()
            .copied()
            .unwrap_or(Principal::Anonymous)))
    }
}
