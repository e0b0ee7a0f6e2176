//! What a route is: its method, pattern, handler, cache class, who may call
//! it, its rate-limit class and its OpenAPI operation ([`Route`]), and how a
//! path matches a pattern. The table itself is [`crate::api::routes::ROUTES`].

use crate::api::openapi::describe::Answer;
use crate::api::openapi::describe::Inputs;
use crate::config::cache::CacheClass;
use actix_web::http::Method;

/// An HTTP method a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    pub(crate) fn method(self) -> Method {
        match self {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Put => Method::PUT,
            Verb::Patch => Method::PATCH,
            Verb::Delete => Method::DELETE,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }
}

/// Who may call a route. Checked before the handler runs (and before its
/// body is read) by the layer [`super::configure`] puts around every
/// non-public route; see [`super::auth`]. Roles are ordered: an admin may
/// call staff routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, no credentials read.
    Public,
    /// A signed-in account (any role), through an access token: its own
    /// resources only.
    Account,
    /// A guest or a signed-in account: credentials are optional, but when
    /// sent they must be a valid access token (carts, checkout, a guest's
    /// order link).
    Shopper,
    /// Any valid credentials (account, API key or admin token); the handler
    /// decides by role (reviews: staff import them, customers write their
    /// own).
    Signed,
    /// Staff or admin (access token or API key): catalogue, orders, jobs,
    /// review moderation.
    Staff,
    /// Admin only: users, roles, API keys, settings.
    Admin,
    /// Followers of this leader: the replication token (`--replication-
    /// token`) as a bearer token. 404 when replication is off.
    Replication,
}

/// How a route is rate limited: which quota its requests count against
/// (enforced by [`super::rate_limit`]; each class is configured as
/// `N/PERIOD` or `off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// Probes, metrics and docs: never limited.
    None,
    /// Catalogue reads and search.
    Api,
    /// Sign-in, sign-up, token and password-reset endpoints.
    Auth,
    /// Writes.
    Write,
    /// Checkout.
    Checkout,
}

/// How a route's handler is attached, and what its extractors say about its
/// inputs. Built by [`handler!`] from one mention of the handler function.
#[derive(Clone, Copy)]
pub struct Handler {
    pub(crate) attach: fn(actix_web::Route) -> actix_web::Route,
    pub(crate) inputs: fn() -> Inputs,
}

/// `Handler` for an async handler function: attaches it to an actix route
/// and derives its documented inputs (query parameters, request body) from
/// its extractor types.
macro_rules! handler {
    ($f:path) => {
        $crate::api::route::Handler {
            attach: |r| r.to($f),
            inputs: || $crate::api::openapi::describe::inputs_of($f),
        }
    };
}
pub(crate) use handler;

/// The OpenAPI side of a route: its operation id, summary and tag, what a
/// success answers, and the error statuses only its use case can produce
/// (401, 400/413/422, 404 and 304 follow from the rest of the route).
#[derive(Clone, Copy)]
pub struct Doc {
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub answer: Answer,
    /// Further error statuses: 409 (duplicate id, in use), 503 (search).
    pub errors: &'static [u16],
    /// Left out of the OpenAPI document (the docs pages themselves, the
    /// benchmark ceiling).
    pub hidden: bool,
}

/// One route. See the module documentation.
#[derive(Clone, Copy)]
pub struct Route {
    pub verb: Verb,
    pub pattern: &'static str,
    pub handler: Handler,
    pub cache: CacheClass,
    pub access: Access,
    pub rate: RateLimit,
    pub doc: Doc,
}

impl Route {
    const fn new(verb: Verb, pattern: &'static str, handler: Handler) -> Route {
        Route {
            verb,
            pattern,
            handler,
            cache: CacheClass::NoStore,
            access: Access::Public,
            rate: RateLimit::Api,
            doc: Doc {
                operation_id: "",
                summary: "",
                tag: "",
                answer: Answer::Empty(204),
                errors: &[],
                hidden: false,
            },
        }
    }

    pub(crate) const fn cache(mut self, class: CacheClass) -> Route {
        self.cache = class;
        self
    }

    /// Staff or admin; writes are rate limited as writes.
    pub(crate) const fn staff(self) -> Route {
        self.access(Access::Staff)
    }

    /// Admin only; writes are rate limited as writes.
    pub(crate) const fn admin(self) -> Route {
        self.access(Access::Admin)
    }

    /// A signed-in account's own resources; writes are rate limited as
    /// writes.
    pub(crate) const fn account(self) -> Route {
        self.access(Access::Account)
    }

    pub(crate) const fn access(mut self, access: Access) -> Route {
        self.access = access;
        if !matches!(self.verb, Verb::Get) {
            self.rate = RateLimit::Write;
        }
        self
    }

    /// A public sign-in, sign-up or reset endpoint (the `auth` rate class).
    pub(crate) const fn sign_in(mut self) -> Route {
        self.rate = RateLimit::Auth;
        self
    }

    pub(crate) const fn rate(mut self, rate: RateLimit) -> Route {
        self.rate = rate;
        self
    }

    pub(crate) const fn doc(
        mut self,
        tag: &'static str,
        operation_id: &'static str,
        summary: &'static str,
        answer: Answer,
    ) -> Route {
        self.doc.tag = tag;
        self.doc.operation_id = operation_id;
        self.doc.summary = summary;
        self.doc.answer = answer;
        self
    }

    pub(crate) const fn errors(mut self, statuses: &'static [u16]) -> Route {
        self.doc.errors = statuses;
        self
    }

    pub(crate) const fn hidden(mut self) -> Route {
        self.doc.hidden = true;
        self
    }

    /// The names of the pattern's `{…}` segments, in order.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.pattern
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
    }
}

pub(crate) const fn get(pattern: &'static str, handler: Handler) -> Route {
    Route::new(Verb::Get, pattern, handler)
}
pub(crate) const fn post(pattern: &'static str, handler: Handler) -> Route {
    Route::new(Verb::Post, pattern, handler)
}
pub(crate) const fn put(pattern: &'static str, handler: Handler) -> Route {
    Route::new(Verb::Put, pattern, handler)
}
pub(crate) const fn patch(pattern: &'static str, handler: Handler) -> Route {
    Route::new(Verb::Patch, pattern, handler)
}
pub(crate) const fn delete(pattern: &'static str, handler: Handler) -> Route {
    Route::new(Verb::Delete, pattern, handler)
}

/// Whether `path` matches `pattern` segment by segment; `{name}` matches any
/// non-empty segment (the route table's tests check its lookup with it).
#[cfg(test)]
pub(crate) fn pattern_matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if segment_matches(w, g) => {}
            _ => return false,
        }
    }
}

pub(crate) fn segment_matches(pattern: &str, segment: &str) -> bool {
    if pattern.starts_with('{') {
        !segment.is_empty()
    } else {
        pattern == segment
    }
}

/// Most `/`-separated segments a pattern has (`/a/b/c/d` is five: the
/// leading empty one counts); longer paths match nothing.
pub(crate) const MAX_SEGMENTS: usize = 8;
