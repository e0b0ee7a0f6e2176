//! The processes of the differential test: PostgreSQL and Redis through
//! `setup.sh`, the `shopd-baseline` servers, and shopd in-process. Each is
//! stopped by its guard's `Drop`, so a failing assertion leaves nothing
//! running.

use reqwest::{Client, StatusCode};
use shopd::config::{Config, Raw, Secret};
use shopd::startup::Application;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::fixture::{fixture_dir, repo};

/// The admin token every server here accepts.
pub const TOKEN: &str = "differential-admin-token-0123456789abcdef";

/// PostgreSQL and Redis started by `setup.sh` in `dir`; stopped on drop.
pub struct Services {
    dir: PathBuf,
    database_url: String,
    redis_url: String,
}

pub fn setup_script() -> PathBuf {
    repo().join("benches/baseline/setup.sh")
}

impl Services {
    /// Runs `setup.sh start` loading the fixture catalogue. The guard exists
    /// before the script runs, so a half-started setup is stopped too.
    pub fn start(dir: &Path) -> Services {
        let mut s = Services {
            dir: dir.to_path_buf(),
            database_url: String::new(),
            redis_url: String::new(),
        };
        let out = Command::new("bash")
            .arg(setup_script())
            .arg("start")
            .arg("--dir")
            .arg(dir)
            .arg("--catalog")
            .arg(fixture_dir())
            .arg("--bin")
            .arg(env!("CARGO_BIN_EXE_shopd-baseline"))
            // Tune for 1 GiB: a 1,000-product catalogue needs no more, and
            // the machine's RAM is for whatever else runs beside the test.
            .args(["--mem-mb", "1024"])
            .stdin(Stdio::null())
            .output()
            .expect("running benches/baseline/setup.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "setup.sh could not start PostgreSQL and Redis ({}):\n{}\n{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        let vars: HashMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('=')).collect();
        s.database_url = vars["DATABASE_URL"].to_string();
        s.redis_url = vars["REDIS_URL"].to_string();
        s
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(setup_script())
            .arg("stop")
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
    }
}

/// A running `shopd-baseline serve`; killed on drop.
pub struct Baseline {
    child: Child,
    pub address: String,
    /// Its uploaded images' files (`--media-dir`).
    _media: tempfile::TempDir,
}

impl Baseline {
    pub fn start(services: &Services, cache: bool) -> Baseline {
        Baseline::start_with(services, cache, &[])
    }

    /// [`Baseline::start`] with more `serve` flags (`--shipping`, …).
    pub fn start_with(services: &Services, cache: bool, flags: &[&str]) -> Baseline {
        let media = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_shopd-baseline"))
            .args(["--log-level", "warn", "serve", "--listen", "127.0.0.1:0"])
            .arg("--database-url")
            .arg(&services.database_url)
            .arg("--redis-url")
            .arg(&services.redis_url)
            .args(["--cache", if cache { "on" } else { "off" }])
            .args(["--admin-token", TOKEN, "--pool-size", "4", "--workers", "2"])
            .arg("--media-dir")
            .arg(media.path())
            .args(flags)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting shopd-baseline");
        let stdout = child.stdout.take().expect("piped stdout");
        // The first line says where it listens; read it on a thread so a
        // server that never prints cannot hang the test.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut b = Baseline {
            child,
            address: String::new(),
            _media: media,
        };
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let address = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("shopd-baseline did not say where it listens: {line:?}"));
        b.address = address.to_string();
        b
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// shopd in-process on the demo catalogue (the same fixture).
pub async fn start_shopd(data_dir: &Path) -> (String, actix_web::dev::ServerHandle) {
    let defaults = Config::defaults().orders.charges;
    start_shopd_charging(data_dir, defaults).await
}

/// [`start_shopd`] with these shipping and tax charges.
pub async fn start_shopd_charging(
    data_dir: &Path,
    charges: shopd::domain::order::Charges,
) -> (String, actix_web::dev::ServerHandle) {
    let mut raw = Raw::default();
    raw.common.data_dir = Some(data_dir.to_path_buf());
    raw.common.log.log_level = Some("warn".into());
    raw.serve.http.listen = Some("127.0.0.1:0".into());
    let mut config = Config::from_raw(raw).expect("the defaults are valid");
    config.demo = true;
    // The baseline loads the fixture's links, not the demo's photos.
    config.demo_images = false;
    config.http.admin_token = Some(Secret::new(TOKEN));
    config.http.workers = 2;
    config.http.body_limit = 262_144;
    config.http.shutdown_timeout = Duration::from_secs(1);
    config.jobs.shutdown_timeout = Duration::from_secs(1);
    // The differential run sends every request from 127.0.0.1.
    config.rate_limits = shopd::config::rate_limits::RateLimitSettings::off();
    config.orders.charges = charges;
    let app = Application::build(config).await.expect("shopd builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    (address, handle)
}

pub async fn wait_ready(client: &Client, address: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{address}/ready")).send().await
            && r.status() == StatusCode::OK
        {
            return;
        }
        assert!(Instant::now() < deadline, "{address} not ready after 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
