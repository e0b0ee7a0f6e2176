//! Differential test of carts and checkout: the same guest shopping on
//! shopd and on the baseline must get the same answers.
//!
//! Arrange: PostgreSQL and Redis from `setup.sh` with the fixture
//! catalogue, one baseline server (cache on), shopd in-process on the same
//! catalogue, both charging 5.99 shipping and 19 % tax; the same discount
//! codes created on both through the staff API.
//!
//! Act and assert: a scripted sequence — carts (adds, merges of quantities,
//! unknown and unavailable products, limits), checkouts with and without
//! codes, 400 without an Idempotency-Key, 422 field errors, 409
//! `cart_empty`, 409 `out_of_stock` with its lines, 422
//! `discount_code_invalid` for each reason, idempotent replay (201 with
//! `Idempotent-Replayed: true` and the same order) and reuse (422) — goes
//! to both; statuses and bodies must be equal once ids, order numbers,
//! timestamps and tokens are blanked. Then 12 customers race for a product
//! with 4 units: exactly 4 orders on each side. Last, the stock of every
//! product touched, read through the product detail (so through each
//! design's cache), must be equal and equal to the fixture's less what was
//! ordered.

use crate::processes::{Baseline, Services, TOKEN, start_shopd_charging, wait_ready};
use crate::requests::first_diff;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// One response, with the headers the contract names.
#[derive(Debug, Clone)]
struct Reply {
    status: StatusCode,
    body: Value,
    cart_token: Option<String>,
    replayed: bool,
}

/// One design under test and the cart tokens of its shoppers (by name).
struct Side {
    name: &'static str,
    address: String,
    carts: HashMap<&'static str, String>,
}

#[derive(Clone, Copy)]
enum Who {
    Staff,
    Guest(&'static str),
    Nobody,
}

async fn call(
    client: &Client,
    side: &mut Side,
    method: Method,
    path: &str,
    who: Who,
    key: Option<&str>,
    body: Option<&str>,
) -> Reply {
    let url = format!("{}/api/v1{path}", side.address);
    let mut req = client.request(method, &url);
    match who {
        Who::Staff => req = req.bearer_auth(TOKEN),
        Who::Guest(shopper) => {
            if let Some(t) = side.carts.get(shopper) {
                req = req.header("X-Cart-Token", t);
            }
        }
        Who::Nobody => {}
    }
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: {url}: {e}", side.name));
    let status = res.status();
    let header = |n: &str| {
        res.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let cart_token = header("x-cart-token");
    let replayed = header("idempotent-replayed").as_deref() == Some("true");
    if let (Who::Guest(shopper), Some(t)) = (who, &cart_token) {
        side.carts.insert(shopper, t.clone());
    }
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        body,
        cart_token,
        replayed,
    }
}

/// The answer without what each design makes up by itself: ids of orders,
/// order numbers, timestamps.
fn blank(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = match k.as_str() {
                        "id" | "number" | "createdAt" | "updatedAt" | "heldUntil" | "at"
                            if !x.is_null() =>
                        {
                            json!("<blank>")
                        }
                        _ => blank(x),
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(xs) => Value::Array(xs.iter().map(blank).collect()),
        x => x.clone(),
    }
}

/// Sends one step to both sides and asserts the same answer.
#[allow(clippy::too_many_arguments)]
async fn both(
    client: &Client,
    sides: &mut [Side; 2],
    what: &str,
    method: Method,
    path: &str,
    who: Who,
    key: Option<&str>,
    body: Option<&str>,
) -> [Reply; 2] {
    let [a, b] = sides;
    let x = call(client, a, method.clone(), path, who, key, body).await;
    let y = call(client, b, method, path, who, key, body).await;
    let context = format!(
        "{what}: {path}\nshopd:    {} {}\nbaseline: {} {}",
        x.status, x.body, y.status, y.body
    );
    assert_eq!(x.status, y.status, "status differs. {context}");
    if let Some(d) = first_diff(&blank(&x.body), &blank(&y.body), "") {
        panic!("bodies differ at {d}. {context}");
    }
    assert_eq!(
        x.replayed, y.replayed,
        "Idempotent-Replayed differs. {context}"
    );
    assert_eq!(
        x.cart_token.is_some(),
        y.cart_token.is_some(),
        "X-Cart-Token differs. {context}"
    );
    [x, y]
}

fn checkout_body(email: Option<&str>, code: Option<&str>, method: &str) -> String {
    let mut b = json!({
        "shippingAddress": {"name": "Ada Lovelace", "line1": "1 Analytical Way",
            "city": "London", "postalCode": "N1 9GU", "country": "gb"},
        "paymentMethod": method,
    });
    if let Some(e) = email {
        b["email"] = json!(e);
    }
    if let Some(c) = code {
        b["discountCode"] = json!(c);
    }
    b.to_string()
}

fn item(product: &str, quantity: Option<i64>) -> String {
    match quantity {
        Some(q) => json!({"productId": product, "quantity": q}).to_string(),
        None => json!({"productId": product}).to_string(),
    }
}

async fn stock(client: &Client, address: &str, product: &str) -> u64 {
    let v: Value = client
        .get(format!("{address}/api/v1/products/{product}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]["stock"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_checks_out_exactly_like_shopd() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let services = Services::start(&tmp.path().join("services"));
    // Shipping and a tax rate that rounds: 5.99 and 19 %.
    let flags = ["--shipping", "5.99", "--tax-rate", "19"];
    let baseline = Baseline::start_with(&services, true, &flags);
    let charges = shopd::domain::order::Charges {
        shipping_cents: 599,
        tax_basis_points: 1_900,
    };
    let (shopd, shopd_handle) = start_shopd_charging(&tmp.path().join("shopd"), charges).await;
    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for a in [&shopd, &baseline.address] {
        wait_ready(&client, a).await;
    }
    let mut sides = [
        Side {
            name: "shopd",
            address: shopd.clone(),
            carts: HashMap::new(),
        },
        Side {
            name: "baseline",
            address: baseline.address.clone(),
            carts: HashMap::new(),
        },
    ];
    let fixture: BTreeMap<String, u64> = crate::common::fixture::fixture_lines("products.jsonl")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["stock"].as_u64().unwrap(),
            )
        })
        .collect();
    let c = &client;
    let s = &mut sides;
    use Method as M;
    // Products whose stock the orders below change, read first so that
    // each design has them in its cache: the stock read at the end must be
    // fresh anyway, in details and in lists.
    let ordered: [(&str, u64); 5] = [
        ("prod-000003", 2),
        ("prod-000001", 3),
        ("prod-000009", 3),
        ("prod-000004", 1),
        ("prod-000495", 4),
    ];
    let list = "/products?brand=brand-0003&sort=price_asc&limit=100";
    for side in [&shopd, &baseline.address] {
        for (product, _) in ordered {
            assert_eq!(stock(c, side, product).await, fixture[product]);
        }
    }
    both(c, s, "a list before", M::GET, list, Who::Nobody, None, None).await;

