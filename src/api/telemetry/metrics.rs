//! `GET /metrics` in the Prometheus text format (prometheus-client).
//!
//! Per request (the middleware): count and latency per route pattern
//! ([`crate::api::routes::label`]),
//! method and status, and the storage lookups the request made (read
//! transactions begun while its future was polled, so requests sharing a
//! worker thread are told apart). At scrape time (the collector): response
//! cache statistics per kind, how far search is behind storage, job queue
//! depth per queue and state, the age of the oldest due job and the mail
//! circuit breaker. Job outcomes and handler durations are counted by the
//! job workers (`jobs::JobMetrics`), requests refused over a rate limit by
//! the limiters (`api::rate_limit`); both are registered here.

use crate::catalog::Catalog;
use crate::jobs::Jobs;
use crate::services::Services;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::EncodeMetric;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

/// Latency buckets in seconds: 50 µs to 5 s.
const LATENCY_BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];

const LOOKUP_BUCKETS: [f64; 6] = [0.0, 1.0, 2.0, 3.0, 5.0, 10.0];

/// The registry and the per-request metrics; one per server.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
    lookups: Family<RouteLabels, Histogram>,
    lookups_total: Counter,
    /// The last hour and the tracker figures, for the admin overview.
    pub live: std::sync::Arc<crate::api::telemetry::live::Live>,
    /// What `GET /metrics` must present (`--metrics-token`); `None`: open.
    pub token: Option<crate::config::Secret>,
}

impl Metrics {
    pub(crate) fn new(
        services: &Services,
        limits: &crate::api::middleware::rate_limit::limiter::RateLimits,
    ) -> Metrics {
        let catalog = services.catalog.clone();
        let jobs = services.jobs.clone();
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(LATENCY_BUCKETS)) as fn() -> Histogram,
        );
        let lookups = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(LOOKUP_BUCKETS)) as fn() -> Histogram,
        );
        let lookups_total = Counter::default();
        registry.register(
            "shopd_http_requests",
            "HTTP requests by route pattern, method and status",
            requests.clone(),
        );
        registry.register(
            "shopd_http_request_duration_seconds",
            "Time from request to response, by route pattern, method and status",
            latency.clone(),
        );
        registry.register(
            "shopd_storage_lookups_per_request",
            "Storage read transactions (consistent snapshots) a request began",
            lookups.clone(),
        );
        registry.register(
            "shopd_storage_lookups",
            "Storage read transactions begun by HTTP requests",
            lookups_total.clone(),
        );
        let jm = jobs.metrics().clone();
        registry.register(
            "shopd_jobs_processed",
            "Job attempts that ended well, by queue",
            jm.processed,
        );
        registry.register(
            "shopd_jobs_failed",
            "Job attempts that failed (retried or dead), by queue",
            jm.failed,
        );
        registry.register(
            "shopd_jobs_retried",
            "Failed attempts scheduled for a retry, by queue",
            jm.retried,
        );
        registry.register(
            "shopd_jobs_dead",
            "Jobs that ran out of attempts (or failed permanently), by queue",
            jm.dead,
        );
        registry.register(
            "shopd_jobs_postponed",
            "Jobs postponed without spending an attempt (breaker open), by queue",
            jm.postponed,
        );
        registry.register(
            "shopd_job_duration_seconds",
            "Time a job handler ran, by queue",
            jm.duration,
        );
        let am = services.accounts.metrics().clone();
        registry.register(
            "shopd_sign_ins",
            "Sign-in attempts by outcome (ok, invalid_credentials, banned)",
            am.sign_ins,
        );
        registry.register(
            "shopd_token_refreshes",
            "Refresh-token uses by outcome (rotated, reused: a session revoked as stolen, invalid)",
            am.refreshes,
        );
        registry.register(
            "shopd_rate_limited",
            "Requests refused (429) over a rate limit, by class",
            limits.refused(),
        );
        registry.register(
            "shopd_auth_failures",
            "Failed credential checks and sign-ins, by kind (bearer_token, api_key, replication_token, metrics_token, sign_in)",
            limits.failure_counts(),
        );
        registry.register_collector(Box::new(ScrapeTime {
            catalog,
            jobs,
            replication: services.replication.clone(),
        }));
        Metrics {
            registry,
            requests,
            latency,
            lookups,
            lookups_total,
            live: Default::default(),
            token: None,
        }
    }

    pub(crate) fn observe(
        &self,
        route: &'static str,
        method: String,
        status: u16,
        secs: f64,
        lookups: u64,
    ) {
        self.lookups
            .get_or_create(&RouteLabels { route })
            .observe(lookups as f64);
        self.lookups_total.inc_by(lookups);
        let labels = RequestLabels {
            route,
            method,
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(secs);
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Metrics read from the catalogue at each scrape.
struct ScrapeTime {
    catalog: Catalog,
    jobs: Jobs,
    replication: crate::replication::Replication,
}

impl std::fmt::Debug for ScrapeTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScrapeTime")
    }
}

