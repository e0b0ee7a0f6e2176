//! The admin pages: sessions, CSRF and roles over real HTTP, the live
//! overview's figures, and a run in headless Chromium (Debian's package,
//! driven by playwright-core from npm: tests/browser/admin.mjs) that signs
//! in, ships an order, edits a price, retries a dead job, adds a synonym
//! and creates a key, with screenshots of every page in
//! target/admin-screenshots/.

use crate::accounts::{PASSWORD, account};
use crate::common::fixture::repo;
use crate::helpers::{TestApp, spawn_fixture_with};
use crate::jobs::{fast, send_test, wait_job};
use crate::smtp::{Mode, SmtpServer};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A browser without JavaScript: keeps cookies by hand, follows no
/// redirects.
pub(crate) struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of a hidden `_csrf` input.
    pub(crate) fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"_csrf\" value=\"")
            .expect("a CSRF field")
            + 20;
        self.body[at..].split('"').next().unwrap().to_string()
    }
}

impl Browser {
    pub(crate) fn new(app: &TestApp) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.address.clone(),
            cookies: Vec::new(),
        }
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, headers: &HeaderMap) {
        for c in headers.get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (name, rest) = c.split_once('=').unwrap();
            let value = rest.split(';').next().unwrap().to_string();
            self.cookies.retain(|(k, _)| k != name);
            if !c.contains("Max-Age=0") {
                self.cookies.push((name.to_string(), value));
            }
        }
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Answer {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header());
        if let Some(f) = form {
            req = req
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(f).unwrap());
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        self.keep_cookies(&headers);
        Answer {
            status,
            headers,
            body: res.text().await.unwrap(),
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.send(Method::POST, path, Some(form)).await
    }

    pub(crate) async fn sign_in(&mut self, email: &str, password: &str) -> Answer {
        let form = self.get("/admin/login").await;
        let csrf = form.csrf();
        self.post(
            "/admin/login",
            &[
                ("_csrf", &csrf),
                ("email", email),
                ("password", password),
                ("next", "/admin/orders"),
            ],
        )
        .await
    }
}

