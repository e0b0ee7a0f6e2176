//! Counts and times every request for `/metrics` and the admin overview's
//! live figures (`telemetry`).

use crate::api::telemetry::metrics::Metrics;
use crate::catalog;
use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::ServiceRequest;
use actix_web::dev::ServiceResponse;
use actix_web::middleware::Next;
use actix_web::web;
use std::future::Future;
use std::time::Instant;

/// Counts and times every request; outermost, so it sees final statuses.
pub(crate) async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let start = Instant::now();
    let route = crate::api::routes::label(req.path());
    // The overview's figures are the shop's API traffic: not probes,
    // metrics scrapes, docs or the admin pages' own polling.
    let api = req.path().starts_with("/api/");
    let method = req.method().as_str().to_string();
    let mut lookups = 0u64;
    let mut inner = std::pin::pin!(next.call(req));
    let res = std::future::poll_fn(|cx| {
        let before = catalog::lookups_on_this_thread();
        let polled = inner.as_mut().poll(cx);
        lookups += catalog::lookups_on_this_thread() - before;
        polled
    })
    .await;
    if let Some(m) = metrics {
        let status = match &res {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        let elapsed = start.elapsed();
        if api {
            m.live.observe(status, elapsed, lookups);
        }
        m.observe(route, method, status, elapsed.as_secs_f64(), lookups);
    }
    res
}
