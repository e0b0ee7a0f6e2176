//! Product search with tantivy: typo tolerance, prefix, stemming, folding,
//! synonyms, filters, facets and highlights. Owns `DATA_DIR/search`; must not
//! touch the store (documents come through [`DocSource`], which the catalog
//! implements).
//!
//! # Same write path
//! Every committed catalogue write that changes what search shows reports the
//! affected product ids and the new store generation ([`SearchIndex::notify`],
//! called from the store's commit hook). The indexer thread re-reads those
//! products and replaces their documents (tantivy has no primary key: delete
//! by `id` term, then add).
//!
//! # Commit policy
//! The first change opens a 100 ms window; every change arriving within it is
//! committed together (and at most 10,000 products per commit), then readers
//! reload. A write is therefore searchable about 100–300 ms after it is
//! acknowledged, well inside the 1 s promise, and bulk writes do not pay one
//! index commit each.
//!
//! # Generations and recovery
//! Each index commit carries the store generation it reflects as its payload.
//! On open, an index whose generation differs from the store's, or that is
//! missing or unreadable, is rebuilt in the background from the store into
//! `search.rebuild/` and swapped in. Meanwhile a stale-but-readable index
//! keeps serving (and /ready says "rebuilding"); with none, search answers
//! [`SearchError::Rebuilding`] (HTTP 503 + Retry-After), never wrong results
//! silently. `shopd reindex` does the same rebuild offline.

pub(crate) mod collect;
pub(crate) mod engine;
mod execute;
pub mod highlight;
mod indexer;
pub(crate) mod query;
pub(crate) mod schema;
mod terms;

use crate::domain::listing::ProductFilter;
use crate::domain::search::{PRICE_BUCKETS, SearchDoc, SearchSort, Synonyms};
use collect::ValuesCache;
use execute::{Collected, Request};
use query::QueryWord;
use schema::Fields;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use tantivy::{Index, IndexReader};

pub(crate) type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// Where the indexer reads product documents from (the catalogue).
pub(crate) trait DocSource: Send + Sync + 'static {
    /// Current documents for `ids`; `None` for a product that no longer exists.
    fn docs(&self, ids: &[String]) -> Result<Vec<(String, Option<SearchDoc>)>, SourceError>;
    /// Product ids in order, after `after`, at most `limit`.
    fn ids_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, SourceError>;
    /// The store generation now.
    fn generation(&self) -> Result<u64, SourceError>;
}

/// Brands shown in the brand facet (the most frequent among the hits).
pub(crate) const BRAND_FACET_SIZE: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("the search index is being rebuilt; try again shortly")]
    Rebuilding,
    #[error("search is unavailable: {0}")]
    Unavailable(String),
    #[error("search engine error: {0}")]
    Engine(#[from] tantivy::TantivyError),
    #[error("reading product documents: {0}")]
    Source(String),
    #[error("search index files: {0}")]
    Io(#[from] std::io::Error),
}

/// What a search found: one page of ids, the total, and facet counts over
/// the whole hit set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchHits {
    pub ids: Vec<String>,
    pub total: u64,
    /// `(brand id, count)`, most first, then by id: the first
    /// [`BRAND_FACET_SIZE`].
    pub brands: Vec<(String, u64)>,
    /// `(category id, count)` with descendants rolled up, most first.
    pub categories: Vec<(String, u64)>,
    pub prices: [u64; PRICE_BUCKETS.len()],
    /// No product matched all words; this is the any-word fallback.
    pub relaxed: bool,
    /// The analyzed words, for highlighting.
    pub words: Vec<QueryWord>,
}

/// What a shopper's keystrokes so far suggest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Suggestions {
    /// Completed queries — the words before the last as typed (analyzed),
    /// then a word the last one begins — with how many of the products the
    /// typed text finds have that word, most first. Only completions that
    /// find something.
    pub completions: Vec<(String, u64)>,
    /// The first products of the search as typed (relevance order).
    pub hits: SearchHits,
}

/// Search readiness, for /ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Ready,
    Rebuilding { serving_previous: bool },
    Unavailable(String),
}

/// An open, searchable index.
struct Live {
    reader: IndexReader,
    fields: Fields,
    /// Per-segment doc values, warmed on every reload.
    values: Arc<ValuesCache>,
}

