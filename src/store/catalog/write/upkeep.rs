//! Index upkeep inside a write: touching a product removes the entries and
//! counters of its old state; [`CatalogWriter::flush`] adds those of the
//! final state of every touched product (see the invariants in the parent
//! module).

use super::CatalogWriter;
use crate::domain::listing::RatingSummary;
use crate::store::catalog::index::{self, IndexFacts, IndexKind, Payload};
use crate::store::catalog::records::ProductRec;
use crate::store::catalog::tables::*;
use crate::store::codec::with_archived;
use crate::store::error::StoreResult;
use redb::ReadableTable;
use std::collections::HashMap;

/// What the indexes need from a stored product, read from the archive
/// without building the whole product.
struct StoredFacts {
    brand: String,
    category_ids: Vec<String>,
    payload: Payload,
}

fn rating_now(
    t: &impl ReadableTable<&'static str, (u32, u32)>,
    pending: &HashMap<String, (i64, i64)>,
    product_id: &str,
) -> StoreResult<RatingSummary> {
    let (count, sum) = t.get(product_id)?.map_or((0, 0), |g| g.value());
    let (dc, ds) = pending.get(product_id).copied().unwrap_or((0, 0));
    Ok(RatingSummary {
        count: (count as i64 + dc).max(0) as u32,
        sum: (sum as i64 + ds).max(0) as u32,
    })
}

fn stored_facts(
    products: &impl ReadableTable<&'static str, &'static [u8]>,
    ratings: &impl ReadableTable<&'static str, (u32, u32)>,
    pending: &HashMap<String, (i64, i64)>,
    id: &str,
) -> StoreResult<Option<StoredFacts>> {
    let Some(g) = products.get(id)? else {
        return Ok(None);
    };
    let rating = rating_now(ratings, pending, id)?;
    with_archived::<ProductRec, _>(g.value(), id, |a| StoredFacts {
        brand: a.brand_id.as_str().to_string(),
        category_ids: a
            .category_ids
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        payload: Payload {
            price: a.price_cents.to_native(),
            created_at: a.created_at_ms.to_native(),
            rating,
            featured: a.is_featured,
            available: a.is_available,
        },
    })
    .map(Some)
}

