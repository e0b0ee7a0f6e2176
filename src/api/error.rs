//! The one place where errors become HTTP responses.
//!
//! Every error body is `{"error":{"code","message"}}` with a stable machine
//! code; validation failures add `fields: [{field, reason}]`. Unexpected errors
//! are logged with their whole cause chain and answered with an opaque 500.

use crate::accounts::AccountsError;
use crate::catalog::CatalogError;
use crate::catalog::SearchError;
use crate::domain::FieldError;
use crate::domain::FieldErrors;
use crate::domain::discount::CodeRejection;
use crate::jobs::JobsError;
use crate::orders::OrdersError;
use crate::store::StoreError;
use actix_web::HttpResponse;
use actix_web::ResponseError;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::http::header::HeaderName;
use actix_web::http::header::HeaderValue;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Unauthorized(String),
    /// 401 with a specific code (`invalid_credentials`, `token_expired`,
    /// `token_reused`, `invalid_token`).
    #[error("{message}")]
    Unauthenticated { code: &'static str, message: String },
    /// 403: authenticated, but not allowed.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    /// 404 `not_found` with `fields`: well-formed input naming records that
    /// are not there (a `brandId` of no brand), each field and what it named.
    #[error("{message}")]
    NotThere {
        message: String,
        fields: FieldErrors,
    },
    /// 404 with a specific code: what the input names is not there
    /// (`discount_code_invalid` for a code the shop does not have).
    #[error("{message}")]
    Missing { code: &'static str, message: String },
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 410: what was asked for is gone for good (a replication log that no
    /// longer reaches back far enough).
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 414: the request target (path and query) is longer than the limit.
    #[error("the request's path and query are longer than {limit} bytes")]
    UriTooLong { limit: usize },
    /// 431: the request's headers weigh more than the limit, or there are
    /// too many of them.
    #[error("the request's headers are larger than {limit} bytes or more than {count} headers")]
    HeadersTooLarge { limit: usize, count: usize },
    /// 408: the client did not send its whole body in time.
    #[error("the request body did not arrive within {secs} s")]
    RequestTimeout { secs: u64 },
    #[error("{message}")]
    Validation {
        message: String,
        fields: FieldErrors,
    },
    #[error("{message}")]
    Unavailable {
        code: &'static str,
        message: String,
        retry_after_secs: u32,
    },
    /// Over a rate limit (`api::rate_limit`): 429 with `Retry-After` and
    /// the `X-RateLimit-*` headers of the quota that refused.
    #[error(
        "too many requests: the {class} limit is {rate} per client; retry in {retry_after_secs} s"
    )]
    RateLimited {
        /// The route's rate-limit class (`api`, `auth`, …).
        class: &'static str,
        rate: crate::config::rate_limits::Rate,
        /// Seconds until one more request is allowed.
        retry_after_secs: u64,
        /// Seconds until the whole quota is back.
        reset_secs: u64,
    },
    /// 415 with a specific code: the body is not a kind the route reads
    /// (`unsupported_media_type`: a content type; `unsupported_image`: bytes
    /// that are no image shopd reads).
    #[error("{message}")]
    Unsupported { code: &'static str, message: String },
    /// 422 with a specific code: the input is well formed but cannot be
    /// used (`idempotency_key_reused`: the key of another body).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// 409 `out_of_stock`: the cart lines checkout refused.
    #[error("{message}")]
    OutOfStock {
        message: String,
        lines: Vec<BlockedLineView>,
    },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// One line a checkout refused (in a 409 `out_of_stock`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockedLineView {
    pub product_id: String,
    /// `deleted`, `unavailable`, `out_of_stock` or `insufficient_stock`.
    pub problem: &'static str,
    pub requested: u32,
    pub available: u32,
}

impl ApiError {
    /// The 404 of a path no route serves.
    pub(crate) fn no_route(method: &actix_web::http::Method, path: &str) -> ApiError {
        ApiError::NotFound(format!("no route for {method} {path}"))
    }

    pub(crate) fn invalid_query(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code: "invalid_query",
            message: message.into(),
        }
    }

    pub fn validation(fields: FieldErrors) -> Self {
        let message = match fields.as_slice().len() {
            1 => "1 field is invalid".to_string(),
            n => format!("{n} fields are invalid"),
        };
        ApiError::Validation { message, fields }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthenticated { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Gone { code, .. }
            | ApiError::Unprocessable { code, .. }
            | ApiError::Missing { code, .. }
            | ApiError::Unsupported { code, .. }
            | ApiError::Unavailable { code, .. } => code,
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::NotFound(_) | ApiError::NotThere { .. } => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UriTooLong { .. } => "uri_too_long",
            ApiError::HeadersTooLarge { .. } => "headers_too_large",
            ApiError::RequestTimeout { .. } => "request_timeout",
            ApiError::Validation { .. } => "validation_failed",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::OutOfStock { .. } => "out_of_stock",
            ApiError::Internal(_) => "internal_error",
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            CatalogError::Duplicate { .. } => ApiError::Conflict {
                code: "duplicate_id",
                message: e.to_string(),
            },
            CatalogError::InUse(message) => ApiError::Conflict {
                code: "in_use",
                message,
            },
            CatalogError::Validation(fields) => ApiError::validation(fields),
            CatalogError::Missing(fields) => ApiError::NotThere {
                message: fields
                    .as_slice()
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
                fields,
            },
            CatalogError::AlreadyReviewed => ApiError::Conflict {
                code: "already_reviewed",
                message: e.to_string(),
            },
            CatalogError::NotPurchased => ApiError::Forbidden {
                code: "not_purchased",
                message: e.to_string(),
            },
            CatalogError::Store(s) => ApiError::from(s),
            CatalogError::Search(SearchError::Rebuilding) => ApiError::Unavailable {
                code: "search_rebuilding",
                message: SearchError::Rebuilding.to_string(),
                retry_after_secs: 2,
            },
            CatalogError::Search(e @ SearchError::Unavailable(_)) => ApiError::Unavailable {
                code: "search_unavailable",
                message: e.to_string(),
                retry_after_secs: 5,
            },
            CatalogError::Search(e) => ApiError::Internal(e.into()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ StoreError::Unavailable(_) => {
                tracing::error!(error = %e, "a write could not be made durable");
                ApiError::Unavailable {
                    code: "storage_unavailable",
                    message: "storage cannot accept writes now; the write was not saved".into(),
                    retry_after_secs: 5,
                }
            }
            e @ StoreError::OutcomeUnknown(_) => {
                tracing::error!(error = %e, "a write failed and could not be taken back");
                ApiError::Unavailable {
                    code: "write_outcome_unknown",
                    message: "storage failed while saving this write and could not take it back: \
                              it may or may not have been saved; look before retrying"
                        .into(),
                    retry_after_secs: 5,
                }
            }
            StoreError::ReadOnly => ApiError::Unavailable {
                code: "read_only",
                message: StoreError::ReadOnly.to_string(),
                retry_after_secs: 1,
            },
            e => ApiError::Internal(e.into()),
        }
    }
}

impl From<crate::replication::ReplicationError> for ApiError {
    fn from(e: crate::replication::ReplicationError) -> Self {
        use crate::replication::ReplicationError as R;
        match e {
            R::Truncated { .. } => ApiError::Gone {
                code: "replication_log_truncated",
                message: e.to_string(),
            },
            R::Ahead { .. } => ApiError::Conflict {
                code: "replica_ahead",
                message: e.to_string(),
            },
            R::NoSuchPart(_) => ApiError::NotFound(e.to_string()),
            R::Store(s) => ApiError::from(s),
            e => ApiError::Internal(e.into()),
        }
    }
}

impl From<JobsError> for ApiError {
    fn from(e: JobsError) -> Self {
        match e {
            JobsError::NotFound(_) => ApiError::NotFound(e.to_string()),
            JobsError::Running(_) => ApiError::Conflict {
                code: "job_running",
                message: e.to_string(),
            },
            JobsError::NotRetryable { .. } => ApiError::Conflict {
                code: "job_not_retryable",
                message: e.to_string(),
            },
            JobsError::UnknownQueue(_) => ApiError::Internal(e.into()),
            JobsError::Store(s) => ApiError::from(s),
        }
    }
}

impl From<crate::media::MediaError> for ApiError {
    fn from(e: crate::media::MediaError) -> Self {
        use crate::media::MediaError as M;
        use crate::media::codec::CodecError as C;
        match e {
            M::NotFound(_) => ApiError::NotFound(e.to_string()),
            M::TooLarge { limit } => ApiError::PayloadTooLarge {
                limit: limit as usize,
            },
            M::Busy => ApiError::Unavailable {
                code: "busy",
                message: e.to_string(),
                retry_after_secs: 2,
            },
            M::InUse { .. } => ApiError::Conflict {
                code: "media_in_use",
                message: e.to_string(),
            },
            M::Alt(reason) => {
                let mut fields = FieldErrors::new();
                fields.push("alt", reason);
                ApiError::validation(fields)
            }
            M::Codec(c) => match c {
                C::Unsupported(_) => ApiError::Unsupported {
                    code: "unsupported_image",
                    message: c.to_string(),
                },
                C::Polyglot(_) => ApiError::Unprocessable {
                    code: "image_polyglot",
                    message: c.to_string(),
                },
                C::TooManyPixels { .. } => ApiError::Unprocessable {
                    code: "image_too_large",
                    message: c.to_string(),
                },
                C::Damaged(_) => ApiError::Unprocessable {
                    code: "image_damaged",
                    message: c.to_string(),
                },
                C::Encode(_) => ApiError::Internal(c.into()),
            },
            M::Files(f) => {
                tracing::error!(error = %f, "image storage failed");
                ApiError::Unavailable {
                    code: "storage_unavailable",
                    message: "image storage cannot be reached now; nothing was saved".into(),
                    retry_after_secs: 5,
                }
            }
            M::Store(s) => ApiError::from(s),
        }
    }
}

impl From<AccountsError> for ApiError {
    fn from(e: AccountsError) -> Self {
        let unauthenticated = |code: &'static str, e: &AccountsError| ApiError::Unauthenticated {
            code,
            message: e.to_string(),
        };
        match e {
            AccountsError::InvalidCredentials => unauthenticated("invalid_credentials", &e),
            AccountsError::TokenExpired => unauthenticated("token_expired", &e),
            AccountsError::TokenReused => unauthenticated("token_reused", &e),
            AccountsError::InvalidToken(_) | AccountsError::Unauthenticated => {
                unauthenticated("invalid_token", &e)
            }
            AccountsError::Banned => ApiError::Forbidden {
                code: "account_banned",
                message: e.to_string(),
            },
            AccountsError::WrongPassword => ApiError::Forbidden {
                code: "wrong_password",
                message: e.to_string(),
            },
            // A mailed token (email verification, password reset) is a
            // credential: it is what authorizes the change, as a refresh
            // token authorizes a new pair. One that is unknown, used or
            // expired is well-formed input that does not authenticate
            // anything, so it is a 401 with the same code as a refresh
            // token's, not a 400 (nothing about the request is malformed)
            // nor a 404 (which would tell a guesser the token space).
            AccountsError::InvalidLink(m) => ApiError::Unauthenticated {
                code: "invalid_token",
                message: m.into(),
            },
            AccountsError::NotFound(_) | AccountsError::KeyNotFound(_) => {
                ApiError::NotFound(e.to_string())
            }
            AccountsError::Exists => ApiError::Conflict {
                code: "email_taken",
                message: e.to_string(),
            },
            AccountsError::Validation(fields) => ApiError::validation(fields),
            AccountsError::Store(s) => ApiError::from(s),
            AccountsError::Jobs(j) => ApiError::from(j),
            AccountsError::Hash(crate::accounts::password::HashError::Busy) => {
                ApiError::Unavailable {
                    code: "busy",
                    message: "too many sign-ins at once; try again in a second".into(),
                    retry_after_secs: 1,
                }
            }
            AccountsError::Hash(h) => ApiError::Internal(h.into()),
        }
    }
}

