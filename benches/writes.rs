//! Durable write throughput: shopd against the Postgres design, side by side
//! on one machine.
//!
//! `cargo bench --features baseline --bench writes` — each design serves the
//! fixture catalogue (1,000 products, the demo) from a fresh data dir, alone
//! on the machine in turn. wrk POSTs a new product per request (a unique
//! title; the server picks the id) with the admin token, closed loop, at 1,
//! 16, 64 and 256 connections. A request counts when the server answered
//! `201 Created`, which both designs send only after a durable commit
//! (shopd: its redo record fsynced to the write-ahead log, group commit; the baseline:
//! PostgreSQL `synchronous_commit = on`, its own group commit).
//!
//! Rounds (`WRITE_ROUNDS`, 3) of A B; each connection count is warmed
//! (`WRITE_WARM_SECS`, 2) then measured (`WRITE_SECS`, 8). Reports medians and
//! ranges over rounds, shopd's mean batch size (writes per durable commit,
//! from `/metrics`), and writes `target/bench-data/writes-results.{md,json}`.
//! wrk's latencies are corrected for coordinated omission against each run's
//! own rate (closed loop): compare p50/p99 within a row of equal
//! concurrency, not across designs of very different throughput.
//!
//! `WRITE_DESIGNS=shopd` leaves the baseline out; `SHOPD_BENCH_BIN=path`
//! measures another shopd build (e.g. the previous commit's) the same way.

mod common;
#[path = "common/designs.rs"]
mod designs;

use common::load::{Server, WrkReport, ensure_wrk, env_secs, get};
use designs::{Design, TOKEN, setup};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const CONNECTIONS: [usize; 4] = [1, 16, 64, 256];

const SCRIPT: &str = r#"
-- POSTs a new product per request; titles are unique per run, thread and
-- request, ids are left to the server.
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  token = args[1]
  run = args[2]
  n = 0
