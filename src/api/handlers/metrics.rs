//! `GET /metrics` in the Prometheus text format.

use crate::api::telemetry::metrics::Metrics;
use actix_web::HttpResponse;
use actix_web::http::header;
use actix_web::web;

/// `GET /metrics`.
pub(crate) async fn metrics(m: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .body(m.render())
}
