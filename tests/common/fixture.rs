//! The fixture catalogue (`fixtures/catalog`) as test oracles read it,
//! shared by the test binaries (`tests/api`, `tests/differential.rs`).
#![allow(dead_code)] // each binary uses a different part

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture_dir() -> PathBuf {
    repo().join("fixtures/catalog")
}

/// Every line of a fixture JSONL file, parsed.
pub fn fixture_lines(file: &str) -> Vec<Value> {
    std::fs::read_to_string(fixture_dir().join(file))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Lowercased runs of alphanumeric characters: the tokens both engines must
/// find a word among (shopd's `shop_raw` analyzer splits this way; the
/// fixture is ASCII, so folding changes nothing).
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

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
