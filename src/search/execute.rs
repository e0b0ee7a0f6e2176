//! Runs a search over every segment without tantivy's generic query
//! machinery, in the order the best engines do it: first the hit set, cheaply,
//! then scores for the hits only.
//!
//! 1. **Hit set.** A word matches a document when the document has, anywhere
//!    in its text, the word's stem or a term within its typo budget (the
//!    `all_stem` field holds every text field's stems) or, for a prefix word,
//!    a term it begins (`all_raw`). Each word's documents are the union of
//!    those terms' postings, read as bare doc ids into a bitset; the hit set
//!    is the intersection of the words' bitsets (the union when relaxed),
//!    less deleted documents and the filters (read from the segment's doc
//!    value arrays). The terms come from [`SegmentTerms::derive`], cached per
//!    segment and word.
//! 2. **Facets and sort keys** in one pass over the hits.
//! 3. **Scores**, when the sort is by relevance, for the hits only: the same
//!    sum as the query in [`super::query`] describes — BM25 of the exact stem
//!    per weighted field (postings seeked to each hit, with tantivy's own
//!    [`Bm25Weight`] and statistics over all segments), plus the constant
//!    bonuses of a typo match in the title or anywhere and of a prefix
//!    match, with synonyms at their factor. Before, tantivy scored every
//!    posting of every clause in blocks of 4,096 documents whether or not the
//!    document was a hit, and ran the typo automata over two dictionaries
//!    per word on every query.
//!
//! Invariant: the hits are exactly the documents the boolean query of
//! [`super::query::build`] matches, and their scores are its scores (up to
//! the order floats are added in).

use super::BRAND_FACET_SIZE;
use super::collect::{Hit, SegmentValues, SortKey, ValuesCache};
use super::query::{
    EXACT_FIELDS, FUZZY_BOOST, PREFIX_BOOST, QueryWord, SYNONYM_FACTOR, TITLE_FUZZY_BOOST, Word,
};
use super::schema::Fields;
use super::terms::{DocBits, Match};
use crate::domain::listing::ProductFilter;
use crate::domain::search::{PRICE_BUCKETS, SearchSort};
use rustc_hash::FxHashMap as HashMap;
use std::collections::BinaryHeap;
use std::sync::Arc;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{Postings, TermInfo};
use tantivy::query::Bm25Weight;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, Searcher, SegmentOrdinal, TERMINATED};

/// What a search found over all segments.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// Per segment, the first [`Request::keep`] hits in (key, id) order: all
    /// that can be on a page that ends at `keep`.
    pub hits: Vec<Hit>,
    /// All hits.
    pub total: u64,
    /// `(brand id, count)`, most first, then by id.
    pub brands: Vec<(String, u64)>,
    /// `(category id, count)`, most first, then by id.
    pub categories: Vec<(String, u64)>,
    pub prices: [u64; PRICE_BUCKETS.len()],
    /// Per term of [`Request::count`], the hits that have it.
    pub counts: Vec<u64>,
}

/// One query word, or one of its synonyms, with its weight in the score.
struct Alternative<'a> {
    /// Index of the query word it stands for.
    word: usize,
    w: &'a Word,
    factor: Score,
}

/// A search to run.
pub(crate) struct Request<'a> {
    pub fields: &'a Fields,
    pub words: &'a [QueryWord],
    pub filter: &'a ProductFilter,
    pub sort: SearchSort,
    /// Any word may match (a document matching more scores higher).
    pub relaxed: bool,
    /// Count brands, categories and prices over the hits.
    pub facets: bool,
    /// Unstemmed terms (`all_raw`) to count the hits of (completions).
    pub count: &'a [String],
    /// Hits to keep per segment: where the page ends.
    pub keep: usize,
}

impl Request<'_> {
    fn by_score(&self) -> bool {
        !self.words.is_empty() && self.sort == SearchSort::Relevance
    }

    fn alternatives(&self) -> Vec<Alternative<'_>> {
        let mut out = Vec::new();
        for (i, q) in self.words.iter().enumerate() {
            out.push(Alternative {
                word: i,
                w: &q.word,
                factor: 1.0,
            });
            for alt in &q.alternatives {
                out.push(Alternative {
                    word: i,
                    w: alt,
                    factor: SYNONYM_FACTOR,
                });
            }
        }
        out
    }
}

