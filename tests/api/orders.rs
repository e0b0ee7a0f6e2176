//! Selling, end to end over real HTTP: guest and account carts, checkout
//! with idempotency keys, concurrency at the last units of stock and at a
//! discount code's limit, the order status machine, signed payment
//! webhooks, addresses, wishlists, notifications and verified-purchase
//! reviews.

use crate::accounts::{account, mailed_token};
use crate::helpers::{TOKEN, TestApp, code, spawn_app_with_fixture, spawn_fixture_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const P1: &str = "prod-000001"; // 14.95, no discount, stock 356

/// One shopper: a guest (cart token) or an account (access token).
#[derive(Clone, Default)]
struct Shopper {
    cart: Option<String>,
    bearer: Option<String>,
}

struct Answer {
    status: StatusCode,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

/// What a spawned request needs of the app.
#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    fn of(app: &TestApp) -> Api {
        Api {
            client: app.client.clone(),
            base: app.address.clone(),
        }
    }
}

/// Runs every future at once (each on the runtime's threads); the answers
/// in order.
async fn join_all<T: Send + 'static>(
    futures: impl IntoIterator<Item = impl std::future::Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task ran"));
    }
    out
}

impl Shopper {
    fn account(pair: &Value) -> Shopper {
        Shopper {
            cart: None,
            bearer: Some(pair["accessToken"].as_str().unwrap().to_string()),
        }
    }

