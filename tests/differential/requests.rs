//! The generated requests and how two answers are compared.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

use super::processes::TOKEN;
use crate::common::fixture::fixture_lines;

/// One response: status and body (JSON when it parses, else the text).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

pub async fn send(
    client: &Client,
    method: Method,
    url: &str,
    body: Option<&Value>,
    admin: bool,
) -> Answer {
    let mut req = client.request(method, url);
    if admin {
        req = req.bearer_auth(TOKEN);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = res.status();
    let text = res.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer { status, body }
}

pub async fn get(client: &Client, url: &str) -> Answer {
    send(client, Method::GET, url, None, false).await
}

/// The first place two JSON values differ, as a JSON-pointer-like path.
pub fn first_diff(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_diff(p, q, &format!("{path}/{k}")) {
                            return Some(d);
                        }
                    }
                    (p, q) => return Some(format!("{path}/{k}: {p:?} vs {q:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_diff(p, q, &format!("{path}/{i}")) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| format!("{path}: {} vs {} items", x.len(), y.len()))
        }
        _ => (a != b).then(|| format!("{path}: {a} vs {b}")),
    }
}

pub fn assert_same(what: &str, path: &str, want: &Answer, got: &Answer) {
    if want.status != got.status {
        panic!(
            "{what}: {path}: status shopd {} vs baseline {}\nshopd:    {}\nbaseline: {}",
            want.status, got.status, want.body, got.body
        );
    }
    let ids = |a: &Answer| -> Option<Vec<Value>> {
        let data = a.body["data"].as_array()?;
        Some(data.iter().map(|x| x["id"].clone()).collect())
    };
    if let (Some(w), Some(g)) = (ids(want), ids(got))
        && w != g
    {
        panic!(
            "{what}: {path}: the lists differ\nshopd ids:    {w:?}\nbaseline ids: {g:?}\nshopd:    {}\nbaseline: {}",
            want.body, got.body
        );
    }
    if let Some(d) = first_diff(&want.body, &got.body, "") {
        panic!(
            "{what}: {path} ({}): bodies differ at {d}\nshopd:    {}\nbaseline: {}",
            want.status, want.body, got.body
        );
    }
}

