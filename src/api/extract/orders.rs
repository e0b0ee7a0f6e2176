//! Selling's request parts: the cart token of a guest, the checkout's
//! idempotency key, a guest's order link, the staff's order filters, and a
//! payment provider's raw webhook body.

use crate::accounts::Principal;
use crate::api::dto::orders::PaymentEventBody;
use crate::api::dto::patterns;
use crate::api::error::ApiError;
use crate::api::extract::query::{Query, QueryParams};
use crate::api::openapi::describe::Describe;
use crate::api::openapi::describe::Inputs;
use crate::api::openapi::describe::Schemas;
use crate::api::openapi::describe::header_param;
use crate::api::openapi::describe::page_params;
use crate::api::openapi::describe::query_param;
use crate::api::state::ApiState;
use crate::domain::FieldErrors;
use crate::domain::Id;
use crate::domain::Timestamp;
use crate::domain::cart::CartOwner;
use crate::domain::listing::PageRequest;
use crate::domain::order;
use crate::domain::order::OrderFilter;
use crate::domain::order::OrderStatus;
use actix_web::FromRequest;
use actix_web::HttpMessage;
use actix_web::HttpRequest;
use actix_web::dev::Payload;
use actix_web::web;
use std::future::Ready;
use std::future::ready;
use utoipa::openapi::Required;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::schema::Type;

pub const CART_TOKEN_HEADER: &str = "x-cart-token";

pub(crate) const IDEMPOTENCY_HEADER: &str = "idempotency-key";

// ---- extractors -----------------------------------------------------------------------------

/// The `X-Cart-Token` request header (a guest's cart), if sent.
pub(crate) struct CartToken(pub Option<String>);

impl FromRequest for CartToken {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(cart_token(req).map(CartToken))
    }
}

/// The cart token of `req`: absent, or 16–128 URL-safe characters (400
/// otherwise).
pub fn cart_token(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get(CART_TOKEN_HEADER) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    if s.is_empty() {
        return Ok(None);
    }
    if (16..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(Some(s.to_string()))
    } else {
        Err(ApiError::BadRequest {
            code: "invalid_cart_token",
            message: "X-Cart-Token must be the token an earlier cart answer gave \
                      (16 to 128 letters, digits, '-' or '_')"
                .into(),
        })
    }
}

/// A guest cart's owner key for `token` (its SHA-256, hex).
pub(crate) fn guest(token: &str) -> CartOwner {
    CartOwner::Guest(crate::accounts::tokens::token_hash(token))
}

/// The required `Idempotency-Key` header of a checkout.
pub(crate) struct IdempotencyKey(pub String);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(idempotency_key(req).map(IdempotencyKey))
    }
}

/// The `Idempotency-Key` of `req`: 1–255 visible ASCII characters; 400
/// when missing or malformed.
pub fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let key = req
        .headers()
        .get(IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty());
    match key {
        Some(k) if k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => Ok(k.to_string()),
        Some(_) => Err(ApiError::BadRequest {
            code: "invalid_idempotency_key",
            message: "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
        }),
        None => Err(ApiError::BadRequest {
            code: "idempotency_key_required",
            message: "checkout needs an Idempotency-Key header (a unique value per order attempt, e.g. a UUID); retries send the same one".into(),
        }),
    }
}

/// `?token=` of a guest's order link.
pub(crate) struct LinkQuery(pub Option<String>);

impl QueryParams for LinkQuery {
    fn read(q: &Query, _: &mut FieldErrors) -> Result<Self, ApiError> {
        Ok(LinkQuery(q.get("token").map(str::to_string)))
    }

    fn describe(inputs: &mut Inputs) {
        inputs.query.push(query_param(
            "token",
            "The signature from a guest's order link (mailed with the confirmation)",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(64)),
        ));
    }
}

/// `status`, `isPaid`, `from`, `to`, `userId`, `q`, `page`, `limit` of
/// `GET /admin/orders`.
pub(crate) struct OrdersQuery(pub OrderFilter, pub PageRequest);

impl QueryParams for OrdersQuery {
    fn read(q: &Query, errors: &mut FieldErrors) -> Result<Self, ApiError> {
        let page = q.page(errors)?;
        let status = q.get("status").and_then(|s| {
            OrderStatus::parse(s).or_else(|| {
                errors.push(
                    "status",
                    "must be one of pending, paid, shipped, completed, cancelled",
                );
                None
            })
        });
        let is_paid = q.bool("isPaid")?;
        let mut time = |name: &str| {
            q.get(name).and_then(|s| match Timestamp::parse(s) {
                Ok(t) => Some(t),
                Err(e) => {
                    errors.push(name, e);
                    None
                }
            })
        };
        let from = time("from");
        let to = time("to");
        let account = q.get("userId").and_then(|s| match Id::parse(s) {
            Ok(id) => Some(id),
            Err(e) => {
                errors.push("userId", e);
                None
            }
        });
        let search = q.get("q").and_then(|s| match order::parse_order_query(s) {
            Ok(s) => Some(s),
            Err(e) => {
                errors.push("q", e);
                None
            }
        });
        Ok(OrdersQuery(
            OrderFilter {
                status,
                is_paid,
                from,
                to,
                account,
                q: search,
            },
            page,
        ))
    }

