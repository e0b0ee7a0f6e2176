//! From user text to query words, and what a word matches and scores. The
//! text is only ever split into words by the analyzers: quotes, colons, `*`,
//! `~` and friends are separators, never syntax, so no input can make a query
//! fail.
//!
//! Per word (and, as alternatives, each of its synonyms):
//! - exact stem in `title` (×4), `keywords` (×2), brand and category titles
//!   (×1.5), `description` (×0.5), BM25-scored;
//! - typo tolerance as the best engines set it: words of 5+ characters allow
//!   1 edit (a transposition counts as one), 9+ allow 2; fuzzy matches score
//!   a constant below an exact match;
//! - the last word, and any word with a digit, also matches as a prefix
//!   ("ergon" → "ergonomic", "x2" → "x200"); words with digits never match
//!   fuzzily (model numbers are exact).
//!
//! All words must match; `relaxed` lets any word match, and a document
//! matching more words scores higher.
//!
//! [`super::execute`] runs this; [`reference::build`] states the same as a
//! tantivy boolean query, which tests hold the executor to.

use super::schema::{Fields, raw_analyzer, stem_analyzer};
use crate::domain::search::Synonyms;

/// One analyzed query word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Lowercased, ASCII-folded, unstemmed.
    pub raw: String,
    /// As indexed (stemmed).
    pub stem: String,
    /// Edits tolerated: 0, 1 or 2.
    pub typos: u8,
    /// Also matches as a prefix.
    pub prefix: bool,
}

/// A query word with its synonyms as alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWord {
    pub word: Word,
    pub alternatives: Vec<Word>,
}

impl QueryWord {
    pub(crate) fn all(&self) -> impl Iterator<Item = &Word> {
        std::iter::once(&self.word).chain(&self.alternatives)
    }
}

fn typos_for(raw: &str) -> u8 {
    if raw.chars().any(|c| c.is_ascii_digit()) {
        return 0;
    }
    match raw.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

fn stem_of(raw: &str) -> String {
    let mut a = stem_analyzer();
    let mut ts = a.token_stream(raw);
    let mut out = String::new();
    while ts.advance() {
        out.push_str(&ts.token().text);
    }
    if out.is_empty() { raw.to_string() } else { out }
}

/// Splits `text` into analyzed words and attaches synonyms.
pub(crate) fn words(text: &str, synonyms: &Synonyms) -> Vec<QueryWord> {
    let mut a = raw_analyzer();
    let mut ts = a.token_stream(text);
    let mut raws = Vec::new();
    while ts.advance() {
        raws.push(ts.token().text.clone());
    }
    let n = raws.len();
    raws.into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let make = |raw: &str, last: bool| Word {
                stem: stem_of(raw),
                typos: typos_for(raw),
                prefix: last || raw.chars().any(|c| c.is_ascii_digit()),
                raw: raw.to_string(),
            };
            let last = i + 1 == n;
            QueryWord {
                alternatives: synonyms
                    .expand(&raw)
                    .flat_map(|s| {
                        // A synonym is a word; analyze it like the query.
                        let mut a = raw_analyzer();
                        let mut ts = a.token_stream(s);
                        let mut v = Vec::new();
                        while ts.advance() {
                            v.push(ts.token().text.clone());
                        }
                        v
                    })
                    .map(|s| make(&s, false))
                    .collect(),
                word: make(&raw, last),
            }
        })
        .collect()
}

/// Picks one field out of the schema's fields.
pub(crate) type FieldOf = fn(&Fields) -> tantivy::schema::Field;

/// Per-field weights: title highest, description lowest.
pub(crate) const EXACT_FIELDS: [(FieldOf, f32); 5] = [
    (|f| f.title, 4.0),
    (|f| f.keywords, 2.0),
    (|f| f.brand_title, 1.5),
    (|f| f.category_titles, 1.5),
    (|f| f.description, 0.5),
];
pub(crate) const FUZZY_BOOST: f32 = 0.6;
pub(crate) const TITLE_FUZZY_BOOST: f32 = 1.2;
pub(crate) const PREFIX_BOOST: f32 = 0.8;
pub(crate) const SYNONYM_FACTOR: f32 = 0.9;

/// Whether an indexed token (`raw` unstemmed, `stem` stemmed) matches `w` by
/// the same rules as the query; used for highlighting.
pub(crate) fn token_matches(w: &Word, raw: &str, stem: &str) -> bool {
    stem == w.stem
        || (w.prefix && raw.starts_with(&w.raw))
        || (w.typos > 0 && within(stem, &w.stem, w.typos as usize))
}

/// Whether `a` is at most `edits` edits from `b` (a transposition is one).
fn within(a: &str, b: &str, edits: usize) -> bool {
    // Lengths further apart than the budget cannot be; for ASCII, byte
    // lengths are character counts, and most tokens are ASCII.
    if a.is_ascii() && b.is_ascii() && a.len().abs_diff(b.len()) > edits {
        return false;
    }
    strsim::osa_distance(a, b) <= edits
}

/// The query as a tantivy boolean query: what [`super::execute`] must
/// match and score.
#[cfg(test)]
pub(crate) mod reference {
    use super::*;
    use crate::domain::listing::ProductFilter;
    use std::ops::Bound;
    use tantivy::Term;
    use tantivy::query::{
        AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query,
        RangeQuery, TermQuery,
    };
    use tantivy::schema::IndexRecordOption;

