//! Store and catalogue benchmarks at catalogue scale (criterion).
//!
//! `cargo bench --bench store` — 100K products by default
//! (`SHOPD_BENCH_PRODUCTS` to change). The generated catalogue and an imported
//! database are cached under `target/bench-data/` between runs.
//!
//! Groups:
//! - `get_product`: one product by id with validated zero-copy access, inside
//!   an open read transaction and including `begin_read`;
//! - `record_access`: the cost of the alignment copy (aligned vs misaligned
//!   bytes of the same record);
//! - `list_index`: one page of 20 ids + total from the indexes, per sort and
//!   per filter; `list_json`: the same page rendered as the API's JSON;
//! - `import`: a whole import of the generated catalogue into a fresh file.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use shopd::catalog::Catalog;
use shopd::catalog::import::{ImportOptions, NoProgress, sources_from_dir};
use shopd::domain::listing::{PageRequest, ProductFilter, ProductQuery, ProductSort};
use shopd::domain::{Id, Price};
use shopd::store::codec::{decode, with_archived};
use shopd::store::{ProductRec, Record, Store};
use std::hint::black_box;
use std::time::{Duration, Instant};

mod common;
use common::{bench_dir, catalogue, database, products};

fn ids(n: u32) -> Vec<String> {
    // A fixed pseudo-random walk over all ids (no RNG dependency).
    let total = products() as u64;
    (0..n as u64)
        .map(|i| format!("prod-{:06}", (i * 7_919 + 13) % total + 1))
        .collect()
}

fn get_product(c: &mut Criterion) {
    let store = database();
    let ids = ids(4096);
    {
        let txn = store.read().unwrap();
        let copied = ids
            .iter()
            .filter(|id| txn.catalog().product(id).unwrap().unwrap().was_copied())
            .count();
        eprintln!(
            "get_product: {copied} of {} product values were misaligned (copied)",
            ids.len()
        );
    }
    let mut g = c.benchmark_group("get_product");
    g.bench_function("in_read_txn", |b| {
        let txn = store.read().unwrap();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % ids.len();
            let rec = txn.catalog().product(&ids[i]).unwrap().unwrap();
            black_box(rec.view().unwrap().price_cents())
        })
    });
    g.bench_function("with_begin_read", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % ids.len();
            let txn = store.read().unwrap();
            let rec = txn.catalog().product(&ids[i]).unwrap().unwrap();
            black_box(rec.view().unwrap().price_cents())
        })
    });
    g.finish();
}

/// `len` bytes of `bytes` placed at `offset` past an 8-aligned address.
fn placed(bytes: &[u8], offset: usize) -> (Vec<u8>, usize) {
    let mut buf = vec![0u8; bytes.len() + 16];
    let at = buf.as_ptr().align_offset(8) + offset;
    buf[at..at + bytes.len()].copy_from_slice(bytes);
    (buf, at)
}

fn record_access(c: &mut Criterion) {
    let store = database();
    let txn = store.read().unwrap();
    let p = txn
        .catalog()
        .product("prod-000001")
        .unwrap()
        .unwrap()
        .to_domain()
        .unwrap();
    let bytes = ProductRec::encode(&p);
    let price = |a: &shopd::store::catalog::records::ArchivedProductV1| a.price_cents.to_native();
    let mut g = c.benchmark_group("record_access");
    for (name, offset) in [("aligned", 0), ("misaligned_copy", 1)] {
        let (buf, at) = placed(&bytes, offset);
        let slice = &buf[at..at + bytes.len()];
        g.bench_function(format!("{name}_{}B", bytes.len()), |b| {
            b.iter(|| {
                black_box(with_archived::<ProductRec, _>(black_box(slice), "k", price).unwrap())
            })
        });
    }
    g.finish();
}

