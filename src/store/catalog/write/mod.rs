//! The catalogue's part of a write transaction: records, list indexes,
//! counters, rating aggregates, category ancestry, and what the commit must
//! tell search and caches ([`CatalogChanges`]).
//!
//! # Invariants kept here
//! - Index entries and counters of a product always describe its committed
//!   record, its rating aggregate and the category tree. A write "touches" a
//!   product before changing anything that decides its entries: touching
//!   removes the entries and counters of the *old* state and marks the product
//!   dirty; [`CatalogWriter::flush`], run once when the transaction commits,
//!   adds entries for the *final* state of every dirty product, sorted, and
//!   applies the summed counter changes. So any sequence of changes in one
//!   transaction leaves the indexes exact, a batch of writes pays for shared
//!   counters once, and a bulk import writes each product's entries once,
//!   after its reviews.
//! - Until that flush, the catalogue's own reads inside the transaction take
//!   the deferred state into account: counts add the pending counter changes
//!   and the current state of dirty products; scans of a scope leave dirty
//!   products out (they are re-indexed from their final state anyway).
//! - `PRODUCT_RATINGS` changes in the transaction that adds, replaces or
//!   deletes a review; reads see stored + pending.
//! - Every table change goes through the undo-logged [`Tables`], and every
//!   change to [`Pending`] is journaled, so a write that fails is taken back
//!   without touching its batch-mates ([`Pending::undo`]).

use super::index::{self, IndexFacts, IndexKind, Scope};
use super::records::{BrandRec, CategoryRec, ProductRec, ReviewRec, ReviewerRec};
use super::tables::*;
use crate::domain::{Brand, Category, Product, Review, Reviewer};
use crate::store::codec::{Record, decode};
use crate::store::db::undo::Tables;
use crate::store::error::StoreResult;
use crate::store::keys::{self, prefix_end};
use redb::{ReadableTable, TableDefinition};
use std::collections::{BTreeSet, HashMap, HashSet};

mod upkeep;

/// Deepest category chain we follow; deeper means a cycle slipped in.
const MAX_CATEGORY_DEPTH: usize = 64;

/// Index work the transaction has deferred to [`CatalogWriter::flush`].
#[derive(Default)]
pub(crate) struct Pending {
    /// Products whose old index entries are already removed in this
    /// transaction; their final entries are added by `flush`.
    dirty: HashSet<String>,
    /// Pending counter changes, applied by `flush`.
    counters: HashMap<Vec<u8>, i64>,
    /// Category id → itself and its ancestors. Valid until a parent changes;
    /// kept across the writes of a batch, dropped when one is undone.
    closures: HashMap<String, Vec<String>>,
    /// Pending `(count, sum)` changes of `PRODUCT_RATINGS`, applied by
    /// `flush`; reads see stored + pending.
    ratings: HashMap<String, (i64, i64)>,
    /// How to take back what the write in progress did to the above.
    journal: Journal,
    /// Off for a transaction of its own (an import), which is never taken
    /// back write by write.
    pub(crate) journaling: bool,
}

/// The inverse of one write's changes to [`Pending`].
#[derive(Default)]
struct Journal {
    dirty: Vec<String>,
    counters: Vec<(Vec<u8>, i64)>,
    ratings: Vec<(String, (i64, i64))>,
    /// Entries of `ratings` the write removed, to put back.
    ratings_removed: Vec<(String, (i64, i64))>,
}

impl Pending {
    /// `journaling`: whether writes can be taken back one by one.
    pub(crate) fn new(journaling: bool) -> Pending {
        Pending {
            journaling,
            ..Pending::default()
        }
    }

    /// The write in progress is kept.
    pub(crate) fn keep(&mut self) {
        self.journal = Journal::default();
    }

