//! `shopd gen`: a deterministic synthetic catalogue in the import format.
//!
//! Same [`Spec`] (seed included) → byte-identical files: one ChaCha8 stream
//! drives every choice in a fixed order, output order is fixed, and records are
//! serialized through the same domain types as `shopd export`.
//!
//! Shape: two-level categories (departments and their leaves), brands with a
//! skewed share of products, 1–3 leaf categories per product, prices by
//! department on a log scale, ~3 reviews per product with a heavy tail, and
//! ratings skewed towards 4–5 around a per-product quality.

mod words;

pub mod images;

use crate::domain::review::Rating;
use crate::domain::{Brand, Category, Discount, Id, Price, Product, Review, Reviewer, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use words::*;

#[derive(Debug, Clone)]
pub struct Spec {
    pub products: u32,
    pub brands: u32,
    /// Approximate: departments plus their leaves.
    pub categories: u32,
    pub users: u32,
    pub seed: u64,
}

/// 2023-01-01T00:00:00Z
const BASE_MS: i64 = 1_672_531_200_000;
const DAY_MS: i64 = 86_400_000;
const SPAN_MS: i64 = 3 * 365 * DAY_MS;

fn id(s: String) -> Id {
    // Generated ids use only letters, digits and '-'.
    Id::parse(&s).expect("generated ids are valid")
}

fn at(ms: i64) -> Timestamp {
    // All generated times lie between 2023 and 2027.
    Timestamp::from_millis(ms).expect("generated times are in range")
}

fn pick<'a>(rng: &mut ChaCha8Rng, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

fn plural(noun: &str) -> String {
    if let Some(stem) = noun.strip_suffix("Mouse") {
        format!("{stem}Mice")
    } else if noun.ends_with('y') && !noun.ends_with("ey") {
        format!("{}ies", &noun[..noun.len() - 1])
    } else if noun.ends_with('s')
        || noun.ends_with('x')
        || noun.ends_with("ch")
        || noun.ends_with("sh")
    {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    }
}

struct Leaf {
    id: Id,
    department: usize,
    noun: &'static str,
}

struct Writer {
    out: BufWriter<std::fs::File>,
    lines: u64,
}

impl Writer {
    fn create(dir: &Path, name: &str) -> io::Result<Writer> {
        Ok(Writer {
            out: BufWriter::with_capacity(1 << 16, std::fs::File::create(dir.join(name))?),
            lines: 0,
        })
    }

    fn line<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, value).map_err(io::Error::other)?;
        self.out.write_all(b"\n")?;
        self.lines += 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<u64> {
        self.out.flush()?;
        Ok(self.lines)
    }
}

