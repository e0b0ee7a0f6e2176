//! Live figures for the admin overview: the last hour in ring buffers, and
//! the plans' tracker figures since start.
//!
//! The metrics middleware ([`super::metrics::middleware`]) feeds
//! [`Live::observe`] for every request to the API (`/api/…`; not probes,
//! scrapes, docs or the admin pages' own polling, so the overview shows the
//! shop's traffic): a few relaxed atomic additions, no lock. Connections are counted by the server's
//! `on_connect` hook ([`Live::connection`]). A sampler task ([`run`]) wakes
//! every [`SAMPLE_EVERY`], turns the cumulative counters into one
//! [`Sample`] of that interval (rates, latency percentiles from a
//! log-bucketed histogram, cache hit rates per kind, queue and replication
//! state) and keeps the last [`KEEP`] of them.
//!
//! Invariants: counters only grow; a sample's rates are differences of two
//! readings of the same counters, so a sample covers exactly its interval.
//! Percentiles are upper bounds of the bucket they fall in (buckets grow by
//! 25 %, so a figure is at most 25 % high, never low).

use crate::services::Services;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicI64;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use std::time::Instant;

/// How often a sample is taken.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(2);

/// Samples kept: one hour.
pub(crate) const KEEP: usize = 3600 / 2;

/// Latency buckets: bucket `i` holds latencies up to `FIRST_US · GROWTH^i`.
const BUCKETS: usize = 72;

const FIRST_US: f64 = 10.0;

const GROWTH: f64 = 1.25;

/// Shards of the counters: each thread adds into its own (no cache line
/// bounces between workers on the request path); a reading sums them.
const SHARDS: usize = 8;

/// One shard of the cumulative request counters, on its own cache lines.
#[repr(align(128))]
struct Shard {
    requests: AtomicU64,
    server_errors: AtomicU64,
    micros: AtomicU64,
    lookups: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            requests: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            micros: AtomicU64::new(0),
            lookups: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Cumulative counters fed by requests.
struct Counters {
    shards: [Shard; SHARDS],
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            shards: std::array::from_fn(|_| Shard::default()),
        }
    }
}

/// The shard this thread adds into (threads take shards in turn).
fn my_shard() -> usize {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static SHARD: usize = (NEXT.fetch_add(1, Relaxed) as usize) % SHARDS;
    }
    SHARD.with(|s| *s)
}

/// One reading of [`Counters`].
#[derive(Clone, Default)]
struct Reading {
    requests: u64,
    server_errors: u64,
    micros: u64,
    lookups: u64,
    buckets: Vec<u64>,
    cache: Vec<(&'static str, u64, u64)>,
}

impl Counters {
    fn read(&self, services: &Services) -> Reading {
        let sum = |f: &dyn Fn(&Shard) -> &AtomicU64| -> u64 {
            self.shards.iter().map(|s| f(s).load(Relaxed)).sum()
        };
        Reading {
            requests: sum(&|s| &s.requests),
            server_errors: sum(&|s| &s.server_errors),
            micros: sum(&|s| &s.micros),
            lookups: sum(&|s| &s.lookups),
            buckets: (0..BUCKETS).map(|i| sum(&|s| &s.buckets[i])).collect(),
            // Counters only: walking the cache's entries (as a scrape does)
            // every 2 s would hold its shards against the workers.
            cache: services.catalog.cache().hit_counts(),
        }
    }
}

/// One interval's figures, as the overview charts them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Sample {
    /// End of the interval, Unix milliseconds.
    pub t: i64,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Share of requests answered 5xx, in percent.
    pub error_pct: f64,
    /// Hit rate per cache kind, in percent (`None`: no lookups of the kind).
    pub cache_hit_pct: Vec<(&'static str, Option<f64>)>,
    pub lookups_per_request: f64,
    pub index_lag_secs: f64,
    pub jobs_due: u64,
    pub oldest_job_secs: f64,
    /// Per follower (on a leader) or this follower's own lag, in seconds.
    pub replication_lag_secs: Vec<(String, f64)>,
    pub memory_bytes: u64,
    pub connections: i64,
    pub ready: bool,
}

/// A tracker row: one of the plans' figures against its week-16 target.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TrackerRow {
    pub metric: &'static str,
    pub value: String,
    pub target: &'static str,
    /// `None` when there is nothing to judge yet (no requests).
    pub met: Option<bool>,
}

