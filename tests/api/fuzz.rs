//! Fuzzing of the HTTP edge through the real server (real sockets, the real
//! actix parser, extractors, middleware and handlers): raw request bodies —
//! any bytes, content types and sizes around the limit — to every route
//! that takes one; credentials near real ones (bearer tokens, JWTs with a
//! forged or tampered header, payload or signature, API keys, the admin
//! cookie, the replication token); admin forms, signed in with a valid CSRF
//! token and not; path parameters; and the request headers the API reads
//! (`X-Min-Generation`, `X-Cart-Token`, `Idempotency-Key`, conditional and
//! CORS headers). Every answer must be a 2xx, 3xx or 4xx — on the API a 4xx
//! with the JSON error envelope — never a 5xx or a dropped connection.
//!
//! proptest, as the unit-level targets in `src/api/fuzz.rs`: `PROPTEST_CASES`
//! sets the cases per target (CI: [`CASES`]); `benches/fuzz.sh SECONDS` runs
//! every target, these included, for a bounded time.

use crate::accounts::{PASSWORD, account};
use crate::admin_pages::Browser;
use crate::helpers::{BODY_LIMIT, TOKEN, TestApp, spawn_fixture_with};
use base64::Engine;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

/// Cases per target in CI (each is one request; about 1 ms).
const CASES: u32 = 512;

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(CASES),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Who a request comes from.
#[derive(Debug, Clone, Copy)]
enum Who {
    Anonymous,
    Admin,
    Customer,
}

/// A shop on the fixture catalogue with a webhook secret, a signed-in
/// customer, an API key and a signed-in admin browser session, on a runtime
/// of its own (proptest drives it from a plain test thread).
struct Shop {
    rt: tokio::runtime::Runtime,
    app: TestApp,
    client: reqwest::Client,
    customer: String,
    key: String,
    cookie: String,
    csrf: String,
    /// Every operation of the contract that takes a body: (method, path
    /// template, its documented example bodies).
    writes: Vec<(reqwest::Method, String, Vec<String>)>,
}

impl Shop {
    fn start() -> Shop {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let shop = rt.block_on(async {
            let app = spawn_fixture_with(|c| {
                c.orders.webhook_secret = Some(shopd::config::Secret::new("whsec_fuzz_fuzz_fuzz"));
            })
            .await;
            let customer = account(&app, "fuzz-customer@shop.example", "customer").await;
            let customer = customer["accessToken"].as_str().unwrap().to_string();
            let (_, key) = app
                .admin(
                    reqwest::Method::POST,
                    "/api/v1/admin/api-keys",
                    Some(serde_json::json!({"name": "fuzz", "role": "staff"})),
                )
                .await;
            let key = key["data"]["key"].as_str().unwrap().to_string();
            account(&app, "fuzz-admin@shop.example", "admin").await;
            let mut browser = Browser::new(&app);
            let signed_in = browser.sign_in("fuzz-admin@shop.example", PASSWORD).await;
            assert_eq!(signed_in.status, 303, "{}", signed_in.body);
            let page = browser.get("/admin/products").await;
            assert_eq!(page.status, 200);
            let csrf = page.csrf();
            let cookie = browser.cookie_header();
            let (_, contract) = app.get_json("/api/v1/openapi.json").await;
            let writes = bodies_of(&contract);
            assert!(writes.len() > 20, "{} operations take a body", writes.len());
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap();
            (app, client, customer, key, cookie, csrf, writes)
        });
        let (app, client, customer, key, cookie, csrf, writes) = shop;
        Shop {
            rt,
            app,
            client,
            customer,
            key,
            cookie,
            csrf,
            writes,
        }
    }

    /// Sends one request; the answer's status, content type and body, or
    /// the transport error (a dropped connection fails the target).
    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        who: Who,
        headers: &[(String, Vec<u8>)],
        body: Option<(Option<&str>, Vec<u8>)>,
    ) -> Result<(u16, String, Vec<u8>), TestCaseError> {
        self.rt.block_on(async {
            let mut req = self.client.request(method.clone(), self.app.url(path));
            match who {
                Who::Anonymous => {}
                Who::Admin => req = req.bearer_auth(TOKEN),
                Who::Customer => req = req.bearer_auth(&self.customer),
            }
            for (name, value) in headers {
                let Ok(v) = reqwest::header::HeaderValue::from_bytes(value) else {
                    continue; // not sendable as a header at all
                };
                req = req.header(name.as_str(), v);
            }
            if let Some((ctype, bytes)) = body {
                if let Some(c) = ctype {
                    req = req.header("Content-Type", c);
                }
                req = req.body(bytes);
            }
            let res = req.send().await.map_err(|e| {
                TestCaseError::fail(format!("{method} {path}: the connection failed: {e}"))
            })?;
            let status = res.status().as_u16();
            let ctype = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let bytes = res.bytes().await.map_err(|e| {
                TestCaseError::fail(format!("{method} {path}: the body broke off: {e}"))
            })?;
            Ok((status, ctype, bytes.to_vec()))
        })
    }
}