/// Writes brands, categories, users, products and reviews `.jsonl` into
/// `dir`; returns the line count of each file.
pub fn write_dir(spec: &Spec, dir: &Path) -> io::Result<Vec<(String, u64)>> {
    std::fs::create_dir_all(dir)?;
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut counts = Vec::new();

    // Categories: departments, then their leaves.
    let departments = (spec.categories / 10).clamp(1, DEPARTMENTS.len() as u32) as usize;
    let leaves_per =
        ((spec.categories as usize).saturating_sub(departments) / departments).clamp(1, 12);
    let mut w = Writer::create(dir, "categories.jsonl")?;
    let mut leaves = Vec::new();
    for (d, (title, nouns)) in DEPARTMENTS.iter().take(departments).enumerate() {
        let dept_id = id(format!("cat-{:03}", d + 1));
        w.line(&Category {
            id: dept_id.clone(),
            title: title.to_string(),
            description: format!("Everything in {}.", title.to_lowercase()),
            parent_id: None,
        })?;
        for (j, noun) in nouns.iter().take(leaves_per).enumerate() {
            let leaf_id = id(format!("cat-{:03}-{:02}", d + 1, j + 1));
            w.line(&Category {
                id: leaf_id.clone(),
                title: plural(noun),
                description: format!("{} for every need and budget.", plural(noun)),
                parent_id: Some(dept_id.clone()),
            })?;
            leaves.push(Leaf {
                id: leaf_id,
                department: d,
                noun,
            });
        }
    }
    counts.push(("categories.jsonl".to_string(), w.finish()?));

    // Brands: syllable pairs in a seeded order, numbered once exhausted.
    let mut w = Writer::create(dir, "brands.jsonl")?;
    let mut names: Vec<String> = BRAND_HEADS
        .iter()
        .flat_map(|h| BRAND_TAILS.iter().map(move |t| format!("{h}{t}")))
        .collect();
    for i in (1..names.len()).rev() {
        names.swap(i, rng.random_range(0..=i));
    }
    let mut brands = Vec::new();
    for i in 0..spec.brands.max(1) as usize {
        let base = &names[i % names.len()];
        let title = if i < names.len() {
            base.clone()
        } else {
            format!("{base} {}", i / names.len() + 1)
        };
        let b = Brand {
            id: id(format!("brand-{:04}", i + 1)),
            description: format!(
                "{title} has made {} things since {}.",
                pick(&mut rng, ADJECTIVES).to_lowercase(),
                rng.random_range(1950..2022)
            ),
            logo: Some(format!(
                "https://cdn.example.com/brands/brand-{:04}.png",
                i + 1
            )),
            title,
        };
        w.line(&b)?;
        brands.push(b);
    }
    counts.push(("brands.jsonl".to_string(), w.finish()?));

    // Users.
    let mut w = Writer::create(dir, "users.jsonl")?;
    let users = spec.users.max(1);
    for i in 0..users {
        let first = pick(&mut rng, FIRST_NAMES);
        let last = pick(&mut rng, LAST_NAMES);
        w.line(&Reviewer {
            id: id(format!("user-{:05}", i + 1)),
            email: format!(
                "{}.{}{}@example.com",
                first.to_lowercase(),
                last.to_lowercase().replace('ü', "u"),
                i + 1
            ),
            name: format!("{first} {last}"),
            created_at: at(BASE_MS + rng.random_range(0..SPAN_MS / 1000) * 1000),
        })?;
    }
    counts.push(("users.jsonl".to_string(), w.finish()?));

    // Products and their reviews.
    let mut pw = Writer::create(dir, "products.jsonl")?;
    let mut rw = Writer::create(dir, "reviews.jsonl")?;
    let mut review_seq = 0u64;
    for i in 0..spec.products {
        let pid = format!("prod-{:06}", i + 1);
        let leaf = &leaves[rng.random_range(0..leaves.len())];
        let mut category_ids = vec![leaf.id.clone()];
        let extra: f64 = rng.random();
        let wanted = if extra < 0.1 {
            3
        } else if extra < 0.35 {
            2
        } else {
            1
        };
        let same_dept: Vec<&Leaf> = leaves
            .iter()
            .filter(|l| l.department == leaf.department)
            .collect();
        while category_ids.len() < wanted {
            let other = if category_ids.len() == 1 {
                same_dept[rng.random_range(0..same_dept.len())]
            } else {
                &leaves[rng.random_range(0..leaves.len())]
            };
            if category_ids.contains(&other.id) {
                break;
            }
            category_ids.push(other.id.clone());
        }
        // A few big brands, a long tail.
        let u: f64 = rng.random();
        let brand = &brands[((u * u * u) * brands.len() as f64) as usize % brands.len()];
        let adjective = pick(&mut rng, ADJECTIVES);
        let material = pick(&mut rng, MATERIALS);
        let model = format!(
            "{}{}",
            pick(&mut rng, MODEL_LETTERS),
            rng.random_range(1..100) * 10
        );
        let title = format!("{adjective} {material} {} {model}", leaf.noun);
        let (lo, hi) = PRICE_RANGES[leaf.department];
        let dollars = (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp();
        let cents =
            ((dollars.floor() as u64) * 100 + [99, 49, 0, 95][rng.random_range(0..4)]).max(99);
        let discount = if rng.random::<f64>() < 0.75 {
            0.0
        } else {
            [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5][rng.random_range(0..8)]
        };
        let stock = if rng.random::<f64>() < 0.12 {
            0
        } else {
            rng.random_range(1..500)
        };
        let created = BASE_MS + rng.random_range(0..SPAN_MS / 1000) * 1000;
        let updated = created + rng.random_range(0..90 * DAY_MS / 1000) * 1000;
        let images = (0..rng.random_range(1..=4))
            .map(|k| format!("https://cdn.example.com/p/{pid}/{}.jpg", k + 1))
            .collect();
        let product = Product {
            id: id(pid.clone()),
            description: format!(
                "The {title} by {} is {} {} {} made of {}. {} Designed for daily use and built to last.",
                brand.title,
                if adjective.starts_with(['A', 'E', 'I', 'O', 'U']) {
                    "an"
                } else {
                    "a"
                },
                adjective.to_lowercase(),
                leaf.noun.to_lowercase(),
                material.to_lowercase(),
                [
                    "Easy to clean.",
                    "Ships in recyclable packaging.",
                    "Backed by a two-year warranty.",
                    "Available in several finishes."
                ][rng.random_range(0..4)],
            ),
            keywords: vec![
                leaf.noun.to_lowercase(),
                material.to_lowercase(),
                adjective.to_lowercase(),
                DEPARTMENTS[leaf.department].0.to_lowercase(),
            ],
            title,
            images,
            price: Price::from_cents(cents.min(Price::MAX_CENTS)).map_err(io::Error::other)?,
            discount: Discount::new(discount).map_err(io::Error::other)?,
            stock,
            is_physical: rng.random::<f64>() < 0.95,
            is_available: stock > 0 && rng.random::<f64>() > 0.03,
            is_featured: rng.random::<f64>() < 0.04,
            brand_id: brand.id.clone(),
            category_ids,
            created_at: at(created),
            updated_at: at(updated),
        };
        pw.line(&product)?;

        // Reviews: heavy-tailed count (mean ~3), ratings around a quality.
        let pop: f64 = rng.random();
        let n = (13.0 * pop * pop * pop) as u32;
        let quality = 2.5 + 2.5 * rng.random::<f64>();
        for _ in 0..n {
            review_seq += 1;
            let noise = rng.random::<f64>() + rng.random::<f64>() - 1.0;
            let stars = (quality + 1.5 * noise).round().clamp(1.0, 5.0) as u64;
            let created_r = created + rng.random_range(0..365 * DAY_MS / 1000) * 1000;
            rw.line(&Review {
                id: id(format!("rev-{review_seq:07}")),
                product_id: product.id.clone(),
                user_id: id(format!("user-{:05}", rng.random_range(0..users) + 1)),
                rating: Rating::new(stars).map_err(io::Error::other)?,
                text: format!(
                    "{} {}",
                    pick(&mut rng, REVIEW_OPENERS[stars as usize - 1]),
                    pick(&mut rng, REVIEW_DETAILS)
                ),
                created_at: at(created_r),
            })?;
        }
    }
    counts.push(("products.jsonl".to_string(), pw.finish()?));
    counts.push(("reviews.jsonl".to_string(), rw.finish()?));
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_identical_files_and_another_seed_differs() {
        let spec = Spec {
            products: 200,
            brands: 20,
            categories: 30,
            users: 50,
            seed: 7,
        };
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        write_dir(&spec, a.path()).unwrap();
        write_dir(&spec, b.path()).unwrap();
        write_dir(
            &Spec {
                seed: 8,
                ..spec.clone()
            },
            c.path(),
        )
        .unwrap();
        for f in [
            "brands.jsonl",
            "categories.jsonl",
            "users.jsonl",
            "products.jsonl",
            "reviews.jsonl",
        ] {
            let x = std::fs::read(a.path().join(f)).unwrap();
            assert_eq!(x, std::fs::read(b.path().join(f)).unwrap(), "{f} differs");
            assert!(!x.is_empty());
        }
        assert_ne!(
            std::fs::read(a.path().join("products.jsonl")).unwrap(),
            std::fs::read(c.path().join("products.jsonl")).unwrap()
        );
    }
}
