//! Brand and category reads.

use crate::helpers::{code, fields, ids, spawn_app_with_fixture};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn brands_are_paginated_by_title_then_id() {
    let app = spawn_app_with_fixture().await;
    let mut all: Vec<(String, String)> = Vec::new();
    for page in 1..=4 {
        let (status, body) = app
            .get_json(&format!("/api/v1/brands?page={page}&limit=20"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["meta"]["total"], 60);
        assert_eq!(body["meta"]["totalPages"], 3);
        for b in body["data"].as_array().unwrap() {
            assert!(b["description"].is_string() && b["logo"].is_string());
            all.push((
                b["title"].as_str().unwrap().into(),
                b["id"].as_str().unwrap().into(),
            ));
        }
    }
    assert_eq!(all.len(), 60);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    let (status, body) = app.get_json("/api/v1/brands?limit=101").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["limit"]);
}

#[tokio::test]
async fn brand_detail_and_404() {
    let app = spawn_app_with_fixture().await;
    let (status, body) = app.get_json("/api/v1/brands/brand-0001").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["id"], "brand-0001");
    assert!(body["data"]["title"].is_string());
    let (status, body) = app.get_json("/api/v1/brands/brand-9999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "not_found");
}

fn check_sorted(nodes: &Value, depth: usize, count: &mut usize) {
    let list = nodes.as_array().unwrap();
    let keys: Vec<(String, String)> = list
        .iter()
        .map(|c| {
            (
                c["title"].as_str().unwrap().into(),
                c["id"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "siblings by title then id at depth {depth}");
    for c in list {
        *count += 1;
        check_sorted(&c["children"], depth + 1, count);
    }
}

#[tokio::test]
async fn categories_come_as_a_sorted_tree() {
    let app = spawn_app_with_fixture().await;
    let (status, body) = app.get_json("/api/v1/categories").await;
    assert_eq!(status, StatusCode::OK);
    let roots = body["data"].as_array().unwrap();
    assert_eq!(roots.len(), 4);
    assert!(
        roots
            .iter()
            .all(|r| r["children"].as_array().unwrap().len() == 9)
    );
    let mut count = 0;
    check_sorted(&body["data"], 0, &mut count);
    assert_eq!(count, 40);
}

#[tokio::test]
async fn category_detail_shows_parent_and_children() {
    let app = spawn_app_with_fixture().await;
    let (status, body) = app.get_json("/api/v1/categories/cat-002").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["parentId"], Value::Null);
    assert_eq!(body["data"]["children"].as_array().unwrap().len(), 9);
    let (_, leaf) = app.get_json("/api/v1/categories/cat-002-01").await;
    assert_eq!(leaf["data"]["parentId"], "cat-002");
    assert_eq!(leaf["data"]["children"], serde_json::json!([]));
    let (status, body) = app.get_json("/api/v1/categories/none").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "not_found");
    // the list filter agrees with the tree
    let (_, products) = app.get_json("/api/v1/products?category=cat-002-01").await;
    assert!(!ids(&products).is_empty());
}
