//! The concurrency curve: how many users, each a keep-alive connection
//! that waits 1–3 s between requests (the plans' locust example), shopd
//! holds on this machine with p95 < 50 ms and errors < 0.1 %. shopd in
//! release mode on the 100K-product catalogue; wrk (with a think-time
//! script) on the same two cores.
//!
//! `cargo bench --bench users` — user counts from `LOAD_USERS`
//! (comma-separated; default 2500,5000,10000,15000,19000), each measured
//! for `LOAD_USERS_SECS` (20) after the users have connected. Writes
//! `target/bench-data/N/users-results.md` and `.json`, and the report to
//! `benches/results/users-results.md`: users → req/s, p95, p99, errors,
//! server RSS, and the most users that met both targets.
//!
//! Every connection is a file descriptor in the server and one in wrk, so a
//! process's `RLIMIT_NOFILE` bounds the curve; the run reports that limit
//! and skips counts above it (minus a margin for the server's own files)
//! instead of measuring refused connects.

mod common;

use common::load::{
    Measured, Scenario, Server, Warm, Workloads, copy_database, ensure_wrk, env_secs, free_port,
    measure, raise_accept_queue, table,
};
use common::{bench_dir, database};
use shopd::catalog::Catalog;
use std::time::Duration;

const THINK_MS: (u32, u32) = (1_000, 3_000);
/// File descriptors the server needs besides its connections.
const FD_MARGIN: usize = 500;

/// The hard limit on open files a process here may set (`ulimit -Hn`).
fn fd_limit() -> usize {
    let out = std::process::Command::new("sh")
        .args(["-c", "ulimit -Hn"])
        .output()
        .expect("sh");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(usize::MAX)
}

fn main() {
    ensure_wrk();
    raise_accept_queue();
    // Ports for tens of thousands of loopback connections from one address.
    if std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "1024 65535").is_err() {
        eprintln!("could not widen the local port range (not root?)");
    }
    let users: Vec<usize> = std::env::var("LOAD_USERS")
        .unwrap_or_else(|_| "2500,5000,10000,15000,19000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let limit = fd_limit();
    let root = bench_dir();
    let mixed = {
        let store = database();
        let w = Workloads::new(&Catalog::offline(store.clone()), 7);
        drop(store);
        w.mixed(11)
    };
    let work = tempfile::tempdir_in(&root).unwrap();
    copy_database(&root.join("db/shopd.redb"), &work.path().join("data"));
    let port = free_port();
    let args: Vec<String> = [
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
        &work.path().join("data").display().to_string(),
        "--log-level",
        "warn",
        // A user's think time is up to 3 s: keep their connections open.
        "--keep-alive-secs",
        "30",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut server = Server::spawn("shopd", &common::shopd_bin(), &args, &[]);
    server.wait_for("/ready", Duration::from_secs(300));

    let mut rows: Vec<Measured> = Vec::new();
    let mut skipped = Vec::new();
    for &n in &users {
        if n + FD_MARGIN > limit {
            eprintln!("{n} users: skipped, over this machine's open-file limit ({limit})");
            skipped.push(n);
            continue;
        }
        let m = measure(
            &server,
            &Scenario {
                name: "mixed",
                paths: &mixed,
                connections: n,
                warm: Warm::None,
                services: &[],
                measure: env_secs("LOAD_USERS_SECS", 20),
                threads: 2,
                think_ms: Some(THINK_MS),
                accept_encoding: None,
            },
            work.path(),
        );
        eprintln!("{}", table(std::slice::from_ref(&m)));
        rows.push(m);
    }
    drop(server);

    let ok = |m: &Measured| {
        m.p95_ms < 50.0 && (m.errors as f64) < 0.001 * (m.requests + m.errors) as f64
    };
    let best = rows.iter().filter(|m| ok(m)).map(|m| m.connections).max();
    let mut md = String::from("# shopd concurrency curve\n\n");
    md += &format!(
        "Users think 1–3 s between requests (one keep-alive connection each), mixed storefront \
         paths, 100K products, wrk and shopd on the same 2 cores. Open-file limit per process: \
         {limit}{}.\n\n",
        if skipped.is_empty() {
            String::new()
        } else {
            format!(" (skipped: {skipped:?} users)")
        }
    );
    md += &table(&rows);
    md += &format!(
        "\nMost users with p95 < 50 ms and errors < 0.1 %: **{}**\n",
        best.map_or("none".into(), |b| b.to_string())
    );
    let json = serde_json::json!({
        "fd_limit": limit,
        "skipped_users": skipped,
        "best_users": best,
        "results": rows,
    });
    let json_text = serde_json::to_string_pretty(&json).unwrap();
    md += &format!("\n```json\n{json_text}\n```\n");
    std::fs::write(root.join("users-results.md"), &md).unwrap();
    std::fs::write(root.join("users-results.json"), &json_text).unwrap();
    // The report kept with the code (docs/benchmarks links to it).
    let kept =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/results/users-results.md");
    std::fs::write(&kept, &md).unwrap();
    println!("{md}\n(also written to {})", kept.display());
}
