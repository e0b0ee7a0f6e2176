//! ETag / If-None-Match / Cache-Control on the public reads.

use crate::helpers::{TestApp, spawn_app_with_fixture};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn conditional(app: &TestApp, path: &str, tag: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("If-None-Match", tag)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn etags_revalidate_to_304_until_a_write_changes_the_body() {
    let app = spawn_app_with_fixture().await;
    for (path, control) in [
        (
            "/api/v1/products/prod-000005",
            "public, s-maxage=1800, stale-while-revalidate=3600",
        ),
        // Lists follow their class's TTL (10 min), as the response cache
        // does: one number decides both (was 300/600 while the response
        // cache kept lists 10 min).
        (
            "/api/v1/products?limit=5&sort=price_asc",
            "public, s-maxage=600, stale-while-revalidate=1200",
        ),
        (
            "/api/v1/search?q=lamp",
            "public, s-maxage=600, stale-while-revalidate=1200",
        ),
        (
            "/api/v1/categories",
            "public, s-maxage=3600, stale-while-revalidate=7200",
        ),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["cache-control"], control, "{path}");
        let tag = res.headers()["etag"].to_str().unwrap().to_string();
        assert!(tag.starts_with("W/\""), "{tag}");
        let again = conditional(&app, path, &tag).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.headers()["etag"], tag.as_str());
        assert!(again.bytes().await.unwrap().is_empty(), "304 has no body");
        let other = conditional(&app, path, "W/\"0000000000000000\"").await;
        assert_eq!(other.status(), StatusCode::OK, "{path}");
    }

    // a write changes the body, so the old tag no longer matches
    let path = "/api/v1/products/prod-000005";
    let tag = app.get(path).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    let (s, _) = app
        .admin(Method::PATCH, path, Some(json!({"price": 1.23})))
        .await;
    assert_eq!(s, StatusCode::OK);
    let res = conditional(&app, path, &tag).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_ne!(res.headers()["etag"], tag.as_str());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["data"]["price"], 1.23);

    // errors and probes carry no ETag; probes are not stored
    let res = app.get("/api/v1/products/nope").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().get("etag").is_none());
    let res = app.get("/ready").await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(res.headers().get("etag").is_none());
}

#[tokio::test]
async fn compressed_bodies_keep_the_same_weak_etag() {
    let app = spawn_app_with_fixture().await;
    let path = "/api/v1/products?limit=50";
    let plain = app.get(path).await;
    let tag = plain.headers()["etag"].clone();
    let plain = plain.bytes().await.unwrap();
    for encoding in ["gzip", "br"] {
        let res = app
            .client
            .get(app.url(path))
            .header("Accept-Encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["content-encoding"], encoding);
        assert_eq!(res.headers()["etag"], tag);
        let wire = res.bytes().await.unwrap();
        assert!(wire.len() < plain.len() / 2, "{encoding} compresses");
        assert_eq!(
            decompress(encoding, &wire),
            plain,
            "{encoding} decodes to the plain body"
        );
    }
}

#[tokio::test]
async fn cached_bodies_go_to_gzip_clients_as_stored_and_to_others_inflated() {
    let app = spawn_app_with_fixture().await;
    let path = "/api/v1/products?limit=50&sort=price_desc";
    let gzip = || {
        app.client
            .get(app.url(path))
            .header("Accept-Encoding", "gzip, deflate, br, zstd")
            .send()
    };
    // The first request renders and stores, the second is a hit.
    let (miss, hit) = (gzip().await.unwrap(), gzip().await.unwrap());
    let tag = hit.headers()["etag"].clone();
    for res in [&miss, &hit] {
        assert_eq!(res.headers()["content-encoding"], "gzip");
        assert_eq!(res.headers()["vary"], "accept-encoding");
        assert_eq!(res.headers()["etag"], tag);
    }
    let (miss, hit) = (miss.bytes().await.unwrap(), hit.bytes().await.unwrap());
    let plain = app.get(path).await;
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.headers()["etag"], tag, "one tag for every coding");
    let plain = plain.bytes().await.unwrap();
    assert_eq!(decompress("gzip", &hit), plain);
    // The cache's own gzip (level 6), not actix's per-response compressor
    // (level 1, different bytes for a body this size).
    let stored = shopd::cache::gzip::compress(&plain);
    assert_eq!(hit, stored);
    assert_eq!(miss, stored);
    // A client that accepts gzip only at weight 0 gets brotli from actix.
    let br = app
        .client
        .get(app.url(path))
        .header("Accept-Encoding", "gzip;q=0, br")
        .send()
        .await
        .unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(decompress("br", &br.bytes().await.unwrap()), plain);
    // A matching If-None-Match still gets 304 from the stored entry.
    let res = app
        .client
        .get(app.url(path))
        .header("Accept-Encoding", "gzip")
        .header("If-None-Match", tag.to_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert!(res.headers().get("content-encoding").is_none());
}

/// A `Content-Encoding: gzip` or `br` body, decoded.
fn decompress(encoding: &str, wire: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match encoding {
        "gzip" => flate2::read::GzDecoder::new(wire)
            .read_to_end(&mut out)
            .unwrap(),
        "br" => brotli::Decompressor::new(wire, 4096)
            .read_to_end(&mut out)
            .unwrap(),
        other => panic!("no decoder for {other}"),
    };
    out
}

#[tokio::test]
async fn only_bodies_over_1_kib_are_compressed_gzip_or_brotli() {
    let app = spawn_app_with_fixture().await;
    let send = |path: &'static str, accept: &'static str| {
        app.client
            .get(app.url(path))
            .header("Accept-Encoding", accept)
            .send()
    };
    let encoding = |r: &reqwest::Response| {
        r.headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let big = "/api/v1/products?limit=50";
    let small = "/api/v1/brands/brand-0001";
    assert!(app.get(big).await.bytes().await.unwrap().len() > 1024);
    assert!(app.get(small).await.bytes().await.unwrap().len() < 1024);
    let br = send(big, "br").await.unwrap();
    assert_eq!(encoding(&br).as_deref(), Some("br"));
    let gz = send(big, "gzip, br;q=0.5").await.unwrap();
    assert_eq!(encoding(&gz).as_deref(), Some("gzip"));
    let tiny = send(small, "gzip, br").await.unwrap();
    assert_eq!(encoding(&tiny), None, "small bodies go as they are");
    let body: serde_json::Value = tiny.json().await.unwrap();
    assert_eq!(body["data"]["id"], "brand-0001");
    let err = send("/api/v1/products/none", "gzip").await.unwrap();
    assert_eq!(err.status(), reqwest::StatusCode::NOT_FOUND);
    assert_eq!(encoding(&err), None);
}
