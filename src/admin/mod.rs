//! The shop's admin pages under `/admin`, served by this binary.
//!
//! Server-rendered HTML (minijinja templates compiled into the binary, with
//! HTML auto-escaping), one stylesheet and one script from
//! [`assets`]; no CDN, no inline script or style, so every page carries a
//! strict [`CSP`]. Pages are usable without the script; only the overview's
//! live charts need it.
//!
//! Who may see a page: [`Page`] (an extractor) signs the request in through
//! its session cookie ([`session`]) and sends anyone else to the sign-in
//! form; staff and admins see every page but the users page, which is
//! admin only. Every form posts a CSRF token that [`Posted`] checks before
//! the handler runs.
//!
//! The pages call the same services as the API, parse their forms with the
//! same domain parsers (so a bad price is refused with the same field error
//! as a bad PATCH), and show the same views the API answers. Errors become
//! pages in one place ([`AdminError`]).

pub(crate) mod assets;
mod catalog;
mod jobs;
mod login;
mod orders;
mod overview;
mod search;
pub(crate) mod session;
mod templates;
mod users;

use crate::api::error::ApiError;
use crate::api::state::ApiState;
use crate::domain::FieldErrors;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use session::{NoSession, Sessions, Signed};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

/// The pages' Content-Security-Policy: scripts, styles and fetches from
/// this origin only, no inline code, forms post here only, never framed.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// Largest form body accepted.
const FORM_LIMIT: usize = 64 * 1024;

/// Registers every admin page.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    // One scope: an API request is turned away by one prefix check, not
    // tried against every page's pattern (startup registers this after the
    // API's routes, too).
    cfg.service(
        web::scope("/admin")
            .route("", web::get().to(overview::page))
            .route("/", web::get().to(overview::page))
            .route("/live.json", web::get().to(overview::live))
            .route("/assets/{file}", web::get().to(assets::serve))
            .route("/login", web::get().to(login::form))
            .route("/login", web::post().to(login::submit))
            .route("/logout", web::post().to(login::logout))
            .route("/orders", web::get().to(orders::list))
            .route("/orders/{id}", web::get().to(orders::detail))
            .route("/orders/{id}/status", web::post().to(orders::status))
            .route("/orders/{id}/mark-paid", web::post().to(orders::paid))
            .route("/products", web::get().to(catalog::products))
            .route("/products/{id}", web::get().to(catalog::product))
            .route("/products/{id}", web::post().to(catalog::save_product))
            .route("/brands", web::get().to(catalog::brands))
            .route("/brands", web::post().to(catalog::create_brand))
            .route("/categories", web::get().to(catalog::categories))
            .route("/categories", web::post().to(catalog::create_category))
            .route("/jobs", web::get().to(jobs::page))
            .route("/jobs/{id}/retry", web::post().to(jobs::retry))
            .route("/jobs/{id}/discard", web::post().to(jobs::discard))
            .route("/search", web::get().to(search::page))
            .route("/search/synonym", web::post().to(search::add_synonym))
            .route("/search/synonyms", web::post().to(search::save_synonyms))
            .route("/users", web::get().to(users::page))
            .route("/users/{id}", web::post().to(users::administer))
            .route("/keys", web::post().to(users::create_key))
            .route("/keys/{id}/revoke", web::post().to(users::revoke_key)),
    );
}

/// Why an admin request was not served as asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AdminError {
    /// Not signed in (or the session ended): to the sign-in form, then back.
    #[error("sign in to continue")]
    SignIn { next: String },
    #[error("this account cannot use the admin pages")]
    NotStaff,
    #[error("only an admin can open this page")]
    NotAdmin,
    #[error("the form has expired or did not come from this site; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    Api(ApiError),
}

/// Errors of the layers below become pages through their API mapping.
macro_rules! through_api {
    ($($t:ty),*) => {$(
        impl From<$t> for AdminError {
            fn from(e: $t) -> Self {
                AdminError::Api(e.into())
            }
        }
    )*};
}
through_api!(
    crate::catalog::CatalogError,
    crate::orders::OrdersError,
    crate::accounts::AccountsError,
    crate::jobs::JobsError
);