fn per_kind<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: impl Iterator<Item = (&'static str, M)>,
) -> Result<(), std::fmt::Error> {
    let mut values = values.peekable();
    let Some((_, first)) = values.peek() else {
        return Ok(());
    };
    let mut metric = encoder.encode_descriptor(name, help, None, first.metric_type())?;
    for (kind, m) in values {
        let labels = [("kind", kind)];
        m.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

/// `shopd_store_writes_total{outcome}`: writes made durable, and writes
/// undone because their closure failed.
fn per_outcome(
    encoder: &mut DescriptorEncoder,
    values: [(&'static str, u64); 2],
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(
        "shopd_store_writes",
        "Writes through the shared write path, by outcome",
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for (outcome, n) in values {
        ConstCounter::new(n).encode(metric.encode_family(&[("outcome", outcome)])?)?;
    }
    Ok(())
}

impl Collector for ScrapeTime {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.catalog.cache().stats();
        let kinds = || stats.iter().map(|s| (s.name, s));
        per_kind(
            &mut encoder,
            "shopd_cache_hits",
            "Response cache hits",
            kinds().map(|(k, s)| (k, ConstCounter::new(s.hits))),
        )?;
        per_kind(
            &mut encoder,
            "shopd_cache_misses",
            "Response cache misses (computations)",
            kinds().map(|(k, s)| (k, ConstCounter::new(s.misses))),
        )?;
        per_kind(
            &mut encoder,
            "shopd_cache_evictions",
            "Entries evicted to stay within capacity",
            kinds().map(|(k, s)| (k, ConstCounter::new(s.evictions))),
        )?;
        per_kind(
            &mut encoder,
            "shopd_cache_entries",
            "Entries held (including stale ones not yet replaced)",
            kinds().map(|(k, s)| (k, ConstGauge::new(s.entries as i64))),
        )?;
        per_kind(
            &mut encoder,
            "shopd_cache_bytes",
            "Bytes held, as weighed against the capacity",
            kinds().map(|(k, s)| (k, ConstGauge::new(s.bytes as i64))),
        )?;
        per_kind(
            &mut encoder,
            "shopd_cache_hit_ratio",
            "Hits / (hits + misses) since start",
            kinds().map(|(k, s)| {
                let all = s.hits + s.misses;
                let r = if all == 0 {
                    0.0
                } else {
                    s.hits as f64 / all as f64
                };
                (k, ConstGauge::new(r))
            }),
        )?;
        let capacity = ConstGauge::new(self.catalog.cache().capacity() as i64);
        capacity.encode(encoder.encode_descriptor(
            "shopd_cache_capacity_bytes",
            "Response cache capacity (0: off)",
            None,
            capacity.metric_type(),
        )?)?;
        let writes = self.catalog.store().write_stats();
        let commits = ConstCounter::new(writes.commits);
        commits.encode(encoder.encode_descriptor(
            "shopd_store_commits",
            "Durable commits (each covers a batch of writes: group commit)",
            None,
            commits.metric_type(),
        )?)?;
        per_outcome(
            &mut encoder,
            [("kept", writes.kept), ("undone", writes.undone)],
        )?;
        one(
            &mut encoder,
            "shopd_store_writes_stopped",
            "1 after a storage failure: every write is refused until shopd restarts (see /ready)",
            ConstGauge::new(i64::from(self.catalog.store().write_failure().is_some())),
        )?;
        let lag = self.catalog.index_lag();
        let generations = ConstGauge::new(lag.generations as i64);
        generations.encode(encoder.encode_descriptor(
            "shopd_search_index_lag_generations",
            "Committed writes not yet searchable",
            None,
            generations.metric_type(),
        )?)?;
        let age = ConstGauge::new(lag.age.as_secs_f64());
        age.encode(encoder.encode_descriptor(
            "shopd_search_index_lag_seconds",
            "Age of the oldest write not yet searchable (0: caught up)",
            None,
            age.metric_type(),
        )?)?;
        self.encode_replication(&mut encoder)?;
        self.encode_jobs(&mut encoder)
    }
}

/// One unlabelled value.
fn one<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    m: M,
) -> Result<(), std::fmt::Error> {
    let t = m.metric_type();
    m.encode(encoder.encode_descriptor(name, help, None, t)?)
}

impl ScrapeTime {
    fn encode_replication(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let r = &self.replication;
        let position = r.position();
        one(
            encoder,
            "shopd_replication_position",
            "Commits this node's data reflects (X-Generation)",
            ConstGauge::new(position as i64),
        )?;
        if let Some((entries, bytes)) = r.log_size() {
            one(
                encoder,
                "shopd_replication_log_commits",
                "Commits the leader keeps for its followers",
                ConstGauge::new(entries as i64),
            )?;
            one(
                encoder,
                "shopd_replication_log_bytes",
                "Bytes of commits the leader keeps for its followers",
                ConstGauge::new(bytes as i64),
            )?;
        }
        if let Some((every, health)) = r.backup_health() {
            one(
                encoder,
                "shopd_backup_interval_seconds",
                "How often scheduled backups run (--backup-every)",
                ConstGauge::new(every.as_secs() as i64),
            )?;
            if let Some(newest) = health.newest() {
                one(
                    encoder,
                    "shopd_backup_last_success_timestamp_seconds",
                    "When the newest backup in --backup-to was taken (Unix seconds)",
                    ConstGauge::new(newest),
                )?;
            }
            one(
                encoder,
                "shopd_backup_failures",
                "Scheduled backup runs that failed since start",
                ConstCounter::new(health.failures()),
            )?;
        }
        let Some(f) = r.follower() else {
            return Ok(());
        };
        one(
            encoder,
            "shopd_replication_lag_seconds",
            "How old this follower's data may be (-1: never caught up)",
            ConstGauge::new(f.lag_ms().map_or(-1.0, |ms| ms as f64 / 1000.0)),
        )?;
        one(
            encoder,
            "shopd_replication_lag_commits",
            "Commits the leader had that this follower had not, at the last contact",
            ConstGauge::new(f.lag_commits(position) as i64),
        )?;
        one(
            encoder,
            "shopd_replication_last_contact_seconds",
            "Seconds since the leader last answered (-1: never)",
            ConstGauge::new(f.since_contact_secs().unwrap_or(-1.0)),
        )?;
        one(
            encoder,
            "shopd_replication_received_bytes",
            "Bytes received from the leader",
            ConstCounter::new(f.bytes_received.load(Relaxed)),
        )?;
        one(
            encoder,
            "shopd_replication_applied_commits",
            "Leader commits applied",
            ConstCounter::new(f.commits_applied.load(Relaxed)),
        )?;
        one(
            encoder,
            "shopd_replication_rejected_batches",
            "Change batches rejected (checksum, gap or apply failure)",
            ConstCounter::new(f.batches_rejected.load(Relaxed)),
        )?;
        one(
            encoder,
            "shopd_replication_bootstraps",
            "Re-bootstraps from a snapshot while running",
            ConstCounter::new(f.bootstraps.load(Relaxed)),
        )
    }

    fn encode_jobs(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use prometheus_client::metrics::MetricType;
        let stats = match self.jobs.stats() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "reading job queue figures failed");
                Vec::new()
            }
        };
        let mut depth = encoder.encode_descriptor(
            "shopd_jobs",
            "Jobs by queue and state",
            None,
            MetricType::Gauge,
        )?;
        for q in &stats {
            for state in crate::domain::job::JobState::ALL {
                ConstGauge::new(q.counts.get(state) as i64).encode(
                    depth
                        .encode_family(&[("queue", q.queue.as_str()), ("state", state.as_str())])?,
                )?;
            }
        }
        let mut age = encoder.encode_descriptor(
            "shopd_jobs_oldest_due_age_seconds",
            "How long the oldest due job of each queue has waited (0: none)",
            None,
            MetricType::Gauge,
        )?;
        for q in &stats {
            ConstGauge::new(q.oldest_due_age_secs)
                .encode(age.encode_family(&[("queue", q.queue.as_str())])?)?;
        }
        let breaker = self.jobs.mailer().breaker();
        let state = ConstGauge::new(breaker.state().code());
        state.encode(encoder.encode_descriptor(
            "shopd_mail_breaker_state",
            "Mail transport circuit breaker: 0 closed, 1 open, 2 half-open",
            None,
            state.metric_type(),
        )?)?;
        let opened = ConstCounter::new(breaker.times_opened());
        opened.encode(encoder.encode_descriptor(
            "shopd_mail_breaker_opened",
            "Times the mail circuit breaker opened",
            None,
            opened.metric_type(),
        )?)?;
        Ok(())
    }
}
