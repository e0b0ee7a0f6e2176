//! Product images on the wire: the record an upload answers with
//! ([`MediaView`]), the alt-text patch ([`MediaPatch`]), and a variant's
//! URL read and answered ([`variant_request`], [`variant_answer`]: shopd's
//! handler and the Postgres-design baseline's).

use crate::api::dto::input;
use crate::api::error::ApiError;
use crate::domain::Timestamp;
use crate::domain::media::{Media, MediaId, SIZES, VARIANT_VERSION, Variant, VariantRequest};
use crate::media::Served;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An uploaded image.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaView {
    /// `med_` and 32 hex digits of the bytes' SHA-256; put it in a
    /// product's `images`.
    pub id: String,
    /// The original's format, read from its bytes: `jpeg`, `png`, `webp`
    /// or `gif`.
    pub format: &'static str,
    /// Upright (after the EXIF orientation).
    pub width: u32,
    pub height: u32,
    /// The original's size.
    pub bytes: u64,
    /// Hex SHA-256 of the original.
    pub sha256: String,
    pub alt: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// The largest variant, negotiated on `Accept`.
    pub url: String,
    /// Every size, negotiated on `Accept`.
    pub srcset: String,
    /// Every variant and whether it is made yet (until it is, its URL
    /// answers with the best one that is).
    pub variants: Vec<VariantView>,
}

/// One size in one encoding.
#[derive(Serialize, ToSchema)]
pub struct VariantView {
    /// The longer side it is made for (the image's own, when smaller).
    pub size: u32,
    pub width: u32,
    pub height: u32,
    /// `image/avif`, `image/webp` or `image/jpeg`.
    #[serde(rename = "type")]
    pub mime: &'static str,
    pub url: String,
    pub ready: bool,
}

impl MediaView {
    pub fn of(m: &Media) -> MediaView {
        MediaView {
            id: m.id.to_string(),
            format: m.format.as_str(),
            width: m.width,
            height: m.height,
            bytes: m.bytes,
            sha256: m.sha256.clone(),
            alt: m.alt.clone(),
            created_at: m.created_at,
            url: m.url(SIZES.len() - 1, None),
            srcset: m.srcset(None),
            variants: Variant::every()
                .map(|v| {
                    let (width, height) = m.variant_dims(v.size);
                    VariantView {
                        size: SIZES[v.size],
                        width,
                        height,
                        mime: v.encoding.mime(),
                        url: m.url(v.size, Some(v.encoding)),
                        ready: m.has(v),
                    }
                })
                .collect(),
        }
    }
}

/// `PATCH /media/{id}`: new alt text. Deserialized by nobody: the derive
/// gives the schema serde's attributes; `domain::media::parse_alt_patch`
/// reads the body.
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"alt": "Brass desk lamp, lit, on an oak desk"})))]
#[serde(deny_unknown_fields)]
pub(crate) struct MediaPatch {
    /// What the image shows, for screen readers and search engines; empty
    /// for a decorative image.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    alt: String,
}

input!(MediaPatch, String, crate::domain::media::parse_alt_patch);

/// A year, as long as caches keep anything: a variant's URL and ETag name
/// bytes that never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// A stand-in for a variant not made yet: a minute, then ask again.
const STAND_IN: &str = "public, max-age=60";

/// `/media/{id}/{file}`'s parts: the image and the variant asked for (a
/// malformed id, size or extension names nothing: 404).
pub fn variant_request(id: &str, file: &str) -> Result<(MediaId, VariantRequest), ApiError> {
    let id = MediaId::parse(id).map_err(|_| ApiError::NotFound(format!("no image {id}")))?;
    let want = VariantRequest::parse(file)
        .map_err(|e| ApiError::NotFound(format!("no such variant '{file}': {e}")))?;
    Ok((id, want))
}

/// The answer to `req` for a variant: its bytes (or 304 when
/// `If-None-Match` names it), a strong `ETag` of the variant served,
/// immutable caching once it is the URL's final answer, `Vary: Accept`
/// on negotiated URLs, `nosniff`.
pub fn variant_answer(
    req: &HttpRequest,
    id: &MediaId,
    want: VariantRequest,
    served: Served,
) -> Result<HttpResponse, ApiError> {
    let v = served.variant;
    let tag = format!(
        "\"{}-{}-{}-v{VARIANT_VERSION}\"",
        id.as_str(),
        SIZES[v.size],
        v.encoding.ext()
    );
    let control = if served.is_final { IMMUTABLE } else { STAND_IN };
    let mut res = if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| super::if_none_match_names(v, &tag))
    {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok()
            .content_type(v.encoding.mime())
            .body(served.bytes)
    };
    let h = res.headers_mut();
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&tag).map_err(|e| ApiError::Internal(e.into()))?,
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(control));
    if want.encoding.is_none() {
        h.insert(header::VARY, HeaderValue::from_static("Accept"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}
