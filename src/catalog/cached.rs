//! What the API serves: every public read goes through the response cache.
//!
//! - Keys are made from the parsed request (`Debug` of the domain query), so
//!   query strings that mean the same thing share one entry.
//! - Each rendered body carries the tags of everything it shows ([`tag`]);
//!   after each commit, the application's commit dispatch bumps the tags of
//!   what it changed ([`tag::of_changes`]), on the writer's thread, before
//!   the write is acknowledged. Search entries are keyed on the index
//!   generation instead: they follow the index, which follows storage within
//!   about a second.

use super::{Catalog, CatalogResult};
use crate::cache::{Kind, Kinds, ResponseCache, Served, Wanted};
use crate::config::cache::{CacheClass, Ttls};
use crate::domain::listing::{PageRequest, ProductFilter, ProductQuery, ProductSort};
use crate::domain::search::{SearchQuery, SuggestQuery};
use std::sync::Arc;

/// The tags cached bodies carry, and the ones a commit bumps.
pub(crate) mod tag {
    use crate::cache::Tag;
    use crate::domain::listing::ProductFilter;
    use crate::store::ChangeSet;

    /// A product's own fields, rating and reviews.
    pub(crate) fn product(id: &str) -> Tag {
        Tag::new("product", id)
    }
    /// A brand's fields, wherever they are shown.
    pub(crate) fn brand(id: &str) -> Tag {
        Tag::new("brand", id)
    }
    /// A category's fields and its children, wherever they are shown.
    pub(crate) fn category(id: &str) -> Tag {
        Tag::new("category", id)
    }
    /// An image's alt text and size, shown on the products that use it.
    pub(crate) fn media(id: &str) -> Tag {
        Tag::new("media", id)
    }
    /// A reviewer's name, shown on their reviews.
    pub(crate) fn reviewer(id: &str) -> Tag {
        Tag::new("reviewer", id)
    }
    /// The set of brands (the brands list).
    pub(crate) fn brands() -> Tag {
        Tag::new("brands", "")
    }
    /// The category forest.
    pub(crate) fn categories() -> Tag {
        Tag::new("categories", "")
    }
    pub(crate) fn synonyms() -> Tag {
        Tag::new("synonyms", "")
    }
    fn lists_all() -> Tag {
        Tag::new("list", "")
    }
    fn lists_of_brand(id: &str) -> Tag {
        Tag::new("list-brand", id)
    }
    fn lists_of_category(id: &str) -> Tag {
        Tag::new("list-category", id)
    }

    /// The membership of a product list: a list filtered by brand changes
    /// only with that brand's products (whatever else it filters on), one
    /// filtered by category only with that subtree's, others with any.
    pub(crate) fn list_scope(f: &ProductFilter) -> Tag {
        match (&f.brand, &f.category) {
            (Some(b), _) => lists_of_brand(b.as_str()),
            (None, Some(c)) => lists_of_category(c.as_str()),
            (None, None) => lists_all(),
        }
    }

    /// Everything a commit may have changed for readers.
    pub(crate) fn of_changes(changes: &ChangeSet) -> Vec<Tag> {
        let c = &changes.catalog;
        let mut tags = Vec::new();
        tags.extend(c.products.iter().map(|id| product(id)));
        tags.extend(c.brands.iter().map(|id| brand(id)));
        tags.extend(c.categories.iter().map(|id| category(id)));
        tags.extend(c.reviewers.iter().map(|id| reviewer(id)));
        tags.extend(c.media.iter().map(|id| media(id)));
        if !c.brands.is_empty() {
            tags.push(brands());
        }
        if !c.categories.is_empty() {
            tags.push(categories());
        }
        if c.lists {
            tags.push(lists_all());
            tags.extend(c.list_brands.iter().map(|id| lists_of_brand(id)));
            tags.extend(c.list_categories.iter().map(|id| lists_of_category(id)));
        }
        if changes.search_settings.synonyms.is_some() {
            tags.push(synonyms());
        }
        tags
    }
}

/// Product detail pages warmed at start: the first featured products.
const WARM_DETAILS: u64 = 100;

/// The catalogue's kinds of cached bodies, registered with the response
/// cache; each takes its cache class's TTL.
#[derive(Debug, Clone, Copy)]
pub struct CacheKinds {
    pub product_detail: Kind,
    pub product_list: Kind,
    pub reviews: Kind,
    pub search: Kind,
    pub brands: Kind,
    pub categories: Kind,
}

impl CacheKinds {
    /// Registers the catalogue's kinds in `kinds`.
    pub(crate) fn register(kinds: &mut Kinds, ttls: &Ttls) -> CacheKinds {
        let mut kind = |name, class| kinds.register(name, ttls.of(class).unwrap_or_default());
        CacheKinds {
            product_detail: kind("product_detail", CacheClass::Detail),
            product_list: kind("product_list", CacheClass::List),
            reviews: kind("reviews", CacheClass::Detail),
            search: kind("search", CacheClass::List),
            brands: kind("brands", CacheClass::Taxonomy),
            categories: kind("categories", CacheClass::Taxonomy),
        }
    }

    /// A cache of `capacity_bytes` (0: off) holding the catalogue's kinds
    /// alone (tools, tests).
    pub(crate) fn alone(capacity_bytes: u64, ttls: &Ttls) -> (Arc<ResponseCache>, CacheKinds) {
        let mut kinds = Kinds::default();
        let own = CacheKinds::register(&mut kinds, ttls);
        (Arc::new(ResponseCache::new(capacity_bytes, kinds)), own)
    }
}

impl Catalog {
    pub(crate) fn cache(&self) -> &ResponseCache {
        &self.cache
    }

