//! Jobs: counts per queue and state, and a list filtered as the API's
//! (`state`, `queue`, `kind`; dead and failed first by default) with each
//! job's last error, retry and discard.

use super::orders::{query_value, query_without_page};
use super::{AdminResult, Page, Posted, tidy_query, view};
use crate::api::dto::jobs::{JobView, QueueStatsView};
use crate::api::extract::jobs::JobsQuery;
use crate::api::extract::query::Params;
use crate::domain::job::JobState;
use actix_web::{FromRequest, HttpRequest, web};

/// `GET /admin/jobs`: without a `state`, the dead jobs.
pub(crate) async fn page(page: Page, req: HttpRequest) -> AdminResult {
    if let Some(tidier) = tidy_query(&req) {
        return Ok(tidier);
    }
    let Params(JobsQuery(mut filter, paging)) = Params::<JobsQuery>::extract(&req).await?;
    let all_states = query_value(&req, "state") == "all";
    if filter.state.is_none() && !all_states {
        filter.state = Some(JobState::Dead);
    }
    let jobs = &page.services().jobs;
    let (found, total) = jobs.list(&filter, paging.offset() as usize, paging.limit() as usize)?;
    let stats: Vec<QueueStatsView> = jobs
        .stats()?
        .into_iter()
        .map(QueueStatsView::from)
        .collect();
    let found: Vec<JobView> = found.into_iter().map(JobView::from).collect();
    page.render(
        "jobs.html",
        minijinja::context! {
            stats => view(&stats),
            jobs => view(&found),
            meta => view(paging.meta(total)),
            state => filter.state.map_or("all", |s| s.as_str()),
            states => JobState::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            queue => query_value(&req, "queue"),
            query => query_without_page(&req),
        },
    )
}

/// The page a job action returns to (the list the form was on).
fn back(posted: &Posted) -> String {
    match posted.get("back") {
        Some(b) if b.starts_with("/admin/jobs") && !b.starts_with("//") => b.to_string(),
        _ => "/admin/jobs".to_string(),
    }
}

/// `POST /admin/jobs/{id}/retry`.
pub(crate) async fn retry(posted: Posted, id: web::Path<u64>) -> AdminResult {
    let to = back(&posted);
    let page = &posted.page;
    match page.services().jobs.retry(*id).await {
        Ok(j) => page.done(
            &to,
            format!("Job {} ({}) queued to run again.", j.id, j.kind),
        ),
        Err(e) => page.failed(&to, e),
    }
}

/// `POST /admin/jobs/{id}/discard`.
pub(crate) async fn discard(posted: Posted, id: web::Path<u64>) -> AdminResult {
    let to = back(&posted);
    let page = &posted.page;
    match page.services().jobs.discard(*id).await {
        Ok(()) => page.done(&to, format!("Job {} discarded.", *id)),
        Err(e) => page.failed(&to, e),
    }
}
