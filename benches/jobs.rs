//! The job queue: jobs processed per second (no-op handler; email written
//! by the file transport), and what an enqueue adds to a product write.
//!
//! ```sh
//! cargo bench --bench jobs        # writes target/bench-data/jobs-results.md
//! ```
//! `JOB_ROUNDS` (default 3) rounds of each figure; medians and ranges.
//! In-process (no HTTP): the store, the workers and the outbox are the real
//! ones, in a temp dir under `target/bench-data`.

#[path = "common/mod.rs"]
mod common;

use common::median_range;

use shopd::catalog::Catalog;
use shopd::config::jobs::QueueSettings;
use shopd::domain::Timestamp;
use shopd::domain::job::NOTIFICATIONS;
use shopd::domain::job::NewJob;
use shopd::jobs::mail::EmailJob;
use shopd::jobs::{KIND_EMAIL, KIND_NOOP};
use shopd::services::{Platform, Services};
use shopd::store::{Store, StoreError};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

fn rounds() -> usize {
    common::rounds("JOB_ROUNDS")
}

fn job(kind: &str, i: u64) -> NewJob {
    let payload = if kind == KIND_EMAIL {
        serde_json::to_string(&EmailJob {
            template: "notification".into(),
            to: format!("c{i}@example.com"),
            vars: serde_json::json!({"subject": "Hello", "message": "A benchmark message"})
                .as_object()
                .unwrap()
                .clone(),
            secret: Default::default(),
            sealed: None,
        })
        .unwrap()
    } else {
        "{}".into()
    };
    NewJob {
        queue: NOTIFICATIONS.into(),
        kind: kind.into(),
        payload,
        max_attempts: 2,
        backoff_ms: 1_000,
        run_at: Timestamp::now(),
        unique_key: None,
    }
}

/// Enqueues `n` jobs of `kind`, starts workers with `concurrency`, and
/// returns jobs/s from start to the last one done.
fn throughput(rt: &tokio::runtime::Runtime, kind: &str, n: u64, concurrency: usize) -> f64 {
    let dir = tempfile::tempdir_in(common::bench_dir()).unwrap();
    let mut raw = shopd::config::Raw::default();
    raw.common.data_dir = Some(dir.path().to_path_buf());
    let mut config = shopd::config::Config::from_raw(raw).unwrap();
    for q in &mut config.jobs.queues {
        if q.name == NOTIFICATIONS {
            *q = QueueSettings {
                concurrency,
                ..q.clone()
            };
        }
    }
    let platform = Platform::open(&config, None).unwrap();
    let store = platform.store.clone();
    for chunk in 0..n.div_ceil(1_000) {
        let kind = kind.to_string();
        store
            .write_blocking(move |tx| {
                for i in chunk * 1_000..((chunk + 1) * 1_000).min(n) {
                    tx.jobs().enqueue(job(&kind, i), Timestamp::now())?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
    let services = Services::build(&platform, &config).unwrap();
    let jobs = services.jobs.clone();
    let start = Instant::now();
    rt.block_on(async {
        jobs.start().await.unwrap();
        loop {
            let stats = jobs.stats().unwrap();
            let q = stats.iter().find(|q| q.queue == NOTIFICATIONS).unwrap();
            if q.counts.done >= n {
                break;
            }
            assert!(q.counts.dead == 0, "no job may fail here");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let secs = start.elapsed().as_secs_f64();
    rt.block_on(jobs.shutdown());
    drop(services);
    n as f64 / secs
}

/// p50 and p99 (ms) of sequential product writes, each with or without an
/// email enqueued in the same transaction; A and B interleaved.
fn enqueue_cost(writes: usize) -> ((f64, f64), (f64, f64)) {
    let dir = tempfile::tempdir_in(common::bench_dir()).unwrap();
    let store = Store::open(&dir.path().join("shopd.redb")).unwrap();
    let catalog = Catalog::offline(store.clone());
    catalog
        .import(
            shopd::catalog::demo::sources(),
            shopd::catalog::import::ImportOptions { strict: true },
            &shopd::catalog::import::NoProgress,
        )
        .unwrap();
    let mut first = None;
    store
        .export(shopd::store::RecordTable::Products, |r| {
            if let (None, shopd::store::ExportRecord::Product(p)) = (&first, r) {
                first = Some(p);
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let template = first.expect("the demo has products");
    let (mut plain, mut with) = (Vec::new(), Vec::new());
    for i in 0..writes * 2 {
        let enqueue = i % 2 == 1;
        let mut p = template.clone();
        p.id = shopd::domain::Id::generate("p");
        let start = Instant::now();
        store
            .write_blocking(move |tx| {
                tx.catalog().put_product(&p)?;
                if enqueue {
                    tx.jobs()
                        .enqueue(job(KIND_EMAIL, i as u64), Timestamp::now())?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if enqueue {
            with.push(ms)
        } else {
            plain.push(ms)
        }
    }
    let pct = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (v[v.len() / 2], v[v.len() * 99 / 100])
    };
    (pct(plain), pct(with))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut out = String::from("# Job queue results\n\n");
    let _ = writeln!(
        out,
        "In-process, 2 cores, {} rounds; medians [range].\n\n| figure | value |\n|---|---:|",
        rounds()
    );
    for (label, kind, n, conc) in [
        (
            "no-op jobs/s, concurrency 10 (emails' default)",
            KIND_NOOP,
            20_000,
            10,
        ),
        ("no-op jobs/s, concurrency 64", KIND_NOOP, 20_000, 64),
        (
            "email jobs/s to the file outbox, concurrency 10",
            KIND_EMAIL,
            3_000,
            10,
        ),
    ] {
        let runs: Vec<f64> = (0..rounds())
            .map(|_| throughput(&rt, kind, n, conc))
            .collect();
        eprintln!("{label}: {runs:?}");
        let (m, lo, hi) = median_range(runs);
        let _ = writeln!(out, "| {label} | {m:.0} [{lo:.0}–{hi:.0}] |");
    }
    let mut p50s = (Vec::new(), Vec::new());
    let mut p99s = (Vec::new(), Vec::new());
    for _ in 0..rounds() {
        let ((a50, a99), (b50, b99)) = enqueue_cost(1_000);
        eprintln!(
            "product write p50/p99 ms: plain {a50:.3}/{a99:.3}, with enqueue {b50:.3}/{b99:.3}"
        );
        p50s.0.push(a50);
        p50s.1.push(b50);
        p99s.0.push(a99);
        p99s.1.push(b99);
    }
    let (a50, ..) = median_range(p50s.0);
    let (b50, ..) = median_range(p50s.1);
    let (a99, ..) = median_range(p99s.0);
    let (b99, ..) = median_range(p99s.1);
    let _ = writeln!(
        out,
        "| product write p50 / p99 ms, alone | {a50:.3} / {a99:.3} |\n| product write p50 / p99 ms, with an email enqueued in the same write | {b50:.3} / {b99:.3} |\n| enqueue's share of a write's p50 | {:+.1} % |",
        (b50 / a50 - 1.0) * 100.0
    );
    println!("{out}");
    let path = common::bench_dir().join("jobs-results.md");
    std::fs::write(&path, out).unwrap();
    eprintln!("wrote {}", path.display());
}