/// (method, path template, example bodies) of every operation with a JSON
/// request body in the contract.
fn bodies_of(contract: &Value) -> Vec<(reqwest::Method, String, Vec<String>)> {
    let mut out = Vec::new();
    for (path, item) in contract["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(content) = op["requestBody"]["content"].as_object() else {
                continue;
            };
            let mut examples = Vec::new();
            for media in content.values() {
                if let Some(e) = media.get("example") {
                    examples.push(e.to_string());
                }
                for e in media["examples"].as_object().into_iter().flatten() {
                    examples.push(e.1["value"].to_string());
                }
                if let Some(r) = media["schema"]["$ref"].as_str() {
                    let name = r.rsplit('/').next().unwrap();
                    for e in contract["components"]["schemas"][name]["examples"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        examples.push(e.to_string());
                    }
                }
            }
            if examples.is_empty() {
                examples.push("{}".into());
            }
            out.push((
                method.to_uppercase().parse().unwrap(),
                path.clone(),
                examples,
            ));
        }
    }
    out
}

/// A 5xx fails; on the API and the replication routes, so does a 4xx
/// without the JSON error envelope.
fn check(path: &str, (status, ctype, body): &(u16, String, Vec<u8>)) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(body);
    if *status >= 500 {
        return Err(TestCaseError::fail(format!("{path}: {status} {text}")));
    }
    let api = !path.starts_with("/admin");
    if api && (400..500).contains(status) {
        let v: Value = serde_json::from_slice(body).map_err(|_| {
            TestCaseError::fail(format!("{path}: {status} without a JSON body: {text:.300}"))
        })?;
        let ok = ctype.starts_with("application/json")
            && v["error"]["code"].as_str().is_some_and(|c| !c.is_empty())
            && v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty());
        if !ok {
            return Err(TestCaseError::fail(format!(
                "{path}: {status} ({ctype}) without the error envelope: {text:.300}"
            )));
        }
    }
    Ok(())
}

