//! Accounts: sign-in throughput (argon2id-bound), the per-request cost of
//! authenticating an access token with and without the verification cache,
//! and catalogue read latency while 64 clients hammer `/auth/login`.
//!
//! ```sh
//! cargo bench --bench auth        # writes target/bench-data/auth-results.md
//! ```
//! `AUTH_ROUNDS` (default 3) rounds of each figure; medians and ranges.
//! The HTTP figures run the release `shopd` binary as a child process on the
//! demo catalogue (rate limits off), with the clients in this process.
//! argon2id parameters: m = 19456 KiB, t = 2, p = 1 (OWASP); the server
//! hashes on `password_hash_threads` threads (default: half the cores).

#[path = "common/mod.rs"]
mod common;

use common::load::{Server, free_port};
use common::median_range;
use serde_json::{Value, json};
use shopd::accounts::{Accounts, password};
use shopd::config::accounts::AccountsSettings;
use shopd::domain::account::{Credentials, Email, Password, Registration};
use shopd::jobs::Jobs;
use shopd::store::Store;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

fn rounds() -> usize {
    common::rounds("AUTH_ROUNDS")
}

fn start_server(dir: &Path) -> Server {
    let port = free_port();
    let mut server = Server::spawn(
        "shopd",
        Path::new(env!("CARGO_BIN_EXE_shopd")),
        &[
            "serve".into(),
            "--demo".into(),
            "--data-dir".into(),
            dir.display().to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ],
        &[
            ("SHOPD_LOG_LEVEL", "warn"),
            ("SHOPD_RATE_LIMIT_API", "off"),
            ("SHOPD_RATE_LIMIT_AUTH", "off"),
            ("SHOPD_RATE_LIMIT_WRITE", "off"),
            ("SHOPD_RATE_LIMIT_CREDENTIALS", "off"),
        ],
    );
    server.wait_for("/ready", Duration::from_secs(120));
    server
}

async fn post(client: &reqwest::Client, url: &str, body: Value) -> reqwest::StatusCode {
    client
        .post(url)
        .json(&body)
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(reqwest::StatusCode::BAD_GATEWAY)
}

