//! shopd against the Postgres design, side by side on one machine.
//!
//! `cargo bench --features baseline --bench compare` — the cached 100K
//! catalogue (`SHOPD_BENCH_PRODUCTS` for another size), the load harness's
//! workloads, wrk and oha, each server alone on the machine in turn:
//!
//! 1. import the same JSONL into a fresh shopd data dir (`shopd import`) and
//!    into PostgreSQL (`benches/baseline/setup.sh … --catalog`: COPY +
//!    ANALYZE), timed;
//! 2. rounds (`COMPARE_ROUNDS`, 2) of A B A B: shopd with its cache, the
//!    baseline with Redis, then both with caches off (shopd `--cache-bytes
//!    0`, the baseline plain PostgreSQL); each start is timed to `/ready`;
//!    each scenario (detail_zipf, lists, search, mixed at 64 connections) is
//!    warmed by coverage — the same first `LOAD_WARM_REQUESTS` (5,000) paths
//!    of its list, each once, whatever the server's speed — then measured
//!    closed-loop with wrk, every connection starting at its own random
//!    offset (the same offsets for both designs of a round); CPU is read for
//!    every process of the design, and memory as PSS (PostgreSQL's shared
//!    buffers counted once, not per backend);
//! 3. constant rate (`COMPARE_RATE_ROUNDS`, 2): each scenario at half the
//!    baseline's median closed-loop req/s for that cache setting (a rate both
//!    designs sustain), with oha measuring each latency from the request's
//!    scheduled send time: the like-for-like latency comparison;
//! 4. both designs, caches on, at 10,000 connections on the mixed scenario,
//!    with the kernel's listen-queue overflow counters read around the run.
//!
//! `COMPARE_ONLY=uncached-lists` runs step 2 for the lists scenario with
//! caches off only (the "uncached list pages ≥ 100×" target, in minutes
//! rather than the whole run's hour); it writes
//! `compare-results-uncached-lists.{md,json}`. `COMPARE_ONLY=cached-search`
//! does the same for the search scenario with caches on (target ≥ 1×, equal
//! cache memory), from a client without `Accept-Encoding` and from a browser,
//! and writes `compare-results-cached-search.{md,json}`.
//!
//! Equal cache memory: shopd runs with `--cache-bytes` [`CACHE_BYTES`] and
//! the baseline's Redis with `maxmemory` the same, evicting least recently
//! used keys (`allkeys-lru`), as a production Redis cache is configured.
//!
//! `COMPARE_WARMUP=time` runs step 2 only, caches on, with the previous
//! method (a timed warm-up, and a window that replays the warm-up's paths),
//! to show the size of its bias; it writes `compare-results-time-warmup.*`.
//!
//! Writes `target/bench-data/N/compare-results.{md,json}` and
//! `compare-chart.svg`. Durations: `LOAD_SECS` (10), `LOAD_WARM_SECS` (3,
//! timed warm-up only), `LOAD_C10K_SECS` (15).

mod common;
#[path = "common/designs.rs"]
mod designs;

use common::load::{
    BROWSER_ENCODINGS, Measured, RateMeasured, Scenario, Warm, Workloads, ensure_oha, ensure_wrk,
    env_secs, measure, measure_rate, table,
};
use common::{bench_dir, catalogue, database};
use designs::{CACHE_BYTES, Design, setup, shopd_bin};
use serde::Serialize;
use shopd::catalog::Catalog;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 64;
const C10K: usize = 10_000;
const SCENARIOS: [&str; 4] = ["detail_zipf", "lists", "search", "mixed"];

#[derive(Debug, Clone, Serialize)]
struct Run {
    design: String,
    cache: bool,
    round: usize,
    ready_s: f64,
    memory_mib: f64,
    scenarios: Vec<Measured>,
}

