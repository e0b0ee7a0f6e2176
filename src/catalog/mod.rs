//! Catalogue use cases: the only layer that coordinates storage, search and
//! the response cache.
//!
//! Reads return finished JSON bodies rendered straight from archived records;
//! writes take validated domain drafts, check what only the database can tell
//! (references, duplicates, usage) inside the write transaction, and commit
//! durably before returning. Write methods block: call them from a blocking
//! thread. Nothing here knows about HTTP.

mod cached;
pub mod demo;
pub mod export;
pub mod import;
pub mod json;
mod reads;
pub mod search;
mod writes;

/// Search errors and readiness, as the API maps them to HTTP.
pub use crate::search::{SearchError, Status as SearchStatus};
pub use search::{IndexLag, SearchFeed};
pub use writes::Created;

use crate::domain::FieldErrors;
use crate::store::{Store, StoreError};

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
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Search(crate::search::SearchError),
}

pub type CatalogResult<T> = Result<T, CatalogError>;

/// Storage read transactions begun on the calling thread so far; see
/// [`crate::store::lookups_on_this_thread`].
pub fn lookups_on_this_thread() -> u64 {
    crate::store::lookups_on_this_thread()
}

/// The cache tags a commit's changes invalidate.
pub fn cache_tags(changes: &crate::store::ChangeSet) -> Vec<crate::cache::Tag> {
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
    search: search::SearchState,
    /// Off until [`Catalog::with_cache`].
    cache: std::sync::Arc<crate::cache::ResponseCache>,
}

impl Catalog {
    /// A catalogue without search (import, export, tests of the store).
    pub fn new(store: Store) -> Self {
        Catalog {
            store,
            search: search::SearchState::default(),
            cache: std::sync::Arc::new(crate::cache::ResponseCache::new(
                0,
                crate::config::cache::Ttls::default(),
            )),
        }
    }

    pub fn into_store(self) -> Store {
        self.store
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// True when the catalogue holds no products, brands or categories.
    pub fn is_empty(&self) -> CatalogResult<bool> {
        let c = self.store.read()?.counts()?;
        Ok(c.products == 0 && c.brands == 0 && c.categories == 0)
    }

    /// Storage answers a read: the readiness probe.
    pub fn check_ready(&self) -> CatalogResult<()> {
        self.store.read()?.counts()?;
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
