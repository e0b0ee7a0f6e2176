//! Cache density: the mixed storefront at the default 64 MiB cache, with
//! bodies stored gzipped (this build) against a build that stores them
//! plain (`SHOPD_BENCH_BEFORE_BIN`, e.g. the commit before), side by side.
//!
//! `SHOPD_BENCH_BEFORE_BIN=/path/to/old/shopd cargo bench --bench density`
//! — the cached 100K catalogue, copied; rounds (`DENSITY_ROUNDS`, 3) of
//! before, after, each a fresh server (cold cache) measured twice on the
//! mixed scenario at 64 connections: first as browsers (`Accept-Encoding:
//! gzip, deflate, br, zstd`), then as scripts (no `Accept-Encoding`, served
//! plain), each warmed for `LOAD_WARM_SECS` (5) and measured for
//! `LOAD_SECS` (15). Reports per build and client: req/s, p95, p99, the
//! cache's hit rate, entries and bytes after the run, and peak RSS (medians
//! over rounds with ranges), and after ÷ before. Without
//! `SHOPD_BENCH_BEFORE_BIN` it measures this build alone. Writes
//! `target/bench-data/N/density-results.{md,json}`.

mod common;

use common::load::{
    BROWSER_ENCODINGS, Measured, Scenario, Server, Warm, Workloads, copy_database, ensure_wrk,
    env_secs, free_port, get, measure, raise_accept_queue,
};
use common::{bench_dir, database, median_range, rounds};
use shopd::catalog::Catalog;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CONNECTIONS: usize = 64;
/// The two kinds of client, by their `Accept-Encoding`.
const CLIENTS: [(&str, Option<&str>); 2] =
    [("browsers", Some(BROWSER_ENCODINGS)), ("scripts", None)];

#[derive(Debug, Clone, serde::Serialize)]
struct Run {
    build: String,
    clients: String,
    round: usize,
    measured: Measured,
    cache_entries: f64,
    cache_mib: f64,
}

/// The sum of a `/metrics` family.
fn metric(text: &str, family: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| series.split('{').next() == Some(family))
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .sum()
}

fn start(bin: &Path, name: &str, work: &Path) -> Server {
    let port = free_port();
    let args: Vec<String> = [
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
        &work.join("data").display().to_string(),
        "--log-level",
        "warn",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut server = Server::spawn(name, bin, &args, &[]);
    server.wait_for("/ready", Duration::from_secs(300));
    server
}

fn main() {
    ensure_wrk();
    raise_accept_queue();
    let root = bench_dir();
    let mixed = {
        let store = database();
        let w = Workloads::new(&Catalog::offline(store.clone()), 7);
        drop(store);
        w.mixed(11)
    };
    let work = tempfile::tempdir_in(&root).unwrap();
    copy_database(&root.join("db/shopd.redb"), &work.path().join("data"));
    let mut builds: Vec<(&str, PathBuf)> = Vec::new();
    if let Some(before) = std::env::var_os("SHOPD_BENCH_BEFORE_BIN") {
        builds.push(("before", PathBuf::from(before)));
    } else {
        eprintln!("SHOPD_BENCH_BEFORE_BIN is not set: measuring this build alone");
    }
    builds.push(("after", common::shopd_bin()));
    let warm = env_secs("LOAD_WARM_SECS", 5);
    let secs = env_secs("LOAD_SECS", 15);
    let rounds = rounds("DENSITY_ROUNDS");

    let mut runs: Vec<Run> = Vec::new();
    for round in 0..rounds {
        for (build, bin) in &builds {
            let server = start(bin, build, work.path());
            for (clients, accept) in CLIENTS {
                let m = measure(
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
                        accept_encoding: accept,
                    },
                    work.path(),
                );
                let text = get(server.port, "/metrics")
                    .map(|r| r.1)
                    .unwrap_or_default();
                let run = Run {
                    build: build.to_string(),
                    clients: clients.to_string(),
                    round,
                    cache_entries: metric(&text, "shopd_cache_entries"),
                    cache_mib: metric(&text, "shopd_cache_bytes") / (1024.0 * 1024.0),
                    measured: m,
                };
                eprintln!(
                    "round {round} {build} {clients}: {:.0} req/s, p95 {:.2} ms, p99 {:.2} ms, hit {:.1} %, {:.0} entries in {:.1} MiB, {} errors",
                    run.measured.rps,
                    run.measured.p95_ms,
                    run.measured.p99_ms,
                    run.measured.cache_hit_rate.unwrap_or(0.0) * 100.0,
                    run.cache_entries,
                    run.cache_mib,
                    run.measured.errors,
                );
                runs.push(run);
            }
            drop(server);
        }
    }

    let figure = |build: &str, clients: &str, f: &dyn Fn(&Run) -> f64| {
        let v: Vec<f64> = runs
            .iter()
            .filter(|r| r.build == build && r.clients == clients)
            .map(f)
            .collect();
        median_range(v)
    };
    let cell = |(m, lo, hi): (f64, f64, f64), digits: usize| {
        if (hi - lo).abs() < f64::EPSILON {
            format!("{m:.digits$}")
        } else {
            format!("{m:.digits$} ({lo:.digits$}–{hi:.digits$})")
        }
    };
    type Figure = (&'static str, usize, fn(&Run) -> f64);
    let figures: [Figure; 8] = [
        ("req/s", 0, |r| r.measured.rps),
        ("p95 ms", 2, |r| r.measured.p95_ms),
        ("p99 ms", 2, |r| r.measured.p99_ms),
        ("cache hit %", 1, |r| {
            r.measured.cache_hit_rate.unwrap_or(0.0) * 100.0
        }),
        ("cache entries", 0, |r| r.cache_entries),
        ("cache MiB", 1, |r| r.cache_mib),
        ("peak RSS MiB", 0, |r| r.measured.peak_rss_mib),
        ("errors", 0, |r| r.measured.errors as f64),
    ];
    let mut md = format!(
        "# Cache density: mixed storefront, default 64 MiB cache\n\n{} products, 64 connections, {rounds} rounds of {}, each a fresh server; per server, browsers (`Accept-Encoding: {BROWSER_ENCODINGS}`) then scripts (no `Accept-Encoding`), each warmed {} s and measured {} s. Medians over rounds (range). Machine: {} cores, shared with wrk.\n\n",
        common::products(),
        builds.iter().map(|b| b.0).collect::<Vec<_>>().join(", "),
        warm.as_secs(),
        secs.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    md += "| clients | figure |";
    for (b, _) in &builds {
        md += &format!(" {b} |");
    }
    if builds.len() == 2 {
        md += " after ÷ before |";
    }
    md += "\n|---|---|";
    md += &"---:|".repeat(builds.len() + usize::from(builds.len() == 2));
    md += "\n";
    for (clients, _) in CLIENTS {
        for (name, digits, f) in &figures {
            md += &format!("| {clients} | {name} |");
            let mut medians = Vec::new();
            for (b, _) in &builds {
                let v = figure(b, clients, f);
                medians.push(v.0);
                md += &format!(" {} |", cell(v, *digits));
            }
            if let [before, after] = medians[..] {
                md += &if before > 0.0 {
                    format!(" {:.2} |", after / before)
                } else {
                    " – |".to_string()
                };
            }
            md += "\n";
        }
    }
    let json_text = serde_json::to_string_pretty(&runs).unwrap();
    md += &format!("\n```json\n{json_text}\n```\n");
    std::fs::write(root.join("density-results.md"), &md).unwrap();
    std::fs::write(root.join("density-results.json"), &json_text).unwrap();
    println!("{md}");
}