#[derive(Debug, Clone, Serialize)]
struct RateRun {
    design: String,
    cache: bool,
    round: usize,
    scenarios: Vec<RateMeasured>,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    ensure_wrk();
    let time_warmup = std::env::var("COMPARE_WARMUP").is_ok_and(|v| v == "time");
    let only = match std::env::var("COMPARE_ONLY").as_deref() {
        Ok("uncached-lists") => Some(Only {
            scenarios: &["lists"],
            what: "the lists scenario,",
            cache: false,
            stem: "uncached-lists",
            title: "Uncached list pages",
            setting: "caches off (shopd `--cache-bytes 0`, the baseline plain PostgreSQL)",
            target: 100.0,
        }),
        Ok("cached-search") => Some(Only {
            scenarios: &["search", "search_browser"],
            what: "the search scenario from a client that sends no `Accept-Encoding` (`search`) and from a browser (`search_browser`: `Accept-Encoding: gzip, deflate, br, zstd`),",
            cache: true,
            stem: "cached-search",
            title: "Search with caches on, equal cache memory",
            setting: "caches on at equal memory (shopd `--cache-bytes` and Redis `maxmemory` both 64 MiB, Redis `allkeys-lru`)",
            target: 1.0,
        }),
        Ok(other) => panic!("COMPARE_ONLY={other}: uncached-lists or cached-search"),
        Err(_) => None,
    };
    let rate_rounds = if time_warmup || only.is_some() {
        0
    } else {
        env_usize("COMPARE_RATE_ROUNDS", 2)
    };
    if rate_rounds > 0 {
        // Before the long part, so a failed install stops the run early.
        ensure_oha();
    }
    let root = bench_dir();
    let jsonl = catalogue();
    let workloads = {
        let store = database();
        let w = Workloads::new(&Catalog::offline(store.clone()), 7);
        drop(store);
        w
    };
    let mixed = workloads.mixed(11);
    let work = tempfile::tempdir_in(&root).unwrap();

    // 1. imports
    let shopd_data = work.path().join("shopd");
    let start = Instant::now();
    let ok = Command::new(shopd_bin())
        .args(["--log-level", "warn", "--data-dir"])
        .arg(&shopd_data)
        .arg("import")
        .arg(&jsonl)
        .status()
        .unwrap()
        .success();
    assert!(ok, "shopd import failed");
    let shopd_import = start.elapsed().as_secs_f64();
    let services = work.path().join("baseline");
    let services_arg = services.display().to_string();
    let maxmemory = CACHE_BYTES.to_string();
    setup(&[
        "start",
        "--dir",
        &services_arg,
        "--redis-maxmemory",
        &maxmemory,
    ]);
    let start = Instant::now();
    let env = setup(&[
        "start",
        "--dir",
        &services_arg,
        "--catalog",
        &jsonl.display().to_string(),
        "--redis-maxmemory",
        &maxmemory,
    ]);
    let baseline_import = start.elapsed().as_secs_f64();
    eprintln!("import: shopd {shopd_import:.1} s, baseline {baseline_import:.1} s");

    let shopd = Design {
        name: "shopd",
        services: None,
        env: BTreeMap::new(),
        data: shopd_data,
    };
    let baseline = Design {
        name: "baseline",
        services: Some(services.clone()),
        env,
        data: PathBuf::new(),
    };

