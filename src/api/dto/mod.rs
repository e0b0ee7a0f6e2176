//! What goes over the wire, by area: the request bodies as the contract
//! describes them (each names the domain parser that reads it) and the
//! views answers render, and the one envelope every answer shares:
//! `{"data": …}` ([`data`], [`json`], [`created`], [`cached`]).
//!
//! The admin pages, the OpenAPI document and the Postgres-design baseline
//! import these; handlers never define their own shapes. A body's schema
//! states exactly what its parser accepts ([`patterns`] holds the regular
//! expressions), so data that follows the document is never a 422.

use crate::cache::Served;
use crate::cache::Wanted;
use crate::catalog::Created;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use serde::Serialize;

pub(crate) mod accounts;
pub(crate) mod catalog;
pub(crate) mod discounts;
pub(crate) mod jobs;
pub mod media;
pub mod orders;
pub(crate) mod patterns;
pub(crate) mod probes;
pub(crate) mod profile;

/// Declares a body type's [`Input`](crate::api::extract::body::Input):
/// the domain parser its JSON object goes through.
macro_rules! input {
    ($schema:ident, $parsed:ty, $parse:expr) => {
        impl $crate::api::extract::body::Input for $schema {
            type Parsed = Result<$parsed, $crate::domain::FieldErrors>;
            fn parse(body: &serde_json::Map<String, serde_json::Value>) -> Self::Parsed {
                $parse(body)
            }
        }
    };
}
pub(crate) use input;

#[derive(Serialize)]
pub(crate) struct Data<T> {
    pub data: T,
}

pub(crate) fn data<T: Serialize>(status: StatusCode, body: T) -> HttpResponse {
    HttpResponse::build(status).json(Data { data: body })
}

pub(crate) fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

/// `200 OK` with a rendered JSON body (owned or shared from the cache).
pub fn json(body: impl actix_web::body::MessageBody + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(body)
}

/// `201 Created` with `Location`.
pub fn created(location: String, c: Created) -> HttpResponse {
    HttpResponse::Created()
        .content_type(header::ContentType::json())
        .insert_header((header::LOCATION, location))
        .body(c.body)
}

/// Whether an `If-None-Match` value names `tag` (weak comparison, `*`).
pub(crate) fn if_none_match_names(if_none_match: &str, tag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let want = opaque(tag);
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || opaque(t) == want)
}

/// `W/"<xxh3 of the body>"`.
pub(crate) fn etag(body: &[u8]) -> String {
    etag_of(xxhash_rust::xxh3::xxh3_64(body))
}

/// The `ETag` of a body whose xxh3 is `hash`.
pub(crate) fn etag_of(hash: u64) -> String {
    format!("W/\"{hash:016x}\"")
}

/// `200 OK` with a body from the response cache: its stored gzip as it is
/// for a client that accepts gzip, else the plain body; tagged with the plain
/// body's hash either way, so [`middleware`] need not read it again.
pub(crate) fn cached(wanted: Wanted, served: &Served) -> HttpResponse {
    let (body, gzipped) = served.encoded(wanted == Wanted::Gzip);
    let mut res = HttpResponse::Ok();
    res.content_type(header::ContentType::json())
        .insert_header((header::ETAG, etag_of(served.hash)));
    if gzipped {
        res.insert_header((header::CONTENT_ENCODING, "gzip"))
            .insert_header((header::VARY, "accept-encoding"));
    }
    res.body(body)
}