    /// Takes back what the write in progress deferred.
    pub(crate) fn undo(&mut self) {
        let j = std::mem::take(&mut self.journal);
        for id in j.dirty {
            self.dirty.remove(&id);
        }
        for (k, d) in j.counters {
            if let Some(c) = self.counters.get_mut(&k) {
                *c -= d;
            }
        }
        for (id, (dc, ds)) in j.ratings {
            if let Some(r) = self.ratings.get_mut(&id) {
                r.0 -= dc;
                r.1 -= ds;
            }
        }
        for (id, r) in j.ratings_removed {
            self.ratings.insert(id, r);
        }
        // Lineage may have been read from categories the write changed.
        self.closures.clear();
    }
}

/// What a write changed in the catalogue: the records and list scopes (for
/// caches of rendered reads) and the products whose search documents may
/// have changed. A read that showed none of them before the commit shows the
/// same after it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CatalogChanges {
    /// Products written, deleted or re-rated (their detail and reviews).
    pub products: BTreeSet<String>,
    /// Brand records written or deleted.
    pub brands: BTreeSet<String>,
    /// Category records written or deleted, and the parents that gained or
    /// lost a child.
    pub categories: BTreeSet<String>,
    /// Reviewer records written (reviews show the author's name).
    pub reviewers: BTreeSet<String>,
    /// Whether any product list changed: members, order or totals.
    pub lists: bool,
    /// Brand scopes of those lists: the brand of every touched product,
    /// before and after.
    pub list_brands: BTreeSet<String>,
    /// Category scopes of those lists: every category (with ancestors) of
    /// every touched product, before and after.
    pub list_categories: BTreeSet<String>,
    /// Products whose search document may have changed (written, deleted,
    /// reviewed, or showing a renamed brand or category).
    pub search_products: BTreeSet<String>,
    /// Media records written or deleted (products show their alt text and
    /// size).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub media: BTreeSet<String>,
}

impl CatalogChanges {
    fn list_scopes_of(&mut self, f: &IndexFacts) {
        self.lists = true;
        self.list_brands.insert(f.brand.clone());
        self.list_categories.extend(f.categories.iter().cloned());
    }

    pub(crate) fn merge(&mut self, other: CatalogChanges) {
        let CatalogChanges {
            mut products,
            mut brands,
            mut categories,
            mut reviewers,
            lists,
            mut list_brands,
            mut list_categories,
            mut search_products,
            mut media,
        } = other;
        self.products.append(&mut products);
        self.brands.append(&mut brands);
        self.categories.append(&mut categories);
        self.reviewers.append(&mut reviewers);
        self.lists |= lists;
        self.list_brands.append(&mut list_brands);
        self.list_categories.append(&mut list_categories);
        self.search_products.append(&mut search_products);
        self.media.append(&mut media);
    }
}

fn get_domain<R: Record>(
    tables: &Tables,
    def: TableDefinition<'static, &'static str, &'static [u8]>,
    id: &str,
) -> StoreResult<Option<R::Domain>> {
    let t = tables.open(def)?;
    let v = t.get(id)?;
    v.map(|g| decode::<R>(g.value(), id)).transpose()
}

fn review_key(r: &Review) -> Vec<u8> {
    let mut k = Vec::with_capacity(r.product_id.as_str().len() + r.id.as_str().len() + 9);
    keys::push_id(&mut k, r.product_id.as_str());
    k.extend_from_slice(&keys::time_asc(r.created_at.millis()));
    k.extend_from_slice(r.id.as_str().as_bytes());
    k
}

fn title_key(title: &str, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(title.len() + id.len() + 1);
    keys::push_id(&mut k, title);
    k.extend_from_slice(id.as_bytes());
    k
}

fn child_key(parent: Option<&str>, child: &str) -> Vec<u8> {
    let mut k = Vec::new();
    keys::push_id(&mut k, parent.unwrap_or(""));
    k.extend_from_slice(child.as_bytes());
    k
}

/// The catalogue's part of a write transaction (see `WriteTxn::catalog`).
pub struct CatalogWriter<'w> {
    pub(crate) tables: &'w Tables,
    pub(crate) pending: &'w mut Pending,
    pub(crate) changes: &'w mut CatalogChanges,
}

