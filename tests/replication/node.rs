//! Real `shopd serve` processes on loopback ports, stopped by process id.

use reqwest::Client;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN: &str = "replication-test-admin-token-0123456789";
pub const REPLICATION: &str = "replication-test-follower-token-01234567";

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Node {
    child: Option<Child>,
    pub port: u16,
    pub base: String,
    pub data: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Node {
    /// A leader with the demo catalogue, serving followers.
    pub fn leader(data: &Path, extra: &[&str]) -> Node {
        let mut args = vec!["--demo", "--replication-token", REPLICATION];
        args.extend_from_slice(extra);
        Node::spawn(data, free_port(), &args)
    }

    /// A follower of `leader`.
    pub fn follower(data: &Path, leader: &str, extra: &[&str]) -> Node {
        let mut args = vec!["--follow", leader, "--replication-token", REPLICATION];
        args.extend_from_slice(extra);
        Node::spawn(data, free_port(), &args)
    }

    pub fn spawn(data: &Path, port: u16, args: &[&str]) -> Node {
        Node::spawn_with_env(data, port, args, &[])
    }

    /// [`Node::spawn`] with extra environment variables (S3 credentials).
    pub fn spawn_with_env(
        data: &Path,
        port: u16,
        args: &[&str],
        env: &[(&'static str, String)],
    ) -> Node {
        let mut node = Node {
            child: None,
            port,
            base: format!("http://127.0.0.1:{port}"),
            data: data.to_path_buf(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        };
        node.start();
        node
    }

    /// The arguments of the next [`Node::start`].
    pub fn set_args(&mut self, args: &[&str]) {
        self.args = args.iter().map(|s| s.to_string()).collect();
    }

    /// (Re)starts the process on the same port and data dir.
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.with_extension("log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_shopd"))
            .args(["--data-dir", self.data.to_str().unwrap()])
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .args(["--workers", "2"])
            .args(&self.args)
            .env("SHOPD_ADMIN_TOKEN", ADMIN)
            .env("SHOPD_RATE_LIMIT_API", "off")
            .env("SHOPD_RATE_LIMIT_WRITE", "off")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The process's log so far (for failure messages).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.data.with_extension("log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Waits until `/ready` answers 200.
    pub async fn wait_ready(&self, client: &Client, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(r) = client.get(format!("{}/ready", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready after {within:?}; log:\n{}",
                self.base,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A client that does not follow redirects.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The `X-Generation` of a response.
pub fn generation(res: &reqwest::Response) -> u64 {
    res.headers()
        .get("x-generation")
        .expect("every response carries X-Generation")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Creates a product on `base` whose title holds `word`; returns the
/// acknowledged write's `X-Generation`.
pub async fn create_product(client: &Client, base: &str, id: &str, word: &str) -> u64 {
    let res = client
        .post(format!("{base}/api/v1/products"))
        .bearer_auth(ADMIN)
        .json(&json!({
            "id": id, "title": format!("Replicated {word} lamp"), "price": 12.5,
            "brandId": "brand-0001", "categoryIds": ["cat-001-01"]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    generation(&res)
}

/// Whether `base` shows product `id` in its detail, newest list and search
/// for `word`.
pub async fn shows_everywhere(client: &Client, base: &str, id: &str, word: &str) -> bool {
    let detail = client
        .get(format!("{base}/api/v1/products/{id}"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200);
    if !detail {
        return false;
    }
    let ids = |v: Value| -> Vec<String> {
        v["data"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["id"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let list: Value = match client
        .get(format!("{base}/api/v1/products?sort=newest&limit=50"))
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => return false,
    };
    if !ids(list).iter().any(|x| x == id) {
        return false;
    }
    let found: Value = match client
        .get(format!("{base}/api/v1/search?q={word}"))
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => return false,
    };
    ids(found).iter().any(|x| x == id)
}

/// The text of `/metrics`' line for `name` (its value).
pub async fn metric(client: &Client, base: &str, name: &str) -> Option<f64> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