/// What the overview's JSON endpoint answers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Overview {
    pub uptime_secs: u64,
    pub sample_every_secs: u64,
    pub samples: Vec<Sample>,
    pub tracker: Vec<TrackerRow>,
    pub totals: Totals,
}

/// Figures since start.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Totals {
    pub requests: u64,
    pub server_errors: u64,
    pub avg_ms: f64,
    pub p95_ms: f64,
    pub lookups_per_request: f64,
    pub cache_hit_pct: Option<f64>,
    pub max_connections: u64,
    pub availability_pct: f64,
}

/// The recorder; one per server, shared by workers and the sampler.
pub(crate) struct Live {
    started: Instant,
    counters: Counters,
    connections: AtomicI64,
    max_connections: AtomicU64,
    ring: Mutex<VecDeque<Sample>>,
    samples_taken: AtomicU64,
    samples_ready: AtomicU64,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            started: Instant::now(),
            counters: Counters::default(),
            connections: AtomicI64::new(0),
            max_connections: AtomicU64::new(0),
            ring: Mutex::new(VecDeque::with_capacity(KEEP)),
            samples_taken: AtomicU64::new(0),
            samples_ready: AtomicU64::new(0),
        }
    }
}

fn bucket_of(micros: u64) -> usize {
    if micros as f64 <= FIRST_US {
        return 0;
    }
    let i = ((micros as f64 / FIRST_US).ln() / GROWTH.ln()).ceil() as usize;
    i.min(BUCKETS - 1)
}

fn bucket_upper_ms(i: usize) -> f64 {
    FIRST_US * GROWTH.powi(i as i32) / 1000.0
}

/// The `q` quantile (0–1) of bucket counts, as its bucket's upper bound.
fn quantile(buckets: &[u64], q: f64) -> f64 {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return bucket_upper_ms(i);
        }
    }
    bucket_upper_ms(BUCKETS - 1)
}

fn pct(part: u64, all: u64) -> Option<f64> {
    (all > 0).then(|| 100.0 * part as f64 / all as f64)
}

/// Drops a connection from the count when the server drops the connection.
pub(crate) struct ConnectionGuard(Arc<Live>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Relaxed);
    }
}

impl Live {
    /// One request answered (not an admin page).
    pub(crate) fn observe(&self, status: u16, elapsed: Duration, lookups: u64) {
        let c = &self.counters.shards[my_shard()];
        let micros = elapsed.as_micros() as u64;
        c.requests.fetch_add(1, Relaxed);
        if status >= 500 {
            c.server_errors.fetch_add(1, Relaxed);
        }
        c.micros.fetch_add(micros, Relaxed);
        c.lookups.fetch_add(lookups, Relaxed);
        c.buckets[bucket_of(micros)].fetch_add(1, Relaxed);
    }

    /// A connection opened; the guard counts it closed when dropped.
    pub(crate) fn connection(self: &Arc<Self>) -> ConnectionGuard {
        let open = self.connections.fetch_add(1, Relaxed) + 1;
        self.max_connections.fetch_max(open.max(0) as u64, Relaxed);
        ConnectionGuard(self.clone())
    }

    /// The samples after `since` (Unix ms; 0: all), the tracker and totals.
    pub(crate) fn overview(&self, services: &Services, since: i64) -> Overview {
        let samples = self
            .ring
            .lock()
            .map(|r| r.iter().filter(|s| s.t > since).cloned().collect())
            .unwrap_or_default();
        let totals = self.totals(services);
        Overview {
            uptime_secs: self.started.elapsed().as_secs(),
            sample_every_secs: SAMPLE_EVERY.as_secs(),
            samples,
            tracker: tracker(&totals),
            totals,
        }
    }

