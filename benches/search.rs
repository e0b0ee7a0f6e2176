//! Search benchmarks at catalogue scale (a custom harness: criterion reports
//! means, and the targets here are percentiles).
//!
//! `cargo bench --bench search` — 100K products by default
//! (`SHOPD_BENCH_PRODUCTS` to change), the same cached catalogue as the store
//! bench, copied so the write phase leaves the cache untouched. Prints a
//! markdown table and writes `target/bench-data/N/search-results.json`.
//!
//! Phases:
//! 1. **build**: `Catalog::reindex` of every product into a fresh index, three
//!    times; the median is reported (target ≤ 20 s at 100K).
//! 2. **query**: one client, 1–3 word queries taken from product titles, 10 %
//!    with one typo (a transposition or a substitution in a 5+ letter word),
//!    facets always on, page of 20. Measured twice: the engine alone
//!    (`SearchIndex::search`: hits, total, facets) and the whole response
//!    (`Catalog::search`: plus records, highlights and JSON), p50/p90/p99/max
//!    (target p99 ≤ 5 ms).
//! 3. **write while searching**: one thread updates product titles (each a
//!    durable commit with a unique new word) as fast as it can, one thread
//!    searches; reported: writes/s, search p50/p99 during writes, and the
//!    time from a write's acknowledgement until its new word is found (every
//!    25th write), then every written word is checked to find exactly its
//!    product (correctness, must be 0 misses). Each product is written at
//!    most once.

mod common;

use common::{Rng, bench_dir, database, queries};
use serde_json::json;
use shopd::catalog::Catalog;
use shopd::domain::InputMode;
use shopd::domain::listing::{PageRequest, ProductFilter};
use shopd::domain::product::ProductDraft;
use shopd::domain::search::{SearchQuery, SearchSort, SuggestQuery, Synonyms};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

const QUERIES: usize = 5_000;
const WARMUP: usize = 500;

/// Seconds of the write phase: `SEARCH_WRITE_SECS`, else 10 (0 skips it).
fn write_phase() -> Duration {
    let secs = std::env::var("SEARCH_WRITE_SECS")
        .ok()
        .and_then(|s| s.parse().ok());
    Duration::from_secs(secs.unwrap_or(10))
}

/// Index builds: `SEARCH_BUILD_RUNS`, else 3.
fn build_runs() -> usize {
    common::rounds("SEARCH_BUILD_RUNS")
}

fn query(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.to_string(),
        filter: ProductFilter::default(),
        sort: SearchSort::Relevance,
        page: PageRequest::new(1, 20).unwrap(),
    }
}

#[derive(serde::Serialize, Clone, Copy)]
struct Percentiles {
    n: usize,
    p50_us: f64,
    p90_us: f64,
    p99_us: f64,
    max_us: f64,
}

