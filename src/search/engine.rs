//! [`Search`]: the search engine as the platform holds it — the index (once
//! opened), the synonym groups in force, and the commits the index does not
//! reflect yet.
//!
//! It is made before the store opens, so the store's commit sink can hold
//! it; it holds no store (the indexer thread reads documents through its
//! [`DocSource`]). Commits made before the index opens need no feeding:
//! opening compares the index's generation with the store's and catches up
//! (see the module docs of `search`).

use super::{DocSource, SearchError, SearchIndex};
use crate::domain::search::Synonyms;
use std::collections::{BTreeSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// How far the search index is behind storage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct IndexLag {
    /// Store generations committed but not yet searchable.
    pub generations: u64,
    /// Age of the oldest such commit.
    pub age: Duration,
}

/// The platform's search; cheap to clone.
#[derive(Clone, Default)]
pub struct Search {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Set once, when the index opens.
    index: OnceLock<SearchIndex>,
    /// Loaded at open, replaced when a commit replaces them; a query takes
    /// a snapshot.
    synonyms: RwLock<Arc<Synonyms>>,
    /// Commits the index does not reflect yet: (store generation, when).
    /// Pruned on every commit and every lag reading.
    unindexed: Mutex<VecDeque<(u64, Instant)>>,
}

impl Search {
    /// Search with no index yet: queries are unavailable until [`Search::open`].
    pub(crate) fn new() -> Search {
        Search::default()
    }

    /// Opens (or starts rebuilding) the index in `dir`, reading documents
    /// from `source`; `synonyms` are the stored groups. With `background`,
    /// indexing runs at a lower CPU priority (a read-only follower). Opens
    /// once; a second call changes nothing.
    pub(crate) fn open(
        &self,
        dir: &Path,
        source: Arc<dyn DocSource>,
        background: bool,
        synonyms: Synonyms,
    ) -> Result<(), SearchError> {
        if self.shared.index.get().is_some() {
            return Ok(());
        }
        self.synonyms_replaced(&synonyms);
        let index = SearchIndex::open_with(dir, source, background)?;
        let _ = self.shared.index.set(index);
        Ok(())
    }

    /// The index, once opened.
    pub(crate) fn index(&self) -> Option<&SearchIndex> {
        self.shared.index.get()
    }

    /// The synonym groups in force.
    pub(crate) fn synonyms(&self) -> Arc<Synonyms> {
        self.shared
            .synonyms
            .read()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// New synonym groups apply to the next query (a commit replaced them).
    pub(crate) fn synonyms_replaced(&self, synonyms: &Synonyms) {
        if let Ok(mut s) = self.shared.synonyms.write() {
            *s = Arc::new(synonyms.clone());
        }
    }

    /// Queues `products` (their documents may have changed in the commit
    /// that made `generation`) for re-indexing.
    pub(crate) fn changed(&self, generation: u64, products: &BTreeSet<String>) {
        let Some(index) = self.index() else { return };
        if products.is_empty() {
            return;
        }
        if let Ok(mut q) = self.shared.unindexed.lock() {
            prune(&mut q, index.generation());
            q.push_back((generation, Instant::now()));
        }
        index.notify(generation, products.iter().cloned().collect());
    }

    /// How far search is behind storage now.
    pub(crate) fn lag(&self) -> IndexLag {
        let (Some(index), Ok(mut q)) = (self.index(), self.shared.unindexed.lock()) else {
            return IndexLag::default();
        };
        prune(&mut q, index.generation());
        IndexLag {
            generations: q.len() as u64,
            age: q.front().map_or(Duration::ZERO, |(_, at)| at.elapsed()),
        }
    }

    /// Stops the indexer after its last commit; waits for it (blocks).
    pub(crate) fn shutdown(&self) {
        if let Some(index) = self.index() {
            index.shutdown();
        }
    }
}

/// Drops the commits an index at `indexed` already reflects.
fn prune(q: &mut VecDeque<(u64, Instant)>, indexed: u64) {
    while q.front().is_some_and(|(g, _)| *g <= indexed) {
        q.pop_front();
    }
}
