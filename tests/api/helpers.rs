//! `spawn_app` and friends: start shopd on port 0 over a fresh temp data dir.
//! Set `TEST_LOG=1` to see the server's logs.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use shopd::config::log::LogFormat;
use shopd::config::rate_limits::RateLimitSettings;
use shopd::config::{Config, Raw, Secret};
use shopd::startup::Application;
use std::path::Path;
use std::sync::Arc;
use tempfile::TempDir;

pub const TOKEN: &str = "test-admin-token-0123456789abcdef0123";
pub const BODY_LIMIT: usize = 64 * 1024;

pub use crate::common::fixture::{fixture_dir, fixture_lines};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// Kept alive as long as any app uses it (restarts reuse it).
    pub dir: Arc<TempDir>,
    handle: actix_web::dev::ServerHandle,
    /// `None` once [`TestApp::stop`] has waited for it.
    join: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Drop for TestApp {
    /// A test that ends without [`TestApp::stop`] still stops its server:
    /// actix's workers run on their own threads and would otherwise serve
    /// (and their indexer index) over a deleted temp dir for the rest of the
    /// test binary, costing the tests after it CPU and raising errors in
    /// their logs.
    fn drop(&mut self) {
        if self.join.is_some() {
            // Sends the command now; the returned future only waits for it.
            drop(self.handle.stop(false));
        }
    }
}

pub fn test_config(data_dir: &Path, demo: bool) -> Config {
    // The data dir and address as flags would give them, so every path
    // and link the configuration derives from them follows.
    let mut raw = Raw::default();
    raw.common.data_dir = Some(data_dir.to_path_buf());
    raw.serve.http.listen = Some("127.0.0.1:0".into());
    let mut c = Config::from_raw(raw).expect("the defaults are valid");
    c.demo = demo;
    // The fixture as the reference and the baseline load it: no photos.
    c.demo_images = false;
    c.http.admin_token = Some(Secret::new(TOKEN));
    c.http.workers = 2;
    c.http.body_limit = BODY_LIMIT;
    c.http.shutdown_timeout = std::time::Duration::from_secs(1);
    c.jobs.shutdown_timeout = std::time::Duration::from_secs(1);
    // Tests send many requests from 127.0.0.1: the rate-limit tests
    // turn on the classes they test, with small quotas.
    c.rate_limits = RateLimitSettings::off();
    c
}

/// An empty catalogue.
pub async fn spawn_app() -> TestApp {
    spawn_in(Arc::new(tempfile::tempdir().unwrap()), false).await
}

/// The fixture catalogue (`fixtures/catalog`, also the demo).
pub async fn spawn_app_with_fixture() -> TestApp {
    spawn_in(Arc::new(tempfile::tempdir().unwrap()), true).await
}

pub async fn spawn_in(dir: Arc<TempDir>, demo: bool) -> TestApp {
    let config = test_config(dir.path(), demo);
    spawn_with(dir, config).await
}

/// The fixture catalogue with `change` applied to the test configuration.
pub async fn spawn_fixture_with(change: impl FnOnce(&mut Config)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(dir.path(), true);
    change(&mut config);
    spawn_with(dir, config).await
}

pub async fn spawn_with(dir: Arc<TempDir>, config: Config) -> TestApp {
    spawn_with_faults(dir, config, None).await
}

/// [`spawn_with`] over storage whose I/O fails as `faults` plans.
pub async fn spawn_with_faults(
    dir: Arc<TempDir>,
    config: Config,
    faults: Option<Arc<shopd::store::db::faults::FaultPlan>>,
) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        shopd::telemetry::init(LogFormat::Text, "info");
    }
    let app = Application::build_with_faults(config, faults)
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    let app = TestApp {
        address,
        client: reqwest::Client::new(),
        dir,
        handle,
        join: Some(join),
    };
    app.wait_ready().await;
    app
}

impl TestApp {
    /// Waits until /ready says 200 (the search index is built); panics after
    /// 30 s with the last /ready body.
    pub async fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let res = self.get("/ready").await;
            if res.status() == StatusCode::OK {
                return;
            }
            let body = res.text().await.unwrap_or_default();
            assert!(
                std::time::Instant::now() < deadline,
                "not ready after 30 s: {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// GET and parse the JSON body.
    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let res = self.get(path).await;
        let status = res.status();
        (status, res.json().await.expect("JSON body"))
    }

    /// An admin request with the right token and a JSON body.
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let text = res.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, json)
    }

    /// A request with an optional bearer token and JSON body; the status and
    /// the parsed body (`Null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let text = res.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, json)
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let res = self.get("/metrics").await;
        assert_eq!(res.status(), StatusCode::OK);
        res.text().await.unwrap()
    }

    /// One sample of `/metrics`, by its exact name and labels as printed
    /// (`shopd_cache_hits_total{kind="search"}`); 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        sample(&self.metrics().await, series)
    }

    /// [`TestApp::metric`], `None` when the series is absent.
    pub async fn metric_if_present(&self, series: &str) -> Option<f64> {
        sample_if_present(&self.metrics().await, series)
    }

    /// Stops gracefully and waits until storage is released; returns the data
    /// dir for a restart.
    pub async fn stop(mut self) -> Arc<TempDir> {
        self.handle.stop(true).await;
        if let Some(join) = self.join.take() {
            join.await.unwrap().unwrap();
        }
        self.dir.clone()
    }
}

/// The `error.code` of an error body.
pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// The sorted `field` names of a 422 body.
pub fn fields(v: &Value) -> Vec<String> {
    let mut f: Vec<String> = v["error"]["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    f.sort();
    f
}

/// The `id`s of a list body's `data`.
pub fn ids(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

/// One sample of a `/metrics` text; 0 when absent.
pub fn sample(text: &str, series: &str) -> f64 {
    sample_if_present(text, series).unwrap_or(0.0)
}

/// One sample of a `/metrics` text, if it is there.
pub fn sample_if_present(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse::<f64>().expect("a number"))
    })
}
