//! The HTTP API under `/api/v1`, plus probes, metrics and the docs pages.
//!
//! - [`routes`]: the one route table (method, pattern, access, cache and
//!   rate class, handler, contract); [`route`] its types; [`register`]
//!   turns it into actix resources.
//! - [`extract`]: every extractor — typed query parameters, bodies parsed
//!   by the domain's parsers, the caller ([`extract::principal`]), the
//!   shopper's cart — so handlers receive domain types.
//! - `handlers`: thin, by area; each calls one use case and wraps its
//!   answer in a [`dto`] wire type (the one `{"data": …}` envelope).
//! - [`middleware`]: everything around a request (access, CORS, security
//!   headers, request id and limits, compression, HTTP caching, rate
//!   limits, metrics, replication headers).
//! - `connection`: below the parser — its bare error answers get the error
//!   envelope, and closing connections linger.
//! - [`error`]: every error → status, code and message, in one place.
//! - [`openapi`]: the contract derived from the table; `telemetry`:
//!   Prometheus metrics and the live figures of the admin overview.
//!
//! Reads run on the worker thread (they take microseconds); writes are
//! queued to the store's writer thread and awaited (group commit).
//!
//! The Postgres-design baseline (`benches/baseline`) uses a small part of
//! this module: [`error::ApiError`], extractors, the wire types, the route
//! types, [`state::HttpSettings`] and the request-id, caching and
//! compression middleware.

pub(crate) mod connection;
pub mod dto;
pub mod error;
pub mod extract;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod fuzz_contract;
pub(crate) mod handlers;
pub mod middleware;
pub mod openapi;
pub mod register;
pub mod route;
pub mod routes;
pub mod state;
pub(crate) mod telemetry;
