//! Counters behind `GET /metrics` (Prometheus text format 0.0.4): requests
//! by route pattern and status, cache hits and misses by kind, and SQL
//! statements executed (the plans' "database queries per request" is
//! `baseline_storage_lookups_total / baseline_http_requests_total`).
//!
//! Plain atomics only: no lock and no allocation on the request path (the
//! route is found by the resource's name, set to its pattern in
//! `routes.rs`, among the fixed [`ROUTES`]), no metrics crate, so the
//! counters cost a few nanoseconds and add nothing to the build.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a cached answer is, for the cache counters (and its TTL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    List,
    Detail,
    Reviews,
    Brands,
    Categories,
    Search,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::List,
        Kind::Detail,
        Kind::Reviews,
        Kind::Brands,
        Kind::Categories,
        Kind::Search,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::List => "list",
            Kind::Detail => "detail",
            Kind::Reviews => "reviews",
            Kind::Brands => "brands",
            Kind::Categories => "categories",
            Kind::Search => "search",
        }
    }
}

/// Every route pattern, as the resource names in `routes.rs` spell them;
/// the last one counts requests that matched none.
pub const ROUTES: [&str; 20] = [
    "/health",
    "/ready",
    "/metrics",
    "/api/v1/search",
    "/api/v1/products",
    "/api/v1/products/{id}",
    "/api/v1/products/{id}/reviews",
    "/api/v1/brands",
    "/api/v1/brands/{id}",
    "/api/v1/categories",
    "/api/v1/categories/{id}",
    "/api/v1/cart",
    "/api/v1/cart/items",
    "/api/v1/checkout",
    "/api/v1/admin/discount-codes",
    "/api/v1/admin/orders/{id}",
    "/api/v1/media",
    "/api/v1/media/{id}",
    "/media/{id}/{file}",
    "unmatched",
];

/// Status codes 100..=599, one counter each.
const STATUSES: usize = 500;

pub struct Metrics {
    /// Responses by route (index in [`ROUTES`]) and status (code − 100).
    requests: Box<[[AtomicU64; STATUSES]; ROUTES.len()]>,
    hits: [AtomicU64; Kind::ALL.len()],
    misses: [AtomicU64; Kind::ALL.len()],
    cache_errors: AtomicU64,
    statements: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            requests: Box::new(std::array::from_fn(|_| {
                std::array::from_fn(|_| AtomicU64::new(0))
            })),
            hits: Default::default(),
            misses: Default::default(),
            cache_errors: AtomicU64::new(0),
            statements: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    pub fn cache_hit(&self, kind: Kind) {
        self.hits[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn cache_miss(&self, kind: Kind) {
        self.misses[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn cache_error(&self) {
        self.cache_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// One SQL statement sent to PostgreSQL.
    pub fn statement(&self) {
        self.statements.fetch_add(1, Ordering::Relaxed);
    }

    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    fn request(&self, route: usize, status: u16) {
        let code = (status as usize).clamp(100, 100 + STATUSES - 1) - 100;
        self.requests[route][code].fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition, with pool gauges from `pool`.
    pub fn render(&self, pool: PoolGauges, cache_enabled: bool) -> String {
        let mut out = String::with_capacity(4096);
        let mut counter = |name: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        };
        counter(
            "baseline_http_requests_total",
            "HTTP responses by route pattern and status.",
        );
        for (route, counts) in ROUTES.iter().zip(self.requests.iter()) {
            for (code, n) in counts.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "baseline_http_requests_total{{route=\"{}\",status=\"{}\"}} {n}",
                        escape(route),
                        code + 100
                    );
                }
            }
        }
        for (name, help, values) in [
            (
                "baseline_cache_hits_total",
                "Answers served from Redis, by kind.",
                &self.hits,
            ),
            (
                "baseline_cache_misses_total",
                "Answers computed from PostgreSQL and stored in Redis, by kind.",
                &self.misses,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for k in Kind::ALL {
                let _ = writeln!(
                    out,
                    "{name}{{kind=\"{}\"}} {}",
                    k.label(),
                    values[k as usize].load(Ordering::Relaxed)
                );
            }
        }
        let scalars = [
            (
                "baseline_cache_errors_total",
                "counter",
                "Redis calls that failed (the request fell back to PostgreSQL).",
                self.cache_errors.load(Ordering::Relaxed),
            ),
            (
                "baseline_storage_lookups_total",
                "counter",
                "SQL statements sent to PostgreSQL (BEGIN and COMMIT included).",
                self.statements(),
            ),
            (
                "baseline_cache_enabled",
                "gauge",
                "1 when answers are cached in Redis.",
                cache_enabled as u64,
            ),
            (
                "baseline_pool_connections",
                "gauge",
                "PostgreSQL connections open in the pool.",
                pool.size as u64,
            ),
            (
                "baseline_pool_idle_connections",
                "gauge",
                "Open connections not in use.",
                pool.idle as u64,
            ),
            (
                "baseline_pool_max_connections",
                "gauge",
                "The pool's size limit.",
                pool.max as u64,
            ),
        ];
        for (name, kind, help, v) in scalars {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }
        out
    }
}

/// A snapshot of the connection pool.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolGauges {
    pub size: usize,
    pub idle: usize,
    pub max: usize,
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Counts every response by the route pattern it matched (`unmatched` for
/// none, so random paths add no series).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    // `match_name` borrows the resource's name; `match_pattern` would
    // build a String per request.
    let unmatched = ROUTES.len() - 1;
    let route = req
        .match_name()
        .and_then(|name| ROUTES.iter().position(|r| *r == name))
        .unwrap_or(unmatched);
    let res = next.call(req).await?;
    if let Some(m) = metrics {
        m.request(route, res.status().as_u16());
    }
    Ok(res)
}