#[derive(Default)]
struct Serving {
    live: Option<Arc<Live>>,
    rebuilding: bool,
    error: Option<String>,
    /// The store generation the served index reflects.
    generation: u64,
}

enum Msg {
    Changed(u64, Vec<String>),
    Shutdown,
}

struct Shared {
    dir: PathBuf,
    serving: RwLock<Serving>,
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Handle to the search index and its indexer thread; cheap to clone.
#[derive(Clone)]
pub struct SearchIndex {
    shared: Arc<Shared>,
}

/// The payload of an index commit: the store generation it reflects.
fn read_generation(index: &Index) -> Option<u64> {
    index.load_metas().ok()?.payload?.parse().ok()
}

fn open_live(dir: &Path) -> Result<(Index, Arc<Live>, Option<u64>), SearchError> {
    let index = Index::open_in_dir(dir)?;
    schema::register(&index);
    let fields = Fields::from_schema(&index.schema())?;
    let values = Arc::new(ValuesCache::new(fields));
    let warmer: Arc<dyn tantivy::Warmer> = values.clone();
    let reader = index
        .reader_builder()
        .reload_policy(tantivy::ReloadPolicy::Manual)
        .warmers(vec![Arc::downgrade(&warmer)])
        .try_into()?;
    let generation = read_generation(&index);
    Ok((
        index,
        Arc::new(Live {
            reader,
            fields,
            values,
        }),
        generation,
    ))
}

impl SearchIndex {
    /// [`SearchIndex::open`]; with `background`, the indexer (and the
    /// threads it starts) run at a lower CPU priority (nice 10) than the
    /// threads serving requests: a read-only follower, whose indexing must
    /// not slow its reads.
    pub(crate) fn open_with(
        dir: &Path,
        source: Arc<dyn DocSource>,
        background: bool,
    ) -> Result<SearchIndex, SearchError> {
        let store_generation = source
            .generation()
            .map_err(|e| SearchError::Source(e.to_string()))?;
        let mut serving = Serving::default();
        let mut current = None;
        match open_live(dir) {
            Ok((index, live, generation)) => {
                serving.live = Some(live);
                serving.generation = generation.unwrap_or(0);
                if generation == Some(store_generation) {
                    current = Some(index);
                } else {
                    tracing::warn!(
                        ?generation,
                        store_generation,
                        "search index is stale; rebuilding"
                    );
                    serving.rebuilding = true;
                }
            }
            Err(e) => {
                if dir.exists() {
                    tracing::warn!(error = %e, "search index unreadable; rebuilding");
                } else {
                    tracing::info!("no search index yet; building it");
                }
                serving.rebuilding = true;
            }
        }
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            serving: RwLock::new(serving),
            tx: Mutex::new(Some(tx)),
            worker: Mutex::new(None),
        });
        let worker_shared = shared.clone();
        let handle = std::thread::Builder::new()
            .name("search-indexer".into())
            .spawn(move || {
                if background {
                    // SAFETY: a plain syscall on the calling thread; the
                    // threads tantivy starts from here inherit it.
                    unsafe {
                        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
                    }
                }
                indexer::run(worker_shared, source, rx, current)
            })?;
        if let Ok(mut w) = shared.worker.lock() {
            *w = Some(handle);
        }
        Ok(SearchIndex { shared })
    }

    /// Tells the indexer that a commit at `generation` changed `ids`.
    pub(crate) fn notify(&self, generation: u64, ids: Vec<String>) {
        if let Ok(tx) = self.shared.tx.lock()
            && let Some(tx) = tx.as_ref()
        {
            let _ = tx.send(Msg::Changed(generation, ids));
        }
    }

    /// Stops the indexer after it commits what it has; waits for it.
    pub(crate) fn shutdown(&self) {
        if let Ok(mut tx) = self.shared.tx.lock()
            && let Some(tx) = tx.take()
        {
            let _ = tx.send(Msg::Shutdown);
        }
        let handle = self.shared.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    pub fn status(&self) -> Status {
        let Ok(s) = self.shared.serving.read() else {
            return Status::Unavailable("state lock poisoned".into());
        };
        if s.rebuilding {
            Status::Rebuilding {
                serving_previous: s.live.is_some(),
            }
        } else if let Some(e) = &s.error
            && s.live.is_none()
        {
            Status::Unavailable(e.clone())
        } else if s.live.is_some() {
            Status::Ready
        } else {
            Status::Unavailable("no index".into())
        }
    }

    /// The store generation the served index reflects.
    pub(crate) fn generation(&self) -> u64 {
        self.shared.serving.read().map_or(0, |s| s.generation)
    }

    fn live(&self) -> Result<Arc<Live>, SearchError> {
        let s = self
            .shared
            .serving
            .read()
            .map_err(|_| SearchError::Unavailable("state lock poisoned".into()))?;
        match (&s.live, s.rebuilding, &s.error) {
            (Some(l), _, _) => Ok(l.clone()),
            (None, true, _) => Err(SearchError::Rebuilding),
            (None, false, Some(e)) => Err(SearchError::Unavailable(e.clone())),
            (None, false, None) => Err(SearchError::Unavailable("no index".into())),
        }
    }

    /// Runs a search. Blocks for the query's duration (CPU only).
    pub fn search(
        &self,
        text: &str,
        filter: &ProductFilter,
        sort: SearchSort,
        offset: u64,
        limit: usize,
        synonyms: &Synonyms,
    ) -> Result<SearchHits, SearchError> {
        let live = self.live()?;
        let words = query::words(text, synonyms);
        if filter.matches_nothing {
            return Ok(SearchHits {
                words,
                ..SearchHits::default()
            });
        }
        let searcher = live.reader.searcher();
        let mut request = Request {
            fields: &live.fields,
            words: &words,
            filter,
            sort,
            relaxed: false,
            facets: true,
            count: &[],
            keep: (offset as usize).saturating_add(limit),
        };
        let mut found: Collected = execute::run(&searcher, &live.values, &request)?;
        if found.total == 0 && words.len() > 1 {
            request.relaxed = true;
            found = execute::run(&searcher, &live.values, &request)?;
        }
        let total = found.total;
        let ids = page(&searcher, &live.values, found.hits, offset, limit)?;
        Ok(SearchHits {
            ids,
            total,
            brands: found.brands,
            categories: found.categories,
            prices: found.prices,
            relaxed: request.relaxed,
            words,
        })
    }

    /// Search-as-you-type: completions of the last word (the most frequent
    /// words it begins, counted over what the text finds) and the first
    /// `limit` products of the text searched as typed, without facets.
    /// Blocks for the query's duration (CPU only).
    pub fn suggest(
        &self,
        text: &str,
        limit: usize,
        synonyms: &Synonyms,
    ) -> Result<Suggestions, SearchError> {
        let live = self.live()?;
        let words = query::words(text, synonyms);
        let Some(last) = words.last() else {
            return Ok(Suggestions::default());
        };
        let searcher = live.reader.searcher();
        // The candidates: the words the last one begins that most products
        // have, summed over all segments (each segment's whole list: a word
        // can be first overall without being first in any one segment).
        let mut by_word: std::collections::HashMap<String, u64> = Default::default();
        for reader in searcher.segment_readers() {
            let v = live.values.get(reader)?;
            for (word, n) in v
                .terms
                .completions(live.fields.all_raw, &last.word.raw)?
                .iter()
            {
                *by_word.entry(word.clone()).or_default() += *n as u64;
            }
        }
        let mut candidates: Vec<(String, u64)> = by_word.into_iter().collect();
        candidates.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        candidates.truncate(terms::COMPLETIONS);
        let count: Vec<String> = candidates.into_iter().map(|(w, _)| w).collect();
        let filter = ProductFilter::default();
        let mut request = Request {
            fields: &live.fields,
            words: &words,
            filter: &filter,
            sort: SearchSort::Relevance,
            relaxed: false,
            facets: false,
            count: &count,
            keep: limit,
        };
        let mut found = execute::run(&searcher, &live.values, &request)?;
        if found.total == 0 && words.len() > 1 {
            request.relaxed = true;
            found = execute::run(&searcher, &live.values, &request)?;
        }
        let typed: Vec<&str> = words[..words.len() - 1]
            .iter()
            .map(|w| w.word.raw.as_str())
            .collect();
        let mut completions: Vec<(String, u64)> = count
            .iter()
            .zip(&found.counts)
            .filter(|(_, n)| **n > 0)
            .map(|(w, n)| {
                let mut all = typed.clone();
                all.push(w);
                (all.join(" "), *n)
            })
            .collect();
        completions.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let total = found.total;
        let ids = page(&searcher, &live.values, found.hits, 0, limit)?;
        Ok(Suggestions {
            completions,
            hits: SearchHits {
                ids,
                total,
                relaxed: request.relaxed,
                words,
                ..SearchHits::default()
            },
        })
    }

    /// Rebuilds the index in `dir` from `source` in the calling thread
    /// (`shopd reindex`). `progress(done, total)` is called as it goes.
    pub(crate) fn rebuild_offline(
        dir: &Path,
        source: &dyn DocSource,
        total: u64,
        progress: &dyn Fn(u64, u64),
    ) -> Result<u64, SearchError> {
        let (_, _, _, n) = indexer::rebuild(dir, source, total, progress)?;
        Ok(n)
    }
}

