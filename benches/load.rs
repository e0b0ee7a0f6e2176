//! The HTTP load harness: shopd in release mode, driven by wrk over loopback.
//!
//! `cargo bench --bench load` — 100K products by default
//! (`SHOPD_BENCH_PRODUCTS`), the cached catalogue of the other benches,
//! copied so the run leaves it untouched. Installs wrk when missing
//! (apt-get). Writes `target/bench-data/N/load-results.md` (a markdown table,
//! the targets, and the same figures as JSON) and `load-results.json`.
//!
//! Scenarios, each warmed (same load, unmeasured) then measured, at 64
//! keep-alive connections:
//! - `ceiling`: `GET /bench/ceiling`, a fixed pre-rendered product detail
//!   through the same middleware — the most this binary can answer;
//! - `detail_hot`: product details, Zipf over the 1,000 most popular
//!   products (all cached: the hit path);
//! - `detail_zipf`: product details, Zipf (s = 1.0) over all products;
//! - `lists`: lists with random filters, sorts and pages;
//! - `search`: 1–3 title words, 10 % with a typo;
//! - `mixed`: 40 % lists, 40 % details, 15 % search, 5 % brands/categories;
//!
//! then `mixed` at 10,000 connections, each a user who waits 1–3 s between
//! requests (wrk's `delay` hook; file limits and the accept queue raised),
//! and `mixed` at 64 connections once more with a 512 MiB cache, which holds
//! the whole working set (the 64 MiB default does not). Durations: `LOAD_WARM_SECS` (5), `LOAD_SECS` (15),
//! `LOAD_C10K_SECS` (20). `SHOPD_BENCH_BIN=path` measures another shopd build
//! (e.g. the previous commit's) with the same harness.

mod common;

use common::load::{
    Measured, Scenario, Server, Warm, Workloads, copy_database, ensure_wrk, env_secs, free_port,
    measure, raise_accept_queue, table,
};
use common::{bench_dir, database};
use shopd::catalog::Catalog;
use std::time::Duration;

const CONNECTIONS: usize = 64;
const C10K: usize = 10_000;

/// Users' think time between requests in the 10,000-connection run.
const THINK_MS: (u32, u32) = (1_000, 3_000);
/// The cache size of the extra mixed run: the whole working set fits.
const BIG_CACHE_MIB: u64 = 512;

