//! Turning raw request parts into checked values, as actix extractors:
//! every handler takes what it needs as a typed argument, so no handler
//! repeats a parsing preamble, and the route table documents each from its
//! type ([`crate::api::openapi::describe::Describe`]). Each failure is an
//! `ApiError` with the right status.
//!
//! - [`query`]: query strings ([`query::Query`]) and the typed parameter sets
//!   of each area ([`catalog`], [`orders`], [`accounts`], [`jobs`]).
//! - [`body`]: JSON object bodies parsed by the domain ([`body::Body`]).
//! - [`principal`]: who is calling ([`principal::Principal`], [`principal::Me`]).
//! - [`orders`]: carts' owners, idempotency keys, order links, webhooks.
//! - [`wants`]: the coding a client takes cached bodies in.
//! - [`upload`]: image uploads (multipart or a raw `image/*` body).

pub(crate) mod accounts;
pub mod body;
pub mod catalog;
pub(crate) mod jobs;
pub mod orders;
pub mod principal;
pub mod query;
pub mod upload;
pub(crate) mod wants;
