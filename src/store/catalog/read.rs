//! The catalogue's reads: records by id, reviews, brands and categories in
//! their orders, counts, and export. Product lists are in [`super::listing`].

use super::records::{BrandRec, CategoryRec, ProductRec, ReviewRec, ReviewerRec};
use super::tables::*;
use super::taxonomy::TaxonomySlot;
use crate::domain::listing::RatingSummary;
use crate::store::ReadTxn;
use crate::store::catalog::views::ProductView;
use crate::store::codec::{Rec, Record, decode};
use crate::store::error::{StoreError, StoreResult};
use crate::store::keys::{self, prefix_end};
use redb::{ReadOnlyTable, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::cell::OnceCell;

type RecordTable = ReadOnlyTable<&'static str, &'static [u8]>;

/// Record tables a read transaction opened, kept for its later lookups.
#[derive(Default)]
pub(crate) struct RecordTables {
    products: OnceCell<RecordTable>,
    brands: OnceCell<RecordTable>,
    categories: OnceCell<RecordTable>,
    reviewers: OnceCell<RecordTable>,
    reviews: OnceCell<RecordTable>,
    /// A page of search hits reads one rating per hit: opening the table
    /// (a lookup in redb's table of tables) once per transaction halves it.
    ratings: OnceCell<ReadOnlyTable<&'static str, (u32, u32)>>,
}

/// The catalogue's tables as a read transaction sees them
/// (`read.catalog()`).
pub struct CatalogReader<'r> {
    pub(super) txn: &'r redb::ReadTransaction,
    catalog: &'r RecordTables,
    pub(super) taxonomy_slot: &'r TaxonomySlot,
}

impl ReadTxn {
    /// Brands, categories, products, reviews and their authors, the list
    /// indexes, counters and ratings, the in-memory taxonomy.
    pub fn catalog(&self) -> CatalogReader<'_> {
        CatalogReader {
            txn: &self.txn,
            catalog: &self.catalog,
            taxonomy_slot: &self.taxonomy_slot,
        }
    }
}

/// How many records each table holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableCounts {
    pub brands: u64,
    pub categories: u64,
    pub products: u64,
    pub reviews: u64,
    pub reviewers: u64,
}

