//! Parts of the HTTP load harness: workloads as lists of request paths, a
//! server process (its CPU time and peak RSS from /proc), the CPU of a
//! design's other processes, wrk runs driven by a Lua script that replays a
//! path list, a warm-up by coverage, `/metrics` deltas, and results.
//!
//! wrk (Debian's package; installed here when missing) is the closed-loop
//! load generator: written in C on epoll, it needs far less CPU per request
//! than the server it measures, which matters on a 2-core machine where both
//! share the cores (its CPU is measured and reported), and its Lua hooks
//! replay a prepared path list. Its latencies are corrected for coordinated
//! omission against the run's own mean request rate (wrk's `stats_correct`),
//! so they depend on the throughput of the server measured: compare wrk
//! latencies between servers only at equal rates. The constant-rate
//! latencies come from oha (see `oha`).

use super::Rng;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_distr::Distribution;
use serde::Serialize;
use shopd::catalog::Catalog;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Request paths for each kind of traffic, drawn once from the catalogue.
pub struct Workloads {
    /// Product details, Zipf (s = 1.0) popularity over all products.
    pub detail: Vec<String>,
    /// The same, restricted to the 1,000 most popular products: a hot set
    /// that stays cached.
    pub hot: Vec<String>,
    /// Product lists with random filters, sorts and pages.
    pub lists: Vec<String>,
    /// 1–3 word searches from product titles, 10 % with a typo.
    pub search: Vec<String>,
    /// Brands and categories pages.
    pub taxonomy: Vec<String>,
}

const SORTS: [&str; 5] = ["featured", "newest", "price_asc", "price_desc", "rating"];
const SAMPLES: usize = 200_000;
/// Products in the hot set.
const HOT: usize = 1_000;

impl Workloads {
    pub fn new(catalog: &Catalog, seed: u64) -> Workloads {
        let mut ids = Vec::new();
        let mut brands = std::collections::BTreeSet::new();
        let mut categories = std::collections::BTreeSet::new();
        catalog
            .store()
            .export(shopd::store::RecordTable::Products, |r| {
                if let shopd::store::ExportRecord::Product(p) = r {
                    brands.insert(p.brand_id.as_str().to_string());
                    categories.extend(p.category_ids.iter().map(|c| c.as_str().to_string()));
                    ids.push(p.id.as_str().to_string());
                }
                Ok::<_, shopd::store::StoreError>(())
            })
            .unwrap();
        let brands: Vec<String> = brands.into_iter().collect();
        let categories: Vec<String> = categories.into_iter().collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut small = Rng(seed | 1);

        // Popularity ranks are a random permutation of the products.
        ids.shuffle(&mut rng);
        let zipf = rand_distr::Zipf::new(ids.len() as f64, 1.0).unwrap();
        let ranks: Vec<usize> = (0..SAMPLES)
            .map(|_| (zipf.sample(&mut rng) as usize).clamp(1, ids.len()))
            .collect();
        let detail_path = |rank: usize| format!("/api/v1/products/{}", ids[rank - 1]);
        let detail = ranks.iter().map(|&r| detail_path(r)).collect();
        let hot = ranks
            .iter()
            .filter(|&&r| r <= HOT)
            .map(|&r| detail_path(r))
            .collect();

        let lists = (0..SAMPLES / 4)
            .map(|_| {
                let mut q = Vec::new();
                match small.below(100) {
                    0..40 => {}
                    40..60 => q.push(format!(
                        "category={}",
                        categories[small.below(categories.len())]
                    )),
                    60..75 => q.push(format!("brand={}", brands[small.below(brands.len())])),
                    75..85 => q.push("isAvailable=true".into()),
                    _ => {
                        let lo = [0, 10, 25, 50, 100][small.below(5)];
                        q.push(format!("minPrice={lo}&maxPrice={}", lo * 2 + 20));
                    }
                }
                if small.below(6) > 0 {
                    q.push(format!("sort={}", SORTS[small.below(SORTS.len())]));
                }
                let page = match small.below(100) {
                    0..60 => 1,
                    60..85 => 2,
                    _ => 3,
                };
                if page > 1 {
                    q.push(format!("page={page}"));
                }
                if q.is_empty() {
                    "/api/v1/products".to_string()
                } else {
                    format!("/api/v1/products?{}", q.join("&"))
                }
            })
            .collect();

        let (texts, _) = super::queries(catalog, 5_000, seed);
        let search = texts
            .iter()
            .map(|t| format!("/api/v1/search?q={}", t.replace(' ', "+")))
            .collect();

        let mut taxonomy = vec!["/api/v1/categories".to_string()];
        for page in 1..=5 {
            taxonomy.push(format!("/api/v1/brands?page={page}"));
        }
        for c in categories.iter().take(50) {
            taxonomy.push(format!("/api/v1/categories/{c}"));
        }
        for b in brands.iter().take(50) {
            taxonomy.push(format!("/api/v1/brands/{b}"));
        }
        Workloads {
            detail,
            hot,
            lists,
            search,
            taxonomy,
        }
    }