    // Discount codes, one per way a code can fail, and their errors.
    for code in [
        json!({"code": "save10", "type": "percent", "value": 10, "perCustomerLimit": 1}),
        json!({"code": "FIVER", "type": "fixed", "value": 5, "minOrder": 20}),
        json!({"code": "ONCE", "type": "percent", "value": 50, "usageLimit": 1}),
        json!({"code": "LATER", "type": "percent", "value": 5, "startsAt": "2999-01-01T00:00:00Z"}),
        json!({"code": "GONE", "type": "fixed", "value": 1, "endsAt": "2001-01-01T00:00:00Z"}),
        json!({"code": "OFF", "type": "percent", "value": 5, "active": false}),
        json!({"code": "BIG", "type": "fixed", "value": 1, "minOrder": 100000}),
    ] {
        let body = code.to_string();
        let what = "create a code";
        both(
            c,
            s,
            what,
            M::POST,
            "/admin/discount-codes",
            Who::Staff,
            None,
            Some(&body),
        )
        .await;
    }
    let dup = json!({"code": "Save10", "type": "fixed", "value": 3}).to_string();
    both(
        c,
        s,
        "taken code",
        M::POST,
        "/admin/discount-codes",
        Who::Staff,
        None,
        Some(&dup),
    )
    .await;
    let bad = json!({"code": "x", "type": "percent", "value": 150}).to_string();
    both(
        c,
        s,
        "bad code",
        M::POST,
        "/admin/discount-codes",
        Who::Staff,
        None,
        Some(&bad),
    )
    .await;
    both(
        c,
        s,
        "codes need staff",
        M::POST,
        "/admin/discount-codes",
        Who::Nobody,
        None,
        Some(&dup),
    )
    .await;

    // Carts.
    let add = "/cart/items";
    let ada = Who::Guest("ada");
    let [x, _] = both(c, s, "empty cart", M::GET, "/cart", Who::Nobody, None, None).await;
    assert_eq!(x.status, StatusCode::OK);
    for (what, body) in [
        ("add a discounted product", item("prod-000003", Some(2))),
        ("add another", item("prod-000001", None)),
        ("add to a line", item("prod-000001", Some(2))),
        ("unknown product", item("prod-999999", Some(1))),
        ("unavailable product", item("prod-000007", Some(1))),
        ("quantity 0", item("prod-000001", Some(0))),
        ("quantity 100", item("prod-000001", Some(100))),
        ("a line over 99", item("prod-000001", Some(97))),
        ("no product", json!({"quantity": 1}).to_string()),
    ] {
        both(c, s, what, M::POST, add, ada, None, Some(&body)).await;
    }
    let [x, _] = both(c, s, "the cart", M::GET, "/cart", ada, None, None).await;
    assert_eq!(x.body["data"]["itemCount"], 5, "{}", x.body);

