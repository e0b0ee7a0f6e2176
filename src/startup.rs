//! Building and running the server: the one place `main` and tests share.
//!
//! [`Application::build`] binds the listener, bootstraps a follower that has
//! no data yet (answering probes meanwhile), opens storage, imports the demo
//! catalogue when asked, and wires the services (so the port is known, even for port 0) without
//! serving yet; [`Application::run_until_stopped`] serves until SIGINT/SIGTERM
//! or [`ServerHandle::stop`], letting in-flight requests finish, then closes
//! storage.
//!
//! The middleware stack, outermost first: metrics, request id, replication
//! (`X-Generation`, a follower's redirects and `X-Min-Generation` waits),
//! security headers, CORS (and the removal of its headers for unlisted origins),
//! compression, HTTP caching; inside each limited route, its access check
//! and then its rate limit.

use crate::api::middleware::rate_limit::limiter::{self, RateLimits};
use crate::api::middleware::security_headers::SecurityHeaders;
use crate::api::{self, state::ApiState, state::HttpSettings};
use crate::catalog::Catalog;
use crate::catalog::import::{ImportOptions, NoProgress};
use crate::config::Config;
use crate::services::{Platform, Services};
use crate::store::Store;
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;

/// Binds `addr` and listens with an accept queue of `backlog` (capped by
/// the kernel at `net.core.somaxconn`). `std::net::TcpListener::bind`
/// cannot take a backlog (it always asks for 128), and a server handed an
/// already-listening socket cannot change it afterwards, so the socket is
/// built here with socket2. SO_REUSEADDR as std sets it on Unix.
pub fn bind(addr: std::net::SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    Ok(socket.into())
}

/// Makes every file and directory this process creates from now on owner
/// only (files 0600, directories 0700), whatever umask it was started
/// with: the database and its log, keys, snapshots, backups written to a
/// directory, a restore's output, the mail outbox and the search index all
/// hold secrets or shop data (umask 077, as PostgreSQL sets for its data
/// directory). Files made before (by an older version) keep their modes:
/// `DataDir::exposure` warns of them. Called first by `main`, and by
/// [`Application::build`].
pub fn owner_only_files() {
    // SAFETY: umask only sets this process's file-creation mask.
    unsafe {
        libc::umask(0o077);
    }
}

/// The demo's bootstrap admin token: kept in `file` (made, owner-only, on
/// the first demo start), so a shop tried with `--demo` has admin writes
/// without choosing a token.
fn demo_admin_token(file: &std::path::Path) -> anyhow::Result<crate::config::Secret> {
    if let Ok(text) = std::fs::read_to_string(file) {
        let token = crate::config::Secret::new(text.trim());
        if token.token_problem("admin token").is_none() {
            return Ok(token);
        }
    }
    let token = crate::accounts::tokens::random_secret();
    std::fs::write(file, format!("{token}\n"))
        .with_context(|| format!("writing the demo's admin token to {}", file.display()))?;
    Ok(crate::config::Secret::new(token))
}

pub struct Application {
    port: u16,
    server: Server,
    services: Services,
    /// Writes search analytics every few seconds; stopped at shutdown so it
    /// releases its handle on storage.
    stats_flusher: tokio::task::JoinHandle<()>,
    /// Drops rate-limit keys whose quota is all back (bounded memory under
    /// many distinct clients); stopped at shutdown.
    limit_sweeper: tokio::task::JoinHandle<()>,
    /// Takes the admin overview's samples (`api::live`).
    sampler: tokio::task::JoinHandle<()>,
    /// A follower's loop fetching and applying its leader's commits;
    /// stopped at shutdown.
    follower_loop: Option<tokio::task::JoinHandle<()>>,
}

/// Opens the catalogue in the data dir for a command that serves nothing
/// (import, export, reindex): no search index, no cache, no commit sink.
/// Imports the embedded demo catalogue first when `config.demo` is set and
/// the catalogue is empty.
pub fn open_catalog(config: &Config) -> anyhow::Result<Catalog> {
    let path = config.data.database();
    let store = Store::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let catalog = Catalog::offline(store);
    import_demo(config, &catalog)?;
    Ok(catalog)
}

