//! Differential test: `shopd-baseline` (PostgreSQL + Redis, the plans'
//! design) must answer shopd's read API exactly as shopd does.
//!
//! Arrange: `benches/baseline/setup.sh` starts a private PostgreSQL and Redis
//! in a temp dir (installing them with apt when missing) and loads the
//! fixture catalogue; two baseline servers start on it, one with the Redis
//! cache and one without; shopd starts in-process on the same catalogue (its
//! demo import). Nothing is skipped: if PostgreSQL or Redis cannot start, the
//! test fails with the script's output.
//!
//! Act and assert: a few hundred generated requests (lists with every filter,
//! sort and page shape, details, review pages, brands, categories, browsing
//! search, and 400/404/405/422 cases) go to shopd and to each baseline — the
//! cached one twice, cold then warm — and must give the same status and the
//! same JSON. Then full-text search (exact-match hit sets of single words),
//! admin writes with cache invalidation, and the metrics.
//!
//! Every process started here is stopped by a guard's `Drop`, also when an
//! assertion fails.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use shopd::configuration::{Config, LogFormat, Secret};
use shopd::startup::Application;
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "differential-admin-token";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture_dir() -> PathBuf {
    repo().join("fixtures/catalog")
}

fn fixture_lines(file: &str) -> Vec<Value> {
    std::fs::read_to_string(fixture_dir().join(file))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// ---------------------------------------------------------------- processes

/// PostgreSQL and Redis started by `setup.sh` in `dir`; stopped on drop.
struct Services {
    dir: PathBuf,
    database_url: String,
    redis_url: String,
}

fn setup_script() -> PathBuf {
    repo().join("benches/baseline/setup.sh")
}

impl Services {
    /// Runs `setup.sh start` loading the fixture catalogue. The guard exists
    /// before the script runs, so a half-started setup is stopped too.
    fn start(dir: &Path) -> Services {
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
struct Baseline {
    child: Child,
    address: String,
}

impl Baseline {
    fn start(services: &Services, cache: bool) -> Baseline {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shopd-baseline"))
            .args(["--log-level", "warn", "serve", "--listen", "127.0.0.1:0"])
            .arg("--database-url")
            .arg(&services.database_url)
            .arg("--redis-url")
            .arg(&services.redis_url)
            .args(["--cache", if cache { "on" } else { "off" }])
            .args(["--admin-token", TOKEN, "--pool-size", "4", "--workers", "2"])
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
async fn start_shopd(data_dir: &Path) -> (String, actix_web::dev::ServerHandle) {
    let app = Application::build(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_path_buf(),
        demo: true,
        admin_token: Some(Secret::new(TOKEN)),
        log_format: LogFormat::Text,
        log_level: "warn".into(),
        workers: 2,
        body_limit: 262_144,
        shutdown_timeout_secs: 1,
    })
    .await
    .expect("shopd builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    (address, handle)
}

async fn wait_ready(client: &Client, address: &str) {
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

// ---------------------------------------------------------------- requests

/// One response: status and body (JSON when it parses, else the text).
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    status: StatusCode,
    body: Value,
}

async fn send(
    client: &Client,
    method: Method,
    url: &str,
    body: Option<&Value>,
    admin: bool,
) -> Answer {
    let mut req = client.request(method, url);
    if admin {
        req = req.bearer_auth(TOKEN);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = res.status();
    let text = res.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer { status, body }
}

async fn get(client: &Client, url: &str) -> Answer {
    send(client, Method::GET, url, None, false).await
}

/// The first place two JSON values differ, as a JSON-pointer-like path.
fn first_diff(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_diff(p, q, &format!("{path}/{k}")) {
                            return Some(d);
                        }
                    }
                    (p, q) => return Some(format!("{path}/{k}: {p:?} vs {q:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_diff(p, q, &format!("{path}/{i}")) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| format!("{path}: {} vs {} items", x.len(), y.len()))
        }
        _ => (a != b).then(|| format!("{path}: {a} vs {b}")),
    }
}

fn assert_same(what: &str, path: &str, want: &Answer, got: &Answer) {
    if want.status != got.status {
        panic!(
            "{what}: {path}: status shopd {} vs baseline {}\nshopd:    {}\nbaseline: {}",
            want.status, got.status, want.body, got.body
        );
    }
    let ids = |a: &Answer| -> Option<Vec<Value>> {
        let data = a.body["data"].as_array()?;
        Some(data.iter().map(|x| x["id"].clone()).collect())
    };
    if let (Some(w), Some(g)) = (ids(want), ids(got))
        && w != g
    {
        panic!(
            "{what}: {path}: the lists differ\nshopd ids:    {w:?}\nbaseline ids: {g:?}\nshopd:    {}\nbaseline: {}",
            want.body, got.body
        );
    }
    if let Some(d) = first_diff(&want.body, &got.body, "") {
        panic!(
            "{what}: {path} ({}): bodies differ at {d}\nshopd:    {}\nbaseline: {}",
            want.status, want.body, got.body
        );
    }
}

/// The generated read requests (paths), deterministic.
fn read_paths() -> Vec<String> {
    let products = fixture_lines("products.jsonl");
    let reviews = fixture_lines("reviews.jsonl");
    let categories = fixture_lines("categories.jsonl");
    let brands = fixture_lines("brands.jsonl");
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    let mut review_count: HashMap<String, usize> = HashMap::new();
    for r in &reviews {
        *review_count
            .entry(r["productId"].as_str().unwrap().into())
            .or_default() += 1;
    }
    let roots: Vec<String> = categories
        .iter()
        .filter(|c| c["parentId"].is_null())
        .map(id)
        .collect();
    let leaves: Vec<String> = categories
        .iter()
        .filter(|c| !c["parentId"].is_null())
        .map(id)
        .collect();
    let sorts = ["featured", "price_asc", "price_desc", "newest", "rating"];
    let filters: Vec<String> = vec![
        String::new(),
        format!("category={}", roots[0]),
        format!("category={}", roots[roots.len() - 1]),
        format!("category={}", leaves[3]),
        format!("brand={}", id(&brands[6])),
        "isAvailable=true".into(),
        "isAvailable=false".into(),
        "minPrice=20&maxPrice=100".into(),
        "minPrice=49.95&maxPrice=50.49".into(),
        "minPrice=250".into(),
        "maxPrice=15".into(),
        format!(
            "category={}&brand={}&isAvailable=true",
            roots[1],
            id(&brands[2])
        ),
        format!(
            "category={}&isAvailable=true&minPrice=10&maxPrice=300",
            roots[1]
        ),
        format!("brand={}&minPrice=0&maxPrice=9999999.99", id(&brands[10])),
        "category=cat-999".into(),
        "brand=brand-9999".into(),
        "category=not%20an%20id!".into(),
        "isAvailable=1&minPrice=0.5".into(),
    ];
    let pages = [
        "",
        "limit=7",
        "page=2&limit=7",
        "page=3&limit=100",
        "page=500",
    ];
    let mut paths = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        for (j, sort) in sorts.iter().enumerate() {
            // Every filter with every sort; the page shape rotates.
            let page = pages[(i + j) % pages.len()];
            let sort = format!("sort={sort}");
            let q = [f.as_str(), page, &sort]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("&");
            paths.push(format!("/api/v1/products?{q}"));
        }
    }
    for page in pages {
        paths.push(format!("/api/v1/products?{page}"));
    }
    // Random combinations of every filter, sort and page shape (seeded).
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let all_categories: Vec<String> = categories.iter().map(id).collect();
    for i in 0..150 {
        let mut q = Vec::new();
        if rng.random_bool(0.5) {
            q.push(format!(
                "category={}",
                all_categories[rng.random_range(0..all_categories.len())]
            ));
        }
        if rng.random_bool(0.3) {
            q.push(format!(
                "brand={}",
                id(&brands[rng.random_range(0..brands.len())])
            ));
        }
        if rng.random_bool(0.4) {
            q.push(format!("isAvailable={}", rng.random_bool(0.7)));
        }
        if rng.random_bool(0.4) {
            let lo = rng.random_range(0..30_000u32);
            let hi = lo + rng.random_range(0..40_000u32);
            if rng.random_bool(0.8) {
                q.push(format!("minPrice={}.{:02}", lo / 100, lo % 100));
            }
            if rng.random_bool(0.8) {
                q.push(format!("maxPrice={}.{:02}", hi / 100, hi % 100));
            }
        }
        q.push(format!("sort={}", sorts[rng.random_range(0..sorts.len())]));
        let limit = [1, 3, 10, 20, 50, 100][rng.random_range(0..6)];
        q.push(format!("limit={limit}"));
        q.push(format!("page={}", rng.random_range(1..=4)));
        let q = q.join("&");
        if i % 5 == 4 {
            // Search browses with the same filters; its default order is
            // called `relevance`.
            let q = q.replace("sort=featured", "sort=relevance");
            paths.push(format!("/api/v1/search?{q}"));
        } else {
            paths.push(format!("/api/v1/products?{q}"));
        }
    }
    // Details and reviews: products with the most reviews, none, and a spread.
    let mut by_reviews: Vec<(usize, String)> = products
        .iter()
        .map(|p| (review_count.get(&id(p)).copied().unwrap_or(0), id(p)))
        .collect();
    by_reviews.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut detail_ids: Vec<String> = by_reviews.iter().take(5).map(|x| x.1.clone()).collect();
    detail_ids.extend(by_reviews.iter().rev().take(3).map(|x| x.1.clone()));
    detail_ids.extend(products.iter().step_by(37).map(id));
    for pid in &detail_ids {
        paths.push(format!("/api/v1/products/{pid}"));
    }
    for pid in detail_ids.iter().take(12) {
        paths.push(format!("/api/v1/products/{pid}/reviews"));
        paths.push(format!("/api/v1/products/{pid}/reviews?page=2&limit=2"));
    }
    paths.push(format!(
        "/api/v1/products/{}/reviews?page=99",
        detail_ids[0]
    ));
    // Brands and categories.
    for page in [
        "",
        "?limit=7",
        "?page=2&limit=7",
        "?page=9&limit=7",
        "?limit=100",
        "?page=4",
    ] {
        paths.push(format!("/api/v1/brands{page}"));
    }
    for b in brands.iter().step_by(7) {
        paths.push(format!("/api/v1/brands/{}", id(b)));
    }
    paths.push("/api/v1/categories".into());
    for c in &categories {
        paths.push(format!("/api/v1/categories/{}", id(c)));
    }
    // Not found.
    for p in [
        "/api/v1/products/prod-999999",
        "/api/v1/products/not%20an%20id",
        "/api/v1/products/prod-999999/reviews",
        "/api/v1/brands/brand-9999",
        "/api/v1/categories/cat-999",
        "/api/v1/nothing-here",
        "/api/v1/products/prod-000001/nothing",
    ] {
        paths.push(p.into());
    }
    // Bad requests (400) and invalid values (422).
    for q in [
        "page=abc",
        "limit=1.5",
        "page=1&page=2",
        "isAvailable=maybe",
        "minPrice=cheap",
        "minPrice=%FF",
        "page=0",
        "limit=0",
        "limit=101",
        "page=100001",
        "sort=bogus",
        "minPrice=-1",
        "minPrice=1.005",
        "minPrice=100&maxPrice=20",
        "page=0&limit=500&sort=x&minPrice=-2",
    ] {
        paths.push(format!("/api/v1/products?{q}"));
    }
    paths.push("/api/v1/brands?limit=0".into());
    paths.push("/api/v1/brands?page=x".into());
    paths.push(format!(
        "/api/v1/products/{}/reviews?limit=101",
        detail_ids[0]
    ));
    paths.push(format!(
        "/api/v1/products/{}/reviews?page=-1",
        detail_ids[0]
    ));
    // Search: browsing (no words) is shopd's list order with facets, and
    // must be identical; query errors too. Word queries are compared by
    // exact-match sets below.
    for (i, f) in filters.iter().enumerate().step_by(2) {
        let sort = ["relevance", "price_asc", "price_desc", "newest", "rating"][i % 5];
        paths.push(format!("/api/v1/search?{f}&sort={sort}&limit=9"));
    }
    paths.push("/api/v1/search".into());
    paths.push("/api/v1/search?q=%21%21%21&page=2".into());
    paths.push(format!("/api/v1/search?q={}", "a".repeat(201)));
    paths.push("/api/v1/search?q=lamp&sort=featured".into());
    paths.push("/api/v1/search?q=lamp&limit=0".into());
    paths.push("/api/v1/search?q=lamp&minPrice=x".into());
    paths
}

// ---------------------------------------------------------------- search oracle

/// Lowercased runs of alphanumeric characters: the tokens both engines must
/// find a word among (shopd's `shop_raw` analyzer splits this way; the
/// fixture is ASCII, so folding changes nothing).
fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// PostgreSQL's english stop words: the Postgres design cannot find them, so
/// they are not asked for.
const PG_STOP_WORDS: &[&str] = &[
    "i",
    "me",
    "my",
    "myself",
    "we",
    "our",
    "ours",
    "ourselves",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "he",
    "him",
    "his",
    "himself",
    "she",
    "her",
    "hers",
    "herself",
    "it",
    "its",
    "itself",
    "they",
    "them",
    "their",
    "theirs",
    "themselves",
    "what",
    "which",
    "who",
    "whom",
    "this",
    "that",
    "these",
    "those",
    "am",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "have",
    "has",
    "had",
    "having",
    "do",
    "does",
    "did",
    "doing",
    "a",
    "an",
    "the",
    "and",
    "but",
    "if",
    "or",
    "because",
    "as",
    "until",
    "while",
    "of",
    "at",
    "by",
    "for",
    "with",
    "about",
    "against",
    "between",
    "into",
    "through",
    "during",
    "before",
    "after",
    "above",
    "below",
    "to",
    "from",
    "up",
    "down",
    "in",
    "out",
    "on",
    "off",
    "over",
    "under",
    "again",
    "further",
    "then",
    "once",
    "here",
    "there",
    "when",
    "where",
    "why",
    "how",
    "all",
    "any",
    "both",
    "each",
    "few",
    "more",
    "most",
    "other",
    "some",
    "such",
    "no",
    "nor",
    "not",
    "only",
    "own",
    "same",
    "so",
    "than",
    "too",
    "very",
    "s",
    "t",
    "can",
    "will",
    "just",
    "don",
    "should",
    "now",
];

/// Product id → every token of its searchable text: title, description,
/// keywords, brand title, and titles of its categories and their ancestors
/// (the fields both engines index).
fn searchable_tokens() -> HashMap<String, BTreeSet<String>> {
    let titles = |f: &str| -> HashMap<String, (String, Option<String>)> {
        fixture_lines(f)
            .into_iter()
            .map(|v| {
                (
                    v["id"].as_str().unwrap().to_string(),
                    (
                        v["title"].as_str().unwrap().to_string(),
                        v["parentId"].as_str().map(String::from),
                    ),
                )
            })
            .collect()
    };
    let brands = titles("brands.jsonl");
    let categories = titles("categories.jsonl");
    let mut out = HashMap::new();
    for p in fixture_lines("products.jsonl") {
        let mut text = vec![
            p["title"].as_str().unwrap().to_string(),
            p["description"].as_str().unwrap().to_string(),
            brands[p["brandId"].as_str().unwrap()].0.clone(),
        ];
        for k in p["keywords"].as_array().unwrap() {
            text.push(k.as_str().unwrap().to_string());
        }
        for c in p["categoryIds"].as_array().unwrap() {
            let mut cur = c.as_str().map(String::from);
            while let Some(id) = cur {
                let (title, parent) = &categories[&id];
                text.push(title.clone());
                cur = parent.clone();
            }
        }
        out.insert(
            p["id"].as_str().unwrap().to_string(),
            text.iter().flat_map(|t| tokens(t)).collect(),
        );
    }
    out
}

/// Every hit id of `q` (all pages).
async fn all_hits(client: &Client, address: &str, word: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for page in 1.. {
        let a = get(
            client,
            &format!("{address}/api/v1/search?q={word}&limit=100&page={page}"),
        )
        .await;
        assert_eq!(
            a.status,
            StatusCode::OK,
            "search {word} on {address}: {}",
            a.body
        );
        let data = a.body["data"].as_array().unwrap();
        ids.extend(data.iter().map(|p| p["id"].as_str().unwrap().to_string()));
        if !a.body["meta"]["hasNext"].as_bool().unwrap() {
            break;
        }
    }
    ids
}

// ---------------------------------------------------------------- the test

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_answers_every_read_exactly_like_shopd() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    // Declared after `tmp`, so dropped (stopped) before the dir is removed.
    let services = Services::start(&tmp.path().join("services"));
    let cached = Baseline::start(&services, true);
    let uncached = Baseline::start(&services, false);
    let (shopd, shopd_handle) = start_shopd(&tmp.path().join("shopd")).await;
    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for a in [&shopd, &cached.address, &uncached.address] {
        wait_ready(&client, a).await;
    }
    eprintln!(
        "differential: services and servers up after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Reads: shopd's answers, then each baseline pass.
    let paths = read_paths();
    let mut want = Vec::with_capacity(paths.len());
    for p in &paths {
        want.push(get(&client, &format!("{shopd}{p}")).await);
    }
    for (what, address) in [
        ("cache on, cold", &cached.address),
        ("cache on, warm", &cached.address),
        ("cache off", &uncached.address),
    ] {
        for (p, w) in paths.iter().zip(&want) {
            let got = get(&client, &format!("{address}{p}")).await;
            assert_same(what, p, w, &got);
        }
    }
    let statuses: BTreeSet<u16> = want.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(
        statuses,
        BTreeSet::from([200, 400, 404, 422]),
        "the generated requests cover each status"
    );
    // Wrong methods are 405 on both.
    for (method, p) in [
        (Method::PUT, "/api/v1/products"),
        (Method::DELETE, "/api/v1/categories"),
        (Method::POST, "/api/v1/products/prod-000001/nothing"),
    ] {
        let w = send(&client, method.clone(), &format!("{shopd}{p}"), None, false).await;
        let g = send(
            &client,
            method,
            &format!("{}{p}", cached.address),
            None,
            false,
        )
        .await;
        assert_same("method", p, &w, &g);
    }
    eprintln!(
        "differential: {} reads x 3 passes identical after {:.1} s",
        paths.len(),
        started.elapsed().as_secs_f64()
    );

    // Full-text search. "Exact match" for a word w: a product one of whose
    // searchable fields (title, description, keywords, brand title, titles
    // of its categories and their ancestors) contains w as a whole token, a
    // token being a maximal run of alphanumeric characters, compared
    // lowercased. shopd also finds typos, prefixes and stems, PostgreSQL
    // stems; both must find every exact match, so for each word the exact
    // matches among shopd's hits and among the baseline's hits must both be
    // the whole exact-match set.
    let docs = searchable_tokens();
    let mut title_words: BTreeSet<String> = BTreeSet::new();
    for p in fixture_lines("products.jsonl") {
        title_words.extend(tokens(p["title"].as_str().unwrap()));
    }
    let words: Vec<String> = title_words
        .into_iter()
        .filter(|w| !PG_STOP_WORDS.contains(&w.as_str()))
        .step_by(9)
        .collect();
    assert!(words.len() >= 40, "enough words: {}", words.len());
    for w in &words {
        let exact: BTreeSet<String> = docs
            .iter()
            .filter(|(_, t)| t.contains(w))
            .map(|(id, _)| id.clone())
            .collect();
        let s = all_hits(&client, &shopd, w).await;
        let b = all_hits(&client, &cached.address, w).await;
        let s_exact: BTreeSet<_> = s.intersection(&exact).cloned().collect();
        let b_exact: BTreeSet<_> = b.intersection(&exact).cloned().collect();
        assert_eq!(s_exact, exact, "shopd misses exact matches of '{w}'");
        assert_eq!(
            b_exact,
            exact,
            "the baseline misses exact matches of '{w}': {:?}",
            exact.difference(&b_exact).collect::<Vec<_>>()
        );
    }
    eprintln!(
        "differential: exact-match hits of {} words agree after {:.1} s",
        words.len(),
        started.elapsed().as_secs_f64()
    );

    // Admin writes on shopd and the cached baseline, with reads before and
    // after that must see each write (the cache is invalidated by tag).
    let sides = [shopd.as_str(), cached.address.as_str()];
    let newest = "/api/v1/products?sort=newest&limit=3";
    let detail = "/api/v1/products/diff-new-1";
    let cheapest = "/api/v1/products?sort=price_asc&limit=2&maxPrice=1";
    for s in sides {
        // Warm the cache with what the writes will change.
        get(&client, &format!("{s}{newest}")).await;
        get(&client, &format!("{s}{cheapest}")).await;
    }
    let valid = json!({"id": "diff-new-1", "title": "Differential Walnut Lamp Z1",
        "description": "A lamp made to be compared.", "price": 12.34, "brandId": "brand-0003",
        "categoryIds": ["cat-001-03", "cat-002"], "keywords": ["lamp"], "isFeatured": true});
    let steps: Vec<(Method, &str, Option<Value>, bool)> = vec![
        (Method::POST, "/api/v1/products", Some(valid.clone()), false),
        (
            Method::POST,
            "/api/v1/products",
            Some(json!({"title": ""})),
            true,
        ),
        (
            Method::POST,
            "/api/v1/products",
            Some(
                json!({"title": "X", "price": 1, "brandId": "brand-9999", "categoryIds": ["cat-999", "cat-001"]}),
            ),
            true,
        ),
        (
            Method::POST,
            "/api/v1/products",
            Some(
                json!({"title": "X", "price": 1, "brandId": "brand-0001", "stock": -1, "colour": "red"}),
            ),
            true,
        ),
        (Method::POST, "/api/v1/products", Some(json!([1, 2])), true),
        (Method::POST, "/api/v1/products", Some(valid.clone()), true),
        (Method::POST, "/api/v1/products", Some(valid.clone()), true),
        (Method::GET, newest, None, false),
        (Method::GET, detail, None, false),
        (
            Method::PATCH,
            detail,
            Some(json!({"price": 0.99, "categoryIds": ["cat-003"]})),
            true,
        ),
        (
            Method::PATCH,
            detail,
            Some(json!({"id": "other", "price": -1})),
            true,
        ),
        (
            Method::PATCH,
            detail,
            Some(json!({"brandId": "brand-9999"})),
            true,
        ),
        (
            Method::PATCH,
            "/api/v1/products/prod-999999",
            Some(json!({"price": -1})),
            true,
        ),
        (Method::GET, detail, None, false),
        (Method::GET, cheapest, None, false),
        (Method::DELETE, detail, None, false),
        (Method::DELETE, detail, None, true),
        (Method::GET, detail, None, false),
        (Method::DELETE, detail, None, true),
        (Method::GET, newest, None, false),
        (Method::GET, cheapest, None, false),
    ];
    for (method, p, body, admin) in steps {
        let mut answers = Vec::new();
        for s in sides {
            let a = send(
                &client,
                method.clone(),
                &format!("{s}{p}"),
                body.as_ref(),
                admin,
            )
            .await;
            answers.push(without_new_timestamps(a));
        }
        let what = format!("write step {method} (admin: {admin}) body {body:?}");
        assert_same(&what, p, &answers[0], &answers[1]);
        if method == Method::PATCH && answers[1].status == StatusCode::OK {
            // The baseline's search document is rewritten in the write's
            // transaction (shopd's index follows within ~300 ms).
            let hits = all_hits(&client, &cached.address, "differential").await;
            assert!(hits.contains("diff-new-1"), "search after PATCH: {hits:?}");
        }
    }

    // Metrics: the cache served hits, statements were counted per route.
    let m = client
        .get(format!("{}/metrics", cached.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |prefix: &str| -> u64 {
        m.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in /metrics:\n{m}"))
    };
    assert!(value("baseline_cache_hits_total{kind=\"list\"}") > 0, "{m}");
    assert!(
        value("baseline_cache_misses_total{kind=\"detail\"}") > 0,
        "{m}"
    );
    assert!(value("baseline_storage_lookups_total") > 0, "{m}");
    assert!(
        value("baseline_http_requests_total{route=\"/api/v1/products\",status=\"200\"}") > 0,
        "{m}"
    );
    let off = client
        .get(format!("{}/metrics", uncached.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(off.contains("baseline_cache_enabled 0"), "{off}");
    assert!(
        off.contains("baseline_cache_hits_total{kind=\"list\"} 0"),
        "{off}"
    );

    shopd_handle.stop(true).await;
    eprintln!(
        "differential: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Writes stamp `createdAt`/`updatedAt` with each server's clock; the
/// written product's stamps are replaced by a placeholder before comparing.
fn without_new_timestamps(mut a: Answer) -> Answer {
    fn scrub(v: &mut Value) {
        match v {
            Value::Object(m) => {
                if m.get("id").and_then(Value::as_str) == Some("diff-new-1") {
                    for k in ["createdAt", "updatedAt"] {
                        if m.contains_key(k) {
                            m.insert(k.into(), json!("<now>"));
                        }
                    }
                }
                m.values_mut().for_each(scrub);
            }
            Value::Array(xs) => xs.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    scrub(&mut a.body);
    a
}
