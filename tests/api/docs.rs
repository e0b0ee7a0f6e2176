//! The contract is served: `/api/v1/openapi.json` lists every documented
//! route of the table, and Swagger UI at `/docs/` needs nothing from the
//! network.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use shopd::api::routes::ROUTES;

#[tokio::test]
async fn openapi_json_lists_every_documented_route_of_the_table() {
    let app = spawn_app().await;
    let (status, doc) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for r in ROUTES {
        let op = &doc["paths"][r.pattern][r.verb.as_str().to_lowercase()];
        assert_eq!(
            op.is_null(),
            r.doc.hidden,
            "{} {}",
            r.verb.as_str(),
            r.pattern
        );
    }
    assert!(doc["components"]["schemas"]["ErrorEnvelope"].is_object());
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary_with_no_outside_urls() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()["location"], "/docs/");

    let page = app.get("/docs/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.ends_with(".js") || s.ends_with(".css") || s.ends_with(".png"))
        .collect();
    assert!(assets.len() >= 5, "{html}");
    for asset in assets {
        assert!(!asset.contains("//"), "{asset} is not served by shopd");
        let name = asset.trim_start_matches("./");
        let res = app.get(&format!("/docs/{name}")).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        let body = res.text().await.unwrap_or_default();
        if name == "swagger-initializer.js" {
            assert!(body.contains("/api/v1/openapi.json"), "{body}");
            assert!(
                !body.contains("http://") && !body.contains("https://"),
                "{body}"
            );
        }
    }
}

#[tokio::test]
async fn a_wrong_method_lists_the_allowed_ones() {
    let app = spawn_app().await;
    let res = app
        .client
        .put(app.url("/api/v1/products/p1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET, PATCH, DELETE");
}
