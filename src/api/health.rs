//! Liveness and readiness probes.

use crate::catalog::Catalog;
use crate::catalog::SearchStatus as Status;
use actix_web::{HttpResponse, web};
use serde_json::json;

/// `GET /health`: the process is up and serving HTTP.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /ready`: storage answers reads and search can answer queries (a
/// rebuild that still serves the previous index counts as ready, and says
/// so). 503 with the reasons otherwise.
pub async fn ready(catalog: web::Data<Catalog>) -> HttpResponse {
    let (storage_ok, storage) = match catalog.check_ready() {
        Ok(()) => (true, "ok".to_string()),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "storage readiness check failed");
            (false, e.to_string())
        }
    };
    let (search_ok, search) = match catalog.search_index().map(|i| i.status()) {
        None => (true, "disabled".to_string()),
        Some(Status::Ready) => (true, "ok".to_string()),
        Some(Status::Rebuilding {
            serving_previous: true,
        }) => (true, "rebuilding (serving the previous index)".to_string()),
        Some(Status::Rebuilding {
            serving_previous: false,
        }) => (false, "rebuilding".to_string()),
        Some(Status::Unavailable(e)) => (false, format!("unavailable: {e}")),
    };
    let body = json!({
        "status": if storage_ok && search_ok { "ready" } else { "unavailable" },
        "checks": {"storage": storage, "search": search},
    });
    if storage_ok && search_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