fn start(work: &std::path::Path, cache_mib: Option<u64>) -> Server {
    let port = free_port();
    let mut args: Vec<String> = [
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
        &work.join("data").display().to_string(),
        "--bench-ceiling",
        "--log-level",
        "warn",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let name = match cache_mib {
        Some(mib) => {
            args.extend(["--cache-bytes".into(), (mib << 20).to_string()]);
            format!("shopd ({mib} MiB cache)")
        }
        None => "shopd".to_string(),
    };
    Server::spawn(&name, &common::shopd_bin(), &args, &[])
}

fn main() {
    ensure_wrk();
    raise_accept_queue();
    let root = bench_dir();
    let workloads = {
        let store = database();
        let w = Workloads::new(&Catalog::offline(store.clone()), 7);
        drop(store);
        w
    };
    let mixed = workloads.mixed(11);
    let work = tempfile::tempdir_in(&root).unwrap();
    copy_database(&root.join("db/shopd.redb"), &work.path().join("data"));

    let mut server = start(work.path(), None);
    let to_health = server.wait_for("/health", Duration::from_secs(120));
    let to_ready = server.wait_for("/ready", Duration::from_secs(300));
    eprintln!(
        "shopd up: /health after {:.2} s, /ready (search index) after {:.2} s",
        to_health.as_secs_f64(),
        to_ready.as_secs_f64()
    );

    let warm = env_secs("LOAD_WARM_SECS", 5);
    let secs = env_secs("LOAD_SECS", 15);
    let ceiling = vec!["/bench/ceiling".to_string()];
    let scenarios: [(&str, &[String]); 6] = [
        ("ceiling", &ceiling),
        ("detail_hot", &workloads.hot),
        ("detail_zipf", &workloads.detail),
        ("lists", &workloads.lists),
        ("search", &workloads.search),
        ("mixed", &mixed),
    ];
    let mut rows: Vec<Measured> = Vec::new();
    for (name, paths) in scenarios {
        let m = measure(
            &server,
            &Scenario {
                name,
                paths,
                connections: CONNECTIONS,
                warm: Warm::Time(warm),
                services: &[],
                measure: secs,
                threads: 2,
                think_ms: None,
                accept_encoding: None,
            },
            work.path(),
        );
        eprintln!("{}", table(std::slice::from_ref(&m)));
        rows.push(m);
    }
    let c10k = measure(
        &server,
        &Scenario {
            name: "mixed",
            paths: &mixed,
            connections: C10K,
            warm: Warm::None,
            services: &[],
            measure: env_secs("LOAD_C10K_SECS", 20),
            threads: 2,
            think_ms: Some(THINK_MS),
            accept_encoding: None,
        },
        work.path(),
    );
    eprintln!("{}", table(std::slice::from_ref(&c10k)));
    rows.push(c10k.clone());
    drop(server);

    // The mixed scenario again with a cache that holds its working set.
    let mut server = start(work.path(), Some(BIG_CACHE_MIB));
    server.wait_for("/ready", Duration::from_secs(300));
    let big = measure(
        &server,
        &Scenario {
            name: "mixed",
            paths: &mixed,
            connections: CONNECTIONS,
            warm: Warm::Time(warm),
            services: &[],
            measure: secs,
            threads: 2,
            think_ms: None,
            accept_encoding: None,
        },
        work.path(),
    );
    eprintln!("{}", table(std::slice::from_ref(&big)));
    rows.push(big.clone());
    drop(server);

    let find = |name: &str| {
        rows.iter()
            .find(|m| m.scenario == name && m.server == "shopd")
            .unwrap()
    };
    let ratio = find("detail_hot").rps / find("ceiling").rps;
    let zipf_ratio = find("detail_zipf").rps / find("ceiling").rps;
    let mixed64 = find("mixed");
    let zipf_hit = find("detail_zipf").cache_hit_rate.unwrap_or(0.0);
    let targets = [
        (
            "hot detail ≥ 80 % of the ceiling's req/s",
            format!(
                "{:.1} % (Zipf over all products, 1–2 % misses: {:.1} %)",
                ratio * 100.0,
                zipf_ratio * 100.0
            ),
            ratio >= 0.8,
        ),
        (
            "mixed avg < 5 ms at 64 connections",
            format!("{:.2} ms", mixed64.avg_ms),
            mixed64.avg_ms < 5.0,
        ),
        (
            "mixed p99 < 20 ms at 64 connections",
            format!("{:.2} ms", mixed64.p99_ms),
            mixed64.p99_ms < 20.0,
        ),
        (
            "mixed avg < 5 ms, p99 < 20 ms, cache sized to the working set",
            format!(
                "{:.2} ms, {:.2} ms ({BIG_CACHE_MIB} MiB)",
                big.avg_ms, big.p99_ms
            ),
            big.avg_ms < 5.0 && big.p99_ms < 20.0,
        ),
        (
            "cache hit rate ≥ 90 % on Zipf detail",
            format!("{:.1} %", zipf_hit * 100.0),
            zipf_hit >= 0.9,
        ),
        (
            "10,000 connections (users thinking 1–3 s): p95 < 50 ms, no errors",
            format!("p95 {:.1} ms, {} errors", c10k.p95_ms, c10k.errors),
            c10k.p95_ms < 50.0 && c10k.errors == 0,
        ),
    ];
    let mut md = format!(
        "# shopd load results\n\n{} products, wrk {} threads, {} s warm + {} s measured per scenario, \
         machine: {} cores. /health after {:.2} s, /ready after {:.2} s.\n\n",
        common::products(),
        2,
        warm.as_secs(),
        secs.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        to_health.as_secs_f64(),
        to_ready.as_secs_f64(),
    );
    md += &table(&rows);
    md += &format!(
        "\nhot detail / ceiling req/s: **{ratio:.2}**; Zipf detail / ceiling: {zipf_ratio:.2}\n\n| target | measured | met |\n|---|---|---|\n"
    );
    for (t, v, ok) in &targets {
        md += &format!("| {t} | {v} | {} |\n", if *ok { "yes" } else { "**no**" });
    }
    let json = serde_json::json!({
        "products": common::products(),
        "health_s": to_health.as_secs_f64(),
        "ready_s": to_ready.as_secs_f64(),
        "hot_detail_over_ceiling": ratio,
        "zipf_detail_over_ceiling": zipf_ratio,
        "results": rows,
        "targets": targets.iter().map(|(t, v, ok)| serde_json::json!({"target": t, "measured": v, "met": ok})).collect::<Vec<_>>(),
    });
    let json_text = serde_json::to_string_pretty(&json).unwrap();
    md += &format!("\n```json\n{json_text}\n```\n");
    std::fs::write(root.join("load-results.md"), &md).unwrap();
    std::fs::write(root.join("load-results.json"), &json_text).unwrap();
    println!("{md}");
}
