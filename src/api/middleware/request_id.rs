//! Request ids and request logging.
//!
//! Every response carries `X-Request-Id`: the client's (when it is 1–128
//! visible ASCII characters) or a fresh random one. The request runs inside a
//! tracing span holding the id, so every log line written for it names it.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::ServiceRequest;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::HeaderName;
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;
use rand::Rng;
use std::time::Instant;
use tracing::Instrument;

pub(crate) const HEADER: &str = "x-request-id";

fn acceptable(v: &HeaderValue) -> Option<&str> {
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())).then_some(s)
}

fn generate() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(acceptable)
        .map_or_else(generate, str::to_string);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
    );
    let start = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HeaderName::from_static(HEADER), v);
    }
    span.in_scope(|| {
        tracing::info!(
            status = res.status().as_u16(),
            micros = start.elapsed().as_micros() as u64,
            "request finished"
        )
    });
    Ok(res)
}
