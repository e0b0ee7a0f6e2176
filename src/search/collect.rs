//! One pass over the matching documents: the sort key of every hit and the
//! facet counts over the whole hit set (not just the page).

use crate::domain::listing::RatingSummary;
use crate::domain::search::{PRICE_BUCKETS, SearchSort, price_bucket};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{
    DocId, Score, Searcher, SearcherGeneration, SegmentOrdinal, SegmentReader, Warmer,
    index::SegmentId,
};

/// Ascending order = result order; ties are broken by product id later.
pub(crate) type SortKey = u128;

/// A hit: its sort key and where it lives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub key: SortKey,
    pub segment: SegmentOrdinal,
    /// The id's ordinal within its segment (id order within the segment).
    pub id_ord: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub hits: Vec<Hit>,
    pub brands: HashMap<String, u64>,
    pub categories: HashMap<String, u64>,
    pub prices: [u64; PRICE_BUCKETS.len()],
}

pub(crate) struct HitCollector {
    pub values: Arc<ValuesCache>,
    pub sort: SearchSort,
    /// With query text, `Relevance` is by score; without, it is `featured`.
    pub by_score: bool,
}

/// One segment's doc values as plain arrays indexed by doc id, so collecting
/// a hit is a few array reads instead of several column lookups (which cost
/// about 1 µs per hit together). Segments are immutable, so the arrays stay
/// valid for the segment's life (deletes only hide docs); [`ValuesCache`]
/// builds them when a reader reloads, before queries see the segment.
pub(crate) struct SegmentValues {
    /// Brand term ordinal per doc; `u32::MAX` when absent.
    brand: Vec<u32>,
    brand_terms: usize,
    /// Category ordinals of doc `d` are `category_ords[category_at[d]..category_at[d + 1]]`.
    category_at: Vec<u32>,
    category_ords: Vec<u32>,
    category_terms: usize,
    price: Vec<u64>,
    price_bucket: Vec<u8>,
    /// Creation time, mapped so that unsigned order is time order.
    created: Vec<u64>,
    featured: Vec<bool>,
    rating_key: Vec<u128>,
    /// Ordinal of the product id in this segment's id dictionary, which is in
    /// id order: ties can be ordered by id without reading the string.
    id_ord: Vec<u32>,
    /// Brand and category ids by ordinal: a dictionary lookup costs
    /// microseconds, and a facet over many hits needs hundreds of them.
    brand_ids: Vec<String>,
    category_ids: Vec<String>,
    /// The id dictionary, for the few hits that make the page.
    id_col: Option<StrColumn>,
}

impl SegmentValues {
    /// The product id with ordinal `ord` in this segment.
    pub(crate) fn id(&self, ord: u32) -> tantivy::Result<String> {
        let mut id = String::new();
        if let Some(c) = &self.id_col {
            c.ord_to_str(ord as u64, &mut id)?;
        }
        Ok(id)
    }

    pub(crate) fn load(reader: &SegmentReader) -> tantivy::Result<SegmentValues> {
        let ff = reader.fast_fields();
        let n = reader.max_doc() as usize;
        let brand_col = ff.str("brand_id")?;
        let cat_col = ff.str("category_ids")?;
        let id_col = ff.str("id")?;
        let price: Column<u64> = ff.u64("price")?;
        let created: Column<i64> = ff.i64("created_at")?;
        let featured: Column<u64> = ff.u64("featured")?;
        let rating_count: Column<u64> = ff.u64("rating_count")?;
        let rating_sum: Column<u64> = ff.u64("rating_sum")?;
        let first_ord = |c: &Option<StrColumn>, doc: DocId| {
            c.as_ref()
                .and_then(|c| c.term_ords(doc).next())
                .map_or(u32::MAX, |o| o as u32)
        };
        let mut v = SegmentValues {
            brand: Vec::with_capacity(n),
            brand_terms: brand_col.as_ref().map_or(0, |c| c.num_terms()),
            category_at: Vec::with_capacity(n + 1),
            category_ords: Vec::with_capacity(n * 3),
            category_terms: cat_col.as_ref().map_or(0, |c| c.num_terms()),
            price: Vec::with_capacity(n),
            price_bucket: Vec::with_capacity(n),
            created: Vec::with_capacity(n),
            featured: Vec::with_capacity(n),
            rating_key: Vec::with_capacity(n),
            id_ord: Vec::with_capacity(n),
            brand_ids: terms(&brand_col)?,
            category_ids: terms(&cat_col)?,
            id_col: None,
        };
        v.category_at.push(0);
        for doc in 0..n as DocId {
            v.brand.push(first_ord(&brand_col, doc));
            if let Some(c) = &cat_col {
                v.category_ords.extend(c.term_ords(doc).map(|o| o as u32));
            }
            v.category_at.push(v.category_ords.len() as u32);
            let p = price.first(doc).unwrap_or(0);
            v.price.push(p);
            v.price_bucket.push(price_bucket(p) as u8);
            v.created
                .push(ordered_time(created.first(doc).unwrap_or(0)));
            v.featured.push(featured.first(doc).unwrap_or(0) > 0);
            let r = RatingSummary {
                count: rating_count.first(doc).unwrap_or(0) as u32,
                sum: rating_sum.first(doc).unwrap_or(0) as u32,
            };
            let mut b = [0u8; 16];
            b[..13].copy_from_slice(&r.order_key());
            v.rating_key.push(u128::from_be_bytes(b));
            v.id_ord.push(first_ord(&id_col, doc));
        }
        v.id_col = id_col;
        Ok(v)
    }

