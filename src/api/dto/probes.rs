//! The probes' answers: liveness and readiness with its checks.

use serde::Serialize;
use utoipa::ToSchema;

/// `GET /health`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    pub(crate) status: &'static str,
}

/// `GET /ready`, 200 or 503.
#[derive(Serialize, ToSchema)]
pub(crate) struct Readiness {
    #[schema(value_type = String, examples("ready", "unavailable"))]
    pub(crate) status: &'static str,
    pub(crate) checks: Checks,
}

/// Each dependency: `ok`, or what is wrong with it.
#[derive(Serialize, ToSchema)]
pub(crate) struct Checks {
    pub(crate) storage: String,
    /// `ok`, `disabled`, `rebuilding (serving the previous index)`, `rebuilding`, `unavailable: …`.
    pub(crate) search: String,
    /// `ok (smtp host:587 (starttls))`, `ok (files in …)`, or `degraded: …`
    /// while the mail circuit is open. Never makes the process unready:
    /// the shop still sells, and mail waits in the queue.
    pub(crate) mail: String,
    /// `leader` (serving followers), `off`, or on a follower
    /// `ok (N ms behind …)` / why it is not ready: never caught up, or
    /// further behind than `--follow-max-lag` (the leader down).
    pub(crate) replication: String,
    /// `ok`, or a warning that the data dir is readable by group or others
    /// (its mode and the command that fixes it). Never makes the process
    /// unready.
    pub(crate) files: String,
}
