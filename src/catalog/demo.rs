//! The demo catalogue compiled into the binary (`serve --demo`): the fixture
//! in `fixtures/catalog/`, so the demo works from any directory, and twelve
//! generated product photos (`fixtures/demo-images/`, made with
//! `shopd gen --products 1 --images 12 --image-side 800 --seed 7 DIR`).

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

/// The demo's product photos: 800 × 600 JPEGs, generated (not
/// downloaded), with their alt text.
pub const IMAGES: [(&str, &[u8]); 12] = [
    (
        "Product photo 1 (generated for the demo)",
        include_bytes!("../../fixtures/demo-images/gen-0000.jpg"),
    ),
    (
        "Product photo 2 (generated for the demo)",
        include_bytes!("../../fixtures/demo-images/gen-0001.jpg"),
    ),
    (
        "Product photo 3 (generated for the demo)",
        include_bytes!("../../fixtures/demo-images/gen-0002.jpg"),
    ),
    (
        "Product photo 4 (generated for the demo)",
        include_bytes!("../../fixtures/demo-images/gen-0003.jpg"),
    ),
    (
        "Product photo 5 (generated for the demo)",
        include_bytes!("../../fixtures/demo-images/gen-0004.jpg"),
    ),
    (
        "Product photo 6 (generated for the demo)",
        include_bytes!("../../fixtures/demo-images/gen-0005.jpg"),
    ),
    (
        "Product photo 7 (generated for the demo)",
        include_bytes!("../../fixtures/demo-images/gen-0006.jpg"),
    ),
    (
        "Product photo 8 (generated for the demo)",
        include_bytes!("../../fixtures/demo-images/gen-0007.jpg"),
    ),
    (
        "Product photo 9 (generated for the demo)",
        include_bytes!("../../fixtures/demo-images/gen-0008.jpg"),
    ),
    (
        "Product photo 10 (generated for the demo)",
        include_bytes!("../../fixtures/demo-images/gen-0009.jpg"),
    ),
    (
        "Product photo 11 (generated for the demo)",
        include_bytes!("../../fixtures/demo-images/gen-0010.jpg"),
    ),
    (
        "Product photo 12 (generated for the demo)",
        include_bytes!("../../fixtures/demo-images/gen-0011.jpg"),
    ),
];

/// The demo's sources with every product's images replaced by one of
/// `ids` (round-robin, in file order): the photos stored as images.
pub fn sources_with_images(ids: &[String]) -> Vec<ImportSource> {
    let mut out = sources();
    if ids.is_empty() {
        return out;
    }
    for s in out.iter_mut().filter(|s| s.file == "products.jsonl") {
        let text = FILES
            .iter()
            .find(|(n, _)| *n == "products.jsonl")
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let mut rewritten = String::with_capacity(text.len());
        for (k, line) in text.lines().enumerate() {
            match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line) {
                Ok(mut m) => {
                    m.insert("images".into(), serde_json::json!([ids[k % ids.len()]]));
                    rewritten.push_str(&serde_json::Value::Object(m).to_string());
                }
                Err(_) => rewritten.push_str(line),
            }
            rewritten.push('\n');
        }
        s.len = rewritten.len() as u64;
        s.reader = Box::new(std::io::Cursor::new(rewritten.into_bytes()));
    }
    out
}
