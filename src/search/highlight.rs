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

    /// Byte ranges of tokens of `text` that match any query word. Tokens
    /// are runs of alphanumeric characters, as the analyzers' tokenizer
    /// splits them; each distinct one (as written) is analyzed once.
    fn matches(&mut self, text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        if self.words.is_empty() {
            return out;
        }
        let mut at = None;
        for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
            match (c.is_alphanumeric(), at) {
                (true, None) => at = Some(i),
                (false, Some(a)) => {
                    if self.verdict(&text[a..i]) {
                        out.push((a, i));
                    }
                    at = None;
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
        let hit = ANALYZERS.with_borrow_mut(|(raw, stem)| {
            let mut ts = raw.token_stream(token);
            // Too long to be indexed (or nothing left): never a match.
            if !ts.advance() {
                return false;
            }
            let t = ts.token();
            let mut s = stem.token_stream(&t.text);
            let stemmed: &str = if s.advance() {
                &s.token().text
            } else {
                &t.text
            };
            words
                .iter()
                .any(|q| q.all().any(|w| token_matches(w, &t.text, stemmed)))
        });
        self.seen.insert(token.to_string(), hit);
        hit
    }

    /// The whole text, escaped, with matches marked.
    pub fn highlight(&mut self, text: &str) -> String {
        render(text, &self.matches(text))
    }

    /// At most [`SNIPPET_CHARS`] of `text` around its first match (or its
    /// start), cut at word boundaries, escaped, matches marked, `…` where cut.
    pub fn snippet(&mut self, text: &str) -> String {
        let spans = self.matches(text);
        snippet_of(text, &spans)
    }
}

thread_local! {
    /// The analyzers, made once per thread (each is a chain of boxed filters).
    static ANALYZERS: RefCell<(TextAnalyzer, TextAnalyzer)> =
        RefCell::new((raw_analyzer(), stem_analyzer()));
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

fn snippet_of(text: &str, spans: &[(usize, usize)]) -> String {
    let char_len = text.chars().count();
    if char_len <= SNIPPET_CHARS {
        return render(text, spans);
    }
    // Start a little before the first match, on a char and word boundary.
    let first = spans.first().map_or(0, |s| s.0);
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
    let inside: Vec<(usize, usize)> = spans
        .iter()
        .filter(|(a, b)| *a >= start && *b <= end)
        .map(|(a, b)| (a - start, b - start))
        .collect();
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
}