#[tokio::test]
async fn admin_pages_take_a_staff_session_a_csrf_token_on_every_form_and_end_with_the_role() {
    let app = spawn_fixture_with(|_| {}).await;
    account(&app, "staff@example.com", "staff").await;
    account(&app, "customer@example.com", "customer").await;
    let mut b = Browser::new(&app);

    // Not signed in: to the sign-in form, and back after it.
    let a = b.get("/admin/orders?status=paid").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.location(),
        "/admin/login?next=%2Fadmin%2Forders%3Fstatus%3Dpaid"
    );
    let a = b.get("/admin/live.json").await;
    assert_eq!(
        a.status,
        StatusCode::SEE_OTHER,
        "the live figures are not public"
    );

    // The form carries a strict policy and a login CSRF cookie.
    let form = b.get("/admin/login").await;
    assert_eq!(form.status, StatusCode::OK);
    let csp = form.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(form.headers["cache-control"], "no-store");

    // A post without the form's token is refused before any password check.
    let a = b
        .post(
            "/admin/login",
            &[
                ("_csrf", "forged"),
                ("email", "staff@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(!b.cookies.iter().any(|(k, _)| k == "shopd_admin"));

    // A wrong password and an unknown email read the same.
    let wrong = b.sign_in("staff@example.com", "not the password").await;
    let unknown = b.sign_in("nobody@example.com", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let message = |a: &Answer| {
        a.body[a.body.find("login-error").unwrap()..]
            .split('<')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(message(&wrong), message(&unknown));

    // A customer's right password opens nothing.
    let a = b.sign_in("customer@example.com", PASSWORD).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("cannot use the admin pages"), "{}", a.body);
    assert!(!b.cookies.iter().any(|(k, _)| k == "shopd_admin"));

    // Staff: a session cookie the page's script cannot read, sent only to
    // this site's admin pages.
    let a = b.sign_in("staff@example.com", PASSWORD).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location(), "/admin/orders");
    let set = a
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("shopd_admin="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(set.contains(flag), "{set}");
    }
    let orders = b.get("/admin/orders").await;
    assert_eq!(orders.status, StatusCode::OK);
    assert!(orders.body.contains("staff@example.com (staff)"));

    // Staff do not see the users page; forms without the token do nothing.
    assert_eq!(b.get("/admin/users").await.status, StatusCode::FORBIDDEN);
    let a = b
        .post(
            "/admin/products/prod-000001",
            &[("title", "Hijacked"), ("price", "1")],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("csrf_failed"));
    let (_, p) = app.get_json("/api/v1/products/prod-000001").await;
    assert_ne!(p["data"]["title"], "Hijacked");

    // With the token, the API's validation answers, field by field.
    let csrf = orders.csrf();
    let a = b
        .post(
            "/admin/products/prod-000001",
            &[
                ("_csrf", &csrf),
                ("title", ""),
                ("price", "-3"),
                ("stock", "many"),
                ("isAvailable", "on"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    for id in ["title-err", "price-err", "stock-err"] {
        assert!(a.body.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    let (_, after) = app.get_json("/api/v1/products/prod-000001").await;
    assert_eq!(after["data"], p["data"], "a refused form changed nothing");

    // A role change ends the session at its next request.
    let (_, users) = app
        .admin(Method::GET, "/api/v1/admin/users?email=staff@", None)
        .await;
    let id = users["data"][0]["id"].as_str().unwrap();
    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/users/{id}"),
            Some(json!({"role": "customer"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let a = b.get("/admin/orders").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(a.location().starts_with("/admin/login"));

    // Signing out ends the browser session and the account's session.
    account(&app, "owner@example.com", "admin").await;
    let a = b.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let page = b.get("/admin/users").await;
    assert_eq!(page.status, StatusCode::OK);
    let old = b.cookie_header();
    let a = b.post("/admin/logout", &[("_csrf", &page.csrf())]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(!b.cookies.iter().any(|(k, _)| k == "shopd_admin"));
    let replay = b
        .client
        .get(format!("{}/admin/users", b.base))
        .header("Cookie", old)
        .send()
        .await
        .unwrap();
    assert_eq!(
        replay.status(),
        StatusCode::SEE_OTHER,
        "a signed-out cookie still works"
    );
}

#[tokio::test]
async fn the_overview_counts_storefront_traffic_not_its_own_and_fills_the_tracker() {
    let app = spawn_fixture_with(|_| {}).await;
    account(&app, "owner@example.com", "admin").await;
    let mut b = Browser::new(&app);
    assert_eq!(
        b.sign_in("owner@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let first: Value = serde_json::from_str(&b.get("/admin/live.json").await.body).unwrap();
    let base = first["totals"]["requests"].as_u64().unwrap();
    for _ in 0..40 {
        assert_eq!(app.get("/api/v1/products").await.status(), StatusCode::OK);
    }
    // Polling the overview itself adds nothing.
    for _ in 0..20 {
        b.get("/admin/live.json").await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let live = loop {
        let v: Value = serde_json::from_str(&b.get("/admin/live.json").await.body).unwrap();
        let busy = v["samples"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["requestsPerSec"].as_f64().unwrap() > 0.0);
        if busy {
            break v;
        }
        assert!(Instant::now() < deadline, "no sample saw the traffic: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        live["totals"]["requests"].as_u64().unwrap() - base,
        40,
        "{}",
        live["totals"]
    );
    let sample = live["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["requestsPerSec"].as_f64().unwrap() > 0.0)
        .unwrap();
    assert!(sample["p95Ms"].as_f64().unwrap() >= sample["p50Ms"].as_f64().unwrap());
    assert!(sample["memoryBytes"].as_u64().unwrap() > 1 << 20);
    assert!(sample["connections"].as_i64().unwrap() >= 1);
    let list = sample["cacheHitPct"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k[0] == "product_list")
        .expect("a list cache kind");
    assert!(list[1].as_f64().is_some(), "list lookups were made: {list}");
    let tracker = live["tracker"].as_array().unwrap();
    assert_eq!(tracker.len(), 7);
    for row in tracker {
        assert!(
            row["met"].is_boolean(),
            "judged once there is traffic: {row}"
        );
    }
    // Only what was asked for: samples after `since`.
    let last = sample["t"].as_i64().unwrap();
    let later: Value =
        serde_json::from_str(&b.get(&format!("/admin/live.json?since={last}")).await.body).unwrap();
    assert!(
        later["samples"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["t"].as_i64().unwrap() > last)
    );
}

/// Places a guest order of one `product`; its id.
async fn guest_order(app: &TestApp, product: &str, email: &str) -> String {
    let res = app
        .client
        .post(app.url("/api/v1/cart/items"))
        .json(&json!({"productId": product, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let cart = res.headers()["x-cart-token"].to_str().unwrap().to_string();
    let res = app
        .client
        .post(app.url("/api/v1/checkout"))
        .header("X-Cart-Token", &cart)
        .header("Idempotency-Key", format!("k-{email}"))
        .json(
            &json!({"email": email, "paymentMethod": "bank_transfer", "shippingAddress":
            {"name": "Ada Lovelace", "line1": "12 Example Road", "city": "London",
             "postalCode": "NW1 6XE", "country": "GB"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.unwrap();
    v["data"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_shop_owner_works_through_every_admin_page_in_headless_chromium() {
    // Chromium and playwright-core, installed when missing (as .ci/run does).
    let setup = std::process::Command::new("bash")
        .arg(repo().join("tests/browser/setup.sh"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bash runs");
    assert!(
        setup.status.success(),
        "tests/browser/setup.sh could not install Chromium or playwright-core:\n{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let chromium = String::from_utf8_lossy(&setup.stdout).trim().to_string();

    // A dead mail job: the SMTP server refuses every message until the
    // job has used its attempts, then a working one takes its port.
    let refusing = SmtpServer::start(Mode::Reject5xx);
    let port = refusing.port;
    let url = refusing.url();
    let app = spawn_fixture_with(|c| {
        fast(c, Some(url));
        c.mail.breaker_failures = 100;
    })
    .await;
    let dead = send_test(&app, json!({"to": "owner@example.com"})).await;
    wait_job(&app, dead, Duration::from_secs(20), |j| {
        j["state"] == "dead"
    })
    .await;
    drop(refusing);
    let smtp = SmtpServer::start_on(Mode::Accept, port);

    account(&app, "owner@example.com", "admin").await;
    account(&app, "customer@example.com", "customer").await;
    let product = "prod-000001";
    let paid = guest_order(&app, product, "paid@example.com").await;
    guest_order(&app, "prod-000002", "pending@example.com").await;
    let (status, v) = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/orders/{paid}/mark-paid"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // A query that finds nothing, recorded by search analytics.
    let (_, none) = app.get_json("/api/v1/search?q=jumper").await;
    assert_eq!(none["meta"]["total"], 0);

    let shots = repo().join("target/admin-screenshots");
    let mut node = std::process::Command::new("node");
    node.arg("tests/browser/admin.mjs")
        .current_dir(repo())
        .env("SHOPD_URL", &app.address)
        .env("ADMIN_EMAIL", "owner@example.com")
        .env("CUSTOMER_EMAIL", "customer@example.com")
        .env("PASSWORD", PASSWORD)
        .env("PRODUCT_ID", product)
        .env("DEAD_JOB_ID", dead.to_string())
        .env("ZERO_QUERY", "jumper")
        .env("SYNONYM", "lamp")
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", &chromium);
    // Blocking: off the runtime's thread.
    let out = tokio::task::spawn_blocking(move || node.output())
        .await
        .unwrap()
        .expect("node runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser run failed:\n{log}");

    // What the browser did, as the API sees it.
    let (_, order) = app
        .admin(Method::GET, &format!("/api/v1/admin/orders/{paid}"), None)
        .await;
    assert_eq!(order["data"]["status"], "shipped", "{order}");
    let history = order["data"]["history"].as_array().unwrap();
    assert!(
        history.last().unwrap()["by"]
            .as_str()
            .unwrap()
            .starts_with("admin "),
        "{order}"
    );
    let (_, p) = app.get_json(&format!("/api/v1/products/{product}")).await;
    assert_eq!(p["data"]["price"], 123.45);
    wait_job(&app, dead, Duration::from_secs(20), |j| {
        j["state"] == "done"
    })
    .await;
    // (Done means the working SMTP server took it.)
    drop(smtp);
    let (_, synonyms) = app.get_json("/api/v1/search/synonyms").await;
    assert!(
        synonyms["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g.as_array().unwrap().contains(&json!("jumper"))),
        "{synonyms}"
    );
    let desktop = [
        "overview",
        "orders",
        "order",
        "products",
        "product",
        "brands",
        "categories",
        "jobs",
        "search",
        "users",
        "login",
    ];
    let phone = [
        "overview",
        "orders",
        "products",
        "products-prod-000001",
        "brands",
        "categories",
        "jobs",
        "search",
        "users",
    ];
    let wanted = desktop
        .iter()
        .map(|p| format!("{p}-desktop.png"))
        .chain(phone.iter().map(|p| format!("{p}-phone.png")));
    for name in wanted {
        assert!(shots.join(&name).exists(), "no screenshot {name}");
    }
}

/// The admin cookies are `Secure` when the browser came over HTTPS, which
/// only a trusted proxy can say: a client's own `X-Forwarded-Proto` is not
/// believed.
#[tokio::test]
async fn admin_cookies_are_secure_only_when_a_trusted_proxy_says_https() {
    async fn login_cookie(app: &TestApp) -> String {
        let res = reqwest::Client::new()
            .get(app.url("/admin/login"))
            .header("X-Forwarded-Proto", "https")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with("shopd_admin_login="))
            .expect("the sign-in form sets its CSRF cookie")
    }
    let untrusted = spawn_fixture_with(|_| {}).await;
    let cookie = login_cookie(&untrusted).await;
    assert!(!cookie.contains("Secure"), "{cookie}");
    let behind_proxy = spawn_fixture_with(|c| {
        c.http.trusted_proxies =
            shopd::config::http::TrustedProxies::parse_list("127.0.0.1").unwrap();
    })
    .await;
    let cookie = login_cookie(&behind_proxy).await;
    assert!(cookie.contains("Secure"), "{cookie}");
}
