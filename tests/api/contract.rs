//! The served OpenAPI document describes what the server really renders:
//! real responses from the fixture catalogue, validated against the schemas
//! of `/api/v1/openapi.json` with a JSON Schema (2020-12) validator.

use crate::helpers::{TOKEN, TestApp, spawn_app_with_fixture};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The document, and validation of a body against one of its responses.
pub struct Contract {
    doc: Value,
}

impl Contract {
    pub async fn fetch(app: &TestApp) -> Contract {
        let (status, doc) = app.get_json("/api/v1/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        Contract { doc }
    }

    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// Every way `body` breaks the schema of `status` answered by
    /// `method pattern`; empty when it conforms.
    pub fn violations(
        &self,
        method: &Method,
        pattern: &str,
        status: u16,
        body: &Value,
    ) -> Vec<String> {
        let escaped = pattern.replace('~', "~0").replace('/', "~1");
        let method = method.as_str().to_lowercase();
        let pointer = format!(
            "/paths/{escaped}/{method}/responses/{status}/content/application~1json/schema"
        );
        assert!(
            self.doc.pointer(&pointer).is_some(),
            "the document has no JSON schema for {method} {pattern} {status}"
        );
        // The whole document is the root resource, so `#/components/...`
        // references resolve; the root `$ref` picks the response's schema.
        let mut root = self.doc.clone();
        // (A URI fragment: the pattern's braces are percent-encoded.)
        let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
        root["$ref"] = json!(format!("#{fragment}"));
        let validator =
            jsonschema::draft202012::new(&root).expect("the document's schemas compile");
        validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    #[track_caller]
    pub fn assert_conforms(&self, method: &Method, pattern: &str, status: u16, body: &Value) {
        let v = self.violations(method, pattern, status, body);
        assert!(
            v.is_empty(),
            "{method} {pattern} {status} breaks its schema:\n{}",
            v.join("\n")
        );
    }
}

/// Sends a request (admin token when `admin`), returns status and JSON body.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    admin: bool,
) -> (StatusCode, Value) {
    let mut req = app.client.request(method, app.url(path));
    if admin {
        req = req.bearer_auth(TOKEN);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status();
    (status, res.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn every_read_answer_matches_the_documented_schema() {
    let app = spawn_app_with_fixture().await;
    let contract = Contract::fetch(&app).await;
    let get = Method::GET;
    let mut cases: Vec<(String, &str, u16)> = Vec::new();
    for sort in ["featured", "price_asc", "price_desc", "newest", "rating"] {
        cases.push((
            format!("/api/v1/products?sort={sort}&limit=50"),
            "/api/v1/products",
            200,
        ));
    }
    cases.extend([
        (
            "/api/v1/products?category=cat-002&isAvailable=true&minPrice=20&maxPrice=100&page=2"
                .into(),
            "/api/v1/products",
            200,
        ),
        (
            "/api/v1/products?page=100000".into(),
            "/api/v1/products",
            200,
        ),
        (
            "/api/v1/products/prod-000005".into(),
            "/api/v1/products/{id}",
            200,
        ),
        (
            "/api/v1/products/prod-000005/reviews?limit=100".into(),
            "/api/v1/products/{id}/reviews",
            200,
        ),
        ("/api/v1/brands?limit=100".into(), "/api/v1/brands", 200),
        (
            "/api/v1/brands/brand-0001".into(),
            "/api/v1/brands/{id}",
            200,
        ),
        ("/api/v1/categories".into(), "/api/v1/categories", 200),
        (
            "/api/v1/categories/cat-001".into(),
            "/api/v1/categories/{id}",
            200,
        ),
        (
            "/api/v1/categories/cat-001-01".into(),
            "/api/v1/categories/{id}",
            200,
        ),
        (
            "/api/v1/search?q=keyboard&limit=50".into(),
            "/api/v1/search",
            200,
        ),
        (
            "/api/v1/search?q=keybaord&category=cat-001&sort=price_asc".into(),
            "/api/v1/search",
            200,
        ),
        (
            "/api/v1/search?q=ergonomic+zzzzqx".into(),
            "/api/v1/search",
            200,
        ),
        ("/api/v1/search".into(), "/api/v1/search", 200),
        (
            "/api/v1/search/synonyms".into(),
            "/api/v1/search/synonyms",
            200,
        ),
        ("/health".into(), "/health", 200),
        ("/ready".into(), "/ready", 200),
        // Errors: 400, 404, 422, 401.
        ("/api/v1/products?page=abc".into(), "/api/v1/products", 400),
        (
            "/api/v1/search?q=".to_string() + &"a".repeat(201),
            "/api/v1/search",
            400,
        ),
        (
            "/api/v1/products/no-such-product".into(),
            "/api/v1/products/{id}",
            404,
        ),
        (
            "/api/v1/products/no-such-product/reviews".into(),
            "/api/v1/products/{id}/reviews",
            404,
        ),
        (
            "/api/v1/categories/nope".into(),
            "/api/v1/categories/{id}",
            404,
        ),
        (
            "/api/v1/products?limit=1000&sort=cheapest".into(),
            "/api/v1/products",
            422,
        ),
        ("/api/v1/brands?page=0".into(), "/api/v1/brands", 422),
        (
            "/api/v1/search/analytics".into(),
            "/api/v1/search/analytics",
            401,
        ),
    ]);
    for (path, pattern, status) in &cases {
        let (got, body) = call(&app, get.clone(), path, None, false).await;
        assert_eq!(got.as_u16(), *status, "GET {path}: {body}");
        contract.assert_conforms(&get, pattern, *status, &body);
    }
    // The search body really has highlights and facets to check.
    let (_, body) = call(&app, get.clone(), "/api/v1/search?q=keyboard", None, false).await;
    assert!(
        body["data"][0]["highlight"]["title"]
            .as_str()
            .unwrap()
            .contains("<mark>")
    );
    assert!(!body["facets"]["brand"].as_array().unwrap().is_empty());
    let (status, body) = call(&app, get.clone(), "/api/v1/search/analytics", None, true).await;
    assert_eq!(status, StatusCode::OK);
    contract.assert_conforms(&get, "/api/v1/search/analytics", 200, &body);
}

#[tokio::test]
async fn every_write_answer_matches_the_documented_schema() {
    let app = spawn_app_with_fixture().await;
    let contract = Contract::fetch(&app).await;
    let (post, patch, put) = (Method::POST, Method::PATCH, Method::PUT);
    let lamp = json!({"title": "Desk Lamp", "price": 12.5, "brandId": "brand-0001", "categoryIds": ["cat-002-01"]});

    let (status, body) = call(
        &app,
        post.clone(),
        "/api/v1/products",
        Some(lamp.clone()),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    contract.assert_conforms(&post, "/api/v1/products", 201, &body);
    let id = body["data"]["id"].as_str().unwrap().to_string();
    for (method, path, pattern, body, status) in [
        (
            patch.clone(),
            format!("/api/v1/products/{id}"),
            "/api/v1/products/{id}",
            json!({"price": 9.99}),
            200,
        ),
        (
            post.clone(),
            format!("/api/v1/products/{id}/reviews"),
            "/api/v1/products/{id}/reviews",
            json!({"userId": "user-00001", "rating": 4}),
            201,
        ),
        (
            post.clone(),
            "/api/v1/brands".into(),
            "/api/v1/brands",
            json!({"title": "Lumen"}),
            201,
        ),
        (
            patch.clone(),
            "/api/v1/brands/brand-0001".into(),
            "/api/v1/brands/{id}",
            json!({"logo": null}),
            200,
        ),
        (
            post.clone(),
            "/api/v1/categories".into(),
            "/api/v1/categories",
            json!({"title": "Lamps", "parentId": "cat-002"}),
            201,
        ),
        (
            patch.clone(),
            "/api/v1/categories/cat-002-01".into(),
            "/api/v1/categories/{id}",
            json!({"title": "Lamps"}),
            200,
        ),
        (
            put.clone(),
            "/api/v1/search/synonyms".into(),
            "/api/v1/search/synonyms",
            json!({"groups": [["sofa", "couch"]]}),
            200,
        ),
        // Errors: 422 with fields, 409, 404, 400, 413.
        (
            post.clone(),
            "/api/v1/products".into(),
            "/api/v1/products",
            json!({"title": "", "price": -1}),
            422,
        ),
        (
            post.clone(),
            "/api/v1/brands".into(),
            "/api/v1/brands",
            json!({"id": "brand-0001", "title": "Dup"}),
            409,
        ),
        (
            patch.clone(),
            "/api/v1/products/nope".into(),
            "/api/v1/products/{id}",
            json!({}),
            404,
        ),
        (
            put.clone(),
            "/api/v1/search/synonyms".into(),
            "/api/v1/search/synonyms",
            json!([1]),
            400,
        ),
        (
            post.clone(),
            "/api/v1/categories".into(),
            "/api/v1/categories",
            json!({"title": "x".repeat(70_000)}),
            413,
        ),
    ] {
        let (got, answer) = call(&app, method.clone(), &path, Some(body), true).await;
        assert_eq!(got.as_u16(), status, "{method} {path}: {answer}");
        contract.assert_conforms(&method, pattern, status, &answer);
    }
}

#[tokio::test]
async fn the_check_fails_when_a_field_is_renamed_or_changes_type() {
    let app = spawn_app_with_fixture().await;
    let contract = Contract::fetch(&app).await;
    let get = Method::GET;
    let (_, detail) = call(
        &app,
        get.clone(),
        "/api/v1/products/prod-000005",
        None,
        false,
    )
    .await;
    let (_, list) = call(&app, get.clone(), "/api/v1/products", None, false).await;
    let (_, search) = call(&app, get.clone(), "/api/v1/search?q=keyboard", None, false).await;
    contract.assert_conforms(&get, "/api/v1/products/{id}", 200, &detail);

    let mut renamed = detail.clone();
    let rating = renamed["data"]
        .as_object_mut()
        .unwrap()
        .remove("avgRating")
        .unwrap();
    renamed["data"]["averageRating"] = rating;
    assert!(
        !contract
            .violations(&get, "/api/v1/products/{id}", 200, &renamed)
            .is_empty()
    );

    let mut retyped = list.clone();
    retyped["data"][0]["price"] = json!("12.50");
    assert!(
        !contract
            .violations(&get, "/api/v1/products", 200, &retyped)
            .is_empty()
    );

    let mut nested = list.clone();
    nested["data"][0]["brand"]["title"] = json!(7);
    assert!(
        !contract
            .violations(&get, "/api/v1/products", 200, &nested)
            .is_empty()
    );

    let mut facet = search.clone();
    facet["facets"]["price"][0]
        .as_object_mut()
        .unwrap()
        .remove("count");
    assert!(
        !contract
            .violations(&get, "/api/v1/search", 200, &facet)
            .is_empty()
    );

    let mut meta = search.clone();
    meta["meta"]["relaxed"] = json!("no");
    assert!(
        !contract
            .violations(&get, "/api/v1/search", 200, &meta)
            .is_empty()
    );
}

/// The contract itself changes only on purpose: the served document is
/// compared with `fixtures/golden/openapi.json`, so renaming a field, changing
/// its type or dropping a route shows up as a diff to bless.
///
/// Regenerate on purpose: `SHOPD_BLESS_GOLDEN=1 cargo test --test api contract`.
#[tokio::test]
async fn the_contract_changes_only_on_purpose() {
    let app = crate::helpers::spawn_app().await;
    let served = Contract::fetch(&app).await.doc().clone();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden/openapi.json");
    let pretty = serde_json::to_string_pretty(&served).unwrap() + "\n";
    if std::env::var_os("SHOPD_BLESS_GOLDEN").is_some() {
        std::fs::write(&path, &pretty).unwrap();
    }
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    if golden != served {
        let changed: Vec<String> = diff("", &golden, &served).into_iter().take(20).collect();
        panic!(
            "the API contract changed (bless with SHOPD_BLESS_GOLDEN=1 if on purpose):\n{}",
            changed.join("\n")
        );
    }
}

/// JSON pointers where `a` and `b` differ.
fn diff(at: &str, a: &Value, b: &Value) -> Vec<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .flat_map(|k| {
                    let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                    diff(
                        &here,
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                    )
                })
                .collect()
        }
        _ if a == b => Vec::new(),
        _ => vec![format!("{at}: {a} → {b}")],
    }
}
