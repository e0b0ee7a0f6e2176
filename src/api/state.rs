//! What every handler and extractor shares, registered once as
//! `web::Data<ApiState>`: the services the API calls, the HTTP settings and
//! the rate limiters.

use crate::config::Secret;
use crate::services::Services;
use std::sync::Arc;

/// Handler state: the services, the per-server HTTP settings, the rate
/// limiters and where the data lives.
#[derive(Clone)]
pub(crate) struct ApiState {
    pub services: Services,
    pub http: HttpSettings,
    /// The data dir (`/ready` says when others than its owner may read it).
    pub data_dir: crate::config::DataDir,
    /// Shared by every worker: a quota is per client, not per thread.
    pub limits: Arc<crate::api::middleware::rate_limit::limiter::RateLimits>,
}

/// Per-server HTTP settings. Also used on its own by the Postgres-design
/// baseline (`benches/baseline`), which has no catalogue.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `None`: admin writes are disabled.
    pub admin_token: Option<Secret>,
    /// Largest request body accepted, in bytes (413 above).
    pub body_limit: usize,
    /// Request head size and slow-client limits (`api::request_limits`).
    pub limits: crate::config::http::HttpLimits,
    /// The body `GET /bench/ceiling` returns, when that route is on.
    pub ceiling: Option<bytes::Bytes>,
}
