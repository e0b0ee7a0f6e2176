//! The response cache seen from outside: a read after an acknowledged write
//! never shows the old value, concurrent cold requests compute once, warm-up
//! fills the first pages, and /metrics tells hits, misses and storage lookups.

use crate::helpers::{TOKEN, sample, spawn_app_with_fixture, spawn_fixture_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const DETAIL: &str = "/api/v1/products/prod-000001";

async fn cache_stat(app: &crate::helpers::TestApp, what: &str, kind: &str) -> f64 {
    app.metric(&format!("shopd_cache_{what}_total{{kind=\"{kind}\"}}"))
        .await
}

#[tokio::test]
async fn reads_after_a_write_never_show_the_old_value() {
    let app = spawn_app_with_fixture().await;
    let brand = app.get_json(DETAIL).await.1["data"]["brandId"]
        .as_str()
        .unwrap()
        .to_string();
    let list = format!("/api/v1/products?brand={brand}&sort=price_asc&limit=100");
    for round in 0..5 {
        // Both reads are cached before the write.
        for _ in 0..2 {
            assert_eq!(app.get(DETAIL).await.status(), StatusCode::OK);
            assert_eq!(app.get(&list).await.status(), StatusCode::OK);
        }
        let title = format!("Cached Title {round}");
        let price = 0.01 * (round + 1) as f64;
        let (s, _) = app
            .admin(
                Method::PATCH,
                DETAIL,
                Some(json!({"title": title, "price": price})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, d) = app.get_json(DETAIL).await;
        assert_eq!(d["data"]["title"], title, "detail after PATCH");
        let (_, l) = app.get_json(&list).await;
        // The cheapest product of its brand now, so first in price order.
        assert_eq!(l["data"][0]["id"], "prod-000001", "list after PATCH");
        assert_eq!(l["data"][0]["title"], title);

        // A brand rename shows inside the product and the list.
        let brand_title = format!("Renamed Brand {round}");
        let (s, _) = app
            .admin(
                Method::PATCH,
                &format!("/api/v1/brands/{brand}"),
                Some(json!({"title": brand_title})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, d) = app.get_json(DETAIL).await;
        assert_eq!(d["data"]["brand"]["title"], brand_title, "detail brand");
        let (_, l) = app.get_json(&list).await;
        assert_eq!(l["data"][0]["brand"]["title"], brand_title, "list brand");
        let (_, b) = app.get_json(&format!("/api/v1/brands/{brand}")).await;
        assert_eq!(b["data"]["title"], brand_title, "brand detail");
    }
    // The cache was really in the way: reads were served from it.
    assert!(cache_stat(&app, "hits", "product_detail").await >= 5.0);
    assert!(cache_stat(&app, "hits", "product_list").await >= 5.0);
}

#[tokio::test]
async fn a_review_and_a_delete_reach_every_cached_view() {
    let app = spawn_app_with_fixture().await;
    let reviews = format!("{DETAIL}/reviews?limit=100");
    let by_rating = "/api/v1/products?sort=rating&limit=100";
    let count = |v: &Value| v["meta"]["total"].as_u64().unwrap();
    let (_, before) = app.get_json(&reviews).await;
    app.get(by_rating).await;
    app.get(DETAIL).await;
    let user = crate::helpers::fixture_lines("users.jsonl")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _) = app
        .admin(
            Method::POST,
            &format!("{DETAIL}/reviews"),
            Some(json!({"userId": user, "rating": 5, "text": "cache test"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, after) = app.get_json(&reviews).await;
    assert_eq!(count(&after), count(&before) + 1, "reviews page");
    let (_, d) = app.get_json(DETAIL).await;
    assert_eq!(
        d["data"]["reviewCount"].as_u64().unwrap(),
        count(&after),
        "detail rating"
    );

    let (s, _) = app.admin(Method::DELETE, DETAIL, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.get(DETAIL).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(&reviews).await.status(), StatusCode::NOT_FOUND);
    let (_, l) = app.get_json(by_rating).await;
    assert!(
        !crate::helpers::ids(&l).contains(&"prod-000001".to_string()),
        "deleted product still listed"
    );
}

/// Readers hammer one product while a writer bumps a counter in its title;
/// every read that starts after a PATCH was acknowledged shows that PATCH or
/// a later one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_readers_never_go_back_past_an_acknowledged_write() {
    let app = spawn_app_with_fixture().await;
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(-1));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (client, url) = (app.client.clone(), app.url(DETAIL));
        let (acked, stop) = (acked.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let floor = acked.load(std::sync::atomic::Ordering::SeqCst);
                let v: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
                let title = v["data"]["title"].as_str().unwrap();
                let seen = title
                    .strip_prefix("Version ")
                    .map_or(-1, |n| n.parse::<i64>().unwrap());
                assert!(
                    seen >= floor,
                    "read '{title}' after version {floor} was acked"
                );
                reads += 1;
            }
            reads
        }));
    }
    for version in 0..30 {
        let res = app
            .client
            .patch(app.url(DETAIL))
            .bearer_auth(TOKEN)
            .json(&json!({"title": format!("Version {version}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        acked.store(version, std::sync::atomic::Ordering::SeqCst);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut reads = 0;
    for r in readers {
        reads += r.await.unwrap();
    }
    assert!(reads > 30, "readers ran ({reads} reads)");
}

/// Waits until the start-up warm-up (`Catalog::warm_up`) has finished:
/// the category tree is the last body it renders. Until then its own misses
/// would count with a test's.
async fn wait_for_warm_up(app: &crate::helpers::TestApp) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.metric("shopd_cache_entries{kind=\"categories\"}").await < 1.0 {
        assert!(Instant::now() < deadline, "warm-up did not finish in 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn one_hundred_concurrent_cold_requests_compute_once() {
    let app = spawn_app_with_fixture().await;
    wait_for_warm_up(&app).await;
    for (kind, path) in [
        ("search", "/api/v1/search?q=knife+marble&limit=50"),
        (
            "product_list",
            "/api/v1/products?sort=newest&page=3&limit=100",
        ),
    ] {
        let misses = cache_stat(&app, "misses", kind).await;
        let hits = cache_stat(&app, "hits", kind).await;
        let bodies = concurrent_gets(&app.client, app.url(path), 100).await;
        let first = &bodies[0];
        assert!(bodies.iter().all(|b| b == first), "{kind}: one answer");
        assert_eq!(
            cache_stat(&app, "misses", kind).await - misses,
            1.0,
            "{kind}"
        );
        assert_eq!(cache_stat(&app, "hits", kind).await - hits, 99.0, "{kind}");
    }
}

/// Sends `n` GETs of `url` at once; returns the bodies (each checked 200).
async fn concurrent_gets(client: &reqwest::Client, url: String, n: usize) -> Vec<String> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (client, url) = (client.clone(), url.clone());
        set.spawn(async move {
            let res = client.get(url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            res.text().await.unwrap()
        });
    }
    set.join_all().await
}

#[tokio::test]
async fn search_follows_a_write_within_a_second() {
    let app = spawn_app_with_fixture().await;
    let path = "/api/v1/search?q=zephyrine";
    let (_, v) = app.get_json(path).await;
    assert_eq!(v["meta"]["total"], 0);
    app.get(path).await; // cached, with no hits
    let (s, _) = app
        .admin(
            Method::PATCH,
            DETAIL,
            Some(json!({"title": "Zephyrine Knife"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let start = Instant::now();
    loop {
        let (_, v) = app.get_json(path).await;
        if v["meta"]["total"] == 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "not found after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn warm_up_fills_first_pages_in_the_background() {
    let app = spawn_app_with_fixture().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    // The warm-up fills the five first list pages, then the 100 first
    // featured products' details (the fixture has more than 100).
    while app
        .metric("shopd_cache_entries{kind=\"product_list\"}")
        .await
        < 5.0
        || app
            .metric("shopd_cache_entries{kind=\"product_detail\"}")
            .await
            < 100.0
    {
        assert!(Instant::now() < deadline, "warm-up did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let misses = cache_stat(&app, "misses", "product_list").await;
    for sort in ["featured", "newest", "price_asc", "price_desc", "rating"] {
        let path = format!("/api/v1/products?sort={sort}");
        assert_eq!(app.get(&path).await.status(), StatusCode::OK);
    }
    // The plain first page, written the long way, is the same entry.
    app.get("/api/v1/products?page=1&limit=20&sort=featured")
        .await;
    assert_eq!(
        cache_stat(&app, "misses", "product_list").await,
        misses,
        "first pages were warm"
    );
    let (_, featured) = app.get_json("/api/v1/products?limit=5").await;
    let misses = cache_stat(&app, "misses", "product_detail").await;
    for id in crate::helpers::ids(&featured) {
        app.get(&format!("/api/v1/products/{id}")).await;
    }
    assert_eq!(cache_stat(&app, "misses", "product_detail").await, misses);
}

#[tokio::test]
async fn metrics_count_requests_and_storage_lookups_per_request() {
    let app = spawn_app_with_fixture().await;
    let route = "/api/v1/products/{id}/reviews";
    let path = format!("{DETAIL}/reviews?page=2&limit=3");
    for _ in 0..3 {
        assert_eq!(app.get(&path).await.status(), StatusCode::OK);
    }
    app.get("/api/v1/products/nope").await;
    let text = app.metrics().await;
    let lookups = |le: &str| {
        sample(
            &text,
            &format!("shopd_storage_lookups_per_request_bucket{{le=\"{le}\",route=\"{route}\"}}"),
        )
    };
    let requests = sample(
        &text,
        &format!("shopd_http_requests_total{{route=\"{route}\",method=\"GET\",status=\"200\"}}"),
    );
    assert_eq!(requests, 3.0, "{text}");
    assert_eq!(lookups("0.0"), 2.0, "two hits read nothing:\n{text}");
    assert_eq!(lookups("2.0"), 3.0, "the miss read at most 2:\n{text}");
    assert_eq!(
        sample(
            &text,
            "shopd_http_requests_total{route=\"/api/v1/products/{id}\",method=\"GET\",status=\"404\"}"
        ),
        1.0
    );
    assert!(text.contains("shopd_http_request_duration_seconds_bucket"));
    assert!(text.contains("shopd_search_index_lag_generations 0"));
    assert!(text.contains("shopd_cache_capacity_bytes 67108864"));
}

#[tokio::test]
async fn with_the_cache_off_every_read_computes_and_stays_correct() {
    let app = spawn_fixture_with(|c| c.cache.bytes = 0).await;
    for round in 0..2 {
        app.get(DETAIL).await;
        let title = format!("Uncached {round}");
        app.admin(Method::PATCH, DETAIL, Some(json!({"title": title})))
            .await;
        assert_eq!(app.get_json(DETAIL).await.1["data"]["title"], title);
    }
    assert_eq!(cache_stat(&app, "hits", "product_detail").await, 0.0);
    assert!(cache_stat(&app, "misses", "product_detail").await >= 4.0);
    assert_eq!(
        app.metric("shopd_cache_capacity_bytes").await,
        0.0,
        "reported off"
    );
}

#[tokio::test]
async fn the_ceiling_route_is_off_unless_asked_for() {
    let app = spawn_app_with_fixture().await;
    assert_eq!(
        app.get("/bench/ceiling").await.status(),
        StatusCode::NOT_FOUND
    );
    let app = spawn_fixture_with(|c| c.http.bench_ceiling = true).await;
    let res = app.get("/bench/ceiling").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("etag"));
    let body: Value = res.json().await.unwrap();
    assert!(body["data"]["id"].is_string(), "a product detail: {body}");
}