    /// The cache key `f` makes, or nothing when caching is off: the key is
    /// then never read, and formatting it cost a few per cent of an
    /// uncached list page.
    fn key(&self, f: impl FnOnce() -> String) -> String {
        if self.cache.enabled() {
            f()
        } else {
            String::new()
        }
    }

    /// `GET /products/{id}`; `wanted`: the form the caller sends it in.
    pub(crate) async fn serve_product(&self, id: &str, wanted: Wanted) -> CatalogResult<Served> {
        self.cache
            .get_or_compute(self.kinds.product_detail, id, wanted, || {
                self.product_detail(id)
            })
            .await
    }

    /// `GET /products`.
    pub(crate) async fn serve_products(
        &self,
        q: &ProductQuery,
        wanted: Wanted,
    ) -> CatalogResult<Served> {
        let key = self.key(|| format!("{q:?}"));
        self.cache
            .get_or_compute(self.kinds.product_list, &key, wanted, || {
                self.list_products(q)
            })
            .await
    }

    /// `GET /products/{id}/reviews`.
    pub(crate) async fn serve_reviews(
        &self,
        id: &str,
        page: PageRequest,
        wanted: Wanted,
    ) -> CatalogResult<Served> {
        let key = self.key(|| format!("{id} {page:?}"));
        self.cache
            .get_or_compute(self.kinds.reviews, &key, wanted, || {
                self.product_reviews(id, page)
            })
            .await
    }

    /// `GET /brands`.
    pub(crate) async fn serve_brands(
        &self,
        page: PageRequest,
        wanted: Wanted,
    ) -> CatalogResult<Served> {
        let key = self.key(|| format!("{page:?}"));
        self.cache
            .get_or_compute(self.kinds.brands, &key, wanted, || self.list_brands(page))
            .await
    }

    /// `GET /brands/{id}`.
    pub(crate) async fn serve_brand(&self, id: &str, wanted: Wanted) -> CatalogResult<Served> {
        let key = self.key(|| format!("id {id}"));
        self.cache
            .get_or_compute(self.kinds.brands, &key, wanted, || self.brand(id))
            .await
    }

    /// `GET /categories`.
    pub(crate) async fn serve_categories(&self, wanted: Wanted) -> CatalogResult<Served> {
        self.cache
            .get_or_compute(self.kinds.categories, "", wanted, || self.category_tree())
            .await
    }

    /// `GET /categories/{id}`.
    pub(crate) async fn serve_category(&self, id: &str, wanted: Wanted) -> CatalogResult<Served> {
        let key = self.key(|| format!("id {id}"));
        self.cache
            .get_or_compute(self.kinds.categories, &key, wanted, || self.category(id))
            .await
    }

    /// `GET /search`: cached per index generation; counted for analytics
    /// whether or not it was cached. A miss runs on the calling worker: the
    /// blocking pool measured worse under load (more threads sharing the
    /// same two cores lengthened every query's tail).
    pub(crate) async fn serve_search(
        &self,
        q: &SearchQuery,
        wanted: Wanted,
    ) -> CatalogResult<Served> {
        let generation = self.search_index().map_or(0, |i| i.generation());
        let key = self.key(|| format!("{generation} {q:?}"));
        let s = self
            .cache
            .get_or_compute(self.kinds.search, &key, wanted, || self.search(q))
            .await?;
        self.record_search(&q.text, s.meta);
        Ok(s)
    }

    /// `GET /search/suggest` through the response cache (keyed on the index
    /// generation, like search). Not counted in analytics: a keystroke is
    /// not a query.
    pub(crate) async fn serve_suggest(
        &self,
        q: &SuggestQuery,
        wanted: Wanted,
    ) -> CatalogResult<Served> {
        let generation = self.search_index().map_or(0, |i| i.generation());
        let key = self.key(|| format!("suggest {generation} {q:?}"));
        self.cache
            .get_or_compute(self.kinds.search, &key, wanted, || self.suggest(q))
            .await
    }

    /// Fills the cache with what a storefront asks first: the first page of
    /// every product sort, the detail of the first featured products, the
    /// first brands page and the category tree. Blocks; returns the number
    /// of bodies rendered.
    pub(crate) fn warm_up(&self) -> CatalogResult<usize> {
        if !self.cache.enabled() {
            return Ok(0);
        }
        let first = PageRequest::new(1, PageRequest::DEFAULT_LIMIT).expect("valid page");
        let mut n = 0;
        for sort in ProductSort::ALL {
            let q = ProductQuery {
                filter: ProductFilter::default(),
                sort,
                page: first,
            };
            let key = format!("{q:?}");
            self.cache
                .get_or_compute_blocking(self.kinds.product_list, &key, || {
                    self.list_products(&q)
                })?;
            n += 1;
        }
        let featured = {
            let txn = self.store.read()?;
            let page = txn.catalog().list_products(
                &ProductFilter::default(),
                ProductSort::Featured,
                0,
                WARM_DETAILS as usize,
            )?;
            page.hits.into_iter().map(|h| h.id).collect::<Vec<_>>()
        };
        for id in &featured {
            match self
                .cache
                .get_or_compute_blocking(self.kinds.product_detail, id, || self.product_detail(id))
            {
                Ok(_) => n += 1,
                // Deleted since the list was read: nothing to warm.
                Err(super::CatalogError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.cache
            .get_or_compute_blocking(self.kinds.brands, &format!("{first:?}"), || {
                self.list_brands(first)
            })?;
        self.cache
            .get_or_compute_blocking(self.kinds.categories, "", || self.category_tree())?;
        Ok(n + 2)
    }
}
