//! `GET /bench/ceiling`: the load harness's upper bound.

use crate::api::dto::json;
use crate::api::error::ApiError;
use crate::api::state::ApiState;
use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::web;

/// `GET /bench/ceiling`: a fixed, pre-rendered body the size of a product
/// detail, through the same middleware as every route; the load harness's
/// upper bound. 404 unless the server was started with `--bench-ceiling`.
pub(crate) async fn ceiling(
    req: HttpRequest,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    match &state.http.ceiling {
        Some(body) => Ok(json(body.clone())),
        None => Err(ApiError::no_route(req.method(), req.path())),
    }
}
