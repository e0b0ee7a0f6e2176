//! shopd: one binary that runs a whole online shop's backend.
//!
//! # Layout
//! - [`domain`]: pure catalogue types and input validation (no I/O).
//! - [`store`]: redb tables, rkyv records, secondary indexes and counters.
//! - [`catalog`]: catalogue use cases; the only module that coordinates storage
//!   (and, later, search and cache); renders JSON bodies; import and export.
//! - [`api`]: actix-web routes, request parsing, error → HTTP mapping.
//! - [`configuration`]: the one validated `Config` (flags, env, file).
//! - [`startup`]: builds the app on a bound listener; used by `main` and tests.
//! - [`telemetry`]: tracing subscriber (text or JSON logs).
//! - [`generator`]: deterministic synthetic catalogues (`shopd gen`).
//! - [`cli`]: command-line definitions.
//!
//! Dependencies point down only: `api` → `catalog` → `store` → `domain`.

pub mod api;
pub mod catalog;
pub mod cli;
pub mod configuration;
pub mod domain;
pub mod generator;
pub mod search;
pub mod startup;
pub mod store;
pub mod telemetry;
