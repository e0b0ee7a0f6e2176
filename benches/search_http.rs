//! Search over HTTP, this build side by side with another (the build before
//! the search speed work), caches off.
//!
//! ```sh
//! SEARCH_BEFORE_BIN=/path/to/old/shopd cargo bench --bench search_http
//! ```
//!
//! 100K products by default (`SHOPD_BENCH_PRODUCTS`), the cached catalogue
//! of the other benches, one copy per binary. Each round starts each binary
//! in turn (the order alternates round by round) with `--cache-bytes 0`,
//! waits for `/ready`, and measures with wrk over loopback:
//! - **single client**: one connection sending the comparison's search
//!   paths (1–3 title words, 10 % with a typo) back to back: p50 and p99;
//! - **closed loop**: 8 connections back to back: searches per second and
//!   per core the server used (its CPU time over the window);
//! - **suggest**, this build only: one connection sending what a shopper
//!   types, keystroke by keystroke (`/api/v1/search/suggest?q=` with every
//!   prefix of 2+ characters of the same queries): p50 and p99.
//!
//! Rounds `SEARCH_HTTP_ROUNDS` (3), seconds per window `SEARCH_HTTP_SECS`
//! (10), warm-up `SEARCH_HTTP_WARM_SECS` (3). Prints a markdown table of
//! medians and ranges and writes it to
//! `target/bench-data/N/search-http-results.md`.

mod common;

use common::load::{
    Measured, Scenario, Server, Warm, Workloads, copy_database, ensure_wrk, env_secs, free_port,
    measure,
};
use common::{bench_dir, database, median_range, rounds};
use shopd::catalog::Catalog;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CLOSED_LOOP: usize = 8;

fn start(bin: &Path, name: &str, data: &Path) -> Server {
    let port = free_port();
    let args: Vec<String> = [
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
        &data.display().to_string(),
        "--cache-bytes",
        "0",
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

/// Every prefix of 2+ characters of each query: a shopper typing it.
fn keystrokes(search: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for path in search {
        let Some(q) = path.split_once("q=").map(|(_, q)| q) else {
            continue;
        };
        let chars: Vec<char> = q.chars().collect();
        for n in 2..=chars.len() {
            let prefix: String = chars[..n].iter().collect();
            if prefix.ends_with('+') {
                continue;
            }
            out.push(format!("/api/v1/search/suggest?q={prefix}"));
        }
    }
    out
}

struct Binary {
    name: &'static str,
    bin: PathBuf,
    data: PathBuf,
    single: Vec<Measured>,
    closed: Vec<Measured>,
    suggest: Vec<Measured>,
}

fn main() {
    ensure_wrk();
    let root = bench_dir();
    let workloads = {
        let store = database();
        let w = Workloads::new(&Catalog::offline(store.clone()), 7);
        drop(store);
        w
    };
    let suggest = keystrokes(&workloads.search);
    let work = tempfile::tempdir_in(&root).unwrap();
    let mut binaries = vec![Binary {
        name: "this build",
        bin: common::shopd_bin(),
        data: work.path().join("now"),
        single: vec![],
        closed: vec![],
        suggest: vec![],
    }];
    if let Some(before) = std::env::var_os("SEARCH_BEFORE_BIN") {
        binaries.push(Binary {
            name: "before",
            bin: PathBuf::from(before),
            data: work.path().join("before"),
            single: vec![],
            closed: vec![],
            suggest: vec![],
        });
    }
    for b in &binaries {
        copy_database(&root.join("db/shopd.redb"), &b.data);
    }
    let secs = env_secs("SEARCH_HTTP_SECS", 10);
    let warm = env_secs("SEARCH_HTTP_WARM_SECS", 3);
    let scenario = |name, paths, connections| Scenario {
        name,
        paths,
        connections,
        warm: Warm::Time(warm),
        services: &[],
        measure: secs,
        threads: 1,
        think_ms: None,
        accept_encoding: None,
    };
    let n_rounds = rounds("SEARCH_HTTP_ROUNDS");
    for round in 0..n_rounds {
        let mut order: Vec<usize> = (0..binaries.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let b = &mut binaries[i];
            let server = start(&b.bin, b.name, &b.data);
            let single = measure(
                &server,
                &scenario("search", &workloads.search, 1),
                work.path(),
            );
            let closed = measure(
                &server,
                &scenario("search", &workloads.search, CLOSED_LOOP),
                work.path(),
            );
            eprintln!(
                "round {round} {}: single p50 {:.3} ms p99 {:.3} ms; closed loop {:.0}/s, {:.0}/core, errors {}",
                b.name,
                single.p50_ms,
                single.p99_ms,
                closed.rps,
                closed.rps_per_core,
                single.errors + closed.errors
            );
            assert_eq!(single.errors + closed.errors, 0, "{}: errors", b.name);
            b.single.push(single);
            b.closed.push(closed);
            if i == 0 {
                let s = measure(&server, &scenario("suggest", &suggest, 1), work.path());
                eprintln!(
                    "round {round} suggest: p50 {:.3} ms p99 {:.3} ms, errors {}",
                    s.p50_ms, s.p99_ms, s.errors
                );
                assert_eq!(s.errors, 0, "suggest: errors");
                b.suggest.push(s);
            }
            drop(server);
        }
    }

    let fmt = |v: Vec<f64>, digits: usize| {
        let (m, lo, hi) = median_range(v);
        format!("{m:.digits$} ({lo:.digits$}–{hi:.digits$})")
    };
    let mut out = format!(
        "## Search over HTTP at {} products, caches off ({n_rounds} rounds, medians and ranges)\n\n\
         | build | single client p50 ms | p99 ms | closed loop ({CLOSED_LOOP} connections) req/s | req/s per core | suggest p50 ms | suggest p99 ms | server peak RSS MiB (closed loop) |\n\
         |---|---|---|---|---|---|---|---|\n",
        common::products()
    );
    for b in &binaries {
        let (sp50, sp99) = if b.suggest.is_empty() {
            ("–".to_string(), "–".to_string())
        } else {
            (
                fmt(b.suggest.iter().map(|m| m.p50_ms).collect(), 3),
                fmt(b.suggest.iter().map(|m| m.p99_ms).collect(), 3),
            )
        };
        out += &format!(
            "| {} | {} | {} | {} | {} | {sp50} | {sp99} | {} |\n",
            b.name,
            fmt(b.single.iter().map(|m| m.p50_ms).collect(), 3),
            fmt(b.single.iter().map(|m| m.p99_ms).collect(), 3),
            fmt(b.closed.iter().map(|m| m.rps).collect(), 0),
            fmt(b.closed.iter().map(|m| m.rps_per_core).collect(), 0),
            fmt(b.closed.iter().map(|m| m.peak_rss_mib).collect(), 0),
        );
    }
    if binaries.len() == 2 {
        let med = |v: Vec<f64>| median_range(v).0;
        let per_core = |b: &Binary| med(b.closed.iter().map(|m| m.rps_per_core).collect());
        let p50 = |b: &Binary| med(b.single.iter().map(|m| m.p50_ms).collect());
        out += &format!(
            "\nPer core: {:.2}× the build before; single-client p50: {:.2}× faster.\n",
            per_core(&binaries[0]) / per_core(&binaries[1]),
            p50(&binaries[1]) / p50(&binaries[0]),
        );
    }
    println!("\n{out}");
    let file = root.join("search-http-results.md");
    std::fs::write(&file, &out).unwrap();
    println!("(written to {})", file.display());
}
