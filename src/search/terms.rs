//! What a query word matches in one segment's term dictionaries: its exact
//! term, the terms within its typo budget (a Levenshtein automaton run over
//! the dictionary's FST, transpositions counting as one edit), and the terms
//! it is a prefix of (a range scan). Derived once per segment and word, then
//! kept with the segment: segments are immutable, so a derivation stays true
//! for the segment's life and is dropped with it; a query that repeats a
//! word costs a hash lookup instead of an automaton walk.
//!
//! Invariant: the terms are exactly those tantivy's `FuzzyTermQuery` (typos)
//! and `FuzzyTermQuery::new_prefix(…, 0, …)` (prefix) would match.

use levenshtein_automata::{DFA, Distance, LevenshteinAutomatonBuilder, SINK_STATE};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tantivy::fieldnorm::FieldNormReader;
use tantivy::index::InvertedIndexReader;
use tantivy::postings::TermInfo;
use tantivy::schema::Field;
use tantivy::{DocId, SegmentReader};

/// Most derivations cached per segment; past it the cache starts over
/// (bounds memory against a stream of distinct words).
const CACHED_DERIVATIONS: usize = 20_000;
/// Bytes of document sets cached per segment (a set is one bit per
/// document: 12.5 KB at 100K products, 125 KB at 1M); past it the cache
/// starts over.
const CACHED_DOCS_BYTES: usize = 16 << 20;
/// A word's document set is cached when making it reads many terms (a
/// short prefix, typed first, unions the postings of hundreds) …
const DOCS_FROM_TERMS: usize = 16;
/// … or many postings: at least one in this many of the segment's documents
/// (a frequent word, whose postings take longer to read than its set takes
/// to keep).
const DOCS_FROM_SHARE: u64 = 64;
/// Completions a suggest answer offers (the terms the last word begins
/// that most products have, over all segments).
pub(crate) const COMPLETIONS: usize = 8;

/// How a word selects terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Match {
    /// Within this many edits (0: the exact term).
    Typos(u8),
    /// Every term starting with the word.
    Prefix,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    field: Field,
    how: Match,
    word: Box<str>,
}

/// A text field of one segment: its postings, its field norms, and the
/// derivations of the words queried so far.
pub(crate) struct TextField {
    pub index: Arc<InvertedIndexReader>,
    pub norms: Option<FieldNormReader>,
}

/// Words a prefix completes, with their document counts, most first.
pub(crate) type Completions = Arc<[(String, u32)]>;

/// The text fields of one segment a query reads, and its derivations.
pub(crate) struct SegmentTerms {
    fields: HashMap<Field, TextField>,
    derived: Mutex<HashMap<Key, Arc<[TermInfo]>>>,
    docs: Mutex<HashMap<Key, Arc<DocBits>>>,
    completions: Mutex<HashMap<Key, Completions>>,
}

/// The cached value of `key`, if any.
fn recall<V: Clone>(cache: &Mutex<HashMap<Key, V>>, key: &Key) -> Option<V> {
    cache.lock().ok().and_then(|m| m.get(key).cloned())
}

/// Caches `value` under `key`; a cache of `limit` entries starts over.
fn remember<V>(cache: &Mutex<HashMap<Key, V>>, key: Key, value: V, limit: usize) {
    if let Ok(mut m) = cache.lock() {
        if m.len() >= limit {
            m.clear();
        }
        m.insert(key, value);
    }
}

struct Automaton<'a>(&'a DFA);

impl tantivy_fst::Automaton for Automaton<'_> {
    type State = u32;

    fn start(&self) -> u32 {
        self.0.initial_state()
    }

    fn is_match(&self, state: &u32) -> bool {
        matches!(self.0.distance(*state), Distance::Exact(_))
    }

    fn can_match(&self, state: &u32) -> bool {
        *state != SINK_STATE
    }

    fn accept(&self, state: &u32, byte: u8) -> u32 {
        self.0.transition(*state, byte)
    }
}

/// Automaton builders are costly to make (tables for every edit pattern);
/// made once per distance.
fn builder(distance: u8) -> &'static LevenshteinAutomatonBuilder {
    static BUILDERS: [OnceLock<LevenshteinAutomatonBuilder>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let d = distance.min(2);
    BUILDERS[d as usize].get_or_init(|| LevenshteinAutomatonBuilder::new(d, true))
}

