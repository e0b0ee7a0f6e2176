//! Signing in to and out of the admin pages.
//!
//! The sign-in form is protected from cross-site posts by a double-submit
//! token (a random value in a SameSite=Strict cookie and in the form) and
//! limited like the API's sign-in (per address and per email). A wrong
//! email and a wrong password get the same answer. A customer's correct
//! password starts nothing: the durable session the accounts service made
//! is revoked at once.

use super::session::{COOKIE, LOGIN_COOKIE, Sessions, csrf_matches};
use super::{AdminError, AdminResult, Page, Posted, html, read_form, see_other, templates};
use crate::accounts::{AccountsError, tokens};
use crate::api::error::ApiError;
use crate::api::route::RateLimit;
use crate::api::state::ApiState;
use crate::domain::account::{Credentials, Role};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

/// Where to go after signing in: only a path of the admin pages (never
/// another site), without control characters; else the admin home.
fn next_of(raw: Option<&str>) -> String {
    match raw {
        Some(n)
            if n.starts_with("/admin")
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/admin".to_string(),
    }
}

/// An admin cookie: `Secure` when the browser came over HTTPS, which only
/// a trusted proxy can say (`--trusted-proxies`).
fn cookie<'a>(req: &HttpRequest, name: &'a str, value: String) -> Cookie<'a> {
    let https = req
        .app_data::<web::Data<crate::api::state::ApiState>>()
        .is_some_and(|s| s.limits.https(req));
    Cookie::build(name, value)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(https)
        .finish()
}

fn login_page(
    req: &HttpRequest,
    status: StatusCode,
    next: &str,
    email: &str,
    error: Option<String>,
) -> HttpResponse {
    let token = tokens::random_secret();
    let ctx = minijinja::context! {
        csrf => token,
        next => next,
        email => email,
        error => error,
    };
    let mut res = html(status, templates::render("login.html", ctx));
    // A fresh login token each time the form is shown.
    let _ = res.add_cookie(&cookie(req, LOGIN_COOKIE, token));
    res
}

/// `GET /admin/login`.
pub(crate) async fn form(req: HttpRequest) -> HttpResponse {
    let q: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let next = next_of(q.iter().find(|(k, _)| k == "next").map(|(_, v)| v.as_str()));
    // Already signed in: straight on.
    if Page::of(&req).is_ok() {
        return see_other(&next);
    }
    login_page(&req, StatusCode::OK, &next, "", None)
}

/// `POST /admin/login`.
pub(crate) async fn submit(
    req: HttpRequest,
    state: web::Data<ApiState>,
    sessions: web::Data<Sessions>,
    body: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let fields = read_form(&req, Ok(body)).await?;
    let field = |n: &str| fields.get(n).map(|s| s.trim()).unwrap_or("");
    let next = next_of(Some(field("next")));
    let email = field("email").to_string();
    let expected = req.cookie(LOGIN_COOKIE).map(|c| c.value().to_string());
    if !expected
        .is_some_and(|e| !e.is_empty() && csrf_matches(&e, fields.get("_csrf").map(String::as_str)))
    {
        return Ok(login_page(
            &req,
            StatusCode::FORBIDDEN,
            &next,
            &email,
            Some(AdminError::Csrf.to_string()),
        ));
    }
    let refuse = |status: StatusCode, message: String| {
        Ok(login_page(&req, status, &next, &email, Some(message)))
    };
    if let Err(e) = state.limits.check(RateLimit::Auth, &req, None) {
        return refuse(StatusCode::TOO_MANY_REQUESTS, e.to_string());
    }
    let mut map = Map::new();
    map.insert("email".into(), Value::String(email.clone()));
    map.insert(
        "password".into(),
        Value::String(fields.get("password").cloned().unwrap_or_default()),
    );
    let creds = match Credentials::parse(&map) {
        Ok(c) => c,
        Err(_) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                AccountsError::InvalidCredentials.to_string(),
            );
        }
    };
    let email_key = creds.email.as_str().to_string();
    match state.limits.sign_in_gate(&req, &email_key) {
        Ok(wait) => tokio::time::sleep(wait).await,
        Err(e) => return refuse(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
    }
    let accounts = &state.services.accounts;
    let pair = match accounts.login(creds).await {
        Ok(p) => {
            state.limits.sign_in_cleared(&email_key);
            p
        }
        Err(e @ (AccountsError::InvalidCredentials | AccountsError::Banned)) => {
            if matches!(e, AccountsError::InvalidCredentials) {
                state.limits.sign_in_failed(&req, &email_key);
            }
            return refuse(StatusCode::UNAUTHORIZED, e.to_string());
        }
        Err(e) => return Err(ApiError::from(e).into()),
    };
    let Ok(crate::accounts::Principal::Account { session: sid, .. }) =
        accounts.authenticate_access(&pair.access_token)
    else {
        return Err(ApiError::Internal(anyhow::anyhow!("a fresh access token was refused")).into());
    };
    if pair.account.role < Role::Staff {
        accounts.logout(&sid).await?;
        return refuse(StatusCode::FORBIDDEN, AdminError::NotStaff.to_string());
    }
    tracing::info!(account = %pair.account.id, "signed in to the admin pages");
    let token = sessions.start(pair.account.email.as_str().to_string(), sid);
    let mut res = see_other(&next);
    let _ = res.add_cookie(&cookie(&req, COOKIE, token));
    let mut gone = cookie(&req, LOGIN_COOKIE, String::new());
    gone.make_removal();
    let _ = res.add_cookie(&gone);
    Ok(res)
}

/// `POST /admin/logout`: ends the browser session and its durable one.
pub(crate) async fn logout(req: HttpRequest, posted: Posted) -> AdminResult {
    let page = posted.page;
    if let Some(durable) = page.sessions.end(&page.signed) {
        page.services().accounts.logout(&durable).await?;
    }
    let mut res = see_other("/admin/login");
    let mut gone = cookie(&req, COOKIE, String::new());
    gone.make_removal();
    let _ = res.add_cookie(&gone);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::next_of;

    #[test]
    fn after_sign_in_only_admin_paths_are_followed() {
        assert_eq!(
            next_of(Some("/admin/orders?status=paid")),
            "/admin/orders?status=paid"
        );
        assert_eq!(next_of(Some("https://evil.example/admin")), "/admin");
        assert_eq!(next_of(Some("//evil.example/admin")), "/admin");
        assert_eq!(next_of(None), "/admin");
        assert_eq!(next_of(Some("/admin/orders\r\nSet-Cookie: x=1")), "/admin");
        assert_eq!(next_of(Some("/admin/\u{7f}")), "/admin");
    }
}
