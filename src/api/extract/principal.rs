//! Who is calling, and may they: the [`Principal`] a request authenticates
//! as, and whether its role may call a route's [`Access`] (the access layer,
//! `middleware::access`, asks before any extractor reads the body).
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

pub(crate) use crate::accounts::Principal;
use crate::api::error::ApiError;
use crate::api::openapi::describe::Describe;
use crate::api::route::Access;
use crate::api::state::ApiState;
use crate::api::state::HttpSettings;
use crate::domain::account::Role;
use actix_web::FromRequest;
use actix_web::HttpMessage;
use actix_web::HttpRequest;
use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use std::future::Ready;
use std::future::ready;

/// The header API keys come in.
pub(crate) const API_KEY_HEADER: &str = "x-api-key";

impl Principal {
    /// A stable key for the caller, for the per-caller rate limits
    /// (`write`, `checkout`; see [`super::rate_limit`]): the same for every
    /// request of one account, API key or token, different between callers,
    /// and no secret (it is held in memory as a map key). `None` for a caller
    /// without one, who is limited by client IP instead.
    pub(crate) fn rate_subject(&self) -> Option<String> {
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
pub(crate) fn authenticate(
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
    // An address that keeps presenting wrong credentials is refused for a
    // while, right ones included (`--rate-limit-credentials`).
    state.limits.credential_gate(req)?;
    let checked = if access == Access::Replication {
        replication_token(req, state)
    } else {
        credentials(req, state)
    };
    let principal = checked.inspect_err(|e| {
        if let Some(kind) = guessed(access, req, e) {
            state.limits.credential_failed(req, kind);
        }
    })?;
    authorize(access, &principal)?;
    Ok(principal)
}

/// What kind of credential `e` refused, when it is one a guesser could
/// have sent: a wrong token or key, not a missing one or an access token
/// that merely expired.
fn guessed(access: Access, req: &HttpRequest, e: &ApiError) -> Option<&'static str> {
    match e {
        ApiError::Unauthenticated { code, .. } if *code != "token_expired" => {
            Some(if access == Access::Replication {
                "replication_token"
            } else if req.headers().contains_key(API_KEY_HEADER) {
                "api_key"
            } else {
                "bearer_token"
            })
        }
        _ => None,
    }
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
pub(crate) fn authorize(access: Access, principal: &Principal) -> Result<(), ApiError> {
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

impl Describe for Principal {}

/// The signed-in account of an `Access::Account` route: its id and the
/// session its access token belongs to (403 for any other caller, which
/// the access layer has already refused).
pub(crate) struct Me {
    pub id: crate::domain::Id,
    pub session: crate::domain::Id,
}

impl FromRequest for Me {
    type Error = ApiError;
    type Future = Ready<Result<Me, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let me = match req.extensions().get::<Principal>() {
            Some(Principal::Account { id, session, .. }) => Ok(Me {
                id: id.clone(),
                session: session.clone(),
            }),
            _ => Err(ApiError::Forbidden {
                code: "forbidden",
                message: "this needs a signed-in account's access token".into(),
            }),
        };
        ready(me)
    }
}

impl Describe for Me {}

/// The 401 message when a protected route gets no credentials (shopd's
/// and the baseline's, so the differential test sees one API).
pub(crate) const MISSING_CREDENTIALS: &str =
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
