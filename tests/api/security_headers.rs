//! Security headers on every answer (JSON, errors, 404/405, text, the docs
//! page), HSTS only when configured, and CORS only for listed origins.

use crate::helpers::{TestApp, spawn_app, spawn_fixture_with};
use reqwest::{Method, Response, StatusCode};
use shopd::api::middleware::security_headers::{DATA_CSP, HTML_CSP};
use shopd::config::http::CorsOrigins;

const SHOP: &str = "https://shop.example.com";

#[track_caller]
fn assert_protected(res: &Response, what: &str) {
    let h = res.headers();
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
}

async fn send(app: &TestApp, method: Method, path: &str) -> Response {
    app.client
        .request(method, app.url(path))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    for (method, path, status) in [
        (Method::GET, "/api/v1/products", 200),
        (Method::GET, "/api/v1/products/missing", 404),
        (Method::GET, "/no/such/route", 404),
        (Method::PUT, "/api/v1/products/p1", 405),
        (Method::POST, "/api/v1/brands", 401),
        (Method::GET, "/api/v1/products?limit=0", 422),
        (Method::GET, "/metrics", 200),
        (Method::GET, "/docs/swagger-ui.css", 200),
    ] {
        let res = send(&app, method.clone(), path).await;
        let what = format!("{method} {path}");
        assert_eq!(res.status().as_u16(), status, "{what}");
        assert_protected(&res, &what);
        assert_eq!(res.headers()["content-security-policy"], DATA_CSP, "{what}");
        assert!(
            !res.headers().contains_key("strict-transport-security"),
            "{what}: HSTS is off by default"
        );
    }
}

#[tokio::test]
async fn the_docs_page_gets_a_strict_policy_it_can_live_with() {
    let app = spawn_app().await;
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_protected(&page, "/docs/");
    assert_eq!(page.headers()["content-security-policy"], HTML_CSP);
    assert!(HTML_CSP.contains("script-src 'self';"));
    assert!(!HTML_CSP.contains("unsafe-eval"));
    // `script-src 'self'` holds only if the page runs no inline script:
    // every <script> loads a same-origin file and has an empty body, and no
    // element carries an event-handler attribute.
    let html = page.text().await.unwrap().to_lowercase();
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(scripts.len() >= 3, "{html}");
    for s in scripts {
        let (tag, rest) = s.split_once('>').unwrap();
        assert!(
            tag.contains("src=\"./"),
            "inline or foreign script: <script{tag}>"
        );
        let body = rest.split("</script>").next().unwrap();
        assert!(body.trim().is_empty(), "inline script body: {body}");
    }
    assert!(
        !html.contains(" onload=") && !html.contains(" onclick=") && !html.contains("javascript:"),
        "{html}"
    );
}

#[tokio::test]
async fn hsts_is_sent_when_configured() {
    let app = spawn_fixture_with(|c| c.http.hsts_max_age_secs = Some(63_072_000)).await;
    for path in ["/api/v1/brands", "/nope"] {
        let res = app.get(path).await;
        assert_eq!(
            res.headers()["strict-transport-security"],
            "max-age=63072000; includeSubDomains",
            "{path}"
        );
    }
}

fn cors_headers(res: &Response) -> Vec<String> {
    res.headers()
        .keys()
        .map(|k| k.as_str().to_string())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

async fn with_origin(app: &TestApp, origin: &str) -> Response {
    app.client
        .get(app.url("/api/v1/brands"))
        .header("Origin", origin)
        .send()
        .await
        .unwrap()
}

async fn preflight(app: &TestApp, origin: &str) -> Response {
    app.client
        .request(Method::OPTIONS, app.url("/api/v1/brands"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cors_allows_listed_origins_with_credentials_and_nobody_else() {
    let app = spawn_fixture_with(|c| {
        c.http.cors_origins =
            CorsOrigins::parse_list(&format!("{SHOP},http://localhost:3000")).unwrap();
        c.rate_limits.api = Some("50/min".parse().unwrap());
    })
    .await;

    let listed = with_origin(&app, SHOP).await;
    assert_eq!(listed.status(), StatusCode::OK);
    let h = listed.headers();
    assert_eq!(h["access-control-allow-origin"], SHOP);
    assert_eq!(h["access-control-allow-credentials"], "true");
    let exposed = h["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for name in [
        "x-ratelimit-remaining",
        "retry-after",
        "etag",
        "x-request-id",
        "location",
    ] {
        assert!(exposed.contains(name), "{name} not exposed: {exposed}");
    }
    assert!(h["vary"].to_str().unwrap().contains("Origin"));

    let unlisted = with_origin(&app, "https://evil.example").await;
    assert_eq!(unlisted.status(), StatusCode::OK, "answered, without CORS");
    assert_eq!(cors_headers(&unlisted), Vec::<String>::new());
    let no_origin = app.get("/api/v1/brands").await;
    assert_eq!(cors_headers(&no_origin), Vec::<String>::new());

    let ok = preflight(&app, SHOP).await;
    assert!(ok.status().is_success(), "{}", ok.status());
    let h = ok.headers();
    assert_eq!(h["access-control-allow-origin"], SHOP);
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert_protected(&ok, "a preflight");

    let refused = preflight(&app, "https://evil.example").await;
    assert!(!refused.status().is_success());
    assert_eq!(cors_headers(&refused), Vec::<String>::new());

    // Only the API is open to other origins: not the admin pages (which a
    // signed-in admin's cookie reaches), probes or docs.
    for path in ["/admin/login", "/health", "/docs/"] {
        let res = app
            .client
            .get(app.url(path))
            .header("Origin", SHOP)
            .send()
            .await
            .unwrap();
        assert_eq!(cors_headers(&res), Vec::<String>::new(), "{path}");
    }
}

#[tokio::test]
async fn without_listed_origins_there_is_no_cors_at_all() {
    let app = spawn_app().await;
    let res = with_origin(&app, SHOP).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(cors_headers(&res), Vec::<String>::new());
    let pre = preflight(&app, SHOP).await;
    assert_eq!(cors_headers(&pre), Vec::<String>::new());
}