/// A path segment: a real id, a near one, or anything (percent-encoded).
fn segment() -> impl Strategy<Value = String> {
    let enc = |s: String| {
        percent_encoding::utf8_percent_encode(&s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    prop_oneof![
        Just("prod-000001".to_string()),
        Just("brand-0001".to_string()),
        Just("cat-001".to_string()),
        Just("1".to_string()),
        "[a-z0-9_-]{0,70}",
        any::<String>().prop_map(enc),
        "(%[0-9A-Fa-f]{2}|%[G-Zg-z]{2}|[^/?#]){0,40}",
    ]
}

/// `bytes` with a few bytes flipped, cut, or inserted.
fn mutated(bytes: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let n = bytes.len().max(1);
    proptest::collection::vec((0..n, any::<u8>(), 0..3u8), 1..4).prop_map(move |edits| {
        let mut b = bytes.clone();
        for (at, byte, kind) in edits {
            let at = at.min(b.len());
            match kind {
                0 if at < b.len() => b[at] ^= byte | 1,
                1 => b.insert(at, byte),
                _ => b.truncate(at),
            }
        }
        b
    })
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => Just(Some("application/json".to_string())),
        1 => Just(Some("application/json; charset=utf-8".to_string())),
        1 => Just(Some("application/json; charset=latin1".to_string())),
        1 => Just(Some("text/plain".to_string())),
        1 => Just(Some("application/x-www-form-urlencoded".to_string())),
        1 => Just(Some("multipart/form-data; boundary=x".to_string())),
        1 => Just(Some("image/png".to_string())),
        1 => Just(None),
        1 => "[ -~]{0,40}".prop_map(Some),
    ]
}

/// A body: a documented example, mutated or not; arbitrary bytes; or about
/// as long as the body limit (just under or over it).
fn body_for(examples: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let example = proptest::sample::select(examples);
    prop_oneof![
        3 => example.clone().prop_map(String::into_bytes),
        4 => example.prop_flat_map(|e| mutated(e.into_bytes())),
        2 => proptest::collection::vec(any::<u8>(), 0..600),
        1 => (BODY_LIMIT - 8..BODY_LIMIT + 8).prop_map(|n| {
            let mut b = b"{\"title\":\"".to_vec();
            b.resize(n.saturating_sub(2), b'a');
            b.extend_from_slice(b"\"}");
            b
        }),
    ]
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![Just(Who::Anonymous), Just(Who::Admin), Just(Who::Customer)]
}

#[test]
fn raw_bodies_to_every_route_that_takes_one_answer_2xx_or_an_enveloped_4xx() {
    let shop = Shop::start();
    let ops = shop.writes.clone();
    let case = (0..ops.len()).prop_flat_map(move |i| {
        let (method, path, examples) = ops[i].clone();
        (
            Just(method),
            Just(path),
            segment(),
            body_for(examples),
            content_type(),
            who(),
        )
    });
    let seen = Statuses::default();
    runner()
        .run(&case, |(method, template, id, body, ctype, who)| {
            let path = fill(&template, &id);
            let headers = vec![
                ("Idempotency-Key".to_string(), b"fuzz-key".to_vec()),
                ("X-Payment-Signature".to_string(), b"t=1,v1=00".to_vec()),
            ];
            let answer = shop.send(method, &path, who, &headers, Some((ctype.as_deref(), body)))?;
            seen.note(answer.0);
            check(&path, &answer)
        })
        .unwrap();
    // The bodies reached the parsers and the use cases, not only the
    // access check: some were taken, some refused as malformed, invalid or
    // too large.
    seen.expect(&[200, 201, 400, 413, 422]);
}

/// The statuses a target's answers had.
#[derive(Default)]
struct Statuses(std::sync::Mutex<std::collections::BTreeMap<u16, u32>>);

impl Statuses {
    fn note(&self, status: u16) {
        *self.0.lock().unwrap().entry(status).or_default() += 1;
    }

    /// Each of `wanted` was answered at least once (with the default
    /// number of cases or more).
    fn expect(&self, wanted: &[u16]) {
        let seen = self.0.lock().unwrap();
        eprintln!("statuses: {seen:?}");
        if std::env::var_os("PROPTEST_CASES").is_none() {
            for w in wanted {
                assert!(seen.contains_key(w), "no {w} among {seen:?}");
            }
        }
    }
}

/// `template` with every `{name}` replaced by `id`.
fn fill(template: &str, id: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push_str(id);
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

/// A JWT-shaped token near `real`: its parts reordered, re-encoded with
/// `alg: none` or HS256, its claims edited without re-signing, a byte
/// changed, or three random base64url parts.
fn token_near(real: String) -> impl Strategy<Value = Vec<u8>> {
    let parts: Vec<String> = real.split('.').map(str::to_string).collect();
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let header = parts.first().cloned().unwrap_or_default();
    let payload = parts.get(1).cloned().unwrap_or_default();
    let signature = parts.get(2).cloned().unwrap_or_default();
    let claims: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let mut admin = claims.clone();
    admin["role"] = Value::from("admin");
    let forged_claims = b64(&admin.to_string());
    prop_oneof![
        Just(real.clone().into_bytes()),
        mutated(real.clone().into_bytes()),
        Just(format!("{}.{payload}.", b64(r#"{"alg":"none","typ":"JWT"}"#)).into_bytes()),
        Just(format!("{}.{forged_claims}.", b64(r#"{"alg":"none"}"#)).into_bytes()),
        Just(format!("{header}.{forged_claims}.{signature}").into_bytes()),
        Just(
            format!(
                "{}.{payload}.{signature}",
                b64(r#"{"alg":"HS256","typ":"JWT"}"#)
            )
            .into_bytes()
        ),
        Just(format!("{payload}.{header}.{signature}").into_bytes()),
        "[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,90}"
            .prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..120),
    ]
}

#[test]
fn forged_and_garbled_credentials_answer_401_or_403_never_5xx() {
    let shop = Shop::start();
    let routes: Vec<(reqwest::Method, &str)> = vec![
        (reqwest::Method::GET, "/api/v1/admin/users"),
        (reqwest::Method::GET, "/api/v1/me"),
        (reqwest::Method::GET, "/api/v1/orders"),
        (reqwest::Method::POST, "/api/v1/auth/logout"),
        (reqwest::Method::GET, "/api/v1/cart"),
        (reqwest::Method::GET, "/replication/changes?since=0"),
        (reqwest::Method::GET, "/admin/orders"),
    ];
    let credential = prop_oneof![
        token_near(shop.customer.clone()).prop_map(|t| {
            let mut v = b"Bearer ".to_vec();
            v.extend(t);
            ("Authorization".to_string(), v)
        }),
        proptest::collection::vec(any::<u8>(), 0..80)
            .prop_map(|v| ("Authorization".to_string(), v)),
        mutated(shop.key.clone().into_bytes()).prop_map(|v| ("X-API-Key".to_string(), v)),
        "sk\\.[a-z0-9_]{0,30}\\.[A-Za-z0-9_-]{0,60}"
            .prop_map(|v| ("X-API-Key".to_string(), v.into_bytes())),
        mutated(shop.cookie.clone().into_bytes()).prop_map(|v| ("Cookie".to_string(), v)),
        "shopd_admin=[ -~]{0,80}".prop_map(|v| ("Cookie".to_string(), v.into_bytes())),
    ];
    let case = (proptest::sample::select(routes), credential);
    let seen = Statuses::default();
    runner()
        .run(&case, |((method, path), header)| {
            let answer = shop.send(method, path, Who::Anonymous, &[header], None)?;
            seen.note(answer.0);
            check(path, &answer)
        })
        .unwrap();
    seen.expect(&[200, 401]);
}

/// Field names the admin forms read, and some they do not.
const FORM_FIELDS: &[&str] = &[
    "_csrf",
    "email",
    "password",
    "next",
    "title",
    "price",
    "stock",
    "description",
    "status",
    "role",
    "banned",
    "name",
    "synonyms",
    "terms",
    "group",
    "isAvailable",
    "brandId",
    "parentId",
    "id",
    "x",
];

#[test]
fn admin_forms_take_any_fields_and_bytes_signed_in_or_not() {
    let shop = Shop::start();
    let routes: Vec<&str> = vec![
        "/admin/login",
        "/admin/logout",
        "/admin/orders/{id}/status",
        "/admin/orders/{id}/mark-paid",
        "/admin/products/{id}",
        "/admin/brands",
        "/admin/categories",
        "/admin/jobs/{id}/retry",
        "/admin/jobs/{id}/discard",
        "/admin/search/synonym",
        "/admin/search/synonyms",
        "/admin/users/{id}",
        "/admin/keys",
        "/admin/keys/{id}/revoke",
    ];
    let csrf = shop.csrf.clone();
    let value = prop_oneof![
        any::<String>(),
        "[ -~]{0,40}",
        Just(csrf.clone()),
        Just("/admin/orders\r\nX-Injected: 1".to_string()),
        Just("https://evil.example/".to_string()),
        "-?[0-9]{0,20}(\\.[0-9]{0,4})?",
    ];
    let form = proptest::collection::vec((proptest::sample::select(FORM_FIELDS), value), 0..8)
        .prop_map(move |pairs| {
            let mut pairs: Vec<(String, String)> =
                pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            pairs.push(("_csrf".into(), csrf.clone()));
            serde_urlencoded::to_string(&pairs).unwrap().into_bytes()
        });
    let body = prop_oneof![4 => form.clone(), 1 => form.prop_flat_map(mutated), 1 => proptest::collection::vec(any::<u8>(), 0..300)];
    let ctype = prop_oneof![
        4 => Just(Some("application/x-www-form-urlencoded".to_string())),
        1 => content_type(),
    ];
    // `next` (where to go after signing in): a path, or anything at all.
    let next = prop_oneof![
        "/admin[ -~]{0,40}",
        any::<String>().prop_map(|s| format!("/admin/{s}")),
        any::<String>()
    ];
    let case = (
        proptest::sample::select(routes),
        segment(),
        body,
        ctype,
        any::<bool>(),
        next,
        any::<bool>(),
    );
    let cookie = shop.cookie.clone();
    runner()
        .run(
            &case,
            |(template, id, body, ctype, signed_in, next, get)| {
                let next = percent_encoding::utf8_percent_encode(
                    &next,
                    percent_encoding::NON_ALPHANUMERIC,
                );
                let headers: Vec<(String, Vec<u8>)> = if signed_in {
                    vec![("Cookie".into(), cookie.clone().into_bytes())]
                } else {
                    Vec::new()
                };
                // The sign-in page itself, which sends a signed-in browser on
                // to `next` at once.
                if get {
                    let path = format!("/admin/login?next={next}");
                    let answer =
                        shop.send(reqwest::Method::GET, &path, Who::Anonymous, &headers, None)?;
                    return check(&path, &answer);
                }
                let path = format!("{}?next={next}", fill(template, &id));
                let answer = shop.send(
                    reqwest::Method::POST,
                    &path,
                    Who::Anonymous,
                    &headers,
                    Some((ctype.as_deref(), body)),
                )?;
                check(&path, &answer)
            },
        )
        .unwrap();
}

#[test]
fn path_parameters_answer_2xx_or_an_enveloped_4xx() {
    let shop = Shop::start();
    let routes: Vec<(&str, Who)> = vec![
        ("/api/v1/products/{id}", Who::Anonymous),
        ("/api/v1/products/{id}/reviews", Who::Anonymous),
        ("/api/v1/brands/{id}", Who::Anonymous),
        ("/api/v1/categories/{id}", Who::Anonymous),
        ("/api/v1/orders/{id}", Who::Customer),
        ("/api/v1/admin/orders/{id}", Who::Admin),
        ("/api/v1/admin/jobs/{id}", Who::Admin),
        ("/api/v1/admin/users/{id}", Who::Admin),
        ("/api/v1/admin/api-keys/{id}", Who::Admin),
        ("/api/v1/admin/discount-codes/{id}", Who::Admin),
        ("/api/v1/me/addresses/{id}", Who::Customer),
        ("/replication/snapshot/{id}/{id}", Who::Anonymous),
        ("/admin/products/{id}", Who::Anonymous),
        ("/api/v1/{id}", Who::Anonymous),
    ];
    let case = (proptest::sample::select(routes), segment(), any::<bool>());
    runner()
        .run(&case, |((template, who), id, delete)| {
            let method = if delete && template.starts_with("/api/v1/admin/") {
                reqwest::Method::DELETE
            } else {
                reqwest::Method::GET
            };
            let path = fill(template, &id);
            let answer = shop.send(method, &path, who, &[], None)?;
            check(&path, &answer)
        })
        .unwrap();
}

/// Headers the API reads.
const HEADERS: &[&str] = &[
    "X-Min-Generation",
    "X-Cart-Token",
    "Idempotency-Key",
    "If-None-Match",
    "If-Modified-Since",
    "Accept-Encoding",
    "Accept",
    "Origin",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Request-Id",
    "Range",
];

#[test]
fn request_headers_the_api_reads_answer_2xx_or_an_enveloped_4xx() {
    let shop = Shop::start();
    let routes: Vec<(reqwest::Method, &str, Option<&str>)> = vec![
        (reqwest::Method::GET, "/api/v1/products?limit=3", None),
        (reqwest::Method::GET, "/api/v1/products/prod-000001", None),
        (reqwest::Method::GET, "/api/v1/cart", None),
        (
            reqwest::Method::POST,
            "/api/v1/cart/items",
            Some(r#"{"productId":"prod-000001","quantity":1}"#),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/checkout",
            Some(
                r#"{"email":"f@example.com","paymentMethod":"bank_transfer","shippingAddress":{"name":"F","line1":"1 Road","city":"Town","postalCode":"1000","country":"DE"}}"#,
            ),
        ),
        (reqwest::Method::OPTIONS, "/api/v1/products", None),
        (reqwest::Method::GET, "/health", None),
    ];
    let value = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80),
        "[ -~]{0,100}".prop_map(String::into_bytes),
        "-?[0-9]{0,25}".prop_map(String::into_bytes),
        "[A-Za-z0-9_-]{10,140}".prop_map(String::into_bytes),
    ];
    let headers = proptest::collection::vec(
        (
            proptest::sample::select(HEADERS).prop_map(String::from),
            value,
        ),
        1..4,
    );
    let case = (proptest::sample::select(routes), headers);
    runner()
        .run(&case, |((method, path, body), headers)| {
            let body = body.map(|b| (Some("application/json"), b.as_bytes().to_vec()));
            let answer = shop.send(method, path, Who::Anonymous, &headers, body)?;
            check(path, &answer)
        })
        .unwrap();
}
