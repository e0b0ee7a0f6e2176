//! shopd: one binary that runs a whole online shop's backend.
//!
//! # Layout
//! - [`domain`]: pure types and rules (catalogue, accounts, carts, the
//!   checkout's decision, orders, jobs, filters); no I/O.
//! - [`config`]: the configuration, one section per area; leaf values
//!   ([`config::Secret`], [`config::DataDir`]) that services take.
//! - [`store`]: redb tables, rkyv records, indexes and counters, the one
//!   write path (a core, `store::db`, and one folder or file per area).
//! - [`search`]: the tantivy product index, its indexer thread and the
//!   platform's search handle.
//! - [`cache`]: the in-process response cache (kinds registered by areas,
//!   tags, one computation per cold key).
//! - [`breaker`]: a circuit breaker (the mail transport's).
//! - Services, the only modules that coordinate: [`catalog`] (catalogue
//!   reads and writes, search use cases, reviews, import and export),
//!   [`jobs`] (the durable queue and its workers, mail), [`accounts`]
//!   (sign-up, sign-in, tokens, roles, API keys), [`orders`] (carts,
//!   checkout, order status, payments, discount codes, the customer's
//!   profile), [`replication`] (followers, snapshots, backups), [`media`]
//!   (product images: upload, safe decoding, variants, serving).
//! - [`objects`]: a directory or an S3-compatible bucket behind one API
//!   (backups and images).
//! - [`services`]: the platform built first (store with its commit sinks,
//!   search, cache), the services over it, and the one dispatch of what a
//!   commit sets off.
//! - [`api`]: the HTTP API (actix-web): the route table, extractors,
//!   handlers, middleware, wire types, the OpenAPI contract, error → HTTP.
//! - [`admin`]: the admin pages (server-rendered HTML over the API's wire
//!   types and the same services).
//! - [`startup`]: builds the server on a bound listener (`main` and tests).
//! - [`cli`], [`telemetry`] (the tracing subscriber), [`generator`]
//!   (deterministic synthetic catalogues).
//!
//! # Layers
//! Dependencies point down. Each module may use only the modules (or parts
//! of modules) listed after it; `tests/architecture.rs` reads this table and
//! fails on any other arrow, on a cycle between modules and on a cycle
//! between the files of `api`. A service sees only its own configuration
//! section, never the whole configuration.
//!
//! | module | may use |
//! |---|---|
//! | `domain` | |
//! | `config` | `domain` |
//! | `breaker` | |
//! | `telemetry` | `config::log` |
//! | `store` | `domain` |
//! | `search` | `domain` |
//! | `cache` | |
//! | `catalog` | `domain`, `store`, `search`, `cache`, `config::cache` |
//! | `jobs` | `domain`, `store`, `breaker`, `config::jobs`, `config::mail`, `config::secret` |
//! | `accounts` | `domain`, `store`, `jobs`, `config::accounts`, `config::secret` |
//! | `orders` | `domain`, `store`, `jobs`, `accounts`, `config::orders`, `config::secret` |
//! | `objects` | `config::backups` |
//! | `media` | `domain`, `store`, `jobs`, `objects`, `config::media`, `config::backups` |
//! | `replication` | `domain`, `store`, `search`, `catalog`, `jobs`, `objects`, `config::replication`, `config::backups`, `config::data_dir`, `config::secret` |
//! | `services` | `domain`, `config`, `store`, `search`, `cache`, `catalog`, `jobs`, `accounts`, `orders`, `replication`, `media` |
//! | `api` | `domain`, `config`, `breaker`, `store`, `search`, `cache`, `catalog`, `jobs`, `accounts`, `orders`, `replication`, `media`, `services` |
//! | `admin` | `domain`, `config`, `cache`, `catalog`, `jobs`, `accounts`, `orders`, `services`, `api::dto`, `api::error`, `api::extract`, `api::state`, `api::route`, `api::middleware`, `api::telemetry` |
//! | `generator` | `domain` |
//! | `cli` | `config` |
//! | `startup` | `domain`, `config`, `telemetry`, `store`, `search`, `cache`, `catalog`, `jobs`, `accounts`, `orders`, `replication`, `media`, `services`, `api`, `admin` |
//!
//! # Visibility
//! Everything is `pub(crate)` unless the integration tests (`tests/`), the
//! benches (`benches/`) or the Postgres-design baseline
//! (`benches/baseline/`, which serves the same API with the same wire types)
//! use it; `admin` and `breaker` are wholly internal. The public surface:
//! - [`startup`]: `Application` (built on port 0 by the tests) and `bind`;
//!   [`cli`] and [`config`] with its sections (tests build configurations);
//!   [`telemetry::init`].
//! - [`domain`]: the pure types, by concept.
//! - [`store`]: the `Store` and its reads and writes (store benches,
//!   crash and fault tests), `store::codec` and `store::catalog::records`
//!   (decoding stored records), `store::db::faults` (injected I/O faults).
//! - [`search::highlight`], [`cache`] (`ResponseCache`, `cache::gzip`),
//!   [`services`] (`Platform`, `Services`).
//! - Services: [`catalog`] (import, the demo catalogue, JSON export),
//!   [`accounts`] (`Accounts`, `accounts::tokens`,
//!   `create_account_blocking`), [`orders`] (the checkout fingerprint,
//!   `orders::payments::sign` for webhook tests), [`jobs`] (`Jobs`,
//!   `jobs::mail`), [`replication::backup`].
//! - [`api`]: the route table and route types, the wire types
//!   (`api::dto`), extractors, `api::error`, the middleware and
//!   `api::openapi::describe` that the baseline reuses.
//! - [`generator`]: synthetic catalogues for benches.

pub mod accounts;
pub(crate) mod admin;
pub mod api;
pub(crate) mod breaker;
pub mod cache;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod domain;
pub mod generator;
pub mod jobs;
pub mod media;
pub mod objects;
pub mod orders;
pub mod replication;
pub mod search;
pub mod services;
pub mod startup;
pub mod store;
pub mod telemetry;
