//! Product images end to end over real HTTP: uploads in every format, the
//! hostile files an upload must refuse (stored nothing, no panic), EXIF
//! orientation and GPS, the variants made by the `media` queue, content
//! negotiation with `Vary`, `ETag`/304, `HEAD`, products showing their
//! images, and collection of unused ones.

use crate::helpers::{TOKEN, TestApp, code, fields, spawn_app, spawn_with, test_config};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, VARY};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

/// A landscape photo-like test card: left half red, right half blue, with
/// a gradient so encoders have something to do.
fn card(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let shade = ((x + y) % 32) as u8;
        if x < w / 2 {
            Rgb([220 + shade / 2, shade, shade])
        } else {
            Rgb([shade, shade, 220 + shade / 2])
        }
    })
}

pub(crate) fn jpeg(w: u32, h: u32) -> Vec<u8> {
    encode(&DynamicImage::ImageRgb8(card(w, h)), ImageFormat::Jpeg)
}

/// An EXIF APP1 segment: orientation 6 (turn 90° clockwise to show) and a
/// GPS IFD with a latitude reference.
fn exif_segment() -> Vec<u8> {
    let mut tiff: Vec<u8> = b"II*\0".to_vec();
    tiff.extend_from_slice(&8u32.to_le_bytes());
    // IFD0 at 8: 2 entries.
    tiff.extend_from_slice(&2u16.to_le_bytes());
    // Orientation, SHORT, 1, 6.
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&6u16.to_le_bytes());
    tiff.extend_from_slice(&0u16.to_le_bytes());
    // GPS IFD pointer, LONG, 1, offset 38.
    tiff.extend_from_slice(&0x8825u16.to_le_bytes());
    tiff.extend_from_slice(&4u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&38u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    // GPS IFD at 38: GPSLatitudeRef "N".
    assert_eq!(tiff.len(), 38);
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x0001u16.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&2u32.to_le_bytes());
    tiff.extend_from_slice(b"N\0\0\0");
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut seg = vec![0xFF, 0xE1];
    let len = (2 + 6 + tiff.len()) as u16;
    seg.extend_from_slice(&len.to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}

/// A JPEG that says, in EXIF, to show it turned 90° clockwise, with GPS.
fn rotated_jpeg_with_gps(w: u32, h: u32) -> Vec<u8> {
    let plain = jpeg(w, h);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&exif_segment());
    out.extend_from_slice(&plain[2..]);
    out
}

