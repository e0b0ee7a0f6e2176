//! Concurrent writers racing on the same records, over HTTP: every write
//! goes through the one writer, so each answer must be one a serial order
//! of the writes could have given, and the indexes, counters and
//! aggregates must agree with the records afterwards.

use crate::helpers::{TOKEN, TestApp, code, ids, spawn_app_with_fixture};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

/// Sends every `(method, path, body)` at once as admin; the answers in the
/// order given.
async fn all_at_once(
    app: &TestApp,
    calls: Vec<(Method, String, Value)>,
) -> Vec<(StatusCode, Value)> {
    let mut set = JoinSet::new();
    for (i, (method, path, body)) in calls.into_iter().enumerate() {
        let req = app
            .client
            .request(method, app.url(&path))
            .bearer_auth(TOKEN)
            .json(&body);
        set.spawn(async move {
            let res = req.send().await.expect("request sent");
            let status = res.status();
            let text = res.text().await.unwrap();
            (
                i,
                status,
                serde_json::from_str(&text).unwrap_or(Value::Null),
            )
        });
    }
    let mut out: Vec<_> = set.join_all().await;
    out.sort_by_key(|(i, ..)| *i);
    out.into_iter().map(|(_, s, v)| (s, v)).collect()
}

async fn total(app: &TestApp, query: &str) -> u64 {
    let (status, body) = app.get_json(&format!("/api/v1/products?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["meta"]["total"].as_u64().unwrap()
}

#[tokio::test]
async fn concurrent_patches_of_one_product_never_mix_fields() {
    let app = spawn_app_with_fixture().await;
    let path = "/api/v1/products/prod-000003";
    // PATCH i sets title "Race i" and price 100 + i: a product whose title
    // and price come from two different PATCHes would be a torn write.
    let calls = (0..24)
        .map(|i| {
            let body = json!({"title": format!("Race {i}"), "price": 100 + i});
            (Method::PATCH, path.to_string(), body)
        })
        .collect();
    for (status, body) in all_at_once(&app, calls).await {
        assert_eq!(status, StatusCode::OK, "{body}");
        let i: u64 = body["data"]["title"].as_str().unwrap()[5..]
            .parse()
            .unwrap();
        assert_eq!(
            body["data"]["price"].as_f64(),
            Some((100 + i) as f64),
            "its own answer"
        );
    }
    let (_, detail) = app.get_json(path).await;
    let title = detail["data"]["title"].as_str().unwrap();
    let i: u64 = title[5..].parse().unwrap();
    let price = 100 + i;
    assert_eq!(
        detail["data"]["price"].as_f64(),
        Some(price as f64),
        "{detail}"
    );
    // The price index holds the product at its final price only.
    let at = |p: u64| format!("minPrice={p}&maxPrice={p}&limit=100");
    let (_, listed) = app
        .get_json(&format!("/api/v1/products?{}", at(price)))
        .await;
    assert!(
        ids(&listed).contains(&"prod-000003".to_string()),
        "{listed}"
    );
    let (_, range) = app
        .get_json("/api/v1/products?minPrice=100&maxPrice=123&limit=100")
        .await;
    let listed_here: Vec<String> = ids(&range)
        .into_iter()
        .filter(|id| id == "prod-000003")
        .collect();
    assert_eq!(listed_here.len(), 1, "listed once, not once per PATCH");
}

#[tokio::test]
async fn concurrent_creates_of_one_id_make_exactly_one_product() {
    let app = spawn_app_with_fixture().await;
    let before = total(&app, "limit=1").await;
    let brand_before = total(&app, "brand=brand-0003&limit=1").await;
    let calls = (0..20)
        .map(|i| {
            let body = json!({"id": "twin", "title": format!("Twin {i}"), "price": 5, "brandId": "brand-0003"});
            (Method::POST, "/api/v1/products".to_string(), body)
        })
        .collect();
    let answers = all_at_once(&app, calls).await;
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    for (status, body) in &answers {
        if *status != StatusCode::CREATED {
            assert_eq!(
                (*status, code(body)),
                (StatusCode::CONFLICT, "duplicate_id")
            );
        }
    }
    let (_, detail) = app.get_json("/api/v1/products/twin").await;
    assert_eq!(detail["data"]["title"], created[0]["data"]["title"]);
    assert_eq!(total(&app, "limit=1").await, before + 1);
    assert_eq!(
        total(&app, "brand=brand-0003&limit=1").await,
        brand_before + 1
    );
}

#[tokio::test]
async fn a_category_moved_during_product_writes_takes_all_its_products() {
    let app = spawn_app_with_fixture().await;
    for (id, parent) in [
        ("race-a", None),
        ("race-b", None),
        ("race-c", Some("race-a")),
    ] {
        let (s, body) = app
            .admin(
                Method::POST,
                "/api/v1/categories",
                Some(json!({"id": id, "title": id, "parentId": parent})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
    // 30 products created into race-c while race-c moves back and forth
    // between race-a and race-b, ending under race-b.
    let mut calls: Vec<(Method, String, Value)> = (0..30)
        .map(|i| {
            let body = json!({"id": format!("moved-{i:02}"), "title": "Moved", "price": 3,
                              "brandId": "brand-0001", "categoryIds": ["race-c"]});
            (Method::POST, "/api/v1/products".to_string(), body)
        })
        .collect();
    for parent in ["race-b", "race-a", "race-b", "race-a"] {
        calls.insert(
            calls.len() / 2,
            (
                Method::PATCH,
                "/api/v1/categories/race-c".into(),
                json!({"parentId": parent}),
            ),
        );
    }
    for (status, body) in all_at_once(&app, calls).await {
        assert!(status.is_success(), "{status} {body}");
    }
    let (s, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/categories/race-c",
            Some(json!({"parentId": "race-b"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(total(&app, "category=race-c&limit=1").await, 30);
    assert_eq!(total(&app, "category=race-b&limit=1").await, 30);
    assert_eq!(total(&app, "category=race-a&limit=1").await, 0);
}

#[tokio::test]
async fn concurrent_reviews_keep_the_aggregate_exact() {
    let app = spawn_app_with_fixture().await;
    let path = "/api/v1/products/prod-000004";
    let (_, before) = app.get_json(path).await;
    let count = before["data"]["reviewCount"].as_u64().unwrap();
    let (_, reviews) = app.get_json(&format!("{path}/reviews?limit=100")).await;
    assert!(count <= 100, "the fixture product has few reviews");
    let sum: u64 = reviews["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rating"].as_u64().unwrap())
        .sum();
    let ratings: Vec<u64> = (0..50).map(|i| 1 + i % 5).collect();
    let calls = ratings
        .iter()
        .map(|r| {
            (
                Method::POST,
                format!("{path}/reviews"),
                json!({"userId": "user-00003", "rating": r}),
            )
        })
        .collect();
    for (status, body) in all_at_once(&app, calls).await {
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (n, s) = (count + 50, sum + ratings.iter().sum::<u64>());
    let (_, after) = app.get_json(path).await;
    assert_eq!(after["data"]["reviewCount"], n);
    // The mean rounded half up to one decimal, as `RatingSummary::average`.
    let tenths = (s * 20 + n) / (2 * n);
    assert_eq!(after["data"]["avgRating"], json!(tenths as f64 / 10.0));
}