impl From<OrdersError> for ApiError {
    fn from(e: OrdersError) -> Self {
        let conflict = |code: &'static str, e: &OrdersError| ApiError::Conflict {
            code,
            message: e.to_string(),
        };
        match e {
            OrdersError::NotFound(m) => ApiError::NotFound(m),
            OrdersError::Validation(fields) => ApiError::validation(fields),
            OrdersError::Unavailable(_) => conflict("unavailable", &e),
            OrdersError::CartFull => conflict("cart_full", &e),
            OrdersError::CartEmpty => conflict("cart_empty", &e),
            OrdersError::OutOfStock(ref lines) => ApiError::OutOfStock {
                message: e.to_string(),
                lines: lines
                    .iter()
                    .map(|l| BlockedLineView {
                        product_id: l.product_id.clone(),
                        problem: l.problem.as_str(),
                        requested: l.requested,
                        available: l.available,
                    })
                    .collect(),
            },
            // A code is something the shopper types in: one the shop does
            // not have is not there (404); one it has that cannot apply to
            // this order now (inactive, outside its window, below its
            // minimum, used up) conflicts with the code's state (409). The
            // code names the reason for clients either way.
            OrdersError::DiscountInvalid(CodeRejection::Unknown) => ApiError::Missing {
                code: "discount_code_invalid",
                message: e.to_string(),
            },
            OrdersError::DiscountInvalid(_) => conflict("discount_code_invalid", &e),
            OrdersError::IdempotencyKeyReused => ApiError::Unprocessable {
                code: "idempotency_key_reused",
                message: e.to_string(),
            },
            OrdersError::IllegalTransition(_) => conflict("illegal_transition", &e),
            OrdersError::PaidByProvider => conflict("paid_by_provider", &e),
            OrdersError::NotPaidByProvider(_) => conflict("not_paid_by_provider", &e),
            OrdersError::TooManyAddresses => conflict("too_many_addresses", &e),
            OrdersError::WishlistFull => conflict("wishlist_full", &e),
            OrdersError::Exists(_) => conflict("duplicate_id", &e),
            // Like replication when it is off: the route is not there.
            OrdersError::PaymentsOff => ApiError::NotFound(
                "no route for POST /api/v1/payments/webhook (payments are off: start shopd with \
                 --payment-webhook-secret)"
                    .into(),
            ),
            OrdersError::Signature(s) => ApiError::Unauthenticated {
                code: s.code(),
                message: e.to_string(),
            },
            OrdersError::BadEvent(m) => ApiError::BadRequest {
                code: "invalid_event",
                message: m,
            },
            OrdersError::AmountMismatch { .. } => conflict("amount_mismatch", &e),
            OrdersError::Store(s) => ApiError::from(s),
            OrdersError::Jobs(j) => ApiError::from(j),
        }
    }
}