    // Checkouts that must fail, in the contract's order of checks.
    let ada_body = checkout_body(Some("Ada@Example.com"), Some("save10"), "card");
    let co = "/checkout";
    both(c, s, "no key", M::POST, co, ada, None, Some(&ada_body)).await;
    let long_key = "k".repeat(256);
    both(
        c,
        s,
        "key too long",
        M::POST,
        co,
        ada,
        Some(&long_key),
        Some(&ada_body),
    )
    .await;
    for (what, body) in [
        ("guest without email", checkout_body(None, None, "card")),
        (
            "bad method",
            checkout_body(Some("ada@example.com"), None, "cheque"),
        ),
        (
            "no address",
            json!({"email": "ada@example.com", "paymentMethod": "card"}).to_string(),
        ),
        ("not an object", "[1]".to_string()),
    ] {
        both(c, s, what, M::POST, co, ada, Some("bad-1"), Some(&body)).await;
    }
    let nobody = checkout_body(Some("zed@example.com"), None, "card");
    both(
        c,
        s,
        "no cart",
        M::POST,
        co,
        Who::Nobody,
        Some("none-1"),
        Some(&nobody),
    )
    .await;
    for (i, code) in ["NOPE", "OFF", "GONE", "LATER", "BIG"].iter().enumerate() {
        let body = checkout_body(Some("ada@example.com"), Some(code), "card");
        let key = format!("code-{i}");
        let [x, _] = both(
            c,
            s,
            "invalid code",
            M::POST,
            co,
            ada,
            Some(&key),
            Some(&body),
        )
        .await;
        assert_eq!(
            x.body["error"]["code"], "discount_code_invalid",
            "{}",
            x.body
        );
    }

    // Ada's order, its replay, and the key reused with another body.
    let [x, y] = both(
        c,
        s,
        "checkout",
        M::POST,
        co,
        ada,
        Some("ada-1"),
        Some(&ada_body),
    )
    .await;
    assert_eq!(x.status, StatusCode::CREATED, "{}", x.body);
    let replay = both(
        c,
        s,
        "replay",
        M::POST,
        co,
        ada,
        Some("ada-1"),
        Some(&ada_body),
    )
    .await;
    for (first, again) in [(&x, &replay[0]), (&y, &replay[1])] {
        assert!(again.replayed);
        assert_eq!(first.body, again.body, "a replay answers the same order");
    }
    let other = checkout_body(Some("ada@example.com"), None, "bank_transfer");
    both(
        c,
        s,
        "key reused",
        M::POST,
        co,
        ada,
        Some("ada-1"),
        Some(&other),
    )
    .await;
    both(
        c,
        s,
        "cart cleared",
        M::POST,
        co,
        ada,
        Some("ada-2"),
        Some(&other),
    )
    .await;
    both(c, s, "cart after", M::GET, "/cart", ada, None, None).await;
    // The staff view of each side's order is the checkout's answer.
    for (side, reply) in s.iter_mut().zip([&x, &y]) {
        let id = reply.body["data"]["id"].as_str().unwrap().to_string();
        let got = call(
            c,
            side,
            M::GET,
            &format!("/admin/orders/{id}"),
            Who::Staff,
            None,
            None,
        )
        .await;
        assert_eq!(got.status, StatusCode::OK, "{}: {}", side.name, got.body);
        assert_eq!(got.body, reply.body, "{}: order detail", side.name);
    }
    both(
        c,
        s,
        "unknown order",
        M::GET,
        "/admin/orders/ord_nothing",
        Who::Staff,
        None,
        None,
    )
    .await;

    // Per-customer and total limits, a fixed amount, cash on delivery.
    let ada2 = Who::Guest("ada2");
    both(
        c,
        s,
        "ada again",
        M::POST,
        add,
        ada2,
        None,
        Some(&item("prod-000009", Some(3))),
    )
    .await;
    let again = checkout_body(Some("ada@example.com"), Some("SAVE10"), "cash_on_delivery");
    both(
        c,
        s,
        "used by ada",
        M::POST,
        co,
        ada2,
        Some("ada2-1"),
        Some(&again),
    )
    .await;
    let fiver = checkout_body(Some("ada@example.com"), Some("fiver"), "cash_on_delivery");
    both(
        c,
        s,
        "fixed code",
        M::POST,
        co,
        ada2,
        Some("ada2-2"),
        Some(&fiver),
    )
    .await;
    for (shopper, email, expect) in [
        ("bob", "bob@example.com", StatusCode::CREATED),
        ("cy", "cy@example.com", StatusCode::CONFLICT),
    ] {
        let who = Who::Guest(shopper);
        both(
            c,
            s,
            "add",
            M::POST,
            add,
            who,
            None,
            Some(&item("prod-000004", Some(1))),
        )
        .await;
        let body = checkout_body(Some(email), Some("ONCE"), "bank_transfer");
        let [x, _] = both(
            c,
            s,
            "usage limit",
            M::POST,
            co,
            who,
            Some("once"),
            Some(&body),
        )
        .await;
        assert_eq!(x.status, expect, "{}", x.body);
    }