impl CatalogReader<'_> {
    fn table<'s, K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        cell: &'s OnceCell<ReadOnlyTable<K, V>>,
        def: TableDefinition<'static, K, V>,
    ) -> StoreResult<&'s ReadOnlyTable<K, V>> {
        if let Some(t) = cell.get() {
            return Ok(t);
        }
        let t = self.txn.open_table(def)?;
        Ok(cell.get_or_init(|| t))
    }

    fn get<R: Record>(
        &self,
        cell: &OnceCell<RecordTable>,
        def: TableDefinition<'static, &'static str, &'static [u8]>,
        id: &str,
    ) -> StoreResult<Option<Rec<R>>> {
        let t = self.table(cell, def)?;
        Ok(t.get(id)?.map(|g| Rec::new(id, g)))
    }

    pub fn product(&self, id: &str) -> StoreResult<Option<Rec<ProductRec>>> {
        self.get(&self.catalog.products, PRODUCTS, id)
    }
    pub(crate) fn brand(&self, id: &str) -> StoreResult<Option<Rec<BrandRec>>> {
        self.get(&self.catalog.brands, BRANDS, id)
    }
    pub(crate) fn category(&self, id: &str) -> StoreResult<Option<Rec<CategoryRec>>> {
        self.get(&self.catalog.categories, CATEGORIES, id)
    }
    pub(crate) fn reviewer(&self, id: &str) -> StoreResult<Option<Rec<ReviewerRec>>> {
        self.get(&self.catalog.reviewers, REVIEWERS, id)
    }
    pub(crate) fn review(&self, id: &str) -> StoreResult<Option<Rec<ReviewRec>>> {
        self.get(&self.catalog.reviews, REVIEWS, id)
    }

    pub(crate) fn rating(&self, product_id: &str) -> StoreResult<RatingSummary> {
        let t = self.table(&self.catalog.ratings, PRODUCT_RATINGS)?;
        Ok(t.get(product_id)?.map_or(RatingSummary::default(), |g| {
            let (count, sum) = g.value();
            RatingSummary { count, sum }
        }))
    }

    /// Reviews of a product, newest first (then id descending), skipping
    /// `offset`. Reads `offset + limit` index keys and `limit` records.
    pub(crate) fn reviews_of(
        &self,
        product_id: &str,
        offset: u64,
        limit: usize,
    ) -> StoreResult<Vec<Rec<ReviewRec>>> {
        let index = self.txn.open_table(REVIEWS_BY_PRODUCT)?;
        let mut lo = Vec::new();
        keys::push_id(&mut lo, product_id);
        let hi = prefix_end(&lo);
        let skip = lo.len() + 8;
        let mut out = Vec::with_capacity(limit);
        for item in index
            .range::<&[u8]>(lo.as_slice()..hi.as_slice())?
            .rev()
            .skip(offset as usize)
            .take(limit)
        {
            let (k, _) = item?;
            let id = String::from_utf8_lossy(&k.value()[skip..]).into_owned();
            if let Some(r) = self.review(&id)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// A page of brands ordered by title, then id; and the number of brands.
    pub(crate) fn brands_page(
        &self,
        offset: u64,
        limit: usize,
    ) -> StoreResult<(Vec<Rec<BrandRec>>, u64)> {
        let total = self.table(&self.catalog.brands, BRANDS)?.len()?;
        let index = self.txn.open_table(BRANDS_BY_TITLE)?;
        let mut out = Vec::with_capacity(limit);
        for item in index.iter()?.skip(offset as usize).take(limit) {
            let (k, _) = item?;
            let k = k.value();
            let split = k.iter().position(|&b| b == 0).map_or(0, |i| i + 1);
            let id = String::from_utf8_lossy(&k[split..]).into_owned();
            if let Some(b) = self.brand(&id)? {
                out.push(b);
            }
        }
        Ok((out, total))
    }

    /// Every category, in id order.
    pub(crate) fn categories(&self) -> StoreResult<Vec<Rec<CategoryRec>>> {
        let t = self.table(&self.catalog.categories, CATEGORIES)?;
        let mut out = Vec::new();
        for item in t.range::<&str>(..)? {
            let (k, v) = item?;
            out.push(Rec::new(k.value(), v));
        }
        Ok(out)
    }

    /// Direct children of a category.
    pub(crate) fn children(&self, id: &str) -> StoreResult<Vec<Rec<CategoryRec>>> {
        let t = self.txn.open_table(CATEGORY_CHILDREN)?;
        let mut lo = Vec::new();
        keys::push_id(&mut lo, id);
        let hi = prefix_end(&lo);
        let mut out = Vec::new();
        for item in t.range::<&[u8]>(lo.as_slice()..hi.as_slice())? {
            let (k, _) = item?;
            let child = String::from_utf8_lossy(&k.value()[lo.len()..]).into_owned();
            if let Some(c) = self.category(&child)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Every product id, in order, from `after` (exclusive) on, at most `limit`.
    pub(crate) fn product_ids(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let t = self.table(&self.catalog.products, PRODUCTS)?;
        let range = match after {
            Some(a) => {
                t.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))?
            }
            None => t.range::<&str>(..)?,
        };
        let mut out = Vec::with_capacity(limit);
        for item in range.take(limit) {
            out.push(item?.0.value().to_string());
        }
        Ok(out)
    }

    pub fn counts(&self) -> StoreResult<TableCounts> {
        Ok(TableCounts {
            brands: self.txn.open_table(BRANDS)?.len()?,
            categories: self.txn.open_table(CATEGORIES)?.len()?,
            products: self.txn.open_table(PRODUCTS)?.len()?,
            reviews: self.txn.open_table(REVIEWS)?.len()?,
            reviewers: self.txn.open_table(REVIEWERS)?.len()?,
        })
    }

    /// Calls `f` with every record of a table as an owned domain value, in id
    /// order. For export.
    pub(crate) fn for_each<R: Record, E: From<StoreError>>(
        &self,
        def: TableDefinition<'static, &'static str, &'static [u8]>,
        mut f: impl FnMut(R::Domain) -> Result<(), E>,
    ) -> Result<(), E> {
        let t = self.txn.open_table(def).map_err(StoreError::from)?;
        for item in t.iter().map_err(StoreError::from)? {
            let (k, v) = item.map_err(StoreError::from)?;
            f(decode::<R>(v.value(), k.value())?)?;
        }
        Ok(())
    }
}

impl CatalogReader<'_> {
    /// Calls `f(product id, image)` for every image of every product, in
    /// product id order (media garbage collection and "which products use
    /// this image"). Reads every product record zero-copy: ~30 ms for
    /// 100,000 products.
    pub(crate) fn for_each_image(&self, mut f: impl FnMut(&str, &str)) -> StoreResult<()> {
        let t = self.table(&self.catalog.products, PRODUCTS)?;
        for row in t.iter()? {
            let (k, v) = row?;
            crate::store::codec::with_archived::<ProductRec, _>(v.value(), k.value(), |a| {
                for image in ProductView(a).images() {
                    f(k.value(), image);
                }
            })?;
        }
        Ok(())
    }
}
