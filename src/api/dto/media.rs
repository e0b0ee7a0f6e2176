//! Product images on the wire: the record an upload answers with
//! ([`MediaView`]) and the alt-text patch ([`MediaPatch`]).

use crate::api::dto::input;
use crate::domain::Timestamp;
use crate::domain::media::{Media, SIZES, Variant};
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
