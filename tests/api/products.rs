//! Product reads: list filters, sorts, pagination, validation; detail; reviews.

use crate::helpers::{code, fields, ids, spawn_app_with_fixture};
use crate::reference::{RefFilter, Reference, SORTS};
use reqwest::StatusCode;

#[tokio::test]
async fn list_defaults_to_first_page_of_20_featured_first() {
    let app = spawn_app_with_fixture().await;
    let reference = Reference::load_fixture();
    let (status, body) = app.get_json("/api/v1/products").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["meta"],
        serde_json::json!({"page": 1, "limit": 20, "total": 1000, "totalPages": 50, "hasNext": true, "hasPrev": false})
    );
    assert_eq!(
        ids(&body),
        reference.ids(&RefFilter::default(), "featured", 0, 20)
    );
    assert_eq!(
        body["data"][0]["isFeatured"], true,
        "featured products come first"
    );
}

#[tokio::test]
async fn every_sort_matches_brute_force_on_first_middle_and_last_pages() {
    let app = spawn_app_with_fixture().await;
    let reference = Reference::load_fixture();
    for sort in SORTS {
        for (page, limit) in [(1, 20), (7, 30), (10, 100), (34, 30)] {
            let (status, body) = app
                .get_json(&format!(
                    "/api/v1/products?sort={sort}&page={page}&limit={limit}"
                ))
                .await;
            assert_eq!(status, StatusCode::OK);
            let expected = reference.ids(&RefFilter::default(), sort, (page - 1) * limit, limit);
            assert_eq!(
                ids(&body),
                expected,
                "sort={sort} page={page} limit={limit}"
            );
        }
    }
}

#[tokio::test]
async fn every_filter_and_combination_matches_brute_force() {
    let app = spawn_app_with_fixture().await;
    let reference = Reference::load_fixture();
    let dept = RefFilter {
        category: Some("cat-002".into()),
        ..Default::default()
    };
    let leaf = RefFilter {
        category: Some("cat-002-03".into()),
        ..Default::default()
    };
    let filters = vec![
        dept.clone(),
        leaf,
        RefFilter {
            brand: Some("brand-0003".into()),
            ..Default::default()
        },
        RefFilter {
            available: Some(true),
            ..Default::default()
        },
        RefFilter {
            available: Some(false),
            ..Default::default()
        },
        RefFilter {
            min: Some(5_000),
            ..Default::default()
        },
        RefFilter {
            max: Some(2_499),
            ..Default::default()
        },
        RefFilter {
            min: Some(1_050),
            max: Some(20_075),
            ..Default::default()
        },
        RefFilter {
            min: Some(14_95),
            max: Some(14_95),
            ..Default::default()
        },
        RefFilter {
            brand: Some("brand-0001".into()),
            available: Some(true),
            ..dept.clone()
        },
        RefFilter {
            min: Some(2_000),
            max: Some(90_000),
            available: Some(true),
            ..dept.clone()
        },
        RefFilter {
            category: Some("cat-001".into()),
            brand: Some("brand-0002".into()),
            available: Some(true),
            min: Some(1_000),
            max: Some(500_000),
        },
    ];
    for f in &filters {
        for sort in SORTS {
            let (status, body) = app
                .get_json(&format!(
                    "/api/v1/products?{}&sort={sort}&limit=100",
                    f.query_string()
                ))
                .await;
            assert_eq!(status, StatusCode::OK, "{f:?}");
            let all = reference.query(f, sort);
            assert_eq!(body["meta"]["total"], all.len(), "total for {f:?}");
            assert_eq!(
                ids(&body),
                reference.ids(f, sort, 0, 100),
                "{f:?} sort={sort}"
            );
            assert!(!all.is_empty(), "the fixture should exercise {f:?}");
        }
    }
}

