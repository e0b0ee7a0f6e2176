//! Probes, request ids, routing errors.

use crate::helpers::{code, spawn_app};
use reqwest::StatusCode;

#[tokio::test]
async fn health_and_ready_answer_200() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/health").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = app.get_json("/ready").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["checks"]["storage"], "ok");
    assert_eq!(body["checks"]["search"], "ok");
}

#[tokio::test]
async fn request_id_is_echoed_or_generated() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/health"))
        .header("X-Request-Id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = app.get("/api/v1/products/missing").await;
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(generated.len(), 32);
    let other = app.get("/health").await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(generated, other);
    // an unusable id (too long) is replaced, not echoed
    let res = app
        .client
        .get(app.url("/health"))
        .header("X-Request-Id", "x".repeat(200))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"].len(), 32);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_in_json() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "not_found");
    let res = app
        .client
        .put(app.url("/api/v1/products"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(code(&body), "method_not_allowed");
}

#[tokio::test]
async fn hostile_inputs_get_4xx_never_5xx() {
    let app = crate::helpers::spawn_app_with_fixture().await;
    for q in [
        "limit=99999999999999999999",
        "minPrice=1e400",
        "minPrice=NaN",
        "maxPrice=-0",
        "category=%F0%9F%98%80",
        "brand=' OR 1=1 --",
        "sort=%00",
        "page=1e3",
        "isAvailable=",
        "%=%",
        "a=%ff%fe",
    ] {
        let res = app.get(&format!("/api/v1/products?{q}")).await;
        assert!(res.status().as_u16() < 500, "{q} → {}", res.status());
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(
            body.get("data").is_some() || body.get("error").is_some(),
            "{q}"
        );
    }
    let nested = "[".repeat(10_000) + &"]".repeat(10_000);
    for body in [
        nested.as_str(),
        r#"{"title":"😀","price":1e308,"brandId":"brand-0001"}"#,
        r#"{"title":"x","price":1,"brandId":"brand-0001","categoryIds":null}"#,
        r#"{"title":"x","price":12345678901234567890,"brandId":"brand-0001","stock":-1}"#,
        r#"{"title":"\u0000","price":1,"brandId":"brand-0001"}"#,
        "\u{feff}{}",
    ] {
        for path in [
            "/api/v1/products",
            "/api/v1/brands",
            "/api/v1/categories",
            "/api/v1/products/prod-000001/reviews",
        ] {
            let res = app
                .client
                .post(app.url(path))
                .bearer_auth(crate::helpers::TOKEN)
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            assert!((400..500).contains(&status), "{path} {body:.40} → {status}");
            let v: serde_json::Value = res.json().await.unwrap();
            assert!(code(&v) != "<no error code>");
        }
    }
}

#[tokio::test]
async fn a_leader_ignores_x_min_generation() {
    // A leader has every generation it answered: waiting for a future one
    // would only let any client hold a request for a second. Followers
    // honour the header (tests/replication.rs).
    let app = spawn_app().await;
    for path in ["/api/v1/products", "/health", "/ready", "/metrics"] {
        for wanted in ["999999999999", "not-a-number"] {
            let started = std::time::Instant::now();
            let res = app
                .client
                .get(app.url(path))
                .header("X-Min-Generation", wanted)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path} {wanted}");
            assert!(
                started.elapsed() < std::time::Duration::from_millis(500),
                "{path} {wanted}: waited {:?}",
                started.elapsed()
            );
        }
    }
}

#[tokio::test]
async fn replication_routes_answer_the_error_envelope() {
    let token = "replication-token-for-the-envelope-test";
    let app = crate::helpers::spawn_fixture_with(|c| {
        c.replication.token = Some(shopd::config::Secret::new(token));
    })
    .await;
    for (path, status) in [
        ("/replication/snapshot/-1/x", StatusCode::NOT_FOUND),
        (
            "/replication/snapshot/not-a-position/part-0",
            StatusCode::NOT_FOUND,
        ),
        (
            "/replication/snapshot/0/..%2Fjwt.keys",
            StatusCode::NOT_FOUND,
        ),
        ("/replication/changes?since=-1", StatusCode::BAD_REQUEST),
        ("/replication/changes?since=abc", StatusCode::BAD_REQUEST),
    ] {
        let res = app
            .client
            .get(app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
        let v: serde_json::Value = res.json().await.unwrap();
        assert!(
            !code(&v).is_empty() && code(&v) != "<no error code>",
            "{path}: {v}"
        );
    }
}
