//! Accounts over real HTTP: sign-up with a mailed verification link,
//! sign-in, refresh rotation and theft detection, logout, password change
//! and reset, bans and role changes taking effect on issued tokens, API
//! keys, imported review authors claiming their accounts, and answers that
//! do not tell whether an email has an account.
//!
//! Mail goes to the outbox directory (no SMTP configured); links are read
//! from the `.eml` files the way a person would click them.

use crate::helpers::{TOKEN, TestApp, code, fields, spawn_app, spawn_app_with_fixture};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "correct horse battery";

/// Every message in the outbox for `to`, decoded to text.
pub fn mails_to(app: &TestApp, to: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(app.dir.path().join("outbox")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir {
        let raw = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let text = decode_mail(&raw);
        if text.contains(&format!("To: {to}")) {
            out.push(text);
        }
    }
    out
}

/// The raw message with quoted-printable soft breaks and `=XX` escapes
/// undone, and base64 parts appended decoded.
fn decode_mail(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let mut text = raw.replace("=\n", "");
    let mut decoded = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find('=') {
        decoded.push_str(&rest[..i]);
        let hex = rest.get(i + 1..i + 3).unwrap_or("");
        match u8::from_str_radix(hex, 16) {
            Ok(b) if hex.len() == 2 => {
                decoded.push(b as char);
                rest = &rest[i + 3..];
            }
            _ => {
                decoded.push('=');
                rest = &rest[i + 1..];
            }
        }
    }
    decoded.push_str(rest);
    text = decoded;
    // base64 bodies: decode every long run of base64 lines.
    let mut b64 = String::new();
    for line in raw.lines() {
        let l = line.trim();
        if l.len() >= 20
            && l.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=')
        {
            b64.push_str(l);
        } else if !b64.is_empty() {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&b64) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
            b64.clear();
        }
    }
    text
}