    // Not enough stock: 409 with every blocking line.
    let dee = Who::Guest("dee");
    both(
        c,
        s,
        "add",
        M::POST,
        add,
        dee,
        None,
        Some(&item("prod-000082", Some(3))),
    )
    .await;
    both(
        c,
        s,
        "add",
        M::POST,
        add,
        dee,
        None,
        Some(&item("prod-000002", Some(1))),
    )
    .await;
    let [x, _] = both(
        c,
        s,
        "cart with a problem",
        M::GET,
        "/cart",
        dee,
        None,
        None,
    )
    .await;
    assert_eq!(
        x.body["data"]["lines"][0]["problems"],
        json!(["insufficient_stock"])
    );
    let body = checkout_body(Some("dee@example.com"), None, "card");
    let [x, _] = both(
        c,
        s,
        "out of stock",
        M::POST,
        co,
        dee,
        Some("dee-1"),
        Some(&body),
    )
    .await;
    assert_eq!(x.status, StatusCode::CONFLICT);
    assert_eq!(x.body["error"]["code"], "out_of_stock", "{}", x.body);

    // A race for the last units: 12 customers, 4 units, 4 orders each side.
    let scarce = "prod-000495";
    assert_eq!(fixture[scarce], 4);
    assert_eq!(ordered[4], (scarce, 4));
    let racers: Vec<&'static str> = (0..12)
        .map(|i| &*Box::leak(format!("racer{i}").into_boxed_str()))
        .collect();
    for side in s.iter_mut() {
        for r in &racers {
            let got = call(
                c,
                side,
                M::POST,
                add,
                Who::Guest(r),
                None,
                Some(&item(scarce, None)),
            )
            .await;
            assert_eq!(got.status, StatusCode::OK, "{}: {}", side.name, got.body);
        }
        let mut tasks = Vec::new();
        for (i, r) in racers.iter().enumerate() {
            let client = c.clone();
            let url = format!("{}/api/v1/checkout", side.address);
            let token = side.carts[r].clone();
            let body = checkout_body(Some(&format!("{r}@example.com")), None, "card");
            tasks.push(tokio::spawn(async move {
                let res = client
                    .post(url)
                    .header("X-Cart-Token", token)
                    .header("Idempotency-Key", format!("race-{i}"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = res.status();
                let body: Value = res.json().await.unwrap();
                (status, body)
            }));
        }
        let mut made = 0;
        for t in tasks {
            let (status, body) = t.await.unwrap();
            match status {
                StatusCode::CREATED => made += 1,
                StatusCode::CONFLICT => {
                    assert_eq!(body["error"]["code"], "out_of_stock", "{}", side.name);
                    let line = &body["error"]["lines"][0];
                    assert_eq!(line["productId"], scarce, "{}: {body}", side.name);
                    assert_eq!(line["requested"], 1, "{}: {body}", side.name);
                }
                s => panic!("{}: a racing checkout answered {s}: {body}", side.name),
            }
        }
        assert_eq!(made, 4, "{}: orders for the last 4 units", side.name);
    }

    // Stock afterwards, through each design's product detail and list
    // (and caches).
    for (product, n) in ordered {
        let a = stock(c, &shopd, product).await;
        let b = stock(c, &baseline.address, product).await;
        assert_eq!(a, b, "stock of {product}: shopd {a}, baseline {b}");
        assert_eq!(a, fixture[product] - n, "stock of {product}");
    }
    let [x, _] = both(c, s, "a list after", M::GET, list, Who::Nobody, None, None).await;
    let listed = x.body["data"].as_array().unwrap();
    let table = listed
        .iter()
        .find(|p| p["title"] == "Cozy Glass Coffee Table Pro 800")
        .unwrap_or_else(|| panic!("prod-000003 in the list: {}", x.body));
    assert_eq!(table["stock"], fixture["prod-000003"] - 2, "{table}");
    for product in ["prod-000082", "prod-000002", "prod-000007"] {
        assert_eq!(stock(c, &shopd, product).await, fixture[product]);
        assert_eq!(stock(c, &baseline.address, product).await, fixture[product]);
    }

    shopd_handle.stop(true).await;
    eprintln!(
        "differential checkout: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