impl From<ApiError> for AdminError {
    fn from(e: ApiError) -> Self {
        AdminError::Api(e)
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::SignIn { .. } => StatusCode::SEE_OTHER,
            AdminError::NotStaff | AdminError::NotAdmin | AdminError::Csrf => StatusCode::FORBIDDEN,
            AdminError::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AdminError::SignIn { next } = self {
            let to = format!(
                "/admin/login?next={}",
                percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
            );
            return see_other(&to);
        }
        let status = self.status_code();
        let code = match self {
            AdminError::NotStaff => "not_staff",
            AdminError::NotAdmin => "forbidden",
            AdminError::Csrf => "csrf_failed",
            _ => "error",
        };
        if let AdminError::Api(ApiError::Internal(e)) = self {
            tracing::error!(error = format!("{e:#}"), "admin page failed");
        }
        let ctx = minijinja::context! {
            status => status.as_u16(),
            code => code,
            message => self.to_string(),
        };
        html(status, templates::render("error.html", ctx))
    }
}

pub(crate) type AdminResult = Result<HttpResponse, AdminError>;

/// An HTML answer with the pages' headers: CSP, never cached.
fn html(status: StatusCode, body: String) -> HttpResponse {
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body);
    admin_headers(res.headers_mut());
    res
}

fn admin_headers(h: &mut header::HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// `303 See Other` to `to` (after a form post, and to the sign-in form).
fn see_other(to: &str) -> HttpResponse {
    // A path from the request (an id, `next`) may hold bytes a header
    // cannot: they go percent-encoded, never as a failed response.
    const UNSAFE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b' ').add(b'"');
    let to = percent_encoding::utf8_percent_encode(to, UNSAFE).to_string();
    let mut res = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish();
    admin_headers(res.headers_mut());
    res
}

/// A signed-in staff or admin request.
pub(crate) struct Page {
    pub signed: Signed,
    sessions: web::Data<Sessions>,
    pub state: web::Data<ApiState>,
    path: String,
}

impl FromRequest for Page {
    type Error = AdminError;
    type Future = std::future::Ready<Result<Page, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Page::of(req))
    }
}

impl Page {
    fn of(req: &HttpRequest) -> Result<Page, AdminError> {
        let (Some(state), Some(sessions)) = (
            req.app_data::<web::Data<ApiState>>(),
            req.app_data::<web::Data<Sessions>>(),
        ) else {
            return Err(
                ApiError::Internal(anyhow::anyhow!("admin state is not registered")).into(),
            );
        };
        let next = match req.method() {
            &actix_web::http::Method::GET => match req.query_string() {
                "" => req.path().to_string(),
                q => format!("{}?{q}", req.path()),
            },
            _ => "/admin".to_string(),
        };
        let Some(cookie) = req.cookie(session::COOKIE) else {
            return Err(AdminError::SignIn { next });
        };
        let accounts = &state.services.accounts;
        let signed = sessions
            .check(cookie.value(), |sid| accounts.session_principal(sid).ok())
            .map_err(|e| match e {
                NoSession::SignIn => AdminError::SignIn { next },
                NoSession::NotStaff => AdminError::NotStaff,
            })?;
        Ok(Page {
            signed,
            sessions: sessions.clone(),
            state: state.clone(),
            path: req.path().to_string(),
        })
    }

    /// Refuses staff: admin only.
    pub(crate) fn admin_only(&self) -> Result<(), AdminError> {
        if self.signed.is_admin() {
            Ok(())
        } else {
            Err(AdminError::NotAdmin)
        }
    }

    pub(crate) fn services(&self) -> &crate::services::Services {
        &self.state.services
    }

    /// Renders `template` inside the layout, with the signed-in user, the
    /// CSRF token, the pending message and the current section.
    pub(crate) fn render(&self, template: &str, ctx: minijinja::Value) -> AdminResult {
        self.render_status(StatusCode::OK, template, ctx)
    }

    pub(crate) fn render_status(
        &self,
        status: StatusCode,
        template: &str,
        ctx: minijinja::Value,
    ) -> AdminResult {
        let base = minijinja::context! {
            user => minijinja::context! {
                email => self.signed.email,
                role => self.signed.role.as_str(),
                admin => self.signed.is_admin(),
            },
            csrf => self.signed.csrf,
            flash => self.sessions.take_flash(&self.signed),
            section => self.path.trim_start_matches("/admin").trim_start_matches('/')
                .split('/').next().unwrap_or(""),
        };
        let ctx = minijinja::context! { ..ctx, ..base };
        Ok(html(status, templates::render(template, ctx)))
    }

    /// Back to `to` with a message.
    pub(crate) fn done(&self, to: &str, text: impl Into<String>) -> AdminResult {
        self.sessions.flash(&self.signed, "ok", text);
        Ok(see_other(to))
    }

    /// Back to `to` with an error message.
    pub(crate) fn failed(&self, to: &str, e: impl std::fmt::Display) -> AdminResult {
        self.sessions.flash(&self.signed, "error", e.to_string());
        Ok(see_other(to))
    }
}