fn queries() -> Vec<(String, ProductQuery)> {
    let page = PageRequest::new(1, 20).unwrap();
    let q = |filter: ProductFilter, sort| ProductQuery { filter, sort, page };
    let mut out = Vec::new();
    for sort in ProductSort::ALL {
        out.push((
            format!("sort={}", sort.as_str()),
            q(ProductFilter::default(), sort),
        ));
    }
    let id = |s: &str| Some(Id::parse(s).unwrap());
    let price = |c: u64| Some(Price::from_cents(c).unwrap());
    let filters = [
        (
            "category=dept",
            ProductFilter {
                category: id("cat-005"),
                ..Default::default()
            },
        ),
        (
            "category=leaf",
            ProductFilter {
                category: id("cat-005-03"),
                ..Default::default()
            },
        ),
        (
            "brand",
            ProductFilter {
                brand: id("brand-0002"),
                ..Default::default()
            },
        ),
        (
            "isAvailable=true",
            ProductFilter {
                available: Some(true),
                ..Default::default()
            },
        ),
        (
            "price=50..100",
            ProductFilter {
                min_price: price(5_000),
                max_price: price(10_000),
                ..Default::default()
            },
        ),
        (
            "price=49.95..50.49",
            ProductFilter {
                min_price: price(4_995),
                max_price: price(5_049),
                ..Default::default()
            },
        ),
        (
            "dept+brand+available",
            ProductFilter {
                category: id("cat-005"),
                brand: id("brand-0002"),
                available: Some(true),
                ..Default::default()
            },
        ),
        (
            "dept+available+price",
            ProductFilter {
                category: id("cat-005"),
                available: Some(true),
                min_price: price(2_000),
                max_price: price(20_000),
                ..Default::default()
            },
        ),
    ];
    for (name, f) in filters {
        out.push((
            format!("{name}&sort=featured"),
            q(f.clone(), ProductSort::Featured),
        ));
        out.push((format!("{name}&sort=rating"), q(f, ProductSort::Rating)));
    }
    out.push((
        "page=50&sort=newest".into(),
        ProductQuery {
            filter: ProductFilter::default(),
            sort: ProductSort::Newest,
            page: PageRequest::new(50, 20).unwrap(),
        },
    ));
    out
}

fn list(c: &mut Criterion) {
    let store = database();
    let catalog = Catalog::offline(store.clone());
    let mut g = c.benchmark_group("list_index");
    for (name, q) in queries() {
        g.bench_with_input(BenchmarkId::from_parameter(&name), &q, |b, q| {
            b.iter(|| {
                let txn = store.read().unwrap();
                black_box(
                    txn.catalog()
                        .list_products(&q.filter, q.sort, q.page.offset(), q.page.limit() as usize)
                        .unwrap(),
                )
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("list_json");
    for (name, q) in queries() {
        g.bench_with_input(BenchmarkId::from_parameter(&name), &q, |b, q| {
            b.iter(|| black_box(catalog.list_products(q).unwrap()))
        });
    }
    g.finish();
}

fn import(c: &mut Criterion) {
    let src = catalogue();
    let mut g = c.benchmark_group("import");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(60))
        .warm_up_time(Duration::from_millis(1));
    g.bench_function(format!("{}_products", products()), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir_in(bench_dir()).unwrap();
                let catalog =
                    Catalog::offline(Store::open(&dir.path().join("shopd.redb")).unwrap());
                let start = Instant::now();
                let report = catalog
                    .import(
                        sources_from_dir(&src).unwrap(),
                        ImportOptions { strict: true },
                        &NoProgress,
                    )
                    .unwrap();
                total += start.elapsed();
                black_box(report);
            }
            total
        })
    });
    g.finish();
}

fn decode_full(c: &mut Criterion) {
    let store = database();
    let txn = store.read().unwrap();
    let rec = txn.catalog().product("prod-000001").unwrap().unwrap();
    let bytes = ProductRec::encode(&rec.to_domain().unwrap());
    c.bench_function("decode_owned_product", |b| {
        b.iter(|| black_box(decode::<ProductRec>(&bytes, "k").unwrap()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = get_product, record_access, list, decode_full, import
}
criterion_main!(benches);
