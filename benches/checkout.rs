//! Checkout throughput, latency and overselling: shopd against the Postgres
//! design (`shopd-baseline`), each alone on the machine in turn.
//!
//! `cargo bench --features baseline --bench checkout` — each design serves
//! the fixture catalogue (1,000 products) from a fresh data dir (shopd:
//! `shopd import`; the baseline: `setup.sh --catalog`). 64 concurrent guest
//! customers (tasks on one client thread, one keep-alive connection each)
//! loop: add one unit to a new cart (`POST /cart/items`), then check it out
//! (`POST /checkout`, a fresh `Idempotency-Key` each). Scenarios:
//! - `distinct`: customer i always buys product i (64 products, each given
//!   a huge stock first through the staff PATCH);
//! - `hot`: all 64 buy one product (a huge stock);
//! - `scarce`: one product with 10 units left, 64 customers check out at
//!   once: exactly 10 orders, 54 × 409 `out_of_stock`, stock 0.
//!
//! Figures per design and scenario: checkouts/s (201s over the measured
//! window; not for `scarce`), p50/p99 of the checkout request alone (closed loop: each
//! customer sends its next request when the last one answered), and
//! oversold units = Σ ordered − (stock before − stock after), read through
//! the product detail, which must be 0 (stock is never negative in either
//! design: shopd's type is unsigned, the baseline's column has a CHECK).
//!
//! Rounds (`CHECKOUT_ROUNDS`, 3) of A B; per scenario and round,
//! `CHECKOUT_WARM_SECS` (2) warm then `CHECKOUT_SECS` (8) measured. Medians
//! with ranges over rounds. Writes `target/bench-data/checkout-results.{md,json}`.
//! `CHECKOUT_DESIGNS=shopd` (or `baseline`) runs one design only.

mod common;
#[path = "common/designs.rs"]
mod designs;

use designs::{Design, TOKEN, setup};
use reqwest::{Client, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const CUSTOMERS: usize = 64;
const HUGE_STOCK: u64 = 1_000_000_000;
const SCARCE_STOCK: u64 = 10;

const ADDRESS_BODY: &str = r#"{"email":"bench@example.com","shippingAddress":{"name":"Bench Customer","line1":"1 Load Street","city":"Berlin","postalCode":"10115","country":"DE"},"paymentMethod":"bank_transfer"}"#;

#[derive(Debug, Clone, Serialize)]
struct Row {
    design: String,
    scenario: String,
    round: usize,
    checkouts_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Orders made (warm-up included) and units in them.
    orders: u64,
    units: u64,
    /// 409 answers to checkout (expected only in `scarce`).
    refused: u64,
    /// Any other non-201 answer, or a failed request.
    errors: u64,
    stock_before: u64,
    stock_after: u64,
    /// Σ ordered − (before − after): must be 0.
    oversold: i64,
    /// CPU of all the design's processes (server; PostgreSQL and Redis for
    /// the baseline) per order, add-to-cart included, over warm-up and
    /// measurement.
    cpu_ms_per_order: f64,
    /// Cores busy with anything but the design and this client during the
    /// scenario (another build, a test run): a round with more than a few
    /// tenths was disturbed.
    other_cores: f64,
}

/// What one customer task saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    measured_ok: u64,
    orders: u64,
    refused: u64,
    errors: u64,
}

fn url(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}/api/v1{path}")
}

/// One add-to-cart (a new cart) then its checkout. `Ok(Some(latency))` for
/// a 201, `Ok(None)` for a 409.
async fn buy(
    client: &Client,
    port: u16,
    product: &str,
    key: &str,
) -> Result<(StatusCode, Duration), String> {
    let add = client
        .post(url(port, "/cart/items"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"productId":"{product}","quantity":1}}"#))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if add.status() != StatusCode::OK {
        return Err(format!("add to cart: {}", add.status()));
    }
    let token = add
        .headers()
        .get("x-cart-token")
        .and_then(|v| v.to_str().ok())
        .ok_or("no X-Cart-Token")?
        .to_string();
    add.bytes().await.map_err(|e| e.to_string())?;
    let start = Instant::now();
    let res = client
        .post(url(port, "/checkout"))
        .header("content-type", "application/json")
        .header("x-cart-token", token)
        .header("idempotency-key", key)
        .body(ADDRESS_BODY)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status();
    res.bytes().await.map_err(|e| e.to_string())?;
    Ok((status, start.elapsed()))
}

