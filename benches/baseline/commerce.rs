//! Handlers of the guest cart, checkout, discount codes and the staff order
//! detail (registered in `routes`): headers and body in, `carts` and
//! `orders` called, shopd's JSON out (`views`). After a checkout commits,
//! the ordered products' cache tags are invalidated, as product writes do.

use crate::carts::Carts;
use crate::orders::{self, Checkout};
use crate::routes::{State, invalidate_product};
use crate::views::{self, Data};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use shopd::api::error::ApiError;
use shopd::api::extract::{json_object, require_admin};
use shopd::api::state::HttpSettings;
use shopd::domain::FieldErrors;
use shopd::domain::cart::{Cart, CartError, CartItem, price, unit_price_cents};
use shopd::domain::discount::DiscountDraft;
use shopd::domain::order::CheckoutRequest;

const CART_TOKEN: HeaderName = HeaderName::from_static("x-cart-token");
const IDEMPOTENCY_KEY: &str = "idempotency-key";

fn header_str<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn cart_token(req: &HttpRequest) -> Option<&str> {
    header_str(req, CART_TOKEN.as_str()).filter(|t| Carts::well_formed(t))
}

fn with_token(mut res: HttpResponse, token: &str) -> HttpResponse {
    if let Ok(v) = HeaderValue::from_str(token) {
        res.headers_mut().insert(CART_TOKEN, v);
    }
    res
}

fn validation(field: &str, reason: impl Into<String>) -> ApiError {
    let mut e = FieldErrors::new();
    e.push(field, reason);
    ApiError::validation(e)
}

/// `POST /cart/items`: a product into the caller's cart (a new cart when the
/// request names none).
pub async fn add_item(
    req: HttpRequest,
    payload: web::Payload,
    settings: web::Data<HttpSettings>,
    s: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    let body = json_object(&req, payload, settings.body_limit).await?;
    let item = CartItem::parse(&body).map_err(ApiError::validation)?;
    let known = match cart_token(&req) {
        Some(t) => s.carts.load(t).await?.map(|c| (t.to_string(), c)),
        None => None,
    };
    let (token, mut cart) = known.unwrap_or_else(|| (Carts::new_token(), Cart::default()));
    let mut ids: Vec<&str> = cart.lines.iter().map(|l| l.product_id.as_str()).collect();
    ids.push(item.product_id.as_str());
    let client = s.db.conn().await?;
    let mut products = orders::products(&s.db.sql(&client), &ids).await?;
    drop(client);
    let product = products
        .get(item.product_id.as_str())
        .ok_or_else(|| crate::reads::not_found("product", item.product_id.as_str()))?;
    if !product.is_available {
        return Err(ApiError::Conflict {
            code: "unavailable",
            message: format!("product {} is not for sale", item.product_id),
        });
    }
    let unit = unit_price_cents(product);
    cart.add(item.product_id.clone(), item.quantity, unit)
        .map_err(|e| match e {
            CartError::TooManyLines => ApiError::Conflict {
                code: "cart_full",
                message: e.to_string(),
            },
            e => validation("quantity", e.to_string()),
        })?;
    let position = cart
        .lines
        .iter()
        .position(|l| l.product_id == item.product_id)
        .expect("the line was just added");
    s.carts
        .put_line(&token, position, &cart.lines[position])
        .await?;
    let priced = price(&cart, |id| products.remove(id));
    let res = shopd::api::json(views::to_vec(&Data {
        data: views::cart(&priced),
    }));
    Ok(with_token(res, &token))
}

/// `GET /cart`: the caller's cart priced now (an empty one when it has none).
pub async fn get_cart(req: HttpRequest, s: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let token = cart_token(&req);
    let cart = match token {
        Some(t) => s.carts.load(t).await?.unwrap_or_default(),
        None => Cart::default(),
    };
    let priced = if cart.is_empty() {
        Default::default()
    } else {
        orders::price_cart(&s.db, &cart).await?
    };
    let res = shopd::api::json(views::to_vec(&Data {
        data: views::cart(&priced),
    }));
    Ok(match token {
        Some(t) => with_token(res, t),
        None => res,
    })
}

