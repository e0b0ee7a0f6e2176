//! The benchmark catalogue, shared by every bench target: generated once and
//! imported once, cached under `target/bench-data/N/` (N products, 100K by
//! default, `SHOPD_BENCH_PRODUCTS` to change).
#![allow(dead_code)] // each bench target uses a different part

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
        let catalog = Catalog::new(store.clone());
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
