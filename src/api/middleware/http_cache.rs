//! HTTP caching headers for the public catalogue reads: a weak `ETag` over
//! the response body (weak because the body may be sent compressed), `304 Not
//! Modified` without a body when `If-None-Match` names it, and `Cache-Control`
//! per cache class of the route table ([`HttpCache`]): `s-maxage` lets shared
//! caches (CDNs) keep a copy as long as the class's TTL, the same TTL shopd's
//! own response cache keeps it (`config::cache`), `stale-while-revalidate`
//! lets them serve it while refetching; browsers revalidate with the ETag,
//! so they see a write at once.
//!
//! Only successful `GET`/`HEAD` responses are touched; admin and probe routes
//! are marked `no-store`. A `304` keeps the headers the `200` would have had
//! (rate-limit headers among them), less those describing the body.

use crate::api::dto::etag;
use crate::config::cache::CacheClass;
use crate::config::cache::Ttls;
use actix_web::Error;
use actix_web::HttpResponse;
use actix_web::body::BoxBody;
use actix_web::body::MessageBody;
use actix_web::body::to_bytes;
use actix_web::dev::ServiceRequest;
use actix_web::dev::ServiceResponse;
use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;

/// The `Cache-Control` of each cache class, from the TTLs the response
/// cache uses too (`config::cache`: one number decides both).
#[derive(Clone)]
pub struct HttpCache {
    detail: HeaderValue,
    list: HeaderValue,
    taxonomy: HeaderValue,
    no_store: HeaderValue,
}

impl HttpCache {
    pub fn new(ttls: &Ttls) -> HttpCache {
        let value = |class| {
            HeaderValue::from_str(&ttls.cache_control(class))
                .unwrap_or(HeaderValue::from_static("no-store"))
        };
        HttpCache {
            detail: value(CacheClass::Detail),
            list: value(CacheClass::List),
            taxonomy: value(CacheClass::Taxonomy),
            no_store: HeaderValue::from_static("no-store"),
        }
    }

    fn control(&self, class: CacheClass) -> HeaderValue {
        match class {
            CacheClass::Detail => self.detail.clone(),
            CacheClass::List => self.list.clone(),
            CacheClass::Taxonomy => self.taxonomy.clone(),
            CacheClass::NoStore => self.no_store.clone(),
        }
    }

    /// The caching headers of a response (see the module docs).
    pub async fn middleware(
        self,
        req: ServiceRequest,
        next: Next<impl MessageBody + 'static>,
    ) -> Result<ServiceResponse<BoxBody>, Error> {
        let class = crate::api::routes::cache_class(req.path());
        let control = self.control(class);
        headers(class, control, req, next).await
    }
}

pub(crate) use crate::api::dto::if_none_match_names as matches;

pub(crate) async fn headers(
    class: CacheClass,
    control: HeaderValue,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let cacheable = matches!(*req.method(), Method::GET | Method::HEAD);
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let res = next.call(req).await?.map_into_boxed_body();
    if !cacheable || res.status() != StatusCode::OK {
        return Ok(res);
    }
    if class == CacheClass::NoStore {
        // Outside the route table (the admin pages' assets), a handler's own
        // policy stands.
        let mut res = res;
        if !res.headers().contains_key(header::CACHE_CONTROL) {
            res.headers_mut().insert(header::CACHE_CONTROL, control);
        }
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    // A body from the response cache comes tagged ([`cached`]); others are
    // read and hashed here.
    let (tag, body) = match head.headers().get(header::ETAG).cloned() {
        Some(tag) => (tag, body),
        None => {
            let bytes = to_bytes(body).await.map_err(Error::from)?;
            let tag = HeaderValue::from_str(&etag(&bytes))
                .map_err(actix_web::error::ErrorInternalServerError)?;
            (tag, BoxBody::new(bytes))
        }
    };
    let tag_value = tag.clone();
    let tag = tag.to_str().unwrap_or_default();
    if if_none_match.is_some_and(|v| matches(&v, tag)) {
        let mut not_modified = HttpResponse::NotModified().finish();
        let headers = not_modified.headers_mut();
        for (name, value) in head.headers().iter() {
            if !matches!(
                *name,
                header::CONTENT_TYPE | header::CONTENT_LENGTH | header::CONTENT_ENCODING
            ) {
                headers.append(name.clone(), value.clone());
            }
        }
        headers.insert(header::ETAG, tag_value);
        headers.insert(header::CACHE_CONTROL, control);
        return Ok(ServiceResponse::new(req, not_modified));
    }
    head.headers_mut().insert(header::ETAG, tag_value);
    head.headers_mut().insert(header::CACHE_CONTROL, control);
    Ok(ServiceResponse::new(req, head.set_body(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_routes() {
        use crate::api::routes::cache_class;
        assert_eq!(cache_class("/api/v1/products"), CacheClass::List);
        assert_eq!(cache_class("/api/v1/search"), CacheClass::List);
        assert_eq!(cache_class("/api/v1/products/p1"), CacheClass::Detail);
        assert_eq!(
            cache_class("/api/v1/products/p1/reviews"),
            CacheClass::Detail
        );
        assert_eq!(cache_class("/api/v1/categories/c1"), CacheClass::Taxonomy);
        assert_eq!(cache_class("/api/v1/search/analytics"), CacheClass::NoStore);
        assert_eq!(cache_class("/ready"), CacheClass::NoStore);
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let t = etag(b"{}");
        assert!(matches(&t, &t));
        assert!(matches(&t.replace("W/", ""), &t));
        assert!(matches(&format!("\"x\", {t}"), &t));
        assert!(matches("*", &t));
        assert!(!matches("\"x\"", &t));
        assert_ne!(etag(b"{}"), etag(b"{ }"));
    }
}