/// Every error body: `{"error": {…}}`. Also its schema in the OpenAPI
/// document, so the contract describes what this renders.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorEnvelope<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ErrorBody<'a> {
    /// Stable machine code, e.g. `not_found`, `validation_failed`.
    code: &'a str,
    /// For people; may change.
    message: String,
    /// Only on 422: each rejected field with the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<FieldErrorSchema>>)]
    fields: Option<&'a [FieldError]>,
    /// Only on 409 `out_of_stock`: the cart lines that cannot be bought.
    #[serde(skip_serializing_if = "Option::is_none")]
    lines: Option<&'a [BlockedLineView]>,
}

/// `domain::FieldError`, described here so the domain stays free of schema
/// code.
#[derive(utoipa::ToSchema)]
#[schema(as = FieldError)]
#[allow(dead_code)]
struct FieldErrorSchema {
    /// The JSON field (or query parameter) name.
    field: String,
    reason: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) | ApiError::Unauthenticated { .. } => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::NotThere { .. } | ApiError::Missing { .. } => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } | ApiError::OutOfStock { .. } => StatusCode::CONFLICT,
            ApiError::Gone { .. } => StatusCode::GONE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::Validation { .. } | ApiError::Unprocessable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unsupported { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(e) = self {
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code(),
                message: self.to_string(),
                fields: match self {
                    ApiError::Validation { fields, .. } | ApiError::NotThere { fields, .. } => {
                        Some(fields.as_slice())
                    }
                    _ => None,
                },
                lines: match self {
                    ApiError::OutOfStock { lines, .. } => Some(lines.as_slice()),
                    _ => None,
                },
            },
        };
        let mut res = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized(_) | ApiError::Unauthenticated { .. } => {
                res.insert_header(("WWW-Authenticate", "Bearer"));
            }
            ApiError::Unavailable {
                retry_after_secs, ..
            } => {
                res.insert_header(("Retry-After", retry_after_secs.to_string()));
            }
            ApiError::RateLimited {
                rate,
                retry_after_secs,
                reset_secs,
                ..
            } => {
                res.insert_header(("Retry-After", retry_after_secs.to_string()));
                let status = crate::api::error::RateStatus {
                    limit: rate.count().get(),
                    remaining: 0,
                    reset_secs: *reset_secs,
                };
                for header in status.headers() {
                    res.insert_header(header);
                }
            }
            _ => {}
        }
        res.json(body)
    }
}