impl CatalogWriter<'_> {
    // ---- reads inside the transaction ---------------------------------------------------

    pub(crate) fn product(&self, id: &str) -> StoreResult<Option<Product>> {
        get_domain::<ProductRec>(self.tables, PRODUCTS, id)
    }

    pub(crate) fn brand(&self, id: &str) -> StoreResult<Option<Brand>> {
        get_domain::<BrandRec>(self.tables, BRANDS, id)
    }

    pub fn category(&self, id: &str) -> StoreResult<Option<Category>> {
        get_domain::<CategoryRec>(self.tables, CATEGORIES, id)
    }

    pub(crate) fn review(&self, id: &str) -> StoreResult<Option<Review>> {
        get_domain::<ReviewRec>(self.tables, REVIEWS, id)
    }

    fn exists(
        &self,
        def: TableDefinition<'static, &'static str, &'static [u8]>,
        id: &str,
    ) -> StoreResult<bool> {
        Ok(self.tables.open(def)?.get(id)?.is_some())
    }

    pub fn product_exists(&self, id: &str) -> StoreResult<bool> {
        self.exists(PRODUCTS, id)
    }
    pub(crate) fn brand_exists(&self, id: &str) -> StoreResult<bool> {
        self.exists(BRANDS, id)
    }
    pub(crate) fn category_exists(&self, id: &str) -> StoreResult<bool> {
        self.exists(CATEGORIES, id)
    }
    pub(crate) fn reviewer_exists(&self, id: &str) -> StoreResult<bool> {
        self.exists(REVIEWERS, id)
    }
    pub(crate) fn review_exists(&self, id: &str) -> StoreResult<bool> {
        self.exists(REVIEWS, id)
    }

    /// `id` followed by its ancestors, nearest first. Stops at a missing
    /// parent or after `MAX_CATEGORY_DEPTH` steps.
    pub(crate) fn category_lineage(&mut self, id: &str) -> StoreResult<Vec<String>> {
        if let Some(c) = self.pending.closures.get(id) {
            return Ok(c.clone());
        }
        let table = self.tables.open(CATEGORIES)?;
        let mut chain = vec![id.to_string()];
        let mut cur = id.to_string();
        while chain.len() < MAX_CATEGORY_DEPTH {
            let parent = match table.get(cur.as_str())? {
                Some(g) => decode::<CategoryRec>(g.value(), &cur)?.parent_id,
                None => None,
            };
            match parent {
                Some(p) if !chain.iter().any(|c| c == p.as_str()) => {
                    cur = p.into_string();
                    chain.push(cur.clone());
                }
                _ => break,
            }
        }
        drop(table);
        self.pending.closures.insert(id.to_string(), chain.clone());
        Ok(chain)
    }

    /// Direct children of a category.
    pub(crate) fn category_children(&self, id: &str) -> StoreResult<Vec<String>> {
        let t = self.tables.open(CATEGORY_CHILDREN)?;
        let lo = child_key(Some(id), "");
        let hi = prefix_end(&lo);
        let mut out = Vec::new();
        for item in t.range::<&[u8]>(lo.as_slice()..hi.as_slice())? {
            let (k, _) = item?;
            out.push(String::from_utf8_lossy(&k.value()[lo.len()..]).into_owned());
        }
        Ok(out)
    }

    /// Products in a scope (both availability partitions) as indexed,
    /// without the dirty ones: their entries are written from their final
    /// state when the transaction commits, whatever the caller does now.
    fn products_in(&mut self, scope: Scope<'_>) -> StoreResult<Vec<String>> {
        let t = self.tables.open(BY_PRICE)?;
        let mut out = Vec::new();
        for avail in [false, true] {
            let lo = scope.partition(avail);
            let hi = prefix_end(&lo);
            let skip = lo.len() + IndexKind::Price.sort_key_len();
            for item in t.range::<&[u8]>(lo.as_slice()..hi.as_slice())? {
                let (k, _) = item?;
                out.push(String::from_utf8_lossy(&k.value()[skip..]).into_owned());
            }
        }
        Ok(out)
    }

    /// Number of products of a brand (including writes earlier in this
    /// transaction).
    pub(crate) fn brand_product_count(&mut self, brand_id: &str) -> StoreResult<u64> {
        self.count(Scope::Brand(brand_id))
    }

    /// Number of products in a category or its descendants (including writes
    /// earlier in this transaction).
    pub(crate) fn category_product_count(&mut self, category_id: &str) -> StoreResult<u64> {
        self.count(Scope::Category(category_id))
    }

    /// Number of products in a scope now: stored counters, plus pending
    /// counter changes, plus the current state of dirty products (whose
    /// counters are added at flush).
    fn count(&mut self, scope: Scope<'_>) -> StoreResult<u64> {
        let mut n: i64 = 0;
        {
            let t = self.tables.open(PRODUCT_COUNTS)?;
            for avail in [false, true] {
                let k = index::counter_key(&scope.partition(avail), index::TOTAL_LEVEL, 0);
                n += t.get(k.as_slice())?.map_or(0, |g| g.value()) as i64;
                n += self.pending.counters.get(&k).copied().unwrap_or(0);
            }
        }
        let mut dirty: Vec<String> = self.pending.dirty.iter().cloned().collect();
        dirty.sort_unstable();
        for id in dirty {
            if let Some(f) = self.facts(&id)?
                && f.scopes().contains(&scope)
            {
                n += 1;
            }
        }
        Ok(n.max(0) as u64)
    }

    // ---- writes ---------------------------------------------------------------------------

    /// Inserts or replaces a product. The caller has checked its references.
    pub fn put_product(&mut self, p: &Product) -> StoreResult<()> {
        self.touch(p.id.as_str())?;
        let bytes = ProductRec::encode(p);
        self.tables
            .open(PRODUCTS)?
            .insert(p.id.as_str(), bytes.as_slice())?;
        Ok(())
    }

    /// Sets a product's stock (orders and cancellations): the record and
    /// the caches of its detail and of the lists it is in change; no index
    /// entry, counter or search document depends on stock, so none is
    /// touched. `None` if the product is gone; else its stock before.
    pub(crate) fn set_stock(&mut self, id: &str, stock: u32) -> StoreResult<Option<u32>> {
        let Some(mut p) = self.product(id)? else {
            return Ok(None);
        };
        let before = p.stock;
        p.stock = stock;
        self.changes.products.insert(id.to_string());
        if let Some(f) = self.facts(id)? {
            self.changes.list_scopes_of(&f);
        }
        let bytes = ProductRec::encode(&p);
        self.tables.open(PRODUCTS)?.insert(id, bytes.as_slice())?;
        Ok(Some(before))
    }

    /// Deletes a product with its reviews and aggregate. `false` if absent.
    pub fn delete_product(&mut self, id: &str) -> StoreResult<bool> {
        if !self.product_exists(id)? {
            return Ok(false);
        }
        self.touch(id)?;
        self.tables.open(PRODUCTS)?.remove(id)?;
        self.tables.open(PRODUCT_RATINGS)?.remove(id)?;
        if let Some(r) = self.pending.ratings.remove(id)
            && self.pending.journaling
        {
            self.pending
                .journal
                .ratings_removed
                .push((id.to_string(), r));
        }
        let mut index = self.tables.open(REVIEWS_BY_PRODUCT)?;
        let mut reviews = self.tables.open(REVIEWS)?;
        let mut lo = Vec::new();
        keys::push_id(&mut lo, id);
        let hi = prefix_end(&lo);
        let skip = lo.len() + 8;
        let doomed: Vec<Vec<u8>> = index
            .range::<&[u8]>(lo.as_slice()..hi.as_slice())?
            .map(|item| item.map(|(k, _)| k.value().to_vec()))
            .collect::<Result<_, _>>()?;
        for k in doomed {
            index.remove(k.as_slice())?;
            reviews.remove(String::from_utf8_lossy(&k[skip..]).as_ref())?;
        }
        Ok(true)
    }

    pub fn put_brand(&mut self, b: &Brand) -> StoreResult<()> {
        self.changes.brands.insert(b.id.to_string());
        let renamed = self
            .brand(b.id.as_str())?
            .is_some_and(|old| old.title != b.title);
        if renamed {
            // Search documents carry the brand title.
            let products = self.products_in(Scope::Brand(b.id.as_str()))?;
            self.changes.search_products.extend(products);
        }
        let mut by_title = self.tables.open(BRANDS_BY_TITLE)?;
        if let Some(old) = get_domain::<BrandRec>(self.tables, BRANDS, b.id.as_str())? {
            by_title.remove(title_key(&old.title, old.id.as_str()).as_slice())?;
        }
        by_title.insert(title_key(&b.title, b.id.as_str()).as_slice(), ())?;
        let bytes = BrandRec::encode(b);
        self.tables
            .open(BRANDS)?
            .insert(b.id.as_str(), bytes.as_slice())?;
        Ok(())
    }

    /// Deletes a brand. The caller has checked that no product uses it.
    pub(crate) fn delete_brand(&mut self, id: &str) -> StoreResult<bool> {
        let Some(old) = self.brand(id)? else {
            return Ok(false);
        };
        self.changes.brands.insert(id.to_string());
        self.tables
            .open(BRANDS_BY_TITLE)?
            .remove(title_key(&old.title, id).as_slice())?;
        self.tables.open(BRANDS)?.remove(id)?;
        Ok(true)
    }

    /// Inserts or replaces a category. The caller has checked that the parent
    /// exists and that the change makes no cycle. Moving a category re-indexes
    /// every product under it.
    pub fn put_category(&mut self, c: &Category) -> StoreResult<()> {
        let old = self.category(c.id.as_str())?;
        let old_parent = old.as_ref().and_then(|o| o.parent_id.clone());
        self.changes.categories.insert(c.id.to_string());
        self.changes
            .categories
            .extend(old_parent.iter().map(|p| p.to_string()));
        self.changes
            .categories
            .extend(c.parent_id.iter().map(|p| p.to_string()));
        if old.as_ref().is_some_and(|o| o.title != c.title) {
            // Search documents carry the titles of categories and ancestors.
            let products = self.products_in(Scope::Category(c.id.as_str()))?;
            self.changes.search_products.extend(products);
        }
        if old.is_some() && old_parent != c.parent_id {
            // Touch with the old tree still in place, so the old entries go.
            for pid in self.products_in(Scope::Category(c.id.as_str()))? {
                self.touch(&pid)?;
            }
        }
        let mut children = self.tables.open(CATEGORY_CHILDREN)?;
        if old.is_some() {
            children.remove(
                child_key(old_parent.as_ref().map(|p| p.as_str()), c.id.as_str()).as_slice(),
            )?;
        }
        children.insert(
            child_key(c.parent_id.as_ref().map(|p| p.as_str()), c.id.as_str()).as_slice(),
            (),
        )?;
        drop(children);
        let bytes = CategoryRec::encode(c);
        self.tables
            .open(CATEGORIES)?
            .insert(c.id.as_str(), bytes.as_slice())?;
        self.pending.closures.clear();
        Ok(())
    }

    /// Deletes a category. The caller has checked it has no children and no
    /// products.
    pub(crate) fn delete_category(&mut self, id: &str) -> StoreResult<bool> {
        let Some(old) = self.category(id)? else {
            return Ok(false);
        };
        self.changes.categories.insert(id.to_string());
        self.changes
            .categories
            .extend(old.parent_id.iter().map(|p| p.to_string()));
        self.tables
            .open(CATEGORY_CHILDREN)?
            .remove(child_key(old.parent_id.as_ref().map(|p| p.as_str()), id).as_slice())?;
        self.tables.open(CATEGORIES)?.remove(id)?;
        self.pending.closures.clear();
        Ok(true)
    }

    /// Inserts or replaces a review and updates its product's aggregate. The
    /// caller has checked that the product and user exist.
    pub fn put_review(&mut self, r: &Review) -> StoreResult<()> {
        if let Some(old) = self.review(r.id.as_str())? {
            self.touch(old.product_id.as_str())?;
            self.add_rating(old.product_id.as_str(), old.rating.get(), -1);
            self.tables
                .open(REVIEWS_BY_PRODUCT)?
                .remove(review_key(&old).as_slice())?;
        }
        self.touch(r.product_id.as_str())?;
        self.add_rating(r.product_id.as_str(), r.rating.get(), 1);
        self.tables
            .open(REVIEWS_BY_PRODUCT)?
            .insert(review_key(r).as_slice(), ())?;
        let bytes = ReviewRec::encode(r);
        self.tables
            .open(REVIEWS)?
            .insert(r.id.as_str(), bytes.as_slice())?;
        Ok(())
    }

    /// Hides a review (moderation): out of its product's reviews and
    /// rating, kept aside to be shown again. `false` if there is no such
    /// visible review.
    pub(crate) fn hide_review(&mut self, id: &str) -> StoreResult<bool> {
        let Some(old) = self.review(id)? else {
            return Ok(false);
        };
        self.touch(old.product_id.as_str())?;
        self.add_rating(old.product_id.as_str(), old.rating.get(), -1);
        self.tables
            .open(REVIEWS_BY_PRODUCT)?
            .remove(review_key(&old).as_slice())?;
        self.tables.open(REVIEWS)?.remove(id)?;
        self.tables
            .open(HIDDEN_REVIEWS)?
            .insert(id, ReviewRec::encode(&old).as_slice())?;
        Ok(true)
    }

    /// Shows a hidden review again. `None` if there is no such hidden
    /// review; `Some(false)` if its product is gone (it stays hidden).
    pub(crate) fn show_review(&mut self, id: &str) -> StoreResult<Option<bool>> {
        let review = {
            let t = self.tables.open(HIDDEN_REVIEWS)?;
            let found = t.get(id)?;
            match found {
                Some(g) => super::super::codec::decode::<ReviewRec>(g.value(), id)?,
                None => return Ok(None),
            }
        };
        if !self.product_exists(review.product_id.as_str())? {
            return Ok(Some(false));
        }
        self.tables.open(HIDDEN_REVIEWS)?.remove(id)?;
        self.put_review(&review)?;
        Ok(Some(true))
    }

    pub fn put_reviewer(&mut self, u: &Reviewer) -> StoreResult<()> {
        self.changes.reviewers.insert(u.id.to_string());
        let bytes = ReviewerRec::encode(u);
        self.tables
            .open(REVIEWERS)?
            .insert(u.id.as_str(), bytes.as_slice())?;
        Ok(())
    }
}

impl CatalogWriter<'_> {
    /// Whether an image record `id` exists.
    pub(crate) fn media_exists(&self, id: &crate::domain::media::MediaId) -> StoreResult<bool> {
        Ok(self
            .tables
            .open(crate::store::media::MEDIA)?
            .get(id.as_str())?
            .is_some())
    }

    /// Calls `f(product id, image)` for every image of every product as
    /// this write sees them (decodes every product: for rare checks, such
    /// as whether an image about to be removed is still shown).
    pub(crate) fn for_each_image(&self, mut f: impl FnMut(&str, &str)) -> StoreResult<()> {
        let t = self.tables.open(PRODUCTS)?;
        for row in t.iter()? {
            let (k, v) = row?;
            let p = decode::<ProductRec>(v.value(), k.value())?;
            for image in &p.images {
                f(k.value(), image);
            }
        }
        Ok(())
    }
}
