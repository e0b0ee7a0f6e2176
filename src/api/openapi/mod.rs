//! The API contract: the OpenAPI 3.1 document, built from the route table.
//!
//! Every documented route of [`ROUTES`] becomes one operation. What it says
//! comes from the route and nowhere else:
//! - path parameters from the pattern; query parameters and the request body
//!   from the handler's extractor types ([`Describe`], via [`inputs_of`]);
//! - the success answer from the route's [`Answer`]; the error statuses from
//!   what the route can meet: 401 for a non-public route, 400 for any query or
//!   body, 413/422 for a body, 422 for checked query values, 404 for a route
//!   with a path parameter, 304 for a cacheable read, 429 for a rate-limited
//!   route, plus the route's own (409, 503), each with the error envelope;
//! - headers from the middleware the route runs through (`ETag`,
//!   `Cache-Control`, `Location`, `WWW-Authenticate`, `Retry-After`,
//!   `X-Request-Id`, and `X-RateLimit-*` on every answer of a rate-limited
//!   route but 401, which is refused before its rate limit counts it).
//!
//! Response bodies are described by the rendering structs themselves
//! (`catalog::json`, `catalog::search`, `ToSchema`); this module adds the
//! envelopes and the few shapes whose types live where utoipa does not belong
//! (`domain::listing::PageMeta`, analytics, synonyms).

pub mod describe;
pub(crate) mod document;
pub(crate) mod schemas;