    /// 40 % lists, 40 % details, 15 % search, 5 % brands and categories.
    pub fn mixed(&self, seed: u64) -> Vec<String> {
        let mut rng = Rng(seed | 1);
        (0..SAMPLES)
            .map(|_| {
                let pool = match rng.below(100) {
                    0..40 => &self.lists,
                    40..80 => &self.detail,
                    80..95 => &self.search,
                    _ => &self.taxonomy,
                };
                pool[rng.below(pool.len())].clone()
            })
            .collect()
    }
}

/// Lets the kernel queue a connection storm (10,000 connects at once) instead
/// of dropping SYNs; best effort (needs root), like any load-test rig's
/// tuning.
pub fn raise_accept_queue() {
    for (key, value) in [
        ("/proc/sys/net/core/somaxconn", "65535"),
        ("/proc/sys/net/ipv4/tcp_max_syn_backlog", "65535"),
    ] {
        if std::fs::write(key, value).is_err() {
            eprintln!("could not raise {key} (not root?)");
        }
    }
}

/// The kernel's listen-queue counters (`/proc/net/netstat`, TcpExt):
/// `ListenOverflows` counts handshakes completed while a listener's accept
/// queue was full, `ListenDrops` every SYN or ACK dropped at a listener
/// (overflows included). Machine-wide: read around a run with nothing else
/// listening under load.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ListenCounters {
    pub overflows: u64,
    pub drops: u64,
}

pub fn listen_counters() -> ListenCounters {
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return ListenCounters::default();
    };
    let mut c = ListenCounters::default();
    for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
        match n {
            "ListenOverflows" => c.overflows = v.parse().unwrap_or(0),
            "ListenDrops" => c.drops = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    c
}

/// Installs wrk from Debian's packages when it is missing.
pub fn ensure_wrk() {
    if Command::new("wrk").arg("-v").output().is_ok() {
        return;
    }
    eprintln!("installing wrk (apt-get)…");
    let sudo = if unsafe_is_root() { "" } else { "sudo " };
    let ok = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{sudo}apt-get update -qq && DEBIAN_FRONTEND=noninteractive {sudo}apt-get install -y -qq wrk"
        ))
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "could not install wrk");
}

fn unsafe_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A GET over a fresh connection: (status, body).
pub fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// A server under test: a child process on a loopback port.
pub struct Server {
    child: Child,
    pub port: u16,
    pub name: String,
}

