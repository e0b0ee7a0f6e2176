//! The job queue over the wire: jobs (their secrets redacted), queue
//! statistics, and the test mail's body.

use crate::api::extract::body::Input;
use crate::domain::FieldErrors;
use crate::domain::job::Job;
use crate::domain::job::JobState;
use crate::domain::listing::PageMeta;
use crate::jobs::QueueStats;
use crate::jobs::mail::EmailJob;
use serde::Deserialize;
use serde::Serialize;
use serde_json::Map;
use serde_json::Value;
use utoipa::ToSchema;

/// A job as the admin API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobView {
    pub(crate) id: u64,
    pub(crate) queue: String,
    pub(crate) kind: String,
    /// The job's input, as enqueued.
    #[schema(value_type = Object)]
    pub(crate) payload: Value,
    #[schema(value_type = String, examples("queued", "running", "done", "failed", "dead"))]
    pub(crate) state: JobState,
    /// Attempts started so far.
    pub(crate) attempts: u32,
    pub(crate) max_attempts: u32,
    /// Not run before this time (RFC 3339).
    pub(crate) run_at: String,
    /// While running: taken again by any worker after this time.
    pub(crate) lease_until: Option<String>,
    pub(crate) last_error: Option<String>,
    pub(crate) created_at: String,
    pub(crate) finished_at: Option<String>,
    pub(crate) unique_key: Option<String>,
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
    pub(crate) data: Vec<JobView>,
    pub(crate) meta: PageMeta,
}

#[derive(Serialize)]
pub(crate) struct JobAnswer {
    pub(crate) data: JobView,
}

/// One queue's figures.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueueStatsView {
    pub(crate) queue: String,
    pub(crate) queued: u64,
    pub(crate) running: u64,
    pub(crate) done: u64,
    pub(crate) failed: u64,
    pub(crate) dead: u64,
    /// Attempts that ended well, ever.
    pub(crate) processed_total: u64,
    /// Attempts that failed (retried or dead), ever.
    pub(crate) failed_total: u64,
    /// Seconds the oldest due job has waited (0 when none is due).
    pub(crate) oldest_due_age_secs: f64,
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
    pub(crate) data: Vec<QueueStatsView>,
    /// Where mail goes (no credentials), e.g. `smtp mail.example.com:587 (starttls)`.
    pub(crate) mail_transport: String,
    /// The mail circuit breaker.
    #[schema(value_type = String, examples("closed", "open", "half_open"))]
    pub(crate) mail_breaker: &'static str,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Enqueued {
    pub(crate) job_id: u64,
}

#[derive(Serialize)]
pub(crate) struct EnqueuedAnswer {
    pub(crate) data: Enqueued,
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
    #[schema(format = Email, max_length = 254, pattern = r"^([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,31}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,32}|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,21}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,21})@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")]
    pub(crate) to: String,
    #[schema(required = false, max_length = 2000)]
    pub(crate) subject: String,
    #[schema(required = false, max_length = 2000)]
    pub(crate) message: String,
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
            sealed: None,
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
    if let Some(sealed) = v.get_mut("sealed") {
        *sealed = Value::String("[redacted]".into());
    }
    v
}
