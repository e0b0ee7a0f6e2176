//! The replication layer: every response's position (`X-Generation`), a
//! follower's redirects and refusals of writes, and `X-Min-Generation`
//! waits (see the module docs of `handlers::replication` for the routes).
//! Replication over HTTP: the leader's routes that followers call, and
//! the layer that gives every response its position and makes a follower
//! read-only.
//!
//! # Headers
//! - `X-Generation` on every response: the position of the data the
//!   answer reflects (on a leader's acknowledged write, at least the
//!   write's commit).
//! - `X-Replica-Lag-Ms` on a follower's responses: how old its data may
//!   be (see `replication::follower`).
//! - `X-Min-Generation: G` on a request: a follower waits up to 1 s to
//!   reach `G`, then answers `503 replica_behind` with `Retry-After` —
//!   read-your-writes across nodes without sticky sessions. A leader has
//!   every generation it ever answered, so it ignores the header (else any
//!   client could hold a request for a second with a future `G`); so do
//!   the probes and the replication routes, on any node.
//! - On a follower every method but GET/HEAD/OPTIONS answers `307` to the
//!   same path and query on the leader (or `503 read_only`).

use crate::api::error::ApiError;
use crate::api::state::ApiState;
use crate::config::replication::FollowerWrites;
use actix_web::Error;
use actix_web::HttpResponse;
use actix_web::ResponseError;
use actix_web::body::EitherBody;
use actix_web::body::MessageBody;
use actix_web::dev::ServiceRequest;
use actix_web::dev::ServiceResponse;
use actix_web::http::Method;
use actix_web::http::header::HeaderName;
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;
use actix_web::web;
use std::time::Duration;

pub(crate) const GENERATION: &str = "x-generation";

pub(crate) const MIN_GENERATION: &str = "x-min-generation";

pub(crate) const LAG: &str = "x-replica-lag-ms";

/// How long a request waits for the generation it asks for.
const MIN_GENERATION_WAIT: Duration = Duration::from_secs(1);

/// The layer described in the module docs (outside the routes, inside the
/// metrics and request-id layers).
pub(crate) async fn layer(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, Error> {
    let Some(state) = req.app_data::<web::Data<ApiState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let replication = &state.services.replication;
    let follower = replication.follower().cloned();
    let reads = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let replication_route = req.path().starts_with("/replication/");
    if let Some(f) = &follower
        && !reads
        && !replication_route
    {
        let res = match replication.settings().follower_writes {
            FollowerWrites::Redirect => {
                let target = format!(
                    "{}{}",
                    f.leader,
                    req.uri()
                        .path_and_query()
                        .map_or(req.path(), |p| p.as_str())
                );
                HttpResponse::TemporaryRedirect()
                    .insert_header((actix_web::http::header::LOCATION, target))
                    .finish()
            }
            FollowerWrites::Reject => ApiError::Unavailable {
                code: "read_only",
                message: format!(
                    "this server is a read-only follower; send writes to the leader {}",
                    f.leader
                ),
                retry_after_secs: 1,
            }
            .error_response(),
        };
        return Ok(with_headers(req.into_response(res), &state).map_into_right_body());
    }
    let probe = matches!(req.path(), "/health" | "/ready" | "/metrics");
    if let Some(wanted) = req
        .headers()
        .get(MIN_GENERATION)
        .filter(|_| follower.is_some() && !probe && !replication_route)
        .and_then(|v| v.to_str().ok())
    {
        let Ok(wanted) = wanted.trim().parse::<u64>() else {
            let res = ApiError::BadRequest {
                code: "invalid_header",
                message: "X-Min-Generation must be a non-negative integer (an X-Generation this shop returned)".into(),
            }
            .error_response();
            return Ok(with_headers(req.into_response(res), &state).map_into_right_body());
        };
        if !replication.wait_for(wanted, MIN_GENERATION_WAIT).await {
            let res = ApiError::Unavailable {
                code: "replica_behind",
                message: format!(
                    "this server has generation {} and did not reach {wanted} within {} ms; retry, or read from the leader",
                    replication.position(),
                    MIN_GENERATION_WAIT.as_millis()
                ),
                retry_after_secs: 1,
            }
            .error_response();
            return Ok(with_headers(req.into_response(res), &state).map_into_right_body());
        }
    }
    let res = next.call(req).await?;
    Ok(with_headers(res, &state).map_into_left_body())
}

fn with_headers<B>(mut res: ServiceResponse<B>, state: &ApiState) -> ServiceResponse<B> {
    let replication = &state.services.replication;
    let headers = res.headers_mut();
    headers.insert(
        HeaderName::from_static(GENERATION),
        HeaderValue::from(replication.position()),
    );
    if let Some(lag) = replication.follower().and_then(|f| f.lag_ms()) {
        headers.insert(HeaderName::from_static(LAG), HeaderValue::from(lag));
    }
    res
}