/// A posted form from a signed-in page, its CSRF token checked.
pub(crate) struct Posted {
    pub page: Page,
    pub fields: HashMap<String, String>,
}

impl Posted {
    /// A field, trimmed; `None` when absent or empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }
}

impl FromRequest for Posted {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<Posted, AdminError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let page = Page::of(req);
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload);
        Box::pin(async move {
            let page = page?;
            let fields = read_form(&req, payload.await).await?;
            if !session::csrf_matches(&page.signed.csrf, fields.get("_csrf").map(String::as_str)) {
                return Err(AdminError::Csrf);
            }
            Ok(Posted { page, fields })
        })
    }
}

/// A urlencoded form body (at most [`FORM_LIMIT`] bytes, within the body
/// timeout) as fields (the last value of a repeated name).
async fn read_form(
    req: &HttpRequest,
    payload: Result<web::Payload, actix_web::Error>,
) -> Result<HashMap<String, String>, AdminError> {
    let payload =
        payload.map_err(|e| ApiError::Internal(anyhow::anyhow!("taking the body: {e}")))?;
    let body = crate::api::extract::body::read_body(req, payload, FORM_LIMIT).await?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|e| ApiError::BadRequest {
            code: "malformed_form",
            message: format!("the form is not urlencoded: {e}"),
        })?;
    Ok(pairs.into_iter().collect())
}

/// Field errors as `{field: message}` for a form to show beside its inputs.
fn field_map(fields: &FieldErrors) -> HashMap<String, String> {
    fields
        .as_slice()
        .iter()
        .map(|e| (e.field.clone(), e.reason.clone()))
        .collect()
}

/// Field errors as one line for a flash message (`field: reason; …`).
fn reasons(e: &FieldErrors) -> String {
    let all: Vec<String> = e
        .as_slice()
        .iter()
        .map(|f| format!("{}: {}", f.field, f.reason))
        .collect();
    all.join("; ")
}

/// The field errors of a validation error, or the error itself.
fn validation_of(e: ApiError) -> Result<(String, HashMap<String, String>), AdminError> {
    match e {
        ApiError::Validation { message, fields } => Ok((message, field_map(&fields))),
        other => Err(other.into()),
    }
}

/// A view the API answers, as a template value.
fn view(v: impl Serialize) -> minijinja::Value {
    minijinja::Value::from_serialize(v)
}

/// A rendered JSON body (the catalogue's cached answers), as a template
/// value.
fn json_view(body: &[u8]) -> Result<minijinja::Value, AdminError> {
    Ok(view(json_value(body)?))
}

/// A rendered JSON body as a JSON value.
fn json_value(body: &[u8]) -> Result<serde_json::Value, AdminError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("reading a rendered answer: {e}")).into())
}

/// If a GET's query has empty parameters (a filter form's blank fields),
/// the same URL without them; dates from a date input become the start
/// (`from`) or end (`to`) of that day in UTC, as the API's filters take
/// them.
fn tidy_query(req: &HttpRequest) -> Option<HttpResponse> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).ok()?;
    let mut changed = false;
    let kept: Vec<(String, String)> = pairs
        .into_iter()
        .filter_map(|(k, v)| {
            let v2 = v.trim().to_string();
            if v2.is_empty() {
                changed = true;
                return None;
            }
            let is_day = v2.len() == 10 && v2.as_bytes()[4] == b'-' && v2.as_bytes()[7] == b'-';
            let v2 = match k.as_str() {
                "from" if is_day => format!("{v2}T00:00:00Z"),
                "to" if is_day => format!("{v2}T23:59:59.999Z"),
                _ => v2,
            };
            changed |= v2 != v;
            Some((k, v2))
        })
        .collect();
    if !changed {
        return None;
    }
    let q = serde_urlencoded::to_string(&kept).ok()?;
    Some(see_other(&if q.is_empty() {
        req.path().to_string()
    } else {
        format!("{}?{q}", req.path())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn blank_filters_are_dropped_and_days_become_instants() {
        let req = TestRequest::get()
            .uri("/admin/orders?status=&isPaid=true&from=2026-12-01&to=2026-12-02")
            .to_http_request();
        let res = tidy_query(&req).expect("a tidier URL");
        assert_eq!(
            res.headers().get(header::LOCATION).unwrap(),
            "/admin/orders?isPaid=true&from=2026-12-01T00%3A00%3A00Z&to=2026-12-02T23%3A59%3A59.999Z"
        );
        let req = TestRequest::get()
            .uri("/admin/orders?isPaid=true")
            .to_http_request();
        assert!(tidy_query(&req).is_none());
    }
}
