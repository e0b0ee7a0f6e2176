//! Rate limits over real HTTP: the `X-RateLimit-*` headers count down on
//! every answer of a limited route, the request past the quota is 429
//! `rate_limited` with `Retry-After`, writes are counted per caller, and
//! `X-Forwarded-For` picks the bucket only when the peer is a trusted proxy.
//! (The `auth` and `checkout` keying, with no such route yet, is tested on
//! `RateLimits` itself in `src/api/rate_limit.rs`.)

use crate::helpers::{TOKEN, TestApp, code, spawn_app_with_fixture, spawn_fixture_with};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use shopd::config::http::TrustedProxies;
use shopd::config::rate_limits::Rate;

fn rate(s: &str) -> Option<Rate> {
    Some(s.parse().unwrap())
}

/// A header as a number; panics when absent.
fn num(res: &Response, name: &str) -> u64 {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} on a {} answer", res.status()))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn get_from(app: &TestApp, path: &str, forwarded_for: &str) -> Response {
    app.client
        .get(app.url(path))
        .header("X-Forwarded-For", forwarded_for)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn reads_count_down_in_the_headers_and_the_one_past_the_quota_is_429() {
    let app = spawn_fixture_with(|c| c.rate_limits.api = rate("3/min")).await;

    // A 200 and a 404 of the class both count, and both say so.
    let first = app.get("/api/v1/products").await;
    assert_eq!(first.status(), StatusCode::OK);
    let missing = app.get("/api/v1/products/no-such-product").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let third = app.get("/api/v1/brands").await;
    assert_eq!(third.status(), StatusCode::OK);
    let seen: Vec<(u64, u64, u64)> = [&first, &missing, &third]
        .iter()
        .map(|r| {
            (
                num(r, "x-ratelimit-limit"),
                num(r, "x-ratelimit-remaining"),
                num(r, "x-ratelimit-reset"),
            )
        })
        .collect();
    // 3/min: one request's share comes back every 20 s.
    assert_eq!(seen, [(3, 2, 20), (3, 1, 40), (3, 0, 60)]);

    let refused = app.get("/api/v1/products").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry = num(&refused, "retry-after");
    assert!((1..=20).contains(&retry), "Retry-After {retry}");
    assert_eq!(num(&refused, "x-ratelimit-limit"), 3);
    assert_eq!(num(&refused, "x-ratelimit-remaining"), 0);
    assert!(refused.headers().contains_key("x-request-id"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(code(&body), "rate_limited");

    // Probes are never limited, and the refusal is counted.
    let health = app.get("/health").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert!(!health.headers().contains_key("x-ratelimit-limit"));
    assert_eq!(
        app.metric("shopd_rate_limited_total{class=\"api\"}").await,
        1.0
    );
}

#[tokio::test]
async fn a_304_keeps_the_rate_limit_headers() {
    let app = spawn_fixture_with(|c| c.rate_limits.api = rate("10/min")).await;
    let first = app.get("/api/v1/products/prod-000001").await;
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first.headers()["etag"].clone();
    let again = app
        .client
        .get(app.url("/api/v1/products/prod-000001"))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(num(&again, "x-ratelimit-limit"), 10);
    assert_eq!(num(&again, "x-ratelimit-remaining"), 8);
}

#[tokio::test]
async fn with_the_classes_off_no_limit_applies_and_no_header_is_sent() {
    let app = spawn_app_with_fixture().await;
    for _ in 0..30 {
        let res = app.get("/api/v1/categories").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(!res.headers().contains_key("x-ratelimit-limit"));
    }
}

#[tokio::test]
async fn writes_are_counted_per_caller_after_the_access_check() {
    let app = spawn_fixture_with(|c| c.rate_limits.write = rate("2/min")).await;
    let brand = |i: u32| json!({"id": format!("rl-brand-{i}"), "title": format!("Brand {i}")});

    // Refused by the access check: not counted, no quota headers.
    let wrong = app
        .client
        .post(app.url("/api/v1/brands"))
        .bearer_auth("wrong-token")
        .json(&brand(0))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(!wrong.headers().contains_key("x-ratelimit-limit"));

    let mut remaining = Vec::new();
    for i in 1..=2 {
        let res = app
            .client
            .post(app.url("/api/v1/brands"))
            .bearer_auth(TOKEN)
            .json(&brand(i))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        remaining.push(num(&res, "x-ratelimit-remaining"));
    }
    assert_eq!(remaining, [1, 0]);

    // The third write of the same caller, even from another claimed
    // address, is refused before its body is read: nothing is created.
    let third = app
        .client
        .post(app.url("/api/v1/brands"))
        .bearer_auth(TOKEN)
        .header("X-Forwarded-For", "203.0.113.50")
        .json(&brand(3))
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(num(&third, "retry-after") >= 1);
    let body: Value = third.json().await.unwrap();
    assert_eq!(code(&body), "rate_limited");
    let (status, _) = app.get_json("/api/v1/brands/rl-brand-3").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Reads are another class (off here).
    let (status, _) = app.get_json("/api/v1/brands/rl-brand-1").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    // 127.0.0.1 is not a trusted proxy (the default: none is).
    let app = spawn_fixture_with(|c| c.rate_limits.api = rate("2/min")).await;
    let a = get_from(&app, "/api/v1/brands", "198.51.100.1").await;
    let b = get_from(&app, "/api/v1/brands", "198.51.100.2").await;
    let c = get_from(&app, "/api/v1/brands", "198.51.100.3").await;
    assert_eq!(
        [a.status(), b.status(), c.status()],
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "spoofed addresses share the peer's quota"
    );
}

#[tokio::test]
async fn forwarded_for_from_a_trusted_proxy_names_the_client() {
    let app = spawn_fixture_with(|c| {
        c.rate_limits.api = rate("2/min");
        c.http.trusted_proxies = TrustedProxies::parse_list("127.0.0.1").unwrap();
    })
    .await;
    let statuses = async |forwarded_for: &str, n: usize| {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(
                get_from(&app, "/api/v1/brands", forwarded_for)
                    .await
                    .status(),
            );
        }
        out
    };
    assert_eq!(
        statuses("198.51.100.1", 3).await,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // Another client behind the same proxy has its own quota…
    let other = get_from(&app, "/api/v1/brands", "198.51.100.2").await;
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(num(&other, "x-ratelimit-remaining"), 1);
    // …and a client prepending a fake address is still itself: the proxy
    // appended the real one last.
    let spoofing = get_from(&app, "/api/v1/brands", "203.0.113.7, 198.51.100.1").await;
    assert_eq!(spoofing.status(), StatusCode::TOO_MANY_REQUESTS);
}
