//! Read transactions: a consistent snapshot of the whole catalogue.
//!
//! Reads run on the calling thread. They touch pages that are almost always
//! in the OS page cache and take microseconds, which is less than the cost of
//! a hop to a blocking pool; writes (which fsync) go to the blocking pool.

use super::error::StoreResult;
use super::keys;
use super::records::{BrandRec, CategoryRec, ProductRec, Rec, Record, ReviewRec, UserRec, decode};
use super::tables::*;
use super::write::prefix_end;
use crate::domain::listing::RatingSummary;
use redb::{ReadOnlyTable, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::cell::OnceCell;

type RecordTable = ReadOnlyTable<&'static str, &'static [u8]>;

pub struct ReadTxn {
    pub(super) txn: redb::ReadTransaction,
    products: OnceCell<RecordTable>,
    brands: OnceCell<RecordTable>,
    categories: OnceCell<RecordTable>,
    users: OnceCell<RecordTable>,
    reviews: OnceCell<RecordTable>,
}

/// How many records each table holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableCounts {
    pub brands: u64,
    pub categories: u64,
    pub products: u64,
    pub reviews: u64,
    pub users: u64,
}

impl ReadTxn {
    pub(crate) fn new(txn: redb::ReadTransaction) -> Self {
        ReadTxn {
            txn,
            products: OnceCell::new(),
            brands: OnceCell::new(),
            categories: OnceCell::new(),
            users: OnceCell::new(),
            reviews: OnceCell::new(),
        }
    }

    fn table<'s>(
        &self,
        cell: &'s OnceCell<RecordTable>,
        def: TableDefinition<'static, &'static str, &'static [u8]>,
    ) -> StoreResult<&'s RecordTable> {
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
        self.get(&self.products, PRODUCTS, id)
    }
    pub fn brand(&self, id: &str) -> StoreResult<Option<Rec<BrandRec>>> {
        self.get(&self.brands, BRANDS, id)
    }
    pub fn category(&self, id: &str) -> StoreResult<Option<Rec<CategoryRec>>> {
        self.get(&self.categories, CATEGORIES, id)
    }
    pub fn user(&self, id: &str) -> StoreResult<Option<Rec<UserRec>>> {
        self.get(&self.users, USERS, id)
    }
    pub fn review(&self, id: &str) -> StoreResult<Option<Rec<ReviewRec>>> {
        self.get(&self.reviews, REVIEWS, id)
    }

    pub fn rating(&self, product_id: &str) -> StoreResult<RatingSummary> {
        let t = self.txn.open_table(PRODUCT_RATINGS)?;
        Ok(t.get(product_id)?.map_or(RatingSummary::default(), |g| {
            let (count, sum) = g.value();
            RatingSummary { count, sum }
        }))
    }

    /// Reviews of a product, newest first (then id descending), skipping
    /// `offset`. Reads `offset + limit` index keys and `limit` records.
    pub fn reviews_of(
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
    pub fn brands_page(&self, offset: u64, limit: usize) -> StoreResult<(Vec<Rec<BrandRec>>, u64)> {
        let total = self.table(&self.brands, BRANDS)?.len()?;
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
    pub fn categories(&self) -> StoreResult<Vec<Rec<CategoryRec>>> {
        let t = self.table(&self.categories, CATEGORIES)?;
        let mut out = Vec::new();
        for item in t.range::<&str>(..)? {
            let (k, v) = item?;
            out.push(Rec::new(k.value(), v));
        }
        Ok(out)
    }

    /// Direct children of a category.
    pub fn children(&self, id: &str) -> StoreResult<Vec<Rec<CategoryRec>>> {
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

    /// The search synonym groups (empty when never set).
    pub fn synonyms(&self) -> StoreResult<crate::domain::search::Synonyms> {
        let t = self.txn.open_table(SEARCH_SYNONYMS)?;
        match t.get("v1")? {
            Some(g) => decode::<super::records::SynonymsRec>(g.value(), "v1"),
            None => Ok(Default::default()),
        }
    }

    /// The `limit` most searched texts and the `limit` most searched texts
    /// that found nothing, each `(text, count)`, most first.
    pub fn top_queries(&self, limit: usize) -> StoreResult<QueryCounts> {
        let t = self.txn.open_table(SEARCH_QUERIES)?;
        let mut all = Vec::new();
        let mut zero = Vec::new();
        for item in t.iter()? {
            let (k, v) = item?;
            let (n, z) = v.value();
            all.push((k.value().to_string(), n));
            if z > 0 {
                zero.push((k.value().to_string(), z));
            }
        }
        let order =
            |a: &(String, u64), b: &(String, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0));
        all.sort_by(order);
        zero.sort_by(order);
        all.truncate(limit);
        zero.truncate(limit);
        Ok(QueryCounts { all, zero })
    }

    /// Every product id, in order, from `after` (exclusive) on, at most `limit`.
    pub fn product_ids(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<String>> {
        let t = self.table(&self.products, PRODUCTS)?;
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
            users: self.txn.open_table(USERS)?.len()?,
        })
    }

    /// Calls `f` with every record of a table as an owned domain value, in id
    /// order. For export.
    pub fn for_each<R: Record, E: From<super::StoreError>>(
        &self,
        def: TableDefinition<'static, &'static str, &'static [u8]>,
        mut f: impl FnMut(R::Domain) -> Result<(), E>,
    ) -> Result<(), E> {
        let t = self.txn.open_table(def).map_err(super::StoreError::from)?;
        for item in t.iter().map_err(super::StoreError::from)? {
            let (k, v) = item.map_err(super::StoreError::from)?;
            f(decode::<R>(v.value(), k.value())?)?;
        }
        Ok(())
    }
}

/// Search analytics as stored: `(text, count)` pairs, most first.
#[derive(Debug, Default)]
pub struct QueryCounts {
    /// Most searched texts.
    pub all: Vec<(String, u64)>,
    /// Most searched texts that found nothing.
    pub zero: Vec<(String, u64)>,
}
