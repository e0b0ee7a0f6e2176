//! Differential test: `shopd-baseline` (PostgreSQL + Redis, the plans'
//! design) must answer shopd's read API exactly as shopd does.
//!
//! Arrange: `benches/baseline/setup.sh` starts a private PostgreSQL and Redis
//! in a temp dir (installing them with apt when missing) and loads the
//! fixture catalogue; two baseline servers start on it, one with the Redis
//! cache and one without; shopd starts in-process on the same catalogue (its
//! demo import). Nothing is skipped: if PostgreSQL or Redis cannot start, the
//! test fails with the script's output.
//!
//! Act and assert: a few hundred generated requests (lists with every filter,
//! sort and page shape, details, review pages, brands, categories, browsing
//! search, and 400/404/405/422 cases) go to shopd and to each baseline — the
//! cached one twice, cold then warm — and must give the same status and the
//! same JSON. Then full-text search (exact-match hit sets of single words),
//! admin writes with cache invalidation, and the metrics.
//!
//! Carts and checkout are compared by their own test, in `checkout`.
//!
//! Every process started here is stopped by a guard's `Drop`, also when an
//! assertion fails.

#[path = "differential/checkout.rs"]
mod checkout;
mod common;
#[path = "differential/oracle.rs"]
mod oracle;
#[path = "differential/processes.rs"]
mod processes;
#[path = "differential/requests.rs"]
mod requests;

