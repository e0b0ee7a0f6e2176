//! The search oracle: which products must a single-word query find?

use reqwest::{Client, StatusCode};
use std::collections::BTreeSet;

use super::requests::get;
pub use crate::common::fixture::{searchable_tokens, tokens};

/// PostgreSQL's english stop words: the Postgres design cannot find them, so
/// they are not asked for.
#[rustfmt::skip]
pub const PG_STOP_WORDS: &[&str] = &[
    "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours",
    "yourself", "yourselves", "he", "him", "his", "himself", "she", "her", "hers", "herself", "it",
    "its", "itself", "they", "them", "their", "theirs", "themselves", "what", "which", "who",
    "whom", "this", "that", "these", "those", "am", "is", "are", "was", "were", "be", "been",
    "being", "have", "has", "had", "having", "do", "does", "did", "doing", "a", "an", "the", "and",
    "but", "if", "or", "because", "as", "until", "while", "of", "at", "by", "for", "with", "about",
    "against", "between", "into", "through", "during", "before", "after", "above", "below", "to",
    "from", "up", "down", "in", "out", "on", "off", "over", "under", "again", "further", "then",
    "once", "here", "there", "when", "where", "why", "how", "all", "any", "both", "each", "few",
    "more", "most", "other", "some", "such", "no", "nor", "not", "only", "own", "same", "so",
    "than", "too", "very", "s", "t", "can", "will", "just", "don", "should", "now",
];

/// Every hit id of `q` (all pages).
pub async fn all_hits(client: &Client, address: &str, word: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for page in 1.. {
        let a = get(
            client,
            &format!("{address}/api/v1/search?q={word}&limit=100&page={page}"),
        )
        .await;
        assert_eq!(
            a.status,
            StatusCode::OK,
            "search {word} on {address}: {}",
            a.body
        );
        let data = a.body["data"].as_array().unwrap();
        ids.extend(data.iter().map(|p| p["id"].as_str().unwrap().to_string()));
        if !a.body["meta"]["hasNext"].as_bool().unwrap() {
            break;
        }
    }
    ids
}
