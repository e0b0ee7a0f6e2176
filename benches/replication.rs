//! Replication: how far behind a follower runs while its leader takes 500
//! product writes per second (lag p50/p99), the bytes shipped per write,
//! a follower's read throughput and p99 while it applies batches vs idle,
//! and how long a new follower takes to bootstrap (snapshot, transfer,
//! database and search index) until `/ready`.
//!
//! ```sh
//! cargo bench --bench replication   # writes target/bench-data/replication-results.md
//! SHOPD_BENCH_PRODUCTS=1000000 REPL_ROUNDS=1 REPL_ONLY_BOOTSTRAP=1 cargo bench --bench replication
//! ```
//! The release `shopd` binary runs as leader and followers (child
//! processes, `--follow-interval 1s`) on a copy of the benchmark catalogue
//! (100K products by default); the load and the probes run in this
//! process. All on the same 2 cores. `REPL_ROUNDS` (default 3) rounds;
//! medians and ranges.

#[path = "common/mod.rs"]
mod common;

use common::load::{Server, free_port};
use common::median_range;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ADMIN: &str = "bench-admin-token-0123456789abcdef0123";
const TOKEN: &str = "bench-replication-token-0123456789abcdef";
const WRITES_PER_SEC: u64 = 500;
const WINDOW: Duration = Duration::from_secs(15);
/// The fixed read rate of the latency comparison.
const READ_RATE: u64 = 2_000;

fn rounds() -> usize {
    common::rounds("REPL_ROUNDS")
}

