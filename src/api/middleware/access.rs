//! The access check in front of every non-public route: authenticates the
//! caller for the route's [`Access`] and checks its role, before any
//! extractor reads the body (see `extract::principal`).

use crate::api::error::ApiError;
use crate::api::extract::principal::authenticate;
use crate::api::route::Access;
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
