//! Product images ("media"): what an uploaded image is, the variants a
//! storefront is served, and which of them an `Accept` header asks for.
//!
//! # Invariants
//! - A [`MediaId`] is `med_` and the first 32 hex digits of the SHA-256 of
//!   the uploaded bytes: identical bytes are one media, and the id says
//!   nothing the bytes do not.
//! - Variants are made for each of [`SIZES`] (the longer side, never larger
//!   than the original) in each [`Encoding`]; [`Media::made`] records which
//!   exist, one bit per (size, encoding). A variant is a pure function of
//!   the original and [`VARIANT_VERSION`], so its bytes never change under
//!   one URL.

use super::timestamp::Timestamp;
use std::fmt;

/// The longer side of each variant, in pixels: a list thumbnail (160; 2×
/// for an 80 px cell on a dense screen), a product card or a phone's
/// full-width image (480), and the product page's main image (1200; a
/// 600 px slot at 2×). Shopify's and Saleor's default thumbnail sets
/// bracket the same three uses. Never upscaled: a smaller original keeps
/// its own size.
pub const SIZES: [u32; 3] = [160, 480, 1200];

/// Bumped when the encoders' settings change: part of every `ETag`.
pub const VARIANT_VERSION: u32 = 1;

/// The prefix of media ids (and how a product's `images` entry names one).
pub const ID_PREFIX: &str = "med_";

/// Longest alt text, in characters.
pub const MAX_ALT: usize = 500;

