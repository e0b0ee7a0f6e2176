//! Per-server HTTP settings shared by all workers.

use crate::configuration::Secret;

#[derive(Debug, Clone)]
pub struct ApiState {
    /// `None`: admin writes are disabled.
    pub admin_token: Option<Secret>,
    pub body_limit: usize,
    /// The body `GET /bench/ceiling` returns, when that route is on.
    pub ceiling: Option<bytes::Bytes>,
}
