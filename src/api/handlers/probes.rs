//! Liveness and readiness probes.

use crate::api::dto::probes::Checks;
use crate::api::dto::probes::Health;
use crate::api::dto::probes::Readiness;
use crate::api::state::ApiState;
use crate::catalog::SearchStatus as Status;
use actix_web::HttpResponse;
use actix_web::web;

fn mail_check(state: &ApiState) -> String {
    let mailer = state.services.jobs.mailer();
    match mailer.breaker_state() {
        crate::breaker::BreakerState::Closed => format!("ok ({})", mailer.describe()),
        s => format!(
            "degraded: the mail transport's circuit is {} after repeated failures ({}); mail waits in the queue",
            s.as_str().replace('_', "-"),
            mailer.describe()
        ),
    }
}

/// `GET /health`: the process is up and serving HTTP.
pub(crate) async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// `GET /ready`: storage answers reads and search can answer queries (a
/// rebuild that still serves the previous index counts as ready, and says
/// so). 503 with the reasons otherwise.
pub(crate) async fn ready(state: web::Data<ApiState>) -> HttpResponse {
    let catalog = &state.services.catalog;
    let (storage_ok, storage) = match catalog.check_ready() {
        Ok(()) => (true, "ok".to_string()),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "storage readiness check failed");
            (false, e.to_string())
        }
    };
    let (search_ok, search) = match catalog.search_index().map(|i| i.status()) {
        None => (true, "disabled".to_string()),
        Some(Status::Ready) => (true, "ok".to_string()),
        Some(Status::Rebuilding {
            serving_previous: true,
        }) => (true, "rebuilding (serving the previous index)".to_string()),
        Some(Status::Rebuilding {
            serving_previous: false,
        }) => (false, "rebuilding".to_string()),
        Some(Status::Unavailable(e)) => (false, format!("unavailable: {e}")),
    };
    let replication = &state.services.replication;
    let (replication_ok, replication) = match replication.follower() {
        Some(f) => match f.readiness() {
            Ok(ms) => (true, format!("ok ({ms} ms behind {})", f.leader)),
            Err(why) => (false, why),
        },
        None if replication.serves_followers() => (true, "leader".to_string()),
        None => (true, "off".to_string()),
    };
    let ok = storage_ok && search_ok && replication_ok;
    let body = Readiness {
        status: if ok { "ready" } else { "unavailable" },
        checks: Checks {
            storage,
            search,
            mail: mail_check(&state),
            replication,
            files: state
                .data_dir
                .exposure()
                .map_or_else(|| "ok".to_string(), |why| format!("warning: {why}")),
        },
    };
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
