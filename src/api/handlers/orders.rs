//! Selling over HTTP: carts (an account's, or a guest's behind
//! `X-Cart-Token`), checkout (with a required `Idempotency-Key`), the
//! customer's orders, the staff's orders and status moves, the payment
//! provider's webhook, and discount codes. Each handler parses its input
//! with the domain's parser, calls one `orders` use case and wraps its
//! answer in the views below (which the Postgres-design baseline renders
//! too, so both answer byte-identical JSON).

use crate::accounts::Principal;
use crate::api::dto::Data;
use crate::api::dto::data;
use crate::api::dto::orders::CheckoutBody;
use crate::api::dto::orders::OrderView;
use crate::api::dto::orders::Page;
use crate::api::dto::orders::StatusBody;
use crate::api::dto::orders::WebhookAnswer;
use crate::api::error::ApiError;
use crate::api::extract::body::Body;
use crate::api::extract::orders::IdempotencyKey;
use crate::api::extract::orders::LinkQuery;
use crate::api::extract::orders::OrdersQuery;
use crate::api::extract::orders::ShopperCart;
use crate::api::extract::orders::WebhookBody;
use crate::api::extract::principal::Me;
use crate::api::extract::query::Params;
use crate::api::state::ApiState;
use crate::domain::account::Role;
use crate::domain::listing::PageRequest;
use crate::domain::order::Order;
use crate::domain::order::OrderFilter;
use crate::orders::Shopper;
use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::web;

// ---- checkout and orders --------------------------------------------------------------------

fn order_answer(state: &ApiState, status: StatusCode, o: &Order) -> HttpResponse {
    data(status, OrderView::new(o, state.services.orders.holds()))
}

pub(crate) async fn checkout(
    state: web::Data<ApiState>,
    cart: ShopperCart,
    IdempotencyKey(key): IdempotencyKey,
    Body(req, raw): Body<CheckoutBody>,
) -> Result<HttpResponse, ApiError> {
    let req = req.map_err(ApiError::validation)?;
    let Some(owner) = cart.owner else {
        return Err(crate::orders::OrdersError::CartEmpty.into());
    };
    let fingerprint = crate::orders::fingerprint(&raw.map);
    let shopper = Shopper {
        cart: owner,
        account: cart.account,
    };
    let done = state
        .services
        .orders
        .checkout(shopper, key, fingerprint, req)
        .await?;
    let mut res = HttpResponse::Created();
    res.insert_header((LOCATION, format!("/api/v1/orders/{}", done.order.id)));
    if done.replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(res.json(Data {
        data: OrderView::new(&done.order, state.services.orders.holds()),
    }))
}

pub(crate) async fn my_orders(
    state: web::Data<ApiState>,
    me: Me,
    Params(page): Params<PageRequest>,
) -> Result<HttpResponse, ApiError> {
    let filter = OrderFilter {
        account: Some(me.id),
        ..OrderFilter::default()
    };
    let found = state
        .services
        .orders
        .orders(&filter, page.offset(), page.limit() as usize)?;
    Ok(HttpResponse::Ok().json(Page {
        data: found
            .items
            .iter()
            .map(|o| OrderView::new(o, state.services.orders.holds()))
            .collect(),
        meta: page.meta(found.total),
    }))
}

pub(crate) async fn my_order(
    state: web::Data<ApiState>,
    p: Principal,
    path: web::Path<String>,
    Params(LinkQuery(link)): Params<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let o = state.services.orders.order_for(
        &path.into_inner(),
        p.account().map(|(id, _)| id),
        link.as_deref(),
    )?;
    Ok(order_answer(&state, StatusCode::OK, &o))
}

pub(crate) async fn admin_orders(
    state: web::Data<ApiState>,
    Params(OrdersQuery(filter, page)): Params<OrdersQuery>,
) -> Result<HttpResponse, ApiError> {
    let found = state
        .services
        .orders
        .orders(&filter, page.offset(), page.limit() as usize)?;
    Ok(HttpResponse::Ok().json(Page {
        data: found
            .items
            .iter()
            .map(|o| OrderView::new(o, state.services.orders.holds()))
            .collect(),
        meta: page.meta(found.total),
    }))
}

pub(crate) async fn admin_order(
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let o = state.services.orders.order(&path.into_inner())?;
    Ok(order_answer(&state, StatusCode::OK, &o))
}

/// Who a staff move is recorded as.
fn actor(p: &Principal) -> String {
    match p {
        Principal::Account { id, role, .. } if *role >= Role::Staff => format!("{role} {id}"),
        other => other.to_string(),
    }
}

pub(crate) async fn set_status(
    state: web::Data<ApiState>,
    p: Principal,
    path: web::Path<String>,
    Body(status, _): Body<StatusBody>,
) -> Result<HttpResponse, ApiError> {
    let status = status.map_err(ApiError::validation)?;
    let o = state
        .services
        .orders
        .set_status(&path.into_inner(), status, actor(&p))
        .await?;
    Ok(order_answer(&state, StatusCode::OK, &o))
}

pub(crate) async fn mark_paid(
    state: web::Data<ApiState>,
    p: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let o = state
        .services
        .orders
        .mark_paid(&path.into_inner(), actor(&p))
        .await?;
    Ok(order_answer(&state, StatusCode::OK, &o))
}

pub(crate) async fn payment_webhook(
    state: web::Data<ApiState>,
    req: HttpRequest,
    WebhookBody(body): WebhookBody,
) -> Result<HttpResponse, ApiError> {
    let signature = req
        .headers()
        .get(crate::orders::payments::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let applied = state
        .services
        .orders
        .payment_webhook(signature, &body)
        .await?;
    Ok(HttpResponse::Ok().json(Data {
        data: WebhookAnswer {
            received: true,
            duplicate: !applied,
        },
    }))
}
