//! Acknowledged writes survive `kill -9`. The real binary takes product
//! creates and updates from concurrent writers and is killed at a random
//! moment, several times. After each restart: every acknowledged write is
//! there with its acknowledged value (or with the value of the one write its
//! writer still had in flight), the list indexes and counters agree with the
//! records (the brute-force oracle), and search catches up.
//!
//! `SHOPD_CRASH_CYCLES` sets the number of kills (default 3).
//!
//! A test binary of its own: cargo runs test binaries one after another, so
//! its writers at full speed do not starve the timing checks of the API
//! tests (search within 1 s) on a two-core machine.

#[path = "common/mod.rs"]
mod common;
#[path = "api/reference.rs"]
mod reference;

/// What `reference` reads the fixture with.
mod helpers {
    pub use crate::common::fixture::fixture_lines;
}

use rand::{Rng, SeedableRng};
use reference::{RefFilter, RefProduct, Reference, SORTS};
use serde_json::{Value, json};
use shopd::domain::Timestamp;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "crash-test-admin-token-0123456789abcdef";
const WRITERS: usize = 8;
/// The checkpoint interval of every node here: short, so that kills land
/// before, during and right after checkpoints, not only on a log-only
/// state (the default is 10 s).
const CHECKPOINT_EVERY: &str = "150ms";

/// A running `shopd serve` and its port.
struct Node {
    child: Child,
    base: String,
}

impl Node {
    fn start(data: &Path) -> Node {
        Node::start_with(data, &[])
    }