impl Server {
    /// Starts `program args…` with the open-file limit raised (10K
    /// connections need more than the default 1024).
    pub fn spawn(name: &str, program: &Path, args: &[String], envs: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg("ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn); exec \"$@\"")
            .arg("bash")
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // The harness measures the server, not its rate limits: every
        // request comes from 127.0.0.1. (The baseline ignores these.)
        for class in ["API", "AUTH", "WRITE", "CHECKOUT", "CREDENTIALS"] {
            cmd.env(format!("SHOPD_RATE_LIMIT_{class}"), "off");
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let port = args
            .iter()
            .find_map(|a| a.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
            .expect("a --listen host:port argument");
        Server {
            child: cmd.spawn().expect("server starts"),
            port,
            name: name.to_string(),
        }
    }

    /// Waits until `path` answers 200; returns how long that took.
    pub fn wait_for(&mut self, path: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            if let Ok((200, _)) = get(self.port, path) {
                return start.elapsed();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited while starting: {status}", self.name);
            }
            assert!(
                start.elapsed() < limit,
                "{} not ready after {limit:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds the process has used.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid())
    }

    /// Starts a new peak-RSS window (`/proc/PID/clear_refs`).
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    /// Peak resident set since the last reset, in bytes.
    pub fn peak_rss(&self) -> u64 {
        status_kib(self.pid(), "VmHWM:") * 1024
    }

    pub fn metrics(&self) -> Snapshot {
        let (_, text) = get(self.port, "/metrics").expect("/metrics");
        Snapshot::parse(&text)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn cpu_seconds(pid: u32) -> f64 {
    let (own, _) = cpu_ticks(pid);
    own / clock_ticks()
}

/// (utime + stime, cutime + cstime) of `pid` in clock ticks: its own CPU,
/// and that of its children it has waited for (0 if gone).
fn cpu_ticks(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime, stime, cutime and
    // cstime are the 14th to 17th fields of the whole line.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (field(11) + field(12), field(13) + field(14))
}

/// CPU seconds used so far by every process of a design: each root (the
/// server, the postmaster, Redis), its live descendants (PostgreSQL
/// backends), and through each root's waited-for-children time those that
/// have exited. The difference of two readings is the design's CPU between
/// them.
pub fn design_cpu_seconds(roots: &[u32]) -> f64 {
    let mut ticks = 0.0;
    for &root in roots {
        let (own, children) = cpu_ticks(root);
        ticks += own + children;
        for pid in tree(root).into_iter().skip(1) {
            ticks += cpu_ticks(pid).0;
        }
    }
    ticks / clock_ticks()
}

/// CPU seconds of this process's waited-for children (wrk and oha runs end
/// with a wait, so a difference around one run is that run's CPU).
pub fn children_cpu_seconds() -> f64 {
    cpu_ticks(std::process::id()).1 / clock_ticks()
}

/// `pid` and all its descendants.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            if let Some(ppid) = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u32>().ok())
            {
                parents.push((p, ppid));
            }
        }
    }
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let parent = all[i];
        for &(p, pp) in &parents {
            if pp == parent && !all.contains(&p) {
                all.push(p);
            }
        }
        i += 1;
    }
    all
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Sums of the `/metrics` series the harness reads, matched by name suffix
/// so that servers with other prefixes (the Postgres baseline) report the
/// same figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    pub requests: f64,
    pub cache_hits: f64,
    pub cache_misses: f64,
    pub lookups: f64,
}

impl Snapshot {
    pub fn parse(text: &str) -> Snapshot {
        let mut s = Snapshot::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let name = series.split('{').next().unwrap_or("");
            let v: f64 = value.parse().unwrap_or(0.0);
            if name.ends_with("_http_requests_total") && !series.contains("/metrics") {
                s.requests += v;
            } else if name.ends_with("_cache_hits_total") {
                s.cache_hits += v;
            } else if name.ends_with("_cache_misses_total") {
                s.cache_misses += v;
            } else if name.ends_with("_storage_lookups_total") {
                s.lookups += v;
            }
        }
        s
    }
}

/// What wrk's `done` hook reports.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct WrkReport {
    pub requests: u64,
    pub duration_us: u64,
    pub connect_errors: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    pub status_errors: u64,
    pub timeouts: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// wrk's own CPU seconds over the run (filled in after it exits).
    #[serde(default)]
    pub cpu_seconds: f64,
}

impl WrkReport {
    pub fn errors(&self) -> u64 {
        self.connect_errors
            + self.read_errors
            + self.write_errors
            + self.status_errors
            + self.timeouts
    }
}

