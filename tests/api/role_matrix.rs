//! Who may call what, generated from the route table: every route of
//! `shopd::api::routes::ROUTES` × {anonymous, wrong token, admin token}
//! answers its documented success or 401 as its `Access` says, and a route
//! with an `{id}` answers 404 for a missing one.
//!
//! Request bodies are the examples the OpenAPI document gives for each body
//! type; a route on `/things/{id}` gets a fresh record created through the
//! table's `POST /things` first, so deletes and patches touch nothing other
//! routes read.

use crate::contract::Contract;
use crate::helpers::{TOKEN, TestApp, spawn_fixture_with};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use shopd::api::openapi::Answer;
use shopd::api::routes::{Access, ROUTES, Route, Verb};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Anonymous,
    WrongToken,
    Admin,
}

fn method(v: Verb) -> Method {
    Method::from_bytes(v.as_str().as_bytes()).unwrap()
}

fn success(route: &Route) -> u16 {
    match route.doc.answer {
        Answer::Json(status, _) | Answer::Empty(status) => status,
        Answer::Probe(_) | Answer::Text(_) => 200,
    }
}

/// The example body the document gives for `route`'s request body, if any.
fn example_body(contract: &Contract, route: &Route) -> Option<Value> {
    let op = &contract.doc()["paths"][route.pattern][route.verb.as_str().to_lowercase()];
    let reference = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()?;
    let name = reference.rsplit('/').next()?;
    let example = contract.doc()["components"]["schemas"][name]["examples"][0].clone();
    assert!(!example.is_null(), "schema {name} has no example");
    Some(example)
}

async fn send(
    app: &TestApp,
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
    let mut req = client.request(m, app.url(path));
    req = match caller {
        Caller::Anonymous => req,
        Caller::WrongToken => req.bearer_auth("not-the-token"),
        Caller::Admin => req.bearer_auth(TOKEN),
    };
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.expect("request sent")
}

/// A fresh record for `/things/{id}…` routes: created with the table's
/// `POST /things` and its example body. `{file}` routes get a docs file.
async fn fresh_path(app: &TestApp, contract: &Contract, route: &Route) -> String {
    let Some(brace) = route.pattern.find('{') else {
        return route.pattern.to_string();
    };
    let end = route.pattern[brace..].find('}').unwrap() + brace;
    let param = &route.pattern[brace + 1..end];
    if route.pattern.starts_with("/api/v1/admin/jobs/{id}") {
        let id = dead_job(app).await;
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
        let res = send(app, Caller::Admin, Method::POST, collection, body.as_ref()).await;
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

/// A dead job (every job route can act on one: read, retry, discard): a
/// test mail to an SMTP port nothing listens on, one attempt allowed.
async fn dead_job(app: &TestApp) -> u64 {
    let res = send(
        app,
        Caller::Admin,
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
            Caller::Admin,
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
        c.bench_ceiling = true;
        c.smtp_url = Some(shopd::configuration::Secret::new(format!(
            "smtp://127.0.0.1:{refused}?tls=none"
        )));
        c.breaker_failures = 1_000;
        for q in &mut c.queues {
            q.max_attempts = 1;
        }
    })
    .await;
    let contract = Contract::fetch(&app).await;
    let mut checked = 0;
    for route in ROUTES {
        let m = method(route.verb);
        let body = example_body(&contract, route);
        for caller in [Caller::Anonymous, Caller::WrongToken, Caller::Admin] {
            let path = fresh_path(&app, &contract, route).await;
            let res = send(&app, caller, m.clone(), &path, body.as_ref()).await;
            let expected = match (route.access, caller) {
                (Access::Public, _) | (_, Caller::Admin) => success(route),
                _ => 401,
            };
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            assert_eq!(status, expected, "{caller:?} {m} {path}: {text}");
            checked += 1;

            if route.path_params().next().is_some() {
                let missing = route
                    .pattern
                    .replace("{id}", "no-such-id")
                    .replace("{file}", "no-such-file");
                let res = send(&app, caller, m.clone(), &missing, body.as_ref()).await;
                let expected = if expected == 401 { 401 } else { 404 };
                assert_eq!(res.status().as_u16(), expected, "{caller:?} {m} {missing}");
            }
        }
    }
    assert_eq!(checked, ROUTES.len() * 3);
}
