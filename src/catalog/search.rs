//! Search use cases: the query itself (rendered like a product list, plus
//! highlights and facets), synonyms, query analytics, and the document source
//! the search indexer reads products through.

use super::cached::tag;
use super::json::{self, Data};
use super::reads::product_items;
use super::{Catalog, CatalogError, CatalogResult};
use crate::cache::Computed;
use crate::cache::Tag;
use crate::domain::listing::{PageMeta, RatingSummary};
use crate::domain::search::{PRICE_BUCKETS, SearchDoc, SearchQuery, SuggestQuery, Synonyms};
use crate::search::engine::IndexLag;
use crate::search::highlight::Highlighter;
use crate::search::query::QueryWord;
use crate::search::{BRAND_FACET_SIZE, DocSource, SearchIndex, SourceError};
use crate::store::{ProductView, ReadTxn, Store, Taxonomy};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Reads product documents for the indexer straight from the store.
pub(crate) struct StoreDocs {
    store: Store,
}

/// `id` and its ancestors, nearest first (bounded against damaged data).
fn lineage(
    txn: &ReadTxn,
    id: &str,
    memo: &mut HashMap<String, Vec<(String, String)>>,
) -> CatalogResult<Vec<(String, String)>> {
    if let Some(v) = memo.get(id) {
        return Ok(v.clone());
    }
    let mut out: Vec<(String, String)> = Vec::new();
    let mut cur = Some(id.to_string());
    while let Some(c) = cur.take() {
        if out.len() >= 64 || out.iter().any(|(i, _)| *i == c) {
            break;
        }
        let Some(rec) = txn.catalog().category(&c)? else {
            break;
        };
        let v = rec.view()?;
        out.push((c, v.title().to_string()));
        cur = v.parent_id().map(str::to_string);
    }
    memo.insert(id.to_string(), out.clone());
    Ok(out)
}

impl StoreDocs {
    pub(crate) fn new(store: Store) -> StoreDocs {
        StoreDocs { store }
    }

    fn read_docs(&self, ids: &[String]) -> CatalogResult<Vec<(String, Option<SearchDoc>)>> {
        let txn = self.store.read()?;
        let mut brands: HashMap<String, String> = HashMap::new();
        let mut memo = HashMap::new();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(rec) = txn.catalog().product(id)? else {
                out.push((id.clone(), None));
                continue;
            };
            let p = rec.view()?;
            let brand_title = match brands.get(p.brand_id()) {
                Some(t) => t.clone(),
                None => {
                    let t = match txn.catalog().brand(p.brand_id())? {
                        Some(b) => b.view()?.title().to_string(),
                        None => String::new(),
                    };
                    brands.insert(p.brand_id().to_string(), t.clone());
                    t
                }
            };
            let mut category_ids: Vec<String> = Vec::new();
            let mut category_titles: Vec<String> = Vec::new();
            for c in p.category_ids() {
                for (cid, title) in lineage(&txn, c, &mut memo)? {
                    if !category_ids.contains(&cid) {
                        category_ids.push(cid);
                        category_titles.push(title);
                    }
                }
            }
            out.push((
                id.clone(),
                Some(SearchDoc {
                    id: id.clone(),
                    title: p.title().to_string(),
                    description: p.description().to_string(),
                    keywords: p.keywords().map(str::to_string).collect(),
                    brand_id: p.brand_id().to_string(),
                    brand_title,
                    category_ids,
                    category_titles,
                    price: p.price_cents(),
                    created_at: p.created_at().millis(),
                    available: p.is_available(),
                    featured: p.is_featured(),
                    rating: txn.catalog().rating(id)?,
                }),
            ));
        }
        Ok(out)
    }
}

impl DocSource for StoreDocs {
    fn docs(&self, ids: &[String]) -> Result<Vec<(String, Option<SearchDoc>)>, SourceError> {
        Ok(self.read_docs(ids)?)
    }

    fn ids_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, SourceError> {
        Ok(self.store.read()?.catalog().product_ids(after, limit)?)
    }

    fn generation(&self) -> Result<u64, SourceError> {
        Ok(self.store.generation()?)
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Highlight {
    /// The title with matched words in `<mark>`…`</mark>`.
    title: String,
    /// A snippet of the description around the matches, marked the same way.
    description: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SearchItem<'a> {
    #[serde(flatten)]
    item: json::ProductItem<'a>,
    highlight: Highlight,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct FacetValue<'a> {
    id: &'a str,
    title: &'a str,
    count: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PriceFacet {
    min: f64,
    /// Upper bound; `null` for the open last bucket.
    #[schema(required = true)]
    max: Option<f64>,
    count: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Facets<'a> {
    brand: Vec<FacetValue<'a>>,
    category: Vec<FacetValue<'a>>,
    price: Vec<PriceFacet>,
}

#[derive(Serialize)]
struct SearchMeta {
    #[serde(flatten)]
    page: PageMeta,
    relaxed: bool,
}

#[derive(Serialize)]
struct SearchBody<'a> {
    data: Vec<SearchItem<'a>>,
    meta: SearchMeta,
    facets: Facets<'a>,
}

/// A completion of what was typed, and how many products it finds.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Completion<'a> {
    /// The words typed before the last, then a word the last one begins
    /// (lowercase, accents folded).
    text: &'a str,
    /// Products found by what was typed that have this word.
    count: u64,
}

/// `GET /search/suggest`: what to show under a search box as it is typed.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SuggestBody<'a> {
    /// Most products first; only completions that find something.
    completions: Vec<Completion<'a>>,
    /// The first products of the search as typed, as search items.
    products: Vec<SearchItem<'a>>,
    /// Products the search as typed finds.
    total: u64,
    /// No product had every word: products have some of them.
    relaxed: bool,
}