/// Sign-ins per second with `clients` clients signing in in a loop.
async fn login_throughput(base: &str, clients: usize, secs: u64) -> f64 {
    let ok = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (ok, url) = (ok.clone(), format!("{base}/api/v1/auth/login"));
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while Instant::now() < stop {
                let s = post(
                    &client,
                    &url,
                    json!({"email": "bench@example.com", "password": PASSWORD}),
                )
                .await;
                if s == reqwest::StatusCode::OK {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    ok.load(Ordering::Relaxed) as f64 / secs as f64
}

/// p50 and p99 (ms) of product detail reads by 2 sequential clients.
async fn read_latency(base: &str, ids: &[String], secs: u64) -> (f64, f64) {
    let stop = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..2 {
        let (base, ids) = (base.to_string(), ids.to_vec());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut lat = Vec::new();
            let mut i = c;
            while Instant::now() < stop {
                let t = Instant::now();
                let res = client
                    .get(format!("{base}/api/v1/products/{}", ids[i % ids.len()]))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                res.bytes().await.unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                i += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (all[all.len() / 2], all[all.len() * 99 / 100])
}

/// Nanoseconds per `authenticate_access` of one token, with the
/// verification cache on and off (same store, same keys).
fn auth_cost(rt: &tokio::runtime::Runtime, n: u32) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("shopd.redb")).unwrap();
    let jobs = Jobs::local(store.clone(), dir.path()).unwrap();
    let settings = AccountsSettings::local(dir.path());
    let cached = Accounts::new(store.clone(), jobs.clone(), settings.clone()).unwrap();
    let uncached = Accounts::new(
        store.clone(),
        jobs,
        AccountsSettings {
            verification_cache: false,
            ..settings
        },
    )
    .unwrap();
    let email = Email::parse("cost@example.com").unwrap();
    let token = rt.block_on(async {
        cached
            .register(Registration {
                email: email.clone(),
                name: "Cost".into(),
                phone: None,
                password: Password::parse(PASSWORD).unwrap(),
            })
            .await
            .unwrap();
        cached
            .login(Credentials {
                email,
                password: Password::parse(PASSWORD).unwrap(),
            })
            .await
            .unwrap()
            .access_token
    });
    let time = |a: &Accounts| {
        a.authenticate_access(&token).unwrap();
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(a.authenticate_access(std::hint::black_box(&token)).unwrap());
        }
        t.elapsed().as_nanos() as f64 / n as f64
    };
    let on = time(&cached);
    let off = time(&uncached);
    drop((cached, uncached));
    (on, off)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut out = String::from("# Accounts results\n\n");
    let _ = writeln!(
        out,
        "2 cores, {} rounds; medians [range]. argon2id m={} KiB, t={}, p={}; the server hashes on {} thread(s).\n\n| figure | value |\n|---|---:|",
        rounds(),
        password::MEMORY_KIB,
        password::ITERATIONS,
        password::PARALLELISM,
        shopd::config::accounts::default_hash_threads(),
    );

    // Per-request authentication cost, in process.
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for _ in 0..rounds() {
        let (a, b) = auth_cost(&rt, 200_000);
        eprintln!("authenticate_access ns: cached {a:.0}, uncached {b:.0}");
        on.push(a);
        off.push(b);
    }
    let (a, alo, ahi) = median_range(on);
    let (b, blo, bhi) = median_range(off);
    let _ = writeln!(
        out,
        "| authenticate an access token, verification cache on (ns/request: cache lookup + session read) | {a:.0} [{alo:.0}–{ahi:.0}] |\n| the same, cache off (ns/request: + base64, JSON, HMAC-SHA256) | {b:.0} [{blo:.0}–{bhi:.0}] |"
    );

    // HTTP figures against the release binary.
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path());
    let base = format!("http://127.0.0.1:{}", server.port);
    let ids: Vec<String> = rt.block_on(async {
        let client = reqwest::Client::new();
        let s = post(
            &client,
            &format!("{base}/api/v1/auth/register"),
            json!({"email": "bench@example.com", "password": PASSWORD, "name": "Bench"}),
        )
        .await;
        assert_eq!(s, 202);
        let v: Value = client
            .get(format!("{base}/api/v1/products?limit=50"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    });
    for clients in [1, 8, 64] {
        let runs: Vec<f64> = (0..rounds())
            .map(|_| rt.block_on(login_throughput(&base, clients, 8)))
            .collect();
        eprintln!("logins/s, {clients} clients: {runs:?}");
        let (m, lo, hi) = median_range(runs);
        let _ = writeln!(
            out,
            "| sign-ins/s, {clients} client(s) signing in in a loop | {m:.1} [{lo:.1}–{hi:.1}] |"
        );
    }
    let (mut quiet, mut busy, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds() {
        let (_, q99) = rt.block_on(read_latency(&base, &ids, 8));
        let hammering = Arc::new(AtomicBool::new(true));
        // The storm's clients on a runtime of their own, so the readers'
        // timings do not include waiting behind 64 client tasks.
        let storm_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let storm = {
            let (base, hammering) = (base.clone(), hammering.clone());
            storm_rt.spawn(async move {
                let mut tasks = Vec::new();
                for _ in 0..64 {
                    let (url, hammering) = (format!("{base}/api/v1/auth/login"), hammering.clone());
                    tasks.push(tokio::spawn(async move {
                        let client = reqwest::Client::new();
                        while hammering.load(Ordering::Relaxed) {
                            post(
                                &client,
                                &url,
                                json!({"email": "bench@example.com", "password": PASSWORD}),
                            )
                            .await;
                        }
                    }));
                }
                for t in tasks {
                    let _ = t.await;
                }
            })
        };
        std::thread::sleep(Duration::from_secs(2));
        let (_, b99) = rt.block_on(read_latency(&base, &ids, 8));
        hammering.store(false, Ordering::Relaxed);
        let _ = storm_rt.block_on(storm);
        drop(storm_rt);
        eprintln!("read p99 ms: quiet {q99:.3}, during the login storm {b99:.3}");
        quiet.push(q99);
        busy.push(b99);
        ratio.push(b99 / q99);
    }
    let (q, qlo, qhi) = median_range(quiet);
    let (b, blo, bhi) = median_range(busy);
    let (r, rlo, rhi) = median_range(ratio);
    let _ = writeln!(
        out,
        "| product read p99 ms, quiet (2 sequential readers) | {q:.3} [{qlo:.3}–{qhi:.3}] |\n| product read p99 ms, while 64 clients hammer /auth/login | {b:.3} [{blo:.3}–{bhi:.3}] |\n| ratio (target ≤ 2) | {r:.2} [{rlo:.2}–{rhi:.2}] |"
    );
    drop(server);
    println!("{out}");
    let path = common::bench_dir().join("auth-results.md");
    std::fs::write(&path, out).unwrap();
    eprintln!("wrote {}", path.display());
}