    fn key(&self, sort: SearchSort, by_score: bool, doc: usize, score: Score) -> SortKey {
        match sort {
            SearchSort::Relevance if by_score => (!score.max(0.0).to_bits() as u128) << 96,
            SearchSort::Relevance => {
                ((!self.featured[doc] as u128) << 64) | (!self.created[doc]) as u128
            }
            SearchSort::PriceAsc => self.price[doc] as u128,
            SearchSort::PriceDesc => (!self.price[doc]) as u128,
            SearchSort::Newest => (!self.created[doc]) as u128,
            SearchSort::Rating => self.rating_key[doc],
        }
    }
}

/// [`SegmentValues`] of every live segment, kept current by tantivy's warmer
/// hook (built on reload, dropped with the last searcher using a segment).
#[derive(Default)]
pub(crate) struct ValuesCache {
    segments: RwLock<HashMap<SegmentId, Arc<SegmentValues>>>,
}

impl ValuesCache {
    /// The cached values of `reader`'s segment, loading them if missing.
    pub(crate) fn get(&self, reader: &SegmentReader) -> tantivy::Result<Arc<SegmentValues>> {
        let id = reader.segment_id();
        if let Some(v) = self.segments.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(v);
        }
        let v = Arc::new(SegmentValues::load(reader)?);
        if let Ok(mut m) = self.segments.write() {
            m.insert(id, v.clone());
        }
        Ok(v)
    }
}

impl Warmer for ValuesCache {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        for reader in searcher.segment_readers() {
            self.get(reader)?;
        }
        Ok(())
    }

    fn garbage_collect(&self, live: &[&SearcherGeneration]) {
        let alive: HashSet<SegmentId> = live
            .iter()
            .flat_map(|g| g.segments().keys().copied())
            .collect();
        if let Ok(mut m) = self.segments.write() {
            m.retain(|id, _| alive.contains(id));
        }
    }
}

pub(crate) struct SegmentHits {
    sort: SearchSort,
    by_score: bool,
    segment: SegmentOrdinal,
    values: Arc<SegmentValues>,
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
        let values = self.values.get(reader)?;
        Ok(SegmentHits {
            sort: self.sort,
            by_score: self.by_score,
            segment,
            brand_counts: vec![0; values.brand_terms],
            category_counts: vec![0; values.category_terms],
            values,
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

/// Every term of a string column, by ordinal.
fn terms(col: &Option<StrColumn>) -> tantivy::Result<Vec<String>> {
    let Some(col) = col else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(col.num_terms());
    let mut stream = col.dictionary().stream()?;
    while stream.advance() {
        out.push(String::from_utf8_lossy(stream.key()).into_owned());
    }
    Ok(out)
}

fn ords_to_strings(terms: &[String], counts: Vec<u64>) -> HashMap<String, u64> {
    counts
        .into_iter()
        .zip(terms)
        .filter(|(n, _)| *n > 0)
        .map(|(n, t)| (t.clone(), n))
        .collect()
}

impl SegmentCollector for SegmentHits {
    type Fruit = Collected;

    fn collect(&mut self, doc: DocId, score: Score) {
        let v = &*self.values;
        let d = doc as usize;
        self.hits.push(Hit {
            key: v.key(self.sort, self.by_score, d, score),
            segment: self.segment,
            id_ord: v.id_ord[d],
        });
        if let Some(c) = self.brand_counts.get_mut(v.brand[d] as usize) {
            *c += 1;
        }
        let (a, b) = (v.category_at[d] as usize, v.category_at[d + 1] as usize);
        for &ord in &v.category_ords[a..b] {
            self.category_counts[ord as usize] += 1;
        }
        self.prices[v.price_bucket[d] as usize] += 1;
    }

    fn harvest(self) -> Collected {
        Collected {
            brands: ords_to_strings(&self.values.brand_ids, self.brand_counts),
            categories: ords_to_strings(&self.values.category_ids, self.category_counts),
            hits: self.hits,
            prices: self.prices,
        }
    }
}
