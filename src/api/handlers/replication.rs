//! The leader's replication routes, which followers (and `shopd backup
//! create --from`) call: snapshots, their parts, and change batches.

use crate::api::error::ApiError;
use crate::api::state::ApiState;
use actix_web::HttpResponse;
use actix_web::web;
use serde::Deserialize;

/// `GET /replication/snapshot`: the manifest of a snapshot to bootstrap
/// from (made now, or the latest while the log still reaches it).
pub(crate) async fn snapshot(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let manifest = state.services.replication.snapshot().await?;
    Ok(HttpResponse::Ok().json(manifest))
}

/// `GET /replication/snapshot/{position}/{part}`: one part's bytes.
pub(crate) async fn snapshot_part(
    state: web::Data<ApiState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (position, name) = path.into_inner();
    // Read here, not by actix's path extractor: a position that is not one
    // answers the error envelope like every other refusal.
    let position: u64 = position
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no snapshot at position '{position}'")))?;
    let bytes = state
        .services
        .replication
        .snapshot_part(position, &name)
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body(bytes))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangesQuery {
    since: u64,
    max_bytes: Option<usize>,
}

/// `GET /replication/changes?since=P&maxBytes=N`: the commits after `P`
/// (410 when the log no longer reaches back to `P`, 409 when `P` is ahead).
pub(crate) async fn changes(
    state: web::Data<ApiState>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query: ChangesQuery =
        serde_urlencoded::from_str(req.query_string()).map_err(|e| ApiError::BadRequest {
            code: "invalid_query",
            message: format!("since must be a position (and maxBytes a byte count): {e}"),
        })?;
    let max = query.max_bytes.unwrap_or(8 << 20).clamp(1 << 10, 64 << 20);
    let replication = &state.services.replication;
    if let Some(peer) = req.peer_addr() {
        replication.note_follower(peer.to_string(), query.since);
    }
    let body = replication.changes_since(query.since, max)?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body(body))
}
