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

/// The text fields of one segment a query reads, and its derivations.
pub(crate) struct SegmentTerms {
    fields: HashMap<Field, TextField>,
    derived: Mutex<HashMap<Key, Arc<[TermInfo]>>>,
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
        if let Some(found) = self.derived.lock().ok().and_then(|m| m.get(&key).cloned()) {
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
        if let Ok(mut m) = self.derived.lock() {
            if m.len() >= CACHED_DERIVATIONS {
                m.clear();
            }
            m.insert(key, infos.clone());
        }
        Ok(infos)
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
