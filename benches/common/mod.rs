//! The benchmark catalogue, shared by every bench target: generated once and
//! imported once, cached under `target/bench-data/N/` (N products, 100K by
//! default, `SHOPD_BENCH_PRODUCTS` to change).
#![allow(dead_code)] // each bench target uses a different part

pub mod load;

use shopd::catalog::Catalog;
use shopd::catalog::import::{ImportOptions, NoProgress, sources_from_dir};
use shopd::generator::{Spec, write_dir};
use shopd::store::Store;
use std::path::{Path, PathBuf};

pub fn products() -> u32 {
    std::env::var("SHOPD_BENCH_PRODUCTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

pub fn spec() -> Spec {
    Spec {
        products: products(),
        brands: 1_000,
        categories: 200,
        users: 20_000,
        seed: 1,
    }
}

/// The shopd binary these benches were built with, or `SHOPD_BENCH_BIN` (to
/// measure another build, such as the previous commit's, with the same
/// harness).
pub fn shopd_bin() -> PathBuf {
    std::env::var_os("SHOPD_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_shopd")))
}

pub fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-data/{}", products()))
}

/// The generated JSONL catalogue (cached).
pub fn catalogue() -> PathBuf {
    let dir = bench_dir().join("jsonl");
    if !dir.join("reviews.jsonl").exists() {
        write_dir(&spec(), &dir).expect("generate catalogue");
    }
    dir
}

/// An imported database (cached).
pub fn database() -> Store {
    let path = bench_dir().join("db/shopd.redb");
    let fresh = !path.exists();
    let store = Store::open(&path).expect("open store");
    if fresh {
        let catalog = Catalog::offline(store.clone());
        catalog
            .import(
                sources_from_dir(&catalogue()).unwrap(),
                ImportOptions { strict: true },
                &NoProgress,
            )
            .expect("import");
    }
    store
}

/// xorshift64*: deterministic and dependency-free.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One typo in `w` (5+ letters): swap two inner letters or replace one.
pub fn typo(w: &str, rng: &mut Rng) -> String {
    let mut c: Vec<char> = w.chars().collect();
    let i = 1 + rng.below(c.len() - 2);
    if rng.below(2) == 0 && i + 1 < c.len() {
        c.swap(i, i + 1);
    } else {
        c[i] = (b'a' + rng.below(26) as u8) as char;
    }
    c.into_iter().collect()
}

/// `n` queries of 1–3 words from random product titles; 10 % with a typo.
pub fn queries(catalog: &Catalog, n: usize, seed: u64) -> (Vec<String>, usize) {
    let mut rng = Rng(seed);
    let total = products() as usize;
    let txn = catalog.store().read().unwrap();
    let mut out = Vec::with_capacity(n);
    let mut typos = 0;
    while out.len() < n {
        let id = format!("prod-{:06}", rng.below(total) + 1);
        let Some(rec) = txn.catalog().product(&id).unwrap() else {
            continue;
        };
        let title = rec.view().unwrap().title().to_lowercase();
        let words: Vec<&str> = title
            .split_whitespace()
            .filter(|w| w.chars().all(|c| c.is_alphabetic()))
            .collect();
        if words.is_empty() {
            continue;
        }
        let k = (1 + rng.below(3)).min(words.len());
        let start = rng.below(words.len() - k + 1);
        let mut q: Vec<String> = words[start..start + k]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if out.len().is_multiple_of(10) {
            // exactly every 10th query carries a typo
            let Some(w) = q.iter_mut().find(|w| w.chars().count() >= 5) else {
                continue;
            };
            *w = typo(w, &mut rng);
            typos += 1;
        }
        out.push(q.join(" "));
    }
    (out, typos)
}

/// Rounds of each figure: the environment variable `var`, else 3.
pub fn rounds(var: &str) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

/// Median, lowest and highest of the rounds' values.
pub fn median_range(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// The platform and services over the data dir `work` (a copied database
/// and its search index in `search_dir`), as the server builds them
/// (commits feed search indexing); returns once the index answers.
pub fn search_services(
    work: &Path,
    search_dir: &Path,
) -> (shopd::services::Platform, shopd::services::Services) {
    let mut raw = shopd::config::Raw::default();
    raw.common.data_dir = Some(work.to_path_buf());
    let config = shopd::config::Config::from_raw(raw).unwrap();
    let platform = shopd::services::Platform::open(&config, None).unwrap();
    platform.open_search(search_dir).unwrap();
    let services = shopd::services::Services::build(&platform, &config).unwrap();
    let index = services.catalog.search_index().unwrap().clone();
    let start = std::time::Instant::now();
    while index.status() != shopd::catalog::SearchStatus::Ready {
        assert!(start.elapsed().as_secs() < 300, "index ready");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (platform, services)
}