/// Every id of a list query, following pages.
async fn all_ids(app: &crate::helpers::TestApp, query: &str) -> Vec<String> {
    let mut out = Vec::new();
    for page in 1.. {
        let (_, body) = app
            .get_json(&format!("/api/v1/products?{query}&limit=100&page={page}"))
            .await;
        let got = ids(&body);
        if got.is_empty() {
            return out;
        }
        out.extend(got);
    }
    out
}

#[tokio::test]
async fn a_category_filter_is_the_union_of_its_descendants() {
    let app = spawn_app_with_fixture().await;
    let (_, cat) = app.get_json("/api/v1/categories/cat-003").await;
    let children = cat["data"]["children"].as_array().unwrap();
    assert!(children.len() > 1);
    let mut union = std::collections::BTreeSet::new();
    for c in children {
        union.extend(all_ids(&app, &format!("category={}", c["id"].as_str().unwrap())).await);
    }
    let dept: std::collections::BTreeSet<String> = all_ids(&app, "category=cat-003")
        .await
        .into_iter()
        .collect();
    assert!(!dept.is_empty());
    assert_eq!(dept, union);
}

#[tokio::test]
async fn pagination_edges_last_page_and_past_the_end() {
    let app = spawn_app_with_fixture().await;
    let (_, last) = app.get_json("/api/v1/products?page=34&limit=30").await;
    assert_eq!(ids(&last).len(), 10);
    assert_eq!(last["meta"]["hasNext"], false);
    assert_eq!(last["meta"]["hasPrev"], true);
    assert_eq!(last["meta"]["totalPages"], 34);

    let (status, past) = app.get_json("/api/v1/products?page=99&limit=30").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ids(&past).is_empty());
    assert_eq!(
        past["meta"],
        serde_json::json!({"page": 99, "limit": 30, "total": 1000, "totalPages": 34, "hasNext": false, "hasPrev": true})
    );
}

