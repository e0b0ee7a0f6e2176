//! Who may call what, generated from the route table: every route of
//! `shopd::api::routes::ROUTES` × {anonymous, a wrong token, a customer,
//! another customer, a staff account, an admin account, the bootstrap admin
//! token, a staff API key, an admin API key} answers its documented
//! success, 401 or 403 as its `Access` says, and a route with an `{id}`
//! answers 404 for a missing one. Public routes ignore credentials: every
//! caller gets what an anonymous one gets.
//!
//! Request bodies are the examples the OpenAPI document gives for each body
//! type; a route on `/things/{id}` gets a fresh record created through the
//! table's `POST /things` first, so deletes and patches touch nothing other
//! routes read.

use crate::accounts::{PASSWORD, account, login, user_id};
use crate::contract::Contract;
use crate::helpers::{TOKEN, TestApp, spawn_fixture_with};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use shopd::api::openapi::describe::Answer;
use shopd::api::route::{Access, Route, Verb};
use shopd::api::routes::ROUTES;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Caller {
    Anonymous,
    WrongToken,
    Customer,
    OtherCustomer,
    StaffAccount,
    AdminAccount,
    AdminToken,
    StaffKey,
    AdminKey,
}

const CALLERS: [Caller; 9] = [
    Caller::Anonymous,
    Caller::WrongToken,
    Caller::Customer,
    Caller::OtherCustomer,
    Caller::StaffAccount,
    Caller::AdminAccount,
    Caller::AdminToken,
    Caller::StaffKey,
    Caller::AdminKey,
];

impl Caller {
    /// The email of an account caller.
    fn email(self) -> Option<&'static str> {
        match self {
            Caller::Customer => Some("customer@matrix.example"),
            Caller::OtherCustomer => Some("other@matrix.example"),
            Caller::StaffAccount => Some("staff@matrix.example"),
            Caller::AdminAccount => Some("admin@matrix.example"),
            _ => None,
        }
    }

    /// Whether this caller may call a route that needs `access`.
    fn allowed(self, access: Access) -> bool {
        use Caller::*;
        match access {
            Access::Public => true,
            Access::Shopper => matches!(
                self,
                Anonymous | Customer | OtherCustomer | StaffAccount | AdminAccount
            ),
            Access::Signed => !matches!(self, Anonymous | WrongToken),
            Access::Account => {
                matches!(self, Customer | OtherCustomer | StaffAccount | AdminAccount)
            }
            Access::Staff => matches!(
                self,
                StaffAccount | AdminAccount | AdminToken | StaffKey | AdminKey
            ),
            Access::Admin => matches!(self, AdminAccount | AdminToken | AdminKey),
            // Only the replication token, which no caller here holds.
            Access::Replication => false,
        }
    }
}

/// What each caller presents.
struct Credentials {
    access: HashMap<Caller, String>,
    keys: HashMap<Caller, String>,
}

