//! Admin writes: auth, validation, conflicts, limits, and that reads follow.

use crate::helpers::{BODY_LIMIT, TOKEN, code, fields, ids, spawn_app, spawn_app_with_fixture};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn lamp() -> Value {
    json!({
        "id": "lamp-1",
        "title": "Ergonomic Steel Desk Lamp X200",
        "description": "Bright.",
        "images": ["https://img/1.jpg", "https://img/2.jpg"],
        "keywords": ["lamp"],
        "price": 129.99,
        "discount": 0.1,
        "stock": 5,
        "isPhysical": true,
        "isAvailable": true,
        "isFeatured": true,
        "brandId": "brand-0001",
        "categoryIds": ["cat-002-01"]
    })
}

#[tokio::test]
async fn writes_need_the_admin_token() {
    let app = spawn_app_with_fixture().await;
    let no_token = app
        .client
        .post(app.url("/api/v1/products"))
        .json(&lamp())
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(no_token.headers()["www-authenticate"], "Bearer");
    let body: Value = no_token.json().await.unwrap();
    assert_eq!(code(&body), "unauthorized");
    for (method, path) in [
        (Method::POST, "/api/v1/products"),
        (Method::PATCH, "/api/v1/products/prod-000001"),
        (Method::DELETE, "/api/v1/products/prod-000001"),
        (Method::POST, "/api/v1/brands"),
        (Method::DELETE, "/api/v1/brands/brand-0001"),
        (Method::PATCH, "/api/v1/categories/cat-001"),
        (Method::POST, "/api/v1/products/prod-000001/reviews"),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth("wrong-token")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    // nothing changed
    let (status, _) = app.get_json("/api/v1/products/prod-000001").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn create_product_returns_201_and_reads_follow() {
    let app = spawn_app_with_fixture().await;
    let res = app
        .client
        .post(app.url("/api/v1/products"))
        .bearer_auth(TOKEN)
        .json(&lamp())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["location"], "/api/v1/products/lamp-1");
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["data"]["price"], 129.99);
    assert_eq!(created["data"]["brand"]["id"], "brand-0001");
    assert_eq!(created["data"]["reviewCount"], 0);
    assert_eq!(created["data"]["avgRating"], Value::Null);

    let (_, detail) = app.get_json("/api/v1/products/lamp-1").await;
    assert_eq!(detail, created);
    let (_, list) = app.get_json("/api/v1/products?sort=newest&limit=1").await;
    assert_eq!(ids(&list), ["lamp-1"]);
    assert_eq!(list["meta"]["total"], 1001);
    let (_, cat) = app
        .get_json("/api/v1/products?category=cat-002&limit=100&minPrice=129.99&maxPrice=129.99")
        .await;
    assert!(ids(&cat).contains(&"lamp-1".to_string()));

    // without an id, one is generated
    let mut no_id = lamp();
    no_id.as_object_mut().unwrap().remove("id");
    let (status, body) = app
        .admin(Method::POST, "/api/v1/products", Some(no_id))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(body["data"]["id"].as_str().unwrap().starts_with("p_"));
}

