//! The HTTP API under `/api/v1`, plus `/health` and `/ready`.
//!
//! Handlers parse and validate input into domain types ([`extract`] and the
//! domain parsers), call one catalogue use case, and wrap its JSON. Reads run
//! on the worker thread (they take microseconds); writes are queued to the
//! store's writer thread and awaited (group commit). Errors become responses
//! only in [`error`].

pub mod brands;
pub mod categories;
pub mod compression;
pub mod error;
pub mod extract;
pub mod health;
pub mod http_cache;
pub mod metrics;
pub mod products;
pub mod request_id;
pub mod search;
pub mod state;

use crate::catalog::Created;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use error::ApiError;
use state::ApiState;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health))
        .route("/ready", web::get().to(health::ready))
        .route("/metrics", web::get().to(metrics::metrics))
        .route("/bench/ceiling", web::get().to(ceiling))
        .service(
            web::scope("/api/v1")
                .service(
                    web::resource("/search")
                        .route(web::get().to(search::search))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/search/synonyms")
                        .route(web::get().to(search::get_synonyms))
                        .route(web::put().to(search::put_synonyms))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/search/analytics")
                        .route(web::get().to(search::analytics))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/products")
                        .route(web::get().to(products::list))
                        .route(web::post().to(products::create))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/products/{id}")
                        .route(web::get().to(products::detail))
                        .route(web::patch().to(products::update))
                        .route(web::delete().to(products::delete))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/products/{id}/reviews")
                        .route(web::get().to(products::reviews))
                        .route(web::post().to(products::create_review))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/brands")
                        .route(web::get().to(brands::list))
                        .route(web::post().to(brands::create))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/brands/{id}")
                        .route(web::get().to(brands::detail))
                        .route(web::patch().to(brands::update))
                        .route(web::delete().to(brands::delete))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/categories")
                        .route(web::get().to(categories::tree))
                        .route(web::post().to(categories::create))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/categories/{id}")
                        .route(web::get().to(categories::detail))
                        .route(web::patch().to(categories::update))
                        .route(web::delete().to(categories::delete))
                        .default_service(web::to(method_not_allowed)),
                ),
        );
}

/// The route pattern a path is served by, for metrics labels and caching
/// headers. Mirrors [`routes`] by splitting the path (without allocating):
/// asking the router again (`match_pattern`) would run its regexes a second
/// time per request.
pub fn route_label(path: &str) -> &'static str {
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return match path {
            "/health" => "/health",
            "/ready" => "/ready",
            "/metrics" => "/metrics",
            "/bench/ceiling" => "/bench/ceiling",
            _ => "unmatched",
        };
    };
    let mut parts = rest.split('/');
    let seg = [parts.next(), parts.next(), parts.next()];
    if parts.next().is_some() {
        return "unmatched";
    }
    let id = |s: Option<&str>| s.is_some_and(|s| !s.is_empty());
    match seg {
        [Some("search"), None, None] => "/api/v1/search",
        [Some("search"), Some("synonyms"), None] => "/api/v1/search/synonyms",
        [Some("search"), Some("analytics"), None] => "/api/v1/search/analytics",
        [Some("products"), None, None] => "/api/v1/products",
        [Some("products"), i, None] if id(i) => "/api/v1/products/{id}",
        [Some("products"), i, Some("reviews")] if id(i) => "/api/v1/products/{id}/reviews",
        [Some("brands"), None, None] => "/api/v1/brands",
        [Some("brands"), i, None] if id(i) => "/api/v1/brands/{id}",
        [Some("categories"), None, None] => "/api/v1/categories",
        [Some("categories"), i, None] if id(i) => "/api/v1/categories/{id}",
        _ => "unmatched",
    }
}

pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}

/// `GET /bench/ceiling`: a fixed, pre-rendered body the size of a product
/// detail, through the same middleware as every route; the load harness's
/// upper bound. 404 unless the server was started with `--bench-ceiling`.
async fn ceiling(req: HttpRequest, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    match &state.ceiling {
        Some(body) => Ok(json(body.clone())),
        None => not_found(req).await,
    }
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        req.method(),
        req.path()
    )))
}

/// `200 OK` with a rendered JSON body (owned or shared from the cache).
pub fn json(body: impl actix_web::body::MessageBody + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(body)
}

/// `201 Created` with `Location`.
pub fn created(location: String, c: Created) -> HttpResponse {
    HttpResponse::Created()
        .content_type(header::ContentType::json())
        .insert_header((header::LOCATION, location))
        .body(c.body)
}
