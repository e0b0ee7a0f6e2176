//! `shopd-baseline`: shopd's read API (and admin product writes, guest
//! carts and checkout) built the way the plans build it — PostgreSQL behind
//! a connection pool, Redis as a tag-invalidated response cache and for
//! carts — so benchmarks compare architectures, not
//! languages: same language, HTTP framework, allocator, middleware, request
//! parsing and JSON rendering as shopd (all reused from the shopd library),
//! different storage and caching.
//!
//! # Layout
//! - `config`: command line (clap; every flag has an env variable).
//! - `db`: the deadpool-postgres pool; every SQL statement is prepared,
//!   cached per connection and counted.
//! - `listing`: SQL for product filters, sorts and pages (lists and search).
//! - `reads`: read use cases: SQL → shopd's JSON bodies.
//! - `search`: PostgreSQL full-text search (tsvector, GIN, ts_rank).
//! - `writes`: admin product writes in transactions.
//! - `media`: product images: rows in PostgreSQL, files on disk, every
//!   variant made in the upload request.
//! - `carts`: guest carts in Redis (a hash per cart token, 30-day TTL).
//! - `orders`: checkout as one PostgreSQL transaction, orders, discount codes.
//! - `commerce`: the cart, checkout, discount-code and order handlers.
//! - `cache`: the plans' Redis helper, `getCached` and `invalidateByTag`.
//! - `routes`: actix-web handlers: parse, cache-or-query, respond.
//! - `metrics`: counters for `GET /metrics` (Prometheus text).
//! - `load`: `shopd-baseline load`: a shopd JSONL catalogue into PostgreSQL
//!   with binary COPY. Schema: `schema.sql`. Services: `setup.sh`.

mod cache;
mod carts;
mod commerce;
mod config;
mod db;
mod listing;
mod load;
mod media;
mod metrics;
mod orders;
mod reads;
mod routes;
mod search;
mod writes;

use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use clap::Parser;
use config::{Cli, Command, ServeConfig};
use shopd::api::state::HttpSettings;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match cli.log_format() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    shopd::telemetry::init(format, &cli.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Load(args) => runtime.block_on(load::load(&args.dir, &args.database_url)),
        Command::Serve(args) => match args.check() {
            Ok(config) => runtime.block_on(serve(config)),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let metrics = Arc::new(metrics::Metrics::default());
    let db = db::Db::connect(&config.database_url, config.pool_size, metrics.clone()).await?;
    let cache = cache::Cache::connect(config.redis_url.as_deref(), metrics.clone()).await?;
    let carts = carts::Carts::connect(&config.carts_redis_url).await?;
    // shopd's own bind: the same accept queue for both designs.
    let listener = shopd::startup::bind(config.listen, config.backlog)
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let state = web::Data::new(routes::State {
        db,
        cache,
        carts,
        charges: config.charges,
    });
    let api_state = web::Data::new(HttpSettings {
        admin_token: config.admin_token.clone(),
        body_limit: config.body_limit,
        limits: shopd::config::http::HttpLimits::DEFAULT,
        ceiling: None,
    });
    let media_dir = web::Data::new(media::MediaDir(config.media_dir.clone()));
    let metrics = web::Data::from(metrics);
    // shopd's default TTLs (the plans'), which the baseline's Redis uses too.
    let http_cache =
        shopd::api::middleware::http_cache::HttpCache::new(&shopd::config::cache::Ttls::default());
    let server = HttpServer::new(move || {
        let http_cache = http_cache.clone();
        // The same middleware stack as shopd (ETag/304 and Cache-Control,
        // compression, request ids), with the request counter outermost.
        App::new()
            .wrap(from_fn(move |req, next| {
                http_cache.clone().middleware(req, next)
            }))
            .wrap(from_fn(shopd::api::middleware::compression::mark_small))
            .wrap(Compress::default())
            .wrap(from_fn(shopd::api::middleware::compression::unmark))
            .wrap(from_fn(shopd::api::middleware::request_id::middleware))
            .wrap(from_fn(metrics::middleware))
            .app_data(state.clone())
            .app_data(api_state.clone())
            .app_data(metrics.clone())
            .app_data(media_dir.clone())
            .configure(routes::routes)
            .default_service(web::to(shopd::api::register::not_found))
    })
    .workers(config.workers)
    .shutdown_timeout(5)
    .listen(listener)?
    .run();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "shopd-baseline listening on http://{addr} (cache {}, pool {} connections, {} workers)",
        if config.redis_url.is_some() {
            "on"
        } else {
            "off"
        },
        config.pool_size,
        config.workers
    )?;
    out.flush()?;
    drop(out);
    server.await.context("serving")?;
    tracing::info!("shopd-baseline stopped");
    Ok(())
}