fn percentiles(mut v: Vec<Duration>) -> Percentiles {
    if v.is_empty() {
        v.push(Duration::ZERO);
    }
    v.sort();
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e6;
    Percentiles {
        n: v.len(),
        p50_us: at(0.5),
        p90_us: at(0.9),
        p99_us: at(0.99),
        max_us: at(1.0),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let root = bench_dir();
    let store = database();
    let n_products = store.read().unwrap().catalog().counts().unwrap().products;
    drop(store);
    let work = tempfile::tempdir_in(&root).unwrap();
    let db = work.path().join("shopd.redb");
    std::fs::copy(root.join("db/shopd.redb"), &db).unwrap();
    let offline = Catalog::offline(shopd::store::Store::open(&db).unwrap());

    // 1. build
    let mut builds = Vec::new();
    let search_dir = work.path().join("search");
    for run in 0..build_runs() {
        let started = Instant::now();
        let n = offline.reindex(&search_dir, &|_, _| {}).unwrap();
        let s = started.elapsed().as_secs_f64();
        eprintln!("build {run}: {n} products in {s:.2} s");
        builds.push(s);
    }
    let build_s = median(builds.clone());
    let index_bytes: u64 = std::fs::read_dir(&search_dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();

    // 2. query latency, one client: the platform and services as the
    // server builds them (commits feed search indexing).
    offline.store().close().unwrap();
    let (_platform, services) = common::search_services(work.path(), &search_dir);
    let catalog = services.catalog.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let index = catalog.search_index().unwrap().clone();
    let (qs, typos) = queries(&catalog, QUERIES + WARMUP, 42);
    let none = Synonyms::default();
    let filter = ProductFilter::default();
    let mut hits_total = 0u64;
    let mut zero = 0usize;
    let mut engine = Vec::with_capacity(QUERIES);
    let mut slowest: Vec<(Duration, String, u64, bool)> = Vec::new();
    for (i, q) in qs.iter().enumerate() {
        let t = Instant::now();
        let hits = index
            .search(q, &filter, SearchSort::Relevance, 0, 20, &none)
            .unwrap();
        if i >= WARMUP {
            let took = t.elapsed();
            engine.push(took);
            hits_total += hits.total;
            zero += (hits.total == 0) as usize;
            slowest.push((took, q.clone(), hits.total, hits.relaxed));
        }
    }
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (took, q, total, relaxed) in slowest.iter().take(8) {
        eprintln!("slow: {took:?} {q:?} total={total} relaxed={relaxed}");
    }
    let mut full = Vec::with_capacity(QUERIES);
    for (i, q) in qs.iter().enumerate() {
        let q = query(q);
        let t = Instant::now();
        std::hint::black_box(catalog.search(&q).unwrap());
        if i >= WARMUP {
            full.push(t.elapsed());
        }
    }
    let engine = percentiles(engine);
    let full = percentiles(full);

    // 2b. search as you type: every prefix of 2+ characters of the first
    // 1,000 queries, one keystroke after another, engine and whole answer.
    let keystrokes: Vec<String> = qs
        .iter()
        .take(1_000)
        .flat_map(|q| {
            let chars: Vec<char> = q.chars().collect();
            (2..=chars.len())
                .map(move |n| chars[..n].iter().collect::<String>())
                .filter(|p| !p.ends_with(' '))
        })
        .collect();
    let mut suggest_engine = Vec::with_capacity(keystrokes.len());
    let mut slowest: Vec<(Duration, &String, u64)> = Vec::new();
    for k in &keystrokes {
        let t = Instant::now();
        let s = index.suggest(k, 5, &none).unwrap();
        suggest_engine.push(t.elapsed());
        slowest.push((t.elapsed(), k, s.hits.total));
    }
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (took, k, total) in slowest.iter().take(5) {
        eprintln!("slow keystroke: {took:?} {k:?} total={total}");
    }
    let mut suggest_full = Vec::with_capacity(keystrokes.len());
    for k in &keystrokes {
        let q = SuggestQuery {
            text: k.clone(),
            limit: 5,
        };
        let t = Instant::now();
        std::hint::black_box(catalog.suggest(&q).unwrap());
        suggest_full.push(t.elapsed());
    }
    let suggest_engine = percentiles(suggest_engine);
    let suggest_full = percentiles(suggest_full);

    // 3. writes while searching
    let stop = Arc::new(AtomicBool::new(false));
    let searcher = {
        let catalog = catalog.clone();
        let stop = stop.clone();
        let qs = qs.clone();
        std::thread::spawn(move || {
            let mut lat = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let q = query(&qs[i % qs.len()]);
                let t = Instant::now();
                std::hint::black_box(catalog.search(&q).unwrap());
                lat.push(t.elapsed());
                i += 1;
            }
            lat
        })
    };
    let (lag_tx, lag_rx) = mpsc::channel::<(String, Instant)>();
    let lag_checker = {
        let index = index.clone();
        std::thread::spawn(move || {
            let mut lags = Vec::new();
            for (word, acked) in lag_rx {
                loop {
                    let hits = index
                        .search(
                            &word,
                            &ProductFilter::default(),
                            SearchSort::Relevance,
                            0,
                            1,
                            &Synonyms::default(),
                        )
                        .unwrap();
                    if hits.total > 0 {
                        lags.push(acked.elapsed());
                        break;
                    }
                    assert!(
                        acked.elapsed() < Duration::from_secs(10),
                        "{word} never found"
                    );
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            lags
        })
    };
    let mut written: Vec<(String, String)> = Vec::new();
    let mut rng = Rng(7);
    let started = Instant::now();
    // Each product is written once: a product written again would take its
    // earlier word out of the index, and the lag check wait for it forever
    // (at today's write rates the 15,000th write or so hit one).
    let mut written_ids = std::collections::HashSet::new();
    while started.elapsed() < write_phase() && written_ids.len() < n_products as usize {
        let n = rng.below(n_products as usize) + 1;
        if !written_ids.insert(n) {
            continue;
        }
        let id = format!("prod-{n:06}");
        // a letter after the number: no word is a prefix of another
        let word = format!("benchword{}z", written.len());
        let body = json!({"title": format!("Updated Widget {word}")});
        let draft = ProductDraft::parse(body.as_object().unwrap(), InputMode::Patch);
        runtime
            .block_on(catalog.update_product(&id, draft))
            .unwrap();
        if written.len().is_multiple_of(25) {
            lag_tx.send((word.clone(), Instant::now())).unwrap();
        }
        written.push((word, id));
    }
    let write_secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    drop(lag_tx);
    let during = percentiles(searcher.join().unwrap());
    let lag = percentiles(lag_checker.join().unwrap());
    // every write findable by its word, as its product only
    std::thread::sleep(Duration::from_secs(1));
    let mut misses = 0;
    for (word, id) in &written {
        let hits = index
            .search(word, &filter, SearchSort::Relevance, 0, 5, &none)
            .unwrap();
        if hits.ids != [id.clone()] {
            misses += 1;
        }
    }
    let writes_per_s = written.len() as f64 / write_secs;
    runtime.block_on(catalog.shutdown_search());

    let ms = |us: f64| us / 1000.0;
    println!("\n## Search at {n_products} products (single client, facets on)\n");
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| index build (median of {}) | {build_s:.2} s ({:.0} products/s), index {:.0} MiB |",
        builds.len(),
        n_products as f64 / build_s,
        index_bytes as f64 / 1048576.0
    );
    println!(
        "| queries | {} measured ({} with a typo of {} generated), {:.1} % zero-hit, {:.0} hits avg |",
        QUERIES,
        typos,
        QUERIES + WARMUP,
        zero as f64 * 100.0 / QUERIES as f64,
        hits_total as f64 / QUERIES as f64
    );
    for (name, p) in [
        ("engine (hits+facets)", engine),
        ("full response (JSON)", full),
        ("suggest, engine (keystrokes)", suggest_engine),
        ("suggest, full response", suggest_full),
        ("full response during writes", during),
    ] {
        println!(
            "| {name} | p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n={}) |",
            ms(p.p50_us),
            ms(p.p90_us),
            ms(p.p99_us),
            ms(p.max_us),
            p.n
        );
    }
    println!(
        "| durable writes while searching | {writes_per_s:.0}/s ({} writes), {misses} not findable after 1 s |",
        written.len()
    );
    println!(
        "| write → searchable | p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (n={}) |",
        ms(lag.p50_us),
        ms(lag.p99_us),
        ms(lag.max_us),
        lag.n
    );
    let results = json!({
        "products": n_products,
        "build_seconds": builds,
        "build_median_seconds": build_s,
        "index_bytes": index_bytes,
        "queries": QUERIES,
        "typo_queries": typos,
        "zero_hit_queries": zero,
        "engine": engine,
        "full": full,
        "suggest_engine": suggest_engine,
        "suggest_full": suggest_full,
        "full_during_writes": during,
        "writes_per_second": writes_per_s,
        "writes": written.len(),
        "not_findable_after_1s": misses,
        "write_to_searchable": lag,
    });
    let out = root.join("search-results.json");
    std::fs::write(&out, serde_json::to_vec_pretty(&results).unwrap()).unwrap();
    println!("\n(written to {})", out.display());
    assert_eq!(misses, 0, "every write is searchable");
}