const SCRIPT: &str = r#"
-- Replays a path list. WRK_START=random (the default): each thread runs
-- WRK_STREAMS cursors (one per connection it drives), each starting at its own
-- random offset (seeded by WRK_SEED and the thread) and walking on, taken in
-- turn. WRK_START=replay: the previous method, kept to show its bias: thread n
-- starts at offset n * 7919, the same in the warm-up and in the measurement.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  paths = {}
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  if (os.getenv("WRK_START") or "random") == "replay" then
    cursors = { (id or 0) * 7919 }
  else
    math.randomseed(tonumber(os.getenv("WRK_SEED") or "1") * 1000 + (id or 0))
    cursors = {}
    for s = 1, tonumber(os.getenv("WRK_STREAMS") or "1") do
      cursors[s] = math.random(0, #paths - 1)
    end
  end
  k = 0
  local encodings = os.getenv("WRK_ACCEPT_ENCODING") or ""
  if encodings ~= "" then wrk.headers["Accept-Encoding"] = encodings end
end
function request()
  k = k % #cursors + 1
  cursors[k] = cursors[k] + 1
  return wrk.format("GET", paths[(cursors[k] % #paths) + 1])
end
-- A think time per request when given (milliseconds, uniform lo..hi):
-- each connection is then a user who reads before clicking again.
think_lo = tonumber(os.getenv("WRK_THINK_LO") or "0")
think_hi = tonumber(os.getenv("WRK_THINK_HI") or "0")
function delay()
  if think_hi > 0 then return math.random(think_lo, think_hi) end
  return 0
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,"mean_us":%f,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"#;

/// Where wrk's connections start in the path list.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// Each connection at its own random offset (seeded, so both designs
    /// of a round get the same offsets).
    Random { seed: u64 },
    /// Thread n at offset n × 7919, as the warm-up that went before: the
    /// previous method, kept only to show its bias.
    Replay,
}

/// One wrk run replaying `paths` (a file of one path per line) with the
/// connections, threads, think time and `Accept-Encoding` of `s`.
pub fn wrk(
    port: u16,
    paths: &Path,
    s: &Scenario<'_>,
    duration: Duration,
    start: Start,
) -> WrkReport {
    let (connections, threads, think_ms) = (s.connections, s.threads, s.think_ms);
    let dir = paths.parent().unwrap();
    let script = dir.join("replay.lua");
    std::fs::write(&script, SCRIPT).unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg("ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn); exec \"$@\"")
        .arg("bash")
        .arg("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(&script)
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--")
        .arg(paths)
        .env("WRK_THINK_LO", think_ms.map_or(0, |t| t.0).to_string())
        .env("WRK_THINK_HI", think_ms.map_or(0, |t| t.1).to_string())
        .env("WRK_ACCEPT_ENCODING", s.accept_encoding.unwrap_or(""))
        .env(
            "WRK_START",
            match start {
                Start::Random { .. } => "random",
                Start::Replay => "replay",
            },
        )
        .env(
            "WRK_SEED",
            match start {
                Start::Random { seed } => seed,
                Start::Replay => 0,
            }
            .to_string(),
        )
        .env(
            "WRK_STREAMS",
            connections.div_ceil(threads.max(1)).max(1).to_string(),
        );
    let cpu0 = children_cpu_seconds();
    let out = cmd.output().expect("wrk runs");
    let cpu = children_cpu_seconds() - cpu0;
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
    let mut report: WrkReport = serde_json::from_str(line).expect("wrk report is JSON");
    report.cpu_seconds = cpu;
    report
}

/// Sends each of the first `n` paths once (wrapping if `n` exceeds the
/// list) over `connections` keep-alive-less connections in parallel;
/// returns how long that took. Every design gets the same requests, however
/// fast it serves them: a warm-up by coverage, not by time.
pub fn warm_by_coverage(port: u16, paths: &[String], n: usize, connections: usize) -> Duration {
    let start = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..connections.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n || paths.is_empty() {
                        break;
                    }
                    // A failed warm-up request shows up in the measurement.
                    let _ = get(port, &paths[i % paths.len()]);
                }
            });
        }
    });
    start.elapsed()
}

