//! Search over real HTTP against a real tantivy index in the app's temp data
//! dir: typo tolerance, prefix, stemming, folding, facets against a brute-force
//! count over the fixture, filters and sorts, highlights, synonyms, relaxed
//! fallback, the write path, restart and rebuild, hostile input.

use crate::common::fixture::searchable_tokens;
use crate::helpers::{TestApp, code, ids, spawn_app_with_fixture, spawn_in};
use crate::reference::{RefFilter, RefProduct, Reference, SORTS};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Facets as the brute force counts them over `hits`.
struct Facets {
    brand: BTreeMap<String, u64>,
    category: BTreeMap<String, u64>,
    price: Vec<u64>,
}

fn brute_facets(r: &Reference, hits: &[&RefProduct]) -> Facets {
    let mut f = Facets {
        brand: BTreeMap::new(),
        category: BTreeMap::new(),
        price: vec![0; 6],
    };
    let bounds = [2_500, 5_000, 10_000, 25_000, 50_000];
    for p in hits {
        *f.brand.entry(p.brand.clone()).or_default() += 1;
        let mut cats = BTreeSet::new();
        for c in &p.categories {
            for anc in r.parents.keys() {
                if r.under(c, anc) {
                    cats.insert(anc.clone());
                }
            }
        }
        for c in cats {
            *f.category.entry(c).or_default() += 1;
        }
        f.price[bounds.iter().take_while(|b| p.price >= **b).count()] += 1;
    }
    f
}