/// Alt text: one line of at most [`MAX_ALT`] characters, trimmed; empty
/// means a decorative image (`alt=""`).
pub fn alt_text(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.chars().count() > MAX_ALT {
        return Err(format!("must be at most {MAX_ALT} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(s.to_string())
}

/// `PATCH /media/{id}`: `{"alt": "…"}`.
pub fn parse_alt_patch(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<String, super::FieldErrors> {
    super::fields::read_object(map, |f| {
        f.get("alt", super::fields::Presence::Required, |v| {
            alt_text(v.as_str().ok_or("must be a string")?)
        })
    })
}

/// A media id: `med_` + 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct MediaId(String);

impl MediaId {
    /// The id of bytes whose SHA-256 is `sha256`.
    pub fn of_digest(sha256: &[u8; 32]) -> MediaId {
        let mut s = String::with_capacity(ID_PREFIX.len() + 32);
        s.push_str(ID_PREFIX);
        for b in &sha256[..16] {
            s.push_str(&format!("{b:02x}"));
        }
        MediaId(s)
    }

    pub fn parse(s: &str) -> Result<MediaId, String> {
        let hex = s
            .strip_prefix(ID_PREFIX)
            .ok_or_else(|| format!("must start with '{ID_PREFIX}'"))?;
        if hex.len() != 32
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(format!("must be '{ID_PREFIX}' and 32 lowercase hex digits"));
        }
        Ok(MediaId(s.to_string()))
    }

    /// The media an image reference names: a media id, or the path of one
    /// of its variants (`/media/{id}/…`, as product reads show them).
    pub fn referenced_by(image: &str) -> Option<MediaId> {
        let rest = image.strip_prefix("/media/").unwrap_or(image);
        let id = rest.split('/').next().unwrap_or(rest);
        MediaId::parse(id).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MediaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The format of an uploaded original, read from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Jpeg,
    Png,
    Webp,
    Gif,
}

impl SourceFormat {
    pub const ALL: [SourceFormat; 4] = [
        SourceFormat::Jpeg,
        SourceFormat::Png,
        SourceFormat::Webp,
        SourceFormat::Gif,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Jpeg => "jpeg",
            SourceFormat::Png => "png",
            SourceFormat::Webp => "webp",
            SourceFormat::Gif => "gif",
        }
    }

    pub fn from_code(code: u8) -> Option<SourceFormat> {
        SourceFormat::ALL.get(code as usize).copied()
    }

    pub fn code(self) -> u8 {
        self as u8
    }
}

/// How a variant is encoded, in the order content negotiation prefers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Avif,
    Webp,
    Jpeg,
}

impl Encoding {
    /// Best first.
    pub const PREFERRED: [Encoding; 3] = [Encoding::Avif, Encoding::Webp, Encoding::Jpeg];

    /// The file extension in explicit URLs (`480.webp`).
    pub fn ext(self) -> &'static str {
        match self {
            Encoding::Avif => "avif",
            Encoding::Webp => "webp",
            Encoding::Jpeg => "jpg",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Encoding::Avif => "image/avif",
            Encoding::Webp => "image/webp",
            Encoding::Jpeg => "image/jpeg",
        }
    }

    pub fn from_ext(ext: &str) -> Option<Encoding> {
        match ext {
            "avif" => Some(Encoding::Avif),
            "webp" => Some(Encoding::Webp),
            "jpg" | "jpeg" => Some(Encoding::Jpeg),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One variant: an index into [`SIZES`] and an encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Variant {
    pub size: usize,
    pub encoding: Encoding,
}

impl Variant {
    /// Its bit in [`Media::made`].
    pub fn bit(self) -> u16 {
        1 << (self.size * Encoding::PREFERRED.len() + self.encoding.index())
    }

    /// Every variant: each size in each encoding.
    pub fn every() -> impl Iterator<Item = Variant> {
        (0..SIZES.len()).flat_map(|size| {
            Encoding::PREFERRED
                .into_iter()
                .map(move |encoding| Variant { size, encoding })
        })
    }

    /// Its file name among the media's objects, e.g. `480.webp`.
    pub fn file_name(self) -> String {
        format!("{}.{}", SIZES[self.size], self.encoding.ext())
    }
}

/// A variant URL's last segment: `480` (negotiated) or `480.webp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantRequest {
    pub size: usize,
    pub encoding: Option<Encoding>,
}

impl VariantRequest {
    pub fn parse(segment: &str) -> Result<VariantRequest, String> {
        let (size, ext) = match segment.split_once('.') {
            Some((s, e)) => (s, Some(e)),
            None => (segment, None),
        };
        let sizes = || {
            SIZES
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let size = SIZES
            .iter()
            .position(|s| s.to_string() == size)
            .ok_or_else(|| format!("the size must be one of {}", sizes()))?;
        let encoding = match ext {
            None => None,
            Some(e) => Some(
                Encoding::from_ext(e)
                    .ok_or_else(|| "the extension must be avif, webp or jpg".to_string())?,
            ),
        };
        Ok(VariantRequest { size, encoding })
    }
}

/// The encodings an `Accept` header takes, each with its q-value (0 when
/// refused). A missing header or `*/*` takes every one; `image/*` too. An
/// encoding not named and not covered by a wildcard is refused — except
/// JPEG, which every client can show and is the last resort.
pub fn accepted(accept: Option<&str>) -> [f32; 3] {
    let Some(accept) = accept else {
        return [1.0; 3];
    };
    let mut q = [None::<f32>; 3];
    let mut wildcard: Option<f32> = None;
    for part in accept.split(',') {
        let mut fields = part.split(';');
        let mime = fields.next().unwrap_or("").trim().to_ascii_lowercase();
        let weight = fields
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim() == "q").then(|| v.trim().parse::<f32>().ok())?
            })
            .next()
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        match mime.as_str() {
            "*/*" | "image/*" => wildcard = Some(wildcard.map_or(weight, |w| w.max(weight))),
            m => {
                if let Some(e) = Encoding::PREFERRED.iter().find(|e| e.mime() == m) {
                    q[e.index()] = Some(weight);
                }
            }
        }
    }
    let mut out = [0.0; 3];
    for e in Encoding::PREFERRED {
        out[e.index()] = q[e.index()].or(wildcard).unwrap_or(0.0);
    }
    if q[Encoding::Jpeg.index()].is_none() && out[Encoding::Jpeg.index()] == 0.0 {
        out[Encoding::Jpeg.index()] = 0.001;
    }
    out
}

/// An uploaded image as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    pub id: MediaId,
    /// Lowercase hex of the whole SHA-256.
    pub sha256: String,
    pub format: SourceFormat,
    /// After the EXIF orientation is applied.
    pub width: u32,
    pub height: u32,
    /// The original's size.
    pub bytes: u64,
    pub alt: String,
    pub created_at: Timestamp,
    /// Which variants exist ([`Variant::bit`]).
    pub made: u16,
    /// When garbage collection first found no product using it.
    pub unused_since: Option<Timestamp>,
}