/// Pins the calling thread to one core.
fn pin(cpu: usize) {
    // SAFETY: a cpu_set_t on the stack, for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// `shopd` with `args`, pinned to core `cpu` when given.
fn serve_on(name: &str, cpu: Option<usize>, data: &Path, extra: &[&str]) -> Server {
    let port = free_port();
    let mut args: Vec<String> = Vec::new();
    if let Some(cpu) = cpu {
        args.extend([
            "-c".into(),
            cpu.to_string(),
            common::shopd_bin().display().to_string(),
        ]);
    }
    args.extend([
        "--data-dir".into(),
        data.display().to_string(),
        "serve".into(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let program = match cpu {
        Some(_) => std::path::PathBuf::from("taskset"),
        None => common::shopd_bin(),
    };
    Server::spawn(
        name,
        &program,
        &args,
        &[("SHOPD_LOG_LEVEL", "warn"), ("SHOPD_ADMIN_TOKEN", ADMIN)],
    )
}

fn follower(data: &Path, leader: u16, cpu: Option<usize>) -> Server {
    serve_on(
        "follower",
        cpu,
        data,
        &[
            "--follow",
            &format!("http://127.0.0.1:{leader}"),
            "--replication-token",
            TOKEN,
            "--follow-interval",
            "1s",
        ],
    )
}

/// An HTTP client whose pooled connections retire before the server's
/// 5 s keep-alive does (a request sent on a connection the server is
/// closing fails, and a PATCH is not retried).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn generation(r: &reqwest::Response) -> u64 {
    r.headers()["x-generation"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn metric(server: &Server, name: &str) -> f64 {
    let (_, text) = common::load::get(server.port, "/metrics").unwrap();
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Closed-loop reads of product details by 2 clients for `secs`:
/// (req/s, p99 ms).
async fn reads(port: u16, ids: Arc<Vec<String>>, secs: u64) -> (f64, f64) {
    let stop = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..2 {
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let client = client();
            let mut lat = Vec::new();
            let mut i = c * 7919;
            while Instant::now() < stop {
                let t = Instant::now();
                let r = client
                    .get(format!(
                        "http://127.0.0.1:{port}/api/v1/products/{}",
                        ids[i % ids.len()]
                    ))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                i += 13;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len() as f64;
    (n / secs as f64, percentile(&mut all, 0.99))
}

/// Reads of product details at a fixed `rate` (open loop: a request
/// leaves every 1/rate s whatever the earlier ones take, and its latency
/// counts from when it was due) for `secs`: p99 ms.
async fn reads_at_rate(port: u16, ids: Arc<Vec<String>>, rate: u64, secs: u64) -> f64 {
    let client = client();
    let stop = Instant::now() + Duration::from_secs(secs);
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let mut tasks = Vec::new();
    let mut i = 0usize;
    while Instant::now() < stop {
        let due = tick.tick().await;
        let (client, ids) = (client.clone(), ids.clone());
        i += 13;
        tasks.push(tokio::spawn(async move {
            let r = client
                .get(format!(
                    "http://127.0.0.1:{port}/api/v1/products/{}",
                    ids[i % ids.len()]
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap();
            due.elapsed().as_secs_f64() * 1e3
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.push(t.await.unwrap());
    }
    percentile(&mut lat, 0.99)
}

/// 500 price updates per second on the leader for `WINDOW` (open loop),
/// while a probe polls the follower's `X-Generation` every 5 ms. Returns
/// each write's lag in ms (ack on the leader → first seen on the
/// follower) and the number of writes.
async fn writes_and_lag(leader: u16, follower: u16, ids: Arc<Vec<String>>) -> (Vec<f64>, usize) {
    let acks: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let seen: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let stop = Instant::now() + WINDOW;
    // The highest acknowledged generation, once every write is answered.
    let last_acked = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
    let probe = {
        let (seen, last_acked) = (seen.clone(), last_acked.clone());
        tokio::spawn(async move {
            let client = client();
            let mut last = 0;
            // Until the follower has every write (at most 120 s).
            while last < last_acked.load(std::sync::atomic::Ordering::SeqCst)
                && Instant::now() < stop + Duration::from_secs(120)
            {
                if let Ok(r) = client
                    .get(format!("http://127.0.0.1:{follower}/health"))
                    .send()
                    .await
                {
                    let g = generation(&r);
                    if g > last {
                        last = g;
                        seen.lock().unwrap().push((g, Instant::now()));
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let client = client();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / WRITES_PER_SEC));
    let mut n = 0usize;
    let mut writes = Vec::new();
    while Instant::now() < stop {
        tick.tick().await;
        let (client, acks) = (client.clone(), acks.clone());
        let id = ids[(n * 31) % ids.len()].clone();
        let cents = 1000 + (n % 5000) as u64;
        writes.push(tokio::spawn(async move {
            let r = client
                .patch(format!("http://127.0.0.1:{leader}/api/v1/products/{id}"))
                .bearer_auth(ADMIN)
                .json(&serde_json::json!({"price": cents as f64 / 100.0}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
            acks.lock().unwrap().push((generation(&r), Instant::now()));
        }));
        n += 1;
    }
    for w in writes {
        w.await.unwrap();
    }
    let max = acks
        .lock()
        .unwrap()
        .iter()
        .map(|(g, _)| *g)
        .max()
        .unwrap_or(0);
    last_acked.store(max, std::sync::atomic::Ordering::SeqCst);
    probe.await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let lags = acks
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(g, at)| {
            let (_, t) = seen.iter().find(|(s, _)| s >= g)?;
            Some(t.saturating_duration_since(*at).as_secs_f64() * 1e3)
        })
        .collect::<Vec<_>>();
    assert!(
        lags.len() * 100 >= n * 99,
        "{} of {n} writes seen",
        lags.len()
    );
    (lags, n)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn main() {
    let products = common::products();
    // The leader's data: a copy of the cached benchmark database.
    let store = common::database();
    drop(store);
    let work = tempfile::tempdir_in(common::bench_dir()).unwrap();
    let leader_dir = work.path().join("leader");
    copy_dir(&common::bench_dir().join("db"), &leader_dir);
    // Bootstraps run unpinned; then the leader and its writers go on core
    // 0 and the follower and its readers on core 1 (as two machines would
    // be).
    let mut leader = serve_on("leader", None, &leader_dir, &["--replication-token", TOKEN]);
    leader.wait_for("/ready", Duration::from_secs(1200));
    let (_, body) =
        common::load::get(leader.port, "/api/v1/products?limit=100&sort=newest").unwrap();
    let (_, written) =
        common::load::get(leader.port, "/api/v1/products?limit=100&sort=newest&page=2").unwrap();
    let ids_of = |body: &str| -> Arc<Vec<String>> {
        let list: serde_json::Value = serde_json::from_str(body).unwrap();
        Arc::new(
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_string())
                .collect(),
        )
    };
    // Reads and writes touch different products: the read figures show
    // what applying costs, not cache misses on the products just written.
    let ids = ids_of(&body);
    let written = ids_of(&written);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .on_thread_start(|| pin(0))
        .enable_all()
        .build()
        .unwrap();
    // The follower's readers: their own runtime on core 1.
    let on_core_1 = |f: std::pin::Pin<Box<dyn std::future::Future<Output = (f64, f64)> + Send>>| {
        std::thread::spawn(move || {
            pin(1);
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(f)
        })
    };
    let closed =
        |port: u16, ids: Arc<Vec<String>>, secs: u64| on_core_1(Box::pin(reads(port, ids, secs)));
    let open = |port: u16, ids: Arc<Vec<String>>, secs: u64| {
        on_core_1(Box::pin(async move {
            (0.0, reads_at_rate(port, ids, READ_RATE, secs).await)
        }))
    };

    // Bootstrap: a new follower until /ready (the first also waits for the
    // leader to make its snapshot).
    let mut boots = Vec::new();
    for round in 0..rounds() {
        let dir = work.path().join(format!("boot{round}"));
        let started = Instant::now();
        let mut f = follower(&dir, leader.port, None);
        f.wait_for("/ready", Duration::from_secs(1800));
        let s = started.elapsed().as_secs_f64();
        eprintln!("bootstrap {round}: {s:.2} s");
        boots.push(s);
        drop(f);
        let _ = std::fs::remove_dir_all(&dir);
    }

    if std::env::var_os("REPL_ONLY_BOOTSTRAP").is_some() {
        let (m, lo, hi) = median_range(boots);
        println!("| bootstrap until /ready, {products} products | {m:.1} s [{lo:.1}–{hi:.1}] |");
        return;
    }
    // Lag, bytes and reads: the leader (every thread) onto core 0, one
    // follower on core 1.
    let pinned = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", "0", &leader.pid().to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(pinned.success(), "taskset -a -p -c 0 {}", leader.pid());
    let fdir = work.path().join("follower");
    let mut f = follower(&fdir, leader.port, Some(1));
    f.wait_for("/ready", Duration::from_secs(1800));
    let (mut idle_rps, mut idle_p99, mut busy_rps, mut busy_p99) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut p50s, mut p99s, mut maxes, mut bytes) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut sat_p50s, mut sat_p99s) = (Vec::new(), Vec::new());
    for round in 0..rounds() {
        // Idle: throughput (closed loop), then p99 at a fixed rate.
        let (rps_idle, _) = closed(f.port, ids.clone(), 5).join().unwrap();
        let (_, p99_idle) = open(f.port, ids.clone(), 10).join().unwrap();
        // Applying 500 writes/s, reads at the same fixed rate: lag, bytes,
        // p99.
        let before = metric(&f, "shopd_replication_received_bytes_total");
        let readers = open(f.port, ids.clone(), WINDOW.as_secs());
        let (mut lags, n) = rt.block_on(writes_and_lag(leader.port, f.port, written.clone()));
        let (_, p99_busy) = readers.join().unwrap();
        std::thread::sleep(Duration::from_secs(2));
        let shipped = metric(&f, "shopd_replication_received_bytes_total") - before;
        // Applying while reads saturate the follower's core: throughput,
        // and how far applying falls behind (it yields to reads).
        let readers = closed(f.port, ids.clone(), WINDOW.as_secs());
        let (mut sat_lags, _) = rt.block_on(writes_and_lag(leader.port, f.port, written.clone()));
        let (rps_busy, _) = readers.join().unwrap();
        idle_rps.push(rps_idle);
        idle_p99.push(p99_idle);
        busy_rps.push(rps_busy);
        busy_p99.push(p99_busy);
        let (p50, p99l, max) = (
            percentile(&mut lags, 0.5),
            percentile(&mut lags, 0.99),
            percentile(&mut lags, 1.0),
        );
        p50s.push(p50);
        p99s.push(p99l);
        maxes.push(max);
        sat_p50s.push(percentile(&mut sat_lags, 0.5));
        sat_p99s.push(percentile(&mut sat_lags, 0.99));
        bytes.push(shipped / n as f64);
        eprintln!(
            "round {round}: {n} writes, lag p50 {p50:.0} ms p99 {p99l:.0} ms max {max:.0} ms, {:.0} B/write; read p99 at {READ_RATE}/s idle {p99_idle:.2} ms, applying {p99_busy:.2} ms; reads/s idle {rps_idle:.0}, applying {rps_busy:.0} (lag then p50 {:.0} p99 {:.0} ms)",
            shipped / n as f64,
            sat_p50s[round],
            sat_p99s[round]
        );
    }
    drop(f);

    let mut out = String::from("# Replication results\n\n");
    let _ = writeln!(
        out,
        "{products} products; leader and follower are release `shopd` processes; for lag and reads the leader and its writers are pinned to core 0 and the follower and its readers to core 1 (`taskset`, as two machines would be), bootstraps run unpinned; follower interval 1 s; {} rounds, medians [range].\n\nReproduce: `cargo bench --bench replication` (`SHOPD_BENCH_PRODUCTS`, `REPL_ROUNDS`).\n\n| figure | value | target |\n|---|---:|---|",
        rounds()
    );
    let row =
        |out: &mut String, name: &str, v: Vec<f64>, unit: &str, digits: usize, target: &str| {
            let (m, lo, hi) = median_range(v);
            let _ = writeln!(
                out,
                "| {name} | {m:.digits$} {unit} [{lo:.digits$}–{hi:.digits$}] | {target} |"
            );
        };
    row(
        &mut out,
        "bootstrap until /ready (snapshot, transfer, database, search index)",
        boots,
        "s",
        1,
        if products <= 100_000 {
            "≤ 10 s at 100K"
        } else {
            ""
        },
    );
    row(
        &mut out,
        "replication lag p50 at 500 writes/s",
        p50s,
        "ms",
        0,
        "",
    );
    row(
        &mut out,
        "replication lag p99 at 500 writes/s",
        p99s.clone(),
        "ms",
        0,
        "≤ interval + 250 ms = 1250 ms",
    );
    row(
        &mut out,
        "replication lag max at 500 writes/s",
        maxes,
        "ms",
        0,
        "",
    );
    row(
        &mut out,
        "bytes shipped per product write (change batch, HTTP body)",
        bytes,
        "B",
        0,
        "",
    );
    let rows: [(String, Vec<f64>, &str, usize, &str); 7] = [
        (
            format!("follower read p99 at {READ_RATE} reads/s (open loop), idle"),
            idle_p99.clone(),
            "ms",
            2,
            "",
        ),
        (
            format!("follower read p99 at {READ_RATE} reads/s while applying 500 writes/s"),
            busy_p99.clone(),
            "ms",
            2,
            "≤ 1.5 × idle",
        ),
        (
            "read p99 applying / idle".into(),
            busy_p99.iter().zip(&idle_p99).map(|(b, i)| b / i).collect(),
            "×",
            2,
            "≤ 1.5",
        ),
        (
            "follower reads/s, idle (2 closed-loop clients saturate its core)".into(),
            idle_rps,
            "",
            0,
            "",
        ),
        (
            "follower reads/s, saturated, while applying 500 writes/s".into(),
            busy_rps,
            "",
            0,
            "",
        ),
        (
            "replication lag p50 meanwhile (applying yields to reads: nice 10)".into(),
            sat_p50s,
            "ms",
            0,
            "",
        ),
        (
            "replication lag p99 meanwhile".into(),
            sat_p99s,
            "ms",
            0,
            "",
        ),
    ];
    for (name, v, unit, digits, target) in rows {
        row(&mut out, &name, v, unit, digits, target);
    }
    println!("{out}");
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/replication-results.md");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &out).unwrap();
    eprintln!("wrote {}", path.display());
}
