//! `/api/v1/admin/jobs…` and `/api/v1/admin/notifications/test`: the job
//! queue's admin API.

use crate::api::dto::jobs::Enqueued;
use crate::api::dto::jobs::EnqueuedAnswer;
use crate::api::dto::jobs::JobAnswer;
use crate::api::dto::jobs::JobPage;
use crate::api::dto::jobs::JobStats;
use crate::api::dto::jobs::JobView;
use crate::api::dto::jobs::QueueStatsView;
use crate::api::dto::jobs::TestMail;
use crate::api::error::ApiError;
use crate::api::extract::body::Body;
use crate::api::extract::jobs::JobsQuery;
use crate::api::extract::query::Params;
use crate::api::state::ApiState;
use actix_web::HttpResponse;
use actix_web::web;
use serde::Serialize;

pub(crate) fn job_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("no job {raw}")))
}

fn json<T: Serialize>(status: actix_web::http::StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status).json(body)
}

pub(crate) async fn list(
    state: web::Data<ApiState>,
    Params(JobsQuery(filter, page)): Params<JobsQuery>,
) -> Result<HttpResponse, ApiError> {
    let (jobs, total) =
        state
            .services
            .jobs
            .list(&filter, page.offset() as usize, page.limit() as usize)?;
    Ok(json(
        actix_web::http::StatusCode::OK,
        &JobPage {
            data: jobs.into_iter().map(JobView::from).collect(),
            meta: page.meta(total),
        },
    ))
}

pub(crate) async fn stats(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let jobs = &state.services.jobs;
    let data = jobs
        .stats()?
        .into_iter()
        .map(QueueStatsView::from)
        .collect();
    Ok(json(
        actix_web::http::StatusCode::OK,
        &JobStats {
            data,
            mail_transport: jobs.mailer().describe().to_string(),
            mail_breaker: jobs.mailer().breaker_state().as_str(),
        },
    ))
}

pub(crate) async fn detail(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = state.services.jobs.get(job_id(&id)?)?;
    Ok(json(
        actix_web::http::StatusCode::OK,
        &JobAnswer { data: job.into() },
    ))
}

pub(crate) async fn retry(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = state.services.jobs.retry(job_id(&id)?).await?;
    Ok(json(
        actix_web::http::StatusCode::OK,
        &JobAnswer { data: job.into() },
    ))
}

pub(crate) async fn discard(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.services.jobs.discard(job_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn test_mail(
    state: web::Data<ApiState>,
    Body(email, _): Body<TestMail>,
) -> Result<HttpResponse, ApiError> {
    let email = email.map_err(ApiError::validation)?;
    let jobs = &state.services.jobs;
    let job = jobs.new_job(
        crate::domain::job::NOTIFICATIONS,
        crate::jobs::KIND_EMAIL,
        &email,
    )?;
    let enqueued = jobs.enqueue(job).await?;
    Ok(json(
        actix_web::http::StatusCode::ACCEPTED,
        &EnqueuedAnswer {
            data: Enqueued {
                job_id: enqueued.id,
            },
        },
    ))
}
