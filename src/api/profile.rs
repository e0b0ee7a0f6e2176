//! The signed-in customer's own things over HTTP: saved addresses, the
//! wishlist (shown with current prices and availability) and
//! notifications.

use super::auth::Principal;
use super::error::ApiError;
use super::extract::{Body, Input};
use super::orders::AddressView;
use super::state::ApiState;
use crate::domain::address::{self, AddressDraft, NewAddress, SavedAddress};
use crate::domain::cart;
use crate::domain::fields::{Presence, read_object};
use crate::domain::notification::Notification;
use crate::domain::{FieldErrors, Id, Product, Timestamp};
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

fn me(p: &Principal) -> Result<&Id, ApiError> {
    p.account()
        .map(|(id, _)| id)
        .ok_or_else(|| ApiError::Forbidden {
            code: "forbidden",
            message: "this needs a signed-in account's access token".into(),
        })
}

#[derive(Serialize)]
struct Data<T> {
    data: T,
}

fn data<T: Serialize>(status: StatusCode, body: T) -> HttpResponse {
    HttpResponse::build(status).json(Data { data: body })
}

/// A saved address.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SavedAddressView {
    id: String,
    is_default: bool,
    #[serde(flatten)]
    address: AddressView,
    created_at: String,
}

impl From<&SavedAddress> for SavedAddressView {
    fn from(a: &SavedAddress) -> Self {
        SavedAddressView {
            id: a.id.to_string(),
            is_default: a.is_default,
            address: AddressView::from(&a.address),
            created_at: a.created_at.to_string(),
        }
    }
}

/// A wishlist entry: the product as it is now.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WishView {
    product_id: String,
    title: String,
    price: f64,
    /// After the product's own discount.
    unit_price: f64,
    is_available: bool,
    stock: u32,
    added_at: String,
}

impl WishView {
    fn new(p: &Product, at: Timestamp) -> Self {
        WishView {
            product_id: p.id.to_string(),
            title: p.title.clone(),
            price: p.price.as_decimal(),
            unit_price: cart::unit_price_cents(p) as f64 / 100.0,
            is_available: p.is_available,
            stock: p.stock,
            added_at: at.to_string(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NotificationView {
    id: String,
    #[schema(examples("order_placed", "payment_received", "order_shipped"))]
    kind: String,
    message: String,
    order_id: Option<String>,
    created_at: String,
    read_at: Option<String>,
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        NotificationView {
            id: n.id.to_string(),
            kind: n.kind.clone(),
            message: n.message.clone(),
            order_id: n.order_id.as_ref().map(|o| o.to_string()),
            created_at: n.created_at.to_string(),
            read_at: n.read_at.map(|t| t.to_string()),
        }
    }
}

// ---- bodies ---------------------------------------------------------------------------------

/// `POST /me/addresses`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"name": "Ada Lovelace", "line1": "12 Example Road", "city": "London",
                         "postalCode": "NW1 6XE", "country": "GB", "isDefault": true})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct NewAddressBody {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[schema(min_length = 1, max_length = 200)]
    line1: String,
    #[schema(min_length = 1, max_length = 200)]
    line2: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    city: String,
    #[schema(min_length = 1, max_length = 16)]
    postal_code: String,
    #[schema(min_length = 2, max_length = 2, pattern = "^[A-Za-z]{2}$")]
    country: String,
    is_default: Option<bool>,
}

impl Input for NewAddressBody {
    type Parsed = Result<NewAddress, FieldErrors>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        NewAddress::parse(body)
    }
}

/// `PATCH /me/addresses/{id}`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"isDefault": true})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct AddressPatchBody {
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    line1: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    line2: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    city: Option<String>,
    #[schema(min_length = 1, max_length = 16)]
    postal_code: Option<String>,
    #[schema(min_length = 2, max_length = 2, pattern = "^[A-Za-z]{2}$")]
    country: Option<String>,
    is_default: Option<bool>,
}

impl Input for AddressPatchBody {
    type Parsed = Result<AddressDraft, FieldErrors>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        address::parse_address_patch(body)
    }
}

/// `POST /me/wishlist`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"productId": "prod-000001"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct WishBody {
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    product_id: String,
}

impl Input for WishBody {
    type Parsed = Result<Id, FieldErrors>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        read_object(body, |f| {
            f.get("productId", Presence::Required, Id::from_json)
        })
    }
}

// ---- handlers -------------------------------------------------------------------------------

pub(crate) async fn list_addresses(
    state: web::Data<ApiState>,
    p: Principal,
) -> Result<HttpResponse, ApiError> {
    let all = state.services.orders.addresses(me(&p)?)?;
    Ok(data(
        StatusCode::OK,
        all.iter().map(SavedAddressView::from).collect::<Vec<_>>(),
    ))
}

pub(crate) async fn add_address(
    state: web::Data<ApiState>,
    p: Principal,
    Body(new, _): Body<NewAddressBody>,
) -> Result<HttpResponse, ApiError> {
    let new = new.map_err(ApiError::validation)?;
    let a = state.services.orders.add_address(me(&p)?, new).await?;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, "/api/v1/me/addresses"))
        .json(Data {
            data: SavedAddressView::from(&a),
        }))
}

pub(crate) async fn update_address(
    state: web::Data<ApiState>,
    p: Principal,
    path: web::Path<String>,
    Body(patch, _): Body<AddressPatchBody>,
) -> Result<HttpResponse, ApiError> {
    let patch = patch.map_err(ApiError::validation)?;
    let a = state
        .services
        .orders
        .update_address(me(&p)?, &path.into_inner(), patch)
        .await?;
    Ok(data(StatusCode::OK, SavedAddressView::from(&a)))
}

pub(crate) async fn delete_address(
    state: web::Data<ApiState>,
    p: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .orders
        .delete_address(me(&p)?, &path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn wishlist(
    state: web::Data<ApiState>,
    p: Principal,
) -> Result<HttpResponse, ApiError> {
    let items = state.services.orders.wishlist(me(&p)?)?;
    Ok(data(
        StatusCode::OK,
        items
            .iter()
            .map(|(p, at)| WishView::new(p, *at))
            .collect::<Vec<_>>(),
    ))
}

pub(crate) async fn wish(
    state: web::Data<ApiState>,
    p: Principal,
    Body(product, _): Body<WishBody>,
) -> Result<HttpResponse, ApiError> {
    let product = product.map_err(ApiError::validation)?;
    state.services.orders.wish(me(&p)?, &product).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn unwish(
    state: web::Data<ApiState>,
    p: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .orders
        .unwish(me(&p)?, &path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn notifications(
    state: web::Data<ApiState>,
    p: Principal,
) -> Result<HttpResponse, ApiError> {
    let all = state.services.orders.notifications(me(&p)?)?;
    Ok(data(
        StatusCode::OK,
        all.iter().map(NotificationView::from).collect::<Vec<_>>(),
    ))
}

pub(crate) async fn read_notification(
    state: web::Data<ApiState>,
    p: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .orders
        .read_notification(me(&p)?, &path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