/// A scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub server: String,
    pub scenario: String,
    pub connections: usize,
    /// Think time per request (ms, uniform), when connections act as users.
    pub think_ms: Option<(u32, u32)>,
    pub seconds: f64,
    pub requests: u64,
    pub rps: f64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub error_kinds: String,
    /// Hits / (hits + misses) over the measured window; `None` if the
    /// scenario never touched the cache.
    pub cache_hit_rate: Option<f64>,
    /// Storage lookups (read transactions, or SQL statements for the
    /// baseline) per request over the measured window.
    pub lookups_per_request: f64,
    /// Server CPU over the window, in cores (2.0 = both cores busy).
    pub server_cpu_cores: f64,
    /// CPU of every process of the design over the window (server, and
    /// for the baseline PostgreSQL's postmaster and backends and Redis).
    pub design_cpu_cores: f64,
    /// req/s per core the design used: `rps / design_cpu_cores`.
    pub rps_per_core: f64,
    /// The load generator's CPU over the window, in cores.
    pub generator_cpu_cores: f64,
    pub peak_rss_mib: f64,
    /// Requests sent before the window (warm-up by coverage), or 0 for a
    /// timed warm-up.
    pub warm_requests: usize,
    pub warm_seconds: f64,
    /// Kernel listen-queue overflows and drops during the window.
    pub listen: ListenCounters,
}

/// How a scenario is warmed before its measured window.
#[derive(Debug, Clone, Copy)]
pub enum Warm {
    /// The first `requests` paths of the list, each once, however long that
    /// takes; the window then starts at random offsets (seeded).
    Coverage {
        requests: usize,
        seed: u64,
    },
    /// The same load as the window for a time, and the window replays the
    /// warm-up's paths: the previous method, biased towards the faster server
    /// (it covers more of the list); kept to show the size of that bias.
    Time(Duration),
    None,
}

/// A scenario: a path list and how hard to drive it.
pub struct Scenario<'a> {
    pub name: &'a str,
    pub paths: &'a [String],
    pub connections: usize,
    pub warm: Warm,
    /// The design's processes besides the server (PostgreSQL's postmaster,
    /// Redis), for its CPU.
    pub services: &'a [u32],
    pub measure: Duration,
    pub threads: usize,
    /// Think time between a connection's requests, ms (uniform); `None`:
    /// back to back (a closed loop at full speed).
    pub think_ms: Option<(u32, u32)>,
    /// The `Accept-Encoding` every request sends; `None`: no header (a
    /// script's client, served plain). [`BROWSER_ENCODINGS`]: a browser's.
    pub accept_encoding: Option<&'a str>,
}

/// What Chrome and Firefox send as `Accept-Encoding` (over HTTPS).
pub const BROWSER_ENCODINGS: &str = "gzip, deflate, br, zstd";