end
function request()
  n = n + 1
  local body = string.format(
    '{"title":"Bench Lamp %s t%d n%d","price":%d.%02d,"brandId":"brand-0001","categoryIds":["cat-001-01"]}',
    run, tid, n, 10 + (n % 500), n % 100)
  return wrk.format("POST", "/api/v1/products",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,"mean_us":%f,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"#;

/// One wrk run of the POST script.
fn post(port: u16, script: &Path, run: &str, connections: usize, secs: Duration) -> WrkReport {
    let out = Command::new("wrk")
        .arg(format!("-t{}", connections.min(2)))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", secs.as_secs().max(1)))
        .args(["--timeout", "10s", "-s"])
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}"))
        .args(["--", TOKEN, run])
        .output()
        .expect("wrk runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("WRKJSON "))
        .unwrap_or_else(|| {
            panic!(
                "wrk printed no report:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    serde_json::from_str(line).expect("wrk report is JSON")
}

/// A `/metrics` counter summed over its series (0 when absent).
fn counter(port: u16, name: &str) -> f64 {
    let (_, text) = get(port, "/metrics").unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| series.split('{').next() == Some(name))
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .sum()
}

#[derive(Debug, Clone, Serialize)]
struct Row {
    design: String,
    round: usize,
    connections: usize,
    acked_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    /// shopd: writes per durable commit over the window.
    batch: Option<f64>,
    server_cpu_cores: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn summary(rows: &[Row], design: &str, c: usize, f: fn(&Row) -> f64) -> (f64, f64, f64) {
    let v: Vec<f64> = rows
        .iter()
        .filter(|r| r.design == design && r.connections == c)
        .map(f)
        .collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (median(v), lo, hi)
}

fn main() {
    ensure_wrk();
    // Results beside the other benches' (the fixture catalogue needs no
    // generated one).
    let root = common::bench_dir()
        .parent()
        .expect("bench-data/N has a parent")
        .to_path_buf();
    std::fs::create_dir_all(&root).unwrap();
    let work = tempfile::tempdir_in(&root).unwrap();
    let script = work.path().join("post.lua");
    std::fs::write(&script, SCRIPT).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/catalog");

    let shopd_data = work.path().join("shopd");
    let ok = Command::new(designs::shopd_bin())
        .args(["--log-level", "warn", "--data-dir"])
        .arg(&shopd_data)
        .arg("import")
        .arg(&fixture)
        .status()
        .unwrap()
        .success();
    assert!(ok, "shopd import failed");
    let with_baseline = std::env::var("WRITE_DESIGNS").map_or(true, |d| d.contains("baseline"));
    let services = work.path().join("baseline");
    let services_arg = services.display().to_string();
    let env = if with_baseline {
        setup(&[
            "start",
            "--dir",
            &services_arg,
            "--catalog",
            &fixture.display().to_string(),
        ])
    } else {
        BTreeMap::new()
    };
    let mut designs = vec![
        Design {
            name: "shopd",
            services: None,
            env: BTreeMap::new(),
            data: shopd_data,
        },
        Design {
            name: "baseline",
            services: Some(services.clone()),
            env,
            data: Default::default(),
        },
    ];
    if !with_baseline {
        designs.pop();
    }

    let warm = env_secs("WRITE_WARM_SECS", 2);
    let secs = env_secs("WRITE_SECS", 8);
    let rounds: usize = std::env::var("WRITE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let mut rows = Vec::new();
    for round in 0..rounds {
        for design in &designs {
            let mut server: Server = design.start(true);
            server.wait_for("/ready", Duration::from_secs(300));
            for c in CONNECTIONS {
                let tag = format!("r{round}c{c}");
                post(server.port, &script, &format!("{tag}w"), c, warm);
                let commits0 = counter(server.port, "shopd_store_commits_total");
                let writes0 = counter(server.port, "shopd_store_writes_total");
                let cpu0 = server.cpu_seconds();
                let r = post(server.port, &script, &tag, c, secs);
                let secs_run = r.duration_us as f64 / 1e6;
                let cpu = server.cpu_seconds() - cpu0;
                let commits = counter(server.port, "shopd_store_commits_total") - commits0;
                let writes = counter(server.port, "shopd_store_writes_total") - writes0;
                let row = Row {
                    design: design.name.into(),
                    round,
                    connections: c,
                    acked_per_s: (r.requests - r.errors().min(r.requests)) as f64 / secs_run,
                    p50_ms: r.p50_us as f64 / 1000.0,
                    p99_ms: r.p99_us as f64 / 1000.0,
                    errors: r.errors(),
                    batch: (commits > 0.0).then(|| writes / commits),
                    server_cpu_cores: cpu / secs_run,
                };
                eprintln!("{row:?}");
                rows.push(row);
            }
        }
    }
    if with_baseline {
        setup(&["stop", "--dir", &services_arg]);
    }

    let mut md = format!(
        "# Durable product creates: shopd vs the Postgres design\n\n\
         `cargo bench --features baseline --bench writes`: fixture catalogue (1,000 products), \
         wrk POSTing a new product per request, closed loop; {rounds} rounds of A B, {}s warm + {}s \
         measured per point; medians with the range over rounds in brackets. 2 cores shared by \
         wrk and the server.\n\n\
         | connections | shopd acked/s | baseline acked/s | shopd / baseline | shopd p50 ms | baseline p50 ms | shopd p99 ms | baseline p99 ms | shopd writes per commit | errors (shopd, baseline) |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        warm.as_secs(),
        secs.as_secs()
    );
    for c in CONNECTIONS {
        let s = summary(&rows, "shopd", c, |r| r.acked_per_s);
        let b = summary(&rows, "baseline", c, |r| r.acked_per_s);
        let sp50 = summary(&rows, "shopd", c, |r| r.p50_ms);
        let bp50 = summary(&rows, "baseline", c, |r| r.p50_ms);
        let sp99 = summary(&rows, "shopd", c, |r| r.p99_ms);
        let bp99 = summary(&rows, "baseline", c, |r| r.p99_ms);
        let batch = summary(&rows, "shopd", c, |r| r.batch.unwrap_or(0.0));
        let errors = |d: &str| -> u64 {
            rows.iter()
                .filter(|r| r.design == d && r.connections == c)
                .map(|r| r.errors)
                .sum()
        };
        md += &format!(
            "| {c} | {:.0} [{:.0}–{:.0}] | {:.0} [{:.0}–{:.0}] | {:.1}× | {:.2} [{:.2}–{:.2}] | {:.2} [{:.2}–{:.2}] | {:.2} [{:.2}–{:.2}] | {:.2} [{:.2}–{:.2}] | {:.1} | {}, {} |\n",
            s.0,
            s.1,
            s.2,
            b.0,
            b.1,
            b.2,
            s.0 / b.0,
            sp50.0,
            sp50.1,
            sp50.2,
            bp50.0,
            bp50.1,
            bp50.2,
            sp99.0,
            sp99.1,
            sp99.2,
            bp99.0,
            bp99.1,
            bp99.2,
            batch.0,
            errors("shopd"),
            errors("baseline"),
        );
    }
    let at64 = summary(&rows, "shopd", 64, |r| r.acked_per_s).0;
    md += &format!(
        "\nTarget: ≥ 10,000 acknowledged creates/s at 64 connections: {} ({at64:.0}/s).\n",
        if at64 >= 10_000.0 { "met" } else { "not met" }
    );
    std::fs::write(root.join("writes-results.md"), &md).unwrap();
    std::fs::write(
        root.join("writes-results.json"),
        serde_json::to_string_pretty(&rows).unwrap(),
    )
    .unwrap();
    println!("{md}");
}