impl Media {
    pub fn has(&self, v: Variant) -> bool {
        self.made & v.bit() != 0
    }

    /// The pixel size of the variant of `SIZES[size]`: the longer side
    /// capped at the original's, the other in proportion (at least 1).
    pub fn variant_dims(&self, size: usize) -> (u32, u32) {
        variant_dims(self.width, self.height, SIZES[size])
    }

    /// The URL path of a variant: negotiated (`/media/{id}/480`) or of one
    /// encoding (`/media/{id}/480.webp`).
    pub fn url(&self, size: usize, encoding: Option<Encoding>) -> String {
        match encoding {
            None => format!("/media/{}/{}", self.id, SIZES[size]),
            Some(e) => format!("/media/{}/{}.{}", self.id, SIZES[size], e.ext()),
        }
    }

    /// A `srcset` of every distinct size (`url 160w, url 480w, …`; sizes
    /// that the original is too small for appear once, at its own width).
    pub fn srcset(&self, encoding: Option<Encoding>) -> String {
        let mut out = String::new();
        let mut last = 0;
        for size in 0..SIZES.len() {
            let (w, _) = self.variant_dims(size);
            if w == last {
                continue;
            }
            last = w;
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(&format!("{} {w}w", self.url(size, encoding)));
        }
        out
    }

    /// The variant to serve for `want` when the client takes `accepted`
    /// (see [`accepted`]), and whether it is the final answer for that URL
    /// (false when a better one is still to be made: the answer must not be
    /// cached as immutable). `None` when nothing exists yet.
    pub fn choose(&self, want: VariantRequest, accepted: [f32; 3]) -> Option<(Variant, bool)> {
        let encodings: Vec<Encoding> = match want.encoding {
            Some(e) => vec![e],
            None => {
                let mut es: Vec<Encoding> = Encoding::PREFERRED
                    .into_iter()
                    .filter(|e| accepted[e.index()] > 0.0)
                    .collect();
                // Highest q first; ties keep the preferred order.
                es.sort_by(|a, b| accepted[b.index()].total_cmp(&accepted[a.index()]));
                es
            }
        };
        let ideal = Variant {
            size: want.size,
            encoding: *encodings.first()?,
        };
        if self.has(ideal) {
            return Some((ideal, true));
        }
        // The same size in the next encoding the client takes, then the
        // nearest other sizes (larger first: never a blurry stand-in).
        let mut sizes: Vec<usize> = (0..SIZES.len()).collect();
        sizes.sort_by_key(|&s| (s.abs_diff(want.size), if s >= want.size { 0 } else { 1 }));
        for s in sizes {
            for &encoding in &encodings {
                let v = Variant { size: s, encoding };
                if self.has(v) {
                    return Some((v, false));
                }
            }
        }
        None
    }
}