/// The exact stem's term info per weighted field, for one alternative in
/// one segment.
type ExactTerms = [Option<TermInfo>; EXACT_FIELDS.len()];

/// Runs `r` over every segment of `searcher`.
pub(crate) fn run(
    searcher: &Searcher,
    values: &ValuesCache,
    r: &Request<'_>,
) -> tantivy::Result<Collected> {
    let alts = r.alternatives();
    let f = r.fields;
    let segments: Vec<Arc<SegmentValues>> = searcher
        .segment_readers()
        .iter()
        .map(|s| values.get(s))
        .collect::<tantivy::Result<_>>()?;

    // The exact terms per segment, and BM25 statistics over all segments
    // (as tantivy's `Searcher` computes them).
    let by_score = r.by_score();
    let mut exact: Vec<Vec<ExactTerms>> = Vec::with_capacity(segments.len());
    let mut weights: Vec<[Option<Bm25Weight>; EXACT_FIELDS.len()]> = Vec::new();
    if by_score {
        let mut doc_freq = vec![[0u64; EXACT_FIELDS.len()]; alts.len()];
        for s in &segments {
            let mut per_alt = Vec::with_capacity(alts.len());
            for (a, alt) in alts.iter().enumerate() {
                let mut terms: ExactTerms = Default::default();
                for (k, (field, _)) in EXACT_FIELDS.iter().enumerate() {
                    if let Some(tf) = s.terms.field(field(f)) {
                        terms[k] = tf.index.terms().get(&alt.w.stem)?;
                        doc_freq[a][k] += terms[k].as_ref().map_or(0, |t| t.doc_freq as u64);
                    }
                }
                per_alt.push(terms);
            }
            exact.push(per_alt);
        }
        let total_docs: u64 = searcher
            .segment_readers()
            .iter()
            .map(|s| s.max_doc() as u64)
            .sum();
        let mut avg = [0.0 as Score; EXACT_FIELDS.len()];
        for (k, (field, _)) in EXACT_FIELDS.iter().enumerate() {
            let mut tokens = 0u64;
            for s in &segments {
                if let Some(tf) = s.terms.field(field(f)) {
                    tokens += tf.index.total_num_tokens();
                }
            }
            avg[k] = tokens as Score / total_docs.max(1) as Score;
        }
        for (a, alt) in alts.iter().enumerate() {
            let mut w: [Option<Bm25Weight>; EXACT_FIELDS.len()] = Default::default();
            for (k, (_, boost)) in EXACT_FIELDS.iter().enumerate() {
                if doc_freq[a][k] > 0 {
                    w[k] = Some(
                        Bm25Weight::for_one_term(doc_freq[a][k], total_docs, avg[k])
                            .boost_by(boost * alt.factor),
                    );
                }
            }
            weights.push(w);
        }
    }

    let mut hits = Vec::new();
    let mut total = 0;
    let mut brand_counts: Vec<Vec<u64>> = Vec::with_capacity(segments.len());
    let mut category_counts: Vec<Vec<u64>> = Vec::with_capacity(segments.len());
    let mut prices = [0u64; PRICE_BUCKETS.len()];
    let mut counts = vec![0u64; r.count.len()];
    for (ord, (reader, v)) in searcher.segment_readers().iter().zip(&segments).enumerate() {
        let seg = Segment {
            ord: ord as SegmentOrdinal,
            reader,
            v,
            fields: f,
        };
        let found = seg.run(r, &alts, exact.get(ord).map(Vec::as_slice), &weights)?;
        hits.extend(found.hits);
        total += found.total;
        brand_counts.push(found.brand_counts);
        category_counts.push(found.category_counts);
        for (p, n) in prices.iter_mut().zip(found.prices) {
            *p += n;
        }
        for (c, n) in counts.iter_mut().zip(found.counts) {
            *c += n;
        }
    }
    let brands = most_first(
        merge_counts(&segments, &brand_counts, |v| &v.brand_ids),
        BRAND_FACET_SIZE,
    );
    let categories = most_first(
        merge_counts(&segments, &category_counts, |v| &v.category_ids),
        usize::MAX,
    );
    Ok(Collected {
        hits,
        total,
        brands,
        categories,
        prices,
        counts,
    })
}