/// The ids of hits `offset .. offset + limit` in (key, id) order.
///
/// Only hits that can be on the page have their ids read: those up to and
/// tied with the `offset + limit`-th key, and of those, per segment, only the
/// first `offset + limit` in (key, id ordinal) order, which within a segment
/// is (key, id) order. A flat score (typo matches) or a common price can tie
/// thousands of hits; their strings are never all read.
fn page(
    searcher: &tantivy::Searcher,
    values: &ValuesCache,
    mut hits: Vec<collect::Hit>,
    offset: u64,
    limit: usize,
) -> Result<Vec<String>, SearchError> {
    let need = (offset as usize).saturating_add(limit);
    if need == 0 || hits.is_empty() {
        return Ok(Vec::new());
    }
    if need < hits.len() {
        hits.select_nth_unstable_by_key(need - 1, |h| h.key);
        let boundary = hits[need - 1].key;
        hits.retain(|h| h.key <= boundary);
    }
    hits.sort_unstable_by_key(|h| (h.segment, h.key, h.id_ord));
    let mut keyed = Vec::new();
    for group in hits.chunk_by(|a, b| a.segment == b.segment) {
        let v = values.get(searcher.segment_reader(group[0].segment))?;
        for h in group.iter().take(need) {
            keyed.push((h.key, v.id(h.id_ord).to_string()));
        }
    }
    keyed.sort_unstable();
    Ok(keyed
        .into_iter()
        .skip(offset as usize)
        .take(limit)
        .map(|(_, id)| id)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::listing::RatingSummary;
    use std::sync::Condvar;
    use std::time::{Duration, Instant};

    /// Documents in memory; listing them waits until the gate opens, so a
    /// test can hold a rebuild in progress.
    #[derive(Default)]
    struct GatedDocs {
        docs: Mutex<Vec<SearchDoc>>,
        generation: Mutex<u64>,
        open: Mutex<bool>,
        opened: Condvar,
        /// Listings that fail before one succeeds (a passing fault).
        failures: Mutex<u32>,
    }

    impl GatedDocs {
        fn open_gate(&self) {
            *self.open.lock().unwrap() = true;
            self.opened.notify_all();
        }
    }

    impl DocSource for GatedDocs {
        fn docs(&self, ids: &[String]) -> Result<Vec<(String, Option<SearchDoc>)>, SourceError> {
            let docs = self.docs.lock().unwrap();
            Ok(ids
                .iter()
                .map(|id| (id.clone(), docs.iter().find(|d| &d.id == id).cloned()))
                .collect())
        }
        fn ids_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, SourceError> {
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.opened.wait(open).unwrap();
            }
            {
                let mut failures = self.failures.lock().unwrap();
                if *failures > 0 {
                    *failures -= 1;
                    return Err("the disk is full".into());
                }
            }
            let mut ids: Vec<String> = self
                .docs
                .lock()
                .unwrap()
                .iter()
                .map(|d| d.id.clone())
                .collect();
            ids.sort();
            Ok(ids
                .into_iter()
                .filter(|i| after.is_none_or(|a| i.as_str() > a))
                .take(limit)
                .collect())
        }
        fn generation(&self) -> Result<u64, SourceError> {
            Ok(*self.generation.lock().unwrap())
        }
    }

    fn doc(id: &str, title: &str) -> SearchDoc {
        SearchDoc {
            id: id.into(),
            title: title.into(),
            description: String::new(),
            keywords: vec![],
            brand_id: "b".into(),
            brand_title: "Brand".into(),
            category_ids: vec!["c".into()],
            category_titles: vec!["Cat".into()],
            price: 1_000,
            created_at: 0,
            available: true,
            featured: false,
            rating: RatingSummary::default(),
        }
    }

    fn find(index: &SearchIndex, text: &str) -> Result<Vec<String>, SearchError> {
        let hits = index.search(
            text,
            &ProductFilter::default(),
            SearchSort::Relevance,
            0,
            10,
            &Synonyms::default(),
        )?;
        Ok(hits.ids)
    }

    fn wait_until(what: &str, f: impl Fn() -> bool) {
        let start = Instant::now();
        while !f() {
            assert!(start.elapsed() < Duration::from_secs(10), "{what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn rebuilding_answers_rebuilding_then_serves_then_keeps_serving_while_stale() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("search");
        let source = Arc::new(GatedDocs::default());
        source.docs.lock().unwrap().push(doc("p1", "Walnut Lamp"));
        *source.generation.lock().unwrap() = 1;

        // no index yet and the rebuild is held: never a silent empty answer
        let index = SearchIndex::open_with(&path, source.clone(), false).unwrap();
        assert_eq!(
            index.status(),
            Status::Rebuilding {
                serving_previous: false
            }
        );
        assert!(matches!(find(&index, "lamp"), Err(SearchError::Rebuilding)));
        source.open_gate();
        wait_until("ready", || index.status() == Status::Ready);
        assert_eq!(find(&index, "lamp").unwrap(), ["p1"]);
        assert_eq!(index.generation(), 1);

        // a change is applied through notify, in one batched commit
        source.docs.lock().unwrap().push(doc("p2", "Walnut Desk"));
        *source.generation.lock().unwrap() = 2;
        index.notify(2, vec!["p2".into()]);
        wait_until("p2 indexed", || {
            find(&index, "desk").is_ok_and(|ids| ids == ["p2"])
        });
        assert_eq!(index.generation(), 2);
        index.shutdown();

        // the store moved on while the index was closed: stale, so rebuilt,
        // and the previous index serves meanwhile
        *source.open.lock().unwrap() = false;
        source.docs.lock().unwrap().push(doc("p3", "Walnut Chair"));
        *source.generation.lock().unwrap() = 3;
        let index = SearchIndex::open_with(&path, source.clone(), false).unwrap();
        assert_eq!(
            index.status(),
            Status::Rebuilding {
                serving_previous: true
            }
        );
        let mut old = find(&index, "walnut").unwrap();
        old.sort();
        assert_eq!(old, ["p1", "p2"]);
        source.open_gate();
        wait_until("rebuilt", || index.status() == Status::Ready);
        let mut new = find(&index, "walnut").unwrap();
        new.sort();
        assert_eq!(new, ["p1", "p2", "p3"]);
        assert_eq!(index.generation(), 3);
        index.shutdown();
    }

    #[test]
    fn a_failed_build_says_why_and_is_tried_again_without_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("search");
        let source = Arc::new(GatedDocs::default());
        source.docs.lock().unwrap().push(doc("p1", "Walnut Lamp"));
        *source.generation.lock().unwrap() = 1;
        *source.failures.lock().unwrap() = 2;
        let index = SearchIndex::open_with(&path, source.clone(), false).unwrap();
        source.open_gate();
        wait_until(
            "the first build fails",
            || matches!(index.status(), Status::Unavailable(ref why) if why.contains("the disk is full")),
        );
        assert!(matches!(
            find(&index, "lamp"),
            Err(SearchError::Unavailable(_))
        ));
        // no write arrives: the indexer builds again by itself (after 1 s,
        // then 2 s) and serves once the fault has passed
        wait_until("built after the fault passed", || {
            index.status() == Status::Ready
        });
        assert_eq!(*source.failures.lock().unwrap(), 0);
        assert_eq!(find(&index, "lamp").unwrap(), ["p1"]);
        index.shutdown();
    }
}