/// A valid PNG header that claims 100,000 × 100,000 pixels, with a few
/// bytes of compressed data: a decompression bomb's shape.
fn png_bomb() -> Vec<u8> {
    let small = encode(
        &DynamicImage::ImageRgb8(RgbImage::new(1, 1)),
        ImageFormat::Png,
    );
    let mut bomb = small.clone();
    // IHDR's width and height are at bytes 16..24; its CRC at 29..33.
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    bomb
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

pub(crate) async fn upload_raw(
    app: &TestApp,
    bytes: Vec<u8>,
    content_type: &str,
) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/media"))
        .bearer_auth(TOKEN)
        .header(CONTENT_TYPE, content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

const BOUNDARY: &str = "shopd-test-boundary-7d3f";

/// A `multipart/form-data` body of `(name, filename, bytes)` parts, as a
/// browser's form sends it.
fn form(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: image/jpeg\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn post_form(app: &TestApp, body: Vec<u8>) -> (StatusCode, Value) {
    upload_raw(
        app,
        body,
        &format!("multipart/form-data; boundary={BOUNDARY}"),
    )
    .await
}

async fn upload_multipart(app: &TestApp, bytes: Vec<u8>, alt: &str) -> (StatusCode, Value) {
    post_form(
        app,
        form(&[
            ("file", Some("photo.jpg"), &bytes),
            ("alt", None, alt.as_bytes()),
        ]),
    )
    .await
}

/// Every file under the data dir's media store.
fn stored_files(dir: &Path) -> Vec<std::path::PathBuf> {
    fn walk(p: &Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(p) {
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.join("media"), &mut out);
    out
}

/// Polls the record until every variant is ready.
pub(crate) async fn wait_all_variants(app: &TestApp, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, v) = app
            .admin(Method::GET, &format!("/api/v1/media/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let variants = v["data"]["variants"].as_array().unwrap();
        if variants.iter().all(|x| x["ready"] == true) {
            return v["data"].clone();
        }
        assert!(Instant::now() < deadline, "variants never all made: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fetch(app: &TestApp, path: &str, accept: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(a) = accept {
        req = req.header(ACCEPT, a);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn every_format_uploads_from_its_bytes_and_identical_bytes_are_one_image() {
    let app = spawn_app().await;
    let card = DynamicImage::ImageRgb8(card(64, 48));
    let rgba = DynamicImage::ImageRgba8(RgbaImage::from_pixel(30, 20, Rgba([0, 128, 0, 100])));
    let cases = [
        ("jpeg", encode(&card, ImageFormat::Jpeg)),
        ("png", encode(&rgba, ImageFormat::Png)),
        ("webp", encode(&card, ImageFormat::WebP)),
        ("gif", encode(&card, ImageFormat::Gif)),
    ];
    for (format, bytes) in cases {
        // The declared type is ignored: the bytes say what they are.
        let (status, v) = upload_raw(&app, bytes.clone(), "image/png").await;
        assert_eq!(status, StatusCode::CREATED, "{format}: {v}");
        let m = &v["data"];
        assert_eq!(m["format"], format, "{v}");
        assert_eq!(m["bytes"], bytes.len(), "{v}");
        assert!(m["id"].as_str().unwrap().starts_with("med_"), "{v}");
        assert_eq!(m["sha256"].as_str().unwrap().len(), 64);
        assert!(m["width"].as_u64().unwrap() > 0);
        // The first variant exists from the answer on.
        let res = fetch(
            &app,
            &format!("/media/{}/480.webp", m["id"].as_str().unwrap()),
            None,
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK, "{format}");
        let (again, v2) = upload_raw(&app, bytes, "application/octet-stream").await;
        assert_eq!(again, StatusCode::OK, "{v2}");
        assert_eq!(v2["data"]["id"], m["id"]);
    }
    // Multipart with alt text.
    let (status, v) = upload_multipart(&app, jpeg(40, 30), "A red and blue card").await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["data"]["alt"], "A red and blue card");
    let (w, h) = (&v["data"]["width"], &v["data"]["height"]);
    assert_eq!((w.as_u64(), h.as_u64()), (Some(40), Some(30)));
}

#[tokio::test]
async fn hostile_and_broken_files_are_refused_quickly_and_store_nothing() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(dir.path(), false);
    config.media.max_bytes = 200_000;
    let app = spawn_with(dir.clone(), config).await;
    let truncated = {
        let mut j = jpeg(300, 200);
        j.truncate(j.len() / 3);
        j
    };
    let mut polyglot = encode(&DynamicImage::ImageRgb8(card(20, 20)), ImageFormat::Png);
    polyglot.extend_from_slice(b"<html><script>alert(document.cookie)</script></html>");
    let mut gifar = encode(&DynamicImage::ImageRgb8(card(20, 20)), ImageFormat::Gif);
    gifar.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00META-INF/MANIFEST.MF");
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "bomb",
            png_bomb(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "image_too_large",
        ),
        (
            "truncated",
            truncated,
            StatusCode::UNPROCESSABLE_ENTITY,
            "image_damaged",
        ),
        (
            "html polyglot",
            polyglot,
            StatusCode::UNPROCESSABLE_ENTITY,
            "image_polyglot",
        ),
        (
            "gifar",
            gifar,
            StatusCode::UNPROCESSABLE_ENTITY,
            "image_polyglot",
        ),
        (
            "text",
            b"just some text, not an image".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_image",
        ),
        (
            "svg",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_image",
        ),
        (
            "empty",
            Vec::new(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_image",
        ),
        (
            "too many bytes",
            vec![0xFF; 200_001],
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (what, bytes, status, want) in cases {
        let started = Instant::now();
        let (got, v) = upload_raw(&app, bytes, "image/jpeg").await;
        assert_eq!(got, status, "{what}: {v}");
        assert_eq!(code(&v), want, "{what}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().len() > 10, "{v}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what} took {:?}",
            started.elapsed()
        );
    }
    // A type the route does not read.
    let (got, v) = upload_raw(&app, jpeg(10, 10), "text/plain").await;
    assert_eq!(got, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{v}");
    assert_eq!(code(&v), "unsupported_media_type");
    // A multipart body without a file part, and one cut short.
    let (got, v) = post_form(&app, form(&[("alt", None, b"nothing")])).await;
    assert_eq!(got, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(code(&v), "malformed_multipart");
    let mut cut = form(&[("file", Some("a.jpg"), &jpeg(30, 30))]);
    cut.truncate(cut.len() - 40);
    let (got, v) = post_form(&app, cut).await;
    assert_eq!(got, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        stored_files(dir.path()).is_empty(),
        "{:?}",
        stored_files(dir.path())
    );
    // Still serving.
    assert_eq!(app.get("/health").await.status(), StatusCode::OK);
    // Customers and anonymous callers cannot upload.
    let res = app
        .client
        .post(app.url("/api/v1/media"))
        .header(CONTENT_TYPE, "image/jpeg")
        .body(jpeg(10, 10))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn variants_are_upright_carry_no_metadata_and_are_negotiated_on_accept() {
    let app = spawn_app().await;
    let original = rotated_jpeg_with_gps(1600, 800);
    assert!(original.windows(4).any(|w| w == b"Exif"));
    let (status, v) = upload_raw(&app, original, "image/jpeg").await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["data"]["id"].as_str().unwrap().to_string();
    // Upright: 800 × 1600 once turned.
    assert_eq!(
        (v["data"]["width"].as_u64(), v["data"]["height"].as_u64()),
        (Some(800), Some(1600))
    );
    let record = wait_all_variants(&app, &id).await;
    for variant in record["variants"].as_array().unwrap() {
        let url = variant["url"].as_str().unwrap();
        let res = fetch(&app, url, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        assert_eq!(
            res.headers()[CONTENT_TYPE].to_str().unwrap(),
            variant["type"].as_str().unwrap()
        );
        assert_eq!(
            res.headers()[CACHE_CONTROL].to_str().unwrap(),
            "public, max-age=31536000, immutable"
        );
        assert!(
            res.headers().get(VARY).is_none(),
            "explicit URLs do not vary"
        );
        let bytes = res.bytes().await.unwrap();
        for marker in [&b"Exif"[..], b"GPS", b"ICC_PROFILE"] {
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker),
                "{url} still holds {}",
                String::from_utf8_lossy(marker)
            );
        }
        if variant["type"] != "image/avif" {
            let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
            assert_eq!(
                (img.width() as u64, img.height() as u64),
                (
                    variant["width"].as_u64().unwrap(),
                    variant["height"].as_u64().unwrap()
                ),
                "{url}"
            );
            // Turned clockwise: the left (red) half is now on top.
            let top = img.get_pixel(img.width() / 2, img.height() / 5);
            let bottom = img.get_pixel(img.width() / 2, img.height() * 4 / 5);
            assert!(top[0] > 150 && top[2] < 100, "{url}: top {top:?}");
            assert!(
                bottom[2] > 150 && bottom[0] < 100,
                "{url}: bottom {bottom:?}"
            );
        } else {
            assert_eq!(&bytes[4..12], b"ftypavif", "{url}");
        }
    }
    assert_eq!(record["variants"][2]["height"], 160);
    assert_eq!(record["variants"][2]["width"], 80);

    // Negotiation on the size URL: AVIF, then WebP, then JPEG.
    let path = format!("/media/{id}/480");
    for (accept, want) in [
        (Some("image/avif,image/webp,*/*;q=0.8"), "image/avif"),
        (Some("image/webp,*/*;q=0.8"), "image/webp"),
        (Some("image/jpeg"), "image/jpeg"),
        (
            Some("image/avif;q=0,image/webp;q=0.9,image/jpeg"),
            "image/jpeg",
        ),
        (None, "image/avif"),
    ] {
        let res = fetch(&app, &path, accept).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[CONTENT_TYPE], want, "{accept:?}");
        assert_eq!(res.headers()[VARY], "Accept");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    }
    // ETag, 304, HEAD.
    let res = fetch(&app, &path, Some("image/webp")).await;
    let tag = res.headers()[ETAG].to_str().unwrap().to_string();
    assert!(tag.starts_with('"'), "a strong tag: {tag}");
    let length: usize = res.headers()[CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(res.bytes().await.unwrap().len(), length);
    let res = app
        .client
        .get(app.url(&path))
        .header(ACCEPT, "image/webp")
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(res.headers()[ETAG].to_str().unwrap(), tag);
    assert!(res.bytes().await.unwrap().is_empty());
    let res = app
        .client
        .head(app.url(&path))
        .header(ACCEPT, "image/webp")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[CONTENT_LENGTH].to_str().unwrap(),
        length.to_string()
    );
    assert!(res.bytes().await.unwrap().is_empty());
    // Unknown sizes, extensions and ids are 404s.
    for bad in [
        format!("/media/{id}/500"),
        format!("/media/{id}/480.png"),
        "/media/med_00000000000000000000000000000000/480".to_string(),
        "/media/nope/480".to_string(),
    ] {
        let res = fetch(&app, &bad, None).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{bad}");
    }
}

#[tokio::test]
async fn products_show_their_images_and_keep_them_from_deletion() {
    let app = crate::helpers::spawn_app_with_fixture().await;
    let (_, v) = upload_multipart(&app, jpeg(900, 600), "Lamp, lit").await;
    let id = v["data"]["id"].as_str().unwrap().to_string();
    let (_, products) = app.get_json("/api/v1/products?limit=1").await;
    let pid = products["data"][0]["id"].as_str().unwrap().to_string();
    // A media id, or a variant's path, names the image.
    let (status, p) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/products/{pid}"),
            Some(json!({"images": [format!("/media/{id}/1200"), "https://cdn.example.com/x.jpg"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["data"]["images"][0], id);
    let m = &p["data"]["media"][0];
    assert_eq!(m["id"], id);
    assert_eq!(m["alt"], "Lamp, lit");
    assert_eq!(
        (m["width"].as_u64(), m["height"].as_u64()),
        (Some(900), Some(600))
    );
    assert_eq!(
        m["srcset"],
        format!("/media/{id}/160 160w, /media/{id}/480 480w, /media/{id}/1200 900w")
    );
    assert_eq!(m["sources"][0]["type"], "image/avif");
    assert_eq!(p["data"]["media"].as_array().unwrap().len(), 1);
    // New alt text shows at once (the cached detail follows).
    let (_, first) = app.get_json(&format!("/api/v1/products/{pid}")).await;
    assert_eq!(first["data"]["media"][0]["alt"], "Lamp, lit");
    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/media/{id}"),
            Some(json!({"alt": "Lamp, switched off"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, after) = app.get_json(&format!("/api/v1/products/{pid}")).await;
    assert_eq!(after["data"]["media"][0]["alt"], "Lamp, switched off");
    let (_, list) = app.get_json("/api/v1/products?limit=100").await;
    let item = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == pid.as_str())
        .unwrap();
    assert_eq!(item["media"][0]["alt"], "Lamp, switched off");
    // In use: no delete.
    let (status, v) = app
        .admin(Method::DELETE, &format!("/api/v1/media/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(code(&v), "media_in_use");
    assert!(
        v["error"]["message"].as_str().unwrap().contains(&pid),
        "{v}"
    );
    // An unknown image is a 404 naming the field.
    let (status, v) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/products/{pid}"),
            Some(json!({"images": ["med_0123456789abcdef0123456789abcdef"]})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(fields(&v), vec!["images"]);
    // Bad alt text.
    let (status, v) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/media/{id}"),
            Some(json!({"alt": "a\u{0}b"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Once no product shows it, it can go.
    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/products/{pid}"),
            Some(json!({"images": []})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .admin(Method::DELETE, &format!("/api/v1/media/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .admin(Method::GET, &format!("/api/v1/media/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(stored_files(app.dir.path()).is_empty());
}

#[tokio::test]
async fn images_no_product_shows_are_collected_after_the_grace_period() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(dir.path(), false);
    config.media.gc_grace = Duration::from_millis(300);
    config.media.gc_every = Duration::from_millis(200);
    let app = spawn_with(dir.clone(), config).await;
    let (status, v) = upload_raw(&app, jpeg(50, 40), "image/jpeg").await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["data"]["id"].as_str().unwrap().to_string();
    assert!(!stored_files(dir.path()).is_empty());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = app
            .admin(Method::GET, &format!("/api/v1/media/{id}"), None)
            .await;
        if status == StatusCode::NOT_FOUND {
            break;
        }
        assert!(Instant::now() < deadline, "never collected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Its files go after its record.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stored_files(dir.path()).is_empty() {
        assert!(Instant::now() < deadline, "{:?}", stored_files(dir.path()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_demo_shows_generated_photos_that_are_served() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(dir.path(), true);
    config.demo_images = true;
    let app = spawn_with(dir, config).await;
    let (status, p) = app.get_json("/api/v1/products/prod-000001").await;
    assert_eq!(status, StatusCode::OK);
    let m = &p["data"]["media"][0];
    assert_eq!(m["alt"], "Product photo 1 (generated for the demo)", "{p}");
    assert_eq!(
        (m["width"].as_u64(), m["height"].as_u64()),
        (Some(800), Some(600))
    );
    assert_eq!(p["data"]["images"][0], m["id"]);
    let (_, list) = app.get_json("/api/v1/products?limit=24").await;
    let distinct: std::collections::BTreeSet<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["media"][0]["id"].as_str())
        .collect();
    assert_eq!(
        distinct.len(),
        12,
        "every photo shows in the first 24 items"
    );
    let res = fetch(&app, m["url"].as_str().unwrap(), Some("image/webp,*/*")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("image/")
    );
}

#[tokio::test]
async fn uploads_beyond_the_decoders_and_their_queue_are_told_to_come_back() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(dir.path(), false);
    config.media.decoders = 1;
    config.media.waiting = 0;
    let app = Arc::new(spawn_with(dir.clone(), config).await);
    // Six different photos at once: one decoder, no queue.
    let photos: Vec<Vec<u8>> = (0..6).map(|i| jpeg(1600 + i, 1200)).collect();
    let sent: Vec<_> = photos
        .into_iter()
        .map(|p| {
            let app = app.clone();
            tokio::spawn(async move { upload_raw(&app, p, "image/jpeg").await })
        })
        .collect();
    let mut statuses = Vec::new();
    for s in sent {
        let (status, v) = s.await.unwrap();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(code(&v), "busy", "{v}");
        }
        statuses.push(status);
    }
    assert!(statuses.contains(&StatusCode::CREATED), "{statuses:?}");
    assert!(
        statuses.contains(&StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    // Free again: a refused upload goes through when retried alone.
    let (status, _) = upload_raw(&app, jpeg(1605, 1200), "image/jpeg").await;
    assert!(status == StatusCode::CREATED || status == StatusCode::OK);
}