/// The per-segment counts of a facet (indexed by each segment's ordinals
/// of `ids`), summed by value; values no hit has are left out. One segment
/// needs no map: its ordinals are its values.
fn merge_counts<'v>(
    segments: &'v [Arc<SegmentValues>],
    counts: &[Vec<u64>],
    ids: impl Fn(&'v SegmentValues) -> &'v [String],
) -> Vec<(&'v str, u64)> {
    let nonzero = |s: &'v SegmentValues, c: &[u64]| {
        let ids = ids(s);
        c.iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(move |(o, n)| (ids[o].as_str(), *n))
            .collect::<Vec<_>>()
    };
    if let ([s], [c]) = (segments, counts) {
        return nonzero(s, c);
    }
    let mut sum: HashMap<&str, u64> = HashMap::default();
    sum.reserve(counts.iter().map(Vec::len).max().unwrap_or(0));
    for (s, c) in segments.iter().zip(counts) {
        for (id, n) in nonzero(s, c) {
            *sum.entry(id).or_default() += n;
        }
    }
    sum.into_iter().collect()
}

/// The first `k` of `values`, most first, then by value.
fn most_first(mut values: Vec<(&str, u64)>, k: usize) -> Vec<(String, u64)> {
    let order = |a: &(&str, u64), b: &(&str, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0));
    if values.len() > k {
        values.select_nth_unstable_by(k, order);
        values.truncate(k);
    }
    values.sort_unstable_by(order);
    values
        .into_iter()
        .map(|(id, n)| (id.to_string(), n))
        .collect()
}

struct Segment<'a> {
    ord: SegmentOrdinal,
    reader: &'a tantivy::SegmentReader,
    v: &'a SegmentValues,
    fields: &'a Fields,
}

struct SegmentFound {
    hits: Vec<Hit>,
    total: u64,
    brand_counts: Vec<u64>,
    category_counts: Vec<u64>,
    prices: [u64; PRICE_BUCKETS.len()],
    counts: Vec<u64>,
}

/// One alternative's matches in a segment.
struct Matched {
    /// Documents with its stem or a term within its typo budget.
    stem: Arc<DocBits>,
    /// Documents with a term it begins (prefix words only).
    prefix: Option<Arc<DocBits>>,
}