#[tokio::test]
async fn out_of_range_values_are_422_listing_every_field() {
    let app = spawn_app_with_fixture().await;
    for (query, expected) in [
        ("limit=0", vec!["limit"]),
        ("limit=101", vec!["limit"]),
        ("page=0", vec!["page"]),
        ("page=-3", vec!["page"]),
        ("sort=cheapest", vec!["sort"]),
        ("minPrice=50&maxPrice=10", vec!["minPrice"]),
        ("minPrice=-1", vec!["minPrice"]),
        ("maxPrice=1.005", vec!["maxPrice"]),
        ("page=0&limit=500&sort=x", vec!["limit", "page", "sort"]),
    ] {
        let (status, body) = app.get_json(&format!("/api/v1/products?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(code(&body), "validation_failed", "{query}");
        assert_eq!(fields(&body), expected, "{query}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

#[tokio::test]
async fn unparseable_values_are_400() {
    let app = spawn_app_with_fixture().await;
    for query in [
        "page=abc",
        "limit=1.5",
        "isAvailable=maybe",
        "minPrice=cheap",
        "page=1&page=2",
        "page=%zz",
    ] {
        let (status, body) = app.get_json(&format!("/api/v1/products?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(code(&body), "invalid_query", "{query}");
    }
}

#[tokio::test]
async fn unknown_category_or_brand_gives_empty_200() {
    let app = spawn_app_with_fixture().await;
    for query in [
        "category=nope",
        "brand=nope",
        "category=bad%20id",
        "brand=%00",
        "category=cat-001&brand=nope",
    ] {
        let (status, body) = app.get_json(&format!("/api/v1/products?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(body["meta"]["total"], 0, "{query}");
        assert!(ids(&body).is_empty());
    }
}

#[tokio::test]
async fn list_items_have_the_documented_shape_and_rounded_rating() {
    let app = spawn_app_with_fixture().await;
    let reference = Reference::load_fixture();
    let (_, body) = app.get_json("/api/v1/products?sort=rating&limit=100").await;
    for item in body["data"].as_array().unwrap() {
        let keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut keys = keys;
        keys.sort();
        assert_eq!(
            keys,
            [
                "avgRating",
                "brand",
                "categories",
                "createdAt",
                "discount",
                "id",
                "image",
                "isAvailable",
                "isFeatured",
                "media",
                "price",
                "reviewCount",
                "stock",
                "title"
            ]
        );
        let brand_keys: Vec<&String> = item["brand"].as_object().unwrap().keys().collect();
        assert_eq!(brand_keys.len(), 3);
        assert!(item["categories"][0]["title"].is_string());
        let p = reference
            .products
            .iter()
            .find(|p| p.id == item["id"])
            .unwrap();
        assert_eq!(item["reviewCount"], p.count);
        let expected =
            (p.count > 0).then(|| ((p.sum as f64 / p.count as f64) * 10.0 + 1e-9).round() / 10.0);
        assert_eq!(item["avgRating"].as_f64(), expected, "{}", p.id);
    }
    // unrated products come last
    let (_, tail) = app
        .get_json("/api/v1/products?sort=rating&page=10&limit=100")
        .await;
    assert_eq!(tail["data"][99]["avgRating"], serde_json::Value::Null);
}

#[tokio::test]
async fn detail_has_every_stored_field_joins_and_ten_newest_reviews() {
    let app = spawn_app_with_fixture().await;
    let reference = Reference::load_fixture();
    let most_reviewed = reference
        .products
        .iter()
        .max_by_key(|p| (p.count, std::cmp::Reverse(p.id.clone())))
        .unwrap();
    assert!(most_reviewed.count > 10);
    let line = std::fs::read_to_string(crate::helpers::fixture_dir().join("products.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|p| p["id"] == most_reviewed.id.as_str())
        .unwrap();
    let (status, body) = app
        .get_json(&format!("/api/v1/products/{}", most_reviewed.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    let d = &body["data"];
    for (k, v) in line.as_object().unwrap() {
        assert_eq!(&d[k], v, "field {k}");
    }
    assert_eq!(d["brand"]["id"], line["brandId"]);
    assert!(d["brand"]["description"].is_string());
    assert_eq!(
        d["categories"].as_array().unwrap().len(),
        line["categoryIds"].as_array().unwrap().len()
    );
    assert!(d["categories"][0]["description"].is_string());
    assert_eq!(d["reviewCount"], most_reviewed.count);
    let reviews = d["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 10);
    let keys: Vec<(String, String)> = reviews
        .iter()
        .map(|r| {
            (
                r["createdAt"].as_str().unwrap().into(),
                r["id"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, sorted, "newest first, then id desc");
    assert!(reviews[0]["user"]["name"].is_string());
}

#[tokio::test]
async fn unknown_product_is_404_with_code() {
    let app = spawn_app_with_fixture().await;
    for path in [
        "/api/v1/products/nope",
        "/api/v1/products/nope/reviews",
        "/api/v1/products/%00x",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(code(&body), "not_found");
    }
}

#[tokio::test]
async fn reviews_are_paginated_newest_first_with_total() {
    let app = spawn_app_with_fixture().await;
    let reference = Reference::load_fixture();
    let p = reference.products.iter().max_by_key(|p| p.count).unwrap();
    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let (status, body) = app
            .get_json(&format!(
                "/api/v1/products/{}/reviews?page={page}&limit=3",
                p.id
            ))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["meta"]["total"], p.count);
        let data = body["data"].as_array().unwrap();
        if data.is_empty() {
            break;
        }
        seen.extend(data.iter().map(|r| {
            (
                r["createdAt"].as_str().unwrap().to_string(),
                r["id"].as_str().unwrap().to_string(),
            )
        }));
        page += 1;
    }
    assert_eq!(seen.len(), p.count as usize);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted);
    let (status, body) = app
        .get_json(&format!("/api/v1/products/{}/reviews?limit=0", p.id))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&body), ["limit"]);
}