#[tokio::test]
async fn invalid_product_lists_every_bad_field_and_writes_nothing() {
    let app = spawn_app_with_fixture().await;
    let bad = json!({
        "title": "  ",
        "price": -1,
        "discount": 1.5,
        "stock": "many",
        "images": "not-a-list",
        "isFeatured": "yes",
        "categoryIds": ["cat-001", "cat-001"],
        "createdAt": "2020-01-01T00:00:00Z",
        "colour": "red"
    });
    let (status, body) = app.admin(Method::POST, "/api/v1/products", Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code(&body), "validation_failed");
    assert_eq!(
        fields(&body),
        [
            "brandId",
            "categoryIds",
            "colour",
            "createdAt",
            "discount",
            "images",
            "isFeatured",
            "price",
            "stock",
            "title"
        ]
    );
    for f in body["error"]["fields"].as_array().unwrap() {
        assert!(!f["reason"].as_str().unwrap().is_empty());
    }

    let mut unknown_refs = lamp();
    unknown_refs["brandId"] = json!("brand-nope");
    unknown_refs["categoryIds"] = json!(["cat-001", "cat-nope"]);
    let (status, body) = app
        .admin(Method::POST, "/api/v1/products", Some(unknown_refs))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(fields(&body), ["brandId", "categoryIds"]);

    let (_, list) = app.get_json("/api/v1/products").await;
    assert_eq!(list["meta"]["total"], 1000, "nothing was written");
    let (status, _) = app.get_json("/api/v1/products/lamp-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn malformed_bodies_are_400_and_oversized_413() {
    let app = spawn_app_with_fixture().await;
    for body in ["{\"title\": ", "[1,2]", "", "null"] {
        let res = app
            .client
            .post(app.url("/api/v1/products"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body:?}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(code(&v), "malformed_json");
    }
    let mut big = lamp();
    big["description"] = json!("x".repeat(BODY_LIMIT + 10));
    let (status, body) = app.admin(Method::POST, "/api/v1/products", Some(big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(code(&body), "payload_too_large");
}

#[tokio::test]
async fn duplicate_ids_are_409() {
    let app = spawn_app_with_fixture().await;
    let mut p = lamp();
    p["id"] = json!("prod-000001");
    let (status, body) = app.admin(Method::POST, "/api/v1/products", Some(p)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&body), "duplicate_id");
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/brands",
            Some(json!({"id": "brand-0001", "title": "Again"})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "duplicate_id")
    );
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/categories",
            Some(json!({"id": "cat-001", "title": "Again"})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "duplicate_id")
    );
}

#[tokio::test]
async fn patch_changes_fields_and_every_index_follows() {
    let app = spawn_app_with_fixture().await;
    let (status, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/products/prod-000010",
            Some(json!({"price": 0.01, "isAvailable": false, "isFeatured": true, "brandId": "brand-0002", "categoryIds": ["cat-004-02"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["price"], 0.01);
    assert_ne!(body["data"]["updatedAt"], body["data"]["createdAt"]);
    let (_, cheapest) = app
        .get_json("/api/v1/products?sort=price_asc&limit=1&isAvailable=false")
        .await;
    assert_eq!(ids(&cheapest), ["prod-000010"]);
    let (_, in_brand) = app
        .get_json("/api/v1/products?brand=brand-0002&category=cat-004&limit=100")
        .await;
    assert!(ids(&in_brand).contains(&"prod-000010".to_string()));
    // Now unavailable and featured: among unavailable products in the
    // featured order it comes before every product that is not featured.
    let (_, unavailable) = app
        .get_json("/api/v1/products?isAvailable=false&sort=featured&limit=100")
        .await;
    let items = unavailable["data"].as_array().unwrap();
    let pos = items
        .iter()
        .position(|p| p["id"] == "prod-000010")
        .expect("listed among unavailable products");
    assert_eq!(items[pos]["isFeatured"], true);
    assert_eq!(items[pos]["isAvailable"], false);
    assert!(
        items[..pos].iter().all(|p| p["isFeatured"] == true),
        "only featured products come before it"
    );
    assert!(
        items.iter().any(|p| p["isFeatured"] == false),
        "the fixture has unavailable products that are not featured"
    );
    let (_, detail) = app.get_json("/api/v1/products/prod-000010").await;
    assert_eq!(
        (
            &detail["data"]["isFeatured"],
            &detail["data"]["isAvailable"]
        ),
        (&json!(true), &json!(false))
    );
    let (_, available) = app
        .get_json("/api/v1/products?isAvailable=true&sort=price_asc&limit=5")
        .await;
    assert!(!ids(&available).contains(&"prod-000010".to_string()));

    let (status, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/products/prod-000010",
            Some(json!({"id": "x", "price": "free"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["id", "price"]);
    let (status, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/products/missing",
            Some(json!({"price": 1})),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn delete_product_removes_it_and_its_reviews() {
    let app = spawn_app_with_fixture().await;
    let (_, before) = app.get_json("/api/v1/products/prod-000005").await;
    assert!(before["data"]["reviewCount"].as_u64().unwrap() > 0);
    let (status, _) = app
        .admin(Method::DELETE, "/api/v1/products/prod-000005", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get_json("/api/v1/products/prod-000005").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get_json("/api/v1/products/prod-000005/reviews").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get_json("/api/v1/products?limit=100&sort=rating").await;
    assert_eq!(list["meta"]["total"], 999);
    assert!(!ids(&list).contains(&"prod-000005".to_string()));
    let (status, _) = app
        .admin(Method::DELETE, "/api/v1/products/prod-000005", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn reviews_update_the_aggregate_and_rating_order() {
    let app = spawn_app_with_fixture().await;
    let (s, _) = app
        .admin(
            Method::POST,
            "/api/v1/brands",
            Some(json!({"id": "rated", "title": "Rated"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // Ratings per new product, and the order `sort=rating` must give:
    // higher exact mean first, more reviews first on a tie, unrated last.
    let plan: [(&str, &[u32]); 5] = [
        ("r-a", &[5, 4]),    // 4.5
        ("r-b", &[5]),       // 5.0
        ("r-c", &[3, 4, 4]), // 3.67, shown 3.7
        ("r-d", &[]),        // unrated
        ("r-e", &[4, 5]),    // 4.5, a tie with r-a
    ];
    for (id, ratings) in plan {
        let (s, body) = app
            .admin(
                Method::POST,
                "/api/v1/products",
                Some(json!({"id": id, "title": id, "price": 1, "brandId": "rated"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        for rating in ratings {
            let (s, body) = app
                .admin(
                    Method::POST,
                    &format!("/api/v1/products/{id}/reviews"),
                    Some(json!({"userId": "user-00001", "rating": rating, "text": "ok"})),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{body}");
        }
    }
    // One more five on r-e: 14/3 = 4.67, now above r-a.
    app.admin(
        Method::POST,
        "/api/v1/products/r-e/reviews",
        Some(json!({"userId": "user-00002", "rating": 5})),
    )
    .await;
    for (id, count, avg) in [
        ("r-a", 2, json!(4.5)),
        ("r-b", 1, json!(5.0)),
        ("r-c", 3, json!(3.7)),
        ("r-d", 0, Value::Null),
        ("r-e", 3, json!(4.7)),
    ] {
        let (_, detail) = app.get_json(&format!("/api/v1/products/{id}")).await;
        assert_eq!(detail["data"]["reviewCount"], count, "{id}: {detail}");
        assert_eq!(detail["data"]["avgRating"], avg, "{id}: {detail}");
    }
    let (_, list) = app
        .get_json("/api/v1/products?brand=rated&sort=rating&limit=10")
        .await;
    assert_eq!(ids(&list), ["r-b", "r-e", "r-a", "r-c", "r-d"]);
}

#[tokio::test]
async fn reviews_are_refused_for_unknown_users_products_and_ratings() {
    let app = spawn_app().await;
    app.admin(
        Method::POST,
        "/api/v1/brands",
        Some(json!({"id": "b", "title": "B"})),
    )
    .await;
    for id in ["p1", "p2"] {
        let (s, _) = app
            .admin(
                Method::POST,
                "/api/v1/products",
                Some(json!({"id": id, "title": id, "price": 1, "brandId": "b"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    // no users yet: a review needs an existing user
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/products/p1/reviews",
            Some(json!({"userId": "u1", "rating": 5, "text": "great"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(fields(&body), ["userId"]);
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/products/p1/reviews",
            Some(json!({"userId": "u1", "rating": 6})),
        )
        .await;
    // What is wrong with the draft itself comes first (422); the records
    // it names are looked up only in a well-formed one (404).
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["rating"]);
    let (status, _) = app
        .admin(
            Method::POST,
            "/api/v1/products/nope/reviews",
            Some(json!({"userId": "u1", "rating": 4})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn posting_reviews_moves_products_in_the_rating_sort() {
    let app = spawn_app_with_fixture().await;
    let (_, before) = app.get_json("/api/v1/products/prod-000002").await;
    let count = before["data"]["reviewCount"].as_u64().unwrap();
    for _ in 0..40 {
        let (status, body) = app
            .admin(
                Method::POST,
                "/api/v1/products/prod-000002/reviews",
                Some(json!({"userId": "user-00001", "rating": 5, "text": "Superb"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["data"]["user"]["id"], "user-00001");
    }
    let (_, after) = app.get_json("/api/v1/products/prod-000002").await;
    assert_eq!(after["data"]["reviewCount"].as_u64().unwrap(), count + 40);
    assert_eq!(after["data"]["reviews"][0]["text"], "Superb");
    let (_, top) = app.get_json("/api/v1/products?sort=rating&limit=100").await;
    let pos = ids(&top).iter().position(|id| id == "prod-000002");
    assert!(pos.is_some(), "40 five-star reviews put it near the top");
}

#[tokio::test]
async fn brand_rename_shows_in_products_and_in_use_brand_cannot_be_deleted() {
    let app = spawn_app_with_fixture().await;
    let (status, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/brands/brand-0001",
            Some(json!({"title": "Renamed"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["title"], "Renamed");
    let (_, list) = app
        .get_json("/api/v1/products?brand=brand-0001&limit=1")
        .await;
    assert_eq!(list["data"][0]["brand"]["title"], "Renamed");
    let (_, brands) = app.get_json("/api/v1/brands?limit=100").await;
    let titles: Vec<&str> = brands["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["title"].as_str().unwrap())
        .collect();
    let mut sorted = titles.clone();
    sorted.sort();
    assert_eq!(titles, sorted, "the title index follows the rename");

    let (status, body) = app
        .admin(Method::DELETE, "/api/v1/brands/brand-0001", None)
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "in_use"));
    let (status, _) = app
        .admin(
            Method::POST,
            "/api/v1/brands",
            Some(json!({"id": "lonely", "title": "Lonely", "logo": null})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .admin(Method::DELETE, "/api/v1/brands/lonely", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get_json("/api/v1/brands/lonely").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn moving_a_category_moves_its_products_between_ancestors() {
    let app = spawn_app_with_fixture().await;
    let (_, leaf) = app
        .get_json("/api/v1/products?category=cat-001-01&limit=100")
        .await;
    let moved = ids(&leaf);
    assert!(!moved.is_empty());
    let (_, old_parent_before) = app.get_json("/api/v1/products?category=cat-001").await;
    let (_, new_parent_before) = app.get_json("/api/v1/products?category=cat-002").await;

    let (status, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/categories/cat-001-01",
            Some(json!({"parentId": "cat-002"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["parentId"], "cat-002");

    let (_, new_parent) = app
        .get_json("/api/v1/products?category=cat-002&limit=100&page=1")
        .await;
    let (_, old_parent) = app.get_json("/api/v1/products?category=cat-001").await;
    let new_total = new_parent["meta"]["total"].as_u64().unwrap();
    let old_total = old_parent["meta"]["total"].as_u64().unwrap();
    assert!(new_total > new_parent_before["meta"]["total"].as_u64().unwrap());
    assert!(old_total < old_parent_before["meta"]["total"].as_u64().unwrap());
    let (_, tree) = app.get_json("/api/v1/categories/cat-002").await;
    assert!(
        tree["data"]["children"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "cat-001-01")
    );

    // a cycle is refused
    let (status, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/categories/cat-002",
            Some(json!({"parentId": "cat-001-01"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["parentId"]);
    let (status, _) = app
        .admin(
            Method::PATCH,
            "/api/v1/categories/cat-002",
            Some(json!({"parentId": "cat-002"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn categories_in_use_or_with_children_cannot_be_deleted() {
    let app = spawn_app_with_fixture().await;
    let (status, body) = app
        .admin(Method::DELETE, "/api/v1/categories/cat-001", None)
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "in_use"));
    let (status, body) = app
        .admin(Method::DELETE, "/api/v1/categories/cat-001-01", None)
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "in_use"));
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/categories",
            Some(json!({"title": "Empty", "parentId": "cat-001"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/categories",
            Some(json!({"title": "Orphan", "parentId": "nope"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(fields(&body), ["parentId"]);
    let (status, _) = app
        .admin(Method::DELETE, &format!("/api/v1/categories/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, tree) = app.get_json("/api/v1/categories/cat-001").await;
    assert_eq!(tree["data"]["children"].as_array().unwrap().len(), 9);
}

#[tokio::test]
async fn image_and_logo_links_are_http_or_relative() {
    let app = spawn_app_with_fixture().await;
    for bad in [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:x",
    ] {
        let mut body = lamp();
        body["images"] = json!([bad]);
        let (status, v) = app
            .admin(Method::POST, "/api/v1/products", Some(body))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        let (status, v) = app
            .admin(
                Method::POST,
                "/api/v1/brands",
                Some(json!({"id": "b-js", "title": "JS", "logo": bad})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
    }
    let mut body = lamp();
    body["images"] = json!(["https://cdn.example.com/lamp.jpg", "/media/lamp-2.jpg"]);
    let (status, v) = app
        .admin(Method::POST, "/api/v1/products", Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
}
