//! Parts of the HTTP load harness: workloads as lists of request paths, a
//! server process (its CPU time and peak RSS from /proc), wrk runs driven by
//! a Lua script that replays a path list, `/metrics` deltas, and results.
//!
//! wrk (Debian's package; installed here when missing) is the load
//! generator: written in C on epoll, it needs far less CPU per request than
//! the server it measures, which matters on a 2-core machine where both share
//! the cores, and its Lua hooks replay a prepared path list. It is a closed
//! loop: it does not correct for coordinated omission (wrk2 and oha's
//! `--latency-correction` do, only at a fixed request rate), so its tail
//! latencies at saturation are optimistic.

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
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / clock_ticks()
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
-- Replays a path list: each thread starts at its own offset and walks on.
local counter = 0
function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end
function init(args)
  paths = {}
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  i = offset or 0
end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
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

/// One wrk run replaying `paths` (a file of one path per line).
pub fn wrk(
    port: u16,
    paths: &Path,
    connections: usize,
    threads: usize,
    duration: Duration,
    think_ms: Option<(u32, u32)>,
) -> WrkReport {
    let dir = paths.parent().unwrap();
    let script = dir.join("replay.lua");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = Command::new("bash")
        .arg("-c")
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
    pub peak_rss_mib: f64,
}

/// A scenario: a path list and how hard to drive it.
pub struct Scenario<'a> {
    pub name: &'a str,
    pub paths: &'a [String],
    pub connections: usize,
    pub warm: Duration,
    pub measure: Duration,
    pub threads: usize,
    /// Think time between a connection's requests, ms (uniform); `None`:
    /// back to back (a closed loop at full speed).
    pub think_ms: Option<(u32, u32)>,
}

/// Warms (same load, not measured), then measures one scenario.
pub fn measure(server: &Server, s: &Scenario<'_>, work: &Path) -> Measured {
    let file = work.join(format!("{}.paths", s.name));
    std::fs::write(&file, s.paths.join("\n") + "\n").unwrap();
    if !s.warm.is_zero() {
        wrk(
            server.port,
            &file,
            s.connections,
            s.threads,
            s.warm,
            s.think_ms,
        );
    }
    server.reset_peak();
    let before = server.metrics();
    let cpu0 = server.cpu_seconds();
    let start = Instant::now();
    let r = wrk(
        server.port,
        &file,
        s.connections,
        s.threads,
        s.measure,
        s.think_ms,
    );
    let wall = start.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu0;
    let after = server.metrics();
    let peak = server.peak_rss();
    let secs = r.duration_us as f64 / 1e6;
    let hits = after.cache_hits - before.cache_hits;
    let misses = after.cache_misses - before.cache_misses;
    // /metrics itself is excluded from the request count.
    let served = (after.requests - before.requests).max(1.0);
    Measured {
        server: server.name.clone(),
        scenario: s.name.to_string(),
        connections: s.connections,
        think_ms: s.think_ms,
        seconds: secs,
        requests: r.requests,
        rps: r.requests as f64 / secs,
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
        peak_rss_mib: peak as f64 / (1024.0 * 1024.0),
    }
}

/// A markdown table of results.
pub fn table(rows: &[Measured]) -> String {
    let mut out = String::from(
        "| server | scenario | conns | req/s | avg ms | p50 ms | p95 ms | p99 ms | max ms | errors | cache hit | lookups/req | server CPU (cores) | peak RSS MiB |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in rows {
        out += &format!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} | {:.2} | {:.2} | {:.0} |\n",
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
