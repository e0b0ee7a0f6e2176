//! The overview: live charts of the last hour and the plans' tracker table
//! (`GET /admin`), fed by `GET /admin/live.json` from the in-process ring
//! buffers of [`crate::api::telemetry::live`].

use super::{AdminResult, Page, view};
use crate::api::telemetry::metrics::Metrics;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

fn since_of(req: &HttpRequest) -> i64 {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()
        .and_then(|q| q.into_iter().find(|(k, _)| k == "since"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// `GET /admin`.
pub(crate) async fn page(page: Page, metrics: web::Data<Metrics>) -> AdminResult {
    let overview = metrics.live.overview(page.services(), i64::MAX);
    let replication = &page.services().replication;
    let role = match replication.follower() {
        Some(f) => format!("follower of {}", f.leader),
        None if replication.serves_followers() => "leader".to_string(),
        None => "single node (replication off)".to_string(),
    };
    page.render(
        "overview.html",
        minijinja::context! {
            overview => view(&overview),
            replication => role,
            version => env!("CARGO_PKG_VERSION"),
        },
    )
}

/// `GET /admin/live.json?since=MS`: samples after `since`, the tracker
/// and the totals.
pub(crate) async fn live(
    page: Page,
    req: HttpRequest,
    metrics: web::Data<Metrics>,
) -> HttpResponse {
    let overview = metrics.live.overview(page.services(), since_of(&req));
    let mut res = HttpResponse::Ok().json(overview);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}
