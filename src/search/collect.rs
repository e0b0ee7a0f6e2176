//! One pass over the matching documents: the sort key of every hit and the
//! facet counts over the whole hit set (not just the page).

use crate::domain::listing::RatingSummary;
use crate::domain::search::{PRICE_BUCKETS, SearchSort, price_bucket};
use std::collections::HashMap;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// Ascending order = result order; ties are broken by product id later.
pub type SortKey = u128;

/// A hit: its sort key and where it lives.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    pub key: SortKey,
    pub segment: SegmentOrdinal,
    pub doc: DocId,
}

#[derive(Debug, Default)]
pub struct Collected {
    pub hits: Vec<Hit>,
    pub brands: HashMap<String, u64>,
    pub categories: HashMap<String, u64>,
    pub prices: [u64; PRICE_BUCKETS.len()],
}

pub struct HitCollector {
    pub sort: SearchSort,
    /// With query text, `Relevance` is by score; without, it is `featured`.
    pub by_score: bool,
}

pub struct SegmentHits {
    sort: SearchSort,
    by_score: bool,
    segment: SegmentOrdinal,
    brand: Option<StrColumn>,
    categories: Option<StrColumn>,
    price: Column<u64>,
    created: Column<i64>,
    featured: Column<u64>,
    rating_count: Column<u64>,
    rating_sum: Column<u64>,
    hits: Vec<Hit>,
    brand_counts: Vec<u64>,
    category_counts: Vec<u64>,
    prices: [u64; PRICE_BUCKETS.len()],
}

fn ordered_time(ms: i64) -> u64 {
    (ms as u64) ^ (1 << 63)
}

impl Collector for HitCollector {
    type Fruit = Collected;
    type Child = SegmentHits;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentHits> {
        let ff = reader.fast_fields();
        let brand = ff.str("brand_id")?;
        let categories = ff.str("category_ids")?;
        let terms = |c: &Option<StrColumn>| c.as_ref().map_or(0, |c| c.num_terms());
        Ok(SegmentHits {
            sort: self.sort,
            by_score: self.by_score,
            segment,
            brand_counts: vec![0; terms(&brand)],
            category_counts: vec![0; terms(&categories)],
            brand,
            categories,
            price: ff.u64("price")?,
            created: ff.i64("created_at")?,
            featured: ff.u64("featured")?,
            rating_count: ff.u64("rating_count")?,
            rating_sum: ff.u64("rating_sum")?,
            hits: Vec::new(),
            prices: [0; PRICE_BUCKETS.len()],
        })
    }

    fn requires_scoring(&self) -> bool {
        self.by_score && self.sort == SearchSort::Relevance
    }

    fn merge_fruits(&self, fruits: Vec<Collected>) -> tantivy::Result<Collected> {
        let mut out = Collected::default();
        for f in fruits {
            out.hits.extend(f.hits);
            for (k, v) in f.brands {
                *out.brands.entry(k).or_default() += v;
            }
            for (k, v) in f.categories {
                *out.categories.entry(k).or_default() += v;
            }
            for (o, p) in out.prices.iter_mut().zip(f.prices) {
                *o += p;
            }
        }
        Ok(out)
    }
}

impl SegmentHits {
    fn key(&self, doc: DocId, score: Score) -> SortKey {
        let price = self.price.first(doc).unwrap_or(0);
        let created = ordered_time(self.created.first(doc).unwrap_or(0));
        match self.sort {
            SearchSort::Relevance if self.by_score => (!score.max(0.0).to_bits() as u128) << 96,
            SearchSort::Relevance => {
                let featured = self.featured.first(doc).unwrap_or(0);
                (((1 - featured.min(1)) as u128) << 64) | (!created) as u128
            }
            SearchSort::PriceAsc => price as u128,
            SearchSort::PriceDesc => (!price) as u128,
            SearchSort::Newest => (!created) as u128,
            SearchSort::Rating => {
                let r = RatingSummary {
                    count: self.rating_count.first(doc).unwrap_or(0) as u32,
                    sum: self.rating_sum.first(doc).unwrap_or(0) as u32,
                };
                let mut b = [0u8; 16];
                b[..13].copy_from_slice(&r.order_key());
                u128::from_be_bytes(b)
            }
        }
    }
}

fn ords_to_strings(col: &Option<StrColumn>, counts: Vec<u64>) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let Some(col) = col else { return out };
    for (ord, n) in counts.into_iter().enumerate() {
        let mut s = String::new();
        if n > 0 && col.ord_to_str(ord as u64, &mut s).unwrap_or(false) {
            out.insert(s, n);
        }
    }
    out
}

impl SegmentCollector for SegmentHits {
    type Fruit = Collected;

    fn collect(&mut self, doc: DocId, score: Score) {
        let key = self.key(doc, score);
        self.hits.push(Hit {
            key,
            segment: self.segment,
            doc,
        });
        if let Some(b) = &self.brand {
            for ord in b.term_ords(doc) {
                self.brand_counts[ord as usize] += 1;
            }
        }
        if let Some(c) = &self.categories {
            for ord in c.term_ords(doc) {
                self.category_counts[ord as usize] += 1;
            }
        }
        self.prices[price_bucket(self.price.first(doc).unwrap_or(0))] += 1;
    }

    fn harvest(self) -> Collected {
        Collected {
            brands: ords_to_strings(&self.brand, self.brand_counts),
            categories: ords_to_strings(&self.categories, self.category_counts),
            hits: self.hits,
            prices: self.prices,
        }
    }
}
