//! Liveness and readiness probes.

use crate::catalog::Catalog;
use actix_web::{HttpResponse, web};
use serde_json::json;

/// `GET /health`: the process is up and serving HTTP.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /ready`: storage answers reads. 503 with the reason otherwise.
pub async fn ready(catalog: web::Data<Catalog>) -> HttpResponse {
    match catalog.check_ready() {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ready", "checks": {"storage": "ok"}})),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "unavailable", "checks": {"storage": e.to_string()}}))
        }
    }
}