    // 2. rounds, closed loop
    let warm_secs = env_secs("LOAD_WARM_SECS", 3);
    let warm_requests = env_usize("LOAD_WARM_REQUESTS", 5_000);
    let secs = env_secs("LOAD_SECS", 10);
    let rounds = env_usize("COMPARE_ROUNDS", 2);
    // (name, paths, the Accept-Encoding every request sends)
    let all: [(&str, &[String], Option<&str>); 5] = [
        ("detail_zipf", &workloads.detail, None),
        ("lists", &workloads.lists, None),
        ("search", &workloads.search, None),
        ("mixed", &mixed, None),
        // The search paths from a browser (gzip accepted): `COMPARE_ONLY` only.
        ("search_browser", &workloads.search, Some(BROWSER_ENCODINGS)),
    ];
    let scenarios: Vec<(&str, &[String], Option<&str>)> = match &only {
        Some(o) => all
            .iter()
            .filter(|(n, _, _)| o.scenarios.contains(n))
            .copied()
            .collect(),
        None => all[..4].to_vec(),
    };
    let caches: &[bool] = match &only {
        _ if time_warmup => &[true],
        Some(o) if o.cache => &[true],
        Some(_) => &[false],
        None => &[true, false],
    };
    let mut runs: Vec<Run> = Vec::new();
    for round in 0..rounds {
        for &cache in caches {
            for design in [&shopd, &baseline] {
                let mut server = design.start(cache);
                let ready = server.wait_for("/ready", Duration::from_secs(300));
                let roots = design.service_roots();
                let mut measured = Vec::new();
                for (i, (name, paths, encoding)) in scenarios.iter().enumerate() {
                    let warm = if time_warmup {
                        Warm::Time(warm_secs)
                    } else {
                        Warm::Coverage {
                            requests: warm_requests.min(paths.len()),
                            seed: (round * 10 + i + 1) as u64,
                        }
                    };
                    let m = measure(
                        &server,
                        &Scenario {
                            name,
                            paths,
                            connections: CONNECTIONS,
                            warm,
                            services: &roots,
                            measure: secs,
                            threads: 2,
                            think_ms: None,
                            accept_encoding: *encoding,
                        },
                        work.path(),
                    );
                    eprint!("{}", table(std::slice::from_ref(&m)));
                    measured.push(m);
                }
                let memory = design.memory(&server) as f64 / (1024.0 * 1024.0);
                runs.push(Run {
                    design: design.name.into(),
                    cache,
                    round,
                    ready_s: ready.as_secs_f64(),
                    memory_mib: memory,
                    scenarios: measured,
                });
            }
        }
    }
    if let Some(o) = &only {
        setup(&["stop", "--dir", &services_arg]);
        let rows: Vec<Measured> = runs.iter().flat_map(|r| r.scenarios.clone()).collect();
        let paths = scenarios[0].1.len();
        let mut md = format!(
            "# {}: shopd vs the Postgres design\n\n{} products; {}; {rounds} rounds of A B, each design alone on the machine; {} {CONNECTIONS} keep-alive connections, warmed by coverage ({} paths), measured {} s closed loop with wrk.\n\n",
            o.title,
            common::products(),
            o.setting,
            o.what,
            warm_requests.min(paths),
            secs.as_secs(),
        );
        md += &table(&rows);
        let mut ratio = 0.0;
        for (i, scenario) in o.scenarios.iter().enumerate() {
            let per_round = |design: &str| -> Vec<f64> {
                runs.iter()
                    .filter(|r| r.design == design)
                    .flat_map(|r| r.scenarios.iter().filter(|m| m.scenario == *scenario))
                    .map(|m| m.rps)
                    .collect()
            };
            let (a, b) = (per_round("shopd"), per_round("baseline"));
            let r = fig(&runs, "shopd", o.cache, scenario, |m| m.rps)
                / fig(&runs, "baseline", o.cache, scenario, |m| m.rps);
            md += &format!("\n**{scenario}**: ");
            if o.cache {
                let hit_rate = |design: &str| {
                    fig(&runs, design, o.cache, scenario, |m| {
                        m.cache_hit_rate.unwrap_or(0.0) * 100.0
                    })
                };
                md += &format!(
                    "cache hit rate over the window (median) shopd {:.0} %, baseline {:.0} %; ",
                    hit_rate("shopd"),
                    hit_rate("baseline")
                );
            }
            md += &format!(
                "shopd req/s by round {a:.0?}, baseline {b:.0?}; median ratio **{r:.2}×**"
            );
            if i == 0 {
                ratio = r;
                md += &format!(
                    " (target ≥ {}×: {})",
                    o.target,
                    if r >= o.target { "met" } else { "**not met**" }
                );
            }
            md += ".\n";
        }
        let json = serde_json::to_string_pretty(&serde_json::json!({
            "runs": runs,
            "rps_ratio": ratio,
        }))
        .unwrap();
        std::fs::write(root.join(format!("compare-results-{}.md", o.stem)), &md).unwrap();
        std::fs::write(root.join(format!("compare-results-{}.json", o.stem)), &json).unwrap();
        println!("{md}");
        return;
    }
    if time_warmup {
        setup(&["stop", "--dir", &services_arg]);
        let report = report(&runs, &[], &[], shopd_import, baseline_import, true);
        std::fs::write(
            root.join("compare-results-time-warmup.md"),
            &report.markdown,
        )
        .unwrap();
        std::fs::write(root.join("compare-results-time-warmup.json"), &report.json).unwrap();
        println!("{}", report.markdown);
        return;
    }