/// The `Idempotency-Key` header: 1–255 visible ASCII characters.
fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let key = req
        .headers()
        .get(IDEMPOTENCY_KEY)
        .map(|v| v.as_bytes())
        .filter(|k| (1..=255).contains(&k.len()) && k.iter().all(u8::is_ascii_graphic));
    match key {
        // Visible ASCII is UTF-8.
        Some(k) => Ok(String::from_utf8_lossy(k).into_owned()),
        None => Err(ApiError::BadRequest {
            code: "idempotency_key_required",
            message:
                "checkout needs an 'Idempotency-Key' header of 1 to 255 visible ASCII characters"
                    .into(),
        }),
    }
}

/// The raw body (for its fingerprint) and the JSON object in it, with
/// `json_object`'s answers for a body too large or not an object.
async fn raw_object(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<(Vec<u8>, Map<String, Value>), ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let body = payload
        .to_bytes_limited(limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { limit })?
        .map_err(|e| ApiError::BadRequest {
            code: "bad_request",
            message: format!("could not read the request body: {e}"),
        })?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok((body.to_vec(), map)),
        Ok(_) => Err(ApiError::BadRequest {
            code: "malformed_json",
            message: "the request body must be a JSON object".into(),
        }),
        Err(e) => Err(ApiError::BadRequest {
            code: "malformed_json",
            message: format!("the request body is not valid JSON: {e}"),
        }),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `POST /checkout`.
pub async fn checkout(
    req: HttpRequest,
    payload: web::Payload,
    settings: web::Data<HttpSettings>,
    s: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let (raw, body) = raw_object(&req, payload, settings.body_limit).await?;
    let request = CheckoutRequest::parse(&body).map_err(ApiError::validation)?;
    let (email, address) = orders::guest_details(&request)?;
    let token = header_str(&req, CART_TOKEN.as_str()).map(str::to_string);
    let c = Checkout {
        caller: format!("g:{}", token.as_deref().unwrap_or_default()),
        key,
        body_hash: hex(&Sha256::digest(&raw)),
        request,
        email,
        address,
        token: token.filter(|t| Carts::well_formed(t)),
    };
    let placed = match orders::checkout(&s.db, &s.carts, s.charges, c).await {
        Ok(p) => p,
        Err(e) => return views::checkout_error(e),
    };
    if !placed.replayed {
        // The plans invalidate after the commit: stock shows in details and
        // lists.
        for l in &placed.order.lines {
            invalidate_product(&s.cache, l.product_id.as_str()).await;
        }
    }
    let mut res = HttpResponse::Created();
    res.content_type(header::ContentType::json());
    res.insert_header((
        header::LOCATION,
        format!("/api/v1/orders/{}", placed.order.id),
    ));
    if placed.replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(res.body(views::to_vec(&Data {
        data: views::order(&placed.order),
    })))
}

/// `POST /admin/discount-codes`.
pub async fn create_code(
    req: HttpRequest,
    payload: web::Payload,
    settings: web::Data<HttpSettings>,
    s: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &settings)?;
    let body = json_object(&req, payload, settings.body_limit).await?;
    let draft = DiscountDraft::parse(&body, true).map_err(ApiError::validation)?;
    let code = orders::create_code(&s.db, draft).await?;
    Ok(HttpResponse::Created()
        .content_type(header::ContentType::json())
        .insert_header((
            header::LOCATION,
            format!("/api/v1/admin/discount-codes/{}", code.code),
        ))
        .body(views::to_vec(&Data {
            data: views::discount(&code),
        })))
}

/// `GET /admin/orders/{id}`.
pub async fn order(
    req: HttpRequest,
    id: web::Path<String>,
    settings: web::Data<HttpSettings>,
    s: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &settings)?;
    let order = orders::order(&s.db, &id)
        .await?
        .ok_or_else(|| crate::reads::not_found("order", &id))?;
    Ok(shopd::api::json(views::to_vec(&Data {
        data: views::order(&order),
    })))
}