    fn start_with(data: &Path, extra: &[&str]) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shopd"))
            .args(["--data-dir", data.to_str().unwrap(), "--log-format", "json"])
            .args(extra)
            .args([
                "serve",
                "--demo",
                "--listen",
                "127.0.0.1:0",
                "--workers",
                "2",
            ])
            .env("SHOPD_ADMIN_TOKEN", TOKEN)
            // Writes as fast as the server takes them, all from 127.0.0.1.
            .env("SHOPD_RATE_LIMIT_API", "off")
            .env("SHOPD_RATE_LIMIT_WRITE", "off")
            .env("SHOPD_RATE_LIMIT_CHECKOUT", "off")
            .env("SHOPD_RATE_LIMIT_AUTH", "off")
            // The checks after each restart present hundreds of ended
            // sessions' tokens from one address.
            .env("SHOPD_RATE_LIMIT_CREDENTIALS", "off")
            .env("SHOPD_CHECKPOINT_EVERY", CHECKPOINT_EVERY)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["fields"]["message"] == "shopd listening"
                {
                    let _ = tx.send(v["fields"]["port"].as_u64().unwrap());
                }
                // Keep draining so the server never blocks on a full pipe.
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server starts");
        Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_ready(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{}/ready", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "not ready after 60 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server; returns the size of its write-ahead log at that
    /// moment (0: killed with everything checkpointed).
    fn kill9(&mut self, data: &Path) -> u64 {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
        let log = std::fs::metadata(data.join("shopd.redb.wal")).map_or(0, |m| m.len());
        eprintln!("killed with {log} bytes in the write-ahead log");
        log
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A product's title and price, as written.
#[derive(Debug, Clone, PartialEq)]
struct Written {
    title: String,
    cents: u64,
}

/// What the writers know about one of their products.
#[derive(Debug, Default, Clone)]
struct Known {
    /// The last acknowledged value (`None`: the create is not acknowledged).
    acked: Option<Written>,
    /// A write sent but not answered when the server died: it may or may
    /// not have landed.
    in_flight: Option<Written>,
    /// The words of every acknowledged value, for search.
    word: String,
}

type Ledger = Arc<Mutex<HashMap<String, Known>>>;

fn price(cents: u64) -> f64 {
    cents as f64 / 100.0
}

/// One writer: creates products and updates its own acknowledged ones until
/// a request fails (the server died) or `stop` is set.
async fn writer(base: String, cycle: usize, w: usize, ledger: Ledger, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64((cycle * 100 + w) as u64);
    let mut mine: Vec<String> = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let cents = rng.random_range(100..500_000u64);
        let word = format!("crashword{cycle}q{w}q{n}z");
        let value = Written {
            title: format!("Crash Lamp {word}"),
            cents,
        };
        let update = !mine.is_empty() && rng.random_bool(0.3);
        let (id, req) = if update {
            let id = mine[rng.random_range(0..mine.len())].clone();
            let req = client
                .patch(format!("{base}/api/v1/products/{id}"))
                .json(&json!({"title": value.title, "price": price(cents)}));
            (id, req)
        } else {
            let id = format!("crash-c{cycle}-w{w}-{n}");
            let req = client.post(format!("{base}/api/v1/products")).json(&json!({
                "id": id, "title": value.title, "price": price(cents),
                "brandId": "brand-0001", "categoryIds": ["cat-001-01"]
            }));
            (id, req)
        };
        ledger
            .lock()
            .unwrap()
            .entry(id.clone())
            .or_default()
            .in_flight = Some(value.clone());
        match req.bearer_auth(TOKEN).send().await {
            Ok(res) if res.status().is_success() => {
                let mut l = ledger.lock().unwrap();
                let k = l.get_mut(&id).unwrap();
                k.in_flight = None;
                k.acked = Some(value);
                k.word = word;
                if !update {
                    mine.push(id);
                }
            }
            Ok(res) => panic!("{id}: unexpected {}", res.status()),
            // The server died with this write in flight.
            Err(_) => return,
        }
    }
}

/// Checks every product the writers touched against the restarted server.
async fn check_acknowledged(client: &reqwest::Client, base: &str, ledger: &Ledger) -> usize {
    let known: Vec<(String, Known)> = ledger
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut acked = 0;
    for (id, k) in &known {
        let res = client
            .get(format!("{base}/api/v1/products/{id}"))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        let found = (status == 200).then(|| Written {
            title: body["data"]["title"].as_str().unwrap().to_string(),
            cents: (body["data"]["price"].as_f64().unwrap() * 100.0).round() as u64,
        });
        let allowed: Vec<&Written> = k.acked.iter().chain(k.in_flight.iter()).collect();
        match (&found, &k.acked) {
            (None, Some(a)) => panic!("{id}: acknowledged as {a:?}, gone after kill -9"),
            (None, None) => {} // an unacknowledged create that did not land
            (Some(f), _) => assert!(
                allowed.contains(&f),
                "{id}: found {f:?}, acknowledged {:?}, in flight {:?}",
                k.acked,
                k.in_flight
            ),
        }
        acked += usize::from(k.acked.is_some());
    }
    acked
}

/// The fixture catalogue plus every product the writers created, read back
/// from the server's records (`GET /products/{id}`).
async fn reference_now(client: &reqwest::Client, base: &str, ledger: &Ledger) -> Reference {
    let mut r = Reference::load_fixture();
    let ids: Vec<String> = ledger.lock().unwrap().keys().cloned().collect();
    for id in ids {
        let res = client
            .get(format!("{base}/api/v1/products/{id}"))
            .send()
            .await
            .unwrap();
        if res.status() != 200 {
            continue;
        }
        let d: Value = res.json().await.unwrap();
        let d = &d["data"];
        r.products.push(RefProduct {
            id: id.clone(),
            price: (d["price"].as_f64().unwrap() * 100.0).round() as u64,
            created: Timestamp::parse(d["createdAt"].as_str().unwrap())
                .unwrap()
                .millis(),
            featured: d["isFeatured"].as_bool().unwrap(),
            available: d["isAvailable"].as_bool().unwrap(),
            brand: d["brandId"].as_str().unwrap().into(),
            categories: d["categoryIds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect(),
            count: 0,
            sum: 0,
        });
    }
    r
}

/// List answers (total, first and last page) equal the oracle's for every
/// sort under a few filters.
async fn check_indexes(client: &reqwest::Client, base: &str, reference: &Reference) {
    let filters = [
        RefFilter::default(),
        RefFilter {
            category: Some("cat-001".into()),
            ..RefFilter::default()
        },
        RefFilter {
            brand: Some("brand-0001".into()),
            ..RefFilter::default()
        },
        RefFilter {
            category: Some("cat-001-01".into()),
            available: Some(true),
            min: Some(2_000),
            max: Some(300_000),
            ..RefFilter::default()
        },
    ];
    for f in &filters {
        for sort in SORTS {
            let total = reference.query(f, sort).len();
            let last = total.div_ceil(100).max(1);
            for page in [1, last] {
                let url = format!(
                    "{base}/api/v1/products?{}&sort={sort}&limit=100&page={page}",
                    f.query_string()
                );
                let v: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
                assert_eq!(v["meta"]["total"], total as u64, "{url}");
                let got: Vec<String> = v["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["id"].as_str().unwrap().to_string())
                    .collect();
                assert_eq!(got, reference.ids(f, sort, (page - 1) * 100, 100), "{url}");
            }
        }
    }
}

/// Every acknowledged product is found by its word within 15 s.
async fn check_search(client: &reqwest::Client, base: &str, ledger: &Ledger) {
    let words: Vec<(String, String)> = ledger
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, k)| k.acked.is_some() && k.in_flight.is_none())
        .map(|(id, k)| (id.clone(), k.word.clone()))
        .take(40)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    for (id, word) in words {
        loop {
            let v: Value = client
                .get(format!("{base}/api/v1/search?q={word}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let ids: Vec<&str> = v["data"]
                .as_array()
                .map(|a| a.iter().filter_map(|p| p["id"].as_str()).collect())
                .unwrap_or_default();
            // Exact matches rank above typo matches of similar words.
            if ids.first() == Some(&id.as_str()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "search never found {id} by '{word}': {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_and_indexes_and_search_agree() {
    let cycles: usize = std::env::var("SHOPD_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let ledger: Ledger = Arc::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut node = Node::start(data.path());
    node.wait_ready(&client).await;
    let mut total_acked = 0;
    for cycle in 1..=cycles {
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                tokio::spawn(writer(
                    node.base.clone(),
                    cycle,
                    w,
                    ledger.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..1_500))).await;
        node.kill9(data.path());
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.await.unwrap();
        }

        node = Node::start(data.path());
        node.wait_ready(&client).await;
        let acked = check_acknowledged(&client, &node.base, &ledger).await;
        assert!(
            acked > total_acked,
            "cycle {cycle}: no write was acknowledged"
        );
        eprintln!(
            "cycle {cycle}: {} more writes acknowledged before kill -9, all present",
            acked - total_acked
        );
        total_acked = acked;
        let reference = reference_now(&client, &node.base, &ledger).await;
        check_indexes(&client, &node.base, &reference).await;
        check_search(&client, &node.base, &ledger).await;
    }
}

/// Enqueues test mails as fast as one client can; records acknowledged ids.
async fn enqueuer(base: String, acked: Arc<Mutex<Vec<u64>>>, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let res = client
            .post(format!("{base}/api/v1/admin/notifications/test"))
            .bearer_auth(TOKEN)
            .json(&json!({"to": format!("c{n}@example.com")}))
            .send()
            .await;
        let Ok(res) = res else { break };
        assert_eq!(res.status(), 202, "enqueueing a test mail");
        let Ok(v) = res.json::<Value>().await else {
            break;
        };
        acked
            .lock()
            .unwrap()
            .push(v["data"]["jobId"].as_u64().unwrap());
    }
}

/// Message-IDs in the file outbox, with how often each was written.
fn outbox_ids(data: &Path) -> HashMap<u64, usize> {
    let mut seen = HashMap::new();
    let Ok(dir) = std::fs::read_dir(data.join("outbox")) else {
        return seen;
    };
    for e in dir.flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        if let Some(rest) = text.split("Message-ID: <job-").nth(1)
            && let Some(id) = rest.split('@').next().and_then(|s| s.parse().ok())
        {
            *seen.entry(id).or_insert(0) += 1;
        }
    }
    seen
}

/// Jobs enqueued while workers run, `kill -9`, restart: every acknowledged
/// job runs to completion (its mail is in the outbox), none is lost, and a
/// job runs twice only if it was running at a kill (at most the queue's
/// concurrency per kill).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_jobs_survive_kill_9_and_run_at_least_once() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("shopd.toml");
    // Short handler timeout: leases of the killed process expire in 4 s.
    std::fs::write(
        &config,
        "[queues.notifications]\ntimeout_secs = 2\nconcurrency = 5\n",
    )
    .unwrap();
    let extra = ["--config", config.to_str().unwrap()];
    let client = reqwest::Client::new();
    let acked: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let cycles = 2;
    let mut node = Node::start_with(data.path(), &extra);
    node.wait_ready(&client).await;
    for _ in 0..cycles {
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..4)
            .map(|_| tokio::spawn(enqueuer(node.base.clone(), acked.clone(), stop.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.random_range(400..1_200))).await;
        node.kill9(data.path());
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
        node = Node::start_with(data.path(), &extra);
        node.wait_ready(&client).await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 20, "only {} jobs acknowledged", acked.len());
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        let seen = outbox_ids(data.path());
        if acked.iter().all(|id| seen.contains_key(id)) {
            break seen;
        }
        let missing = acked.iter().filter(|id| !seen.contains_key(id)).count();
        assert!(
            Instant::now() < deadline,
            "{missing} of {} acknowledged jobs never ran",
            acked.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let twice = seen.values().filter(|n| **n > 1).count();
    assert!(
        twice <= 5 * cycles,
        "{twice} jobs ran more than once; only jobs running at a kill may"
    );
    // Jobs enqueued by requests the kill interrupted (never acknowledged)
    // and jobs whose result was lost run too; then the queue is empty.
    loop {
        let stats: Value = client
            .get(format!("{}/api/v1/admin/jobs/stats", node.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let q = &stats["data"][1];
        assert_eq!(q["queue"], "notifications");
        assert_eq!(q["dead"], 0, "{stats}");
        if q["queued"] == 0 && q["running"] == 0 && q["failed"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the queue never drained: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{} jobs acknowledged across {cycles} kills: all ran; {twice} ran twice",
        acked.len()
    );
}

/// What one account client knows: emails whose registration was
/// acknowledged, and sessions whose logout was (their tokens).
/// What the account clients know.
#[derive(Default)]
struct AccountLedger {
    /// Registered accounts: email → (acknowledged password, a change in
    /// flight when the server died).
    accounts: HashMap<String, (String, Option<String>)>,
    /// Acknowledged password changes.
    changes: usize,
    /// Sessions whose logout was acknowledged: (access, refresh).
    logged_out: Vec<(String, String)>,
    /// Clients that had a request in flight when the server died.
    interrupted: usize,
}

const PASSWORD: &str = "correct horse battery";

/// Registers, signs in, changes the password (every other account) and
/// logs out, in a loop, recording what was acknowledged; any answer but the
/// expected one fails the test (only a dead server stops a client).
async fn account_client(
    base: String,
    name: String,
    ledger: Arc<Mutex<AccountLedger>>,
    stop: Arc<AtomicBool>,
) {
    let client = reqwest::Client::new();
    let mut n = 0;
    // `Err(())`: the server died with this request in flight.
    async fn send(req: reqwest::RequestBuilder, want: u16, what: &str) -> Result<Value, ()> {
        let res = req.send().await.map_err(|_| ())?;
        let status = res.status().as_u16();
        let text = res.text().await.map_err(|_| ())?;
        assert_eq!(status, want, "{what}: {text}");
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
    let died = |ledger: &Arc<Mutex<AccountLedger>>| ledger.lock().unwrap().interrupted += 1;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let email = format!("{name}-{n}@example.com");
        let register = client
            .post(format!("{base}/api/v1/auth/register"))
            .json(&json!({"email": email, "password": PASSWORD, "name": name}));
        if send(register, 202, "register").await.is_err() {
            return died(&ledger);
        }
        ledger
            .lock()
            .unwrap()
            .accounts
            .insert(email.clone(), (PASSWORD.to_string(), None));
        let login = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}));
        let Ok(v) = send(login, 200, "login").await else {
            return died(&ledger);
        };
        let access = v["data"]["accessToken"].as_str().unwrap().to_string();
        let refresh = v["data"]["refreshToken"].as_str().unwrap().to_string();
        if n % 2 == 0 {
            let new = format!("{PASSWORD} {n}");
            ledger.lock().unwrap().accounts.get_mut(&email).unwrap().1 = Some(new.clone());
            let change = client
                .post(format!("{base}/api/v1/me/password"))
                .bearer_auth(&access)
                .json(&json!({"currentPassword": PASSWORD, "newPassword": new}));
            if send(change, 204, "password change").await.is_err() {
                return died(&ledger);
            }
            let mut l = ledger.lock().unwrap();
            *l.accounts.get_mut(&email).unwrap() = (new, None);
            l.changes += 1;
        }
        let logout = client
            .post(format!("{base}/api/v1/auth/logout"))
            .bearer_auth(&access);
        if send(logout, 204, "logout").await.is_err() {
            return died(&ledger);
        }
        ledger.lock().unwrap().logged_out.push((access, refresh));
    }
}

/// After a restart: every registered account signs in with its
/// acknowledged password (or the one a change in flight set), an
/// acknowledged change refuses the old password, and every ended session
/// stays ended (its access and refresh tokens are refused).
async fn check_accounts(client: &reqwest::Client, base: &str, ledger: &AccountLedger) {
    let login = |email: &str, password: &str| {
        client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    for (email, (acked, in_flight)) in &ledger.accounts {
        let ok = login(email, acked).await.unwrap().status() == 200;
        let ok_new = match in_flight {
            Some(p) => login(email, p).await.unwrap().status() == 200,
            None => false,
        };
        assert!(
            ok || ok_new,
            "{email} was registered before the kill and cannot sign in"
        );
        if acked != PASSWORD {
            assert_eq!(
                login(email, PASSWORD).await.unwrap().status(),
                401,
                "{email}: an acknowledged password change was lost"
            );
        }
    }
    for (access, refresh) in &ledger.logged_out {
        let res = client
            .get(format!("{base}/api/v1/me"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "a logged-out session came back");
        let res = client
            .post(format!("{base}/api/v1/auth/refresh"))
            .json(&json!({"refreshToken": refresh}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "a logged-out refresh token came back");
    }
}

/// Registrations, password changes and logouts acknowledged before a
/// `kill -9` are there after the restart (see [`check_accounts`]), with
/// the auth rate limit off so that the clients load the server until the
/// kill lands on their requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_accounts_and_logouts_survive_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let ledger: Arc<Mutex<AccountLedger>> = Arc::default();
    let mut node = Node::start(data.path());
    node.wait_ready(&client).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..ACCOUNT_CLIENTS)
        .map(|i| {
            tokio::spawn(account_client(
                node.base.clone(),
                format!("c{i}"),
                ledger.clone(),
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(ACCOUNT_LOAD_MS)).await;
    node.kill9(data.path());
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let node = Node::start(data.path());
    node.wait_ready(&client).await;
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    eprintln!(
        "{} registrations, {} password changes, {} logouts acknowledged; {} of {ACCOUNT_CLIENTS} clients had a request in flight at the kill",
        ledger.accounts.len(),
        ledger.changes,
        ledger.logged_out.len(),
        ledger.interrupted
    );
    assert!(
        ledger.accounts.len() >= MIN_REGISTRATIONS
            && ledger.changes >= MIN_REGISTRATIONS / 10
            && ledger.logged_out.len() >= MIN_REGISTRATIONS / 5,
        "too little was acknowledged: {} registrations, {} changes, {} logouts",
        ledger.accounts.len(),
        ledger.changes,
        ledger.logged_out.len()
    );
    assert!(
        ledger.interrupted > 0,
        "no request was in flight when the kill landed"
    );
    check_accounts(&client, &node.base, &ledger).await;
}

/// Account clients and how long they load the server before the kill.
const ACCOUNT_CLIENTS: usize = 6;
const ACCOUNT_LOAD_MS: u64 = 8_000;
/// The least the accounts crash test must see acknowledged.
const MIN_REGISTRATIONS: usize = 80;

/// The products the checkout storm buys, and their stock before it.
const STORM_PRODUCTS: [&str; 6] = [
    "prod-000001",
    "prod-000002",
    "prod-000003",
    "prod-000004",
    "prod-000005",
    "prod-000006",
];
const STORM_STOCK: u64 = 400;
/// The mixed load's stock: enough that its checkouts never run out, however
/// many cycles run (the checkout storm above does run out, on purpose).
const MIXED_STOCK: u64 = 1_000_000;
const STORM_CODE: &str = "CRASH1";

/// An order a checkout acknowledged: its id and total.
type OrderLedger = Arc<Mutex<Vec<(String, f64)>>>;

/// Guest shoppers in a loop: a line or two in a fresh cart, then checkout
/// (every third with the discount code); records acknowledged orders.
async fn shopper(base: String, w: usize, ledger: OrderLedger, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(w as u64);
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let mut token: Option<String> = None;
        for _ in 0..rng.random_range(1..=2) {
            let p = STORM_PRODUCTS[rng.random_range(0..STORM_PRODUCTS.len())];
            let mut req = client
                .post(format!("{base}/api/v1/cart/items"))
                .json(&json!({"productId": p, "quantity": rng.random_range(1..=3)}));
            if let Some(t) = &token {
                req = req.header("X-Cart-Token", t);
            }
            match req.send().await {
                Ok(r) if r.status() == 200 => {
                    token = r
                        .headers()
                        .get("x-cart-token")
                        .map(|v| v.to_str().unwrap().to_string());
                }
                Ok(r) => panic!("adding {p} to a cart: unexpected {}", r.status()),
                // The server died with this request in flight.
                Err(_) => return,
            }
        }
        let mut body = json!({
            "email": format!("s{w}-{n}@example.com"),
            "shippingAddress": {"name": "S", "line1": "1 Road", "city": "Town",
                                "postalCode": "1000", "country": "DE"},
            "paymentMethod": "bank_transfer"
        });
        if n % 3 == 0 {
            body["discountCode"] = json!(STORM_CODE);
        }
        let res = client
            .post(format!("{base}/api/v1/checkout"))
            .header("X-Cart-Token", token.unwrap())
            .header("Idempotency-Key", format!("{w}-{n}"))
            .json(&body)
            .send()
            .await;
        let Ok(r) = res else { return };
        let status = r.status();
        let Ok(v) = r.json::<Value>().await else {
            return;
        };
        match status.as_u16() {
            201 => ledger.lock().unwrap().push((
                v["data"]["id"].as_str().unwrap().to_string(),
                v["data"]["total"].as_f64().unwrap(),
            )),
            // Sold out (the storm runs its stock down on purpose).
            409 if v["error"]["code"] == "out_of_stock" => {}
            _ => panic!("checkout: unexpected {status}: {v}"),
        }
    }
}

/// Every page of a staff list.
async fn all_pages(client: &reqwest::Client, base: &str, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let sep = if path.contains('?') { '&' } else { '?' };
        let v: Value = client
            .get(format!("{base}{path}{sep}page={page}&limit=100"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = v["data"].as_array().unwrap().clone();
        let done = items.len() < 100;
        out.extend(items);
        if done {
            break;
        }
    }
    out
}

/// `GET /api/v1/products/{id}`'s JSON (its `data`, or the error).
async fn product_json(client: &reqwest::Client, base: &str, id: &str) -> Value {
    let v: Value = client
        .get(format!("{base}/api/v1/products/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"].clone()
}

/// `stock` for the storm's products, and its discount code.
async fn prepare_storm(client: &reqwest::Client, base: &str, stock: u64) {
    for p in STORM_PRODUCTS {
        let r = client
            .patch(format!("{base}/api/v1/products/{p}"))
            .bearer_auth(TOKEN)
            .json(&json!({"stock": stock, "isAvailable": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = client
        .post(format!("{base}/api/v1/admin/discount-codes"))
        .bearer_auth(TOKEN)
        .json(&json!({"code": STORM_CODE, "type": "fixed", "value": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

/// After a restart: every acknowledged order is there with its total,
/// stock plus ordered units equals the stock before for every product, the
/// code's use count equals the orders that used it, and every order has its
/// confirmation mail job.
async fn check_orders(client: &reqwest::Client, base: &str, acked: &[(String, f64)], stock0: u64) {
    let orders = all_pages(client, base, "/api/v1/admin/orders").await;
    let by_id: HashMap<&str, &Value> = orders
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), o))
        .collect();
    for (id, total) in acked {
        let o = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("acknowledged order {id} is gone"));
        assert_eq!(o["total"].as_f64().unwrap(), *total, "{id}");
    }
    // Stock is conserved, product by product.
    let mut ordered: HashMap<String, u64> = HashMap::new();
    for o in &orders {
        for l in o["lines"].as_array().unwrap() {
            *ordered
                .entry(l["productId"].as_str().unwrap().to_string())
                .or_default() += l["quantity"].as_u64().unwrap();
        }
    }
    for p in STORM_PRODUCTS {
        let stock = product_json(client, base, p).await["stock"]
            .as_u64()
            .unwrap();
        assert_eq!(
            stock + ordered.get(p).copied().unwrap_or(0),
            stock0,
            "{p}: stock {stock} + ordered {:?}",
            ordered.get(p)
        );
    }
    // The code counted exactly the orders that used it.
    let v: Value = client
        .get(format!("{base}/api/v1/admin/discount-codes/{STORM_CODE}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let with_code = orders
        .iter()
        .filter(|o| o["discountCode"] == STORM_CODE)
        .count();
    assert!(with_code > 0);
    assert_eq!(v["data"]["used"].as_u64().unwrap() as usize, with_code);
    // Every order has its confirmation mail (the same commit's outbox).
    let jobs = all_pages(client, base, "/api/v1/admin/jobs?kind=email").await;
    let mailed: std::collections::HashSet<String> = jobs
        .iter()
        .filter(|j| j["payload"]["template"] == "order_confirmation")
        .map(|j| {
            j["payload"]["vars"]["order_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for o in &orders {
        let number = format!("#{}", o["number"]);
        assert!(
            mailed.contains(&number),
            "order {number} has no confirmation job"
        );
    }
}

/// A checkout storm killed with `kill -9`: see [`check_orders`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_orders_survive_kill_9_and_stock_is_conserved() {
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let mut node = Node::start(data.path());
    node.wait_ready(&client).await;
    prepare_storm(&client, &node.base, STORM_STOCK).await;
    let ledger: OrderLedger = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let shoppers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(shopper(node.base.clone(), w, ledger.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    node.kill9(data.path());
    stop.store(true, Ordering::Relaxed);
    for s in shoppers {
        s.await.unwrap();
    }
    let node = Node::start(data.path());
    node.wait_ready(&client).await;
    let acked = std::mem::take(&mut *ledger.lock().unwrap());
    assert!(
        acked.len() >= 10,
        "only {} orders acknowledged",
        acked.len()
    );
    check_orders(&client, &node.base, &acked, STORM_STOCK).await;
}

/// The products the reviewers review, each always with the same rating so
/// that the exact rating sum follows from the count.
const REVIEWED: [(&str, u32); 3] = [("prod-000020", 5), ("prod-000021", 2), ("prod-000022", 4)];

/// Reviews acknowledged and in flight, per product.
type ReviewLedger = Arc<Mutex<HashMap<&'static str, (u32, u32)>>>;

/// Posts reviews (as the admin key, for a fixture user) in a loop.
async fn reviewer(base: String, w: usize, ledger: ReviewLedger, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1000 + w as u64);
    while !stop.load(Ordering::Relaxed) {
        let (p, rating) = REVIEWED[rng.random_range(0..REVIEWED.len())];
        ledger.lock().unwrap().entry(p).or_default().1 += 1;
        let res = client
            .post(format!("{base}/api/v1/products/{p}/reviews"))
            .bearer_auth(TOKEN)
            .json(&json!({"userId": "user-00001", "rating": rating, "text": "crash"}))
            .send()
            .await;
        match res {
            Ok(r) if r.status() == 201 => {
                let mut l = ledger.lock().unwrap();
                let e = l.get_mut(p).unwrap();
                e.0 += 1;
                e.1 -= 1;
            }
            Ok(r) => panic!("review of {p}: unexpected {}", r.status()),
            Err(_) => return,
        }
    }
}

/// Writes acknowledged so far in the mixed load, by kind.
#[derive(Debug, Default)]
struct Progress {
    products: usize,
    reviews: usize,
    orders: usize,
    jobs: usize,
    accounts: usize,
}

impl Progress {
    /// Every kind made progress in the cycle that ended at `self`: the
    /// load cannot quietly shrink to some of its writers.
    fn assert_beyond(&self, before: &Progress, cycle: usize) {
        for (kind, now, then) in [
            ("product writes", self.products, before.products),
            ("reviews", self.reviews, before.reviews),
            ("orders", self.orders, before.orders),
            ("jobs", self.jobs, before.jobs),
            ("registrations", self.accounts, before.accounts),
        ] {
            assert!(
                now > then,
                "cycle {cycle}: no {kind} acknowledged ({then} → {now})"
            );
        }
    }
}

/// One write load of every kind at once — product creates and updates,
/// reviews, checkouts, job enqueues while the job workers run, sign-ups,
/// password changes and logouts — killed with
/// `kill -9` at a random moment, `SHOPD_CRASH_CYCLES` times (default 2).
/// After each restart: acknowledged products with their values, list
/// indexes equal to the brute-force oracle (including the rating order the
/// reviews moved), review counts, orders with conserved stock and their
/// mail jobs, search; at the end every acknowledged job has run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_write_load_survives_kill_9() {
    let cycles: usize = std::env::var("SHOPD_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("shopd.toml");
    // Retention prunes done jobs beyond 1,000 per queue at every start;
    // here every order's mail job must stay to be checked.
    std::fs::write(
        &config,
        "job_done_keep = 100000000\n[queues.notifications]\ntimeout_secs = 2\nconcurrency = 5\n",
    )
    .unwrap();
    let extra = ["--config", config.to_str().unwrap()];
    let client = reqwest::Client::new();
    let mut node = Node::start_with(data.path(), &extra);
    node.wait_ready(&client).await;
    prepare_storm(&client, &node.base, MIXED_STOCK).await;
    let mut base_reviews = HashMap::new();
    for (p, _) in REVIEWED {
        let v = product_json(&client, &node.base, p).await;
        base_reviews.insert(p, v["reviewCount"].as_u64().unwrap() as u32);
    }
    let products: Ledger = Arc::default();
    let orders: OrderLedger = Arc::default();
    let reviews: ReviewLedger = Arc::default();
    let jobs: Arc<Mutex<Vec<u64>>> = Arc::default();
    let accounts: Arc<Mutex<AccountLedger>> = Arc::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(99);
    // What was acknowledged before each cycle, kind by kind.
    let mut before = Progress::default();
    for cycle in 1..=cycles {
        let stop = Arc::new(AtomicBool::new(false));
        let base = node.base.clone();
        let mut tasks = Vec::new();
        for w in 0..3 {
            tasks.push(tokio::spawn(writer(
                base.clone(),
                cycle,
                w,
                products.clone(),
                stop.clone(),
            )));
            tasks.push(tokio::spawn(shopper(
                base.clone(),
                100 * cycle + w,
                orders.clone(),
                stop.clone(),
            )));
        }
        for w in 0..2 {
            tasks.push(tokio::spawn(reviewer(
                base.clone(),
                10 * cycle + w,
                reviews.clone(),
                stop.clone(),
            )));
        }
        tasks.push(tokio::spawn(enqueuer(
            base.clone(),
            jobs.clone(),
            stop.clone(),
        )));
        for a in 0..2 {
            tasks.push(tokio::spawn(account_client(
                base.clone(),
                format!("m{cycle}x{a}"),
                accounts.clone(),
                stop.clone(),
            )));
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(1_200..2_500))).await;
        node.kill9(data.path());
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }

        node = Node::start_with(data.path(), &extra);
        node.wait_ready(&client).await;
        let acked = check_acknowledged(&client, &node.base, &products).await;
        // Reviews: every acknowledged one counted; in-flight ones may be.
        let mut reference = reference_now(&client, &node.base, &products).await;
        for (p, rating) in REVIEWED {
            let (done, in_flight) = reviews.lock().unwrap().get(p).copied().unwrap_or_default();
            let v = product_json(&client, &node.base, p).await;
            let landed = v["reviewCount"].as_u64().unwrap() as u32 - base_reviews[p];
            assert!(
                (done..=done + in_flight).contains(&landed),
                "{p}: {landed} reviews landed, {done} acknowledged, {in_flight} in flight"
            );
            // Unacknowledged reviews that landed are now simply reviews.
            let mut l = reviews.lock().unwrap();
            *l.entry(p).or_default() = (landed, 0);
            let r = reference.products.iter_mut().find(|r| r.id == p).unwrap();
            r.count += landed;
            r.sum += landed * rating;
        }
        for p in STORM_PRODUCTS {
            reference
                .products
                .iter_mut()
                .find(|r| r.id == p)
                .unwrap()
                .available = true;
        }
        check_indexes(&client, &node.base, &reference).await;
        let acked_orders = orders.lock().unwrap().clone();
        check_orders(&client, &node.base, &acked_orders, MIXED_STOCK).await;
        check_search(&client, &node.base, &products).await;
        let known = std::mem::take(&mut *accounts.lock().unwrap());
        check_accounts(&client, &node.base, &known).await;
        *accounts.lock().unwrap() = known;
        let reviewed: u32 = reviews.lock().unwrap().values().map(|(done, _)| done).sum();
        let now = Progress {
            products: acked,
            reviews: reviewed as usize,
            orders: orders.lock().unwrap().len(),
            jobs: jobs.lock().unwrap().len(),
            accounts: accounts.lock().unwrap().accounts.len(),
        };
        eprintln!("cycle {cycle}: acknowledged so far {now:?}; all present");
        now.assert_beyond(&before, cycle);
        before = now;
    }
    let acked_jobs = jobs.lock().unwrap().clone();
    assert!(!acked_jobs.is_empty(), "no job was acknowledged");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = outbox_ids(data.path());
        let Some(missing) = acked_jobs.iter().find(|id| !seen.contains_key(id)) else {
            break;
        };
        assert!(
            Instant::now() < deadline,
            "acknowledged job {missing} never ran"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
