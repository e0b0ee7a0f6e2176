//! Reading an upload safely and making its variants: pure functions over
//! bytes, run on a blocking thread under the media service's decode limit.
//!
//! # What an upload must pass, in order (each refusal costs microseconds
//! to milliseconds and stores nothing)
//! 1. Its format is read from the bytes (`image::guess_format`), never from
//!    a declared type: JPEG, PNG, WebP or GIF (its first frame). Anything
//!    else is [`CodecError::Unsupported`].
//! 2. No markup or archive inside ([`CodecError::Polyglot`]): an image that
//!    is also HTML, a script or a ZIP (a GIFAR) is refused, though shopd
//!    never serves the original (only its re-encoded variants).
//! 3. Width × height from the header, before any pixel is decoded, within
//!    the pixel limit ([`CodecError::TooManyPixels`]); the decoder's own
//!    allocation limit follows from it.
//! 4. A full decode: a truncated or damaged file fails here
//!    ([`CodecError::Damaged`]).
//!
//! # What every variant is
//! The EXIF orientation applied, resized (Lanczos3, SIMD) so that the
//! longer side is the variant's size (never upscaled), converted to sRGB
//! when the original carries another ICC profile, and re-encoded from
//! pixels: no EXIF, GPS, XMP, IPTC or ICC data survives. Alpha is kept in
//! WebP and AVIF; JPEG gets it composited over white.

use crate::domain::media::{Encoding, SIZES, SourceFormat, variant_dims};
use fast_image_resize as fr;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use std::io::Cursor;

/// WebP quality (libwebp's 0–100): 82 is where photographs stop showing
/// artefacts at product-page sizes (Squoosh's and Cloudinary's `q_auto:good`
/// land there).
const WEBP_QUALITY: f32 = 82.0;
/// AVIF quality (ravif's 0–100) at speed 8 (of 1 slow … 10 fast): about the
/// WebP's visual quality at roughly 20 % fewer bytes.
const AVIF_QUALITY: f32 = 62.0;
const AVIF_SPEED: u8 = 8;
/// JPEG quality for the fallback.
const JPEG_QUALITY: u8 = 82;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error(
        "the bytes are not a JPEG, PNG, WebP or GIF image{}",
        .0.as_deref().map(|f| format!(" (they look like {f}, which shopd does not read)")).unwrap_or_default()
    )]
    Unsupported(Option<String>),
    #[error("the image also holds {0}; upload the plain image")]
    Polyglot(&'static str),
    #[error("the image is {width} × {height} pixels, more than the limit of {limit} pixels")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("the image could not be decoded: {0}")]
    Damaged(String),
    #[error("encoding a variant failed: {0}")]
    Encode(String),
}

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub format: SourceFormat,
    /// As stored (before the orientation is applied).
    pub width: u32,
    pub height: u32,
}

/// A decoded original: upright pixels and the colour profile to convert
/// from (none: sRGB already).
pub struct Decoded {
    pub format: SourceFormat,
    pub image: DynamicImage,
    icc: Option<Vec<u8>>,
}

impl Decoded {
    pub fn width(&self) -> u32 {
        self.image.width()
    }
    pub fn height(&self) -> u32 {
        self.image.height()
    }
}

fn source_format(bytes: &[u8]) -> Result<SourceFormat, CodecError> {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Jpeg) => Ok(SourceFormat::Jpeg),
        Ok(ImageFormat::Png) => Ok(SourceFormat::Png),
        Ok(ImageFormat::WebP) => Ok(SourceFormat::Webp),
        Ok(ImageFormat::Gif) => Ok(SourceFormat::Gif),
        Ok(other) => Err(CodecError::Unsupported(Some(
            other
                .extensions_str()
                .first()
                .unwrap_or(&"?")
                .to_uppercase(),
        ))),
        Err(_) if is_avif(bytes) => Err(CodecError::Unsupported(Some("AVIF".into()))),
        Err(_) => Err(CodecError::Unsupported(None)),
    }
}

fn is_avif(bytes: &[u8]) -> bool {
    bytes.len() > 12 && &bytes[4..8] == b"ftyp" && matches!(&bytes[8..12], b"avif" | b"avis")
}

/// Markers of another format hidden in an image: markup a browser would
/// run if the bytes were ever served as HTML, and a ZIP's local header (a
/// JAR or Office file glued to the image).
const POLYGLOT_MARKERS: [(&[u8], &str); 6] = [
    (b"<script", "a script"),
    (b"<html", "an HTML document"),
    (b"<?php", "PHP code"),
    (b"<svg", "an SVG document"),
    (b"<!doctype", "an HTML document"),
    (b"PK\x03\x04", "a ZIP archive"),
];