impl CatalogWriter<'_> {
    /// The index facts of a stored product, or `None` if it does not exist.
    pub(super) fn facts(&mut self, id: &str) -> StoreResult<Option<IndexFacts>> {
        let stored = {
            let products = self.tables.open(PRODUCTS)?;
            let ratings = self.tables.open(PRODUCT_RATINGS)?;
            stored_facts(&*products, &*ratings, &self.pending.ratings, id)?
        };
        stored.map(|s| self.with_lineage(id, s)).transpose()
    }

    /// Completes stored facts with the category closure.
    fn with_lineage(&mut self, id: &str, s: StoredFacts) -> StoreResult<IndexFacts> {
        let mut categories = Vec::new();
        for c in &s.category_ids {
            categories.extend(self.category_lineage(c)?);
        }
        categories.sort();
        categories.dedup();
        Ok(IndexFacts {
            id: id.to_string(),
            brand: s.brand,
            categories,
            payload: s.payload,
        })
    }

    /// Removes the current index entries and counts of `id` (if it exists) and
    /// marks it for re-indexing at flush. Call before changing anything that
    /// decides its entries.
    pub(super) fn touch(&mut self, id: &str) -> StoreResult<()> {
        if self.pending.dirty.contains(id) {
            return Ok(());
        }
        self.changes.products.insert(id.to_string());
        if let Some(f) = self.facts(id)? {
            self.changes.list_scopes_of(&f);
            let mut tables = [
                self.tables.open(BY_CREATED)?,
                self.tables.open(BY_PRICE)?,
                self.tables.open(BY_RATING)?,
            ];
            for (kind, key, _) in f.entries() {
                tables[kind as usize].remove(key.as_slice())?;
            }
            for c in f.counters() {
                *self.pending.counters.entry(c.clone()).or_default() -= 1;
                if self.pending.journaling {
                    self.pending.journal.counters.push((c, -1));
                }
            }
        }
        self.pending.dirty.insert(id.to_string());
        if self.pending.journaling {
            self.pending.journal.dirty.push(id.to_string());
        }
        Ok(())
    }

    /// Adds index entries for every dirty product's final state and applies
    /// pending counter and rating changes. Runs once, when the transaction
    /// commits (after it, nothing is pending). Idempotent.
    pub(crate) fn flush(&mut self) -> StoreResult<()> {
        self.apply_ratings()?;
        let mut dirty: Vec<String> = self.pending.dirty.drain().collect();
        if dirty.is_empty() && self.pending.counters.is_empty() {
            return Ok(());
        }
        // Read in key order (page locality), with each table opened once.
        dirty.sort_unstable();
        self.changes.search_products.extend(dirty.iter().cloned());
        let mut stored = Vec::with_capacity(dirty.len());
        {
            let products = self.tables.open(PRODUCTS)?;
            let ratings = self.tables.open(PRODUCT_RATINGS)?;
            for id in dirty {
                if let Some(s) = stored_facts(&*products, &*ratings, &self.pending.ratings, &id)? {
                    stored.push((id, s));
                }
            }
        }
        type Entry = (Vec<u8>, [u8; index::PAYLOAD_LEN], usize);
        let mut entries: [Vec<Entry>; 3] = Default::default();
        for (id, s) in stored {
            let f = self.with_lineage(&id, s)?;
            self.changes.list_scopes_of(&f);
            let payload = f.payload.encode();
            for (kind, key, part) in f.entries() {
                entries[kind as usize].push((key, payload, part));
            }
        }
        for batch in &mut entries {
            batch.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }
        // The new entries' counters, derived from the sorted price entries.
        let price = &entries[IndexKind::Price as usize];
        for (k, n) in
            index::counters_of_sorted_price_entries(price.iter().map(|e| (e.0.as_slice(), e.2)))
        {
            *self.pending.counters.entry(k).or_default() += n;
        }
        // Sorted inserts touch each leaf page once per batch.
        for (kind, batch) in IndexKind::ALL.into_iter().zip(entries) {
            let mut t = self.tables.open(kind.table())?;
            for (k, v, _) in &batch {
                t.insert(k.as_slice(), v.as_slice())?;
            }
        }
        let mut pending: Vec<(Vec<u8>, i64)> = self
            .pending
            .counters
            .drain()
            .filter(|(_, d)| *d != 0)
            .collect();
        pending.sort_unstable();
        let mut t = self.tables.open(PRODUCT_COUNTS)?;
        for (k, delta) in pending {
            let cur = t.get(k.as_slice())?.map_or(0, |g| g.value()) as i64;
            let new = cur + delta;
            debug_assert!(new >= 0, "counter below zero");
            if new <= 0 {
                t.remove(k.as_slice())?;
            } else {
                t.insert(k.as_slice(), new as u64)?;
            }
        }
        Ok(())
    }

    pub(super) fn add_rating(&mut self, product_id: &str, rating: u8, sign: i64) {
        let d = self
            .pending
            .ratings
            .entry(product_id.to_string())
            .or_default();
        d.0 += sign;
        d.1 += sign * rating as i64;
        if self.pending.journaling {
            self.pending
                .journal
                .ratings
                .push((product_id.to_string(), (sign, sign * rating as i64)));
        }
    }

    /// Writes pending rating changes into `PRODUCT_RATINGS`.
    pub(super) fn apply_ratings(&mut self) -> StoreResult<()> {
        if self.pending.ratings.is_empty() {
            return Ok(());
        }
        let mut pending: Vec<(String, (i64, i64))> = self.pending.ratings.drain().collect();
        pending.sort_unstable();
        let mut t = self.tables.open(PRODUCT_RATINGS)?;
        for (id, (dc, ds)) in pending {
            let (count, sum) = t.get(id.as_str())?.map_or((0, 0), |g| g.value());
            let count = (count as i64 + dc).max(0) as u32;
            let sum = (sum as i64 + ds).max(0) as u32;
            if count == 0 {
                t.remove(id.as_str())?;
            } else {
                t.insert(id.as_str(), (count, sum))?;
            }
        }
        Ok(())
    }
}