pub(crate) const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");

pub(crate) const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");

pub(crate) const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Where a caller stands after a request was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateStatus {
    /// The quota's N.
    pub limit: u32,
    /// Requests the caller may still make right now.
    pub remaining: u32,
    /// Seconds until the whole quota is back.
    pub reset_secs: u64,
}

impl RateStatus {
    /// `X-RateLimit-Limit`, `-Remaining` and `-Reset`.
    pub(crate) fn headers(&self) -> [(HeaderName, HeaderValue); 3] {
        [
            (LIMIT, HeaderValue::from(self.limit)),
            (REMAINING, HeaderValue::from(self.remaining)),
            (RESET, HeaderValue::from(self.reset_secs)),
        ]
    }

    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in self.headers() {
            headers.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn a_rebuilding_index_is_503_with_retry_after_never_a_silent_answer() {
        for (e, code, retry) in [
            (SearchError::Rebuilding, "search_rebuilding", "2"),
            (
                SearchError::Unavailable("no index".into()),
                "search_unavailable",
                "5",
            ),
        ] {
            let res = ApiError::from(CatalogError::Search(e)).error_response();
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(res.headers().get("retry-after").unwrap(), retry);
            let body = res.into_body().try_into_bytes().unwrap();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["error"]["code"], code);
        }
    }

    #[test]
    fn over_a_limit_is_429_rate_limited_with_retry_after_and_the_quota() {
        let res = ApiError::RateLimited {
            class: "auth",
            rate: "5/5min".parse().unwrap(),
            retry_after_secs: 60,
            reset_secs: 300,
        }
        .error_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let h = res.headers();
        assert_eq!(h.get("retry-after").unwrap(), "60");
        assert_eq!(h.get("x-ratelimit-limit").unwrap(), "5");
        assert_eq!(h.get("x-ratelimit-remaining").unwrap(), "0");
        assert_eq!(h.get("x-ratelimit-reset").unwrap(), "300");
        let body = res.into_body().try_into_bytes().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "rate_limited");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("5/5min"),
            "{v}"
        );
    }
}