impl SegmentTerms {
    /// Opens `fields` of `reader` (those with norms get them).
    pub(crate) fn open(reader: &SegmentReader, fields: &[Field]) -> tantivy::Result<SegmentTerms> {
        let mut out = HashMap::new();
        for &field in fields {
            out.insert(
                field,
                TextField {
                    index: reader.inverted_index(field)?,
                    norms: reader.fieldnorms_readers().get_field(field)?,
                },
            );
        }
        Ok(SegmentTerms {
            fields: out,
            derived: Mutex::new(HashMap::new()),
            docs: Mutex::new(HashMap::new()),
            completions: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn field(&self, field: Field) -> Option<&TextField> {
        self.fields.get(&field)
    }

    /// The term infos `word` matches in `field` by `how`.
    pub(crate) fn derive(
        &self,
        field: Field,
        word: &str,
        how: Match,
    ) -> tantivy::Result<Arc<[TermInfo]>> {
        let Some(f) = self.fields.get(&field) else {
            return Ok(Arc::from([]));
        };
        if how == Match::Typos(0) {
            // One dictionary lookup: not worth a cache entry.
            return Ok(f.index.terms().get(word)?.into_iter().collect());
        }
        let key = Key {
            field,
            how,
            word: word.into(),
        };
        if let Some(found) = recall(&self.derived, &key) {
            return Ok(found);
        }
        let dict = f.index.terms();
        let mut infos = Vec::new();
        match how {
            Match::Typos(n) => {
                let dfa = builder(n).build_dfa(word);
                let mut stream = dict.search(Automaton(&dfa)).into_stream()?;
                while let Some((_, info)) = stream.next() {
                    infos.push(info.clone());
                }
            }
            Match::Prefix => {
                let mut stream = dict.range().ge(word.as_bytes()).into_stream()?;
                while let Some((term, info)) = stream.next() {
                    if !term.starts_with(word.as_bytes()) {
                        break;
                    }
                    infos.push(info.clone());
                }
            }
        }
        let infos: Arc<[TermInfo]> = infos.into();
        remember(&self.derived, key, infos.clone(), CACHED_DERIVATIONS);
        Ok(infos)
    }

    /// The documents with a term in `field` that `word` matches by `how`;
    /// the set is kept with the segment when it was costly to make.
    pub(crate) fn docs(
        &self,
        field: Field,
        word: &str,
        how: Match,
        max_doc: u32,
    ) -> tantivy::Result<Arc<DocBits>> {
        let key = Key {
            field,
            how,
            word: word.into(),
        };
        if let Some(found) = recall(&self.docs, &key) {
            return Ok(found);
        }
        let infos = self.derive(field, word, how)?;
        let mut bits = DocBits::empty(max_doc);
        self.mark(field, &infos, &mut bits)?;
        let bits = Arc::new(bits);
        let postings: u64 = infos.iter().map(|i| i.doc_freq as u64).sum();
        if infos.len() >= DOCS_FROM_TERMS || postings * DOCS_FROM_SHARE >= max_doc as u64 {
            let sets = CACHED_DOCS_BYTES / (max_doc as usize / 8 + 1);
            remember(&self.docs, key, bits.clone(), sets.max(8));
        }
        Ok(bits)
    }

    /// Every term of `field` starting with `prefix`, with its document
    /// count, most first. All of them, not the first few: the most frequent
    /// over several segments need not be among each segment's first few.
    pub(crate) fn completions(&self, field: Field, prefix: &str) -> tantivy::Result<Completions> {
        let Some(f) = self.fields.get(&field) else {
            return Ok(Arc::from([]));
        };
        let key = Key {
            field,
            how: Match::Prefix,
            word: prefix.into(),
        };
        if let Some(found) = recall(&self.completions, &key) {
            return Ok(found);
        }
        let mut stream = f
            .index
            .terms()
            .range()
            .ge(prefix.as_bytes())
            .into_stream()?;
        let mut all: Vec<(u32, Vec<u8>)> = Vec::new();
        while let Some((term, info)) = stream.next() {
            if !term.starts_with(prefix.as_bytes()) {
                break;
            }
            all.push((info.doc_freq, term.to_vec()));
        }
        // Most documents first, then alphabetical.
        all.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let found: Completions = all
            .into_iter()
            .map(|(n, t)| (String::from_utf8_lossy(&t).into_owned(), n))
            .collect();
        remember(&self.completions, key, found.clone(), CACHED_DERIVATIONS);
        Ok(found)
    }

    /// How many of `docs` have `term` in `field`.
    pub(crate) fn count_in(
        &self,
        field: Field,
        term: &str,
        docs: &DocBits,
    ) -> tantivy::Result<u64> {
        let Some(f) = self.fields.get(&field) else {
            return Ok(0);
        };
        let Some(info) = f.index.terms().get(term)? else {
            return Ok(0);
        };
        let mut postings = f
            .index
            .read_block_postings_from_terminfo(&info, tantivy::schema::IndexRecordOption::Basic)?;
        let mut n = 0;
        loop {
            let block = postings.docs();
            if block.is_empty() {
                break;
            }
            n += block.iter().filter(|&&d| docs.contains(d)).count() as u64;
            postings.advance();
        }
        Ok(n)
    }

    /// Sets the bit of every document with any of `infos` in `field`.
    pub(crate) fn mark(
        &self,
        field: Field,
        infos: &[TermInfo],
        bits: &mut DocBits,
    ) -> tantivy::Result<()> {
        let Some(f) = self.fields.get(&field) else {
            return Ok(());
        };
        for info in infos {
            let mut postings = f.index.read_block_postings_from_terminfo(
                info,
                tantivy::schema::IndexRecordOption::Basic,
            )?;
            loop {
                let docs = postings.docs();
                if docs.is_empty() {
                    break;
                }
                for &d in docs {
                    bits.insert(d);
                }
                postings.advance();
            }
        }
        Ok(())
    }
}

/// A set of a segment's documents, one bit each.
#[derive(Debug, Clone)]
pub(crate) struct DocBits {
    words: Vec<u64>,
}

impl DocBits {
    pub(crate) fn empty(max_doc: u32) -> DocBits {
        DocBits {
            words: vec![0; (max_doc as usize).div_ceil(64)],
        }
    }

    pub(crate) fn full(max_doc: u32) -> DocBits {
        let mut b = DocBits {
            words: vec![u64::MAX; (max_doc as usize).div_ceil(64)],
        };
        let tail = max_doc as usize % 64;
        if tail != 0
            && let Some(last) = b.words.last_mut()
        {
            *last = (1u64 << tail) - 1;
        }
        b
    }

    #[inline]
    pub(crate) fn insert(&mut self, doc: DocId) {
        if let Some(w) = self.words.get_mut(doc as usize / 64) {
            *w |= 1 << (doc % 64);
        }
    }

    #[inline]
    pub(crate) fn contains(&self, doc: DocId) -> bool {
        self.words
            .get(doc as usize / 64)
            .is_some_and(|w| w & (1 << (doc % 64)) != 0)
    }

    pub(crate) fn and(&mut self, other: &DocBits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    pub(crate) fn or(&mut self, other: &DocBits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// The documents in ascending order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = DocId> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros();
                w &= w - 1;
                Some(i as DocId * 64 + bit)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_bits_hold_exactly_what_was_inserted() {
        let mut a = DocBits::empty(200);
        for d in [0, 63, 64, 130, 199, 500] {
            a.insert(d);
        }
        assert_eq!(a.iter().collect::<Vec<_>>(), [0, 63, 64, 130, 199]);
        assert!(a.contains(130) && !a.contains(131) && !a.contains(500));
        let full = DocBits::full(130);
        assert_eq!(full.iter().count(), 130);
        let mut b = DocBits::empty(200);
        b.insert(64);
        b.insert(7);
        let mut and = a.clone();
        and.and(&b);
        assert_eq!(and.iter().collect::<Vec<_>>(), [64]);
        a.or(&b);
        assert_eq!(a.iter().collect::<Vec<_>>(), [0, 7, 63, 64, 130, 199]);
    }
}
