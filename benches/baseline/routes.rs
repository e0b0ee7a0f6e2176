//! The HTTP routes: shopd's read API and admin product writes, each handler
//! being the plans' Hono route shape: parse and validate (with shopd's own
//! parsers and error envelope), then `getCached(key, fetcher, {ttl, tags})`
//! for reads, or write + `invalidateByTag` for writes.
//!
//! The route table mirrors shopd's, so unknown paths (404) and wrong methods
//! (405) answer the same. Guest carts, checkout, discount-code creation and
//! the staff order detail are handled in `commerce`. Brand, category and review writes, synonyms and
//! search analytics are not part of the baseline: their paths answer 405 or
//! 404.

use crate::cache::{Cache, Outcome};
use crate::carts::Carts;
use crate::commerce;
use crate::db::Db;
use crate::metrics::{Kind, Metrics};
use crate::{media, reads, search, writes};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use shopd::api::error::ApiError;
use shopd::api::extract::body::json_object;
use shopd::api::extract::catalog::list_query;
use shopd::api::extract::catalog::search_query;
use shopd::api::extract::principal::require_admin;
use shopd::api::extract::query::Query;
use shopd::api::state::HttpSettings;
use shopd::catalog::Created;
use shopd::domain::listing::{PageRequest, ProductFilter};
use shopd::domain::order::Charges;
use shopd::domain::product::ProductDraft;
use shopd::domain::{FieldErrors, InputMode};
use std::fmt::Write;
use std::future::Future;

/// What every handler uses.
pub struct State {
    pub db: Db,
    pub cache: Cache,
    pub carts: Carts,
    /// Shipping and tax of every order.
    pub charges: Charges,
}

/// Registers every route (paths as shopd's `api::routes::ROUTES`). Each
/// resource is named by its full pattern, one of `metrics::ROUTES`: the
/// request counter finds it by that name.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/health")
            .name("/health")
            .route(web::get().to(health)),
    )
    .service(
        web::resource("/ready")
            .name("/ready")
            .route(web::get().to(ready)),
    )
    .service(
        web::resource("/metrics")
            .name("/metrics")
            .route(web::get().to(metrics)),
    )
    .service(
        web::scope("/api/v1")
            .service(
                web::resource("/search")
                    .name("/api/v1/search")
                    .route(web::get().to(search))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/products")
                    .name("/api/v1/products")
                    .route(web::get().to(list))
                    .route(web::post().to(create))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/products/{id}")
                    .name("/api/v1/products/{id}")
                    .route(web::get().to(detail))
                    .route(web::patch().to(update))
                    .route(web::delete().to(delete))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/products/{id}/reviews")
                    .name("/api/v1/products/{id}/reviews")
                    .route(web::get().to(reviews))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/brands")
                    .name("/api/v1/brands")
                    .route(web::get().to(brands))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/brands/{id}")
                    .name("/api/v1/brands/{id}")
                    .route(web::get().to(brand))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/categories")
                    .name("/api/v1/categories")
                    .route(web::get().to(categories))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/categories/{id}")
                    .name("/api/v1/categories/{id}")
                    .route(web::get().to(category))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/cart")
                    .name("/api/v1/cart")
                    .route(web::get().to(commerce::get_cart))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/cart/items")
                    .name("/api/v1/cart/items")
                    .route(web::post().to(commerce::add_item))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/checkout")
                    .name("/api/v1/checkout")
                    .route(web::post().to(commerce::checkout))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/admin/discount-codes")
                    .name("/api/v1/admin/discount-codes")
                    .route(web::post().to(commerce::create_code))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/admin/orders/{id}")
                    .name("/api/v1/admin/orders/{id}")
                    .route(web::get().to(commerce::order))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/media")
                    .name("/api/v1/media")
                    .route(web::post().to(media::upload))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/media/{id}")
                    .name("/api/v1/media/{id}")
                    .route(web::get().to(media::detail))
                    .default_service(web::to(method_not_allowed)),
            ),
    )
    .service(
        web::resource("/media/{id}/{file}")
            .name("/media/{id}/{file}")
            .route(web::get().to(media::variant))
            .route(web::head().to(media::variant))
            .default_service(web::to(method_not_allowed)),
    );
}

/// shopd's 405 answer.
async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        req.method(),
        req.path()
    )))
}

