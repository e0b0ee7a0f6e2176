//! Who is calling, and may they: the [`Principal`] a request authenticates
//! as, and the check of a route's [`Access`] that [`super::configure`] puts
//! in front of every non-public route (before any extractor reads the body).
//!
//! # Credentials, in order
//! 1. `X-API-Key: sk.<id>.<secret>`: an API key (staff or admin).
//! 2. `Authorization: Bearer <token>`: the bootstrap admin token
//!    (`SHOPD_ADMIN_TOKEN`, compared in constant time), else an access token
//!    (JWT) whose session is live.
//!
//! # Answers
//! 401 when credentials are missing or not valid; 403 when they are valid
//! but the role is not enough (or an `Account` route is called with a key).
//! Public routes read no credentials at all. This module decides *who* may
//! call; which routes need whom is the route table's business.

use super::error::ApiError;
use super::extract::MISSING_CREDENTIALS;
use super::routes::Access;
use super::state::ApiState;
use crate::domain::account::Role;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, ResponseError, web};
use std::future::{Ready, ready};

pub use crate::accounts::Principal;

/// The header API keys come in.
pub const API_KEY_HEADER: &str = "x-api-key";

impl Principal {
    /// A stable key for the caller, for the per-caller rate limits
    /// (`write`, `checkout`; see [`super::rate_limit`]): the same for every
    /// request of one account, API key or token, different between callers,
    /// and no secret (it is held in memory as a map key). `None` for a caller
    /// without one, who is limited by client IP instead.
    pub fn rate_subject(&self) -> Option<String> {
        match self {
            Principal::Anonymous => None,
            Principal::Account { id, .. } => Some(format!("account:{id}")),
            Principal::ApiKey { id, .. } => Some(format!("key:{id}")),
            Principal::AdminToken => Some("admin-token".into()),
        }
    }
}

/// Authenticates `req` for a route that needs `access`, then checks the
/// role.
pub fn authenticate(
    access: Access,
    req: &HttpRequest,
    state: &ApiState,
) -> Result<Principal, ApiError> {
    if access == Access::Public
        || (access == Access::Shopper
            && !req.headers().contains_key(API_KEY_HEADER)
            && !req.headers().contains_key(AUTHORIZATION))
    {
        return Ok(Principal::Anonymous);
    }
    if access == Access::Replication {
        return replication_token(req, state);
    }
    let principal = credentials(req, state)?;
    authorize(access, &principal)?;
    Ok(principal)
}

/// A follower's bearer token, compared in constant time; 404 when this
/// server serves no followers (replication off, or a follower itself).
fn replication_token(req: &HttpRequest, state: &ApiState) -> Result<Principal, ApiError> {
    let replication = &state.services.replication;
    if !replication.serves_followers() {
        return Err(ApiError::NotFound(format!(
            "no route for {} {} (replication is off: start the leader with --replication-token)",
            req.method(),
            req.path()
        )));
    }
    let bearer = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::Unauthorized(MISSING_CREDENTIALS.into()))?;
    if replication.token_matches(bearer) {
        Ok(Principal::Anonymous)
    } else {
        Err(invalid())
    }
}

fn credentials(req: &HttpRequest, state: &ApiState) -> Result<Principal, ApiError> {
    let accounts = &state.services.accounts;
    if let Some(key) = req.headers().get(API_KEY_HEADER) {
        let key = key.to_str().map_err(|_| invalid())?;
        return accounts
            .authenticate_key(key.trim())
            .map_err(ApiError::from);
    }
    let Some(bearer) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
    else {
        return Err(ApiError::Unauthorized(MISSING_CREDENTIALS.into()));
    };
    if let Some(admin) = &state.http.admin_token
        && admin.matches(bearer)
    {
        return Ok(Principal::AdminToken);
    }
    accounts.authenticate_access(bearer).map_err(ApiError::from)
}

fn invalid() -> ApiError {
    ApiError::Unauthenticated {
        code: "invalid_token",
        message: "the token or key is not valid".into(),
    }
}

/// Whether `principal` may call a route that needs `access` (403 if not).
pub fn authorize(access: Access, principal: &Principal) -> Result<(), ApiError> {
    let needed = match access {
        Access::Public => return Ok(()),
        Access::Signed => {
            return match principal {
                Principal::Anonymous => Err(ApiError::Unauthorized(MISSING_CREDENTIALS.into())),
                _ => Ok(()),
            };
        }
        Access::Shopper => {
            return match principal {
                Principal::Anonymous | Principal::Account { .. } => Ok(()),
                _ => Err(ApiError::Forbidden {
                    code: "forbidden",
                    message: "carts and checkout belong to guests and signed-in accounts, not keys"
                        .into(),
                }),
            };
        }
        Access::Account => {
            return match principal {
                Principal::Account { .. } => Ok(()),
                _ => Err(ApiError::Forbidden {
                    code: "forbidden",
                    message: "this needs a signed-in account's access token, not a key".into(),
                }),
            };
        }
        // Checked against the replication token, not a principal.
        Access::Replication => return Ok(()),
        Access::Staff => Role::Staff,
        Access::Admin => Role::Admin,
    };
    match principal.role() {
        Some(r) if r.at_least(needed) => Ok(()),
        _ => Err(ApiError::Forbidden {
            code: "forbidden",
            message: format!("this needs the {needed} role"),
        }),
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
            .cloned()
            .unwrap_or(Principal::Anonymous)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Id;

    #[test]
    fn roles_include_the_ones_below_and_keys_have_no_account() {
        let id = || Id::parse("x").unwrap();
        let customer = Principal::Account {
            id: id(),
            role: Role::Customer,
            session: id(),
        };
        let staff_key = Principal::ApiKey {
            id: id(),
            role: Role::Staff,
        };
        assert!(authorize(Access::Account, &customer).is_ok());
        assert!(authorize(Access::Staff, &customer).is_err());
        assert!(authorize(Access::Account, &staff_key).is_err());
        assert!(authorize(Access::Staff, &staff_key).is_ok());
        assert!(authorize(Access::Admin, &staff_key).is_err());
        assert!(authorize(Access::Admin, &Principal::AdminToken).is_ok());
        assert!(authorize(Access::Staff, &Principal::Anonymous).is_err());
        assert!(authorize(Access::Shopper, &Principal::Anonymous).is_ok());
        assert!(authorize(Access::Shopper, &customer).is_ok());
        assert!(authorize(Access::Shopper, &staff_key).is_err());
        assert!(authorize(Access::Signed, &staff_key).is_ok());
        assert!(authorize(Access::Signed, &customer).is_ok());
        assert!(authorize(Access::Signed, &Principal::AdminToken).is_ok());
        assert!(authorize(Access::Signed, &Principal::Anonymous).is_err());
    }
}