impl Segment<'_> {
    fn max_doc(&self) -> u32 {
        self.reader.max_doc()
    }

    fn matched(&self, w: &Word) -> tantivy::Result<Matched> {
        let t = &self.v.terms;
        let stem = t.docs(
            self.fields.all_stem,
            &w.stem,
            Match::Typos(w.typos),
            self.max_doc(),
        )?;
        let prefix = if w.prefix {
            Some(t.docs(self.fields.all_raw, &w.raw, Match::Prefix, self.max_doc())?)
        } else {
            None
        };
        Ok(Matched { stem, prefix })
    }

    /// The hits in doc order: matching the words, alive, passing the filter.
    fn hit_docs(
        &self,
        r: &Request<'_>,
        alts: &[Alternative<'_>],
        matched: &[Matched],
    ) -> Vec<DocId> {
        let max_doc = self.max_doc();
        let bits = if r.words.is_empty() {
            DocBits::full(max_doc)
        } else {
            let mut words: Vec<DocBits> = vec![DocBits::empty(max_doc); r.words.len()];
            for (alt, m) in alts.iter().zip(matched) {
                words[alt.word].or(&m.stem);
                if let Some(p) = &m.prefix {
                    words[alt.word].or(p);
                }
            }
            let mut it = words.into_iter();
            let mut acc = it.next().unwrap_or_else(|| DocBits::empty(max_doc));
            for w in it {
                if r.relaxed {
                    acc.or(&w);
                } else {
                    acc.and(&w);
                }
            }
            acc
        };
        let v = self.v;
        let filter = r.filter;
        let ord_of = |ids: &[String], id: Option<&str>| match id {
            None => Ok(None),
            Some(id) => ids
                .binary_search_by(|s| s.as_str().cmp(id))
                .map(|o| Some(o as u32)),
        };
        // A filter value this segment does not have: no hits here.
        let Ok(category) = ord_of(
            &v.category_ids,
            filter.category.as_ref().map(|c| c.as_str()),
        ) else {
            return Vec::new();
        };
        let Ok(brand) = ord_of(&v.brand_ids, filter.brand.as_ref().map(|b| b.as_str())) else {
            return Vec::new();
        };
        let (lo, hi) = (
            filter.min_price.map_or(0, |p| p.cents()),
            filter.max_price.map_or(u64::MAX, |p| p.cents()),
        );
        let alive = self.reader.alive_bitset();
        bits.iter()
            .filter(|&d| {
                let i = d as usize;
                alive.is_none_or(|a| a.is_alive(d))
                    && brand.is_none_or(|b| v.brand[i] == b)
                    && category.is_none_or(|c| v.categories(i).contains(&c))
                    && filter.available.is_none_or(|a| v.available[i] == a)
                    && (lo..=hi).contains(&v.price[i])
            })
            .collect()
    }

    fn run(
        &self,
        r: &Request<'_>,
        alts: &[Alternative<'_>],
        exact: Option<&[ExactTerms]>,
        weights: &[[Option<Bm25Weight>; EXACT_FIELDS.len()]],
    ) -> tantivy::Result<SegmentFound> {
        let matched: Vec<Matched> = alts
            .iter()
            .map(|a| self.matched(a.w))
            .collect::<tantivy::Result<_>>()?;
        let docs = self.hit_docs(r, alts, &matched);
        let scores = match exact {
            Some(exact) if r.by_score() => self.scores(r, alts, &matched, exact, weights, &docs)?,
            _ => Vec::new(),
        };
        let v = self.v;
        let mut found = SegmentFound {
            hits: Vec::new(),
            total: docs.len() as u64,
            brand_counts: vec![0; v.brand_ids.len()],
            category_counts: vec![0; v.category_ids.len()],
            prices: [0; PRICE_BUCKETS.len()],
            counts: Vec::with_capacity(r.count.len()),
        };
        if !r.count.is_empty() {
            let mut hits = DocBits::empty(self.max_doc());
            for &d in &docs {
                hits.insert(d);
            }
            for term in r.count {
                found
                    .counts
                    .push(v.terms.count_in(self.fields.all_raw, term, &hits)?);
            }
        }
        // The first `keep` hits in (key, id) order, a max-heap of them.
        let mut top: BinaryHeap<(SortKey, u32)> = BinaryHeap::with_capacity(r.keep.min(docs.len()));
        for (j, &d) in docs.iter().enumerate() {
            let i = d as usize;
            let hit = (
                v.key(
                    r.sort,
                    r.by_score(),
                    i,
                    scores.get(j).copied().unwrap_or(0.0),
                ),
                v.id_ord[i],
            );
            if top.len() < r.keep {
                top.push(hit);
            } else if top.peek().is_some_and(|worst| hit < *worst) {
                top.pop();
                top.push(hit);
            }
            if !r.facets {
                continue;
            }
            if let Some(c) = found.brand_counts.get_mut(v.brand[i] as usize) {
                *c += 1;
            }
            for &o in v.categories(i) {
                if let Some(c) = found.category_counts.get_mut(o as usize) {
                    *c += 1;
                }
            }
            found.prices[v.price_bucket[i] as usize] += 1;
        }
        found.hits = top
            .into_iter()
            .map(|(key, id_ord)| Hit {
                key,
                segment: self.ord,
                id_ord,
            })
            .collect();
        Ok(found)
    }

    /// The score of each of `docs` (ascending), summed per word.
    fn scores(
        &self,
        r: &Request<'_>,
        alts: &[Alternative<'_>],
        matched: &[Matched],
        exact: &[ExactTerms],
        weights: &[[Option<Bm25Weight>; EXACT_FIELDS.len()]],
        docs: &[DocId],
    ) -> tantivy::Result<Vec<Score>> {
        let t = &self.v.terms;
        let mut total = vec![0.0 as Score; docs.len()];
        let mut word = vec![0.0 as Score; docs.len()];
        for i in 0..r.words.len() {
            word.iter_mut().for_each(|s| *s = 0.0);
            for (a, alt) in alts.iter().enumerate().filter(|(_, a)| a.word == i) {
                for (k, (field, _)) in EXACT_FIELDS.iter().enumerate() {
                    let (Some(info), Some(bm25), Some(tf)) =
                        (&exact[a][k], &weights[a][k], t.field(field(self.fields)))
                    else {
                        continue;
                    };
                    let mut postings = tf
                        .index
                        .read_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?;
                    let norms = tf
                        .norms
                        .clone()
                        .unwrap_or_else(|| FieldNormReader::constant(self.max_doc(), 1));
                    for (j, &d) in docs.iter().enumerate() {
                        let mut at = postings.doc();
                        if at < d {
                            at = postings.seek(d);
                        }
                        if at == TERMINATED {
                            break;
                        }
                        if at == d {
                            word[j] += bm25.score(norms.fieldnorm_id(d), postings.term_freq());
                        }
                    }
                }
                let m = &matched[a];
                if alt.w.typos > 0 {
                    let title = self.fields.title;
                    let in_title = t.docs(
                        title,
                        &alt.w.stem,
                        Match::Typos(alt.w.typos),
                        self.max_doc(),
                    )?;
                    for (j, &d) in docs.iter().enumerate() {
                        if in_title.contains(d) {
                            word[j] += TITLE_FUZZY_BOOST * alt.factor;
                        }
                        if m.stem.contains(d) {
                            word[j] += FUZZY_BOOST * alt.factor;
                        }
                    }
                }
                if let Some(p) = &m.prefix {
                    for (j, &d) in docs.iter().enumerate() {
                        if p.contains(d) {
                            word[j] += PREFIX_BOOST * alt.factor;
                        }
                    }
                }
            }
            for (t, w) in total.iter_mut().zip(&word) {
                *t += w;
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    //! The executor against tantivy running [`super::super::query::reference::build`]
    //! on the same index: the same hits with the same scores, over typos,
    //! prefixes, synonyms, filters, deletes, several segments and relaxed mode.

    use super::*;
    use crate::domain::id::Id;
    use crate::domain::listing::RatingSummary;
    use crate::domain::money::Price;
    use crate::domain::search::{SearchDoc, Synonyms};
    use crate::search::query::{reference, words};
    use crate::search::schema;
    use std::collections::BTreeMap;
    use tantivy::collector::TopDocs;
    use tantivy::{Index, Term};

    const VOCAB: [&str; 24] = [
        "walnut",
        "lamp",
        "lamps",
        "desk",
        "ergonomic",
        "keyboard",
        "keybaord",
        "chair",
        "cafe",
        "adjustable",
        "aluminum",
        "aluminium",
        "minimalist",
        "x200",
        "x2000",
        "sofa",
        "couch",
        "settee",
        "humidifier",
        "ceramic",
        "standing",
        "table",
        "light",
        "lightweight",
    ];

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
        /// `lo` up to `lo + spread - 1` words.
        fn words(&mut self, lo: usize, spread: usize) -> String {
            let n = lo + self.below(spread.max(1));
            (0..n)
                .map(|_| VOCAB[self.below(VOCAB.len())])
                .collect::<Vec<_>>()
                .join(" ")
        }
    }

    fn doc(i: usize, rng: &mut Rng) -> SearchDoc {
        let cat = format!("cat-{}", rng.below(4));
        SearchDoc {
            id: format!("prod-{i:04}"),
            title: rng.words(1, 4),
            description: rng.words(0, 12),
            keywords: (0..rng.below(3)).map(|_| rng.words(1, 1)).collect(),
            brand_id: format!("brand-{}", rng.below(3)),
            brand_title: rng.words(1, 1),
            category_ids: vec![cat.clone(), "cat-root".into()],
            category_titles: vec![rng.words(1, 1), "Home".into()],
            price: 100 * (1 + rng.below(50)) as u64,
            created_at: i as i64,
            available: rng.below(4) > 0,
            featured: rng.below(5) == 0,
            rating: RatingSummary::default(),
        }
    }

    #[test]
    fn the_executor_matches_and_scores_as_the_boolean_query_does() {
        let (schema, fields) = schema::schema();
        let index = Index::create_in_ram(schema);
        schema::register(&index);
        let mut writer: tantivy::IndexWriter =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for batch in 0..3 {
            for i in 0..150 {
                writer
                    .add_document(fields.document(&doc(batch * 150 + i, &mut rng)))
                    .unwrap();
            }
            // a few deletes in earlier segments
            writer.delete_term(Term::from_field_text(
                fields.id,
                &format!("prod-{:04}", batch * 7),
            ));
            writer.commit().unwrap();
        }
        let reader = index.reader().unwrap();
        let searcher = reader.searcher();
        assert!(searcher.segment_readers().len() >= 2, "several segments");
        let values = ValuesCache::new(fields);
        let synonyms = Synonyms {
            groups: vec![vec!["sofa".into(), "couch".into(), "settee".into()]],
        };
        let mut compared = 0;
        for case in 0..400 {
            let mut text = rng.words(1, 3);
            if case % 5 == 0 {
                // cut the last word short: a prefix
                let keep = text.len() - rng.below(3).min(text.len() - 1);
                text.truncate(keep);
            }
            let words = words(&text, &synonyms);
            let mut filter = ProductFilter::default();
            match case % 7 {
                1 => filter.category = Some(Id::parse("cat-2").unwrap()),
                2 => filter.brand = Some(Id::parse("brand-1").unwrap()),
                3 => filter.available = Some(case % 2 == 0),
                4 => {
                    filter.min_price = Some(Price::from_cents(1_000).unwrap());
                    filter.max_price = Some(Price::from_cents(3_000).unwrap());
                }
                5 => filter.category = Some(Id::parse("cat-absent").unwrap()),
                _ => {}
            }
            for relaxed in [false, true] {
                let q = reference::build(&fields, &words, &filter, relaxed);
                let want: BTreeMap<(u32, u32), f32> = searcher
                    .search(&*q, &TopDocs::with_limit(10_000).order_by_score())
                    .unwrap()
                    .into_iter()
                    .map(|(score, a)| {
                        let v = values.get(searcher.segment_reader(a.segment_ord)).unwrap();
                        ((a.segment_ord, v.id_ord[a.doc_id as usize]), score)
                    })
                    .collect();
                let got: BTreeMap<(u32, u32), f32> = run(
                    &searcher,
                    &values,
                    &Request {
                        fields: &fields,
                        words: &words,
                        filter: &filter,
                        sort: SearchSort::Relevance,
                        relaxed,
                        facets: true,
                        count: &[],
                        keep: usize::MAX,
                    },
                )
                .unwrap()
                .hits
                .into_iter()
                .map(|h| {
                    (
                        (h.segment, h.id_ord),
                        f32::from_bits(!((h.key >> 96) as u32)),
                    )
                })
                .collect();
                assert_eq!(
                    want.keys().collect::<Vec<_>>(),
                    got.keys().collect::<Vec<_>>(),
                    "hits of {text:?} (relaxed {relaxed}, filter {filter:?})"
                );
                for (k, w) in &want {
                    let g = got[k];
                    assert!(
                        (w - g).abs() <= 1e-4 * w.abs().max(1.0),
                        "score of {k:?} for {text:?}: {g} instead of {w}"
                    );
                }
                compared += want.len();
            }
        }
        assert!(compared > 10_000, "the queries found things: {compared}");
    }
}