fn polyglot(bytes: &[u8]) -> Option<&'static str> {
    // Case-insensitive for the markup: search the lowercase of each '<'
    // window; the ZIP header is exact.
    for (marker, what) in POLYGLOT_MARKERS {
        if marker[0] == b'<' {
            let mut from = 0;
            while let Some(i) = memchr::memchr(b'<', &bytes[from..]) {
                let at = from + i;
                let window = &bytes[at..bytes.len().min(at + marker.len())];
                if window.eq_ignore_ascii_case(marker) {
                    return Some(what);
                }
                from = at + 1;
            }
        } else if memchr::memmem::find(bytes, marker).is_some() {
            return Some(what);
        }
    }
    None
}

/// Why a file is cut short, for the formats whose decoders would fill a
/// missing end with grey rather than fail: a JPEG without an end-of-image
/// marker after its last scan (data after it, such as a phone's embedded
/// video, is allowed),
/// a PNG without its `IEND` chunk.
fn cut_short(format: SourceFormat, bytes: &[u8]) -> Option<&'static str> {
    match format {
        SourceFormat::Jpeg => {
            // After the last scan: an EXIF thumbnail before the image has
            // an end marker of its own.
            let scan = memchr::memmem::rfind(bytes, &[0xFF, 0xDA]).unwrap_or(0);
            memchr::memmem::find(&bytes[scan..], &[0xFF, 0xD9])
                .is_none()
                .then_some("the JPEG ends before its end-of-image marker (truncated)")
        }
        SourceFormat::Png if memchr::memmem::rfind(bytes, b"IEND").is_none() => {
            Some("the PNG ends before its IEND chunk (truncated)")
        }
        _ => None,
    }
}

fn reader(bytes: &[u8], format: SourceFormat) -> ImageReader<Cursor<&[u8]>> {
    let f = match format {
        SourceFormat::Jpeg => ImageFormat::Jpeg,
        SourceFormat::Png => ImageFormat::Png,
        SourceFormat::Webp => ImageFormat::WebP,
        SourceFormat::Gif => ImageFormat::Gif,
    };
    ImageReader::with_format(Cursor::new(bytes), f)
}

fn damaged(e: impl std::fmt::Display) -> CodecError {
    CodecError::Damaged(e.to_string())
}

/// Steps 1–3: the format and the header's size, without decoding pixels.
pub fn probe(bytes: &[u8], max_pixels: u64) -> Result<Probe, CodecError> {
    let format = source_format(bytes)?;
    if let Some(what) = polyglot(bytes) {
        return Err(CodecError::Polyglot(what));
    }
    if let Some(why) = cut_short(format, bytes) {
        return Err(CodecError::Damaged(why.into()));
    }
    let decoder = reader(bytes, format).into_decoder().map_err(damaged)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(CodecError::Damaged("the header says 0 pixels".into()));
    }
    if width as u64 * height as u64 > max_pixels {
        return Err(CodecError::TooManyPixels {
            width,
            height,
            limit: max_pixels,
        });
    }
    Ok(Probe {
        format,
        width,
        height,
    })
}

/// Steps 1–4: a probe, then the whole decode (the decoder may allocate at
/// most what `max_pixels` RGBA pixels and their working copy take).
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<Decoded, CodecError> {
    let probe = probe(bytes, max_pixels)?;
    let mut reader = reader(bytes, probe.format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(64 * 1024 * 1024));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(damaged)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let mut image = DynamicImage::from_decoder(decoder).map_err(damaged)?;
    image.apply_orientation(orientation);
    Ok(Decoded {
        format: probe.format,
        image,
        icc,
    })
}

/// Pixels of one size, ready for any encoder: RGB or RGBA, 8 bits, sRGB.
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub alpha: bool,
    pub data: Vec<u8>,
}

/// The original's pixels at [`SIZES`]`[size]` (never upscaled), in sRGB.
/// `from` may be a larger resize of the same original (cheaper to shrink
/// 1200 → 480 than the original again).
pub fn resize(d: &Decoded, from: Option<&Pixels>, size: usize) -> Result<Pixels, CodecError> {
    let alpha = d.image.color().has_alpha();
    let (tw, th) = variant_dims(d.width(), d.height(), SIZES[size]);
    let pixel_type = if alpha {
        fr::PixelType::U8x4
    } else {
        fr::PixelType::U8x3
    };
    let src_owned;
    let (sw, sh, src_bytes): (u32, u32, &[u8]) = match from {
        Some(p) => (p.width, p.height, &p.data),
        None => {
            src_owned = if alpha {
                d.image.to_rgba8().into_raw()
            } else {
                d.image.to_rgb8().into_raw()
            };
            (d.width(), d.height(), &src_owned)
        }
    };
    let mut data = if (sw, sh) == (tw, th) {
        src_bytes.to_vec()
    } else {
        let src = fr::images::ImageRef::new(sw, sh, src_bytes, pixel_type)
            .map_err(|e| CodecError::Encode(e.to_string()))?;
        let mut dst = fr::images::Image::new(tw, th, pixel_type);
        fr::Resizer::new()
            .resize(
                &src,
                &mut dst,
                &fr::ResizeOptions::new()
                    .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3)),
            )
            .map_err(|e| CodecError::Encode(e.to_string()))?;
        dst.into_vec()
    };
    // Only the first resize converts colours: a later one starts from
    // pixels already in sRGB.
    if from.is_none()
        && let Some(icc) = &d.icc
    {
        to_srgb(icc, alpha, &mut data);
    }
    Ok(Pixels {
        width: tw,
        height: th,
        alpha,
        data,
    })
}