use common::fixture::fixture_lines;
use oracle::{PG_STOP_WORDS, all_hits, searchable_tokens, tokens};
use processes::{Baseline, Services, start_shopd, wait_ready};
use requests::{Answer, assert_same, get, read_paths, send};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_answers_every_read_exactly_like_shopd() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    // Declared after `tmp`, so dropped (stopped) before the dir is removed.
    let services = Services::start(&tmp.path().join("services"));
    let cached = Baseline::start(&services, true);
    let uncached = Baseline::start(&services, false);
    let (shopd, shopd_handle) = start_shopd(&tmp.path().join("shopd")).await;
    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for a in [&shopd, &cached.address, &uncached.address] {
        wait_ready(&client, a).await;
    }
    eprintln!(
        "differential: services and servers up after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Reads: shopd's answers, then each baseline pass.
    let paths = read_paths();
    let mut want = Vec::with_capacity(paths.len());
    for p in &paths {
        want.push(get(&client, &format!("{shopd}{p}")).await);
    }
    for (what, address) in [
        ("cache on, cold", &cached.address),
        ("cache on, warm", &cached.address),
        ("cache off", &uncached.address),
    ] {
        for (p, w) in paths.iter().zip(&want) {
            let got = get(&client, &format!("{address}{p}")).await;
            assert_same(what, p, w, &got);
        }
    }
    let statuses: BTreeSet<u16> = want.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(
        statuses,
        BTreeSet::from([200, 400, 404, 422]),
        "the generated requests cover each status"
    );
    // Wrong methods are 405 on both.
    for (method, p) in [
        (Method::PUT, "/api/v1/products"),
        (Method::DELETE, "/api/v1/categories"),
        (Method::POST, "/api/v1/products/prod-000001/nothing"),
    ] {
        let w = send(&client, method.clone(), &format!("{shopd}{p}"), None, false).await;
        let g = send(
            &client,
            method,
            &format!("{}{p}", cached.address),
            None,
            false,
        )
        .await;
        assert_same("method", p, &w, &g);
    }
    eprintln!(
        "differential: {} reads x 3 passes identical after {:.1} s",
        paths.len(),
        started.elapsed().as_secs_f64()
    );

    // Full-text search. "Exact match" for a word w: a product one of whose
    // searchable fields (title, description, keywords, brand title, titles
    // of its categories and their ancestors) contains w as a whole token, a
    // token being a maximal run of alphanumeric characters, compared
    // lowercased. shopd also finds typos, prefixes and stems, PostgreSQL
    // stems; both must find every exact match, so for each word the exact
    // matches among shopd's hits and among the baseline's hits must both be
    // the whole exact-match set.
    let docs = searchable_tokens();
    let mut title_words: BTreeSet<String> = BTreeSet::new();
    for p in fixture_lines("products.jsonl") {
        title_words.extend(tokens(p["title"].as_str().unwrap()));
    }
    let words: Vec<String> = title_words
        .into_iter()
        .filter(|w| !PG_STOP_WORDS.contains(&w.as_str()))
        .step_by(9)
        .collect();
    assert!(words.len() >= 40, "enough words: {}", words.len());
    for w in &words {
        let exact: BTreeSet<String> = docs
            .iter()
            .filter(|(_, t)| t.contains(w))
            .map(|(id, _)| id.clone())
            .collect();
        let s = all_hits(&client, &shopd, w).await;
        let b = all_hits(&client, &cached.address, w).await;
        let s_exact: BTreeSet<_> = s.intersection(&exact).cloned().collect();
        let b_exact: BTreeSet<_> = b.intersection(&exact).cloned().collect();
        assert_eq!(s_exact, exact, "shopd misses exact matches of '{w}'");
        assert_eq!(
            b_exact,
            exact,
            "the baseline misses exact matches of '{w}': {:?}",
            exact.difference(&b_exact).collect::<Vec<_>>()
        );
    }
    eprintln!(
        "differential: exact-match hits of {} words agree after {:.1} s",
        words.len(),
        started.elapsed().as_secs_f64()
    );

    // Admin writes on shopd and the cached baseline, with reads before and
    // after that must see each write (the cache is invalidated by tag).
    let sides = [shopd.as_str(), cached.address.as_str()];
    let newest = "/api/v1/products?sort=newest&limit=3";
    let detail = "/api/v1/products/diff-new-1";
    let cheapest = "/api/v1/products?sort=price_asc&limit=2&maxPrice=1";
    for s in sides {
        // Warm the cache with what the writes will change.
        get(&client, &format!("{s}{newest}")).await;
        get(&client, &format!("{s}{cheapest}")).await;
    }
    let valid = json!({"id": "diff-new-1", "title": "Differential Walnut Lamp Z1",
        "description": "A lamp made to be compared.", "price": 12.34, "brandId": "brand-0003",
        "categoryIds": ["cat-001-03", "cat-002"], "keywords": ["lamp"], "isFeatured": true});
    let steps: Vec<(Method, &str, Option<Value>, bool)> = vec![
        (Method::POST, "/api/v1/products", Some(valid.clone()), false),
        (
            Method::POST,
            "/api/v1/products",
            Some(json!({"title": ""})),
            true,
        ),
        (
            Method::POST,
            "/api/v1/products",
            Some(
                json!({"title": "X", "price": 1, "brandId": "brand-9999", "categoryIds": ["cat-999", "cat-001"]}),
            ),
            true,
        ),
        (
            Method::POST,
            "/api/v1/products",
            Some(
                json!({"title": "X", "price": 1, "brandId": "brand-0001", "stock": -1, "colour": "red"}),
            ),
            true,
        ),
        (Method::POST, "/api/v1/products", Some(json!([1, 2])), true),
        (Method::POST, "/api/v1/products", Some(valid.clone()), true),
        (Method::POST, "/api/v1/products", Some(valid.clone()), true),
        (Method::GET, newest, None, false),
        (Method::GET, detail, None, false),
        (
            Method::PATCH,
            detail,
            Some(json!({"price": 0.99, "categoryIds": ["cat-003"]})),
            true,
        ),
        (
            Method::PATCH,
            detail,
            Some(json!({"id": "other", "price": -1})),
            true,
        ),
        (
            Method::PATCH,
            detail,
            Some(json!({"brandId": "brand-9999"})),
            true,
        ),
        (
            Method::PATCH,
            "/api/v1/products/prod-999999",
            Some(json!({"price": -1})),
            true,
        ),
        (Method::GET, detail, None, false),
        (Method::GET, cheapest, None, false),
        (Method::DELETE, detail, None, false),
        (Method::DELETE, detail, None, true),
        (Method::GET, detail, None, false),
        (Method::DELETE, detail, None, true),
        (Method::GET, newest, None, false),
        (Method::GET, cheapest, None, false),
    ];
    for (method, p, body, admin) in steps {
        let mut answers = Vec::new();
        for s in sides {
            let a = send(
                &client,
                method.clone(),
                &format!("{s}{p}"),
                body.as_ref(),
                admin,
            )
            .await;
            answers.push(without_new_timestamps(a));
        }
        let what = format!("write step {method} (admin: {admin}) body {body:?}");
        assert_same(&what, p, &answers[0], &answers[1]);
        if method == Method::PATCH && answers[1].status == StatusCode::OK {
            // The baseline's search document is rewritten in the write's
            // transaction (shopd's index follows within ~300 ms).
            let hits = all_hits(&client, &cached.address, "differential").await;
            assert!(hits.contains("diff-new-1"), "search after PATCH: {hits:?}");
        }
    }

    // Images: the same upload on both sides is the same image (its id is
    // the bytes' digest), a product naming it shows the same `media` in its
    // detail and the lists, and its variants are served alike.
    let photo = {
        let img = image::RgbImage::from_fn(640, 480, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 120])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(
                &mut std::io::Cursor::new(&mut out),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        out
    };
    let mut uploaded = Vec::new();
    for s in sides {
        let res = client
            .post(format!("{s}/api/v1/media?alt=Differential%20walnut%20lamp"))
            .bearer_auth(processes::TOKEN)
            .header("Content-Type", "image/jpeg")
            .body(photo.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "{s}");
        let v: Value = res.json().await.unwrap();
        let m = &v["data"];
        uploaded.push(json!([
            m["id"],
            m["format"],
            m["width"],
            m["height"],
            m["sha256"],
            m["alt"],
            m["srcset"]
        ]));
    }
    assert_eq!(uploaded[0], uploaded[1]);
    let media_id = uploaded[0][0].as_str().unwrap().to_string();
    let with_image = json!({"id": "diff-new-1", "title": "Differential Walnut Lamp Z2",
        "price": 15, "brandId": "brand-0003", "categoryIds": ["cat-001-03"],
        "images": [media_id, "https://cdn.example.com/extra.jpg"]});
    let image_steps: Vec<(Method, String, Option<Value>, bool)> = vec![
        (
            Method::POST,
            "/api/v1/products".into(),
            Some(with_image),
            true,
        ),
        (Method::GET, detail.into(), None, false),
        (Method::GET, newest.into(), None, false),
        (
            Method::PATCH,
            detail.into(),
            Some(json!({"images": ["med_0123456789abcdef0123456789abcdef"]})),
            true,
        ),
        (Method::GET, format!("/api/v1/media/{media_id}"), None, true),
    ];
    for (method, p, body, admin) in image_steps {
        let mut answers = Vec::new();
        for s in sides {
            let a = send(
                &client,
                method.clone(),
                &format!("{s}{p}"),
                body.as_ref(),
                admin,
            )
            .await;
            answers.push(without_new_timestamps(a));
        }
        if p.starts_with("/api/v1/media/") {
            // shopd makes the other variants in the background; the
            // baseline made them in the upload: compare all but `ready`.
            for a in &mut answers {
                for v in a.body["data"]["variants"].as_array_mut().unwrap() {
                    v.as_object_mut().unwrap().remove("ready");
                }
                a.body["data"].as_object_mut().unwrap().remove("createdAt");
            }
        }
        let what = format!("image step {method} body {body:?}");
        assert_same(&what, &p, &answers[0], &answers[1]);
    }
    let mut served = Vec::new();
    for s in sides {
        let res = client
            .get(format!("{s}/media/{media_id}/480.webp"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{s}");
        assert_eq!(res.headers()["content-type"], "image/webp");
        served.push(res.bytes().await.unwrap());
    }
    assert_eq!(served[0], served[1], "the same codec makes the same bytes");

    // Metrics: the cache served hits, statements were counted per route.
    let m = client
        .get(format!("{}/metrics", cached.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |prefix: &str| -> u64 {
        m.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in /metrics:\n{m}"))
    };
    assert!(value("baseline_cache_hits_total{kind=\"list\"}") > 0, "{m}");
    assert!(
        value("baseline_cache_misses_total{kind=\"detail\"}") > 0,
        "{m}"
    );
    assert!(value("baseline_storage_lookups_total") > 0, "{m}");
    assert!(
        value("baseline_http_requests_total{route=\"/api/v1/products\",status=\"200\"}") > 0,
        "{m}"
    );
    let off = client
        .get(format!("{}/metrics", uncached.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(off.contains("baseline_cache_enabled 0"), "{off}");
    assert!(
        off.contains("baseline_cache_hits_total{kind=\"list\"} 0"),
        "{off}"
    );

    shopd_handle.stop(true).await;
    eprintln!(
        "differential: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Writes stamp `createdAt`/`updatedAt` with each server's clock; the
/// written product's stamps are replaced by a placeholder before comparing.
fn without_new_timestamps(mut a: Answer) -> Answer {
    fn scrub(v: &mut Value) {
        match v {
            Value::Object(m) => {
                if m.get("id").and_then(Value::as_str) == Some("diff-new-1") {
                    for k in ["createdAt", "updatedAt"] {
                        if m.contains_key(k) {
                            m.insert(k.into(), json!("<now>"));
                        }
                    }
                }
                m.values_mut().for_each(scrub);
            }
            Value::Array(xs) => xs.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    scrub(&mut a.body);
    a
}
