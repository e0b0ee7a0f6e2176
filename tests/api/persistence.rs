//! Writes survive a restart: write, stop, reopen the same data dir, read.

use crate::helpers::{spawn_app, spawn_in};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn writes_survive_a_restart() {
    let app = spawn_app().await;
    app.admin(
        Method::POST,
        "/api/v1/brands",
        Some(json!({"id": "b1", "title": "Acme"})),
    )
    .await;
    app.admin(
        Method::POST,
        "/api/v1/categories",
        Some(json!({"id": "c1", "title": "Tools"})),
    )
    .await;
    let (status, created) = app
        .admin(
            Method::POST,
            "/api/v1/products",
            Some(json!({"id": "p1", "title": "Hammer", "price": 19.99, "brandId": "b1", "categoryIds": ["c1"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, list_before) = app
        .get_json("/api/v1/products?category=c1&minPrice=10")
        .await;
    let dir = app.stop().await;

    let app = spawn_in(dir, false).await;
    let (status, detail) = app.get_json("/api/v1/products/p1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail, created);
    let (_, list_after) = app
        .get_json("/api/v1/products?category=c1&minPrice=10")
        .await;
    assert_eq!(list_after, list_before);
    assert_eq!(list_after["meta"]["total"], 1);
}
