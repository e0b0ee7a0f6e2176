//! Byte layouts of the product list indexes and their counters.
//!
//! Every layout here sorts bytewise in the order its reader needs (see
//! [`crate::store::keys`] for the shared conventions).

use super::super::keys::{push_id, time_desc};
use crate::domain::listing::RatingSummary;

/// The set of products an index range or a counter covers.
///
/// A product belongs to `All`, to `Brand(its brand)`, and to `Category(c)` and
/// `CategoryBrand(c, its brand)` for every category `c` it is in *or that is an
/// ancestor of one it is in* (so a category filter includes descendants
/// without merging ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope<'a> {
    All,
    Category(&'a str),
    Brand(&'a str),
    CategoryBrand(&'a str, &'a str),
}

impl Scope<'_> {
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match *self {
            Scope::All => out.push(b'*'),
            Scope::Category(c) => {
                out.push(b'c');
                push_id(out, c);
            }
            Scope::Brand(b) => {
                out.push(b'b');
                push_id(out, b);
            }
            Scope::CategoryBrand(c, b) => {
                out.push(b'x');
                push_id(out, c);
                push_id(out, b);
            }
        }
    }

    /// `scope ‖ available`: the prefix of one availability partition.
    pub(crate) fn partition(&self, available: bool) -> Vec<u8> {
        let mut k = Vec::with_capacity(80);
        self.write(&mut k);
        k.push(available as u8);
        k
    }

    /// Whether price-bucket counters are kept for this scope. Brand scopes are
    /// small (a brand's products), so a price-range count there scans the
    /// brand's price index instead of paying ~8 counters per product.
    pub(crate) fn has_price_buckets(&self) -> bool {
        matches!(self, Scope::All | Scope::Category(_))
    }
}

/// The three product list indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexKind {
    Created,
    Price,
    Rating,
}

impl IndexKind {
    pub(crate) const ALL: [IndexKind; 3] =
        [IndexKind::Created, IndexKind::Price, IndexKind::Rating];

    /// Length of the sort key between the partition prefix and the id.
    pub(crate) fn sort_key_len(self) -> usize {
        match self {
            IndexKind::Created => 1 + 8,
            IndexKind::Price => 8,
            IndexKind::Rating => 13,
        }
    }

    pub(crate) fn table(self) -> redb::TableDefinition<'static, &'static [u8], &'static [u8]> {
        match self {
            IndexKind::Created => super::tables::BY_CREATED,
            IndexKind::Price => super::tables::BY_PRICE,
            IndexKind::Rating => super::tables::BY_RATING,
        }
    }
}

/// What every index entry carries, so list pages, filters and fallbacks never
/// read the product record to decide order or membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Payload {
    pub price: u64,
    pub created_at: i64,
    pub rating: RatingSummary,
    pub featured: bool,
    pub available: bool,
}

pub(crate) const PAYLOAD_LEN: usize = 26;

impl Payload {
    pub(crate) fn encode(&self) -> [u8; PAYLOAD_LEN] {
        let mut b = [0u8; PAYLOAD_LEN];
        b[0..8].copy_from_slice(&self.price.to_be_bytes());
        b[8..16].copy_from_slice(&self.created_at.to_be_bytes());
        b[16..20].copy_from_slice(&self.rating.count.to_be_bytes());
        b[20..24].copy_from_slice(&self.rating.sum.to_be_bytes());
        b[24] = self.featured as u8;
        b[25] = self.available as u8;
        b
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Payload> {
        let b: &[u8; PAYLOAD_LEN] = b.try_into().ok()?;
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut p8 = [0u8; 8];
        p8.copy_from_slice(&b[0..8]);
        let mut c8 = [0u8; 8];
        c8.copy_from_slice(&b[8..16]);
        Some(Payload {
            price: u64::from_be_bytes(p8),
            created_at: i64::from_be_bytes(c8),
            rating: RatingSummary {
                count: u32_at(16),
                sum: u32_at(20),
            },
            featured: b[24] != 0,
            available: b[25] != 0,
        })
    }

    /// This product's sort key in `kind`'s index.
    pub(crate) fn sort_key(&self, kind: IndexKind, out: &mut Vec<u8>) {
        match kind {
            IndexKind::Created => {
                out.push(self.featured as u8);
                out.extend_from_slice(&time_desc(self.created_at));
            }
            IndexKind::Price => out.extend_from_slice(&self.price.to_be_bytes()),
            IndexKind::Rating => out.extend_from_slice(&self.rating.order_key()),
        }
    }
}

/// Counter levels: `TOTAL` counts a whole partition; levels 2..=8 count price
/// buckets of width 10^level cents.
pub(crate) const TOTAL_LEVEL: u8 = 0;
pub(crate) const FIRST_BUCKET_LEVEL: u8 = 2;
pub(crate) const LAST_BUCKET_LEVEL: u8 = 8;

pub(crate) fn pow10(level: u8) -> u64 {
    10u64.pow(level as u32)
}

/// `partition ‖ level ‖ bucket`.
pub(crate) fn counter_key(partition: &[u8], level: u8, bucket: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(partition.len() + 9);
    k.extend_from_slice(partition);
    k.push(level);
    k.extend_from_slice(&bucket.to_be_bytes());
    k
}

/// Everything about one product that decides its index entries and counters.
/// Two equal `IndexFacts` produce identical entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexFacts {
    pub id: String,
    pub brand: String,
    /// The product's categories and all their ancestors, sorted, no repeats.
    pub categories: Vec<String>,
    pub payload: Payload,
}

