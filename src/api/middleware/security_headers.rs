//! Headers every response carries, whatever answered it (handlers, errors,
//! 404s, 405s, CORS preflights): `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY` and a
//! `Content-Security-Policy` with `frame-ancestors 'none'`: for JSON and
//! other data, `default-src 'none'` (nothing in an API answer should ever
//! load or run); for HTML pages (the Swagger UI at `/docs/`), [`HTML_CSP`].
//! `Strict-Transport-Security` is added only when configured
//! (`--hsts-max-age`), since it is a promise that the host serves HTTPS.
//!
//! A header a handler set itself is left alone. This module owns these
//! headers and nothing else; CORS is [`super::cors`]'s.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::ServiceRequest;
use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::http::header::HeaderMap;
use actix_web::http::header::HeaderName;
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;

/// The policy of HTML pages. The Swagger UI page loads its scripts, styles
/// and icons from `/docs/` and has no inline script, so scripts are
/// same-origin only; its components set `style` attributes and its
/// stylesheet embeds `data:` images, hence `'unsafe-inline'` for styles
/// (no script runs from a style) and `data:` for images. Requests ("Try it
/// out") go to this origin only.
pub const HTML_CSP: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The policy of everything else (JSON, text, scripts and styles: a policy
/// on a subresource is ignored by browsers, and protects it if it is ever
/// opened as a page).
pub const DATA_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The headers one server adds, from its configuration.
#[derive(Debug, Clone)]
pub(crate) struct SecurityHeaders {
    hsts: Option<HeaderValue>,
}

impl SecurityHeaders {
    /// `hsts_max_age_secs`: send `Strict-Transport-Security` with this
    /// max-age (and `includeSubDomains`); `None`: do not.
    pub(crate) fn new(hsts_max_age_secs: Option<u64>) -> SecurityHeaders {
        SecurityHeaders {
            hsts: hsts_max_age_secs.map(|secs| {
                // Digits and ASCII only: always a valid header value.
                HeaderValue::from_str(&format!("max-age={secs}; includeSubDomains"))
                    .expect("an ASCII header value")
            }),
        }
    }

    fn apply(&self, headers: &mut HeaderMap) {
        let html = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
        let mut set = |name: HeaderName, value: HeaderValue| {
            if !headers.contains_key(&name) {
                headers.insert(name, value);
            }
        };
        set(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        set(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        set(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        set(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(if html { HTML_CSP } else { DATA_CSP }),
        );
        if let Some(hsts) = &self.hsts {
            set(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
    }

    /// The middleware: adds the headers to whatever the inner services
    /// answered. (Handler and extractor errors arrive here as responses;
    /// only a failing middleware could pass an `Err` through, and the
    /// request cannot be kept to answer for it: actix's router needs it
    /// unshared.)
    pub(crate) async fn middleware(
        self,
        req: ServiceRequest,
        next: Next<impl MessageBody + 'static>,
    ) -> Result<ServiceResponse<impl MessageBody + 'static>, Error> {
        let mut res = next.call(req).await?;
        self.apply(res.headers_mut());
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(content_type: Option<&'static str>, hsts: Option<u64>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = content_type {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        SecurityHeaders::new(hsts).apply(&mut h);
        h
    }

    #[test]
    fn html_gets_the_page_policy_and_everything_else_the_data_policy() {
        let page = applied(Some("text/html; charset=utf-8"), None);
        assert_eq!(page.get(header::CONTENT_SECURITY_POLICY).unwrap(), HTML_CSP);
        for ct in [Some("application/json"), Some("text/plain"), None] {
            let h = applied(ct, None);
            assert_eq!(
                h.get(header::CONTENT_SECURITY_POLICY).unwrap(),
                DATA_CSP,
                "{ct:?}"
            );
            assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
            assert_eq!(h.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
            assert_eq!(h.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
            assert!(!h.contains_key(header::STRICT_TRANSPORT_SECURITY));
        }
        assert!(
            HTML_CSP.contains("frame-ancestors 'none'")
                && DATA_CSP.contains("frame-ancestors 'none'")
        );
    }

    #[test]
    fn hsts_only_when_configured_and_handler_headers_win() {
        let h = applied(None, Some(31_536_000));
        assert_eq!(
            h.get(header::STRICT_TRANSPORT_SECURITY).unwrap(),
            "max-age=31536000; includeSubDomains"
        );
        let mut own = HeaderMap::new();
        own.insert(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("SAMEORIGIN"),
        );
        SecurityHeaders::new(None).apply(&mut own);
        assert_eq!(own.get(header::X_FRAME_OPTIONS).unwrap(), "SAMEORIGIN");
    }
}
