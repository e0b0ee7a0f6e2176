//! A relevance yardstick for product search: known-item queries generated
//! from the catalogue, each naming the one product it must find; reports
//! recall@10 and MRR@10 per kind of query and overall. Speed work on search
//! must not lower either (quote both, before and after).
//!
//! ```sh
//! cargo bench --bench relevance     # 100K products (SHOPD_BENCH_PRODUCTS to change)
//! ```
//! Writes `target/bench-data/N/relevance-results.md`. The engine alone
//! (`SearchIndex::search`, relevance sort, no filter, top 10), over the same
//! cached catalogue as the search bench, indexed afresh.
//!
//! The kinds, 200 queries each (1,400 in all), from titles shaped
//! "Adjective Material Noun… Code" (`shopd gen`), lowercased:
//! - `exact`: the whole title;
//! - `typo1`: the title with one typo (a substitution or a transposition)
//!   in one word of 5+ letters;
//! - `typo2`: the title with one typo in each of two such words;
//! - `prefix`: the title with its last word cut to its first half (as
//!   typed, mid-word);
//! - `synonym`: the title with its noun replaced by a synonym the shop set
//!   (groups below, given to the engine);
//! - `multiword`: the noun words and the code, without adjective and
//!   material;
//! - `brand`: the brand's title and the code.

mod common;

use common::{Rng, bench_dir, database, typo};
use shopd::catalog::Catalog;
use shopd::domain::listing::ProductFilter;
use shopd::domain::search::{SearchSort, Synonyms};
use shopd::store::{ExportRecord, RecordTable};
use std::collections::HashMap;
use std::fmt::Write as _;

const PER_KIND: usize = 200;
const TOP: usize = 10;

/// Synonyms a shop would set for the generator's nouns.
const SYNONYMS: &[(&str, &str)] = &[
    ("headphone", "earphone"),
    ("speaker", "loudspeaker"),
    ("charger", "adapter"),
    ("monitor", "display"),
    ("keyboard", "keypad"),
    ("router", "modem"),
    ("microphone", "mic"),
    ("bookshelf", "bookcase"),
    ("footrest", "ottoman"),
    ("webcam", "camera"),
    ("whiteboard", "dryboard"),
    ("blender", "mixer"),
];

struct Item {
    id: String,
    words: Vec<String>,
    brand: String,
}

/// The query of `kind` for `item`, or `None` when the title does not lend
/// itself (no long word for a typo, no noun with a synonym).
fn make(kind: &str, item: &Item, rng: &mut Rng) -> Option<String> {
    let w = &item.words;
    let long: Vec<usize> = (0..w.len())
        .filter(|&i| w[i].chars().count() >= 5 && w[i].chars().all(char::is_alphabetic))
        .collect();
    let q = match kind {
        "exact" => w.join(" "),
        "typo1" => {
            let i = *long.get(rng.below(long.len().max(1)))?;
            let mut v = w.clone();
            v[i] = typo(&w[i], rng);
            v.join(" ")
        }
        "typo2" => {
            if long.len() < 2 {
                return None;
            }
            let a = long[rng.below(long.len())];
            let mut b = long[rng.below(long.len())];
            while b == a {
                b = long[rng.below(long.len())];
            }
            let mut v = w.clone();
            v[a] = typo(&w[a], rng);
            v[b] = typo(&w[b], rng);
            v.join(" ")
        }
        "prefix" => {
            let mut v = w.clone();
            let last = v.pop()?;
            let keep = last.chars().count().div_ceil(2).max(2);
            v.push(last.chars().take(keep).collect());
            v.join(" ")
        }
        "synonym" => {
            let (i, syn) = w
                .iter()
                .enumerate()
                .find_map(|(i, x)| SYNONYMS.iter().find(|(a, _)| a == x).map(|(_, s)| (i, *s)))?;
            let mut v = w.clone();
            v[i] = syn.to_string();
            v.join(" ")
        }
        "multiword" => {
            if w.len() < 4 {
                return None;
            }
            w[2..].join(" ")
        }
        "brand" => format!("{} {}", item.brand, w.last()?),
        _ => unreachable!(),
    };
    Some(q)
}

