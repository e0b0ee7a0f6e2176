//! Users and API keys (admin only): the account list with the API's
//! filters, role changes and bans (through the same parser and use case as
//! `PATCH /api/v1/admin/users/{id}`; either ends the account's sessions),
//! and API keys: create (the secret is shown once, in the answer to the
//! form, never stored), revoke.

use super::orders::{query_value, query_without_page};
use super::{AdminResult, Page, Posted, reasons, tidy_query, view};
use crate::api::dto::accounts::{ApiKeyBody, KeyView, UserAdminBody, UserView};
use crate::api::extract::accounts::UsersQuery;
use crate::api::extract::body::Input;
use crate::api::extract::query::Params;
use actix_web::{FromRequest, HttpRequest, web};
use serde_json::{Map, Value};

/// The users page; `created` is a key just made, with its secret.
async fn render(page: Page, req: &HttpRequest, created: Option<KeyView>) -> AdminResult {
    page.admin_only()?;
    let Params(UsersQuery(filter, paging)) = Params::<UsersQuery>::extract(req).await?;
    let accounts = &page.services().accounts;
    let found = accounts.list(&filter, paging.offset(), paging.limit() as usize)?;
    let users: Vec<UserView> = found.items.into_iter().map(UserView::from).collect();
    let keys: Vec<KeyView> = accounts.keys()?.into_iter().map(KeyView::from).collect();
    page.render(
        "users.html",
        minijinja::context! {
            users => view(&users),
            meta => view(paging.meta(found.total)),
            keys => view(&keys),
            created => created.map(view),
            me => page.signed.account.as_str(),
            filter => minijinja::context! {
                role => query_value(req, "role"),
                email => query_value(req, "email"),
            },
            query => query_without_page(req),
        },
    )
}

/// `GET /admin/users`.
pub(crate) async fn page(page: Page, req: HttpRequest) -> AdminResult {
    if let Some(tidier) = tidy_query(&req) {
        return Ok(tidier);
    }
    render(page, &req, None).await
}

/// `POST /admin/users/{id}` (`role`, `banned`).
pub(crate) async fn administer(posted: Posted, id: web::Path<String>) -> AdminResult {
    let page = &posted.page;
    page.admin_only()?;
    let back = "/admin/users";
    let mut map = Map::new();
    if let Some(role) = posted.get("role") {
        map.insert("role".into(), Value::String(role.into()));
    }
    map.insert(
        "banned".into(),
        Value::Bool(posted.get("banned") == Some("on")),
    );
    let patch = match UserAdminBody::parse(&map) {
        Ok(p) => p,
        Err(e) => return page.failed(back, format!("Not changed: {}", reasons(&e))),
    };
    // An admin cannot lock themselves out from here.
    if page.signed.account.as_str() == id.as_str()
        && (patch.banned == Some(true) || patch.role.is_some_and(|r| r != page.signed.role))
    {
        return page.failed(back, "You cannot change your own role or ban yourself.");
    }
    match page.services().accounts.administer(&id, patch).await {
        Ok(a) => page.done(
            back,
            format!(
                "{} is now {}{}.",
                a.email.as_str(),
                a.role.as_str(),
                if a.banned { ", banned" } else { "" }
            ),
        ),
        Err(e) => page.failed(back, e),
    }
}

/// `POST /admin/keys` (`name`, `role`): the new key's secret is shown on
/// the page this answers, once.
pub(crate) async fn create_key(posted: Posted, req: HttpRequest) -> AdminResult {
    posted.page.admin_only()?;
    let mut map = Map::new();
    for name in ["name", "role"] {
        map.insert(
            name.into(),
            Value::String(posted.get(name).unwrap_or("").into()),
        );
    }
    let new = match ApiKeyBody::parse(&map) {
        Ok(n) => n,
        Err(e) => {
            return posted
                .page
                .failed("/admin/users", format!("No key created: {}", reasons(&e)));
        }
    };
    let created = posted.page.services().accounts.create_key(new).await?;
    tracing::info!(key = %created.key.id, "API key created from the admin pages");
    render(posted.page, &req, Some(KeyView::from(created))).await
}

/// `POST /admin/keys/{id}/revoke`.
pub(crate) async fn revoke_key(posted: Posted, id: web::Path<String>) -> AdminResult {
    let page = &posted.page;
    page.admin_only()?;
    match page.services().accounts.revoke_key(&id).await {
        Ok(()) => page.done(
            "/admin/users",
            format!("Key {id} revoked; it stops working now."),
        ),
        Err(e) => page.failed("/admin/users", e),
    }
}
