//! Compression only for bodies over 1 KiB: smaller ones gain a few bytes at
//! most and cost a compressor per response.
//!
//! actix's `Compress` leaves a response alone when it already has a
//! `Content-Encoding`, so [`mark_small`] (inside `Compress`) marks small
//! bodies `identity`, and [`unmark`] (outside it) removes the marker again:
//! `identity` is not a content coding to send.

use actix_web::Error;
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

/// Bodies shorter than this are sent as they are.
pub const MIN_COMPRESS_BYTES: u64 = 1024;

pub async fn mark_small(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    if let BodySize::Sized(n) = res.response().body().size()
        && n < MIN_COMPRESS_BYTES
        && !res.headers().contains_key(header::CONTENT_ENCODING)
    {
        res.headers_mut().insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
    Ok(res)
}

pub async fn unmark(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    if res
        .headers()
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v == "identity")
    {
        res.headers_mut().remove(header::CONTENT_ENCODING);
    }
    Ok(res)
}
