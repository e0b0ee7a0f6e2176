//! What runs around every request, outermost first as `startup` stacks it:
//! [`metrics`], [`request_id`], [`request_limits`], [`replication`],
//! [`security_headers`], [`cors`], [`compression`], [`http_cache`]; and
//! around each limited route, its [`access`] check and then its
//! [`rate_limit`].

pub mod access;
pub mod compression;
pub mod cors;
pub mod http_cache;
pub mod metrics;
pub mod rate_limit;
pub mod replication;
pub mod request_id;
pub mod request_limits;
pub mod security_headers;