/// Imports the embedded demo catalogue into an empty leader's catalogue
/// when `config.demo` asks for it.
fn import_demo(config: &Config, catalog: &Catalog) -> anyhow::Result<()> {
    if config.demo && config.replication.follow.is_none() && catalog.is_empty()? {
        let ids = if config.demo_images {
            demo_images(config, catalog)?
        } else {
            Vec::new()
        };
        let report = catalog
            .import(
                crate::catalog::demo::sources_with_images(&ids),
                ImportOptions { strict: true },
                &NoProgress,
            )
            .context("importing the demo catalogue")?;
        tracing::info!(
            records = report.imported(),
            images = ids.len(),
            "imported the demo catalogue"
        );
    }
    Ok(())
}

/// Stores the demo's photos as images, their WebP and JPEG variants made
/// now (a demo start leaves no job running; no AVIF, see
/// `MediaLibrary::upload_without_avif`); their ids.
fn demo_images(config: &Config, catalog: &Catalog) -> anyhow::Result<Vec<String>> {
    let media = crate::services::open_media(catalog.store(), config)?;
    let upload = async {
        let mut ids = Vec::new();
        for (alt, bytes) in crate::catalog::demo::IMAGES {
            let (m, _) = media
                .upload_without_avif(bytes::Bytes::from_static(bytes), Some(alt.to_string()))
                .await?;
            ids.push(m.id.to_string());
        }
        Ok::<_, crate::media::MediaError>(ids)
    };
    // On a blocking thread of a runtime (a server's start) or outside any
    // (`shopd import --demo`-style tools).
    let ids = match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.block_on(upload),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(upload),
    };
    ids.context("storing the demo's photos")
}

/// The platform of a server: the store with its commit sinks, the demo
/// catalogue when asked, a follower's store read-only, then the search
/// index (which indexes what was imported).
fn open_platform(
    config: &Config,
    faults: Option<Arc<crate::store::db::faults::FaultPlan>>,
) -> anyhow::Result<Platform> {
    let path = config.data.database();
    let platform =
        Platform::open(config, faults).with_context(|| format!("opening {}", path.display()))?;
    import_demo(config, &Catalog::offline(platform.store.clone()))?;
    if config.replication.follow.is_some() {
        platform.store.set_read_only();
    }
    let dir = config.data.search();
    platform
        .open_search(&dir)
        .with_context(|| format!("opening the search index in {}", dir.display()))?;
    Ok(platform)
}

/// The `/bench/ceiling` body: a typical product detail as it is served (the
/// median-sized of the first 51 featured products), or 2 KiB of JSON when
/// the catalogue is empty.
fn ceiling_body(catalog: &Catalog) -> anyhow::Result<bytes::Bytes> {
    use crate::domain::listing::{PageRequest, ProductFilter, ProductQuery, ProductSort};
    let mut bodies = Vec::new();
    for page in 1..=3 {
        let q = ProductQuery {
            filter: ProductFilter::default(),
            sort: ProductSort::Featured,
            page: PageRequest::new(page, 17).expect("valid page"),
        };
        let list: serde_json::Value = serde_json::from_slice(&catalog.list_products(&q)?.body)?;
        for item in list["data"].as_array().into_iter().flatten() {
            if let Some(id) = item["id"].as_str() {
                bodies.push(catalog.product_detail(id)?.body);
            }
        }
    }
    bodies.sort_by_key(|b| b.len());
    let body = match bodies.get(bodies.len() / 2) {
        Some(b) => b.clone(),
        None => format!("{{\"data\":\"{}\"}}", "x".repeat(2048)).into_bytes(),
    };
    Ok(bytes::Bytes::from(body))
}

