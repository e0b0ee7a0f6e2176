//! Orders: the list with the API's filters (status, paid, dates, search),
//! an order's detail, and its status moves and mark-paid through the same
//! use cases (and so the same rules) as `POST /api/v1/admin/orders/…`.

use super::{AdminResult, Page, Posted, reasons, tidy_query, view};
use crate::api::dto::orders::OrderView;
use crate::api::extract::orders::OrdersQuery;
use crate::api::extract::query::Params;
use crate::domain::order::{OrderStatus, PaymentMethod, parse_status_change};
use actix_web::{FromRequest, HttpRequest, web};
use serde_json::{Map, Value};

/// The current query without `page`, for the pager's links.
pub(super) fn query_without_page(req: &HttpRequest) -> String {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let kept: Vec<_> = pairs.into_iter().filter(|(k, _)| k != "page").collect();
    serde_urlencoded::to_string(kept).unwrap_or_default()
}

/// The query's value of `name`, for a filter form to show.
pub(super) fn query_value(req: &HttpRequest, name: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_default()
}

/// `GET /admin/orders`.
pub(crate) async fn list(page: Page, req: HttpRequest) -> AdminResult {
    if let Some(tidier) = tidy_query(&req) {
        return Ok(tidier);
    }
    let Params(OrdersQuery(filter, paging)) = Params::<OrdersQuery>::extract(&req).await?;
    let found = page
        .services()
        .orders
        .orders(&filter, paging.offset(), paging.limit() as usize)?;
    let orders: Vec<OrderView> = found
        .items
        .iter()
        .map(|o| OrderView::new(o, page.services().orders.holds()))
        .collect();
    let day = |name: &str| query_value(&req, name).get(..10).unwrap_or("").to_string();
    page.render(
        "orders.html",
        minijinja::context! {
            orders => view(&orders),
            meta => view(paging.meta(found.total)),
            statuses => OrderStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            filter => minijinja::context! {
                status => query_value(&req, "status"),
                is_paid => query_value(&req, "isPaid"),
                from => day("from"),
                to => day("to"),
                q => query_value(&req, "q"),
            },
            query => query_without_page(&req),
        },
    )
}

/// `GET /admin/orders/{id}`.
pub(crate) async fn detail(page: Page, id: web::Path<String>) -> AdminResult {
    let o = page.services().orders.order(&id)?;
    // The moves this order's status allows; paying has its own action
    // (and a card order is paid by its provider only).
    let moves: Vec<&str> = OrderStatus::ALL
        .into_iter()
        .filter(|to| *to != OrderStatus::Paid && o.status.can_become(*to))
        .map(|s| s.as_str())
        .collect();
    let can_mark_paid =
        o.status.can_become(OrderStatus::Paid) && o.payment_method != PaymentMethod::Card;
    page.render(
        "order.html",
        minijinja::context! {
            order => view(OrderView::new(&o, page.services().orders.holds())),
            moves => moves,
            can_mark_paid => can_mark_paid,
        },
    )
}

/// `POST /admin/orders/{id}/status` (`status`).
pub(crate) async fn status(posted: Posted, id: web::Path<String>) -> AdminResult {
    let back = format!("/admin/orders/{id}");
    let mut map = Map::new();
    map.insert(
        "status".into(),
        Value::String(posted.get("status").unwrap_or("").into()),
    );
    let page = &posted.page;
    let to = match parse_status_change(&map) {
        Ok(to) => to,
        Err(e) => return page.failed(&back, reasons(&e)),
    };
    let actor = page.signed.actor.clone();
    match page.services().orders.set_status(&id, to, actor).await {
        Ok(o) => page.done(
            &back,
            format!("Order #{} is now {}.", o.number, o.status.as_str()),
        ),
        Err(e) => page.failed(&back, e),
    }
}

/// `POST /admin/orders/{id}/mark-paid`.
pub(crate) async fn paid(posted: Posted, id: web::Path<String>) -> AdminResult {
    let back = format!("/admin/orders/{id}");
    let page = &posted.page;
    let actor = page.signed.actor.clone();
    match page.services().orders.mark_paid(&id, actor).await {
        Ok(o) => page.done(&back, format!("Order #{} is marked paid.", o.number)),
        Err(e) => page.failed(&back, e),
    }
}
