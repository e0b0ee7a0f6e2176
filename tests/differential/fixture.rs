//! The fixture catalogue (`fixtures/catalog`), the data every server here
//! serves.

use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture_dir() -> PathBuf {
    repo().join("fixtures/catalog")
}

pub fn fixture_lines(file: &str) -> Vec<Value> {
    std::fs::read_to_string(fixture_dir().join(file))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
