//! Replication and backups with real processes on loopback: a leader and
//! followers (`shopd serve --follow`), a man in the middle that flips bits,
//! a real S3-compatible server (moto) and real nginx in front of followers.
//!
//! A test binary of its own: each test starts several servers, and cargo
//! runs test binaries one after another.

#[path = "common/mod.rs"]
mod common;
#[path = "replication/moto.rs"]
mod moto;
#[path = "replication/node.rs"]
mod node;
#[path = "replication/proxy.rs"]
mod proxy;
#[path = "differential/requests.rs"]
mod requests;

/// What the shared request set reads as the admin token.
mod processes {
    pub const TOKEN: &str = super::node::ADMIN;
}

use node::{Node, client, create_product, generation, metric, shows_everywhere};
use object_store::ObjectStoreExt as _;
use reqwest::Client;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Polls until `f` holds, or fails after `within`; returns how long it took.
async fn eventually<F, Fut>(what: &str, within: Duration, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if f().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every generated read of the Postgres-design differential test answers
/// the same on `a` and `b` (status and JSON).
async fn same_answers(client: &Client, a: &str, b: &str) -> usize {
    let paths = requests::read_paths();
    for path in &paths {
        let want = requests::get(client, &format!("{a}{path}")).await;
        let got = requests::get(client, &format!("{b}{path}")).await;
        requests::assert_same("the copy", path, &want, &got);
    }
    paths.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_serve_the_leaders_writes_and_survive_its_loss() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let mut leader = Node::leader(&dir.path().join("leader"), &[]);
    leader.wait_ready(&c, Duration::from_secs(60)).await;
    let interval = Duration::from_millis(1000);
    let followers: Vec<Node> = (0..2)
        .map(|i| {
            Node::follower(
                &dir.path().join(format!("follower{i}")),
                &leader.base,
                &["--follow-interval", "1s", "--follow-max-lag", "3s"],
            )
        })
        .collect();
    for f in &followers {
        f.wait_ready(&c, Duration::from_secs(60)).await;
        // Bootstrapped with the search index built: searching works at once.
        let r = c
            .get(format!("{}/api/v1/search?q=lamp", f.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    // A write on the leader is everywhere on both followers (detail, list,
    // search) within interval + 1 s.
    let g = create_product(&c, &leader.base, "repl-a", "zanzibar").await;
    let started = Instant::now();
    for f in &followers {
        let took = eventually(
            "the write on a follower",
            interval + Duration::from_secs(1) - started.elapsed().min(interval),
            || shows_everywhere(&c, &f.base, "repl-a", "zanzibar"),
        )
        .await;
        assert!(
            started.elapsed() <= interval + Duration::from_secs(1),
            "{took:?}"
        );
    }

    // Read-your-writes: a request carrying the write's X-Generation waits
    // for it on a follower, at once after the write.
    let g2 = create_product(&c, &leader.base, "repl-b", "quixotic").await;
    assert!(g2 > g);
    for f in &followers {
        let r = c
            .get(format!("{}/api/v1/products/repl-b", f.base))
            .header("X-Min-Generation", g2.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "X-Min-Generation {g2}");
        assert!(generation(&r) >= g2);
        assert!(r.headers().contains_key("x-replica-lag-ms"));
        let r = c
            .get(format!("{}/api/v1/products/repl-b", f.base))
            .header("X-Min-Generation", (g2 + 1_000_000).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "replica_behind");
    }

    // Writes to a follower are sent to the leader, same path and query.
    let r = c
        .post(format!("{}/api/v1/brands?x=1", followers[0].base))
        .bearer_auth(node::ADMIN)
        .json(&serde_json::json!({"id": "b-via-follower", "title": "Via"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(
        r.headers()["location"],
        format!("{}/api/v1/brands?x=1", leader.base).as_str()
    );
    // Sent again to the Location (as a client does; HTTP clients drop
    // credentials on a redirect to another origin, so they re-attach them),
    // the write lands on the leader.
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let r = c
        .post(location)
        .bearer_auth(node::ADMIN)
        .json(&serde_json::json!({"id": "b-via-follower", "title": "Via"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let g3 = generation(&r);
    let r = c
        .get(format!(
            "{}/api/v1/brands/b-via-follower",
            followers[1].base
        ))
        .header("X-Min-Generation", g3.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The followers answer the differential request set exactly as the
    // leader does (once caught up).
    let head = generation(
        &c.get(format!("{}/health", leader.base))
            .send()
            .await
            .unwrap(),
    );
    for f in &followers {
        eventually("caught up", Duration::from_secs(5), || async {
            c.get(format!("{}/health", f.base))
                .send()
                .await
                .is_ok_and(|r| generation(&r) >= head)
        })
        .await;
        let n = same_answers(&c, &leader.base, &f.base).await;
        assert!(n > 100, "{n} requests compared");
    }

    // The leader dies: followers keep serving reads and report their
    // staleness in /ready and /metrics.
    leader.kill9();
    for f in &followers {
        let r = c
            .get(format!("{}/api/v1/products/repl-a", f.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    for f in &followers {
        eventually("unready once stale", Duration::from_secs(10), || async {
            c.get(format!("{}/ready", f.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == 503)
        })
        .await;
        let ready: serde_json::Value = c
            .get(format!("{}/ready", f.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let why = ready["checks"]["replication"].as_str().unwrap();
        assert!(why.contains("behind the leader"), "{why}");
        let lag = metric(&c, &f.base, "shopd_replication_lag_seconds")
            .await
            .unwrap();
        assert!(lag >= 3.0, "lag {lag}");
        let contact = metric(&c, &f.base, "shopd_replication_last_contact_seconds")
            .await
            .unwrap();
        assert!(contact >= 3.0, "last contact {contact}");
        let r = c
            .get(format!("{}/api/v1/products?limit=5", f.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "reads go on without the leader");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_killed_mid_bootstrap_restarts_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let leader = Node::leader(&dir.path().join("leader"), &[]);
    leader.wait_ready(&c, Duration::from_secs(60)).await;
    // A slow link: every snapshot answer takes 1.5 s, so each kill below
    // lands while the snapshot is still downloading.
    let link = proxy::Proxy::start(leader.port);
    link.faults
        .snapshot_delay_ms
        .store(1_500, std::sync::atomic::Ordering::SeqCst);
    let data = dir.path().join("follower");
    let mut f = Node::follower(&data, &link.base, &["--follow-interval", "200ms"]);
    let db = data.join("shopd.redb");
    let download = data.join("replication/download");
    for delay_ms in [500u64, 800, 1_100] {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        // Bootstrapping: it answers probes, says it is not ready, has begun
        // the download and installed nothing yet.
        let ready = c.get(format!("{}/ready", f.base)).send().await.unwrap();
        assert_eq!(ready.status(), 503, "{delay_ms} ms: not bootstrapping");
        let why: serde_json::Value = ready.json().await.unwrap();
        assert!(
            why["checks"]["replication"]
                .as_str()
                .unwrap()
                .contains("bootstrapping"),
            "{why}"
        );
        assert!(
            download.exists(),
            "{delay_ms} ms: the download has not begun"
        );
        assert!(!db.exists(), "{delay_ms} ms: the bootstrap had finished");
        f.kill9();
        f.start();
    }
    link.faults
        .snapshot_delay_ms
        .store(0, std::sync::atomic::Ordering::SeqCst);
    f.wait_ready(&c, Duration::from_secs(60)).await;
    assert!(db.exists());
    // The leader may commit on its own meanwhile (a job, flushed stats):
    // ready means within the lag bound, so wait for its head.
    converged(&c, &leader, &f).await;
    // Nothing left behind in staging.
    assert!(!data.join("replication/install").exists());
}

/// Waits until `follower` has the leader's head, then compares the
/// differential request set.
async fn converged(c: &Client, leader: &Node, follower: &Node) {
    let head = generation(
        &c.get(format!("{}/health", leader.base))
            .send()
            .await
            .unwrap(),
    );
    eventually("caught up", Duration::from_secs(20), || async {
        c.get(format!("{}/health", follower.base))
            .send()
            .await
            .is_ok_and(|r| generation(&r) >= head)
    })
    .await;
    // And both search indexes with it (they follow their store within
    // moments).
    for node in [leader, follower] {
        eventually("search caught up", Duration::from_secs(10), || async {
            metric(c, &node.base, "shopd_search_index_lag_generations").await == Some(0.0)
        })
        .await;
    }
    same_answers(c, &leader.base, &follower.base).await;
}

/// A leader can lose commits that were acknowledged but not yet fsynced (a
/// relaxed write: here an API key's last use) in a power cut; followers
/// must never have been sent them, or they would keep rows the restarted
/// leader does not have and apply its next commits at the wrong positions.
/// The power cut is emulated after a `kill -9` by cutting the leader's log
/// back to its length after the last synced write. Then the leader is
/// killed again under writes of every kind and restarted; both followers
/// end with its exact answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_never_hold_what_a_killed_leader_loses() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let data = dir.path().join("leader");
    // No checkpoint during the test: what is not synced stays unsynced.
    let mut leader = Node::leader(&data, &["--checkpoint-every", "1h"]);
    leader.wait_ready(&c, Duration::from_secs(60)).await;
    let mut followers: Vec<Node> = (0..2)
        .map(|i| {
            Node::follower(
                &dir.path().join(format!("follower{i}")),
                &leader.base,
                &["--follow-interval", "200ms"],
            )
        })
        .collect();
    for f in &followers {
        f.wait_ready(&c, Duration::from_secs(60)).await;
    }
    let mut keys = Vec::new();
    for i in 0..10 {
        let r = c
            .post(format!("{}/api/v1/admin/api-keys", leader.base))
            .bearer_auth(node::ADMIN)
            .json(&serde_json::json!({"name": format!("k{i}"), "role": "staff"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.unwrap();
        keys.push(v["data"]["key"].as_str().unwrap().to_string());
    }
    for f in &followers {
        converged(&c, &leader, f).await;
    }
    let wal = data.join("shopd.redb.wal");
    let synced_len = std::fs::metadata(&wal).unwrap().len();
    // Each key's first use is a relaxed write: acknowledged, not fsynced.
    for key in &keys {
        let r = c
            .get(format!("{}/api/v1/admin/jobs?limit=1", leader.base))
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // The uses are written in the background (relaxed, not awaited): wait
    // until they are in the log and it stops growing.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut last = 0;
    loop {
        let len = std::fs::metadata(&wal).unwrap().len();
        if len > synced_len && len == last {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the key uses never reached the log ({len} bytes, {synced_len} synced)"
        );
        last = len;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Time for the followers to fetch (several intervals); then they stop,
    // so that none asks while the leader is down.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    for f in &mut followers {
        f.kill9();
    }
    leader.kill9();
    // The power cut: the unsynced records never reached the disk.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(synced_len)
        .unwrap();
    leader.start();
    leader.wait_ready(&c, Duration::from_secs(60)).await;
    // New commits take the lost positions before any follower asks.
    for i in 0..20 {
        create_product(&c, &leader.base, &format!("after-cut-{i}"), "phoenix").await;
    }
    for f in &mut followers {
        f.start();
    }
    for f in &followers {
        converged(&c, &leader, f).await;
        let r = c
            .get(format!("{}/api/v1/products/after-cut-19", f.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    // kill -9 under writes of every kind (products, mail jobs the workers
    // run with relaxed writes), with checkpoints every 150 ms this time.
    leader.kill9();
    leader.set_args(&[
        "--demo",
        "--replication-token",
        node::REPLICATION,
        "--checkpoint-every",
        "150ms",
    ]);
    leader.start();
    leader.wait_ready(&c, Duration::from_secs(60)).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (c, base, stop) = (c.clone(), leader.base.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let _ = c
                    .post(format!("{base}/api/v1/products"))
                    .bearer_auth(node::ADMIN)
                    .json(&serde_json::json!({"id": format!("load-{n}"), "title": "Load", "price": 1, "brandId": "brand-0001"}))
                    .send()
                    .await;
                let _ = c
                    .post(format!("{base}/api/v1/admin/notifications/test"))
                    .bearer_auth(node::ADMIN)
                    .json(&serde_json::json!({"to": format!("l{n}@example.com")}))
                    .send()
                    .await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    leader.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.await.unwrap();
    leader.start();
    leader.wait_ready(&c, Duration::from_secs(60)).await;
    create_product(&c, &leader.base, "after-kill", "phoenix").await;
    for f in &followers {
        converged(&c, &leader, f).await;
    }
    // The leader's snapshots and the followers' installed copies, keys
    // included, are their owner's alone.
    assert!(data.join("replication/snapshots").exists());
    common::files::assert_owner_only(&data);
    for f in &followers {
        common::files::assert_owner_only(&f.data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_bits_in_snapshots_and_batches_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let leader = Node::leader(&dir.path().join("leader"), &[]);
    leader.wait_ready(&c, Duration::from_secs(60)).await;
    let mitm = proxy::Proxy::start(leader.port);
    mitm.faults
        .corrupt_parts
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let data = dir.path().join("follower");
    let f = Node::follower(&data, &mitm.base, &["--follow-interval", "200ms"]);
    // Every bootstrap attempt sees a corrupted part: nothing is installed,
    // the follower answers but is not ready.
    eventually("corrupted parts seen", Duration::from_secs(30), || async {
        mitm.faults
            .corrupted
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 2
    })
    .await;
    let r = c.get(format!("{}/ready", f.base)).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let r = c
        .get(format!("{}/api/v1/products", f.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "replica_bootstrapping");
    assert!(!data.join("shopd.redb").exists(), "nothing installed");
    assert!(f.log_tail().contains("SHA-256"), "{}", f.log_tail());

    // Clean parts: it bootstraps.
    mitm.faults
        .corrupt_parts
        .store(false, std::sync::atomic::Ordering::SeqCst);
    f.wait_ready(&c, Duration::from_secs(60)).await;
    let before = generation(&c.get(format!("{}/health", f.base)).send().await.unwrap());

    // Corrupted change batches are rejected and nothing is applied.
    mitm.faults
        .corrupt_changes
        .store(true, std::sync::atomic::Ordering::SeqCst);
    create_product(&c, &leader.base, "repl-x", "xylograph").await;
    eventually("a batch rejected", Duration::from_secs(10), || async {
        metric(&c, &f.base, "shopd_replication_rejected_batches_total")
            .await
            .is_some_and(|n| n >= 1.0)
    })
    .await;
    let r = c
        .get(format!("{}/api/v1/products/repl-x", f.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(generation(&r), before);
    // Clean batches again: the write arrives.
    mitm.faults
        .corrupt_changes
        .store(false, std::sync::atomic::Ordering::SeqCst);
    eventually(
        "the write after the faults",
        Duration::from_secs(10),
        || shows_everywhere(&c, &f.base, "repl-x", "xylograph"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_the_log_bootstraps_again() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    // A log of one byte keeps no commit: a follower one commit behind must
    // bootstrap again.
    let leader = Node::leader(
        &dir.path().join("leader"),
        &["--replication-log-bytes", "1"],
    );
    leader.wait_ready(&c, Duration::from_secs(60)).await;
    let f = Node::follower(
        &dir.path().join("follower"),
        &leader.base,
        &["--follow-interval", "300ms"],
    );
    f.wait_ready(&c, Duration::from_secs(60)).await;
    for (id, word) in [("repl-r1", "rhubarb"), ("repl-r2", "rutabaga")] {
        create_product(&c, &leader.base, id, word).await;
    }
    for (id, word) in [("repl-r1", "rhubarb"), ("repl-r2", "rutabaga")] {
        eventually(
            "the writes after a re-bootstrap",
            Duration::from_secs(30),
            || shows_everywhere(&c, &f.base, id, word),
        )
        .await;
    }
    let n = metric(&c, &f.base, "shopd_replication_bootstraps_total")
        .await
        .unwrap();
    assert!(n >= 1.0, "re-bootstraps: {n}");
    same_answers(&c, &leader.base, &f.base).await;
}

fn shopd(data: &Path, args: &[&str], env: &[(&'static str, String)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shopd"))
        .args(["--data-dir", data.to_str().unwrap()])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_to_s3_and_a_directory_restore_the_same_shop() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let leader = Node::leader(&dir.path().join("leader"), &[]);
    leader.wait_ready(&c, Duration::from_secs(60)).await;
    create_product(&c, &leader.base, "repl-bk", "backgammon").await;
    let moto = moto::Moto::start();
    let env = moto.env();
    let r = c
        .put(format!("{}/shop-backups", moto.endpoint))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "bucket created: {}", r.status());

    // create → list → restore, through S3.
    let s3 = "s3://shop-backups/nightly";
    let (ok, out) = shopd(
        dir.path(),
        &[
            "backup",
            "create",
            s3,
            "--from",
            &leader.base,
            "--replication-token",
            node::REPLICATION,
        ],
        &env,
    );
    assert!(ok, "{out}");
    let (ok, listed) = shopd(dir.path(), &["backup", "list", s3], &env);
    assert!(ok, "{listed}");
    assert_eq!(
        listed.lines().filter(|l| l.contains("-p")).count(),
        1,
        "{listed}"
    );
    let restored = dir.path().join("restored");
    let (ok, out) = shopd(&restored, &["backup", "restore", s3], &env);
    assert!(ok, "{out}");
    assert!(out.contains("search index built"), "{out}");
    // Restoring over a data dir that holds a database is refused.
    let (ok, out) = shopd(&restored, &["backup", "restore", s3], &env);
    assert!(!ok && out.contains("already holds a database"), "{out}");
    let copy = Node::spawn(&restored, node::free_port(), &[]);
    copy.wait_ready(&c, Duration::from_secs(60)).await;
    assert!(shows_everywhere(&c, &copy.base, "repl-bk", "backgammon").await);
    same_answers(&c, &leader.base, &copy.base).await;

    // The same through a directory; then corrupted and truncated copies are
    // refused with a clear message and leave the data dir empty.
    let backups = dir.path().join("backups");
    let (ok, out) = shopd(
        dir.path(),
        &[
            "backup",
            "create",
            backups.to_str().unwrap(),
            "--from",
            &leader.base,
            "--replication-token",
            node::REPLICATION,
        ],
        &[],
    );
    assert!(ok, "{out}");
    // Backups, like everything shopd writes, are their owner's alone.
    common::files::assert_owner_only(&backups);
    let id = std::fs::read_dir(&backups)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let part = id.join("part-00000.bin");
    let good = std::fs::read(&part).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x01;
    std::fs::write(&part, &bad).unwrap();
    let target = dir.path().join("from-corrupt");
    let (ok, out) = shopd(
        &target,
        &["backup", "restore", backups.to_str().unwrap()],
        &[],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("SHA-256"), "{out}");
    assert!(!target.join("shopd.redb").exists());
    std::fs::write(&part, &good[..good.len() - 100]).unwrap();
    let (ok, out) = shopd(
        &target,
        &["backup", "restore", backups.to_str().unwrap()],
        &[],
    );
    assert!(!ok && out.contains("bytes"), "{out}");
    assert!(!target.join("shopd.redb").exists());
    std::fs::write(&part, &good).unwrap();
    let (ok, out) = shopd(
        &target,
        &["backup", "restore", backups.to_str().unwrap()],
        &[],
    );
    assert!(ok, "{out}");
    common::files::assert_owner_only(&target);
    common::files::assert_owner_only(&restored);
}

/// nginx from Debian's package, with `tests/nginx/shopd.conf` filled in;
/// stopped by process id when dropped.
struct Nginx {
    child: std::process::Child,
    base: String,
}

impl Nginx {
    fn start(prefix: &Path, leader: u16, followers: [u16; 2]) -> Nginx {
        let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is installed (Debian's nginx-light; .ci/run installs it)");
        for d in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(prefix.join(d)).unwrap();
        }
        let port = node::free_port();
        let conf = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nginx/shopd.conf"),
        )
        .unwrap()
        .replace("{{PREFIX}}", prefix.to_str().unwrap())
        .replace("{{LEADER}}", &leader.to_string())
        .replace("{{FOLLOWER_1}}", &followers[0].to_string())
        .replace("{{FOLLOWER_2}}", &followers[1].to_string())
        .replace("{{PORT}}", &port.to_string());
        let conf_path = prefix.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        // As root, nginx's workers would switch to `nobody`, who cannot
        // reach a private temp dir.
        let globals = if unsafe { libc::geteuid() } == 0 {
            "daemon off; user root;"
        } else {
            "daemon off;"
        };
        let child = Command::new(bin)
            .arg("-p")
            .arg(prefix)
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", globals])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nginx starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not listen: {}",
                std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Nginx {
    /// SIGTERM to the master, which stops its workers (a SIGKILL would
    /// leave them running), then waits for it.
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_spreads_reads_over_followers_without_errors_while_one_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let leader = Node::leader(&dir.path().join("leader"), &[]);
    leader.wait_ready(&c, Duration::from_secs(60)).await;
    let mut f1 = Node::follower(
        &dir.path().join("f1"),
        &leader.base,
        &["--follow-interval", "500ms"],
    );
    let f2 = Node::follower(
        &dir.path().join("f2"),
        &leader.base,
        &["--follow-interval", "500ms"],
    );
    f1.wait_ready(&c, Duration::from_secs(60)).await;
    f2.wait_ready(&c, Duration::from_secs(60)).await;
    let nginx = Nginx::start(&dir.path().join("nginx"), leader.port, [f1.port, f2.port]);

    // Writes through nginx reach the leader; reads with the write's
    // generation see it on whichever follower answers.
    let r = c
        .post(format!("{}/api/v1/brands", nginx.base))
        .bearer_auth(node::ADMIN)
        .json(&serde_json::json!({"id": "b-nginx", "title": "Through nginx"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let g = generation(&r);
    for _ in 0..4 {
        let r = c
            .get(format!("{}/api/v1/brands/b-nginx", nginx.base))
            .header("X-Min-Generation", g.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    // A read workload for 8 s; one follower is killed and restarted in
    // the middle of it.
    let stop = Instant::now() + Duration::from_secs(8);
    let paths = [
        "/api/v1/products?limit=5",
        "/api/v1/products/prod-000001",
        "/api/v1/search?q=lamp",
        "/api/v1/brands",
        "/api/v1/categories",
    ];
    let mut workers = Vec::new();
    for w in 0..4 {
        let c = c.clone();
        let base = nginx.base.clone();
        workers.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u64, Vec::new());
            let mut i = w;
            while Instant::now() < stop {
                let path = paths[i % paths.len()];
                i += 1;
                match c.get(format!("{base}{path}")).send().await {
                    Ok(r) if r.status() == 200 => ok += 1,
                    Ok(r) => failed.push(format!("{path}: {}", r.status())),
                    Err(e) => failed.push(format!("{path}: {e}")),
                }
            }
            (ok, failed)
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    f1.kill9();
    tokio::time::sleep(Duration::from_secs(1)).await;
    f1.start();
    let (mut ok, mut failed) = (0, Vec::new());
    for w in workers {
        let (o, f) = w.await.unwrap();
        ok += o;
        failed.extend(f);
    }
    assert!(
        failed.is_empty(),
        "{} failed of {}: {:?}",
        failed.len(),
        ok + failed.len() as u64,
        &failed[..failed.len().min(5)]
    );
    assert!(ok > 200, "only {ok} reads");
    // Both followers took reads: the one never restarted counted its own.
    let served = c
        .get(format!("{}/metrics", f2.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("shopd_http_requests_total{") && l.contains("\"GET\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    assert!(served > 50.0, "f2 served {served}");
    f1.wait_ready(&c, Duration::from_secs(30)).await;
}

/// A photo-like JPEG (a gradient, so encoders have work).
fn test_jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut out),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    out
}

/// Uploads `bytes` to `base` (with `alt`, URL-encoded); the new image's id.
async fn upload_image(c: &Client, base: &str, bytes: Vec<u8>, alt: &str) -> String {
    let res = c
        .post(format!("{base}/api/v1/media?alt={alt}"))
        .bearer_auth(node::ADMIN)
        .header("Content-Type", "image/jpeg")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let v: serde_json::Value = res.json().await.unwrap();
    v["data"]["id"].as_str().unwrap().to_string()
}

/// Makes `product` on `base` show image `id`.
async fn show_image(c: &Client, base: &str, product: &str, id: &str) {
    let res = c
        .patch(format!("{base}/api/v1/products/{product}"))
        .bearer_auth(node::ADMIN)
        .json(&serde_json::json!({"images": [id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_serves_the_leaders_images_fetching_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let leader = Node::leader(&dir.path().join("leader"), &[]);
    leader.wait_ready(&c, Duration::from_secs(60)).await;
    let follower = Node::follower(&dir.path().join("follower"), &leader.base, &[]);
    follower.wait_ready(&c, Duration::from_secs(60)).await;

    let id = upload_image(&c, &leader.base, test_jpeg(640, 480), "Replicated%20lamp").await;
    show_image(&c, &leader.base, "prod-000002", &id).await;

    // The record reaches the follower with the product...
    let detail = format!("{}/api/v1/products/prod-000002", follower.base);
    eventually(
        "the follower shows the image",
        Duration::from_secs(30),
        || {
            let c = c.clone();
            let detail = detail.clone();
            let id = id.clone();
            async move {
                let Ok(r) = c.get(&detail).send().await else {
                    return false;
                };
                let v: serde_json::Value = r.json().await.unwrap_or_default();
                v["data"]["media"][0]["id"] == id.as_str()
                    && v["data"]["media"][0]["alt"] == "Replicated lamp"
            }
        },
    )
    .await;
    // ...and its bytes, fetched from the leader on first use, are the
    // leader's, also after the leader is gone.
    let path = format!("/media/{id}/480.webp");
    let from_leader = c
        .get(format!("{}{path}", leader.base))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let res = c
        .get(format!("{}{path}", follower.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/webp");
    assert_eq!(res.bytes().await.unwrap(), from_leader);
    let mut leader = leader;
    leader.kill9();
    let res = c
        .get(format!("{}{path}", follower.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap(), from_leader);
    // A variant it never fetched cannot come while the leader is away: a
    // 503 to retry, not a wrong image.
    let res = c
        .get(format!("{}/media/{id}/160.jpg", follower.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
}

/// A client of the test S3 server's bucket `name`, signed as moto expects.
fn s3_bucket(moto: &moto::Moto, name: &str) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(name)
        .with_endpoint(&moto.endpoint)
        .with_allow_http(true)
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .with_region("us-east-1")
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_kept_in_an_s3_bucket_are_served_and_collected_like_local_ones() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let moto = moto::Moto::start();
    let r = c
        .put(format!("{}/shop-media", moto.endpoint))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "bucket created: {}", r.status());
    let node = Node::spawn_with_env(
        &dir.path().join("shop"),
        node::free_port(),
        &["--demo", "--media-store", "s3://shop-media/images"],
        &moto.env(),
    );
    node.wait_ready(&c, Duration::from_secs(60)).await;
    let original = test_jpeg(500, 300);
    let id = upload_image(&c, &node.base, original.clone(), "").await;
    // The original is in the bucket, under the content-addressed path.
    let hh = &id["med_".len().."med_".len() + 2];
    let bucket = s3_bucket(&moto, "shop-media");
    let object = |name: &str| object_store::path::Path::from(format!("images/{hh}/{id}/{name}"));
    let stored = bucket.get(&object("original")).await.unwrap();
    assert_eq!(stored.bytes().await.unwrap(), original);
    // Every variant gets made through the bucket and served.
    eventually("every variant is made", Duration::from_secs(120), || {
        let c = c.clone();
        let url = format!("{}/api/v1/media/{id}", node.base);
        async move {
            let Ok(r) = c.get(&url).bearer_auth(node::ADMIN).send().await else {
                return false;
            };
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            v["data"]["variants"]
                .as_array()
                .is_some_and(|a| a.iter().all(|x| x["ready"] == true))
        }
    })
    .await;
    for file in ["160.avif", "480.webp", "1200.jpg"] {
        let res = c
            .get(format!("{}/media/{id}/{file}", node.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{file}");
        let body = res.bytes().await.unwrap();
        let in_bucket = bucket
            .get(&object(file))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body, in_bucket, "{file}");
    }
    // Deleting removes the objects too.
    let res = c
        .delete(format!("{}/api/v1/media/{id}", node.base))
        .bearer_auth(node::ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(matches!(
        bucket.get(&object("original")).await,
        Err(object_store::Error::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_carry_the_image_files_and_restores_serve_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let data = dir.path().join("shop");
    let mut shop = Node::leader(&data, &[]);
    shop.wait_ready(&c, Duration::from_secs(60)).await;
    let id = upload_image(&c, &shop.base, test_jpeg(700, 500), "").await;
    show_image(&c, &shop.base, "prod-000003", &id).await;
    let path = format!("/media/{id}/480.webp");
    let served = c
        .get(format!("{}{path}", shop.base))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    shop.kill9();

    let moto = moto::Moto::start();
    let r = c
        .put(format!("{}/shop-backups", moto.endpoint))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let local = dir.path().join("backups");
    for (target, env) in [
        (local.to_str().unwrap().to_string(), Vec::new()),
        ("s3://shop-backups/with-images".to_string(), moto.env()),
    ] {
        // Twice: the second backup shares the first one's image files.
        for _ in 0..2 {
            let (ok, out) = shopd(&data, &["backup", "create", &target], &env);
            assert!(ok, "{out}");
        }
        let restored = dir.path().join(format!("restored-{}", target.len()));
        let (ok, out) = shopd(&restored, &["backup", "restore", &target], &env);
        assert!(ok, "{out}");
        let copy = Node::spawn(&restored, node::free_port(), &[]);
        copy.wait_ready(&c, Duration::from_secs(60)).await;
        let res = c
            .get(format!("{}/api/v1/products/prod-000003", copy.base))
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = res.json().await.unwrap();
        assert_eq!(v["data"]["media"][0]["id"], id.as_str(), "{target}");
        let res = c.get(format!("{}{path}", copy.base)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{target}: {}", copy.log_tail());
        assert_eq!(res.bytes().await.unwrap(), served, "{target}");
    }
    // One copy of each image file in the directory, whatever the backups:
    // the demo's twelve photos and the upload, in the shared area only.
    let originals = |dir: &Path| {
        walk_files(dir)
            .into_iter()
            .filter(|p| p.ends_with("original"))
            .count()
    };
    assert_eq!(originals(&local.join("media")), 13);
    assert_eq!(originals(&local), 13);
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk_files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
