//! The search oracle: which products must a single-word query find?

use reqwest::{Client, StatusCode};
use std::collections::{BTreeSet, HashMap};

use super::fixture::fixture_lines;
use super::requests::get;

/// Lowercased runs of alphanumeric characters: the tokens both engines must
/// find a word among (shopd's `shop_raw` analyzer splits this way; the
/// fixture is ASCII, so folding changes nothing).
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

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

/// Product id → every token of its searchable text: title, description,
/// keywords, brand title, and titles of its categories and their ancestors
/// (the fields both engines index).
pub fn searchable_tokens() -> HashMap<String, BTreeSet<String>> {
    let titles = |f: &str| -> HashMap<String, (String, Option<String>)> {
        fixture_lines(f)
            .into_iter()
            .map(|v| {
                (
                    v["id"].as_str().unwrap().to_string(),
                    (
                        v["title"].as_str().unwrap().to_string(),
                        v["parentId"].as_str().map(String::from),
                    ),
                )
            })
            .collect()
    };
    let brands = titles("brands.jsonl");
    let categories = titles("categories.jsonl");
    let mut out = HashMap::new();
    for p in fixture_lines("products.jsonl") {
        let mut text = vec![
            p["title"].as_str().unwrap().to_string(),
            p["description"].as_str().unwrap().to_string(),
            brands[p["brandId"].as_str().unwrap()].0.clone(),
        ];
        for k in p["keywords"].as_array().unwrap() {
            text.push(k.as_str().unwrap().to_string());
        }
        for c in p["categoryIds"].as_array().unwrap() {
            let mut cur = c.as_str().map(String::from);
            while let Some(id) = cur {
                let (title, parent) = &categories[&id];
                text.push(title.clone());
                cur = parent.clone();
            }
        }
        out.insert(
            p["id"].as_str().unwrap().to_string(),
            text.iter().flat_map(|t| tokens(t)).collect(),
        );
    }
    out
}

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