/// Compares a search body's facets with the brute force. Brands: the top 20
/// by count, ties by id.
fn assert_facets(body: &Value, want: &Facets, what: &str) {
    let got_cats: BTreeMap<String, u64> = body["facets"]["category"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().into(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got_cats, want.category, "category facet of {what}");
    let got_prices: Vec<u64> = body["facets"]["price"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    assert_eq!(got_prices, want.price, "price facet of {what}");
    let got_brands: Vec<(String, u64)> = body["facets"]["brand"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["id"].as_str().unwrap().into(),
                b["count"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut want_brands: Vec<(String, u64)> =
        want.brand.iter().map(|(k, v)| (k.clone(), *v)).collect();
    want_brands.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    want_brands.truncate(20);
    assert_eq!(got_brands, want_brands, "brand facet of {what}");
    for b in body["facets"]["brand"].as_array().unwrap() {
        assert!(
            !b["title"].as_str().unwrap().is_empty(),
            "brand title shown"
        );
    }
}

async fn search(app: &TestApp, query: &str) -> Value {
    let (status, body) = app.get_json(&format!("/api/v1/search?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

/// Every hit id of a query, over all pages of 100.
async fn all_ids(app: &TestApp, query: &str) -> Vec<String> {
    let mut out = Vec::new();
    for page in 1.. {
        let body = search(app, &format!("{query}&limit=100&page={page}")).await;
        out.extend(ids(&body));
        if !body["meta"]["hasNext"].as_bool().unwrap() {
            break;
        }
    }
    out
}

fn titles(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_string())
        .collect()
}

/// Polls `query` until `done(body)` holds; panics after `limit`.
async fn eventually(app: &TestApp, query: &str, limit: Duration, done: impl Fn(&Value) -> bool) {
    let start = Instant::now();
    loop {
        let body = search(app, query).await;
        if done(&body) {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "{query}: not within {limit:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_typo_in_a_long_word_still_finds_it_but_short_words_must_be_exact() {
    let app = spawn_app_with_fixture().await;
    let words = searchable_tokens();
    let keyboards: BTreeSet<String> = words
        .iter()
        .filter(|(_, w)| w.iter().any(|t| t.starts_with("keyboard")))
        .map(|(id, _)| id.clone())
        .collect();
    assert!(keyboards.len() >= 10, "fixture has keyboards");
    let exact: BTreeSet<String> = all_ids(&app, "q=keyboard").await.into_iter().collect();
    assert_eq!(exact, keyboards, "exact word = every product mentioning it");
    let typo: BTreeSet<String> = all_ids(&app, "q=keybaord").await.into_iter().collect();
    assert!(
        typo.is_superset(&keyboards),
        "'keybaord' (a transposition) finds every keyboard"
    );
    let body = search(&app, "q=keybaord&limit=5").await;
    assert!(titles(&body).iter().all(|t| t.contains("Keyboard")));
    // 4 letters: no typo allowed ("dask" is one edit from "desk")
    let body = search(&app, "q=dask").await;
    assert_eq!(body["meta"]["total"], 0, "{body}");
    // 5+ letters: one typo; 9+: two. Every product with a word one edit
    // from "lampz" ("lamp", "lamps") is found, and so is every product
    // with a word two edits from "ergonomec" ("ergonomic").
    let with_word = |pred: &dyn Fn(&str) -> bool| -> BTreeSet<String> {
        words
            .iter()
            .filter(|(_, w)| w.iter().any(|t| pred(t)))
            .map(|(id, _)| id.clone())
            .collect()
    };
    let lamps = with_word(&|t| t == "lamp" || t == "lamps");
    assert!(!lamps.is_empty(), "fixture has lamps");
    let one: BTreeSet<String> = all_ids(&app, "q=lampz").await.into_iter().collect();
    assert!(one.is_superset(&lamps), "'lampz' finds every lamp");
    let ergonomic = with_word(&|t| t == "ergonomic");
    assert!(!ergonomic.is_empty(), "fixture has ergonomic products");
    let two: BTreeSet<String> = all_ids(&app, "q=ergonomec").await.into_iter().collect();
    assert!(
        two.is_superset(&ergonomic),
        "'ergonomec' finds every ergonomic product"
    );
    let too_many = search(&app, "q=kexbaord").await;
    assert_eq!(too_many["meta"]["total"], 0, "two edits in 8 letters");
}

#[tokio::test]
async fn exact_matches_rank_above_typo_matches() {
    let app = spawn_app_with_fixture().await;
    let (_, created) = app
        .admin(
            Method::POST,
            "/api/v1/products",
            Some(product("t-1", "Walnut Mouse Zorbit", "plain")),
        )
        .await;
    assert_eq!(created["data"]["id"], "t-1", "{created}");
    app.admin(
        Method::POST,
        "/api/v1/products",
        Some(product("t-2", "Walnut Mouse Zorbat", "plain")),
    )
    .await;
    eventually(&app, "q=zorbat", Duration::from_secs(1), |b| {
        b["meta"]["total"] == 2
    })
    .await;
    let body = search(&app, "q=zorbat").await;
    assert_eq!(ids(&body), ["t-2", "t-1"], "exact first, then the typo");
    // more matched words rank above fewer (relaxed mode)
    let body = search(&app, "q=zorbit+walnut+qqqqqqqq").await;
    assert_eq!(body["meta"]["relaxed"], true);
    assert_eq!(ids(&body)[0], "t-1", "{body}");
}

#[tokio::test]
async fn the_last_word_is_a_prefix_and_model_numbers_match_exactly_or_by_prefix() {
    let app = spawn_app_with_fixture().await;
    let words = searchable_tokens();
    let want: BTreeSet<String> = words
        .iter()
        .filter(|(_, w)| w.iter().any(|t| t.starts_with("ergon")))
        .map(|(id, _)| id.clone())
        .collect();
    assert!(!want.is_empty());
    let got: BTreeSet<String> = all_ids(&app, "q=ergon").await.into_iter().collect();
    assert_eq!(got, want, "'ergon' finds exactly the Ergonomic products");
    // not the last word: no prefix
    let body = search(&app, "q=ergon+desk").await;
    assert_eq!(
        body["meta"]["relaxed"], true,
        "'ergon' alone matches nothing"
    );
    // a model number: exact or prefix, never fuzzy
    let (_, p) = app
        .admin(
            Method::POST,
            "/api/v1/products",
            Some(product("m-1", "Quiet Fan X200", "A fan.")),
        )
        .await;
    assert_eq!(p["data"]["id"], "m-1", "{p}");
    eventually(&app, "q=x200", Duration::from_secs(1), |b| {
        ids(b).contains(&"m-1".to_string())
    })
    .await;
    let body = search(&app, "q=x2+fan").await;
    assert!(ids(&body).contains(&"m-1".to_string()), "digits: prefix");
    let body = search(&app, "q=x201&limit=100").await;
    assert!(!ids(&body).contains(&"m-1".to_string()), "x201 is not x200");
    let body = search(&app, "q=x20+quiet").await;
    assert_eq!(ids(&body), ["m-1"], "a model-number prefix anywhere");
}

#[tokio::test]
async fn stemming_and_folding() {
    let app = spawn_app_with_fixture().await;
    let plural: BTreeSet<String> = all_ids(&app, "q=chargers+bamboo")
        .await
        .into_iter()
        .collect();
    let singular: BTreeSet<String> = all_ids(&app, "q=charger+bamboo")
        .await
        .into_iter()
        .collect();
    assert!(!singular.is_empty());
    assert_eq!(plural, singular, "'chargers' and 'charger' are one stem");
    let (s, _) = app
        .admin(
            Method::POST,
            "/api/v1/products",
            Some(product(
                "cafe-1",
                "Café Crème Grinder",
                "Grinds for a crème brûlée café.",
            )),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    for q in ["cafe+creme", "CAFÉ+crème", "brulee"] {
        eventually(&app, &format!("q={q}"), Duration::from_secs(1), |b| {
            ids(b) == ["cafe-1"]
        })
        .await;
    }
    let body = search(&app, "q=cafe").await;
    assert_eq!(
        body["data"][0]["highlight"]["title"],
        "<mark>Café</mark> Crème Grinder"
    );
}

#[tokio::test]
async fn browse_mode_equals_the_product_list_oracle_with_facets() {
    let app = spawn_app_with_fixture().await;
    let r = Reference::load_fixture();
    let filters = [
        RefFilter::default(),
        RefFilter {
            category: Some("cat-001".into()),
            ..Default::default()
        },
        RefFilter {
            category: Some("cat-002-03".into()),
            available: Some(true),
            ..Default::default()
        },
        RefFilter {
            brand: Some("brand-0007".into()),
            ..Default::default()
        },
        RefFilter {
            min: Some(5_000),
            max: Some(25_000),
            available: Some(false),
            ..Default::default()
        },
        RefFilter {
            category: Some("nope".into()),
            ..Default::default()
        },
    ];
    for f in &filters {
        let hits = r.query(f, "featured");
        let want = brute_facets(&r, &hits);
        for sort in SORTS {
            let search_sort = if sort == "featured" {
                "relevance"
            } else {
                sort
            };
            let q = format!("{}&sort={search_sort}&limit=7&page=2", f.query_string());
            let body = search(&app, &q).await;
            assert_eq!(
                ids(&body),
                r.ids(f, sort, 7, 7),
                "browse {q} orders like the list"
            );
            assert_eq!(body["meta"]["total"], hits.len() as u64, "{q}");
            assert_facets(&body, &want, &q);
        }
        // q empty is the same as q absent
        let a = search(&app, &format!("q=&{}", f.query_string())).await;
        let b = search(&app, &f.query_string()).await;
        assert_eq!(a["data"], b["data"]);
    }
}

#[tokio::test]
async fn query_facets_and_filters_equal_a_brute_force_count() {
    let app = spawn_app_with_fixture().await;
    let r = Reference::load_fixture();
    let words = searchable_tokens();
    // short words are exact or prefix, never fuzzy: the brute force is a
    // token-prefix match
    for (word, f) in [
        ("desk", RefFilter::default()),
        ("oak", RefFilter::default()),
        (
            "lamp",
            RefFilter {
                available: Some(true),
                min: Some(1_000),
                ..Default::default()
            },
        ),
        (
            "oak",
            RefFilter {
                category: Some("cat-002".into()),
                ..Default::default()
            },
        ),
    ] {
        let hits: Vec<&RefProduct> = r
            .products
            .iter()
            .filter(|p| words[&p.id].iter().any(|t| t.starts_with(word)) && r.matches(p, &f))
            .collect();
        assert!(!hits.is_empty(), "{word} {f:?} finds something");
        let qs = format!("q={word}&{}", f.query_string());
        let body = search(&app, &format!("{qs}&limit=5")).await;
        assert_eq!(body["meta"]["total"], hits.len() as u64, "{qs}");
        assert_facets(&body, &brute_facets(&r, &hits), &qs);
        // every page together is the hit set, once each
        let got = all_ids(&app, &qs).await;
        let set: BTreeSet<String> = got.iter().cloned().collect();
        assert_eq!(set.len(), got.len(), "no hit twice across pages");
        let want: BTreeSet<String> = hits.iter().map(|p| p.id.clone()).collect();
        assert_eq!(set, want, "{qs}");
        // sorted searches order like the list (id breaks ties)
        for sort in ["price_asc", "price_desc", "newest", "rating"] {
            let mut sorted = hits.clone();
            sorted.sort_by(|a, b| crate::reference::compare(sort, a, b));
            let want: Vec<String> = sorted.iter().take(10).map(|p| p.id.clone()).collect();
            let body = search(&app, &format!("{qs}&sort={sort}&limit=10")).await;
            assert_eq!(ids(&body), want, "{qs}&sort={sort}");
        }
    }
}

#[tokio::test]
async fn highlights_mark_matches_and_escape_everything_else() {
    let app = spawn_app_with_fixture().await;
    let (s, _) = app
        .admin(
            Method::POST,
            "/api/v1/products",
            Some(product(
                "h-1",
                "<b>Zappy</b> & \"Zappy's\" Lamp",
                "A <script>alert('zappy')</script> lamp.",
            )),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    eventually(&app, "q=zappy", Duration::from_secs(1), |b| {
        ids(b) == ["h-1"]
    })
    .await;
    let body = search(&app, "q=zappy").await;
    let h = &body["data"][0]["highlight"];
    assert_eq!(
        h["title"],
        "&lt;b&gt;<mark>Zappy</mark>&lt;/b&gt; &amp; &quot;<mark>Zappy</mark>&#39;s&quot; Lamp"
    );
    assert_eq!(
        h["description"],
        "A &lt;script&gt;alert(&#39;<mark>zappy</mark>&#39;)&lt;/script&gt; lamp."
    );
    // a long description is cut to a snippet around the first match
    let long = format!("{} needle {}", "hay ".repeat(200), "straw ".repeat(200));
    app.admin(
        Method::POST,
        "/api/v1/products",
        Some(product("h-2", "Plain", &long)),
    )
    .await;
    eventually(&app, "q=needle", Duration::from_secs(1), |b| {
        ids(b) == ["h-2"]
    })
    .await;
    let body = search(&app, "q=needle").await;
    let d = body["data"][0]["highlight"]["description"]
        .as_str()
        .unwrap();
    assert!(d.contains("<mark>needle</mark>"), "{d}");
    assert!(d.starts_with('…') && d.ends_with('…'), "{d}");
    assert!(d.chars().count() < 200, "{d}");
}

#[tokio::test]
async fn synonyms_are_admin_edited_and_apply_without_reindexing() {
    let app = spawn_app_with_fixture().await;
    let sofas: BTreeSet<String> = all_ids(&app, "q=sofa").await.into_iter().collect();
    assert!(!sofas.is_empty());
    assert_eq!(search(&app, "q=couch").await["meta"]["total"], 0);
    let (s, body) = app.get_json("/api/v1/search/synonyms").await;
    assert_eq!((s, &body["data"]["groups"]), (StatusCode::OK, &json!([])));
    // admin only
    let res = app
        .client
        .put(app.url("/api/v1/search/synonyms"))
        .json(&json!({"groups": [["sofa", "couch"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // validated
    let (s, body) = app
        .admin(
            Method::PUT,
            "/api/v1/search/synonyms",
            Some(json!({"groups": [["lonely"]]})),
        )
        .await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    let (s, body) = app
        .admin(
            Method::PUT,
            "/api/v1/search/synonyms",
            Some(json!({"groups": [["Sofa", "couch", "settee"]]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let couch: BTreeSet<String> = all_ids(&app, "q=couch").await.into_iter().collect();
    assert_eq!(couch, sofas, "couch finds every sofa, immediately");
    let body = search(&app, "q=couch&limit=1").await;
    assert!(
        body["data"][0]["highlight"]["title"]
            .as_str()
            .unwrap()
            .contains("<mark>Sofa</mark>"),
        "{body}"
    );
    // stored: survives a restart
    let dir = app.stop().await;
    let app = spawn_in(dir, true).await;
    let (_, body) = app.get_json("/api/v1/search/synonyms").await;
    assert_eq!(body["data"]["groups"][0][1], "couch", "{body}");
    assert_eq!(
        all_ids(&app, "q=settee").await.len(),
        sofas.len(),
        "after restart"
    );
}

#[tokio::test]
async fn all_words_must_match_else_any_word_with_relaxed_set() {
    let app = spawn_app_with_fixture().await;
    let both = search(&app, "q=oak+desk").await;
    assert_eq!(both["meta"]["relaxed"], false);
    let oak = search(&app, "q=oak").await["meta"]["total"]
        .as_u64()
        .unwrap();
    let desk = search(&app, "q=desk").await["meta"]["total"]
        .as_u64()
        .unwrap();
    assert!(both["meta"]["total"].as_u64().unwrap() <= oak.min(desk));
    let relaxed = search(&app, "q=oak+qqqqqqqqzz").await;
    assert_eq!(relaxed["meta"]["relaxed"], true);
    assert_eq!(relaxed["meta"]["total"].as_u64().unwrap(), oak);
    let nothing = search(&app, "q=qqqqqqqqzz+zzqqqqqqqq").await;
    assert_eq!(
        (&nothing["meta"]["total"], &nothing["meta"]["relaxed"]),
        (&json!(0), &json!(true))
    );
}

fn product(id: &str, title: &str, description: &str) -> Value {
    json!({
        "id": id,
        "title": title,
        "description": description,
        "images": [],
        "keywords": [],
        "price": 19.99,
        "discount": 0.0,
        "stock": 5,
        "isPhysical": true,
        "isAvailable": true,
        "isFeatured": false,
        "brandId": "brand-0001",
        "categoryIds": ["cat-002-01"]
    })
}

#[tokio::test]
async fn writes_are_searchable_within_a_second_and_deletes_disappear() {
    let app = spawn_app_with_fixture().await;
    let (s, _) = app
        .admin(
            Method::POST,
            "/api/v1/products",
            Some(product("w-1", "Quokka Lantern", "Bright.")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    eventually(&app, "q=quokka", Duration::from_secs(1), |b| {
        ids(b) == ["w-1"]
    })
    .await;
    // a PATCH re-indexes: the new word is found, the old one is not
    let (s, _) = app
        .admin(
            Method::PATCH,
            "/api/v1/products/w-1",
            Some(json!({"title": "Wombat Lantern"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    eventually(&app, "q=wombat", Duration::from_secs(1), |b| {
        ids(b) == ["w-1"]
    })
    .await;
    assert_eq!(search(&app, "q=quokka").await["meta"]["total"], 0);
    // a brand rename reaches every product of the brand
    let brand_products = search(&app, "brand=brand-0001&limit=1").await["meta"]["total"]
        .as_u64()
        .unwrap();
    let (s, _) = app
        .admin(
            Method::PATCH,
            "/api/v1/brands/brand-0001",
            Some(json!({"title": "Xylophonica"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    eventually(&app, "q=xylophonica", Duration::from_secs(1), |b| {
        b["meta"]["total"].as_u64() == Some(brand_products)
    })
    .await;
    // a category rename too
    let (s, _) = app
        .admin(
            Method::PATCH,
            "/api/v1/categories/cat-002-01",
            Some(json!({"title": "Glowsticks"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    eventually(
        &app,
        "q=glowsticks&limit=100",
        Duration::from_secs(1),
        |b| ids(b).contains(&"w-1".to_string()),
    )
    .await;
    // delete
    let (s, _) = app
        .admin(Method::DELETE, "/api/v1/products/w-1", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    eventually(&app, "q=wombat", Duration::from_secs(1), |b| {
        b["meta"]["total"] == 0
    })
    .await;
}

#[tokio::test]
async fn the_index_survives_a_restart_and_is_rebuilt_when_deleted() {
    let app = spawn_app_with_fixture().await;
    app.admin(
        Method::POST,
        "/api/v1/products",
        Some(product("r-1", "Narwhal Teapot", "Pours.")),
    )
    .await;
    eventually(&app, "q=narwhal", Duration::from_secs(1), |b| {
        ids(b) == ["r-1"]
    })
    .await;
    let before = search(&app, "q=lamp&limit=100").await;
    let dir = app.stop().await;

    // restart: the index is current, no rebuild needed
    let app = spawn_in(dir, true).await;
    assert_eq!(ids(&search(&app, "q=narwhal").await), ["r-1"]);
    let dir = app.stop().await;

    // the index directory deleted: rebuilt from storage
    std::fs::remove_dir_all(dir.path().join("search")).unwrap();
    let app = spawn_in(dir, true).await;
    assert_eq!(ids(&search(&app, "q=narwhal").await), ["r-1"]);
    assert_eq!(search(&app, "q=lamp&limit=100").await, before);
    let dir = app.stop().await;

    // a corrupt index (its meta file garbled): rebuilt too
    std::fs::write(dir.path().join("search/meta.json"), b"{not json").unwrap();
    let app = spawn_in(dir, true).await;
    assert_eq!(search(&app, "q=lamp&limit=100").await, before);
    let (s, body) = app.get_json("/ready").await;
    assert_eq!(
        (s, &body["checks"]["search"]),
        (StatusCode::OK, &json!("ok"))
    );
}

#[tokio::test]
async fn hostile_queries_get_200_or_400_never_500() {
    let app = spawn_app_with_fixture().await;
    let long = "a".repeat(201);
    let exactly = "é".repeat(200);
    let table: [(&str, &str); 24] = [
        ("\"", "unbalanced quote"),
        ("\"lamp", "open phrase"),
        ("title:lamp", "field syntax"),
        ("(desk OR", "open group"),
        ("[1 TO 5]", "range syntax"),
        ("{", "brace"),
        ("*", "wildcard"),
        ("lamp~2", "fuzzy syntax"),
        ("desk^10", "boost syntax"),
        ("-lamp +desk", "operators"),
        ("AND OR NOT", "only operators"),
        ("\\", "backslash"),
        ("%00", "NUL"),
        ("%F0%9F%98%80%20lamp", "emoji"),
        ("%E6%A1%8C%E5%AD%90", "CJK"),
        ("%D8%B7%D8%A7%D9%88%D9%84%D8%A9", "RTL"),
        ("%E2%80%8B", "zero-width space"),
        ("%20%20%20", "only spaces"),
        ("lamp%0Adesk", "newline"),
        ("'; DROP TABLE products; --", "SQL"),
        ("<script>alert(1)</script>", "HTML"),
        (
            "x200x200x200x200x200x200x200x200x200x200x200x200",
            "long token",
        ),
        (&exactly, "200 characters"),
        (
            "a+b+c+d+e+f+g+h+i+j+k+l+m+n+o+p+q+r+s+t+u+v+w+x+y+z",
            "many words",
        ),
    ];
    for (q, what) in table {
        let url = format!("/api/v1/search?q={}", q.replace('#', "%23"));
        let res = app.get(&url).await;
        assert_eq!(res.status(), StatusCode::OK, "{what}: {q}");
        let body: Value = res.json().await.unwrap();
        assert!(body["meta"]["total"].is_u64(), "{what}");
    }
    let (s, body) = app.get_json(&format!("/api/v1/search?q={long}")).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::BAD_REQUEST, "query_too_long")
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("200"));
    for (q, want, code_) in [
        (
            "q=lamp&sort=best",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "q=lamp&limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        ("q=lamp&page=abc", StatusCode::BAD_REQUEST, "invalid_query"),
        (
            "q=lamp&minPrice=9&maxPrice=1",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        ("q=%FF", StatusCode::BAD_REQUEST, "invalid_query"),
    ] {
        let (s, body) = app.get_json(&format!("/api/v1/search?{q}")).await;
        assert_eq!((s, code(&body)), (want, code_), "{q}: {body}");
    }
}

#[tokio::test]
async fn analytics_count_frequent_and_zero_hit_queries_for_the_admin() {
    let app = spawn_app_with_fixture().await;
    for q in ["lamp", "Lamp", "lamp ", "desk", "qqqqqqqqzz"] {
        search(&app, &format!("q={q}")).await;
    }
    search(&app, "q=").await; // browsing is not a query
    let res = app.get("/api/v1/search/analytics").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (s, body) = app
        .admin(Method::GET, "/api/v1/search/analytics", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body["data"]["topQueries"],
        json!([
            {"query": "lamp", "count": 3},
            {"query": "desk", "count": 1},
            {"query": "qqqqqqqqzz", "count": 1}
        ])
    );
    assert_eq!(
        body["data"]["zeroHitQueries"],
        json!([{"query": "qqqqqqqqzz", "count": 1}])
    );
    // kept in storage: survives a restart
    let dir = app.stop().await;
    let app = spawn_in(dir, true).await;
    let (_, again) = app
        .admin(Method::GET, "/api/v1/search/analytics", None)
        .await;
    assert_eq!(again, body);
}

#[tokio::test]
async fn suggest_completes_the_last_word_and_shows_the_first_products() {
    let app = spawn_app_with_fixture().await;
    let tokens = searchable_tokens();
    let suggest = |q: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app.get_json(&format!("/api/v1/search/suggest?{q}")).await;
            assert_eq!(status, StatusCode::OK, "{q}: {body}");
            body["data"].clone()
        }
    };

    // One word: its completions are the words it begins that most products
    // have, each counted exactly.
    let prefix = "co";
    let mut df: BTreeMap<&str, u64> = BTreeMap::new();
    let mut hits = BTreeSet::new();
    for (id, words) in &tokens {
        for w in words.iter().filter(|w| w.starts_with(prefix)) {
            *df.entry(w.as_str()).or_default() += 1;
            hits.insert(id.clone());
        }
    }
    assert!(df.len() > 1, "the fixture has several words for {prefix:?}");
    let mut want: Vec<(String, u64)> = df.iter().map(|(w, n)| (w.to_string(), *n)).collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    want.truncate(8);
    let got = suggest("q=Co").await;
    let completions: Vec<(String, u64)> = got["completions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["text"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(completions, want, "{got}");
    assert_eq!(got["total"], hits.len() as u64);
    let products: Vec<String> = got["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(products.len(), 5.min(hits.len()), "five by default");
    assert!(products.iter().all(|id| hits.contains(id)), "{products:?}");
    // the products are the search's first page for the same text
    let page = search(&app, "q=Co&limit=5").await;
    assert_eq!(products, ids(&page));
    assert!(
        got["products"][0]["highlight"]["title"]
            .as_str()
            .unwrap()
            .contains("<mark>"),
        "{got}"
    );

    // Two words: completions keep the first and count what both find.
    let got = suggest("q=walnut+d&limit=10").await;
    let all = search(&app, "q=walnut+d").await;
    assert_eq!(got["total"], all["meta"]["total"]);
    for c in got["completions"].as_array().unwrap() {
        let text = c["text"].as_str().unwrap();
        assert!(text.starts_with("walnut d"), "{text}");
        let n = c["count"].as_u64().unwrap();
        assert!(n >= 1 && n <= got["total"].as_u64().unwrap(), "{c}");
    }
    assert!(got["products"].as_array().unwrap().len() <= 10);

    // Nothing typed, or only separators: nothing to suggest.
    for q in ["q=", "q=%22%3A%2A", ""] {
        let got = suggest(q).await;
        assert_eq!(got["completions"], json!([]), "{q}");
        assert_eq!(got["products"], json!([]), "{q}");
    }
    // Bad input: a clear error.
    for (q, status, want) in [
        (
            "q=lamp&limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "q=lamp&limit=11",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        ("q=lamp&limit=x", StatusCode::BAD_REQUEST, "invalid_query"),
    ] {
        let (s, body) = app.get_json(&format!("/api/v1/search/suggest?{q}")).await;
        assert_eq!((s, code(&body)), (status, want), "{q}: {body}");
    }
    let long = "a".repeat(1_000);
    let (s, body) = app
        .get_json(&format!("/api/v1/search/suggest?q={long}"))
        .await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::BAD_REQUEST, "query_too_long")
    );
}
