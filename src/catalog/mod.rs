//! Catalogue use cases: the only layer that coordinates storage, search and
//! the response cache.
//!
//! Reads return finished JSON bodies rendered straight from archived records;
//! writes take validated domain drafts, check what only the database can tell
//! (references, duplicates, usage) inside the write transaction, and are
//! awaited until durable (the store's writer runs them: group commit).
//! Nothing here knows about HTTP.
//!
//! The catalogue owns none of the platform: it is given the store, the
//! search engine and the response cache (whose kinds it registers,
//! [`CacheKinds`]), as every service is.

mod cached;
pub mod demo;
pub(crate) mod export;
pub mod import;
pub mod json;
mod reads;
pub(crate) mod reviews;
pub(crate) mod search;
mod writes;

/// Search errors and readiness, as the API maps them to HTTP.
pub use crate::search::{SearchError, Status as SearchStatus};
pub(crate) use cached::CacheKinds;
pub(crate) use search::StoreDocs;
pub use writes::Created;

use crate::cache::ResponseCache;
use crate::domain::FieldErrors;
use crate::search::engine::Search;
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Errors of catalogue use cases; the API maps each variant to one status.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{kind} '{id}' not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{kind} '{id}' already exists")]
    Duplicate { kind: &'static str, id: String },
    #[error("{0}")]
    InUse(String),
    #[error("invalid input: {0}")]
    Validation(FieldErrors),
    /// Well-formed input naming records that are not there (a `brandId`
    /// of no brand): each field and what it named.
    #[error("{0}")]
    Missing(FieldErrors),
    #[error("only customers with a completed order of this product may review it")]
    NotPurchased,
    #[error("you have already reviewed this product")]
    AlreadyReviewed,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Search(crate::search::SearchError),
}

pub(crate) type CatalogResult<T> = Result<T, CatalogError>;

/// Storage read transactions begun on the calling thread so far; see
/// [`crate::store::lookups_on_this_thread`].
pub fn lookups_on_this_thread() -> u64 {
    crate::store::lookups_on_this_thread()
}

/// The cache tags a commit's changes invalidate.
pub(crate) fn cache_tags(changes: &crate::store::ChangeSet) -> Vec<crate::cache::Tag> {
    cached::tag::of_changes(changes)
}

pub(crate) fn not_found(kind: &'static str, id: &str) -> CatalogError {
    CatalogError::NotFound {
        kind,
        id: id.to_string(),
    }
}

/// The catalogue service; cheap to clone.
#[derive(Clone)]
pub struct Catalog {
    store: Store,
    search: Search,
    cache: Arc<ResponseCache>,
    /// The catalogue's kinds in `cache`.
    kinds: CacheKinds,
    /// Normalized query text → (searches, zero-hit searches) since the
    /// last flush (search analytics).
    pending_stats: Arc<Mutex<HashMap<String, (u64, u64)>>>,
}

impl Catalog {
    /// The catalogue over the platform's store, search and cache (`kinds`
    /// registered in `cache`).
    pub(crate) fn new(
        store: Store,
        search: Search,
        cache: Arc<ResponseCache>,
        kinds: CacheKinds,
    ) -> Self {
        Catalog {
            store,
            search,
            cache,
            kinds,
            pending_stats: Arc::default(),
        }
    }

    /// A catalogue without search or caching (import, export, reindex,
    /// tests of the store).
    pub fn offline(store: Store) -> Self {
        let (cache, kinds) = CacheKinds::alone(0, &crate::config::cache::Ttls::default());
        Catalog::new(store, Search::new(), cache, kinds)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// True when the catalogue holds no products, brands or categories.
    pub(crate) fn is_empty(&self) -> CatalogResult<bool> {
        let c = self.store.read()?.catalog().counts()?;
        Ok(c.products == 0 && c.brands == 0 && c.categories == 0)
    }

    /// Storage answers a read: the readiness probe.
    pub(crate) fn check_ready(&self) -> CatalogResult<()> {
        self.store.read()?.catalog().counts()?;
        if let Some(reason) = self.store.write_failure() {
            return Err(StoreError::Unavailable(format!(
                "writes are stopped after a storage failure ({reason}); reads still work; \
                 restart shopd once the disk is healthy"
            ))
            .into());
        }
        Ok(())
    }
}