async fn stock(client: &Client, port: u16, product: &str) -> u64 {
    let v: Value = client
        .get(url(port, &format!("/products/{product}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]["stock"]
        .as_u64()
        .unwrap_or_else(|| panic!("no stock in {v}"))
}

async fn set_stock(client: &Client, port: u16, product: &str, stock: u64) {
    let res = client
        .patch(url(port, &format!("/products/{product}")))
        .bearer_auth(TOKEN)
        .json(&json!({"stock": stock, "isAvailable": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "PATCH {product}");
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

/// 64 customers looping for `warm` + `secs`; customer i buys `products[i %
/// len]`. Returns the row (without stock figures).
async fn closed_loop(
    client: &Client,
    port: u16,
    products: &[String],
    tag: &str,
    warm: Duration,
    secs: Duration,
) -> (Row, u64) {
    let start = Instant::now();
    let measure_from = start + warm;
    let stop = measure_from + secs;
    let mut tasks = Vec::new();
    for i in 0..CUSTOMERS {
        let client = client.clone();
        let product = products[i % products.len()].clone();
        let tag = format!("{tag}-{i}");
        tasks.push(tokio::spawn(async move {
            let mut t = Tally::default();
            let mut n = 0u64;
            while Instant::now() < stop {
                n += 1;
                let key = format!("{tag}-{n}");
                let began = Instant::now();
                match buy(&client, port, &product, &key).await {
                    Ok((StatusCode::CREATED, latency)) => {
                        t.orders += 1;
                        if began >= measure_from && Instant::now() <= stop {
                            t.measured_ok += 1;
                            t.latencies_us.push(latency.as_micros() as u32);
                        }
                    }
                    Ok((StatusCode::CONFLICT, _)) => t.refused += 1,
                    Ok((s, _)) => {
                        t.errors += 1;
                        eprintln!("checkout answered {s}");
                    }
                    Err(e) => {
                        t.errors += 1;
                        eprintln!("request failed: {e}");
                    }
                }
            }
            t
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await.unwrap();
        all.latencies_us.extend(t.latencies_us);
        all.measured_ok += t.measured_ok;
        all.orders += t.orders;
        all.refused += t.refused;
        all.errors += t.errors;
    }
    all.latencies_us.sort_unstable();
    let row = Row {
        design: String::new(),
        scenario: String::new(),
        round: 0,
        checkouts_per_s: all.measured_ok as f64 / secs.as_secs_f64(),
        p50_ms: percentile(&all.latencies_us, 0.50),
        p99_ms: percentile(&all.latencies_us, 0.99),
        orders: all.orders,
        units: all.orders,
        refused: all.refused,
        errors: all.errors,
        stock_before: 0,
        stock_after: 0,
        oversold: 0,
        cpu_ms_per_order: f64::NAN,
        other_cores: f64::NAN,
    };
    (row, all.orders)
}

/// 64 customers fill their carts, then all check out at once.
async fn scarce(client: &Client, port: u16, product: &str, tag: &str) -> Row {
    let mut tokens = Vec::new();
    for _ in 0..CUSTOMERS {
        let add = client
            .post(url(port, "/cart/items"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"productId":"{product}","quantity":1}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(add.status(), StatusCode::OK);
        tokens.push(add.headers()["x-cart-token"].to_str().unwrap().to_string());
    }
    let go = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let client = client.clone();
        let key = format!("{tag}-{i}");
        let go = go.clone();
        tasks.push(tokio::spawn(async move {
            while !go.load(Ordering::Acquire) {
                tokio::task::yield_now().await;
            }
            let start = Instant::now();
            let res = client
                .post(url(port, "/checkout"))
                .header("content-type", "application/json")
                .header("x-cart-token", token)
                .header("idempotency-key", key)
                .body(ADDRESS_BODY)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            (status, body, start.elapsed())
        }));
    }
    go.store(true, Ordering::Release);
    let mut t = Tally::default();
    for task in tasks {
        let (status, body, latency) = task.await.unwrap();
        t.latencies_us.push(latency.as_micros() as u32);
        match status {
            StatusCode::CREATED => t.orders += 1,
            StatusCode::CONFLICT if body["error"]["code"] == "out_of_stock" => t.refused += 1,
            s => {
                t.errors += 1;
                eprintln!("scarce checkout answered {s}: {body}");
            }
        }
    }
    t.latencies_us.sort_unstable();
    Row {
        design: String::new(),
        scenario: "scarce".into(),
        round: 0,
        // Not a rate: 64 requests at once.
        checkouts_per_s: f64::NAN,
        p50_ms: percentile(&t.latencies_us, 0.50),
        p99_ms: percentile(&t.latencies_us, 0.99),
        orders: t.orders,
        units: t.orders,
        refused: t.refused,
        errors: t.errors,
        stock_before: 0,
        stock_after: 0,
        oversold: 0,
        cpu_ms_per_order: f64::NAN,
        other_cores: f64::NAN,
    }
}

/// The products and durations of every run.
struct Plan {
    distinct: Vec<String>,
    hot: String,
    rare: String,
    warm: Duration,
    secs: Duration,
}

/// Every scenario once against the server on `port`.
/// `roots`: the design's processes, for its CPU time.
async fn run_design(port: u16, roots: &[u32], design: &str, round: usize, plan: &Plan) -> Vec<Row> {
    let Plan {
        distinct,
        hot,
        rare,
        warm,
        secs,
    } = plan;
    let (warm, secs) = (*warm, *secs);
    let client = Client::builder()
        .pool_max_idle_per_host(CUSTOMERS * 2)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    for p in distinct {
        set_stock(&client, port, p, HUGE_STOCK).await;
    }
    set_stock(&client, port, hot, HUGE_STOCK).await;
    let mut rows = Vec::new();
    let hot_list = [hot.to_string()];
    for (scenario, products) in [("distinct", &distinct[..]), ("hot", &hot_list[..])] {
        let mut before = 0;
        for p in products {
            before += stock(&client, port, p).await;
        }
        let tag = format!("{design}-r{round}-{scenario}");
        let cpu = common::load::design_cpu_seconds(roots);
        let me = common::load::cpu_seconds(std::process::id());
        let (machine, started) = (machine_cpu_seconds(), Instant::now());
        let (mut row, ordered) = closed_loop(&client, port, products, &tag, warm, secs).await;
        let design_cpu = common::load::design_cpu_seconds(roots) - cpu;
        let client_cpu = common::load::cpu_seconds(std::process::id()) - me;
        row.cpu_ms_per_order = design_cpu * 1000.0 / ordered.max(1) as f64;
        row.other_cores = ((machine_cpu_seconds() - machine) - design_cpu - client_cpu).max(0.0)
            / started.elapsed().as_secs_f64();
        let mut after = 0;
        for p in products {
            after += stock(&client, port, p).await;
        }
        row.design = design.into();
        row.scenario = scenario.into();
        row.round = round;
        row.stock_before = before;
        row.stock_after = after;
        row.oversold = ordered as i64 - (before as i64 - after as i64);
        eprintln!("{row:?}");
        rows.push(row);
    }
    set_stock(&client, port, rare, SCARCE_STOCK).await;
    let before = stock(&client, port, rare).await;
    let mut row = scarce(&client, port, rare, &format!("{design}-r{round}-scarce")).await;
    let after = stock(&client, port, rare).await;
    row.design = design.into();
    row.round = round;
    row.stock_before = before;
    row.stock_after = after;
    row.oversold = row.units as i64 - (before as i64 - after as i64);
    eprintln!("{row:?}");
    rows.push(row);
    rows
}

fn summary(rows: &[Row], design: &str, scenario: &str, f: fn(&Row) -> f64) -> (f64, f64, f64) {
    let v: Vec<f64> = rows
        .iter()
        .filter(|r| r.design == design && r.scenario == scenario)
        .map(f)
        .collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    common::median_range(v)
}

/// CPU seconds the whole machine has been busy (`/proc/stat`: all but idle
/// and iowait).
fn machine_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: f64 = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .enumerate()
        // user nice system idle iowait irq softirq steal
        .filter(|(i, _)| *i != 3 && *i != 4 && *i < 8)
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .sum();
    // USER_HZ is 100 on Linux.
    ticks / 100.0
}

/// `/proc/loadavg`'s three load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(", ")
}

fn fixture_products() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/catalog/products.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn main() {
    let root = common::bench_dir()
        .parent()
        .expect("bench-data/N has a parent")
        .to_path_buf();
    std::fs::create_dir_all(&root).unwrap();
    let work = tempfile::tempdir_in(&root).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/catalog");

    // Products: available ones, the hot one and the scarce one apart from
    // the 64 distinct ones.
    let available: Vec<String> = fixture_products()
        .iter()
        .filter(|p| p["isAvailable"] == true)
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    let distinct: Vec<String> = available.iter().take(CUSTOMERS).cloned().collect();
    let hot = available[CUSTOMERS].clone();
    let rare = available[CUSTOMERS + 1].clone();

    let which = std::env::var("CHECKOUT_DESIGNS").unwrap_or_else(|_| "shopd,baseline".into());
    let shopd_data = work.path().join("shopd");
    let mut designs = Vec::new();
    if which.contains("shopd") {
        let ok = Command::new(designs::shopd_bin())
            .args(["--log-level", "warn", "--data-dir"])
            .arg(&shopd_data)
            .arg("import")
            .arg(&fixture)
            .status()
            .unwrap()
            .success();
        assert!(ok, "shopd import failed");
        designs.push(Design {
            name: "shopd",
            services: None,
            env: BTreeMap::new(),
            data: shopd_data,
        });
    }
    let services = work.path().join("baseline");
    let services_arg = services.display().to_string();
    if which.contains("baseline") {
        let env = setup(&[
            "start",
            "--dir",
            &services_arg,
            "--catalog",
            &fixture.display().to_string(),
        ]);
        designs.push(Design {
            name: "baseline",
            services: Some(services.clone()),
            env,
            data: Default::default(),
        });
    }

    let warm = common::load::env_secs("CHECKOUT_WARM_SECS", 2);
    let secs = common::load::env_secs("CHECKOUT_SECS", 8);
    let rounds = common::rounds("CHECKOUT_ROUNDS");
    let plan = Plan {
        distinct,
        hot,
        rare,
        warm,
        secs,
    };
    // The client: one thread, so the servers keep most of the 2 cores.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let load_before = loadavg();
    let mut rows = Vec::new();
    for round in 0..rounds {
        for design in &designs {
            let mut server = design.start(true);
            server.wait_for("/ready", Duration::from_secs(300));
            let mut roots = vec![server.pid()];
            roots.extend(design.service_roots());
            rows.extend(rt.block_on(run_design(server.port, &roots, design.name, round, &plan)));
        }
    }
    if which.contains("baseline") {
        setup(&["stop", "--dir", &services_arg]);
    }

    let load_after = loadavg();
    let mut md = format!(
        "# Checkout: shopd vs the Postgres design\n\n\
         `cargo bench --features baseline --bench checkout`: fixture catalogue (1,000 products), \
         {CUSTOMERS} concurrent guest customers, each looping add-to-cart (a new cart) + checkout \
         (a fresh Idempotency-Key), closed loop, one client thread on the same 2 cores; \
         {rounds} rounds of A B, {}s warm + {}s measured per scenario; medians with the range \
         over rounds in brackets. Latency is the checkout request alone. The baseline is one \
         PostgreSQL transaction per checkout (`UPDATE … SET stock = stock - $n WHERE … AND \
         stock >= $n` per line), carts in Redis, `synchronous_commit = on`. CPU per order \
         counts every process of the design (the baseline: server, PostgreSQL, Redis), \
         add-to-cart included; the client's CPU is not in it.\n\n\
         | scenario | shopd checkouts/s | baseline checkouts/s | shopd / baseline | shopd p50 ms | baseline p50 ms | shopd p99 ms | baseline p99 ms | baseline p99 / shopd p99 | CPU ms per order, shopd | CPU ms per order, baseline | oversold (shopd, baseline) | errors (shopd, baseline) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        warm.as_secs(),
        secs.as_secs()
    );
    let fmt = |x: (f64, f64, f64), d: usize| format!("{:.d$} [{:.d$}–{:.d$}]", x.0, x.1, x.2);
    let total = |d: &str, s: &str, f: fn(&Row) -> i64| -> i64 {
        rows.iter()
            .filter(|r| r.design == d && r.scenario == s)
            .map(f)
            .sum()
    };
    for scenario in ["distinct", "hot"] {
        let s = summary(&rows, "shopd", scenario, |r| r.checkouts_per_s);
        let b = summary(&rows, "baseline", scenario, |r| r.checkouts_per_s);
        let sp50 = summary(&rows, "shopd", scenario, |r| r.p50_ms);
        let bp50 = summary(&rows, "baseline", scenario, |r| r.p50_ms);
        let sp99 = summary(&rows, "shopd", scenario, |r| r.p99_ms);
        let bp99 = summary(&rows, "baseline", scenario, |r| r.p99_ms);
        let scpu = summary(&rows, "shopd", scenario, |r| r.cpu_ms_per_order);
        let bcpu = summary(&rows, "baseline", scenario, |r| r.cpu_ms_per_order);
        md += &format!(
            "| {scenario} | {} | {} | {:.1}× | {} | {} | {} | {} | {:.1}× | {} | {} | {}, {} | {}, {} |\n",
            fmt(s, 0),
            fmt(b, 0),
            s.0 / b.0,
            fmt(sp50, 2),
            fmt(bp50, 2),
            fmt(sp99, 2),
            fmt(bp99, 2),
            bp99.0 / sp99.0,
            fmt(scpu, 2),
            fmt(bcpu, 2),
            total("shopd", scenario, |r| r.oversold),
            total("baseline", scenario, |r| r.oversold),
            total("shopd", scenario, |r| r.errors as i64),
            total("baseline", scenario, |r| r.errors as i64),
        );
    }
    md += "\nScarce: 64 customers with a unit each in their carts check out the last 10 \
           units at once, per round: orders, 409 `out_of_stock`, other answers, stock before \
           → after, oversold units, p50/p99 ms of all 64 answers:\n\n";
    for r in rows.iter().filter(|r| r.scenario == "scarce") {
        md += &format!(
            "- {} round {}: {} orders, {} refused, {} other, stock {} → {}, oversold {}, \
             {:.1} / {:.1} ms\n",
            r.design,
            r.round,
            r.orders,
            r.refused,
            r.errors,
            r.stock_before,
            r.stock_after,
            r.oversold,
            r.p50_ms,
            r.p99_ms
        );
    }
    let ratio = summary(&rows, "shopd", "distinct", |r| r.checkouts_per_s).0
        / summary(&rows, "baseline", "distinct", |r| r.checkouts_per_s).0;
    let p99 = summary(&rows, "shopd", "distinct", |r| r.p99_ms).0
        / summary(&rows, "baseline", "distinct", |r| r.p99_ms).0;
    let oversold: i64 = rows.iter().map(|r| r.oversold.abs()).sum();
    md += &format!(
        "\nTargets (distinct products): shopd ≥ 5× the baseline's checkouts/s: {} ({ratio:.1}×); \
         shopd p99 ≤ 1/5 of the baseline's: {} ({p99:.2}); 0 oversold units in both designs: {} \
         ({oversold}).\n",
        if ratio >= 5.0 { "met" } else { "not met" },
        if p99 <= 0.2 { "met" } else { "not met" },
        if oversold == 0 { "met" } else { "not met" },
    );
    md += "\nOther CPU during each closed-loop scenario (cores busy with neither the design \
           nor the client; more than a few tenths means the round was disturbed):\n\n";
    for r in rows.iter().filter(|r| r.scenario != "scarce") {
        md += &format!(
            "- {} {} round {}: {:.2} cores, {:.0} checkouts/s\n",
            r.design, r.scenario, r.round, r.other_cores, r.checkouts_per_s
        );
    }
    md += &format!(
        "\nMachine load (1, 5, 15 min) before the first round: {load_before}; after the last: \
         {load_after} (anything else running on the 2 cores shows here).\n"
    );
    std::fs::write(root.join("checkout-results.md"), &md).unwrap();
    std::fs::write(
        root.join("checkout-results.json"),
        serde_json::to_string_pretty(&rows).unwrap(),
    )
    .unwrap();
    println!("{md}");
    // Wrong answers fail the run (after the figures are written).
    for r in &rows {
        assert_eq!(r.oversold, 0, "oversold units: {r:?}");
        assert_eq!(r.errors, 0, "unexpected answers: {r:?}");
        if r.scenario == "scarce" {
            assert_eq!((r.orders, r.stock_after), (SCARCE_STOCK, 0), "{r:?}");
        }
    }
}