    async fn send(
        &mut self,
        app: &TestApp,
        method: Method,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Answer {
        self.send_to(&Api::of(app), method, path, body, key).await
    }

    async fn send_to(
        &mut self,
        api: &Api,
        method: Method,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Answer {
        let mut req = api.client.request(method, format!("{}{path}", api.base));
        if let Some(t) = &self.cart {
            req = req.header("X-Cart-Token", t);
        }
        if let Some(b) = &self.bearer {
            req = req.bearer_auth(b);
        }
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        if let Some(t) = headers.get("x-cart-token") {
            self.cart = Some(t.to_str().unwrap().to_string());
        }
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            body,
            headers,
        }
    }

    async fn add(&mut self, app: &TestApp, product: &str, quantity: u32) -> Answer {
        let a = self
            .send(
                app,
                Method::POST,
                "/api/v1/cart/items",
                Some(json!({"productId": product, "quantity": quantity})),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "add {product}: {}", a.body);
        a
    }

    async fn checkout(&mut self, app: &TestApp, key: &str, body: Value) -> Answer {
        self.send(app, Method::POST, "/api/v1/checkout", Some(body), Some(key))
            .await
    }

    /// A checkout that owns what it needs (to run concurrently).
    async fn checkout_owned(mut self, api: Api, key: String, body: Value) -> Answer {
        self.send_to(
            &api,
            Method::POST,
            "/api/v1/checkout",
            Some(body),
            Some(&key),
        )
        .await
    }
}

fn address() -> Value {
    json!({"name": "Ada Lovelace", "line1": "12 Example Road", "city": "London",
           "postalCode": "NW1 6XE", "country": "GB"})
}

fn guest_order(email: &str) -> Value {
    json!({"email": email, "shippingAddress": address(), "paymentMethod": "bank_transfer"})
}

async fn stock(app: &TestApp, product: &str) -> u64 {
    let (status, v) = app.get_json(&format!("/api/v1/products/{product}")).await;
    assert_eq!(status, StatusCode::OK);
    v["data"]["stock"].as_u64().unwrap()
}

async fn set_stock(app: &TestApp, product: &str, n: u64) {
    let (status, v) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/products/{product}"),
            Some(json!({"stock": n})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

async fn staff(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    app.admin(method, path, body).await
}

#[tokio::test]
async fn a_guest_checks_out_once_per_idempotency_key_and_sees_the_order_through_the_mailed_link() {
    let app = spawn_app_with_fixture().await;
    let before = stock(&app, P1).await;
    let mut g = Shopper::default();
    let a = g.add(&app, P1, 2).await;
    let token = g.cart.clone().expect("a guest gets a cart token");
    assert_eq!(a.body["data"]["itemCount"], 2);
    assert_eq!(a.body["data"]["subtotal"], 29.9);
    assert_eq!(a.body["data"]["lines"][0]["problems"], json!([]));

    // No key: refused before anything happens.
    let no_key = g
        .send(
            &app,
            Method::POST,
            "/api/v1/checkout",
            Some(guest_order("g@example.com")),
            None,
        )
        .await;
    assert_eq!(no_key.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&no_key.body), "idempotency_key_required");
    // A guest must say where to mail.
    let no_email = g
        .checkout(
            &app,
            "k-0",
            json!({"shippingAddress": address(), "paymentMethod": "card"}),
        )
        .await;
    assert_eq!(no_email.status, StatusCode::UNPROCESSABLE_ENTITY);

    let first = g.checkout(&app, "k-1", guest_order("g@example.com")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let o = &first.body["data"];
    assert_eq!(o["status"], "pending");
    assert_eq!(o["subtotal"], 29.9);
    assert_eq!(o["shipping"], 4.99);
    assert_eq!(o["total"], 34.89);
    assert_eq!(o["lines"][0]["title"], "Ultra Marble Chef Knife X930");
    assert_eq!(o["userId"], Value::Null);
    let id = o["id"].as_str().unwrap().to_string();
    assert_eq!(stock(&app, P1).await, before - 2);
    // The cart is empty now.
    let cart = g.send(&app, Method::GET, "/api/v1/cart", None, None).await;
    assert_eq!(cart.body["data"]["lines"], json!([]));

    // The same key and body: the same order, marked as a replay.
    let again = g.checkout(&app, "k-1", guest_order("g@example.com")).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body["data"]["id"], id.as_str());
    assert_eq!(again.headers["idempotent-replayed"], "true");
    // The same key with another body.
    let other = g.checkout(&app, "k-1", guest_order("h@example.com")).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code(&other.body), "idempotency_key_reused");
    // A new key on the empty cart.
    let empty = g.checkout(&app, "k-2", guest_order("g@example.com")).await;
    assert_eq!(empty.status, StatusCode::CONFLICT);
    assert_eq!(code(&empty.body), "cart_empty");
    assert_eq!(stock(&app, P1).await, before - 2);

    // Nobody else sees the order; the mailed link shows it.
    let (status, _) = app.get_json(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let link = mailed_token(&app, "g@example.com", &format!("api/v1/orders/{id}")).await;
    let (status, v) = app
        .get_json(&format!("/api/v1/orders/{id}?token={link}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["data"]["number"], o["number"]);
    // Another last digit (the same one would be the real link).
    let other = if link.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{other}", &link[..link.len() - 1]);
    let (status, _) = app
        .get_json(&format!("/api/v1/orders/{id}?token={forged}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(token.len() >= 16);
}

#[tokio::test]
async fn a_cart_names_each_lines_problems_and_checkout_refuses_the_blocking_ones() {
    let app = spawn_app_with_fixture().await;
    let mut g = Shopper::default();
    g.add(&app, "prod-000002", 5).await;
    g.add(&app, "prod-000003", 1).await;
    g.add(&app, "prod-000004", 1).await;
    set_stock(&app, "prod-000002", 3).await;
    let (status, _) = staff(
        &app,
        Method::PATCH,
        "/api/v1/products/prod-000003",
        Some(json!({"isAvailable": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = staff(
        &app,
        Method::PATCH,
        "/api/v1/products/prod-000004",
        Some(json!({"price": 1.23})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let cart = g.send(&app, Method::GET, "/api/v1/cart", None, None).await;
    let problems: Vec<Value> = cart.body["data"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["problems"].clone())
        .collect();
    assert_eq!(
        problems,
        [
            json!(["insufficient_stock"]),
            json!(["unavailable"]),
            json!(["price_changed"])
        ]
    );
    let refused = g.checkout(&app, "k", guest_order("p@example.com")).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(code(&refused.body), "out_of_stock");
    assert_eq!(
        refused.body["error"]["lines"],
        json!([
            {"productId": "prod-000002", "problem": "insufficient_stock", "requested": 5, "available": 3},
            {"productId": "prod-000003", "problem": "unavailable", "requested": 1, "available": stock(&app, "prod-000003").await}
        ])
    );
    // Fix the cart: a changed price is charged as it is now.
    let a = g
        .send(
            &app,
            Method::PATCH,
            "/api/v1/cart/items/prod-000002",
            Some(json!({"quantity": 3})),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = g
        .send(
            &app,
            Method::DELETE,
            "/api/v1/cart/items/prod-000003",
            None,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let bad = g
        .send(
            &app,
            Method::PATCH,
            "/api/v1/cart/items/prod-000002",
            Some(json!({"quantity": 100})),
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Warm the caches of the product's detail and its brand's list.
    let (_, detail) = app.get_json("/api/v1/products/prod-000002").await;
    let brand = detail["data"]["brandId"].as_str().unwrap().to_string();
    let list_stock = |v: &Value| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == "prod-000002")
            .map(|p| p["stock"].as_u64().unwrap())
    };
    let list_path = format!("/api/v1/products?brand={brand}&limit=100");
    let (_, list) = app.get_json(&list_path).await;
    assert_eq!(list_stock(&list), Some(3));
    let priced = g.send(&app, Method::GET, "/api/v1/cart", None, None).await;
    let now_price = priced.body["data"]["lines"][1]["unitPrice"].clone();
    let ok = g.checkout(&app, "k2", guest_order("p@example.com")).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    let lines = &ok.body["data"]["lines"];
    assert_eq!(lines[1]["unitPrice"], now_price);
    // The sale shows at once in the (cached) detail and list.
    assert_eq!(stock(&app, "prod-000002").await, 0);
    let (_, list) = app.get_json(&list_path).await;
    assert_eq!(list_stock(&list), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_checkouts_for_the_last_ten_units_make_exactly_ten_orders() {
    let app = spawn_app_with_fixture().await;
    set_stock(&app, P1, 10).await;
    let mut shoppers = Vec::new();
    for _ in 0..500 {
        let mut g = Shopper::default();
        g.add(&app, P1, 1).await;
        shoppers.push(g);
    }
    let api = Api::of(&app);
    let answers = join_all(shoppers.into_iter().enumerate().map(|(i, g)| {
        g.checkout_owned(
            api.clone(),
            format!("k{i}"),
            guest_order(&format!("c{i}@example.com")),
        )
    }))
    .await;
    let created = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .count();
    let refused = answers
        .iter()
        .filter(|a| a.status == StatusCode::CONFLICT && code(&a.body) == "out_of_stock")
        .count();
    assert_eq!((created, refused), (10, 490));
    assert_eq!(stock(&app, P1).await, 0);
    let numbers: BTreeSet<u64> = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .map(|a| a.body["data"]["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=10).collect(), "order numbers are sequential");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_code_limited_to_ten_uses_is_used_exactly_ten_times_by_a_hundred_at_once() {
    let app = spawn_app_with_fixture().await;
    let (status, v) = staff(
        &app,
        Method::POST,
        "/api/v1/admin/discount-codes",
        Some(json!({"code": "ten-off", "type": "percent", "value": 10, "usageLimit": 10})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["data"]["code"], "TEN-OFF");
    let mut shoppers = Vec::new();
    for _ in 0..100 {
        let mut g = Shopper::default();
        g.add(&app, P1, 1).await;
        shoppers.push(g);
    }
    let api = Api::of(&app);
    let answers = join_all(shoppers.into_iter().enumerate().map(|(i, g)| {
        let mut body = guest_order(&format!("d{i}@example.com"));
        body["discountCode"] = json!("Ten-Off");
        g.checkout_owned(api.clone(), "key".into(), body)
    }))
    .await;
    let created: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .collect();
    assert_eq!(created.len(), 10);
    for a in &created {
        assert_eq!(a.body["data"]["discount"], 1.5); // 10 % of 14.95, half up
        assert_eq!(a.body["data"]["total"], 18.44);
    }
    assert!(
        answers
            .iter()
            .filter(|a| a.status != StatusCode::CREATED)
            .all(|a| a.status == StatusCode::CONFLICT && code(&a.body) == "discount_code_invalid")
    );
    let (_, v) = staff(
        &app,
        Method::GET,
        "/api/v1/admin/discount-codes/ten-off",
        None,
    )
    .await;
    assert_eq!(v["data"]["used"], 10);
}

#[tokio::test]
async fn a_per_customer_limit_counts_one_person_however_they_type_their_address() {
    let app = spawn_app_with_fixture().await;
    let (status, v) = staff(
        &app,
        Method::POST,
        "/api/v1/admin/discount-codes",
        Some(json!({"code": "ONCE", "type": "percent", "value": 10, "perCustomerLimit": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let checkout = |s: Shopper, email: Option<&str>, key: &str| {
        let mut body = match email {
            Some(e) => guest_order(e),
            None => json!({"shippingAddress": address(), "paymentMethod": "bank_transfer"}),
        };
        body["discountCode"] = json!("once");
        let api = Api::of(&app);
        let key = key.to_string();
        async move { s.checkout_owned(api, key, body).await }
    };
    let mut first = Shopper::default();
    first.add(&app, P1, 1).await;
    let a = checkout(first, Some("g3+1@shop.example"), "k1").await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    // The same mailbox, retyped: another tag, capitals.
    for (i, email) in ["g3+2@shop.example", "G3@Shop.Example"].iter().enumerate() {
        let mut again = Shopper::default();
        again.add(&app, P1, 1).await;
        let a = checkout(again, Some(email), &format!("k2{i}")).await;
        assert_eq!(
            (a.status, code(&a.body)),
            (StatusCode::CONFLICT, "discount_code_invalid"),
            "{email}: {}",
            a.body
        );
    }
    // Signed in with that address: the same customer.
    let pair = crate::accounts::account(&app, "g3@shop.example", "customer").await;
    let mut member = Shopper::account(&pair);
    member.add(&app, P1, 1).await;
    let a = checkout(member, None, "k3").await;
    assert_eq!(
        (a.status, code(&a.body)),
        (StatusCode::CONFLICT, "discount_code_invalid"),
        "{}",
        a.body
    );
    // Another person still can.
    let mut other = Shopper::default();
    other.add(&app, P1, 1).await;
    let a = checkout(other, Some("g4@shop.example"), "k4").await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_idempotency_key_retried_fifty_times_at_once_makes_one_order() {
    let app = spawn_app_with_fixture().await;
    let before = stock(&app, P1).await;
    let mut g = Shopper::default();
    g.add(&app, P1, 3).await;
    let api = Api::of(&app);
    let answers = join_all((0..50).map(|_| {
        g.clone()
            .checkout_owned(api.clone(), "retry-me".into(), guest_order("r@example.com"))
    }))
    .await;
    let ids: BTreeSet<String> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
            a.body["data"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(stock(&app, P1).await, before - 3);
    let (_, page) = staff(&app, Method::GET, "/api/v1/admin/orders", None).await;
    assert_eq!(page["meta"]["total"], 1);
}

/// Places an order for `shopper` (one unit of `product`).
async fn order(app: &TestApp, s: &mut Shopper, product: &str, method: &str, key: &str) -> Value {
    s.add(app, product, 1).await;
    let a = s
        .checkout(
            app,
            key,
            json!({"email": "x@example.com", "shippingAddress": address(), "paymentMethod": method}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    a.body["data"].clone()
}

async fn move_to(app: &TestApp, id: &str, status: &str) -> (StatusCode, Value) {
    staff(
        app,
        Method::POST,
        &format!("/api/v1/admin/orders/{id}/status"),
        Some(json!({"status": status})),
    )
    .await
}

#[tokio::test]
async fn orders_move_only_along_the_status_machine_and_cancelling_returns_stock() {
    let app = spawn_app_with_fixture().await;
    let ada = account(&app, "ada@shop.example", "customer").await;
    let mut a = Shopper::account(&ada);
    let before = stock(&app, P1).await;
    let o = order(&app, &mut a, P1, "bank_transfer", "o1").await;
    let id = o["id"].as_str().unwrap();
    assert_eq!(o["email"], "ada@shop.example", "an account's own email");
    for illegal in ["shipped", "completed", "pending"] {
        let (status, v) = move_to(&app, id, illegal).await;
        assert_eq!(status, StatusCode::CONFLICT, "pending → {illegal}");
        assert_eq!(code(&v), "illegal_transition");
    }
    let (status, v) = staff(
        &app,
        Method::POST,
        &format!("/api/v1/admin/orders/{id}/mark-paid"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["isPaid"], true);
    let (status, _) = move_to(&app, id, "paid").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = move_to(&app, id, "shipped").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = move_to(&app, id, "cancelled").await;
    assert_eq!(status, StatusCode::CONFLICT, "shipped cannot be cancelled");
    let (status, v) = move_to(&app, id, "completed").await;
    assert_eq!(status, StatusCode::OK);
    let history: Vec<&str> = v["data"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["pending", "paid", "shipped", "completed"]);
    assert_eq!(v["data"]["history"][1]["by"], "admin token");
    let (status, _) = move_to(&app, id, "cancelled").await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Cancel from pending, and from paid (flagged for a refund): stock back.
    let o2 = order(&app, &mut a, P1, "cash_on_delivery", "o2").await;
    let (status, v) = move_to(&app, o2["id"].as_str().unwrap(), "cancelled").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["data"]["refundDue"], false);
    let o3 = order(&app, &mut a, P1, "bank_transfer", "o3").await;
    let id3 = o3["id"].as_str().unwrap();
    move_to(&app, id3, "paid").await;
    let (_, v) = move_to(&app, id3, "cancelled").await;
    assert_eq!(v["data"]["refundDue"], true);
    assert_eq!(stock(&app, P1).await, before - 1);

    // A card order is paid by the provider only.
    let o4 = order(&app, &mut a, P1, "card", "o4").await;
    let (status, v) = staff(
        &app,
        Method::POST,
        &format!(
            "/api/v1/admin/orders/{}/mark-paid",
            o4["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&v), "paid_by_provider");

    // The customer's own list, newest first; another customer sees none.
    let (status, mine) = app
        .call(Method::GET, "/api/v1/orders", a.bearer.as_deref(), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["meta"]["total"], 4);
    assert_eq!(mine["data"][0]["id"], o4["id"]);
    let bob = account(&app, "bob@shop.example", "customer").await;
    let bob = bob["accessToken"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/orders/{id}"),
            Some(bob),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/orders/{id}"),
            a.bearer.as_deref(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Staff filters use the order indexes.
    let ada_id = ada["user"]["id"].as_str().unwrap();
    for (query, want) in [
        ("status=cancelled".to_string(), 2),
        ("status=cancelled&isPaid=true".to_string(), 1),
        ("isPaid=false".to_string(), 2),
        (format!("userId={ada_id}&status=pending"), 1),
        ("q=%23".to_string() + &o3["number"].to_string(), 1),
        ("q=ada%40shop".to_string(), 4),
        ("from=2999-01-01T00:00:00Z".to_string(), 0),
    ] {
        let (status, v) = staff(
            &app,
            Method::GET,
            &format!("/api/v1/admin/orders?{query}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{query}: {v}");
        assert_eq!(v["meta"]["total"], want, "{query}");
    }
    let (status, _) = staff(&app, Method::GET, "/api/v1/admin/orders?status=lost", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Notifications: one per event of her orders, unread first.
    let (_, n) = app
        .call(
            Method::GET,
            "/api/v1/me/notifications",
            a.bearer.as_deref(),
            None,
        )
        .await;
    let kinds: Vec<&str> = n["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "order_placed").count(), 4);
    assert!(kinds.contains(&"order_shipped") && kinds.contains(&"payment_received"));
    let first = n["data"][0]["id"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/me/notifications/{first}/read"),
            a.bearer.as_deref(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, n) = app
        .call(
            Method::GET,
            "/api/v1/me/notifications",
            a.bearer.as_deref(),
            None,
        )
        .await;
    let last = n["data"].as_array().unwrap().last().unwrap();
    assert_eq!(last["id"], first);
    assert!(last["readAt"].is_string());
}

/// The id of `user`'s review of `product` (from its newest reviews).
async fn v_review_id(app: &TestApp, product: &str, user: &str) -> String {
    let (_, v) = app
        .get_json(&format!("/api/v1/products/{product}/reviews?limit=100"))
        .await;
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user"]["id"] == user)
        .expect("the review is listed")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The product's review list no longer shows the hidden review `rid`.
async fn customer_sees_no_hidden(app: &TestApp, rid: &str) -> (StatusCode, Value) {
    let (status, v) = app
        .get_json(&format!("/api/v1/products/{P1}/reviews?limit=100"))
        .await;
    assert!(
        v["data"].as_array().unwrap().iter().all(|r| r["id"] != rid),
        "a hidden review is listed"
    );
    (status, v)
}

async fn order_now(app: &TestApp, id: &str) -> Value {
    let (_, v) = app
        .admin(Method::GET, &format!("/api/v1/admin/orders/{id}"), None)
        .await;
    v["data"].clone()
}

#[tokio::test]
async fn the_payment_webhook_applies_good_signatures_once_and_nothing_else() {
    let app = spawn_fixture_with(|c| {
        c.orders.webhook_secret = Some(shopd::config::Secret::new("whsec_test"));
    })
    .await;
    let mut g = Shopper::default();
    let o = order(&app, &mut g, P1, "card", "w1").await;
    let id = o["id"].as_str().unwrap();
    let total = o["total"].as_f64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let event = |eid: &str, amount: f64| {
        serde_json::to_vec(&json!({"id": eid, "type": "payment.succeeded",
                                  "data": {"orderId": id, "amount": amount}}))
        .unwrap()
    };
    let post = |body: Vec<u8>, sig: String| {
        app.client
            .post(app.url("/api/v1/payments/webhook"))
            .header("X-Payment-Signature", sig)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let sign = |t: i64, body: &[u8], secret: &[u8]| shopd::orders::payments::sign(secret, t, body);

    let body = event("evt_1", total);
    let forged = post(body.clone(), sign(now, &body, b"not the secret"))
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let stale = post(body.clone(), sign(now - 301, &body, b"whsec_test"))
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    let v: Value = stale.json().await.unwrap();
    assert_eq!(code(&v), "signature_expired");
    let tampered = post(event("evt_1", 0.01), sign(now, &body, b"whsec_test"))
        .await
        .unwrap();
    assert_eq!(tampered.status(), StatusCode::UNAUTHORIZED);
    let none = app
        .client
        .post(app.url("/api/v1/payments/webhook"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        order_now(&app, id).await["isPaid"],
        false,
        "nothing changed"
    );

    let wrong = event("evt_0", total + 1.0);
    let res = post(wrong.clone(), sign(now, &wrong, b"whsec_test"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(order_now(&app, id).await["isPaid"], false);

    // A signed success that names no amount proves nothing was paid.
    let no_amount = serde_json::to_vec(&json!({"id": "evt_na", "type": "payment.succeeded",
                                               "data": {"orderId": id}}))
    .unwrap();
    let res = post(no_amount.clone(), sign(now, &no_amount, b"whsec_test"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let v: Value = res.json().await.unwrap();
    assert_eq!(code(&v), "invalid_event");
    assert_eq!(order_now(&app, id).await["isPaid"], false);

    // The provider does not pay a bank transfer, even with its total.
    let mut g2 = Shopper::default();
    let transfer = order(&app, &mut g2, P1, "bank_transfer", "w2").await;
    let tid = transfer["id"].as_str().unwrap();
    let paid = serde_json::to_vec(&json!({"id": "evt_bt", "type": "payment.succeeded",
        "data": {"orderId": tid, "amount": transfer["total"].as_f64().unwrap()}}))
    .unwrap();
    let res = post(paid.clone(), sign(now, &paid, b"whsec_test"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let v: Value = res.json().await.unwrap();
    assert_eq!(code(&v), "not_paid_by_provider");
    assert_eq!(order_now(&app, tid).await["isPaid"], false);

    let good = post(body.clone(), sign(now, &body, b"whsec_test"))
        .await
        .unwrap();
    assert_eq!(good.status(), StatusCode::OK);
    let v: Value = good.json().await.unwrap();
    assert_eq!(v["data"]["duplicate"], false);
    let after = order_now(&app, id).await;
    assert_eq!(after["status"], "paid");
    assert_eq!(after["history"][1]["by"], "payment provider");
    // The same event again (a replay within the window): nothing changes.
    let replay = post(body.clone(), sign(now, &body, b"whsec_test"))
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::OK);
    let v: Value = replay.json().await.unwrap();
    assert_eq!(v["data"]["duplicate"], true);
    assert_eq!(
        order_now(&app, id).await["history"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn without_a_secret_the_webhook_is_not_there() {
    // As the replication routes when replication is off: a feature that is
    // not configured is a 404 with the envelope, not a server error.
    let app = spawn_app_with_fixture().await;
    let res = app
        .client
        .post(app.url("/api/v1/payments/webhook"))
        .header("X-Payment-Signature", "t=1,v1=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--payment-webhook-secret"),
        "{body}"
    );
}

#[tokio::test]
async fn a_guest_cart_joins_the_account_cart_at_sign_in() {
    let app = spawn_app_with_fixture().await;
    let pair = account(&app, "merge@shop.example", "customer").await;
    let mut mine = Shopper::account(&pair);
    mine.add(&app, P1, 2).await;
    let mut g = Shopper::default();
    g.add(&app, P1, 1).await;
    g.add(&app, "prod-000002", 1).await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("X-Cart-Token", g.cart.clone().unwrap())
        .json(&json!({"email": "merge@shop.example", "password": crate::accounts::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cart = mine
        .send(&app, Method::GET, "/api/v1/cart", None, None)
        .await;
    let lines: Vec<(String, u64)> = cart.body["data"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["productId"].as_str().unwrap().to_string(),
                l["quantity"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines, [(P1.to_string(), 3), ("prod-000002".to_string(), 1)]);
    let guest_now = g.send(&app, Method::GET, "/api/v1/cart", None, None).await;
    assert_eq!(
        guest_now.body["data"]["lines"],
        json!([]),
        "the guest cart is gone"
    );
}

#[tokio::test]
async fn customers_review_only_what_they_bought_once_and_ratings_follow() {
    let app = spawn_app_with_fixture().await;
    let pair = account(&app, "rev@shop.example", "customer").await;
    let mut c = Shopper::account(&pair);
    let bearer = c.bearer.clone();
    let review = |text: &str| json!({"rating": 1, "text": text});
    let path = format!("/api/v1/products/{P1}/reviews");
    let (status, v) = app
        .call(
            Method::POST,
            &path,
            bearer.as_deref(),
            Some(review("early")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code(&v), "not_purchased");
    let o = order(&app, &mut c, P1, "bank_transfer", "r1").await;
    let id = o["id"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::POST,
            &path,
            bearer.as_deref(),
            Some(review("not yet")),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the order is not completed yet"
    );
    for s in ["paid", "shipped", "completed"] {
        let (status, _) = move_to(&app, id, s).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, before) = app.get_json(&format!("/api/v1/products/{P1}")).await;
    let (status, v) = app
        .call(
            Method::POST,
            &path,
            bearer.as_deref(),
            Some(json!({"rating": 1, "text": "dull", "userId": "someone-else"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (status, v) = app
        .call(Method::POST, &path, bearer.as_deref(), Some(review("dull")))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["data"]["user"]["id"], pair["user"]["id"]);
    assert_eq!(v["data"]["user"]["name"], "Ada");
    let (status, v) = app
        .call(
            Method::POST,
            &path,
            bearer.as_deref(),
            Some(review("again")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&v), "already_reviewed");
    let (_, after) = app.get_json(&format!("/api/v1/products/{P1}")).await;
    let count = |v: &Value| v["data"]["reviewCount"].as_u64().unwrap();
    assert_eq!(count(&after), count(&before) + 1);
    assert_ne!(after["data"]["avgRating"], before["data"]["avgRating"]);
    // Staff hide it: out of the reviews and the rating at once; and back.
    let rid = v_review_id(&app, P1, pair["user"]["id"].as_str().unwrap()).await;
    let (status, _) = staff(
        &app,
        Method::POST,
        &format!("/api/v1/admin/reviews/{rid}/hide"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, hidden) = app.get_json(&format!("/api/v1/products/{P1}")).await;
    assert_eq!(count(&hidden), count(&before));
    assert_eq!(hidden["data"]["avgRating"], before["data"]["avgRating"]);
    let (status, _) = customer_sees_no_hidden(&app, &rid).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = staff(
        &app,
        Method::POST,
        &format!("/api/v1/admin/reviews/{rid}/show"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, shown) = app.get_json(&format!("/api/v1/products/{P1}")).await;
    assert_eq!(count(&shown), count(&before) + 1);
    let (status, _) = staff(
        &app,
        Method::POST,
        &format!("/api/v1/admin/reviews/{rid}/show"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not hidden any more");
    // Staff still import reviews of any user.
    let (status, _) = app
        .admin(
            Method::POST,
            &path,
            Some(json!({"userId": "user-00001", "rating": 5})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let _ = TOKEN;
}

#[tokio::test]
async fn addresses_keep_one_default_and_a_wishlist_shows_prices_now() {
    let app = spawn_app_with_fixture().await;
    let pair = account(&app, "home@shop.example", "customer").await;
    let mut c = Shopper::account(&pair);
    let b = c.bearer.clone();
    let b = b.as_deref();
    let (status, first) = app
        .call(Method::POST, "/api/v1/me/addresses", b, Some(address()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(
        first["data"]["isDefault"], true,
        "the first address is the default"
    );
    let mut second = address();
    second["city"] = json!("Paris");
    second["country"] = json!("fr");
    second["isDefault"] = json!(true);
    let (_, second) = app
        .call(Method::POST, "/api/v1/me/addresses", b, Some(second))
        .await;
    assert_eq!(second["data"]["country"], "FR");
    let (_, all) = app.call(Method::GET, "/api/v1/me/addresses", b, None).await;
    // By id: two addresses made in one millisecond may list either way.
    let default_of = |id: &Value| {
        all["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == *id)
            .map(|a| a["isDefault"].as_bool().unwrap())
    };
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    assert_eq!(default_of(&first["data"]["id"]), Some(false));
    assert_eq!(default_of(&second["data"]["id"]), Some(true));
    let (status, v) = app
        .call(
            Method::POST,
            "/api/v1/me/addresses",
            b,
            Some(json!({"name": "x", "country": "France"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Checkout to a saved address.
    c.add(&app, P1, 1).await;
    let sid = second["data"]["id"].as_str().unwrap();
    let a = c
        .checkout(
            &app,
            "addr",
            json!({"addressId": sid, "paymentMethod": "cash_on_delivery"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["data"]["shippingAddress"]["city"], "Paris");
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/me/addresses/{sid}"),
            b,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, all) = app.call(Method::GET, "/api/v1/me/addresses", b, None).await;
    assert_eq!(
        all["data"][0]["isDefault"], true,
        "the remaining one became the default"
    );

    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/me/wishlist",
            b,
            Some(json!({"productId": P1})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/me/wishlist",
            b,
            Some(json!({"productId": "nope"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = staff(
        &app,
        Method::PATCH,
        &format!("/api/v1/products/{P1}"),
        Some(json!({"discount": 0.2})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, w) = app.call(Method::GET, "/api/v1/me/wishlist", b, None).await;
    assert_eq!(w["data"][0]["productId"], P1);
    assert_eq!(w["data"][0]["unitPrice"], 11.96);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/me/wishlist/{P1}"),
            b,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, w) = app.call(Method::GET, "/api/v1/me/wishlist", b, None).await;
    assert_eq!(w["data"], json!([]));
}

#[tokio::test]
async fn cart_tokens_are_issued_by_the_server_never_adopted() {
    let app = spawn_app_with_fixture().await;
    let chosen = "attacker-chosen-cart-token-0001";
    let add = |token: Option<&str>| {
        let mut req = app
            .client
            .post(app.url("/api/v1/cart/items"))
            .json(&json!({"productId": P1, "quantity": 1}));
        if let Some(t) = token {
            req = req.header("X-Cart-Token", t);
        }
        req.send()
    };
    // A token the server never issued gets a new cart and a new token.
    let res = add(Some(chosen)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let issued = res.headers()["x-cart-token"].to_str().unwrap().to_string();
    assert_ne!(issued, chosen, "the client's own token was adopted");
    // The chosen token names nothing: an empty cart, and no token echoed.
    let res = app
        .client
        .get(app.url("/api/v1/cart"))
        .header("X-Cart-Token", chosen)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("x-cart-token").is_none());
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["data"]["lines"].as_array().unwrap().len(), 0, "{v}");
    // The issued one keeps working, and stays the same.
    let res = add(Some(&issued)).await.unwrap();
    assert_eq!(res.headers()["x-cart-token"], issued.as_str());
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["data"]["lines"][0]["quantity"], 2, "{v}");
}

/// Waits (up to 30 s) for order `id` to reach `status`; the order then.
async fn order_becomes(app: &TestApp, id: &str, status: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let o = order_now(app, id).await;
        if o["status"] == status {
            return o;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "order {id} is still {} and not {status}",
            o["status"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn unpaid_orders_past_their_hold_are_cancelled_and_give_back_stock_and_code() {
    let app = spawn_fixture_with(|c| {
        c.orders.holds = shopd::domain::order::Holds {
            card_ms: 2_000,
            bank_transfer_ms: 8_000,
        };
    })
    .await;
    let (status, v) = staff(
        &app,
        Method::POST,
        "/api/v1/admin/discount-codes",
        Some(json!({"code": "HOLD", "type": "percent", "value": 10,
                    "usageLimit": 1, "perCustomerLimit": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let before = stock(&app, P1).await;
    let place = |method: &str, email: &str, code: Option<&str>| {
        let mut body = json!({"email": email, "shippingAddress": address(),
                              "paymentMethod": method});
        if let Some(c) = code {
            body["discountCode"] = json!(c);
        }
        body
    };
    // A card order with the only use of the code, 3 units.
    let mut card = Shopper::default();
    card.add(&app, P1, 3).await;
    let a = card
        .checkout(&app, "h1", place("card", "hold@shop.example", Some("HOLD")))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let card_order = a.body["data"].clone();
    let held = card_order["heldUntil"]
        .as_str()
        .expect("a card order is held");
    assert!(
        held > card_order["createdAt"].as_str().unwrap(),
        "{card_order}"
    );
    // A bank transfer (held longer), one paid at once, and cash on delivery.
    let mut bank = Shopper::default();
    let bank_order = order(&app, &mut bank, P1, "bank_transfer", "h2").await;
    assert!(bank_order["heldUntil"].is_string(), "{bank_order}");
    let mut paid = Shopper::default();
    let paid_order = order(&app, &mut paid, P1, "bank_transfer", "h3").await;
    let (status, v) = move_to(&app, paid_order["id"].as_str().unwrap(), "paid").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(
        v["data"]["heldUntil"].is_null(),
        "a paid order is not held: {v}"
    );
    let mut cod = Shopper::default();
    let cod_order = order(&app, &mut cod, P1, "cash_on_delivery", "h4").await;
    assert!(
        cod_order["heldUntil"].is_null(),
        "cash on delivery is not held"
    );
    assert_eq!(stock(&app, P1).await, before - 6);
    // The code is used up meanwhile.
    let mut other = Shopper::default();
    other.add(&app, P1, 1).await;
    let a = other
        .checkout(
            &app,
            "h5",
            place("card", "other@shop.example", Some("HOLD")),
        )
        .await;
    assert_eq!(code(&a.body), "discount_code_invalid", "{}", a.body);

    // The card order's hold ends first: cancelled by the expiry, with
    // everything it held given back, the bank transfer still held.
    let card_id = card_order["id"].as_str().unwrap();
    let cancelled = order_becomes(&app, card_id, "cancelled").await;
    let last = cancelled["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["by"], "hold expired", "{cancelled}");
    assert!(cancelled["heldUntil"].is_null());
    assert!(!cancelled["refundDue"].as_bool().unwrap());
    let bank_now = order_now(&app, bank_order["id"].as_str().unwrap()).await;
    assert_eq!(bank_now["status"], "pending", "held for 8 s: {bank_now}");
    assert_eq!(stock(&app, P1).await, before - 3);
    let (_, v) = staff(&app, Method::GET, "/api/v1/admin/discount-codes/HOLD", None).await;
    assert_eq!(v["data"]["used"], 0, "the code's use is back: {v}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !crate::accounts::mails_to(&app, "hold@shop.example")
        .iter()
        .any(|m| m.contains("is cancelled: it was not paid in time"))
    {
        assert!(std::time::Instant::now() < deadline, "no cancellation mail");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The same customer may use the code again.
    let mut again = Shopper::default();
    again.add(&app, P1, 1).await;
    let a = again
        .checkout(&app, "h6", place("card", "hold@shop.example", Some("HOLD")))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);

    // Then the bank transfer's; the paid and cash-on-delivery orders stay.
    order_becomes(&app, bank_order["id"].as_str().unwrap(), "cancelled").await;
    let p = order_now(&app, paid_order["id"].as_str().unwrap()).await;
    assert_eq!(p["status"], "paid");
    let c = order_now(&app, cod_order["id"].as_str().unwrap()).await;
    assert_eq!(c["status"], "pending");
}