/// The records of a page of hits, in hit order; a hit the index still has
/// after a delete is skipped.
struct HitRecords {
    recs: Vec<crate::store::Rec<crate::store::ProductRec>>,
    ratings: Vec<RatingSummary>,
}

impl HitRecords {
    fn read(txn: &ReadTxn, ids: &[String]) -> CatalogResult<HitRecords> {
        let mut recs = Vec::with_capacity(ids.len());
        let mut ratings = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = txn.catalog().product(id)? {
                recs.push(r);
                ratings.push(txn.catalog().rating(id)?);
            }
        }
        Ok(HitRecords { recs, ratings })
    }

    fn views(&self) -> CatalogResult<Vec<ProductView<'_>>> {
        Ok(self
            .recs
            .iter()
            .map(|r| r.view())
            .collect::<Result<Vec<_>, _>>()?)
    }
}

/// Product items with their title and description marked for `words`.
fn search_items<'a>(
    views: &[ProductView<'a>],
    ratings: &[RatingSummary],
    taxonomy: &'a Taxonomy,
    words: &[QueryWord],
    tags: &mut Vec<Tag>,
) -> Vec<SearchItem<'a>> {
    let items = product_items(views, ratings, taxonomy, tags);
    let mut marks = Highlighter::new(words);
    items
        .into_iter()
        .zip(views)
        .map(|(item, p)| SearchItem {
            highlight: Highlight {
                title: marks.highlight(p.title()),
                description: marks.snippet(p.description()),
            },
            item,
        })
        .collect()
}