    fn describe(inputs: &mut Inputs) {
        inputs.query.push(query_param(
            "status",
            "Only orders in this status",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(
                    crate::domain::order::OrderStatus::ALL.map(|s| s.as_str()),
                )),
        ));
        inputs.query.push(query_param(
            "isPaid",
            "Only paid (true) or unpaid (false) orders",
            ObjectBuilder::new().schema_type(Type::Boolean),
        ));
        for (name, what) in [
            ("from", "Created at or after (RFC 3339, years 1000–8999)"),
            ("to", "Created before (RFC 3339, years 1000–8999)"),
        ] {
            inputs.query.push(query_param(
                name,
                what,
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::DateTime,
                    )))
                    .pattern(Some(patterns::DATE_TIME_YEAR)),
            ));
        }
        inputs.query.push(query_param(
            "userId",
            "Only this account's orders",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(patterns::ID)),
        ));
        inputs.query.push(query_param(
            "q",
            "An order number (1042 or #1042) or part of the email",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(254))
                .pattern(Some(patterns::TEXT_LINE)),
        ));
        inputs.query.extend(page_params());
    }
}

/// The raw body of a webhook (its signature covers the exact bytes).
pub(crate) struct WebhookBody(pub web::Bytes);

impl FromRequest for WebhookBody {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload);
        Box::pin(async move {
            let payload = payload
                .await
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("taking the body: {e}")))?;
            let limit = req
                .app_data::<web::Data<ApiState>>()
                .map_or(64 * 1024, |s| s.http.body_limit);
            let bytes = crate::api::extract::body::read_body(&req, payload, limit).await?;
            Ok(WebhookBody(bytes))
        })
    }
}

// ---- carts ----------------------------------------------------------------------------------

/// Whose cart a request is about: a signed-in account's, or the guest's
/// behind `X-Cart-Token` (none when a guest sends no token).
pub(crate) struct ShopperCart {
    /// The cart's owner; `None` for a guest without a token.
    pub owner: Option<CartOwner>,
    /// The signed-in account, if any.
    pub account: Option<crate::domain::Id>,
    /// The guest's token, echoed on cart answers (`None` for accounts).
    pub guest_token: Option<String>,
}

impl ShopperCart {
    fn of(p: &Principal, token: Option<String>) -> ShopperCart {
        match p {
            Principal::Account { id, .. } => ShopperCart {
                owner: Some(CartOwner::Account(id.clone())),
                account: Some(id.clone()),
                guest_token: None,
            },
            _ => ShopperCart {
                owner: token.as_deref().map(guest),
                account: None,
                guest_token: token,
            },
        }
    }

    /// This cart as the server knows it: a guest's token that names no
    /// cart (one the server never issued, or of a cart gone since) is
    /// dropped, so a client cannot choose its own cart token — the next
    /// cart gets one the server makes.
    pub async fn known(self, orders: &crate::orders::Orders) -> Result<ShopperCart, ApiError> {
        match &self.owner {
            Some(owner @ CartOwner::Guest(_)) if !orders.has_cart(owner)? => Ok(ShopperCart {
                owner: None,
                account: None,
                guest_token: None,
            }),
            _ => Ok(self),
        }
    }

    /// The cart, which must exist (404 for a guest without a token).
    pub(crate) fn existing(&self) -> Result<&CartOwner, ApiError> {
        self.owner
            .as_ref()
            .ok_or_else(|| ApiError::NotFound("there is no cart: add an item first".into()))
    }

    /// The cart, made for a guest without one (a fresh token, which the
    /// answer hands back).
    pub(crate) fn or_new(mut self) -> (CartOwner, ShopperCart) {
        if self.owner.is_none() {
            self = ShopperCart::of(
                &Principal::Anonymous,
                Some(crate::accounts::tokens::random_secret()),
            );
        }
        let owner = self.owner.clone().expect("a cart owner was just made");
        (owner, self)
    }
}

impl FromRequest for ShopperCart {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let principal = req
            .extensions()
            .get::<Principal>()
            .cloned()
            .unwrap_or(Principal::Anonymous);
        ready(cart_token(req).map(|token| ShopperCart::of(&principal, token)))
    }
}

impl Describe for ShopperCart {
    fn describe(inputs: &mut Inputs) {
        CartToken::describe(inputs);
    }
}

impl Describe for CartToken {
    fn describe(inputs: &mut Inputs) {
        let mut p = header_param(
            "X-Cart-Token",
            "A guest's cart: the token an earlier cart answer gave (signed-in accounts need none); \
             one no cart has is an empty cart",
        );
        p.schema = Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(patterns::CART_TOKEN))
                .into(),
        );
        inputs.headers.push(p);
    }
}

impl Describe for IdempotencyKey {
    fn describe(inputs: &mut Inputs) {
        let mut p = header_param(
            "Idempotency-Key",
            "Unique per order attempt (e.g. a UUID); a retry with the same key and body answers the same order",
        );
        p.required = Required::True;
        p.schema = Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some(patterns::IDEMPOTENCY_KEY))
                .into(),
        );
        inputs.headers.push(p);
    }
}

impl Describe for WebhookBody {
    fn describe(inputs: &mut Inputs) {
        inputs.body = Some(Schemas::of::<PaymentEventBody>);
        inputs.headers.push(header_param(
            "X-Payment-Signature",
            "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\" with the webhook secret>",
        ));
    }
}