/// The generated read requests (paths), deterministic.
pub fn read_paths() -> Vec<String> {
    let products = fixture_lines("products.jsonl");
    let reviews = fixture_lines("reviews.jsonl");
    let categories = fixture_lines("categories.jsonl");
    let brands = fixture_lines("brands.jsonl");
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    let mut review_count: HashMap<String, usize> = HashMap::new();
    for r in &reviews {
        *review_count
            .entry(r["productId"].as_str().unwrap().into())
            .or_default() += 1;
    }
    let roots: Vec<String> = categories
        .iter()
        .filter(|c| c["parentId"].is_null())
        .map(id)
        .collect();
    let leaves: Vec<String> = categories
        .iter()
        .filter(|c| !c["parentId"].is_null())
        .map(id)
        .collect();
    let sorts = ["featured", "price_asc", "price_desc", "newest", "rating"];
    let filters: Vec<String> = vec![
        String::new(),
        format!("category={}", roots[0]),
        format!("category={}", roots[roots.len() - 1]),
        format!("category={}", leaves[3]),
        format!("brand={}", id(&brands[6])),
        "isAvailable=true".into(),
        "isAvailable=false".into(),
        "minPrice=20&maxPrice=100".into(),
        "minPrice=49.95&maxPrice=50.49".into(),
        "minPrice=250".into(),
        "maxPrice=15".into(),
        format!(
            "category={}&brand={}&isAvailable=true",
            roots[1],
            id(&brands[2])
        ),
        format!(
            "category={}&isAvailable=true&minPrice=10&maxPrice=300",
            roots[1]
        ),
        format!("brand={}&minPrice=0&maxPrice=9999999.99", id(&brands[10])),
        "category=cat-999".into(),
        "brand=brand-9999".into(),
        "category=not%20an%20id!".into(),
        "isAvailable=1&minPrice=0.5".into(),
    ];
    let pages = [
        "",
        "limit=7",
        "page=2&limit=7",
        "page=3&limit=100",
        "page=500",
    ];
    let mut paths = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        for (j, sort) in sorts.iter().enumerate() {
            // Every filter with every sort; the page shape rotates.
            let page = pages[(i + j) % pages.len()];
            let sort = format!("sort={sort}");
            let q = [f.as_str(), page, &sort]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("&");
            paths.push(format!("/api/v1/products?{q}"));
        }
    }
    for page in pages {
        paths.push(format!("/api/v1/products?{page}"));
    }
    // Random combinations of every filter, sort and page shape (seeded).
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let all_categories: Vec<String> = categories.iter().map(id).collect();
    for i in 0..150 {
        let mut q = Vec::new();
        if rng.random_bool(0.5) {
            q.push(format!(
                "category={}",
                all_categories[rng.random_range(0..all_categories.len())]
            ));
        }
        if rng.random_bool(0.3) {
            q.push(format!(
                "brand={}",
                id(&brands[rng.random_range(0..brands.len())])
            ));
        }
        if rng.random_bool(0.4) {
            q.push(format!("isAvailable={}", rng.random_bool(0.7)));
        }
        if rng.random_bool(0.4) {
            let lo = rng.random_range(0..30_000u32);
            let hi = lo + rng.random_range(0..40_000u32);
            if rng.random_bool(0.8) {
                q.push(format!("minPrice={}.{:02}", lo / 100, lo % 100));
            }
            if rng.random_bool(0.8) {
                q.push(format!("maxPrice={}.{:02}", hi / 100, hi % 100));
            }
        }
        q.push(format!("sort={}", sorts[rng.random_range(0..sorts.len())]));
        let limit = [1, 3, 10, 20, 50, 100][rng.random_range(0..6)];
        q.push(format!("limit={limit}"));
        q.push(format!("page={}", rng.random_range(1..=4)));
        let q = q.join("&");
        if i % 5 == 4 {
            // Search browses with the same filters; its default order is
            // called `relevance`.
            let q = q.replace("sort=featured", "sort=relevance");
            paths.push(format!("/api/v1/search?{q}"));
        } else {
            paths.push(format!("/api/v1/products?{q}"));
        }
    }
    // Details and reviews: products with the most reviews, none, and a spread.
    let mut by_reviews: Vec<(usize, String)> = products
        .iter()
        .map(|p| (review_count.get(&id(p)).copied().unwrap_or(0), id(p)))
        .collect();
    by_reviews.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut detail_ids: Vec<String> = by_reviews.iter().take(5).map(|x| x.1.clone()).collect();
    detail_ids.extend(by_reviews.iter().rev().take(3).map(|x| x.1.clone()));
    detail_ids.extend(products.iter().step_by(37).map(id));
    for pid in &detail_ids {
        paths.push(format!("/api/v1/products/{pid}"));
    }
    for pid in detail_ids.iter().take(12) {
        paths.push(format!("/api/v1/products/{pid}/reviews"));
        paths.push(format!("/api/v1/products/{pid}/reviews?page=2&limit=2"));
    }
    paths.push(format!(
        "/api/v1/products/{}/reviews?page=99",
        detail_ids[0]
    ));
    // Brands and categories.
    for page in [
        "",
        "?limit=7",
        "?page=2&limit=7",
        "?page=9&limit=7",
        "?limit=100",
        "?page=4",
    ] {
        paths.push(format!("/api/v1/brands{page}"));
    }
    for b in brands.iter().step_by(7) {
        paths.push(format!("/api/v1/brands/{}", id(b)));
    }
    paths.push("/api/v1/categories".into());
    for c in &categories {
        paths.push(format!("/api/v1/categories/{}", id(c)));
    }
    // Not found.
    for p in [
        "/api/v1/products/prod-999999",
        "/api/v1/products/not%20an%20id",
        "/api/v1/products/prod-999999/reviews",
        "/api/v1/brands/brand-9999",
        "/api/v1/categories/cat-999",
        "/api/v1/nothing-here",
        "/api/v1/products/prod-000001/nothing",
    ] {
        paths.push(p.into());
    }
    // Bad requests (400) and invalid values (422).
    for q in [
        "page=abc",
        "limit=1.5",
        "page=1&page=2",
        "isAvailable=maybe",
        "minPrice=cheap",
        "minPrice=%FF",
        "page=0",
        "limit=0",
        "limit=101",
        "page=100001",
        "sort=bogus",
        "minPrice=-1",
        "minPrice=1.005",
        "minPrice=100&maxPrice=20",
        "page=0&limit=500&sort=x&minPrice=-2",
    ] {
        paths.push(format!("/api/v1/products?{q}"));
    }
    paths.push("/api/v1/brands?limit=0".into());
    paths.push("/api/v1/brands?page=x".into());
    paths.push(format!(
        "/api/v1/products/{}/reviews?limit=101",
        detail_ids[0]
    ));
    paths.push(format!(
        "/api/v1/products/{}/reviews?page=-1",
        detail_ids[0]
    ));
    // Search: browsing (no words) is shopd's list order with facets, and
    // must be identical; query errors too. Word queries are compared by
    // exact-match sets below.
    for (i, f) in filters.iter().enumerate().step_by(2) {
        let sort = ["relevance", "price_asc", "price_desc", "newest", "rating"][i % 5];
        paths.push(format!("/api/v1/search?{f}&sort={sort}&limit=9"));
    }
    paths.push("/api/v1/search".into());
    paths.push("/api/v1/search?q=%21%21%21&page=2".into());
    paths.push(format!("/api/v1/search?q={}", "a".repeat(201)));
    paths.push("/api/v1/search?q=lamp&sort=featured".into());
    paths.push("/api/v1/search?q=lamp&limit=0".into());
    paths.push("/api/v1/search?q=lamp&minPrice=x".into());
    paths
}
