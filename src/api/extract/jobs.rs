//! The job queue's query parameters (the admin's job list).

use crate::api::error::ApiError;
use crate::api::extract::query::{Query, QueryParams};
use crate::api::openapi::describe::Inputs;
use crate::api::openapi::describe::page_params;
use crate::api::openapi::describe::query_param;
use crate::domain::FieldErrors;
use crate::domain::job::JobFilter;
use crate::domain::listing::PageRequest;
use crate::jobs::parse_state;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::schema::Type;

/// `queue`, `state`, `kind`, `page`, `limit` of `GET /admin/jobs`.
pub(crate) struct JobsQuery(pub JobFilter, pub PageRequest);

/// Longest `kind` filter accepted.
const MAX_KIND: usize = 64;

impl QueryParams for JobsQuery {
    fn read(q: &Query, errors: &mut FieldErrors) -> Result<Self, ApiError> {
        let page = q.page(errors)?;
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
        Ok(JobsQuery(JobFilter { queue, state, kind }, page))
    }

    fn describe(inputs: &mut Inputs) {
        let text = |name, description| {
            query_param(
                name,
                description,
                ObjectBuilder::new().schema_type(Type::String),
            )
        };
        inputs.query.push(text(
            "queue",
            "Only this queue (emails, notifications, maintenance, media)",
        ));
        inputs.query.push(query_param(
            "state",
            "Only jobs in this state",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(crate::domain::job::JobState::ALL.map(|s| s.as_str()))),
        ));
        inputs.query.push(query_param(
            "kind",
            "Only jobs of this kind (email, prune, noop)",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(64)),
        ));
        inputs.query.extend(page_params());
    }
}
