//! The HTTP API under `/api/v1`, plus probes, metrics and the docs pages.
//!
//! [`routes`] is the one route table; [`configure`] registers it with actix.
//! Handlers take extractors ([`extract`], [`auth`]) that parse and check
//! input into domain types, call one catalogue use case, and wrap its JSON.
//! Reads run on the worker thread (they take microseconds); writes are queued
//! to the store's writer thread and awaited (group commit). Errors become responses
//! only in [`error`]. [`openapi`] turns the table into the contract that
//! [`docs`] serves. Every limited route also runs through [`rate_limit`]'s
//! layer; [`security_headers`] and [`cors`] apply to every response.
//!
//! The Postgres-design baseline (`benches/baseline`) uses a small part of
//! this module: [`error::ApiError`], [`extract`]'s functions, the list and
//! search query parsers, [`state::HttpSettings`], [`json`], [`created`],
//! [`not_found`] and the request-id, caching and compression middleware.

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
