//! The two designs as processes: shopd (one binary) and the Postgres design
//! (`shopd-baseline` + PostgreSQL + Redis from `benches/baseline/setup.sh`),
//! started on loopback ports, and the memory of all of a design's processes.
//! Used by the benches that need the baseline (feature `baseline`).
#![allow(dead_code)] // each bench target uses a different part

use crate::common::load::{Server, free_port, tree};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The admin token both designs accept.
pub const TOKEN: &str = "compare-admin-token-0123456789abcdef0123";

/// The shopd binary this bench was built with, or `SHOPD_BENCH_BIN` (to
/// measure another build, such as the previous commit, with the same
/// harness).
pub fn shopd_bin() -> PathBuf {
    std::env::var_os("SHOPD_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_shopd")))
}

pub fn baseline_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_shopd-baseline"))
}

pub fn setup_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/baseline/setup.sh")
}

/// Runs setup.sh; returns its KEY=VALUE lines.
pub fn setup(args: &[&str]) -> BTreeMap<String, String> {
    let out = Command::new("bash")
        .arg(setup_script())
        .args(args)
        .env("BASELINE_BIN", baseline_bin())
        .output()
        .expect("setup.sh runs");
    assert!(
        out.status.success(),
        "setup.sh {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

/// Proportional set size of a process, in bytes (0 if gone).
pub fn pss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Pss:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

pub fn pid_file(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// The cache memory both designs get when caches are on: shopd's
/// `--cache-bytes` (its default) and the baseline's Redis `maxmemory`
/// (`allkeys-lru`, set by `setup.sh --redis-maxmemory`).
pub const CACHE_BYTES: u64 = 64 << 20;

/// One design, ready to start: shopd on a data dir, or the baseline on its
/// running services.
pub struct Design {
    pub name: &'static str,
    /// The baseline's services dir (`None`: shopd).
    pub services: Option<PathBuf>,
    /// setup.sh's KEY=VALUE output (DATABASE_URL, REDIS_URL, ports).
    pub env: BTreeMap<String, String>,
    /// shopd's data dir.
    pub data: PathBuf,
}

impl Design {
    pub fn start(&self, cache: bool) -> Server {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let label = format!("{} cache {}", self.name, if cache { "on" } else { "off" });
        if self.services.is_none() {
            let mut args = vec![
                "serve".to_string(),
                "--listen".into(),
                listen,
                "--data-dir".into(),
                self.data.display().to_string(),
                "--log-level".into(),
                "warn".into(),
            ];
            let bytes = if cache { CACHE_BYTES } else { 0 };
            args.extend(["--cache-bytes".into(), bytes.to_string()]);
            Server::spawn(&label, &shopd_bin(), &args, &[("SHOPD_ADMIN_TOKEN", TOKEN)])
        } else {
            // A cold Redis, as shopd starts with a cold cache.
            let _ = Command::new("redis-cli")
                .args(["-p", &self.env["REDIS_PORT"], "flushall"])
                .output();
            let args = vec![
                "--log-level".to_string(),
                "warn".into(),
                "serve".into(),
                "--listen".into(),
                listen,
                "--database-url".into(),
                self.env["DATABASE_URL"].clone(),
                "--redis-url".into(),
                self.env["REDIS_URL"].clone(),
                "--cache".into(),
                if cache { "on" } else { "off" }.into(),
                "--admin-token".into(),
                TOKEN.into(),
            ];
            Server::spawn(&label, baseline_bin(), &args, &[])
        }
    }

    /// The design's processes besides the server: PostgreSQL's postmaster
    /// (its backends are its children) and Redis; none for shopd.
    pub fn service_roots(&self) -> Vec<u32> {
        let Some(dir) = &self.services else {
            return Vec::new();
        };
        ["postgres.pid", "redis.pid"]
            .iter()
            .filter_map(|f| pid_file(&dir.join(f)))
            .collect()
    }

    /// PSS of every process of this design: the server, and for the
    /// baseline PostgreSQL (postmaster and backends) and Redis.
    pub fn memory(&self, server: &Server) -> u64 {
        let mut pids = vec![server.pid()];
        for root in self.service_roots() {
            pids.extend(tree(root));
        }
        pids.into_iter().map(pss).sum()
    }
}
