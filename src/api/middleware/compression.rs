//! Compression only for bodies over 1 KiB (smaller ones gain a few bytes at
//! most and cost a compressor per response), and never for images.
//!
//! actix's `Compress` leaves a response alone when it already has a
//! `Content-Encoding`, so [`mark_small`] (inside `Compress`) marks small
//! bodies `identity`, and [`unmark`] (outside it) removes the marker again:
//! `identity` is not a content coding to send.
//!
//! Bodies from the response cache are stored gzipped already and come with
//! their `Content-Encoding` when the client accepts gzip ([`accepts_gzip`]),
//! so `Compress` passes them through.

use actix_web::Error;
use actix_web::HttpRequest;
use actix_web::body::BodySize;
use actix_web::body::MessageBody;
use actix_web::dev::ServiceRequest;
use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;

/// Bodies shorter than this are sent as they are (the cache stores them so).
pub(crate) const MIN_COMPRESS_BYTES: u64 = crate::cache::gzip::MIN_BYTES as u64;

/// Whether the request's `Accept-Encoding` allows gzip (RFC 9110 §12.5.3):
/// named with a nonzero weight, or not named and `*` has one. No header
/// means any coding is acceptable, but a client that sends none is usually
/// a script, so it gets the plain body.
pub(crate) fn accepts_gzip(req: &HttpRequest) -> bool {
    let mut gzip = None;
    let mut any = None;
    for value in req.headers().get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let weight = parts
                .find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    k.trim().eq_ignore_ascii_case("q").then(|| v.trim())
                })
                .map_or(Some(1.0), |q| q.parse::<f32>().ok());
            // An unreadable weight counts as a refusal.
            let accepted = weight.is_some_and(|q| q > 0.0);
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(gzip.unwrap_or(false) || accepted);
            } else if coding == "*" {
                any = Some(accepted);
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

pub async fn mark_small(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    let small =
        matches!(res.response().body().size(), BodySize::Sized(n) if n < MIN_COMPRESS_BYTES);
    // Images (WebP, AVIF, JPEG) are compressed already: gzip would cost a
    // compressor per response to win nothing.
    let image = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"image/"));
    if (small || image) && !res.headers().contains_key(header::CONTENT_ENCODING) {
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

#[cfg(test)]
mod tests {
    use super::accepts_gzip;
    use actix_web::test::TestRequest;

    fn with(values: &[&str]) -> bool {
        let mut req = TestRequest::default();
        for v in values {
            req = req.append_header(("accept-encoding", *v));
        }
        accepts_gzip(&req.to_http_request())
    }

    #[test]
    fn gzip_is_accepted_when_named_or_starred_with_a_nonzero_weight() {
        assert!(with(&["gzip, deflate, br, zstd"]));
        assert!(with(&["br;q=1.0, GZIP;q=0.5"]));
        assert!(with(&["x-gzip"]));
        assert!(with(&["*"]));
        assert!(with(&["br", "gzip"]));
        assert!(!with(&[]));
        assert!(!with(&["identity"]));
        assert!(!with(&["br, deflate"]));
        assert!(!with(&["gzip;q=0"]));
        assert!(!with(&["gzip;q=0.000, *"]), "named beats the star");
        assert!(!with(&["*;q=0"]));
        assert!(!with(&["gzip;q=high"]));
    }
}