/// Converts `data` from the profile `icc` to sRGB in place; a profile that
/// cannot be read leaves the pixels as they are (most such files are sRGB
/// with a broken tag, and refusing them would refuse real photos).
fn to_srgb(icc: &[u8], alpha: bool, data: &mut [u8]) {
    let Ok(source) = moxcms::ColorProfile::new_from_slice(icc) else {
        return;
    };
    let layout = if alpha {
        moxcms::Layout::Rgba
    } else {
        moxcms::Layout::Rgb
    };
    let srgb = moxcms::ColorProfile::new_srgb();
    let Ok(t) =
        source.create_transform_8bit(layout, &srgb, layout, moxcms::TransformOptions::default())
    else {
        return;
    };
    let input = data.to_vec();
    let _ = moxcms::TransformExecutor::transform(t.as_ref(), &input, data);
}

/// `p` encoded as `encoding`, without any metadata.
pub fn encode(p: &Pixels, encoding: Encoding) -> Result<Vec<u8>, CodecError> {
    match encoding {
        Encoding::Webp => {
            let e = if p.alpha {
                webp::Encoder::from_rgba(&p.data, p.width, p.height)
            } else {
                webp::Encoder::from_rgb(&p.data, p.width, p.height)
            };
            Ok(e.encode(WEBP_QUALITY).to_vec())
        }
        Encoding::Avif => {
            let enc = ravif::Encoder::new()
                .with_quality(AVIF_QUALITY)
                .with_speed(AVIF_SPEED)
                .with_num_threads(Some(1));
            let (w, h) = (p.width as usize, p.height as usize);
            let out = if p.alpha {
                let px: Vec<ravif::RGBA8> = p
                    .data
                    .chunks_exact(4)
                    .map(|c| ravif::RGBA8::new(c[0], c[1], c[2], c[3]))
                    .collect();
                enc.encode_rgba(ravif::Img::new(&px[..], w, h))
            } else {
                let px: Vec<ravif::RGB8> = p
                    .data
                    .chunks_exact(3)
                    .map(|c| ravif::RGB8::new(c[0], c[1], c[2]))
                    .collect();
                enc.encode_rgb(ravif::Img::new(&px[..], w, h))
            };
            out.map(|r| r.avif_file)
                .map_err(|e| CodecError::Encode(e.to_string()))
        }
        Encoding::Jpeg => {
            let rgb: std::borrow::Cow<[u8]> = if p.alpha {
                // Over white: what a transparent product shot shows on a
                // white page.
                p.data
                    .chunks_exact(4)
                    .flat_map(|c| {
                        let a = c[3] as u32;
                        let over =
                            move |x: u8| ((x as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
                        [over(c[0]), over(c[1]), over(c[2])]
                    })
                    .collect::<Vec<u8>>()
                    .into()
            } else {
                (&p.data[..]).into()
            };
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
                .encode(&rgb, p.width, p.height, image::ExtendedColorType::Rgb8)
                .map_err(|e| CodecError::Encode(e.to_string()))?;
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 128]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn markup_and_archives_inside_an_image_are_found() {
        let mut bytes = png(8, 8);
        assert_eq!(polyglot(&bytes), None);
        bytes.extend_from_slice(b"<ScRiPt>alert(1)</script>");
        assert_eq!(polyglot(&bytes), Some("a script"));
        let mut zip = png(8, 8);
        zip.extend_from_slice(b"PK\x03\x04rest");
        assert_eq!(
            probe(&zip, 1_000).unwrap_err(),
            CodecError::Polyglot("a ZIP archive")
        );
    }

    #[test]
    fn a_header_over_the_pixel_limit_is_refused_before_decoding() {
        let bytes = png(100, 50);
        assert_eq!(probe(&bytes, 5_000).unwrap().width, 100);
        assert!(matches!(
            probe(&bytes, 4_999),
            Err(CodecError::TooManyPixels {
                width: 100,
                height: 50,
                ..
            })
        ));
    }

    #[test]
    fn colours_of_another_profile_end_up_srgb() {
        use image::ImageEncoder;
        let p3 = moxcms::ColorProfile::new_display_p3().encode().unwrap();
        let png_with = |icc: Option<Vec<u8>>| {
            let img = image::RgbImage::from_pixel(8, 8, image::Rgb([200, 100, 50]));
            let mut out = Vec::new();
            let mut enc = image::codecs::png::PngEncoder::new(&mut out);
            if let Some(icc) = icc {
                enc.set_icc_profile(icc).unwrap();
            }
            enc.write_image(img.as_raw(), 8, 8, image::ExtendedColorType::Rgb8)
                .unwrap();
            out
        };
        let plain = resize(&decode(&png_with(None), 1_000).unwrap(), None, 0).unwrap();
        assert_eq!(&plain.data[..3], &[200, 100, 50], "sRGB stays as it is");
        let converted = resize(
            &decode(&png_with(Some(p3.clone())), 1_000).unwrap(),
            None,
            0,
        )
        .unwrap();
        // What the colour engine says Display P3 (200, 100, 50) is in sRGB:
        // more saturated (P3 is the wider gamut).
        let mut want = [0u8; 3];
        moxcms::ColorProfile::new_from_slice(&p3)
            .unwrap()
            .create_transform_8bit(
                moxcms::Layout::Rgb,
                &moxcms::ColorProfile::new_srgb(),
                moxcms::Layout::Rgb,
                moxcms::TransformOptions::default(),
            )
            .unwrap()
            .transform(&[200, 100, 50], &mut want)
            .unwrap();
        assert_eq!(&converted.data[..3], &want);
        assert!(want[0] > 200 && want[2] < 50, "{want:?}");
    }

    #[test]
    fn variants_shrink_to_the_size_and_every_encoder_round_trips() {
        let d = decode(&png(600, 300), 1_000_000).unwrap();
        let big = resize(&d, None, 2).unwrap();
        assert_eq!((big.width, big.height), (600, 300), "never upscaled");
        let small = resize(&d, Some(&big), 0).unwrap();
        assert_eq!((small.width, small.height), (160, 80));
        for e in [Encoding::Webp, Encoding::Jpeg, Encoding::Avif] {
            let bytes = encode(&small, e).unwrap();
            assert!(bytes.len() > 50, "{e:?}");
            if e != Encoding::Avif {
                let back = image::load_from_memory(&bytes).unwrap();
                assert_eq!((back.width(), back.height()), (160, 80), "{e:?}");
            } else {
                assert!(is_avif(&bytes));
            }
        }
    }
}

/// Property-based fuzzing of the upload path's decoding (see `api::fuzz`
/// for the approach): random bytes and valid images of every format with
/// bytes flipped, cut short or spliced must be refused with a
/// [`CodecError`] or decode to a usable image, never panic or hang.
/// `PROPTEST_CASES` sets the cases; `benches/fuzz.sh` runs it for longer.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    fn config() -> ProptestConfig {
        crate::domain::fuzzing::config(512)
    }

    /// One small valid image per format.
    static SEEDS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(24, 16, |x, y| {
            image::Rgba([x as u8 * 10, y as u8 * 15, 90, 200])
        }));
        [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Gif,
            ImageFormat::WebP,
        ]
        .into_iter()
        .map(|f| {
            let img = if f == ImageFormat::Jpeg {
                DynamicImage::ImageRgb8(img.to_rgb8())
            } else {
                img.clone()
            };
            let mut out = Vec::new();
            img.write_to(&mut Cursor::new(&mut out), f).unwrap();
            out
        })
        .collect()
    });

    fn check(bytes: &[u8]) {
        match decode(bytes, 4_000_000) {
            Err(_) => {}
            Ok(d) => {
                assert!(d.width() > 0 && d.height() > 0);
                let px = resize(&d, None, 0).expect("a decoded image resizes");
                encode(&px, Encoding::Webp).expect("a decoded image encodes");
            }
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            check(&bytes);
        }

        #[test]
        fn mutated_images_never_panic(
            seed in 0usize..4,
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            cut in proptest::option::of(any::<prop::sample::Index>()),
            splice in proptest::option::of((any::<prop::sample::Index>(), 0usize..4)),
        ) {
            let mut bytes = SEEDS[seed].clone();
            for (at, b) in flips {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            if let Some((at, other)) = splice {
                let i = at.index(bytes.len());
                bytes.splice(i..i, SEEDS[other].iter().copied().take(64));
            }
            if let Some(at) = cut {
                bytes.truncate(at.index(bytes.len()));
            }
            check(&bytes);
        }
    }

    #[test]
    fn every_seed_decodes() {
        for s in SEEDS.iter() {
            assert!(decode(s, 1_000).is_ok());
        }
    }
}