    fn totals(&self, services: &Services) -> Totals {
        let r = self.counters.read(services);
        let (hits, misses) = r
            .cache
            .iter()
            .fold((0, 0), |(h, m), (_, hi, mi)| (h + hi, m + mi));
        let taken = self.samples_taken.load(Relaxed);
        let ready = self.samples_ready.load(Relaxed);
        Totals {
            requests: r.requests,
            server_errors: r.server_errors,
            avg_ms: if r.requests == 0 {
                0.0
            } else {
                r.micros as f64 / r.requests as f64 / 1000.0
            },
            p95_ms: quantile(&r.buckets, 0.95),
            lookups_per_request: if r.requests == 0 {
                0.0
            } else {
                r.lookups as f64 / r.requests as f64
            },
            cache_hit_pct: pct(hits, hits + misses),
            max_connections: self.max_connections.load(Relaxed),
            availability_pct: pct(ready, taken).unwrap_or(100.0),
        }
    }

    fn sample(&self, services: &Services, before: &Reading, now: &Reading, secs: f64) -> Sample {
        let requests = now.requests - before.requests;
        let buckets: Vec<u64> = now
            .buckets
            .iter()
            .zip(&before.buckets)
            .map(|(a, b)| a - b)
            .collect();
        let cache_hit_pct = now
            .cache
            .iter()
            .map(|&(kind, hits, misses)| {
                let (h0, m0) = before
                    .cache
                    .iter()
                    .find(|(k, _, _)| *k == kind)
                    .map_or((0, 0), |&(_, h, m)| (h, m));
                let (h, m) = (hits - h0, misses - m0);
                (kind, pct(h, h + m))
            })
            .collect();
        let jobs = services.jobs.stats().unwrap_or_default();
        let replication = &services.replication;
        let replication_lag_secs = match replication.follower() {
            Some(f) => vec![(
                "this follower".to_string(),
                f.lag_ms().map_or(-1.0, |ms| ms as f64 / 1000.0),
            )],
            None => replication
                .followers()
                .into_iter()
                .map(|f| (f.name, f.lag_secs))
                .collect(),
        };
        let ready = services.catalog.check_ready().is_ok()
            && replication.follower().is_none_or(|f| f.readiness().is_ok());
        Sample {
            t: crate::domain::Timestamp::now().millis(),
            requests_per_sec: requests as f64 / secs,
            p50_ms: quantile(&buckets, 0.50),
            p95_ms: quantile(&buckets, 0.95),
            p99_ms: quantile(&buckets, 0.99),
            error_pct: pct(now.server_errors - before.server_errors, requests).unwrap_or(0.0),
            cache_hit_pct,
            lookups_per_request: if requests == 0 {
                0.0
            } else {
                (now.lookups - before.lookups) as f64 / requests as f64
            },
            index_lag_secs: services.catalog.index_lag().age.as_secs_f64(),
            jobs_due: jobs.iter().map(|q| q.counts.queued).sum(),
            oldest_job_secs: jobs
                .iter()
                .map(|q| q.oldest_due_age_secs)
                .fold(0.0, f64::max),
            replication_lag_secs,
            memory_bytes: resident_bytes(),
            connections: self.connections.load(Relaxed),
            ready,
        }
    }
}