fn main() {
    let store = database();
    drop(store);
    let root = bench_dir();
    let work = tempfile::tempdir_in(&root).unwrap();
    let db = work.path().join("shopd.redb");
    std::fs::copy(root.join("db/shopd.redb"), &db).unwrap();
    let catalog = Catalog::offline(shopd::store::Store::open(&db).unwrap());
    let search_dir = work.path().join("search");
    catalog.reindex(&search_dir, &|_, _| {}).unwrap();
    catalog.store().close().unwrap();

    let (platform, services) = common::search_services(work.path(), &search_dir);
    let index = services.catalog.search_index().unwrap().clone();

    let mut brands = HashMap::new();
    platform
        .store
        .export(RecordTable::Brands, |r| {
            if let ExportRecord::Brand(b) = r {
                brands.insert(b.id.as_str().to_string(), b.title.to_lowercase());
            }
            Ok::<(), shopd::store::StoreError>(())
        })
        .unwrap();
    let mut items = Vec::new();
    platform
        .store
        .export(RecordTable::Products, |r| {
            if let ExportRecord::Product(p) = r {
                items.push(Item {
                    id: p.id.as_str().to_string(),
                    words: p
                        .title
                        .to_lowercase()
                        .split_whitespace()
                        .map(str::to_string)
                        .collect(),
                    brand: brands.get(p.brand_id.as_str()).cloned().unwrap_or_default(),
                });
            }
            Ok::<(), shopd::store::StoreError>(())
        })
        .unwrap();
    let synonyms = Synonyms {
        groups: SYNONYMS
            .iter()
            .map(|(a, b)| vec![a.to_string(), b.to_string()])
            .collect(),
    };
    let kinds = [
        "exact",
        "typo1",
        "typo2",
        "prefix",
        "synonym",
        "multiword",
        "brand",
    ];
    let mut rng = Rng(20_261_207);
    let filter = ProductFilter::default();
    let mut md = format!(
        "# Search relevance: known-item queries\n\n{} products; {PER_KIND} queries per kind; \
         engine alone, relevance sort, top {TOP}.\n\n\
         | kind | queries | recall@{TOP} | MRR@{TOP} | example |\n|---|---|---|---|---|\n",
        items.len()
    );
    let (mut all_found, mut all_rr, mut all_n) = (0usize, 0f64, 0usize);
    for kind in kinds {
        let (mut found, mut rr, mut n) = (0usize, 0f64, 0usize);
        let mut example = String::new();
        let mut tries = 0;
        while n < PER_KIND && tries < PER_KIND * 200 {
            tries += 1;
            let item = &items[rng.below(items.len())];
            let Some(q) = make(kind, item, &mut rng) else {
                continue;
            };
            let hits = index
                .search(&q, &filter, SearchSort::Relevance, 0, TOP, &synonyms)
                .unwrap();
            n += 1;
            if let Some(rank) = hits.ids.iter().position(|id| *id == item.id) {
                found += 1;
                rr += 1.0 / (rank + 1) as f64;
            }
            if example.is_empty() {
                example = q;
            }
        }
        all_found += found;
        all_rr += rr;
        all_n += n;
        writeln!(
            md,
            "| {kind} | {n} | {:.3} | {:.3} | `{example}` |",
            found as f64 / n.max(1) as f64,
            rr / n.max(1) as f64
        )
        .unwrap();
    }
    writeln!(
        md,
        "| **all** | {all_n} | **{:.3}** | **{:.3}** | |",
        all_found as f64 / all_n.max(1) as f64,
        all_rr / all_n.max(1) as f64
    )
    .unwrap();
    print!("{md}");
    std::fs::write(root.join("relevance-results.md"), md).unwrap();
}
