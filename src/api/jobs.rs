//! `/api/v1/admin/jobs…` and `/api/v1/admin/notifications/test`: the job
//! queue's admin API.

use super::error::ApiError;
use super::extract::{Body, Input, Query};
use super::state::ApiState;
use crate::domain::FieldErrors;
use crate::domain::job::JobFilter;
use crate::domain::job::{Job, JobState};
use crate::domain::listing::{PageMeta, PageRequest};
use crate::jobs::mail::EmailJob;
use crate::jobs::{QueueStats, parse_state};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::future::{Ready, ready};
use utoipa::ToSchema;

/// A job as the admin API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobView {
    id: u64,
    queue: String,
    kind: String,
    /// The job's input, as enqueued.
    #[schema(value_type = Object)]
    payload: Value,
    #[schema(value_type = String, examples("queued", "running", "done", "failed", "dead"))]
    state: JobState,
    /// Attempts started so far.
    attempts: u32,
    max_attempts: u32,
    /// Not run before this time (RFC 3339).
    run_at: String,
    /// While running: taken again by any worker after this time.
    lease_until: Option<String>,
    last_error: Option<String>,
    created_at: String,
    finished_at: Option<String>,
    unique_key: Option<String>,
}

impl From<Job> for JobView {
    fn from(j: Job) -> Self {
        JobView {
            id: j.id,
            payload: redacted(&j.payload),
            queue: j.queue,
            kind: j.kind,
            state: j.state,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: j.run_at.to_string(),
            lease_until: j.lease_until.map(|t| t.to_string()),
            last_error: j.last_error,
            created_at: j.created_at.to_string(),
            finished_at: j.finished_at.map(|t| t.to_string()),
            unique_key: j.unique_key,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct JobPage {
    data: Vec<JobView>,
    meta: PageMeta,
}

#[derive(Serialize)]
pub(crate) struct JobAnswer {
    data: JobView,
}

/// One queue's figures.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueueStatsView {
    queue: String,
    queued: u64,
    running: u64,
    done: u64,
    failed: u64,
    dead: u64,
    /// Attempts that ended well, ever.
    processed_total: u64,
    /// Attempts that failed (retried or dead), ever.
    failed_total: u64,
    /// Seconds the oldest due job has waited (0 when none is due).
    oldest_due_age_secs: f64,
}

impl From<QueueStats> for QueueStatsView {
    fn from(q: QueueStats) -> Self {
        QueueStatsView {
            queue: q.queue,
            queued: q.counts.queued,
            running: q.counts.running,
            done: q.counts.done,
            failed: q.counts.failed,
            dead: q.counts.dead,
            processed_total: q.counts.processed_total,
            failed_total: q.counts.failed_total,
            oldest_due_age_secs: q.oldest_due_age_secs,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobStats {
    data: Vec<QueueStatsView>,
    /// Where mail goes (no credentials), e.g. `smtp mail.example.com:587 (starttls)`.
    mail_transport: String,
    /// The mail circuit breaker.
    #[schema(value_type = String, examples("closed", "open", "half_open"))]
    mail_breaker: &'static str,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Enqueued {
    job_id: u64,
}

#[derive(Serialize)]
pub(crate) struct EnqueuedAnswer {
    data: Enqueued,
}

/// `queue`, `state`, `kind`, `page`, `limit` of `GET /admin/jobs`.
pub(crate) struct JobsQuery(pub JobFilter, pub PageRequest);

/// Longest `kind` filter accepted.
const MAX_KIND: usize = 64;

impl FromRequest for JobsQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let q = Query::parse(req)?;
            let mut errors = FieldErrors::new();
            let page = q.page(&mut errors)?;
            let queue = q.get("queue").map(str::to_string);
            let state = match q.get("state") {
                None => None,
                Some(s) => match parse_state(s) {
                    Some(s) => Some(s),
                    None => {
                        errors.push(
                            "state",
                            "must be one of queued, running, done, failed, dead",
                        );
                        None
                    }
                },
            };
            let kind = q.get("kind").map(str::to_string);
            if kind.as_ref().is_some_and(|k| k.chars().count() > MAX_KIND) {
                errors.push("kind", format!("must be at most {MAX_KIND} characters"));
            }
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            Ok(JobsQuery(JobFilter { queue, state, kind }, page))
        })())
    }
}

/// Longest subject or message of a test mail.
const MAX_TEST_TEXT: usize = 2_000;

/// `POST /admin/notifications/test`: where to send a test message.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"to": "owner@example.com"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct TestMail {
    /// The address to send to.
    #[schema(max_length = 254)]
    to: String,
    #[schema(required = false, max_length = 2000)]
    subject: String,
    #[schema(required = false, max_length = 2000)]
    message: String,
}

impl Input for TestMail {
    type Parsed = Result<EmailJob, FieldErrors>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        let mut errors = FieldErrors::new();
        for key in body.keys() {
            if !["to", "subject", "message"].contains(&key.as_str()) {
                errors.push(key.clone(), "is not a known field");
            }
        }
        let text = |name: &str, default: &str, errors: &mut FieldErrors| match body.get(name) {
            None => default.to_string(),
            Some(Value::String(s)) if s.chars().count() <= MAX_TEST_TEXT => s.clone(),
            Some(Value::String(_)) => {
                errors.push(name, format!("must be at most {MAX_TEST_TEXT} characters"));
                String::new()
            }
            Some(_) => {
                errors.push(name, "must be a string");
                String::new()
            }
        };
        let to = match body.get("to") {
            None => {
                errors.push("to", "is required");
                String::new()
            }
            Some(Value::String(s)) if s.len() <= 254 && s.parse::<lettre::Address>().is_ok() => {
                s.clone()
            }
            Some(_) => {
                errors.push("to", "must be an email address");
                String::new()
            }
        };
        let subject = text("subject", "shopd test message", &mut errors);
        let message = text(
            "message",
            "This is a test message from shopd: mail delivery works.",
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut vars = Map::new();
        vars.insert("subject".into(), subject.into());
        vars.insert("message".into(), message.into());
        Ok(EmailJob {
            template: "notification".into(),
            to,
            vars,
            secret: Default::default(),
        })
    }
}

/// A job's payload as staff may see it: an email's `secret` values (links
/// with single-use tokens) are replaced by `"[redacted]"`.
fn redacted(payload: &str) -> Value {
    let mut v: Value = serde_json::from_str(payload).unwrap_or(Value::String(payload.into()));
    if let Some(Value::Object(secret)) = v.get_mut("secret") {
        for value in secret.values_mut() {
            *value = Value::String("[redacted]".into());
        }
    }
    v
}

fn job_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("no job {raw}")))
}

fn json<T: Serialize>(status: actix_web::http::StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status).json(body)
}

pub(crate) async fn list(
    state: web::Data<ApiState>,
    JobsQuery(filter, page): JobsQuery,
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