impl IndexFacts {
    pub(crate) fn scopes(&self) -> Vec<Scope<'_>> {
        let mut s = Vec::with_capacity(2 + 2 * self.categories.len());
        s.push(Scope::All);
        s.push(Scope::Brand(&self.brand));
        for c in &self.categories {
            s.push(Scope::Category(c));
            s.push(Scope::CategoryBrand(c, &self.brand));
        }
        s
    }

    /// Every `(index, key, partition length)` this product has.
    pub(crate) fn entries(&self) -> Vec<(IndexKind, Vec<u8>, usize)> {
        let scopes = self.scopes();
        let mut out = Vec::with_capacity(scopes.len() * 3);
        for scope in &scopes {
            let partition = scope.partition(self.payload.available);
            for kind in IndexKind::ALL {
                let mut k = Vec::with_capacity(partition.len() + 13 + self.id.len());
                k.extend_from_slice(&partition);
                self.payload.sort_key(kind, &mut k);
                k.extend_from_slice(self.id.as_bytes());
                out.push((kind, k, partition.len()));
            }
        }
        out
    }

    /// Every counter this product adds one to.
    pub(crate) fn counters(&self) -> Vec<Vec<u8>> {
        let scopes = self.scopes();
        let mut out = Vec::new();
        for scope in &scopes {
            let partition = scope.partition(self.payload.available);
            out.push(counter_key(&partition, TOTAL_LEVEL, 0));
            if scope.has_price_buckets() {
                for level in FIRST_BUCKET_LEVEL..=LAST_BUCKET_LEVEL {
                    out.push(counter_key(
                        &partition,
                        level,
                        self.payload.price / pow10(level),
                    ));
                }
            }
        }
        out
    }
}

/// The counters that `BY_PRICE` entries add up to, computed from the entries
/// sorted by key: one `(counter key, count)` per run of equal
/// `(partition, level, bucket)`, so a bulk flush needs no hash map. Equals
/// summing [`IndexFacts::counters`] over the same products.
pub(crate) fn counters_of_sorted_price_entries<'a>(
    entries: impl Iterator<Item = (&'a [u8], usize)>,
) -> Vec<(Vec<u8>, i64)> {
    const LEVELS: usize = 1 + (LAST_BUCKET_LEVEL - FIRST_BUCKET_LEVEL + 1) as usize;
    let level_of = |i: usize| {
        if i == 0 {
            TOTAL_LEVEL
        } else {
            FIRST_BUCKET_LEVEL + i as u8 - 1
        }
    };
    let mut out = Vec::new();
    let mut runs: [Option<(&'a [u8], u64, i64)>; LEVELS] = [None; LEVELS];
    for (key, part_len) in entries {
        let part = &key[..part_len];
        let mut price = [0u8; 8];
        price.copy_from_slice(&key[part_len..part_len + 8]);
        let price = u64::from_be_bytes(price);
        let bucketed = matches!(part.first(), Some(b'*') | Some(b'c'));
        for (i, run) in runs.iter_mut().enumerate() {
            if i > 0 && !bucketed {
                continue;
            }
            let bucket = if i == 0 {
                0
            } else {
                price / pow10(level_of(i))
            };
            match run {
                Some((p, b, n)) if *p == part && *b == bucket => *n += 1,
                _ => {
                    if let Some((p, b, n)) = run.take() {
                        out.push((counter_key(p, level_of(i), b), n));
                    }
                    *run = Some((part, bucket, 1));
                }
            }
        }
    }
    for (i, run) in runs.iter().enumerate() {
        if let Some((p, b, n)) = run {
            out.push((counter_key(p, level_of(i), *b), *n));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn counters_from_sorted_entries_equal_per_product_counters() {
        let facts: Vec<IndexFacts> = (0..300u64)
            .map(|i| IndexFacts {
                id: format!("p{i}"),
                brand: format!("b{}", i % 7),
                categories: (0..i % 4).map(|c| format!("c{c}")).collect(),
                payload: Payload {
                    price: (i * 7_919) % 250_000,
                    created_at: 0,
                    rating: RatingSummary::default(),
                    featured: false,
                    available: i % 3 == 0,
                },
            })
            .collect();
        let mut expected: HashMap<Vec<u8>, i64> = HashMap::new();
        let mut price_entries = Vec::new();
        for f in &facts {
            for c in f.counters() {
                *expected.entry(c).or_default() += 1;
            }
            for (kind, key, part) in f.entries() {
                if kind == IndexKind::Price {
                    price_entries.push((key, part));
                }
            }
        }
        price_entries.sort();
        let mut got: HashMap<Vec<u8>, i64> = HashMap::new();
        for (k, n) in
            counters_of_sorted_price_entries(price_entries.iter().map(|(k, p)| (k.as_slice(), *p)))
        {
            *got.entry(k).or_default() += n;
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn payload_round_trips() {
        let p = Payload {
            price: 12_999,
            created_at: -42,
            rating: RatingSummary { count: 3, sum: 13 },
            featured: true,
            available: false,
        };
        assert_eq!(Payload::decode(&p.encode()), Some(p));
    }

    #[test]
    fn scope_prefixes_do_not_collide() {
        let a = Scope::Category("ab").partition(true);
        let b = Scope::Category("abc").partition(true);
        assert!(!b.starts_with(&a));
    }
}
