//! `GET /metrics` in the Prometheus text format; behind a bearer token
//! when `--metrics-token` is set (compared in constant time).

use crate::api::error::ApiError;
use crate::api::state::ApiState;
use crate::api::telemetry::metrics::Metrics;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// `GET /metrics`.
pub(crate) async fn metrics(
    req: HttpRequest,
    m: web::Data<Metrics>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = &m.token {
        state.limits.credential_gate(&req)?;
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if !presented.is_some_and(|p| token.matches(p)) {
            if presented.is_some() {
                state.limits.credential_failed(&req, "metrics_token");
            }
            return Err(ApiError::Unauthorized(
                "/metrics needs 'Authorization: Bearer <the --metrics-token>'".into(),
            ));
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .body(m.render()))
}