/// Warms (see [`Warm`]), then measures one scenario.
pub fn measure(server: &Server, s: &Scenario<'_>, work: &Path) -> Measured {
    let file = work.join(format!("{}.paths", s.name));
    std::fs::write(&file, s.paths.join("\n") + "\n").unwrap();
    let (start, warm_requests, warm_seconds) = match s.warm {
        Warm::Coverage { requests, seed } => {
            let took = warm_by_coverage(server.port, s.paths, requests, s.connections.min(64));
            (Start::Random { seed }, requests, took.as_secs_f64())
        }
        Warm::Time(d) => {
            wrk(server.port, &file, s, d, Start::Replay);
            (Start::Replay, 0, d.as_secs_f64())
        }
        Warm::None => (Start::Random { seed: 1 }, 0, 0.0),
    };
    server.reset_peak();
    let before = server.metrics();
    let mut roots = vec![server.pid()];
    roots.extend_from_slice(s.services);
    let cpu0 = server.cpu_seconds();
    let design0 = design_cpu_seconds(&roots);
    let listen0 = listen_counters();
    let start_time = Instant::now();
    let r = wrk(server.port, &file, s, s.measure, start);
    let wall = start_time.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu0;
    let design = design_cpu_seconds(&roots) - design0;
    let listen1 = listen_counters();
    let after = server.metrics();
    let peak = server.peak_rss();
    let secs = r.duration_us as f64 / 1e6;
    let hits = after.cache_hits - before.cache_hits;
    let misses = after.cache_misses - before.cache_misses;
    // /metrics itself is excluded from the request count.
    let served = (after.requests - before.requests).max(1.0);
    let rps = r.requests as f64 / secs;
    Measured {
        server: server.name.clone(),
        scenario: s.name.to_string(),
        connections: s.connections,
        think_ms: s.think_ms,
        seconds: secs,
        requests: r.requests,
        rps,
        avg_ms: r.mean_us / 1000.0,
        p50_ms: r.p50_us as f64 / 1000.0,
        p95_ms: r.p95_us as f64 / 1000.0,
        p99_ms: r.p99_us as f64 / 1000.0,
        max_ms: r.max_us as f64 / 1000.0,
        errors: r.errors(),
        error_kinds: format!(
            "connect {} read {} write {} status {} timeout {}",
            r.connect_errors, r.read_errors, r.write_errors, r.status_errors, r.timeouts
        ),
        cache_hit_rate: (hits + misses > 0.0).then(|| hits / (hits + misses)),
        lookups_per_request: (after.lookups - before.lookups) / served,
        server_cpu_cores: cpu / wall,
        design_cpu_cores: design / wall,
        rps_per_core: if design > 0.0 {
            rps / (design / wall)
        } else {
            0.0
        },
        generator_cpu_cores: r.cpu_seconds / wall,
        peak_rss_mib: peak as f64 / (1024.0 * 1024.0),
        warm_requests,
        warm_seconds,
        listen: ListenCounters {
            overflows: listen1.overflows.saturating_sub(listen0.overflows),
            drops: listen1.drops.saturating_sub(listen0.drops),
        },
    }
}

/// A markdown table of results.
pub fn table(rows: &[Measured]) -> String {
    let mut out = String::from(
        "| server | scenario | conns | req/s | avg ms | p50 ms | p95 ms | p99 ms | max ms | errors | cache hit | lookups/req | server CPU (cores) | design CPU (cores) | req/s per core | wrk CPU (cores) | listen overflows | peak RSS MiB |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in rows {
        out += &format!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} | {:.2} | {:.2} | {:.2} | {:.0} | {:.2} | {} | {:.0} |\n",
            m.server,
            match m.think_ms {
                Some((lo, hi)) => format!("{} (think {lo}–{hi} ms)", m.scenario),
                None => m.scenario.clone(),
            },
            m.connections,
            m.rps,
            m.avg_ms,
            m.p50_ms,
            m.p95_ms,
            m.p99_ms,
            m.max_ms,
            m.errors,
            m.cache_hit_rate
                .map_or("–".into(), |h| format!("{:.1} %", h * 100.0)),
            m.lookups_per_request,
            m.server_cpu_cores,
            m.design_cpu_cores,
            m.rps_per_core,
            m.generator_cpu_cores,
            m.listen.overflows,
            m.peak_rss_mib,
        );
    }
    out
}

/// Seconds from the environment variable `name`, or `default`.
pub fn env_secs(name: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default),
    )
}

/// Copies the cached database into `dir` (servers write to their copy).
pub fn copy_database(from: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let to = dir.join("shopd.redb");
    std::fs::copy(from, &to).unwrap();
    to
}

/// oha, the constant-rate generator: `target/tools/bin/oha`, installed from
/// crates.io (`cargo install --locked`, version pinned) when missing.
pub fn ensure_oha() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools");
    let bin = root.join("bin/oha");
    if bin.exists() {
        return bin;
    }
    eprintln!("installing oha {OHA_VERSION} (cargo install, a few minutes)…");
    let ok = Command::new("cargo")
        .args([
            "install",
            "--locked",
            "oha",
            "--version",
            OHA_VERSION,
            "--root",
        ])
        .arg(&root)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok && bin.exists(), "could not install oha");
    bin
}