impl Credentials {
    async fn new(app: &TestApp) -> Credentials {
        let mut access = HashMap::new();
        for caller in CALLERS {
            if let Some(email) = caller.email() {
                let role = match caller {
                    Caller::StaffAccount => "staff",
                    Caller::AdminAccount => "admin",
                    _ => "customer",
                };
                let pair = account(app, email, role).await;
                access.insert(caller, pair["accessToken"].as_str().unwrap().to_string());
            }
        }
        let mut keys = HashMap::new();
        for (caller, role) in [(Caller::StaffKey, "staff"), (Caller::AdminKey, "admin")] {
            let (status, v) = app
                .admin(
                    Method::POST,
                    "/api/v1/admin/api-keys",
                    Some(serde_json::json!({"name": format!("matrix {role}"), "role": role})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{v}");
            keys.insert(caller, v["data"]["key"].as_str().unwrap().to_string());
        }
        Credentials { access, keys }
    }

    /// A fresh session for an account caller (after logout ended one).
    async fn relogin(&mut self, app: &TestApp, caller: Caller) {
        if let Some(email) = caller.email() {
            let pair = login(app, email, PASSWORD).await;
            self.access
                .insert(caller, pair["accessToken"].as_str().unwrap().to_string());
        }
    }
}

fn method(v: Verb) -> Method {
    Method::from_bytes(v.as_str().as_bytes()).unwrap()
}

fn success(route: &Route) -> u16 {
    match route.doc.answer {
        Answer::Json(status, _) | Answer::Empty(status) => status,
        Answer::Probe(_) | Answer::Text(_) | Answer::Image => 200,
    }
}

/// A JPEG no earlier call made (each upload is a new image).
fn fresh_jpeg() -> Vec<u8> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    crate::media::jpeg(16 + N.fetch_add(1, Ordering::Relaxed), 16)
}

/// A new uploaded image's id.
async fn fresh_media(app: &TestApp) -> String {
    let (status, v) = crate::media::upload_raw(app, fresh_jpeg(), "image/jpeg").await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v["data"]["id"].as_str().unwrap().to_string()
}

/// The example body the document gives for `route`'s request body, if any.
fn example_body(contract: &Contract, route: &Route) -> Option<Value> {
    let op = &contract.doc()["paths"][route.pattern][route.verb.as_str().to_lowercase()];
    let reference = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()?;
    let mut name = reference.rsplit('/').next()?;
    let schemas = &contract.doc()["components"]["schemas"];
    // A body of several shapes (`oneOf`): the first shape's example.
    if schemas[name]["examples"].is_null()
        && let Some(first) = schemas[name]["oneOf"][0]["$ref"].as_str()
    {
        name = first.rsplit('/').next()?;
    }
    let example = schemas[name]["examples"][0].clone();
    assert!(!example.is_null(), "schema {name} has no example");
    Some(example)
}

async fn send(
    app: &TestApp,
    creds: &Credentials,
    caller: Caller,
    m: Method,
    path: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    // Redirects are answers here (`/docs` → `/docs/`), not something to follow.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let upload = m == Method::POST && path == "/api/v1/media";
    let mut req = client.request(m, app.url(path));
    req = match caller {
        Caller::Anonymous => req,
        Caller::WrongToken => req.bearer_auth("not-the-token"),
        Caller::AdminToken => req.bearer_auth(TOKEN),
        Caller::StaffKey | Caller::AdminKey => req.header("X-API-Key", &creds.keys[&caller]),
        account => req.bearer_auth(&creds.access[&account]),
    };
    if let Some(b) = body {
        req = req.json(b);
    } else if upload {
        req = req.header("Content-Type", "image/jpeg").body(fresh_jpeg());
    }
    req.send().await.expect("request sent")
}

/// A fresh record for `/things/{id}…` routes: created with the table's
/// `POST /things` and its example body. `{file}` routes get a docs file.
async fn fresh_path(
    app: &TestApp,
    creds: &Credentials,
    contract: &Contract,
    route: &Route,
    caller: Caller,
) -> String {
    let Some(brace) = route.pattern.find('{') else {
        return route.pattern.to_string();
    };
    let end = route.pattern[brace..].find('}').unwrap() + brace;
    let param = &route.pattern[brace + 1..end];
    let with = |id: &str| {
        format!(
            "{}{id}{}",
            &route.pattern[..brace],
            &route.pattern[end + 1..]
        )
    };
    match route.pattern {
        "/api/v1/cart/items/{id}" => return with("prod-000001"),
        "/api/v1/media/{id}" => return with(&fresh_media(app).await),
        "/media/{id}/{file}" => return format!("/media/{}/480", fresh_media(app).await),
        "/replication/snapshot/{position}/{part}" => {
            return "/replication/snapshot/1/part-00000.bin".into();
        }
        "/api/v1/admin/reviews/{id}/hide" | "/api/v1/admin/reviews/{id}/show" => {
            let (status, v) = app
                .admin(
                    Method::POST,
                    "/api/v1/products/prod-000001/reviews",
                    Some(serde_json::json!({"userId": "user-00001", "rating": 3})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{v}");
            let id = v["data"]["id"].as_str().unwrap().to_string();
            if route.pattern.ends_with("/show") {
                let (status, _) = app
                    .admin(
                        Method::POST,
                        &format!("/api/v1/admin/reviews/{id}/hide"),
                        None,
                    )
                    .await;
                assert_eq!(status, StatusCode::NO_CONTENT);
            }
            return with(&id);
        }
        "/api/v1/orders/{id}" | "/api/v1/me/notifications/{id}/read" => {
            return with("someone-elses");
        }
        p if p.starts_with("/api/v1/admin/orders/{id}") => {
            return with(&guest_order(app).await);
        }
        p if p.starts_with("/api/v1/admin/discount-codes/{id}") => {
            let code = format!("M{}", rand_suffix());
            let (status, v) = app
                .admin(
                    Method::POST,
                    "/api/v1/admin/discount-codes",
                    Some(serde_json::json!({"code": code, "type": "fixed", "value": 1})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{v}");
            return with(&code);
        }
        "/api/v1/me/wishlist/{id}" | "/api/v1/me/addresses/{id}" => {
            // The caller's own record, when it is an account.
            let Some(email) = caller.email() else {
                return with("not-yours");
            };
            let bearer = login(app, email, PASSWORD).await["accessToken"]
                .as_str()
                .unwrap()
                .to_string();
            if route.pattern.starts_with("/api/v1/me/wishlist") {
                let (status, _) = app
                    .call(
                        Method::POST,
                        "/api/v1/me/wishlist",
                        Some(&bearer),
                        Some(serde_json::json!({"productId": "prod-000001"})),
                    )
                    .await;
                assert_eq!(status, StatusCode::NO_CONTENT);
                return with("prod-000001");
            }
            let create = ROUTES
                .iter()
                .find(|r| r.pattern == "/api/v1/me/addresses" && r.verb == Verb::Post)
                .unwrap();
            let (status, v) = app
                .call(
                    Method::POST,
                    "/api/v1/me/addresses",
                    Some(&bearer),
                    example_body(contract, create),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{v}");
            return with(v["data"]["id"].as_str().unwrap());
        }
        _ => {}
    }
    if route.pattern.starts_with("/api/v1/admin/users/{id}") {
        let id = user_id(app, VICTIM).await;
        return format!("{}{id}", &route.pattern[..brace]);
    }
    if route.pattern.starts_with("/api/v1/admin/jobs/{id}") {
        let id = dead_job(app, creds).await;
        return format!(
            "{}{id}{}",
            &route.pattern[..brace],
            &route.pattern[end + 1..]
        );
    }
    let value = if param == "file" {
        "swagger-ui.css".to_string()
    } else {
        let collection = route.pattern[..brace].trim_end_matches('/');
        let create = ROUTES
            .iter()
            .find(|r| r.pattern == collection && r.verb == Verb::Post)
            .unwrap_or_else(|| {
                panic!(
                    "no POST {collection} to make a record for {}",
                    route.pattern
                )
            });
        let body = example_body(contract, create);
        let res = send(
            app,
            creds,
            Caller::AdminToken,
            Method::POST,
            collection,
            body.as_ref(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::CREATED, "POST {collection}");
        let location = res.headers()["location"].to_str().unwrap().to_string();
        location.rsplit('/').next().unwrap().to_string()
    };
    format!(
        "{}{}{}",
        &route.pattern[..brace],
        value,
        &route.pattern[end + 1..]
    )
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{:04}", N.fetch_add(1, Ordering::Relaxed))
}

/// A new pending guest order of one unit (each order route acts on one).
async fn guest_order(app: &TestApp) -> String {
    let res = app
        .client
        .post(app.url("/api/v1/cart/items"))
        .json(&serde_json::json!({"productId": "prod-000001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let token = res.headers()["x-cart-token"].to_str().unwrap().to_string();
    let res = app
        .client
        .post(app.url("/api/v1/checkout"))
        .header("X-Cart-Token", token)
        .header("Idempotency-Key", "matrix")
        .json(&serde_json::json!({
            "email": "guest@matrix.example", "paymentMethod": "bank_transfer",
            "shippingAddress": {"name": "A", "line1": "B", "city": "C", "postalCode": "D", "country": "GB"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A dead job (every job route can act on one: read, retry, discard): a
/// test mail to an SMTP port nothing listens on, one attempt allowed.
async fn dead_job(app: &TestApp, creds: &Credentials) -> u64 {
    let res = send(
        app,
        creds,
        Caller::AdminToken,
        Method::POST,
        "/api/v1/admin/notifications/test",
        Some(&serde_json::json!({"to": "a@example.com"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let id = res.json::<Value>().await.unwrap()["data"]["jobId"]
        .as_u64()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let res = send(
            app,
            creds,
            Caller::AdminToken,
            Method::GET,
            &format!("/api/v1/admin/jobs/{id}"),
            None,
        )
        .await;
        let v: Value = res.json().await.unwrap();
        if v["data"]["state"] == "dead" {
            return id;
        }
        assert!(std::time::Instant::now() < deadline, "job {id}: {v}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn every_route_answers_each_caller_as_its_access_says() {
    let refused = crate::smtp::free_port();
    let app = spawn_fixture_with(|c| {
        c.http.bench_ceiling = true;
        c.mail.smtp_url = Some(shopd::config::Secret::new(format!(
            "smtp://127.0.0.1:{refused}?tls=none"
        )));
        c.mail.breaker_failures = 1_000;
        c.replication.token = Some(shopd::config::Secret::new("matrix-replication"));
        for q in &mut c.jobs.queues {
            q.max_attempts = 1;
        }
    })
    .await;
    let contract = Contract::fetch(&app).await;
    let (status, _) = crate::accounts::register(&app, VICTIM).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let mut creds = Credentials::new(&app).await;
    let mut checked = 0;
    for route in ROUTES {
        let m = method(route.verb);
        for caller in CALLERS {
            let body = body_for(&app, route, &contract).await;
            let path = fresh_path(&app, &creds, &contract, route, caller).await;
            let res = send(&app, &creds, caller, m.clone(), &path, body.as_ref()).await;
            let expected = if caller.allowed(route.access) {
                match (route.verb, route.pattern) {
                    // The document's example tokens were never mailed: they
                    // authenticate nothing.
                    (_, "/api/v1/auth/verify-email" | "/api/v1/auth/password-reset/confirm") => 401,
                    // Past the access check, each of these answers what
                    // its use case says of a caller with nothing there:
                    // no cart (a guest), no order of theirs, no
                    // notification, no Idempotency-Key, no webhook secret.
                    // (Accounts put the product in their cart through
                    // `POST /cart/items` just before.)
                    (_, "/api/v1/cart/items/{id}") if caller == Caller::Anonymous => 404,
                    (_, "/api/v1/orders/{id}") | (_, "/api/v1/me/notifications/{id}/read") => 404,
                    (_, "/api/v1/checkout") => 400,
                    (_, "/api/v1/payments/webhook") => 404,
                    // A customer's review is their own (the example names
                    // another user: they may not write as them).
                    (Verb::Post, "/api/v1/products/{id}/reviews")
                        if matches!(caller, Caller::Customer | Caller::OtherCustomer) =>
                    {
                        403
                    }
                    _ => success(route),
                }
            } else if matches!(caller, Caller::Anonymous | Caller::WrongToken)
                || route.access == Access::Replication
            {
                // Any credential but the replication token is not one.
                401
            } else {
                403
            };
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            assert_eq!(status, expected, "{caller:?} {m} {path}: {text}");
            checked += 1;
            if route.pattern == "/api/v1/auth/logout" && status == 204 {
                creds.relogin(&app, caller).await;
            }

            if route.path_params().next().is_some() {
                let missing = route
                    .pattern
                    .replace("{id}", "no-such-id")
                    .replace("{file}", "no-such-file");
                let res = send(&app, &creds, caller, m.clone(), &missing, body.as_ref()).await;
                let expected = if expected == 401 || expected == 403 {
                    expected
                } else {
                    404
                };
                assert_eq!(res.status().as_u16(), expected, "{caller:?} {m} {missing}");
            }
        }
    }
    assert_eq!(checked, ROUTES.len() * CALLERS.len());
}

/// The account `PATCH /admin/users/{id}` changes (no caller's own).
const VICTIM: &str = "victim@matrix.example";

/// The body a route gets: the document's example, except where success
/// needs state only this test has (a real sign-in, a live refresh token,
/// the callers' own password kept).
async fn body_for(app: &TestApp, route: &Route, contract: &Contract) -> Option<Value> {
    match route.pattern {
        "/api/v1/auth/login" => Some(serde_json::json!({
            "email": Caller::Customer.email().unwrap(), "password": PASSWORD
        })),
        "/api/v1/auth/refresh" => {
            let pair = login(app, VICTIM_LOGIN, PASSWORD).await;
            Some(serde_json::json!({"refreshToken": pair["refreshToken"]}))
        }
        "/api/v1/me/password" => Some(serde_json::json!({
            "currentPassword": PASSWORD, "newPassword": PASSWORD
        })),
        // Codes are unique: each caller creates its own.
        "/api/v1/admin/discount-codes" if route.verb == Verb::Post => {
            let mut b = example_body(contract, route)?;
            b["code"] = Value::String(format!("C{}", rand_suffix()));
            Some(b)
        }
        _ => example_body(contract, route),
    }
}

/// An account whose refresh tokens the refresh route spends.
const VICTIM_LOGIN: &str = "customer@matrix.example";
