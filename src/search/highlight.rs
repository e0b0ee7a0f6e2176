//! Highlights: matched words wrapped in `<mark>…</mark>`, everything else
//! HTML-escaped. Matching uses the query's own rules ([`token_matches`]), so
//! typo and prefix matches are marked too.
//!
//! A [`Highlighter`] serves one answer: a page's titles and descriptions
//! repeat most of their words, so each distinct token is stemmed and
//! compared with the query once (stemming and edit distances were two thirds
//! of the time highlighting took).

use super::query::{QueryWord, token_matches};
use super::schema::{raw_analyzer, stem_analyzer};
use rustc_hash::FxHashMap as HashMap;
use std::cell::RefCell;
use tantivy::tokenizer::TextAnalyzer;

/// Longest description snippet, in characters (plus ellipses).
pub(crate) const SNIPPET_CHARS: usize = 160;

fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Marks matches in the texts of one answer, remembering each token's verdict.
pub struct Highlighter<'a> {
    words: &'a [QueryWord],
    seen: HashMap<String, bool>,
}

impl<'a> Highlighter<'a> {
    pub fn new(words: &'a [QueryWord]) -> Highlighter<'a> {
        Highlighter {
            words,
            seen: HashMap::default(),
        }
    }

    /// Byte ranges of the tokens of `text[from..to]` that match any query
    /// word; with `first`, only the first. Tokens are runs of alphanumeric
    /// characters, as the analyzers' tokenizer splits them; one the range's
    /// edges cut is not a token of it. Each distinct token (as written) is
    /// analyzed once.
    fn spans(&mut self, text: &str, from: usize, to: usize, first: bool) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        if self.words.is_empty() {
            return out;
        }
        let cut_before = text[..from]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric);
        let cut_after = text[to..].chars().next().is_some_and(char::is_alphanumeric);
        let mut at = None;
        let chars = text[from..to].char_indices().map(|(i, c)| (from + i, c));
        for (i, c) in chars.chain([(to, ' ')]) {
            match (c.is_alphanumeric(), at) {
                (true, None) => at = Some(i),
                (false, Some(a)) => {
                    at = None;
                    let cut = (a == from && cut_before) || (i == to && cut_after);
                    if !cut && self.verdict(&text[a..i]) {
                        out.push((a, i));
                        if first {
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Whether `token` (as written) matches a query word, by the query's
    /// rules on its analyzed and stemmed forms; remembered.
    fn verdict(&mut self, token: &str) -> bool {
        if let Some(&hit) = self.seen.get(token) {
            return hit;
        }
        let words = self.words;
        let hit = with_analyzed(token, |forms| {
            forms.is_some_and(|(raw, stemmed)| {
                words
                    .iter()
                    .any(|q| q.all().any(|w| token_matches(w, raw, stemmed)))
            })
        });
        self.seen.insert(token.to_string(), hit);
        hit
    }

    /// The whole text, escaped, with matches marked.
    pub fn highlight(&mut self, text: &str) -> String {
        render(text, &self.spans(text, 0, text.len(), false))
    }

    /// At most [`SNIPPET_CHARS`] of `text` around its first match (or its
    /// start), cut at word boundaries, escaped, matches marked, `…` where cut.
    /// Only the tokens up to the first match and those shown are judged.
    pub fn snippet(&mut self, text: &str) -> String {
        if text.chars().count() <= SNIPPET_CHARS {
            return self.highlight(text);
        }
        let first = self
            .spans(text, 0, text.len(), true)
            .first()
            .map_or(0, |s| s.0);
        let (start, end) = window(text, first);
        let spans = self.spans(text, start, end, false);
        excerpt(text, start, end, &spans)
    }
}

/// A token's analyzed forms (folded, then stemmed); `None` when it is too
/// long to be indexed (or nothing is left of it).
type Forms = Option<(Box<str>, Box<str>)>;

/// Most tokens whose forms a thread remembers; past it, it starts over.
const REMEMBERED_TOKENS: usize = 20_000;

thread_local! {
    /// The analyzers, made once per thread (each is a chain of boxed filters).
    static ANALYZERS: RefCell<(TextAnalyzer, TextAnalyzer)> =
        RefCell::new((raw_analyzer(), stem_analyzer()));
    /// The forms of tokens analyzed on this thread: a shop's texts share
    /// their words, so across answers most tokens were seen before, and
    /// stemming was most of what judging a new one cost.
    static FORMS: RefCell<HashMap<Box<str>, Forms>> = RefCell::new(HashMap::default());
}

/// Calls `f` with the analyzed forms of `token` (as written).
fn with_analyzed<T>(token: &str, f: impl FnOnce(Option<(&str, &str)>) -> T) -> T {
    fn view(v: &Forms) -> Option<(&str, &str)> {
        v.as_ref().map(|(raw, stemmed)| (&**raw, &**stemmed))
    }
    FORMS.with_borrow_mut(|forms| {
        if let Some(v) = forms.get(token) {
            return f(view(v));
        }
        if forms.len() >= REMEMBERED_TOKENS {
            forms.clear();
        }
        let v = forms.entry(token.into()).or_insert_with(|| analyze(token));
        f(view(v))
    })
}

fn analyze(token: &str) -> Forms {
    ANALYZERS.with_borrow_mut(|(raw, stem)| {
        let mut ts = raw.token_stream(token);
        if !ts.advance() {
            return None;
        }
        let t = ts.token();
        let mut s = stem.token_stream(&t.text);
        let stemmed: Box<str> = if s.advance() {
            s.token().text.as_str().into()
        } else {
            t.text.as_str().into()
        };
        Some((t.text.as_str().into(), stemmed))
    })
}

fn render(text: &str, spans: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len() + spans.len() * 13);
    let mut at = 0;
    for &(a, b) in spans {
        escape(&mut out, &text[at..a]);
        out.push_str("<mark>");
        escape(&mut out, &text[a..b]);
        out.push_str("</mark>");
        at = b;
    }
    escape(&mut out, &text[at..]);
    out
}

/// The byte range of the snippet of `text` (longer than [`SNIPPET_CHARS`])
/// whose first match starts at `first`: from a little before it, on a char
/// and word boundary, to at most [`SNIPPET_CHARS`] further, on a word boundary.
fn window(text: &str, first: usize) -> (usize, usize) {
    let back = text[..first]
        .char_indices()
        .rev()
        .nth(40)
        .map_or(0, |(i, _)| i);
    let start = if back == 0 {
        0
    } else {
        text[back..].find(' ').map_or(back, |i| back + i + 1)
    };
    let mut end = text[start..]
        .char_indices()
        .nth(SNIPPET_CHARS)
        .map_or(text.len(), |(i, _)| start + i);
    if end < text.len()
        && let Some(i) = text[start..end].rfind(' ')
        && i > 0
    {
        end = start + i;
    }
    (start, end)
}

/// `text[start..end]` rendered with `spans` (byte ranges of `text` inside
/// it) marked, `…` on each side that was cut.
fn excerpt(text: &str, start: usize, end: usize, spans: &[(usize, usize)]) -> String {
    let inside: Vec<(usize, usize)> = spans.iter().map(|(a, b)| (a - start, b - start)).collect();
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(&render(&text[start..end], &inside));
    if end < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::search::Synonyms;
    use crate::search::query::words;

    #[test]
    fn marks_matches_and_escapes_the_rest() {
        let w = words("lamp", &Synonyms::default());
        assert_eq!(
            Highlighter::new(&w).highlight("<b>Desk</b> Lamps & \"more\""),
            "&lt;b&gt;Desk&lt;/b&gt; <mark>Lamps</mark> &amp; &quot;more&quot;"
        );
        let w = words("cafe keybaord", &Synonyms::default());
        assert_eq!(
            Highlighter::new(&w).highlight("Café Keyboard"),
            "<mark>Café</mark> <mark>Keyboard</mark>"
        );
    }

    #[test]
    fn snippets_are_bounded_and_centered_on_the_first_match() {
        let text = format!(
            "{} the lamp shines {}",
            "word ".repeat(100),
            "tail ".repeat(100)
        );
        let w = words("lamp", &Synonyms::default());
        let s = Highlighter::new(&w).snippet(&text);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>lamp</mark>"));
        assert!(s.chars().count() <= SNIPPET_CHARS + 2 + "<mark></mark>".len());
    }

    /// The snippet as first written: every token of the text judged, the
    /// matches wholly inside the window kept.
    fn snippet_judging_everything(h: &mut Highlighter, text: &str) -> String {
        if text.chars().count() <= SNIPPET_CHARS {
            return h.highlight(text);
        }
        let spans = h.spans(text, 0, text.len(), false);
        let (start, end) = window(text, spans.first().map_or(0, |s| s.0));
        let inside: Vec<(usize, usize)> = spans
            .into_iter()
            .filter(|(a, b)| *a >= start && *b <= end)
            .collect();
        excerpt(text, start, end, &inside)
    }

    #[test]
    fn snippets_judge_only_what_they_show_and_say_the_same() {
        // Words with and without spaces between, accents, matches cut by
        // the window's edges (long runs without a space).
        let pieces = [
            "lamp",
            "lamps",
            "lampshade",
            "lam",
            "café",
            "desk",
            "x",
            " ",
            " ",
            " ",
            "-",
            "é",
            "walnutlampwalnut",
            "…",
            "&",
        ];
        let mut seed = 7u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        let queries = ["lamp", "cafe desk", "lampshade", "walnut", "zzz"];
        for i in 0..2_000 {
            let len = 20 + next(120);
            // Half the texts have long runs without a space (so the window
            // has no word boundary to cut at).
            let spaced = i % 2 == 0 || next(8) == 0;
            let text: String = (0..len)
                .map(|_| pieces[next(pieces.len())])
                .filter(|p| spaced || *p != " ")
                .collect();
            let w = words(queries[i % queries.len()], &Synonyms::default());
            let got = Highlighter::new(&w).snippet(&text);
            let want = snippet_judging_everything(&mut Highlighter::new(&w), &text);
            assert_eq!(got, want, "{text:?}");
        }
    }
}