/// 1.16.0: `-q` with `--latency-correction` measures each request from its
/// scheduled send time (`start_latency_correction` in its client), so a
/// request that waited for a busy connection counts its wait.
const OHA_VERSION: &str = "1.16.0";

/// A constant-rate run's figures (oha).
#[derive(Debug, Clone, Serialize)]
pub struct RateMeasured {
    pub server: String,
    pub scenario: String,
    pub connections: usize,
    /// The rate asked for, and the rate served.
    pub target_rps: f64,
    pub rps: f64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Transport errors plus answers other than 2xx/3xx.
    pub errors: u64,
    /// Requests scheduled but not yet sent when the run ended.
    pub aborted_at_deadline: u64,
    pub design_cpu_cores: f64,
    pub generator_cpu_cores: f64,
    pub warm_requests: usize,
}

/// Warms by coverage (as [`measure`]), then sends `rate` requests per
/// second for `duration` over `connections` connections with oha, each
/// latency measured from the request's scheduled send time (corrected for
/// coordinated omission). URLs are drawn at random from `paths`.
#[allow(clippy::too_many_arguments)]
pub fn measure_rate(
    server: &Server,
    name: &str,
    paths: &[String],
    warm_requests: usize,
    services: &[u32],
    rate: f64,
    connections: usize,
    duration: Duration,
    work: &Path,
) -> RateMeasured {
    let oha = ensure_oha();
    let file = work.join(format!("{name}.urls"));
    let base = format!("http://127.0.0.1:{}", server.port);
    let urls: Vec<String> = paths.iter().map(|p| format!("{base}{p}")).collect();
    std::fs::write(&file, urls.join("\n") + "\n").unwrap();
    warm_by_coverage(server.port, paths, warm_requests, connections.min(64));
    let mut roots = vec![server.pid()];
    roots.extend_from_slice(services);
    let design0 = design_cpu_seconds(&roots);
    let gen0 = children_cpu_seconds();
    let start = Instant::now();
    let out = Command::new(&oha)
        .arg("-z")
        .arg(format!("{}s", duration.as_secs().max(1)))
        .arg("-q")
        .arg(format!("{rate:.0}"))
        .arg("-c")
        .arg(connections.to_string())
        .args([
            "--latency-correction",
            // Requests in flight at the deadline finish and count.
            "--wait-ongoing-requests-after-deadline",
            "--no-tui",
            "--disable-compression",
            "--output-format",
            "json",
            "-t",
            "10s",
            "--urls-from-file",
        ])
        .arg(&file)
        .output()
        .expect("oha runs");
    let wall = start.elapsed().as_secs_f64();
    let generator = children_cpu_seconds() - gen0;
    let design = design_cpu_seconds(&roots) - design0;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oha printed no JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let lat = |k: &str| v["metrics"]["latency_ms"][k].as_f64().unwrap_or(f64::NAN);
    let count = |key: &str, bad: &dyn Fn(&str) -> bool| -> u64 {
        v[key].as_object().map_or(0, |m| {
            m.iter()
                .filter(|(k, _)| bad(k))
                .map(|(_, n)| n.as_u64().unwrap_or(0))
                .sum()
        })
    };
    let aborted = count("errorDistribution", &|k| k.contains("deadline"));
    let errors = count("errorDistribution", &|k| !k.contains("deadline"))
        + count("statusCodeDistribution", &|k| {
            !k.starts_with('2') && !k.starts_with('3')
        });
    RateMeasured {
        server: server.name.clone(),
        scenario: name.to_string(),
        connections,
        target_rps: rate,
        rps: v["metrics"]["requests_per_sec"].as_f64().unwrap_or(0.0),
        avg_ms: lat("mean"),
        p50_ms: lat("p50"),
        p95_ms: lat("p95"),
        p99_ms: lat("p99"),
        max_ms: lat("max"),
        errors,
        aborted_at_deadline: aborted,
        design_cpu_cores: design / wall,
        generator_cpu_cores: generator / wall,
        warm_requests,
    }
}