    fn boosted(q: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
        Box::new(BoostQuery::new(q, boost))
    }

    fn word_clauses(f: &Fields, w: &Word, factor: f32, out: &mut Vec<(Occur, Box<dyn Query>)>) {
        for (field, boost) in EXACT_FIELDS {
            let t = TermQuery::new(
                Term::from_field_text(field(f), &w.stem),
                IndexRecordOption::WithFreqs,
            );
            out.push((Occur::Should, boosted(Box::new(t), boost * factor)));
        }
        if w.typos > 0 {
            // A typo in the title ranks above a typo anywhere else.
            for (field, boost) in [(f.title, TITLE_FUZZY_BOOST), (f.all_stem, FUZZY_BOOST)] {
                let t = FuzzyTermQuery::new(Term::from_field_text(field, &w.stem), w.typos, true);
                out.push((Occur::Should, boosted(Box::new(t), boost * factor)));
            }
        }
        if w.prefix {
            let t = FuzzyTermQuery::new_prefix(Term::from_field_text(f.all_raw, &w.raw), 0, true);
            out.push((Occur::Should, boosted(Box::new(t), PREFIX_BOOST * factor)));
        }
    }

    fn filter_clauses(f: &Fields, filter: &ProductFilter) -> Vec<(Occur, Box<dyn Query>)> {
        let mut out: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut must = |q: Box<dyn Query>| {
            out.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn Query>,
            ))
        };
        if let Some(c) = &filter.category {
            must(Box::new(TermQuery::new(
                Term::from_field_text(f.category_ids, c.as_str()),
                IndexRecordOption::Basic,
            )));
        }
        if let Some(b) = &filter.brand {
            must(Box::new(TermQuery::new(
                Term::from_field_text(f.brand_id, b.as_str()),
                IndexRecordOption::Basic,
            )));
        }
        if let Some(a) = filter.available {
            must(Box::new(TermQuery::new(
                Term::from_field_u64(f.available, a as u64),
                IndexRecordOption::Basic,
            )));
        }
        if filter.min_price.is_some() || filter.max_price.is_some() {
            let lo = filter.min_price.map_or(Bound::Unbounded, |p| {
                Bound::Included(Term::from_field_u64(f.price, p.cents()))
            });
            let hi = filter.max_price.map_or(Bound::Unbounded, |p| {
                Bound::Included(Term::from_field_u64(f.price, p.cents()))
            });
            must(Box::new(RangeQuery::new(lo, hi)));
        }
        out
    }

    /// The whole query: words (all required, or any when `relaxed`) and filters.
    /// No words: every product, filtered.
    pub(crate) fn build(
        f: &Fields,
        words: &[QueryWord],
        filter: &ProductFilter,
        relaxed: bool,
    ) -> Box<dyn Query> {
        let mut clauses = filter_clauses(f, filter);
        if words.is_empty() {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        } else {
            let mut any = Vec::new();
            for w in words {
                let mut alts = Vec::new();
                word_clauses(f, &w.word, 1.0, &mut alts);
                for alt in &w.alternatives {
                    word_clauses(f, alt, SYNONYM_FACTOR, &mut alts);
                }
                let word_query: Box<dyn Query> = Box::new(BooleanQuery::new(alts));
                if relaxed {
                    any.push((Occur::Should, word_query));
                } else {
                    clauses.push((Occur::Must, word_query));
                }
            }
            if relaxed {
                clauses.push((Occur::Must, Box::new(BooleanQuery::new(any))));
            }
        }
        Box::new(BooleanQuery::new(clauses))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_analyzed_with_typo_budgets_and_prefix_on_the_last() {
        let w = words(
            "Keybaord ergonomically X200 cafés ergon",
            &Synonyms::default(),
        );
        let got: Vec<(&str, u8, bool)> = w
            .iter()
            .map(|q| (q.word.raw.as_str(), q.word.typos, q.word.prefix))
            .collect();
        assert_eq!(
            got,
            [
                ("keybaord", 1, false),
                ("ergonomically", 2, false),
                ("x200", 0, true),
                ("cafes", 1, false),
                ("ergon", 1, true)
            ]
        );
        assert_eq!(w[3].word.stem, "cafe");
    }

    #[test]
    fn syntax_characters_are_separators() {
        let w = words("title:\"lamp\" (desk) *~ -x AND", &Synonyms::default());
        let raws: Vec<&str> = w.iter().map(|q| q.word.raw.as_str()).collect();
        assert_eq!(raws, ["title", "lamp", "desk", "x", "and"]);
        assert!(words("\"\"\"::::", &Synonyms::default()).is_empty());
    }

    #[test]
    fn highlight_matching_follows_the_query_rules() {
        let w = &words("keybaord lam", &Synonyms::default());
        assert!(token_matches(&w[0].word, "keyboards", "keyboard"));
        assert!(
            token_matches(&w[1].word, "lamp", "lamp"),
            "prefix on the last word"
        );
        let lamb = &words("lamb x", &Synonyms::default())[0].word;
        assert!(!token_matches(lamb, "lamp", "lamp"), "4 letters: no typo");
    }
}
