//! What runs around every request, outermost first as `startup` stacks it:
//! [`metrics`], [`request_id`], [`request_limits`], [`replication`],
//! [`security_headers`], [`cors`], [`compression`], [`http_cache`]; and
//! around each limited route, its [`access`] check and then its
//! [`rate_limit`].

pub(crate) mod access;
pub mod compression;
pub(crate) mod cors;
pub mod http_cache;
pub(crate) mod metrics;
pub(crate) mod rate_limit;
pub(crate) mod replication;
pub mod request_id;
pub(crate) mod request_limits;
pub mod security_headers;
