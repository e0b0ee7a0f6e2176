//! The demo catalogue compiled into the binary (`serve --demo`): the fixture
//! in `fixtures/catalog/`, so the demo works from any directory.

use super::import::ImportSource;

const FILES: [(&str, &[u8]); 5] = [
    (
        "brands.jsonl",
        include_bytes!("../../fixtures/catalog/brands.jsonl"),
    ),
    (
        "categories.jsonl",
        include_bytes!("../../fixtures/catalog/categories.jsonl"),
    ),
    (
        "users.jsonl",
        include_bytes!("../../fixtures/catalog/users.jsonl"),
    ),
    (
        "products.jsonl",
        include_bytes!("../../fixtures/catalog/products.jsonl"),
    ),
    (
        "reviews.jsonl",
        include_bytes!("../../fixtures/catalog/reviews.jsonl"),
    ),
];

pub fn sources() -> Vec<ImportSource> {
    FILES
        .iter()
        .map(|(name, bytes)| ImportSource {
            file: name.to_string(),
            reader: Box::new(std::io::Cursor::new(*bytes)),
            len: bytes.len() as u64,
        })
        .collect()
}