/// How often search analytics are written to storage.
const STATS_FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// What a follower without data answers while it bootstraps: `/health`
/// 200, `/ready` 503 saying so, everything else `503
/// replica_bootstrapping` with `Retry-After`. Served on a copy of the real
/// listening socket, so the port answers from the start and no connection
/// is refused when the real server takes over.
fn bootstrapping_server(listener: TcpListener, leader: String) -> std::io::Result<Server> {
    use crate::api::error::ApiError;
    use actix_web::{HttpRequest, HttpResponse, ResponseError};
    Ok(HttpServer::new(move || {
        let leader = leader.clone();
        App::new().default_service(web::to(move |req: HttpRequest| {
            let leader = leader.clone();
            async move {
                match req.path() {
                    "/health" => HttpResponse::Ok().json(serde_json::json!({"status": "ok"})),
                    "/ready" => HttpResponse::ServiceUnavailable().json(serde_json::json!({
                        "status": "unavailable",
                        "checks": {"replication": format!("bootstrapping from the leader {leader}")}
                    })),
                    _ => ApiError::Unavailable {
                        code: "replica_bootstrapping",
                        message: format!(
                            "this follower is copying its data from the leader {leader}; retry shortly"
                        ),
                        retry_after_secs: 2,
                    }
                    .error_response(),
                }
            }
        }))
    })
    .workers(1)
    .listen(listener)?
    .run())
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        Application::build_with_faults(config, None).await
    }

    /// [`Application::build`] over a store whose I/O fails as `faults`
    /// plans (tests of storage errors; see `store::faults`).
    pub async fn build_with_faults(
        mut config: Config,
        faults: Option<Arc<crate::store::db::faults::FaultPlan>>,
    ) -> anyhow::Result<Application> {
        owner_only_files();
        std::fs::create_dir_all(config.data.path())
            .with_context(|| format!("creating the data dir {}", config.data.path().display()))?;
        if let Some(why) = config.data.exposure() {
            tracing::warn!("{why}");
        }
        if config.demo && config.http.admin_token.is_none() {
            let file = config.data.admin_token();
            config.http.admin_token = Some(demo_admin_token(&file)?);
            tracing::info!(
                file = %file.display(),
                "demo: admin writes take 'Authorization: Bearer <the token in this file>'"
            );
        }
        let listener = bind(config.http.listen, config.http.backlog)
            .with_context(|| format!("binding {}", config.http.listen))?;
        let port = listener.local_addr()?.port();
        let following = config.replication.follow.clone();
        if let Some(leader) = &following
            && !config.data.database().exists()
        {
            tracing::info!(leader = %leader, port, "bootstrapping from the leader");
            let placeholder = bootstrapping_server(listener.try_clone()?, leader.clone())?;
            let handle = placeholder.handle();
            let serving = tokio::spawn(placeholder);
            let done =
                crate::replication::follower::bootstrap(&config.replication, config.data.path())
                    .await;
            handle.stop(true).await;
            let _ = serving.await;
            done.context("bootstrapping from the leader")?;
        }
        let cfg = config.clone();
        let platform = tokio::task::spawn_blocking(move || open_platform(&cfg, faults))
            .await
            .context("opening storage")??;
        let services = Services::build(&platform, &config)?;
        services.accounts.warm().await;
        let catalog = services.catalog.clone();
        // A follower runs no jobs: its leader does, and a follower's store
        // takes no writes.
        if following.is_none() {
            services
                .jobs
                .start()
                .await
                .context("starting the job workers")?;
        }
        let follower_loop = services.replication.start_following();
        let replication = services.replication.clone();
        tokio::spawn(async move { replication.learn_last_backup().await });
        let flusher = catalog.clone();
        let stats_flusher = tokio::spawn(async move {
            let mut tick = tokio::time::interval(STATS_FLUSH_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = flusher.flush_search_stats().await {
                    tracing::warn!(error = format!("{e:#}"), "flushing search analytics failed")
                }
            }
        });
        let ceiling = if config.http.bench_ceiling {
            let c = catalog.clone();
            Some(tokio::task::spawn_blocking(move || ceiling_body(&c)).await??)
        } else {
            None
        };
        let warm = catalog.clone();
        tokio::task::spawn_blocking(move || {
            let start = std::time::Instant::now();
            match warm.warm_up() {
                Ok(n) => tracing::info!(
                    bodies = n,
                    ms = start.elapsed().as_millis() as u64,
                    "cache warmed"
                ),
                Err(e) => tracing::warn!(error = format!("{e:#}"), "cache warm-up failed"),
            }
        });
        let limits = Arc::new(RateLimits::new(
            &config.rate_limits,
            config.http.trusted_proxies.clone(),
        ));
        let sweeping = limits.clone();
        let limit_sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(limiter::SWEEP_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                sweeping.sweep();
            }
        });
        let state = web::Data::new(ApiState {
            services: services.clone(),
            data_dir: config.data.clone(),
            http: HttpSettings {
                admin_token: config.http.admin_token.clone(),
                body_limit: config.http.body_limit,
                limits: config.http.limits,
                ceiling,
            },
            limits: limits.clone(),
        });
        let mut metrics = api::telemetry::metrics::Metrics::new(&services, &limits);
        metrics.token = config.http.metrics_token.clone();
        let metrics = web::Data::new(metrics);
        let live = metrics.live.clone();
        let sampler = tokio::spawn(api::telemetry::live::run(live.clone(), services.clone()));
        let sessions = web::Data::new(crate::admin::session::Sessions::default());
        let security = SecurityHeaders::new(config.http.hsts_max_age_secs);
        let http_cache = api::middleware::http_cache::HttpCache::new(&config.cache.ttls);
        let cors_origins = config.http.cors_origins.clone();
        // One App per worker, as actix-web's HttpServer makes them.
        let app = move || {
            let security = security.clone();
            let http_cache = http_cache.clone();
            App::new()
                .wrap(from_fn(move |req, next| {
                    http_cache.clone().middleware(req, next)
                }))
                .wrap(from_fn(api::middleware::compression::mark_small))
                .wrap(Compress::default())
                .wrap(from_fn(api::middleware::compression::unmark))
                .wrap(api::middleware::cors::middleware(&cors_origins))
                .wrap(from_fn(api::middleware::cors::only_for_listed_origins))
                .wrap(from_fn(move |req, next| {
                    security.clone().middleware(req, next)
                }))
                .wrap(from_fn(api::middleware::replication::layer))
                .wrap(from_fn(api::middleware::request_limits::middleware))
                .wrap(from_fn(api::middleware::request_id::middleware))
                .wrap(from_fn(api::middleware::metrics::middleware))
                .app_data(state.clone())
                .app_data(metrics.clone())
                .app_data(sessions.clone())
                .configure(api::register::configure)
                .configure(crate::admin::configure)
                .default_service(web::to(api::register::not_found))
        };
        // actix-http on every connection, each one an
        // `api::connection::Connection` (the parser's own error answers with
        // the envelope, lingering closes): what actix-web's `HttpServer`
        // does, plus the connection wrapper it has no place for. Limits
        // (see `HttpLimits`): a connection that has not sent its first head
        // in time gets 408 and is closed; an idle keep-alive connection is
        // closed; past the connection limit new connections wait in the
        // accept queue.
        let addr = listener.local_addr()?;
        let limits = api::connection::Limits {
            max_uri_bytes: config.http.limits.max_uri_bytes,
            max_header_bytes: config.http.limits.max_header_bytes,
        };
        let keep_alive = match config.http.limits.keep_alive {
            d if d.is_zero() => actix_http::KeepAlive::Disabled,
            d => actix_http::KeepAlive::Timeout(d),
        };
        let head_timeout = config.http.limits.head_timeout;
        let builder = actix_server::Server::build();
        let shutdown = builder.graceful_shutdown_signal();
        let server = builder
            .workers(config.http.workers)
            .max_concurrent_connections(
                config
                    .http
                    .limits
                    .max_connections
                    .div_ceil(config.http.workers),
            )
            .shutdown_timeout(config.http.shutdown_timeout.as_secs())
            // No `.backlog(…)`: it applies only to sockets the server binds
            // itself; ours is bound (and listening) already, see `bind`.
            .listen("shopd", listener, move || {
                let shutdown = shutdown.clone();
                let live = live.clone();
                let app = actix_service::IntoServiceFactory::into_factory(app())
                    .map_err(|e: actix_web::Error| e.error_response());
                let http = actix_http::HttpService::build()
                    .graceful_shutdown_signal(move || {
                        let s = shutdown.clone();
                        async move { s.notified().await }
                    })
                    .keep_alive(keep_alive)
                    .client_request_timeout(head_timeout)
                    // Time to close, lingering included.
                    .client_disconnect_timeout(
                        api::connection::LINGER + std::time::Duration::from_secs(1),
                    )
                    .h1_allow_half_closed(true)
                    .local_addr(addr)
                    .on_connect_ext(move |_: &api::connection::Connection, ext| {
                        ext.insert(live.connection());
                    })
                    .finish(actix_service::map_config(app, |_| {
                        actix_web::dev::AppConfig::default()
                    }));
                use actix_service::ServiceFactoryExt;
                actix_service::fn_service(move |io: actix_rt::net::TcpStream| {
                    let peer = io.peer_addr().ok();
                    std::future::ready(Ok::<_, actix_http::error::DispatchError>((
                        api::connection::Connection::new(io, limits),
                        actix_http::Protocol::Http1,
                        peer,
                    )))
                })
                .and_then(http)
            })?
            .run();
        tracing::info!(port, data_dir = %config.data.path().display(), "shopd listening");
        Ok(Application {
            port,
            server,
            services,
            stats_flusher,
            limit_sweeper,
            sampler,
            follower_loop,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (gracefully with `stop(true)`) from another task.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped; returns after in-flight requests finished, the
    /// workers released their handles on storage and the database closed.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server,
            services,
            stats_flusher,
            limit_sweeper,
            sampler,
            follower_loop,
            ..
        } = self;
        let result = server.await;
        // Both ran while serving (the sweeper was stopped before serving
        // began until now: rate-limit keys were never swept).
        limit_sweeper.abort();
        sampler.abort();
        let _ = sampler.await;
        if let Some(f) = follower_loop {
            f.abort();
            let _ = f.await;
        }
        // Running jobs finish (or go back to the queue) while storage is
        // still open.
        services.jobs.shutdown().await;
        stats_flusher.abort();
        let _ = stats_flusher.await;
        services.catalog.shutdown_search().await;
        // Closes at once, though the workers' app data may still hold
        // handles for a moment: they are done, and the file is released.
        match services.store().close() {
            Ok(()) => tracing::info!("storage closed"),
            Err(e) => tracing::error!(error = format!("{e:#}"), "closing storage failed"),
        }
        tracing::info!("shopd stopped");
        result
    }
}

#[cfg(test)]
mod tests {
    use super::bind;

    /// The accept queue the kernel gave a listening socket on `port`: `ss`
    /// shows it as Send-Q for sockets in LISTEN state.
    fn listen_backlog(port: u16) -> Option<u32> {
        let out = std::process::Command::new("ss")
            .args(["-ltnH", &format!("sport = :{port}")])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        // State Recv-Q Send-Q Local Peer
        text.lines().next()?.split_whitespace().nth(2)?.parse().ok()
    }

    #[test]
    fn bind_gives_the_listening_socket_the_configured_backlog() {
        // Below the smallest somaxconn a kernel ships (128 before 5.4, 4096
        // after), and not std's own 128, so the value can only come from us.
        let listener = bind("127.0.0.1:0".parse().unwrap(), 77).unwrap();
        let port = listener.local_addr().unwrap().port();
        let backlog = listen_backlog(port)
            .expect("`ss -ltn` reads the backlog (Debian package iproute2; .ci/run installs it)");
        assert_eq!(backlog, 77);
    }
}