/// Lowercase, single-spaced: how queries are counted in analytics.
fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl Catalog {
    /// How far search is behind storage now.
    pub(crate) fn index_lag(&self) -> IndexLag {
        self.search.lag()
    }

    /// Rebuilds the index in `dir` from storage in the calling thread
    /// (`shopd reindex`, benchmarks); `progress(done, total)` as it goes.
    /// Returns the number of products indexed.
    pub fn reindex(
        &self,
        dir: &std::path::Path,
        progress: &dyn Fn(u64, u64),
    ) -> CatalogResult<u64> {
        let total = self.store.read()?.catalog().counts()?.products;
        let docs = StoreDocs::new(self.store.clone());
        SearchIndex::rebuild_offline(dir, &docs, total, progress).map_err(CatalogError::Search)
    }

    /// Products in storage (for progress bars).
    pub fn product_count(&self) -> CatalogResult<u64> {
        Ok(self.store.read()?.catalog().counts()?.products)
    }

    pub fn search_index(&self) -> Option<&SearchIndex> {
        self.search.index()
    }

    /// Flushes analytics, then stops the indexer (after its last commit).
    pub async fn shutdown_search(&self) {
        if let Err(e) = self.flush_search_stats().await {
            tracing::warn!(error = format!("{e:#}"), "flushing search analytics failed");
        }
        let search = self.search.clone();
        // Joins the indexer thread.
        let _ = tokio::task::spawn_blocking(move || search.shutdown()).await;
    }

    fn synonyms(&self) -> Arc<Synonyms> {
        self.search.synonyms()
    }

    fn index(&self) -> CatalogResult<&SearchIndex> {
        self.search.index().ok_or_else(|| {
            CatalogError::Search(crate::search::SearchError::Unavailable(
                "search is not enabled".into(),
            ))
        })
    }

    /// `GET /search`, uncached and unrecorded: the body, its hit total as
    /// `meta`, and the synonyms tag. Blocks for the query (CPU).
    pub fn search(&self, q: &SearchQuery) -> CatalogResult<Computed> {
        let synonyms = self.synonyms();
        let hits = self
            .index()?
            .search(
                &q.text,
                &q.filter,
                q.sort,
                q.page.offset(),
                q.page.limit() as usize,
                &synonyms,
            )
            .map_err(CatalogError::Search)?;

        let txn = self.store.read()?;
        let found = HitRecords::read(&txn, &hits.ids)?;
        let views = found.views()?;
        let taxonomy = txn.catalog().taxonomy()?;
        // Hits change with the index generation, which is in the cache key.
        let mut tags = vec![tag::synonyms()];
        let data = search_items(&views, &found.ratings, &taxonomy, &hits.words, &mut tags);

        // Facet titles from the in-memory taxonomy of the same snapshot.
        let brand = hits
            .brands
            .iter()
            .take(BRAND_FACET_SIZE)
            .map(|(id, n)| FacetValue {
                id,
                title: taxonomy.brand(id).map_or("", |b| b.title.as_str()),
                count: *n,
            })
            .collect();
        let category = hits
            .categories
            .iter()
            .map(|(id, n)| FacetValue {
                id,
                title: taxonomy.category(id).map_or("", |c| c.title.as_str()),
                count: *n,
            })
            .collect();
        let price = PRICE_BUCKETS
            .iter()
            .zip(hits.prices)
            .map(|((lo, hi), count)| PriceFacet {
                min: *lo as f64 / 100.0,
                max: hi.map(|h| h as f64 / 100.0),
                count,
            })
            .collect();
        let body = json::to_vec(&SearchBody {
            data,
            meta: SearchMeta {
                page: q.page.meta(hits.total),
                relaxed: hits.relaxed,
            },
            facets: Facets {
                brand,
                category,
                price,
            },
        });
        Ok(Computed {
            body,
            tags,
            meta: hits.total,
        })
    }

    /// `GET /search/suggest`, uncached: completions of the last word and the
    /// first products, rendered as search items; `meta` is the hit total.
    /// Blocks for the query (CPU).
    pub fn suggest(&self, q: &SuggestQuery) -> CatalogResult<Computed> {
        let synonyms = self.synonyms();
        let s = self
            .index()?
            .suggest(&q.text, q.limit as usize, &synonyms)
            .map_err(CatalogError::Search)?;
        let txn = self.store.read()?;
        let found = HitRecords::read(&txn, &s.hits.ids)?;
        let views = found.views()?;
        let taxonomy = txn.catalog().taxonomy()?;
        let mut tags = vec![tag::synonyms()];
        let products = search_items(&views, &found.ratings, &taxonomy, &s.hits.words, &mut tags);
        let body = json::to_vec(&Data {
            data: SuggestBody {
                completions: s
                    .completions
                    .iter()
                    .map(|(text, count)| Completion {
                        text,
                        count: *count,
                    })
                    .collect(),
                products,
                total: s.hits.total,
                relaxed: s.hits.relaxed,
            },
        });
        Ok(Computed {
            body,
            tags,
            meta: s.hits.total,
        })
    }

    /// Counts a search for analytics (hits and misses of the cache alike).
    pub(super) fn record_search(&self, text: &str, total: u64) {
        let key = normalize(text);
        if key.is_empty() {
            return;
        }
        if let Ok(mut m) = self.pending_stats.lock() {
            let e = m.entry(key).or_default();
            e.0 += 1;
            if total == 0 {
                e.1 += 1;
            }
        }
    }

    /// Writes the query counts gathered since the last flush. Blocks.
    pub(crate) async fn flush_search_stats(&self) -> CatalogResult<()> {
        let pending: Vec<(String, u64, u64)> = match self.pending_stats.lock() {
            Ok(mut m) => m.drain().map(|(k, (n, z))| (k, n, z)).collect(),
            Err(_) => return Ok(()),
        };
        // A follower keeps no analytics of its own (its store is the
        // leader's copy); its counts are dropped.
        if pending.is_empty() || self.store.is_read_only() {
            return Ok(());
        }
        self.store
            .write(move |tx| tx.search_settings().record_queries(&pending))
            .await?;
        Ok(())
    }

    /// `GET /search/analytics`: the most frequent and the most frequent
    /// zero-hit queries (flushes pending counts first).
    pub(crate) async fn search_analytics(&self, limit: usize) -> CatalogResult<Vec<u8>> {
        self.flush_search_stats().await?;
        let counts = self.store.read()?.search_settings().top_queries(limit)?;
        let (top, zero) = (counts.all, counts.zero);
        #[derive(Serialize)]
        struct Count<'a> {
            query: &'a str,
            count: u64,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Analytics<'a> {
            top_queries: Vec<Count<'a>>,
            zero_hit_queries: Vec<Count<'a>>,
        }
        let c = |v: &'_ [(String, u64)]| -> Vec<(String, u64)> { v.to_vec() };
        let (top, zero) = (c(&top), c(&zero));
        Ok(json::to_vec(&Data {
            data: Analytics {
                top_queries: top
                    .iter()
                    .map(|(q, n)| Count {
                        query: q,
                        count: *n,
                    })
                    .collect(),
                zero_hit_queries: zero
                    .iter()
                    .map(|(q, n)| Count {
                        query: q,
                        count: *n,
                    })
                    .collect(),
            },
        }))
    }

    /// `GET /search/synonyms`.
    pub(crate) fn synonyms_json(&self) -> Vec<u8> {
        json::to_vec(&Data {
            data: &*self.synonyms(),
        })
    }

    /// `PUT /search/synonyms`: replaces the groups; applies to the next query.
    /// The commit dispatch swaps in the new groups before the write is
    /// acknowledged (see `Search::synonyms_replaced`).
    pub(crate) async fn set_synonyms(&self, synonyms: Synonyms) -> CatalogResult<Vec<u8>> {
        self.store
            .write(move |tx| tx.search_settings().put_synonyms(&synonyms))
            .await?;
        Ok(self.synonyms_json())
    }
}
