//! Per-segment doc values as plain arrays (sort keys, facets, filters), the
//! segment's text fields and term derivations, kept for the segment's life.

use super::schema::Fields;
use super::terms::SegmentTerms;
use crate::domain::listing::RatingSummary;
use crate::domain::search::{SearchSort, price_bucket};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
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

/// One segment's doc values as plain arrays indexed by doc id, so collecting
/// a hit is a few array reads instead of several column lookups (which cost
/// about 1 µs per hit together). Segments are immutable, so the arrays stay
/// valid for the segment's life (deletes only hide docs); [`ValuesCache`]
/// builds them when a reader reloads, before queries see the segment.
pub(crate) struct SegmentValues {
    /// Brand term ordinal per doc; `u32::MAX` when absent.
    pub brand: Vec<u32>,
    /// Category ordinals of doc `d` are `category_ords[category_at[d]..category_at[d + 1]]`.
    category_at: Vec<u32>,
    category_ords: Vec<u32>,
    pub price: Vec<u64>,
    pub price_bucket: Vec<u8>,
    pub available: Vec<bool>,
    /// Creation time, mapped so that unsigned order is time order.
    created: Vec<u64>,
    featured: Vec<bool>,
    rating_key: Vec<u128>,
    /// Ordinal of the product id in this segment's id dictionary, which is in
    /// id order: ties can be ordered by id without reading the string.
    pub id_ord: Vec<u32>,
    /// Brand and category ids by ordinal, in id order: a dictionary lookup
    /// costs microseconds, and a facet over many hits needs hundreds of them.
    pub brand_ids: Vec<String>,
    pub category_ids: Vec<String>,
    /// Every product id of the segment by ordinal, end to end (`id_at[o]..id_at[o + 1]`):
    /// a page's ids are slices, where reading them from the column's
    /// dictionary decoded a block per id (a third of a query's time).
    id_bytes: Vec<u8>,
    id_at: Vec<u32>,
    /// The text fields a query reads, and their term derivations.
    pub terms: SegmentTerms,
}

impl SegmentValues {
    /// The product id with ordinal `ord` in this segment.
    pub(crate) fn id(&self, ord: u32) -> &str {
        let o = ord as usize;
        match (self.id_at.get(o), self.id_at.get(o + 1)) {
            (Some(&a), Some(&b)) => {
                std::str::from_utf8(&self.id_bytes[a as usize..b as usize]).unwrap_or("")
            }
            _ => "",
        }
    }

    /// The category ordinals of doc `i` (with their ancestors').
    pub(crate) fn categories(&self, i: usize) -> &[u32] {
        &self.category_ords[self.category_at[i] as usize..self.category_at[i + 1] as usize]
    }

    pub(crate) fn load(reader: &SegmentReader, fields: &Fields) -> tantivy::Result<SegmentValues> {
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
        let available: Column<u64> = ff.u64("available")?;
        let first_ord = |c: &Option<StrColumn>, doc: DocId| {
            c.as_ref()
                .and_then(|c| c.term_ords(doc).next())
                .map_or(u32::MAX, |o| o as u32)
        };
        let mut v = SegmentValues {
            brand: Vec::with_capacity(n),
            category_at: Vec::with_capacity(n + 1),
            category_ords: Vec::with_capacity(n * 3),
            price: Vec::with_capacity(n),
            price_bucket: Vec::with_capacity(n),
            available: Vec::with_capacity(n),
            created: Vec::with_capacity(n),
            featured: Vec::with_capacity(n),
            rating_key: Vec::with_capacity(n),
            id_ord: Vec::with_capacity(n),
            brand_ids: terms(&brand_col)?,
            category_ids: terms(&cat_col)?,
            id_bytes: Vec::new(),
            id_at: vec![0],
            terms: SegmentTerms::open(reader, &fields.text())?,
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
            v.available.push(available.first(doc).unwrap_or(0) > 0);
            let r = RatingSummary {
                count: rating_count.first(doc).unwrap_or(0) as u32,
                sum: rating_sum.first(doc).unwrap_or(0) as u32,
            };
            let mut b = [0u8; 16];
            b[..13].copy_from_slice(&r.order_key());
            v.rating_key.push(u128::from_be_bytes(b));
            v.id_ord.push(first_ord(&id_col, doc));
        }
        if let Some(c) = &id_col {
            let mut stream = c.dictionary().stream()?;
            while stream.advance() {
                v.id_bytes.extend_from_slice(stream.key());
                v.id_at.push(v.id_bytes.len() as u32);
            }
        }
        Ok(v)
    }

    pub(crate) fn key(
        &self,
        sort: SearchSort,
        by_score: bool,
        doc: usize,
        score: Score,
    ) -> SortKey {
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
pub(crate) struct ValuesCache {
    fields: Fields,
    segments: RwLock<HashMap<SegmentId, Arc<SegmentValues>>>,
}

impl ValuesCache {
    pub(crate) fn new(fields: Fields) -> ValuesCache {
        ValuesCache {
            fields,
            segments: RwLock::default(),
        }
    }

    /// The cached values of `reader`'s segment, loading them if missing.
    pub(crate) fn get(&self, reader: &SegmentReader) -> tantivy::Result<Arc<SegmentValues>> {
        let id = reader.segment_id();
        if let Some(v) = self.segments.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(v);
        }
        let v = Arc::new(SegmentValues::load(reader, &self.fields)?);
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

fn ordered_time(ms: i64) -> u64 {
    (ms as u64) ^ (1 << 63)
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