/// The size of a variant whose longer side is `longest` (never upscaled).
pub fn variant_dims(width: u32, height: u32, longest: u32) -> (u32, u32) {
    let long = width.max(height).max(1);
    if long <= longest {
        return (width.max(1), height.max(1));
    }
    let scale =
        |x: u32| ((x as u64 * longest as u64 + long as u64 / 2) / long as u64).max(1) as u32;
    (scale(width), scale(height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_the_digest_and_references_name_them() {
        let id = MediaId::of_digest(&[0xab; 32]);
        assert_eq!(id.as_str(), format!("med_{}", "ab".repeat(16)));
        assert_eq!(MediaId::parse(id.as_str()), Ok(id.clone()));
        assert_eq!(MediaId::referenced_by(id.as_str()), Some(id.clone()));
        assert_eq!(
            MediaId::referenced_by(&format!("/media/{id}/480.webp")),
            Some(id.clone())
        );
        for bad in [
            "med_",
            "med_ABABABABABABABABABABABABABABABAB",
            "x_abababababababababababababababab",
            "https://cdn.example.com/a.jpg",
            "/media/a.jpg",
        ] {
            assert!(MediaId::referenced_by(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn variant_requests_name_a_size_and_maybe_an_encoding() {
        assert_eq!(
            VariantRequest::parse("480"),
            Ok(VariantRequest {
                size: 1,
                encoding: None
            })
        );
        assert_eq!(
            VariantRequest::parse("1200.avif").unwrap().encoding,
            Some(Encoding::Avif)
        );
        for bad in ["481", "480.png", "", ".webp", "480.", "original"] {
            assert!(VariantRequest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn accept_headers_rank_avif_then_webp_then_jpeg() {
        assert_eq!(accepted(None), [1.0; 3]);
        let chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
        assert_eq!(accepted(Some(chrome)), [1.0, 1.0, 1.0]);
        let old = accepted(Some("image/png,image/jpeg"));
        assert_eq!(old, [0.0, 0.0, 1.0]);
        let no_avif = accepted(Some("image/avif;q=0,image/webp,*/*"));
        assert_eq!(no_avif[0], 0.0);
        assert!(accepted(Some("text/html"))[2] > 0.0, "JPEG as last resort");
    }

    fn media(made: &[Variant]) -> Media {
        Media {
            id: MediaId::of_digest(&[1; 32]),
            sha256: "01".repeat(32),
            format: SourceFormat::Jpeg,
            width: 4000,
            height: 3000,
            bytes: 1,
            alt: String::new(),
            created_at: Timestamp::now(),
            made: made.iter().fold(0, |m, v| m | v.bit()),
            unused_since: None,
        }
    }

    #[test]
    fn the_best_variant_made_stands_in_until_the_ideal_one_exists() {
        let v = |size, encoding| Variant { size, encoding };
        let want = VariantRequest {
            size: 1,
            encoding: None,
        };
        let all = accepted(None);
        assert_eq!(media(&[]).choose(want, all), None);
        let m = media(&[v(0, Encoding::Webp), v(2, Encoding::Webp)]);
        assert_eq!(m.choose(want, all), Some((v(2, Encoding::Webp), false)));
        let m = media(&[v(1, Encoding::Webp), v(1, Encoding::Jpeg)]);
        assert_eq!(m.choose(want, all), Some((v(1, Encoding::Webp), false)));
        let jpeg_only = accepted(Some("image/jpeg"));
        assert_eq!(
            m.choose(want, jpeg_only),
            Some((v(1, Encoding::Jpeg), true))
        );
        let m = media(&[v(1, Encoding::Avif), v(1, Encoding::Webp)]);
        assert_eq!(m.choose(want, all), Some((v(1, Encoding::Avif), true)));
        let explicit = VariantRequest {
            size: 1,
            encoding: Some(Encoding::Webp),
        };
        assert_eq!(m.choose(explicit, all), Some((v(1, Encoding::Webp), true)));
    }

    #[test]
    fn srcsets_list_each_distinct_width_once() {
        let mut m = media(&[]);
        let id = m.id.clone();
        assert_eq!(
            m.srcset(None),
            format!("/media/{id}/160 160w, /media/{id}/480 480w, /media/{id}/1200 1200w")
        );
        m.width = 300;
        m.height = 200;
        assert_eq!(
            m.srcset(Some(Encoding::Webp)),
            format!("/media/{id}/160.webp 160w, /media/{id}/480.webp 300w")
        );
    }

    #[test]
    fn variants_keep_the_aspect_ratio_and_never_upscale() {
        assert_eq!(variant_dims(4000, 3000, 1200), (1200, 900));
        assert_eq!(variant_dims(3000, 4000, 160), (120, 160));
        assert_eq!(variant_dims(300, 200, 1200), (300, 200));
        assert_eq!(variant_dims(10_000, 1, 160), (160, 1));
    }
}