    // 3. constant rate: half the baseline's closed-loop rate, both designs.
    let mut rate_runs: Vec<RateRun> = Vec::new();
    for round in 0..rate_rounds {
        for cache in [true, false] {
            for design in [&shopd, &baseline] {
                let mut server = design.start(cache);
                server.wait_for("/ready", Duration::from_secs(300));
                let roots = design.service_roots();
                let mut measured = Vec::new();
                for &(name, paths, _) in &scenarios {
                    let rate = 0.5
                        * fig(&runs, "baseline", cache, name, |m| m.rps).min(fig(
                            &runs,
                            "shopd",
                            cache,
                            name,
                            |m| m.rps,
                        ));
                    let m = measure_rate(
                        &server,
                        name,
                        paths,
                        warm_requests.min(paths.len()),
                        &roots,
                        rate.max(1.0),
                        CONNECTIONS,
                        secs,
                        work.path(),
                    );
                    eprintln!(
                        "{} {name} @ {:.0}/s: served {:.0}/s, p50 {:.2} p99 {:.2} ms, errors {}",
                        m.server, m.target_rps, m.rps, m.p50_ms, m.p99_ms, m.errors
                    );
                    measured.push(m);
                }
                rate_runs.push(RateRun {
                    design: design.name.into(),
                    cache,
                    round,
                    scenarios: measured,
                });
            }
        }
    }

    // 4. 10,000 connections, caches on
    let mut c10k = Vec::new();
    for design in [&shopd, &baseline] {
        let mut server = design.start(true);
        server.wait_for("/ready", Duration::from_secs(300));
        let roots = design.service_roots();
        c10k.push(measure(
            &server,
            &Scenario {
                name: "mixed",
                paths: &mixed,
                connections: C10K,
                // Warmed as the 64-connection runs are.
                warm: Warm::Coverage {
                    requests: warm_requests.min(mixed.len()),
                    seed: 99,
                },
                services: &roots,
                measure: env_secs("LOAD_C10K_SECS", 15),
                threads: 2,
                think_ms: Some((1_000, 3_000)),
                accept_encoding: None,
            },
            work.path(),
        ));
    }
    setup(&["stop", "--dir", &services_arg]);

    let report = report(
        &runs,
        &rate_runs,
        &c10k,
        shopd_import,
        baseline_import,
        false,
    );
    std::fs::write(root.join("compare-results.md"), &report.markdown).unwrap();
    std::fs::write(root.join("compare-results.json"), &report.json).unwrap();
    std::fs::write(root.join("compare-chart.svg"), &report.svg).unwrap();
    println!("{}", report.markdown);
}

struct Report {
    markdown: String,
    json: String,
    svg: String,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median over rounds of one figure for (design, cache, scenario).
/// A run of some scenarios at one cache setting (`COMPARE_ONLY`).
struct Only {
    /// The first is the one the target is for.
    scenarios: &'static [&'static str],
    /// The scenarios, in words.
    what: &'static str,
    cache: bool,
    /// `compare-results-{stem}.{md,json}`.
    stem: &'static str,
    title: &'static str,
    setting: &'static str,
    /// The shopd / baseline req/s ratio to reach.
    target: f64,
}

fn fig(
    runs: &[Run],
    design: &str,
    cache: bool,
    scenario: &str,
    f: impl Fn(&Measured) -> f64,
) -> f64 {
    median(
        runs.iter()
            .filter(|r| r.design == design && r.cache == cache)
            .flat_map(|r| r.scenarios.iter().filter(|m| m.scenario == scenario))
            .map(&f)
            .collect(),
    )
}

/// Median over rounds of one constant-rate figure.
fn rate_fig(
    runs: &[RateRun],
    design: &str,
    cache: bool,
    scenario: &str,
    f: impl Fn(&RateMeasured) -> f64,
) -> f64 {
    median(
        runs.iter()
            .filter(|r| r.design == design && r.cache == cache)
            .flat_map(|r| r.scenarios.iter().filter(|m| m.scenario == scenario))
            .map(&f)
            .collect(),
    )
}

/// "median (min–max)" over rounds.
fn spread(v: Vec<f64>) -> String {
    let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let m = median(v);
    let p = |x: f64| {
        if x.abs() >= 100.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.2}")
        }
    };
    if lo == hi {
        p(m)
    } else {
        format!("{} ({}–{})", p(m), p(lo), p(hi))
    }
}