/// A read through the cache, answered as shopd answers it, plus `X-Cache`.
async fn cached<F, Fut>(
    s: &State,
    kind: Kind,
    key: &str,
    tags: &[&str],
    fetch: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Vec<u8>, ApiError>>,
{
    let (body, outcome) = s.cache.get_or_set(kind, key, tags, fetch).await?;
    let mut res = shopd::api::dto::json(body);
    res.headers_mut().insert(
        HeaderName::from_static("x-cache"),
        HeaderValue::from_static(outcome.header()),
    );
    if outcome != Outcome::Bypass {
        res.headers_mut().insert(
            HeaderName::from_static("x-cache-ttl"),
            HeaderValue::from(kind.ttl_secs()),
        );
    }
    Ok(res)
}

/// The parts of a filter and page that decide a list or search answer, as a
/// cache key fragment (the plans key lists by `JSON.stringify(query)`).
fn filter_key(f: &ProductFilter, sort: &str, page: PageRequest) -> String {
    let mut k = format!("page={}&limit={}&sort={sort}", page.page(), page.limit());
    if f.matches_nothing {
        k.push_str("&nothing");
    }
    if let Some(c) = &f.category {
        let _ = write!(k, "&category={c}");
    }
    if let Some(b) = &f.brand {
        let _ = write!(k, "&brand={b}");
    }
    if let Some(a) = f.available {
        let _ = write!(k, "&isAvailable={a}");
    }
    if let Some(p) = f.min_price {
        let _ = write!(k, "&minPrice={}", p.cents());
    }
    if let Some(p) = f.max_price {
        let _ = write!(k, "&maxPrice={}", p.cents());
    }
    k
}

fn page_only(req: &HttpRequest) -> Result<PageRequest, ApiError> {
    let q = Query::parse(req)?;
    let mut errors = FieldErrors::new();
    let page = q.page(&mut errors)?;
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(page)
}

async fn list(req: HttpRequest, s: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let q = list_query(&Query::parse(&req)?)?;
    let key = format!(
        "products:list:{}",
        filter_key(&q.filter, q.sort.as_str(), q.page)
    );
    cached(&s, Kind::List, &key, &["products"], || {
        reads::list_products(&s.db, &q)
    })
    .await
}

async fn detail(id: web::Path<String>, s: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let key = format!("product:{id}");
    let tag = format!("product:{id}");
    cached(&s, Kind::Detail, &key, &["products", &tag], || {
        reads::product_detail(&s.db, &id)
    })
    .await
}

async fn reviews(
    req: HttpRequest,
    id: web::Path<String>,
    s: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    let page = page_only(&req)?;
    let key = format!(
        "product:{id}:reviews:page={}&limit={}",
        page.page(),
        page.limit()
    );
    let tag = format!("product:{id}");
    cached(&s, Kind::Reviews, &key, &["products", &tag], || {
        reads::product_reviews(&s.db, &id, page)
    })
    .await
}

async fn brands(req: HttpRequest, s: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let page = page_only(&req)?;
    let key = format!("brands:list:page={}&limit={}", page.page(), page.limit());
    cached(&s, Kind::Brands, &key, &["brands"], || {
        reads::list_brands(&s.db, page)
    })
    .await
}

async fn brand(id: web::Path<String>, s: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let key = format!("brand:{id}");
    cached(&s, Kind::Brands, &key, &["brands"], || {
        reads::brand(&s.db, &id)
    })
    .await
}

async fn categories(s: web::Data<State>) -> Result<HttpResponse, ApiError> {
    cached(
        &s,
        Kind::Categories,
        "categories:tree",
        &["categories"],
        || reads::category_tree(&s.db),
    )
    .await
}

async fn category(id: web::Path<String>, s: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let key = format!("category:{id}");
    cached(&s, Kind::Categories, &key, &["categories"], || {
        reads::category(&s.db, &id)
    })
    .await
}

async fn search(req: HttpRequest, s: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let q = search_query(&Query::parse(&req)?)?;
    // The answer depends on the query's words only, not on how they are spelt
    // between them.
    let key = format!(
        "search:q={}&{}",
        search::words(&q.text).join(" "),
        filter_key(&q.filter, q.sort.as_str(), q.page)
    );
    cached(&s, Kind::Search, &key, &["products"], || {
        search::search(&s.db, &q)
    })
    .await
}

async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<HttpSettings>,
    s: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let body = json_object(&req, payload, state.body_limit).await?;
    let draft = ProductDraft::parse(&body, InputMode::Create);
    let id = writes::create_product(&s.db, draft).await?;
    s.cache.invalidate_by_tag("products").await;
    let body = reads::product_detail(&s.db, &id).await?;
    Ok(shopd::api::dto::created(
        format!("/api/v1/products/{id}"),
        Created { id, body },
    ))
}

async fn update(
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<HttpSettings>,
    s: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let body = json_object(&req, payload, state.body_limit).await?;
    let draft = ProductDraft::parse(&body, InputMode::Patch);
    writes::update_product(&s.db, &id, draft).await?;
    invalidate_product(&s.cache, &id).await;
    Ok(shopd::api::dto::json(
        reads::product_detail(&s.db, &id).await?,
    ))
}

async fn delete(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<HttpSettings>,
    s: web::Data<State>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    writes::delete_product(&s.db, &id).await?;
    invalidate_product(&s.cache, &id).await;
    Ok(HttpResponse::NoContent().finish())
}

/// The plans' PATCH: `invalidateByTag('products')` and `product:{id}`.
pub async fn invalidate_product(cache: &Cache, id: &str) {
    let tag = format!("product:{id}");
    tokio::join!(
        cache.invalidate_by_tag("products"),
        cache.invalidate_by_tag(&tag),
    );
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /ready`: PostgreSQL answers a query and Redis a PING (when caching).
async fn ready(s: web::Data<State>) -> HttpResponse {
    let postgres = match s.db.conn().await {
        Ok(c) => match s.db.sql(&c).query_one("SELECT 1", &[]).await {
            Ok(_) => Ok(()),
            Err(e) => Err(format!("{e:#}")),
        },
        Err(e) => Err(format!("{e:#}")),
    };
    let redis = if s.cache.enabled() {
        s.cache.ping().await
    } else {
        Ok(())
    };
    let ok = postgres.is_ok() && redis.is_ok();
    let show = |r: Result<(), String>, off: bool| match r {
        _ if off => "disabled".to_string(),
        Ok(()) => "ok".to_string(),
        Err(e) => e,
    };
    let body = json!({
        "status": if ok { "ready" } else { "unavailable" },
        "checks": {
            "postgres": show(postgres, false),
            "redis": show(redis, !s.cache.enabled()),
        },
    });
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics(s: web::Data<State>, m: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4"))
        .body(m.render(s.db.gauges(), s.cache.enabled()))
}