/// The plans' tracker rows, against the week-16 targets.
fn tracker(t: &Totals) -> Vec<TrackerRow> {
    let any = t.requests > 0;
    let judged = |ok: bool| any.then_some(ok);
    vec![
        TrackerRow {
            metric: "API response time (avg)",
            value: format!("{:.2} ms", t.avg_ms),
            target: "< 20 ms",
            met: judged(t.avg_ms < 20.0),
        },
        TrackerRow {
            metric: "API response time (p95)",
            value: format!("{:.2} ms", t.p95_ms),
            target: "< 50 ms",
            met: judged(t.p95_ms < 50.0),
        },
        TrackerRow {
            metric: "Database queries per request",
            value: format!("{:.2}", t.lookups_per_request),
            target: "1–2",
            met: judged(t.lookups_per_request <= 2.0),
        },
        TrackerRow {
            metric: "Cache hit rate",
            value: t.cache_hit_pct.map_or("–".into(), |p| format!("{p:.1} %")),
            target: "> 85 %",
            met: t.cache_hit_pct.map(|p| p > 85.0),
        },
        TrackerRow {
            metric: "Max concurrent connections",
            value: t.max_connections.to_string(),
            target: "> 100K users",
            met: judged(t.max_connections > 100_000),
        },
        TrackerRow {
            metric: "Error rate (5xx)",
            value: format!("{:.3} %", pct(t.server_errors, t.requests).unwrap_or(0.0)),
            target: "< 0.1 %",
            met: judged(pct(t.server_errors, t.requests).unwrap_or(0.0) < 0.1),
        },
        TrackerRow {
            metric: "Uptime (ready samples)",
            value: format!("{:.2} %", t.availability_pct),
            target: "> 99.95 %",
            met: Some(t.availability_pct > 99.95),
        },
    ]
}

/// Resident memory from `/proc/self/statm` (0 where there is none).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// The sampler: one [`Sample`] every [`SAMPLE_EVERY`] until the task is
/// aborted.
pub(crate) async fn run(live: Arc<Live>, services: Services) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut before = live.counters.read(&services);
    let mut at = Instant::now();
    loop {
        tick.tick().await;
        let l = live.clone();
        let s = services.clone();
        let prev = before.clone();
        let secs = at.elapsed().as_secs_f64().max(0.001);
        at = Instant::now();
        // Reading job and cache figures touches storage: off the workers.
        let (now, sample) = match tokio::task::spawn_blocking(move || {
            let now = l.counters.read(&s);
            let sample = l.sample(&s, &prev, &now, secs);
            (now, sample)
        })
        .await
        {
            Ok(taken) => taken,
            Err(e) => {
                tracing::warn!(error = %e, "taking a live sample failed");
                continue;
            }
        };
        before = now;
        live.samples_taken.fetch_add(1, Relaxed);
        if sample.ready {
            live.samples_ready.fetch_add(1, Relaxed);
        }
        if let Ok(mut ring) = live.ring.lock() {
            if ring.len() == KEEP {
                ring.pop_front();
            }
            ring.push_back(sample);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quantile_is_the_upper_bound_of_its_bucket_never_below_the_true_value() {
        let mut b = vec![0u64; BUCKETS];
        for micros in [100u64, 200, 300, 400, 5_000] {
            b[bucket_of(micros)] += 1;
        }
        let p50 = quantile(&b, 0.5);
        assert!((0.3..=0.3 * GROWTH).contains(&p50), "{p50}");
        let p99 = quantile(&b, 0.99);
        assert!((5.0..=5.0 * GROWTH).contains(&p99), "{p99}");
        assert_eq!(quantile(&vec![0; BUCKETS], 0.5), 0.0);
    }

    #[test]
    fn tracker_rows_are_unjudged_without_traffic_and_judged_against_the_targets() {
        let mut t = Totals {
            requests: 0,
            server_errors: 0,
            avg_ms: 0.0,
            p95_ms: 0.0,
            lookups_per_request: 0.0,
            cache_hit_pct: None,
            max_connections: 0,
            availability_pct: 100.0,
        };
        assert!(tracker(&t)[..5].iter().all(|r| r.met.is_none()));
        t.requests = 10_000;
        t.server_errors = 20;
        t.avg_ms = 3.0;
        t.p95_ms = 60.0;
        t.lookups_per_request = 1.0;
        t.cache_hit_pct = Some(90.0);
        let rows = tracker(&t);
        let met: Vec<_> = rows.iter().map(|r| r.met).collect();
        assert_eq!(
            met,
            [
                Some(true),
                Some(false),
                Some(true),
                Some(true),
                Some(false),
                Some(false),
                Some(true)
            ]
        );
    }
}