fn report(
    runs: &[Run],
    rate_runs: &[RateRun],
    c10k: &[Measured],
    shopd_import: f64,
    baseline_import: f64,
    time_warmup: bool,
) -> Report {
    type Figure = (&'static str, fn(&Measured) -> f64, bool);
    let figures: [Figure; 11] = [
        ("req/s (closed loop)", |m| m.rps, true),
        ("avg ms (wrk)", |m| m.avg_ms, false),
        ("p50 ms (wrk)", |m| m.p50_ms, false),
        ("p99 ms (wrk)", |m| m.p99_ms, false),
        ("errors", |m| m.errors as f64, false),
        (
            "cache hit %",
            |m| m.cache_hit_rate.unwrap_or(0.0) * 100.0,
            true,
        ),
        ("design CPU, cores", |m| m.design_cpu_cores, false),
        ("req/s per core used", |m| m.rps_per_core, true),
        ("server process CPU, cores", |m| m.server_cpu_cores, false),
        ("wrk CPU, cores", |m| m.generator_cpu_cores, false),
        ("warm-up, s", |m| m.warm_seconds, false),
    ];
    let rounds = runs.iter().map(|r| r.round).max().unwrap_or(0) + 1;
    let mut md = String::from("# shopd vs the Postgres design\n\n");
    md += &format!(
        "{} products; {rounds} rounds, each design alone on the machine in turn (A B A B); \
         64 keep-alive connections; medians over rounds, with the range (min–max) where \
         the rounds differ. Machine: {} cores, shared with the load generator.\n\n",
        common::products(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    md += if time_warmup {
        "**Warm-up: the previous method** (equal time, then a window that replays the \
         warm-up's paths): kept only to show its bias against the slower design.\n\n"
    } else {
        "Warm-up by coverage: each scenario's first 5,000 paths (all of search's), each \
         sent once to each design whatever its speed; the measured window then starts every \
         connection at its own random offset in the list (the same offsets for both designs \
         in a round).\n\n"
    };
    md += "What each figure is: *req/s (closed loop)*: wrk, 64 connections each sending its \
           next request as soon as the last is answered (the throughput ceiling). *wrk \
           latencies*: corrected by wrk against each run's own mean rate, so they are not \
           comparable between designs of different throughput; compare the constant-rate \
           table. *design CPU*: every process of the design over the window (shopd; or \
           shopd-baseline + PostgreSQL's postmaster and backends + Redis), from /proc. \
           *req/s per core used*: closed-loop req/s ÷ design CPU. *wrk CPU*: the load \
           generator's share of the 2 cores over the same window.\n\n";
    let ratio = |a: f64, b: f64| {
        if b != 0.0 && a.is_finite() && b.is_finite() {
            format!("{:.2}", a / b)
        } else {
            "–".to_string()
        }
    };
    let caches: Vec<bool> = [true, false]
        .into_iter()
        .filter(|c| runs.iter().any(|r| r.cache == *c))
        .collect();
    for &cache in &caches {
        md += &format!(
            "## Closed loop, caches {}\n\n| scenario | figure | shopd | baseline | shopd / baseline |\n|---|---|---:|---:|---:|\n",
            if cache {
                "on (shopd in-process, baseline Redis)"
            } else {
                "off (shopd renders every read, baseline plain PostgreSQL)"
            }
        );
        for s in SCENARIOS {
            let all = |d: &str, f: &dyn Fn(&Measured) -> f64| -> Vec<f64> {
                runs.iter()
                    .filter(|r| r.design == d && r.cache == cache)
                    .flat_map(|r| r.scenarios.iter().filter(|m| m.scenario == s))
                    .map(f)
                    .collect()
            };
            for (name, f, _) in &figures {
                let a = fig(runs, "shopd", cache, s, f);
                let b = fig(runs, "baseline", cache, s, f);
                md += &format!(
                    "| {s} | {name} | {} | {} | {} |\n",
                    spread(all("shopd", f)),
                    spread(all("baseline", f)),
                    ratio(a, b)
                );
            }
            // Different units: no ratio.
            md += &format!(
                "| {s} | storage lookups (shopd) / SQL statements (baseline) per request | {:.2} | {:.2} | – |\n",
                fig(runs, "shopd", cache, s, |m| m.lookups_per_request),
                fig(runs, "baseline", cache, s, |m| m.lookups_per_request),
            );
        }
        md += "\n";
    }

    if !rate_runs.is_empty() {
        let rate_rounds = rate_runs.iter().map(|r| r.round).max().unwrap_or(0) + 1;
        md += &format!(
            "## Constant rate: latency like for like\n\n\
             oha at a fixed request rate, half the baseline's median closed-loop req/s for that \
             scenario and cache setting (a rate both designs sustain), 64 connections, each \
             latency measured from the request's scheduled send time (`--latency-correction`): \
             a request that waits for a busy connection counts its wait. URLs drawn at random \
             from the scenario's list, after the same warm-up by coverage. {rate_rounds} rounds, \
             medians.\n\n\
             | cache | scenario | rate req/s | figure | shopd | baseline | shopd / baseline |\n|---|---|---:|---|---:|---:|---:|\n"
        );
        type RateFigure = (&'static str, fn(&RateMeasured) -> f64);
        let rfigs: [RateFigure; 7] = [
            ("served req/s", |m| m.rps),
            ("p50 ms", |m| m.p50_ms),
            ("p95 ms", |m| m.p95_ms),
            ("p99 ms", |m| m.p99_ms),
            ("errors", |m| m.errors as f64),
            ("design CPU, cores", |m| m.design_cpu_cores),
            ("oha CPU, cores", |m| m.generator_cpu_cores),
        ];
        for cache in [true, false] {
            for s in SCENARIOS {
                let rate = rate_fig(rate_runs, "shopd", cache, s, |m| m.target_rps);
                for (name, f) in &rfigs {
                    let a = rate_fig(rate_runs, "shopd", cache, s, f);
                    let b = rate_fig(rate_runs, "baseline", cache, s, f);
                    md += &format!(
                        "| {} | {s} | {rate:.0} | {name} | {a:.2} | {b:.2} | {} |\n",
                        if cache { "on" } else { "off" },
                        ratio(a, b)
                    );
                }
            }
        }
        md += "\n";
    }

    let mem = |d: &str| {
        median(
            runs.iter()
                .filter(|r| r.design == d)
                .map(|r| r.memory_mib)
                .collect(),
        )
    };
    let ready = |d: &str| {
        median(
            runs.iter()
                .filter(|r| r.design == d)
                .map(|r| r.ready_s)
                .collect(),
        )
    };
    md += "## Process figures\n\n| figure | shopd | baseline | shopd / baseline |\n|---|---:|---:|---:|\n";
    md += &format!(
        "| memory after the mixed run, all processes, PSS MiB | {:.0} | {:.0} | {:.2} |\n",
        mem("shopd"),
        mem("baseline"),
        mem("shopd") / mem("baseline")
    );
    md += &format!(
        "| start to ready, s | {:.2} | {:.2} | {:.2} |\n",
        ready("shopd"),
        ready("baseline"),
        ready("shopd") / ready("baseline")
    );
    md += &format!(
        "| import of the JSONL catalogue, s | {shopd_import:.1} | {baseline_import:.1} | {:.2} |\n\n",
        shopd_import / baseline_import
    );
    if !c10k.is_empty() {
        md += "## 10,000 connections, mixed, caches on\n\n\
               Each connection a user with a 1–3 s think time; accept queue 4096 for both \
               servers (`--backlog`, set before `listen`); *listen overflows* is the kernel's \
               `TcpExtListenOverflows` over the window (connections dropped because the accept \
               queue was full).\n\n";
        md += &table(c10k);
    }

    let ms = |d: &str| fig(runs, d, true, "mixed", |m| m.rps);
    let rps_ratio = ms("shopd") / ms("baseline");
    let lists_off = fig(runs, "shopd", false, "lists", |m| m.rps)
        / fig(runs, "baseline", false, "lists", |m| m.rps);
    let p99_ratio = rate_fig(rate_runs, "shopd", true, "mixed", |m| m.p99_ms)
        / rate_fig(rate_runs, "baseline", true, "mixed", |m| m.p99_ms);
    if !time_warmup {
        md += "\n## Targets\n\n| target | measured | met |\n|---|---|---|\n";
        for (t, v, ok) in [
            (
                "mixed: shopd ≥ 10× the baseline's req/s (closed loop)",
                format!("{rps_ratio:.1}×"),
                rps_ratio >= 10.0,
            ),
            (
                "mixed: shopd p99 ≤ 1/5 of the baseline's (constant rate)",
                format!("{p99_ratio:.2}"),
                p99_ratio <= 0.2,
            ),
            (
                "uncached list pages ≥ 100×",
                format!("{lists_off:.1}×"),
                lists_off >= 100.0,
            ),
        ] {
            md += &format!("| {t} | {v} | {} |\n", if ok { "yes" } else { "**no**" });
        }
    }

    // The plans' progress tracker, filled in from the mixed scenario.
    md += "\n## The plans' progress tracker, measured (mixed storefront, caches on)\n\n\
           | metric | plans' target (week 16) | baseline | shopd |\n|---|---|---:|---:|\n";
    let track = |d: &str, f: fn(&Measured) -> f64| fig(runs, d, true, "mixed", f);
    let rate_track =
        |d: &str, f: fn(&RateMeasured) -> f64| rate_fig(rate_runs, d, true, "mixed", f);
    let err_rate = |d: &str| {
        100.0 * fig(runs, d, true, "mixed", |m| m.errors as f64)
            / fig(runs, d, true, "mixed", |m| m.requests as f64).max(1.0)
    };
    let held = |d: &str| {
        c10k.iter()
            .find(|m| m.server.starts_with(d))
            .map_or("–".into(), |m| {
                if m.errors == 0 && m.listen.overflows == 0 {
                    format!(
                        "≥ 10,000 connections held, no listen overflow (p95 {:.0} ms)",
                        m.p95_ms
                    )
                } else {
                    format!(
                        "< 10,000 ({} errors, {} listen overflows at 10,000)",
                        m.errors, m.listen.overflows
                    )
                }
            })
    };
    if !rate_runs.is_empty() {
        let rate = rate_track("shopd", |m| m.target_rps);
        md += &format!(
            "| API response time (avg), constant {rate:.0} req/s | < 20 ms | {:.2} ms | {:.2} ms |\n",
            rate_track("baseline", |m| m.avg_ms),
            rate_track("shopd", |m| m.avg_ms)
        );
        md += &format!(
            "| API response time (p95), constant {rate:.0} req/s | < 50 ms | {:.2} ms | {:.2} ms |\n",
            rate_track("baseline", |m| m.p95_ms),
            rate_track("shopd", |m| m.p95_ms)
        );
    }
    md += &format!(
        "| Storage lookups per request (shopd: read transactions) | 1–2 | – | {:.2} |\n",
        track("shopd", |m| m.lookups_per_request)
    );
    md += &format!(
        "| SQL statements per request (baseline: statements sent to PostgreSQL) | 1–2 | {:.2} | – |\n",
        track("baseline", |m| m.lookups_per_request)
    );
    md += &format!(
        "| Cache hit rate | > 85 % | {:.1} % | {:.1} % |\n",
        track("baseline", |m| m.cache_hit_rate.unwrap_or(0.0) * 100.0),
        track("shopd", |m| m.cache_hit_rate.unwrap_or(0.0) * 100.0)
    );
    md += &format!(
        "| Max concurrent users | > 100K | {} | {} |\n",
        held("baseline"),
        held("shopd")
    );
    md += &format!(
        "| Error rate | < 0.1 % | {:.3} % | {:.3} % |\n",
        err_rate("baseline"),
        err_rate("shopd")
    );
    md += "\nA storage lookup (shopd) is one read transaction on one snapshot; an SQL statement \
           (baseline) is one statement sent to PostgreSQL: different units, hence two rows. \
           Chart: `compare-chart.svg`.\n";

    let json = serde_json::to_string_pretty(&serde_json::json!({
        "products": common::products(),
        "warm_up": if time_warmup { "time (previous method)" } else { "coverage" },
        "import_s": {"shopd": shopd_import, "baseline": baseline_import},
        "runs": runs,
        "constant_rate": rate_runs,
        "c10k": c10k,
        "targets": {"mixed_rps_ratio": rps_ratio, "mixed_constant_rate_p99_ratio": p99_ratio, "uncached_lists_rps_ratio": lists_off},
    }))
    .unwrap();
    let svg = chart(runs, &SCENARIOS);
    md += &format!("\n```json\n{json}\n```\n");
    Report {
        markdown: md,
        json,
        svg,
    }
}

/// Grouped bars: req/s (log scale) and p50/p99 latency (log scale) per
/// scenario and cache setting, both designs side by side.
fn chart(runs: &[Run], scenarios: &[&str]) -> String {
    let groups: Vec<(String, bool, &str)> = [true, false]
        .iter()
        .flat_map(|&c| {
            scenarios.iter().map(move |s| {
                (
                    format!("{s} ({})", if c { "cache" } else { "no cache" }),
                    c,
                    *s,
                )
            })
        })
        .collect();
    let (w, h, top, left) = (1100.0, 760.0, 40.0, 70.0);
    let panel_h = 300.0;
    let gw = (w - left - 20.0) / groups.len() as f64;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="20" font-size="14">shopd (blue) vs the Postgres design (orange): closed-loop req/s, and wrk p50 / p99 (log scales; see the constant-rate table for latency like for like)</text>
"#
    );
    let log_y = |v: f64, lo: f64, hi: f64, y0: f64| {
        let v = v.clamp(lo, hi);
        y0 + panel_h - panel_h * ((v / lo).ln() / (hi / lo).ln())
    };
    // Panel 1: req/s from 10 to 1,000,000.
    let (lo, hi, y0) = (10.0, 1_000_000.0, top);
    for t in [10.0, 100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0] {
        let y = log_y(t, lo, hi, y0);
        svg += &format!(
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{t}</text>
"##,
            w - 20.0,
            left - 5.0,
            y + 4.0
        );
    }
    svg += &format!(
        r#"<text x="15" y="{:.1}" transform="rotate(-90 15 {:.1})">req/s</text>
"#,
        y0 + panel_h / 2.0,
        y0 + panel_h / 2.0
    );
    // Panel 2: latency from 0.05 ms to 5,000 ms.
    let (llo, lhi, ly0) = (0.05, 5_000.0, top + panel_h + 60.0);
    for t in [0.1, 1.0, 10.0, 100.0, 1000.0] {
        let y = log_y(t, llo, lhi, ly0);
        svg += &format!(
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{t} ms</text>
"##,
            w - 20.0,
            left - 5.0,
            y + 4.0
        );
    }
    for (i, (label, cache, s)) in groups.iter().enumerate() {
        let x0 = left + i as f64 * gw;
        for (j, (design, color)) in [("shopd", "#1f77b4"), ("baseline", "#ff7f0e")]
            .iter()
            .enumerate()
        {
            let rps = fig(runs, design, *cache, s, |m| m.rps);
            let x = x0 + 8.0 + j as f64 * (gw - 16.0) / 2.0;
            let bw = (gw - 16.0) / 2.0 - 2.0;
            let y = log_y(rps.max(lo), lo, hi, y0);
            svg += &format!(
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{:.1}" fill="{color}"><title>{design} {label}: {rps:.0} req/s</title></rect>
<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9">{rps:.0}</text>
"#,
                y0 + panel_h - y,
                x + bw / 2.0,
                y - 3.0
            );
            let p50 = fig(runs, design, *cache, s, |m| m.p50_ms);
            let p99 = fig(runs, design, *cache, s, |m| m.p99_ms);
            let y50 = log_y(p50.max(llo), llo, lhi, ly0);
            let y99 = log_y(p99.max(llo), llo, lhi, ly0);
            svg += &format!(
                r#"<rect x="{x:.1}" y="{y99:.1}" width="{bw:.1}" height="{:.1}" fill="{color}" opacity="0.35"><title>{design} {label}: p99 {p99:.2} ms</title></rect>
<rect x="{x:.1}" y="{y50:.1}" width="{bw:.1}" height="{:.1}" fill="{color}"><title>{design} {label}: p50 {p50:.2} ms</title></rect>
"#,
                ly0 + panel_h - y99,
                ly0 + panel_h - y50,
            );
        }
        svg += &format!(
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{label}</text>
"#,
            x0 + gw / 2.0,
            ly0 + panel_h + 18.0
        );
    }
    svg += &format!(
        r#"<text x="15" y="{:.1}" transform="rotate(-90 15 {:.1})">wrk latency: p50 solid, p99 light</text>
</svg>
"#,
        ly0 + panel_h / 2.0,
        ly0 + panel_h / 2.0
    );
    svg
}
