//! shopd: one binary that runs a whole online shop's backend.
//!
//! # Layout
//! - [`domain`]: pure catalogue types and input validation (no I/O).
//! - [`store`]: redb tables, rkyv records, secondary indexes and counters.
//! - [`search`]: the tantivy product index and its indexer thread.
//! - [`cache`]: the in-process response cache (TTLs, tags, one computation
//!   per cold key).
//! - [`catalog`]: catalogue use cases (a service): coordinates storage,
//!   search and cache for the catalogue; renders JSON bodies; import and
//!   export.
//! - [`replication`]: a service: the leader's snapshots and change log, the
//!   follower's bootstrap and apply loop, backups to a directory or S3.
//! - [`services`]: the services behind one application state, and the one
//!   dispatch of what a commit sets off.
//! - [`api`]: the route table, extractors, error → HTTP mapping, the OpenAPI
//!   contract and its docs pages, rate limits, security headers and CORS
//!   (actix-web).
//! - [`configuration`]: the one validated `Config` (flags, env, file); its
//!   `http` part holds the edge's parsed values (quotas, proxies, origins).
//! - [`startup`]: builds the app on a bound listener; used by `main` and tests.
//! - [`telemetry`]: tracing subscriber (text or JSON logs).
//! - [`generator`]: deterministic synthetic catalogues (`shopd gen`).
//! - [`cli`]: command-line definitions.
//!
//! Dependencies point down only: `api` → `services` (`catalog`) → `store` /
//! `search` / `cache` → `domain`.

pub mod accounts;
pub mod admin;
pub mod api;
pub mod breaker;
pub mod cache;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod domain;
pub mod generator;
pub mod jobs;
pub mod orders;
pub mod replication;
pub mod search;
pub mod services;
pub mod startup;
pub mod store;
pub mod telemetry;