/// The token of the first link to `path` in a decoded mail.
fn token_in(mail: &str, path: &str) -> Option<String> {
    let needle = format!("/{path}?token=");
    let i = mail.find(&needle)?;
    Some(
        mail[i + needle.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect(),
    )
}

/// Waits for the mail to `to` with a link to `path`, and returns its token.
pub async fn mailed_token(app: &TestApp, to: &str, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(t) = mails_to(app, to).iter().find_map(|m| token_in(m, path)) {
            return t;
        }
        assert!(Instant::now() < deadline, "no {path} mail to {to}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn post(app: &TestApp, path: &str, bearer: Option<&str>, body: Value) -> (StatusCode, Value) {
    app.call(Method::POST, path, bearer, Some(body)).await
}

pub async fn register(app: &TestApp, email: &str) -> (StatusCode, Value) {
    post(
        app,
        "/api/v1/auth/register",
        None,
        json!({"email": email, "password": PASSWORD, "name": "Ada"}),
    )
    .await
}

/// Signs in; the `data` of the answer (tokens and user).
pub async fn login(app: &TestApp, email: &str, password: &str) -> Value {
    let (status, v) = post(
        app,
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": password}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "login {email}: {v}");
    v["data"].clone()
}

async fn refresh(app: &TestApp, token: &str) -> (StatusCode, Value) {
    post(
        app,
        "/api/v1/auth/refresh",
        None,
        json!({"refreshToken": token}),
    )
    .await
}

async fn me(app: &TestApp, access: &str) -> (StatusCode, Value) {
    app.call(Method::GET, "/api/v1/me", Some(access), None)
        .await
}

fn access(pair: &Value) -> String {
    pair["accessToken"].as_str().unwrap().to_string()
}

fn refresh_token(pair: &Value) -> String {
    pair["refreshToken"].as_str().unwrap().to_string()
}

/// Registers `email` (as a customer) and signs in; with `role`, the admin
/// token makes it that role first.
pub async fn account(app: &TestApp, email: &str, role: &str) -> Value {
    let (status, _) = register(app, email).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    if role != "customer" {
        let id = user_id(app, email).await;
        let (status, v) = app
            .admin(
                Method::PATCH,
                &format!("/api/v1/admin/users/{id}"),
                Some(json!({"role": role})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    login(app, email, PASSWORD).await
}

pub async fn user_id(app: &TestApp, email: &str) -> String {
    let (status, v) = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/users?email={email}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["data"][0]["id"]
        .as_str()
        .expect("the account exists")
        .to_string()
}

#[tokio::test]
async fn register_verify_login_refresh_reuse_and_logout() {
    let app = spawn_app().await;
    let email = "Ada.Lovelace@Example.com";
    let (status, first) = register(&app, email).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");

    // The verification link arrives by mail (to the normalized address).
    let token = mailed_token(&app, "ada.lovelace@example.com", "verify-email").await;
    let pair = login(&app, "ada.lovelace@example.com", PASSWORD).await;
    assert_eq!(pair["user"]["emailVerified"], false);
    assert_eq!(pair["tokenType"], "Bearer");
    assert_eq!(pair["expiresIn"], 900);
    let (status, _) = post(
        &app,
        "/api/v1/auth/verify-email",
        None,
        json!({"token": token}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Single use.
    let (status, v) = post(
        &app,
        "/api/v1/auth/verify-email",
        None,
        json!({"token": token}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(code(&v), "invalid_token");

    let (status, v) = me(&app, &access(&pair)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["email"], "ada.lovelace@example.com");
    assert_eq!(v["data"]["emailVerified"], true);
    assert_eq!(v["data"]["role"], "customer");
    assert!(v["data"].get("passwordHash").is_none(), "{v}");

    // Refresh rotates: a new pair, and the old refresh token is spent.
    let r1 = refresh_token(&pair);
    let (status, v) = refresh(&app, &r1).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let pair2 = v["data"].clone();
    let r2 = refresh_token(&pair2);
    assert_ne!(r1, r2);
    assert_eq!(me(&app, &access(&pair2)).await.0, StatusCode::OK);

    // Presenting the spent one again is theft: the whole family ends,
    // including the newest refresh token and its access token.
    let (status, v) = refresh(&app, &r1).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(code(&v), "token_reused");
    let (status, v) = refresh(&app, &r2).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(code(&v), "invalid_token");
    assert_eq!(me(&app, &access(&pair2)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &access(&pair)).await.0, StatusCode::UNAUTHORIZED);

    assert_eq!(
        app.metric("shopd_token_refreshes_total{outcome=\"reused\"}")
            .await,
        1.0
    );
    assert!(app.metric("shopd_sign_ins_total{outcome=\"ok\"}").await >= 1.0);

    // A new sign-in, then logout: the session's tokens stop working.
    let pair3 = login(&app, email, PASSWORD).await;
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&access(&pair3)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(me(&app, &access(&pair3)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&app, &refresh_token(&pair3)).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Garbage tokens are 401s with a code, never 500s.
    for bad in ["", "x", "a.b.c", &access(&pair3)[..20]] {
        let (status, v) = me(&app, bad).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}: {v}");
    }
    let (status, v) = refresh(&app, "not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
}

#[tokio::test]
async fn bad_input_is_422_with_every_field() {
    let app = spawn_app().await;
    let (status, v) = post(
        &app,
        "/api/v1/auth/register",
        None,
        json!({"email": "nope", "password": "short", "role": "admin"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(fields(&v), ["email", "name", "password", "role"]);
    let long = "x".repeat(129);
    let (status, v) = post(
        &app,
        "/api/v1/auth/register",
        None,
        json!({"email": "a@example.com", "password": long, "name": "A"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(fields(&v), ["password"]);
    let (status, v) = post(
        &app,
        "/api/v1/auth/login",
        None,
        json!({"email": "a@example.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(fields(&v), ["password"]);
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_only() {
    let app = spawn_app().await;
    let email = "grace@example.com";
    let here = account(&app, email, "customer").await;
    let there = login(&app, email, PASSWORD).await;

    let (status, v) = post(
        &app,
        "/api/v1/me/password",
        Some(&access(&here)),
        json!({"currentPassword": "wrong password", "newPassword": "a new password"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(code(&v), "wrong_password");
    assert_eq!(me(&app, &access(&there)).await.0, StatusCode::OK);

    let (status, v) = post(
        &app,
        "/api/v1/me/password",
        Some(&access(&here)),
        json!({"currentPassword": PASSWORD, "newPassword": "a new password"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(me(&app, &access(&here)).await.0, StatusCode::OK);
    assert_eq!(me(&app, &access(&there)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&app, &refresh_token(&there)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(refresh(&app, &refresh_token(&here)).await.0, StatusCode::OK);

    let (status, _) = post(
        &app,
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    login(&app, email, "a new password").await;

    // The profile: name and phone change, email and role do not.
    let (status, v) = app
        .call(
            Method::PATCH,
            "/api/v1/me",
            Some(&access(&here)),
            Some(json!({"name": "Grace H.", "phone": "+1 555 0100"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["name"], "Grace H.");
    assert_eq!(v["data"]["phone"], "+1 555 0100");
    let (status, v) = app
        .call(
            Method::PATCH,
            "/api/v1/me",
            Some(&access(&here)),
            Some(json!({"role": "admin", "email": "x@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(fields(&v), ["email", "role"]);
}

#[tokio::test]
async fn a_ban_or_role_change_ends_issued_access_tokens_within_a_second() {
    let app = spawn_app().await;
    let email = "mallory@example.com";
    let pair = account(&app, email, "customer").await;
    let id = user_id(&app, email).await;
    assert_eq!(me(&app, &access(&pair)).await.0, StatusCode::OK);

    let (status, v) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/users/{id}"),
            Some(json!({"banned": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["banned"], true);
    let banned_at = Instant::now();
    loop {
        let (status, _) = me(&app, &access(&pair)).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            banned_at.elapsed() < Duration::from_secs(1),
            "still {status}"
        );
    }
    assert_eq!(
        refresh(&app, &refresh_token(&pair)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, v) = post(
        &app,
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(code(&v), "account_banned");

    // Unbanned and promoted: the old role's tokens end, new ones carry it.
    app.admin(
        Method::PATCH,
        &format!("/api/v1/admin/users/{id}"),
        Some(json!({"banned": false})),
    )
    .await;
    let customer = login(&app, email, PASSWORD).await;
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/admin/jobs",
            Some(&access(&customer)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.admin(
        Method::PATCH,
        &format!("/api/v1/admin/users/{id}"),
        Some(json!({"role": "staff"})),
    )
    .await;
    assert_eq!(
        me(&app, &access(&customer)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let staff = login(&app, email, PASSWORD).await;
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/admin/jobs",
            Some(&access(&staff)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/admin/users",
            Some(&access(&staff)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn reset_flow_claims_an_imported_review_author() {
    let app = spawn_app_with_fixture().await;
    // users.jsonl brought this review author: an account without a password.
    let email = "rosa.ahmed1@example.com";
    let (status, v) = post(
        &app,
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    let (status, v) = app
        .admin(Method::GET, "/api/v1/admin/users/user-00001", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["email"], email);
    assert_eq!(v["data"]["hasPassword"], false);

    let (status, v) = post(
        &app,
        "/api/v1/auth/password-reset",
        None,
        json!({"email": email}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let token = mailed_token(&app, email, "reset-password").await;
    // Staff reading the job queue do not see the link.
    let (_, jobs) = app
        .admin(Method::GET, "/api/v1/admin/jobs?kind=email", None)
        .await;
    assert!(!jobs.to_string().contains(&token), "{jobs}");

    let (status, v) = post(
        &app,
        "/api/v1/auth/password-reset/confirm",
        None,
        json!({"token": token, "password": "my own password"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{v}");
    let pair = login(&app, email, "my own password").await;
    assert_eq!(pair["user"]["id"], "user-00001");
    assert_eq!(pair["user"]["emailVerified"], true);
    // Single use.
    let (status, v) = post(
        &app,
        "/api/v1/auth/password-reset/confirm",
        None,
        json!({"token": token, "password": "another password"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(code(&v), "invalid_token");
    // A reset ends every session.
    let (status, _) = post(
        &app,
        "/api/v1/auth/password-reset",
        None,
        json!({"email": email}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let deadline = Instant::now() + Duration::from_secs(20);
    let second = loop {
        let fresh = mails_to(&app, email)
            .iter()
            .filter_map(|m| token_in(m, "reset-password"))
            .find(|t| *t != token);
        if let Some(t) = fresh {
            break t;
        }
        assert!(Instant::now() < deadline, "no second reset mail");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (status, v) = post(
        &app,
        "/api/v1/auth/password-reset/confirm",
        None,
        json!({"token": second, "password": "third password"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(me(&app, &access(&pair)).await.0, StatusCode::UNAUTHORIZED);
}

/// Median wall time of `n` runs of `f`.
async fn median<F, Fut>(n: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        f().await;
        times.push(t.elapsed());
    }
    times.sort();
    times[n / 2]
}

#[tokio::test]
async fn answers_do_not_tell_whether_an_email_has_an_account() {
    let app = spawn_app().await;
    let known = "known@example.com";
    account(&app, known, "customer").await;

    // Register: the same status and body; the owner is told by mail.
    let (s1, b1) = register(&app, known).await;
    let (s2, b2) = register(&app, "unknown@example.com").await;
    assert_eq!((s1, &b1), (s2, &b2));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !mails_to(&app, known)
        .iter()
        .any(|m| m.contains("already has one"))
    {
        assert!(Instant::now() < deadline, "no 'already registered' mail");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Login: a wrong password and an unknown email answer alike.
    let try_login = |email: &'static str| {
        let app = &app;
        async move {
            post(
                app,
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": "not the password"}),
            )
            .await
        }
    };
    let (s1, b1) = try_login(known).await;
    let (s2, b2) = try_login("nobody@example.com").await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!((s1, &b1), (s2, &b2));
    // ... in about the same time: an unknown email still costs a hash.
    let wrong = median(5, || async {
        try_login(known).await;
    })
    .await;
    let unknown = median(5, || async {
        try_login("nobody@example.com").await;
    })
    .await;
    assert!(
        unknown * 3 > wrong && wrong * 3 > unknown,
        "wrong password {wrong:?}, unknown email {unknown:?}"
    );

    // Reset: the same answer.
    let (s1, b1) = post(
        &app,
        "/api/v1/auth/password-reset",
        None,
        json!({"email": known}),
    )
    .await;
    let (s2, b2) = post(
        &app,
        "/api/v1/auth/password-reset",
        None,
        json!({"email": "nobody@example.com"}),
    )
    .await;
    assert_eq!(s1, StatusCode::ACCEPTED);
    assert_eq!((s1, &b1), (s2, &b2));

    // ... in the same time: in pairs, known then unknown in turn, the known
    // email is not the slower one more often than chance allows (with a
    // mail job and a token to write it was, 22 of 25 pairs).
    let reset = |email: &'static str| {
        let app = &app;
        async move {
            let t = Instant::now();
            let (s, _) = post(
                app,
                "/api/v1/auth/password-reset",
                None,
                json!({"email": email}),
            )
            .await;
            assert_eq!(s, StatusCode::ACCEPTED);
            t.elapsed()
        }
    };
    let mut slower = 0;
    for i in 0..25 {
        let (k, u) = if i % 2 == 0 {
            let k = reset(known).await;
            (k, reset("nobody@example.com").await)
        } else {
            let u = reset("nobody@example.com").await;
            (reset(known).await, u)
        };
        slower += usize::from(k > u);
    }
    // Binomial(25, 1/2): 21 or more has a chance of 1 in 2,000.
    assert!(
        (5..=20).contains(&slower),
        "the known email was slower in {slower} of 25 pairs"
    );
}

#[tokio::test]
async fn api_keys_have_a_role_are_shown_once_and_revoke_at_once() {
    let app = spawn_app().await;
    let (status, v) = app
        .admin(
            Method::POST,
            "/api/v1/admin/api-keys",
            Some(json!({"name": "warehouse sync", "role": "staff"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let key = v["data"]["key"].as_str().unwrap().to_string();
    let id = v["data"]["id"].as_str().unwrap().to_string();
    let with_key = |m: Method, path: &str, key: &str| {
        app.client
            .request(m, app.url(path))
            .header("X-API-Key", key.to_string())
            .send()
    };
    let res = with_key(Method::GET, "/api/v1/admin/jobs", &key)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = with_key(Method::GET, "/api/v1/admin/users", &key)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = with_key(Method::GET, "/api/v1/me", &key).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A wrong secret for a real id, and garbage, are 401.
    let forged = format!("sk.{id}.{}", "A".repeat(43));
    for bad in [forged.as_str(), "sk.nope.x", "garbage"] {
        let res = with_key(Method::GET, "/api/v1/admin/jobs", bad)
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{bad}");
    }

    // The list never shows the secret; it shows the last use.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, v) = app.admin(Method::GET, "/api/v1/admin/api-keys", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            !v.to_string().contains(key.rsplit('.').next().unwrap()),
            "{v}"
        );
        if !v["data"][0]["lastUsedAt"].is_null() {
            break;
        }
        assert!(Instant::now() < deadline, "lastUsedAt never set: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (status, _) = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/admin/api-keys/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let res = with_key(Method::GET, "/api/v1/admin/jobs", &key)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Customers are not API-key material.
    let (status, v) = app
        .admin(
            Method::POST,
            "/api/v1/admin/api-keys",
            Some(json!({"name": "x", "role": "customer"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let _ = TOKEN;
}

#[tokio::test]
async fn admins_list_users_by_role_and_email_prefix() {
    let app = spawn_app().await;
    for (e, role) in [
        ("a1@shop.example", "customer"),
        ("a2@shop.example", "staff"),
        ("b1@shop.example", "customer"),
    ] {
        account(&app, e, role).await;
    }
    let (status, v) = app
        .admin(Method::GET, "/api/v1/admin/users?email=A", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let emails: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["a1@shop.example", "a2@shop.example"]);
    assert_eq!(v["meta"]["total"], 2);
    let (_, v) = app
        .admin(Method::GET, "/api/v1/admin/users?role=staff", None)
        .await;
    assert_eq!(v["meta"]["total"], 1);
    assert_eq!(v["data"][0]["email"], "a2@shop.example");
    let (_, v) = app
        .admin(Method::GET, "/api/v1/admin/users?limit=1&page=2", None)
        .await;
    assert_eq!(v["data"][0]["email"], "a2@shop.example");
    assert_eq!(v["meta"]["total"], 3);
    let (status, v) = app
        .admin(Method::GET, "/api/v1/admin/users?role=owner", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (status, _) = app
        .admin(Method::GET, "/api/v1/admin/users/no-such-user", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A login attempt from `ip` (through the trusted loopback proxy).
async fn login_from(app: &TestApp, ip: &str, email: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("X-Forwarded-For", ip)
        .json(&json!({"email": email, "password": "not the password"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address_and_per_email() {
    use shopd::config::http::TrustedProxies;
    use shopd::config::rate_limits::Rate;
    let app = crate::helpers::spawn_fixture_with(|c| {
        c.rate_limits.auth = Rate::parse_setting("3/min").unwrap();
        c.http.trusted_proxies = TrustedProxies::parse_list("127.0.0.1").unwrap();
    })
    .await;
    // One address, three emails: the address's quota runs out.
    let mut remaining = Vec::new();
    for i in 0..3 {
        let res = login_from(&app, "203.0.113.1", &format!("u{i}@example.com")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()["x-ratelimit-limit"], "3");
        remaining.push(
            res.headers()["x-ratelimit-remaining"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let res = login_from(&app, "203.0.113.1", "u9@example.com").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let v: Value = res.json().await.unwrap();
    assert_eq!(code(&v), "rate_limited");

    // One account guessed at from many addresses: every attempt on it is
    // slowed down, but nobody can lock its owner out — the right password
    // from the owner's address still signs in (OWASP: failures only, per
    // account and address; slow down rather than lock).
    account(&app, "target@example.com", "customer").await;
    for i in 0..12 {
        let res = login_from(&app, &format!("198.51.100.{i}"), "Target@Example.com ").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // The address that failed on it cannot try again for a while.
    for _ in 0..3 {
        let res = login_from(&app, "198.51.100.50", "target@example.com").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login_from(&app, "198.51.100.50", "target@example.com").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let owner = |ip: &'static str| {
        let app = &app;
        async move {
            let t = Instant::now();
            let res = app
                .client
                .post(app.url("/api/v1/auth/login"))
                .header("X-Forwarded-For", ip)
                .json(&json!({"email": "target@example.com", "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            (res.status(), t.elapsed())
        }
    };
    let (status, took) = owner("192.0.2.7").await;
    assert_eq!(status, StatusCode::OK, "the owner was locked out");
    assert!(took >= Duration::from_secs(2), "no slowdown: {took:?}");
    // Signed in: the account's failures are forgiven.
    let (status, took) = owner("192.0.2.8").await;
    assert_eq!(status, StatusCode::OK);
    assert!(took < Duration::from_secs(1), "{took:?}");
    // A fresh address and a fresh email still get through.
    let res = login_from(&app, "198.51.100.99", "someone@example.com").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn wrong_credentials_are_throttled_per_address() {
    use shopd::config::http::TrustedProxies;
    use shopd::config::rate_limits::Rate;
    let replication = "replication-token-for-throttle-test-0123";
    let metrics = "metrics-token-for-the-throttle-test-0123";
    let app = crate::helpers::spawn_fixture_with(|c| {
        c.rate_limits.credentials = Rate::parse_setting("5/min").unwrap();
        c.http.trusted_proxies = TrustedProxies::parse_list("127.0.0.1").unwrap();
        c.replication.token = Some(shopd::config::Secret::new(replication));
        c.http.metrics_token = Some(shopd::config::Secret::new(metrics));
    })
    .await;
    let get = |path: &'static str, ip: &'static str, header: (&'static str, String)| {
        let app = &app;
        async move {
            app.client
                .get(app.url(path))
                .header("X-Forwarded-For", ip)
                .header(header.0, header.1)
                .send()
                .await
                .unwrap()
        }
    };
    let bearer = |t: &str| ("Authorization", format!("Bearer {t}"));
    // Five wrong credentials of every kind from one address: 401s...
    let wrong = [
        ("/api/v1/admin/users", bearer("not-the-admin-token")),
        (
            "/api/v1/admin/users",
            ("X-API-Key", "sk.k_nope.nope".to_string()),
        ),
        (
            "/replication/changes?since=0",
            bearer("not-the-replication-token"),
        ),
        ("/metrics", bearer("not-the-metrics-token")),
        ("/api/v1/me", bearer("a.b.c")),
    ];
    for (path, header) in wrong.clone() {
        let res = get(path, "203.0.113.9", header).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // ... then 429 for that address, the right credentials included.
    let res = get(
        "/api/v1/admin/users",
        "203.0.113.9",
        bearer(crate::helpers::TOKEN),
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let v: Value = res.json().await.unwrap();
    assert_eq!(code(&v), "rate_limited");
    // Another address is not concerned.
    let res = get(
        "/api/v1/admin/users",
        "203.0.113.10",
        bearer(crate::helpers::TOKEN),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = get("/metrics", "203.0.113.10", bearer(metrics)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    for kind in [
        "bearer_token",
        "api_key",
        "replication_token",
        "metrics_token",
    ] {
        assert!(
            text.contains(&format!("shopd_auth_failures_total{{kind=\"{kind}\"}}")),
            "{kind} not counted"
        );
    }
    // A missing credential is no guess: nothing counted, no 429 for it.
    for _ in 0..8 {
        let res = app
            .client
            .get(app.url("/api/v1/admin/users"))
            .header("X-Forwarded-For", "203.0.113.11")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}

/// Every reset link mailed to `to` so far (waits until there are `n`).
async fn reset_links(app: &TestApp, to: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mails = mails_to(app, to);
        let links: Vec<String> = mails
            .iter()
            .filter_map(|m| token_in(m, "reset-password"))
            .collect();
        if links.len() >= n {
            return links;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} reset mails to {to}",
            links.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_reset_or_a_password_change_ends_every_other_mailed_link() {
    let app = spawn_app().await;
    let email = "links@example.com";
    let pair = account(&app, email, "customer").await;
    let reset = |email: &'static str| {
        let app = &app;
        async move {
            let (s, _) = post(
                app,
                "/api/v1/auth/password-reset",
                None,
                json!({"email": email}),
            )
            .await;
            assert_eq!(s, StatusCode::ACCEPTED);
        }
    };
    let confirm = |token: String, password: &'static str| {
        let app = &app;
        async move {
            post(
                app,
                "/api/v1/auth/password-reset/confirm",
                None,
                json!({"token": token, "password": password}),
            )
            .await
            .0
        }
    };
    // Two links; one is used: the other is over.
    reset(email).await;
    reset(email).await;
    let links = reset_links(&app, email, 2).await;
    assert_eq!(links.len(), 2);
    let (a, b) = (links[0].clone(), links[1].clone());
    assert_eq!(
        confirm(b, "a new passphrase one").await,
        StatusCode::NO_CONTENT
    );
    assert_ne!(
        confirm(a, "another link's passphrase").await,
        StatusCode::NO_CONTENT,
        "a second reset link set the password after one was used"
    );
    login(&app, email, "a new passphrase one").await;

    // A link mailed before a password change does not undo it.
    reset(email).await;
    let links = reset_links(&app, email, 3).await;
    let signed_in = login(&app, email, "a new passphrase one").await;
    let (s, v) = post(
        &app,
        "/api/v1/me/password",
        Some(signed_in["accessToken"].as_str().unwrap()),
        json!({"currentPassword": "a new passphrase one", "newPassword": "the changed passphrase"}),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    for link in links {
        assert_ne!(
            confirm(link, "an attacker's passphrase").await,
            StatusCode::NO_CONTENT,
            "a reset link mailed before the password change still worked"
        );
    }
    drop(pair);
    login(&app, email, "the changed passphrase").await;
}

#[tokio::test]
async fn no_live_link_is_stored_in_clear() {
    // The mail jobs' links are sealed with the shop's mail key: the
    // database and its log (and so snapshots and backups) hold none of the
    // tokens a reset or verification mail carries.
    let app = spawn_app().await;
    let email = "sealed@example.com";
    register(&app, email).await;
    let verify = mailed_token(&app, email, "verify-email").await;
    let (s, _) = post(
        &app,
        "/api/v1/auth/password-reset",
        None,
        json!({"email": email}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let reset = mailed_token(&app, email, "reset-password").await;
    let mut stored = Vec::new();
    for file in ["shopd.redb", "shopd.redb.wal"] {
        stored.extend(std::fs::read(app.dir.path().join(file)).unwrap_or_default());
    }
    assert!(!stored.is_empty());
    let contains = |needle: &str| stored.windows(needle.len()).any(|w| w == needle.as_bytes());
    for (what, needle) in [
        ("the verification token", verify.as_str()),
        ("the reset token", reset.as_str()),
        ("a verification link", "verify-email?token="),
        ("a reset link", "reset-password?token="),
    ] {
        assert!(!contains(needle), "{what} is stored in clear");
    }
    // The admin's job view shows no secret either.
    let (s, jobs) = app
        .admin(Method::GET, "/api/v1/admin/jobs?kind=email", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let text = jobs.to_string();
    assert!(!text.contains(&verify) && !text.contains(&reset), "{text}");
}
