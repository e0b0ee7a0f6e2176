//! The form a client takes cached bodies in.

use crate::api::error::ApiError;
use crate::api::middleware::compression::accepts_gzip;
use crate::api::openapi::describe::Describe;
use crate::cache::Wanted;
use actix_web::FromRequest;
use actix_web::HttpRequest;
use actix_web::dev::Payload;
use std::future::Ready;
use std::future::ready;

/// The form the client takes cached bodies in: gzip when its
/// `Accept-Encoding` allows it ([`accepts_gzip`]), else plain.
pub(crate) struct Wants(pub Wanted);

impl FromRequest for Wants {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Wants(if accepts_gzip(req) {
            Wanted::Gzip
        } else {
            Wanted::Plain
        })))
    }
}

/// `Accept-Encoding`: standard content negotiation, not an API parameter.
impl Describe for Wants {}
