//! Image files in and out of a catalogue directory (`shopd import` /
//! `shopd export`).
//!
//! # Import
//! A catalogue directory may hold image files beside its JSONL: a
//! product's `images` entry that is a relative path to a file inside the
//! directory (`images/lamp.jpg`) is uploaded as an image (the same checks
//! as the API) and the entry becomes its media id. `media.jsonl`, when
//! present, names files with their alt text (`{"file": "images/lamp.jpg",
//! "alt": "…"}`; an `id` there must be the file's). Paths that leave the
//! directory (`..`, absolute) are never read. Images are stored before the
//! catalogue's one import transaction; if that transaction is refused, they
//! are collected as unused after the grace period.
//!
//! # Export
//! Every image's original goes to `images/<id>.<ext>` and a line of
//! `media.jsonl` names it with its alt text; products keep their media ids,
//! which importing the directory again gives back (ids are the bytes'
//! digest).

use super::{MediaError, MediaLibrary};
use crate::domain::media::{MediaId, SourceFormat};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Component, Path};

/// Where image files are exported, and the file naming them.
pub const IMAGES_DIR: &str = "images";
pub const MEDIA_FILE: &str = "media.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Media(#[from] MediaError),
}

/// Whether `entry` (a product's image) names a file inside the directory:
/// a relative path without scheme, `..` or root.
fn local_path(entry: &str) -> Option<&Path> {
    if entry.is_empty() || entry.contains(':') || entry.starts_with('/') || entry.contains('\\') {
        return None;
    }
    let p = Path::new(entry);
    p.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(p)
}

fn image_entries(line: &str) -> Vec<String> {
    serde_json::from_str::<Map<String, Value>>(line)
        .ok()
        .and_then(|m| m.get("images").and_then(Value::as_array).cloned())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// What an import stored: image path → media id, in path order.
#[derive(Debug, Default)]
pub struct ImportedImages {
    pub by_path: BTreeMap<String, MediaId>,
    /// Of those, how many were new (not stored before).
    pub created: usize,
}

impl ImportedImages {
    /// `products_line` with every image path this import stored replaced
    /// by its media id (a line that does not parse is left for the
    /// importer to report).
    pub fn rewrite(&self, products_line: &str) -> String {
        let Ok(mut m) = serde_json::from_str::<Map<String, Value>>(products_line) else {
            return products_line.to_string();
        };
        let Some(Value::Array(images)) = m.get_mut("images") else {
            return products_line.to_string();
        };
        let mut changed = false;
        for v in images.iter_mut() {
            if let Some(id) = v.as_str().and_then(|s| self.by_path.get(s)) {
                *v = Value::String(id.to_string());
                changed = true;
            }
        }
        if changed {
            Value::Object(m).to_string()
        } else {
            products_line.to_string()
        }
    }
}

/// Stores the image files `dir`'s `products.jsonl` and `media.jsonl` name
/// (see the module docs); `progress(done, total)` after each.
pub async fn import_images(
    lib: &MediaLibrary,
    dir: &Path,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<ImportedImages, TransferError> {
    // path → (alt, expected id)
    let mut wanted: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    let media_file = dir.join(MEDIA_FILE);
    if media_file.exists() {
        for (n, line) in std::fs::read_to_string(&media_file)?.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |reason: String| TransferError::File {
                file: format!("{MEDIA_FILE}:{}", n + 1),
                reason,
            };
            let m: Map<String, Value> =
                serde_json::from_str(line).map_err(|e| bad(format!("not a JSON object: {e}")))?;
            let file = m
                .get("file")
                .and_then(Value::as_str)
                .filter(|f| local_path(f).is_some())
                .ok_or_else(|| bad("`file` must be a relative path inside the directory".into()))?;
            let alt = m.get("alt").and_then(Value::as_str).map(str::to_string);
            let id = m.get("id").and_then(Value::as_str).map(str::to_string);
            wanted.insert(file.to_string(), (alt, id));
        }
    }
    let products = dir.join("products.jsonl");
    if products.exists() {
        for line in std::fs::read_to_string(&products)?.lines() {
            for entry in image_entries(line) {
                if let Some(p) = local_path(&entry)
                    && dir.join(p).is_file()
                {
                    wanted.entry(entry).or_default();
                }
            }
        }
    }
    let total = wanted.len() as u64;
    let mut out = ImportedImages::default();
    for (i, (path, (alt, id))) in wanted.into_iter().enumerate() {
        let bytes = std::fs::read(dir.join(&path)).map_err(|e| TransferError::File {
            file: path.clone(),
            reason: e.to_string(),
        })?;
        let (m, created) =
            lib.upload(bytes.into(), alt)
                .await
                .map_err(|e| TransferError::File {
                    file: path.clone(),
                    reason: e.to_string(),
                })?;
        if let Some(id) = id
            && id != m.id.as_str()
        {
            return Err(TransferError::File {
                file: path,
                reason: format!("its bytes are image {}, not {id}", m.id),
            });
        }
        out.created += created as usize;
        out.by_path.insert(path, m.id);
        progress(i as u64 + 1, total);
    }
    Ok(out)
}

fn extension(f: SourceFormat) -> &'static str {
    match f {
        SourceFormat::Jpeg => "jpg",
        SourceFormat::Png => "png",
        SourceFormat::Webp => "webp",
        SourceFormat::Gif => "gif",
    }
}

/// Writes every image's original and `media.jsonl` into `dir`; how many.
pub async fn export_images(lib: &MediaLibrary, dir: &Path) -> Result<u64, TransferError> {
    let all = lib
        .inner
        .store
        .read()
        .map_err(MediaError::from)?
        .media()
        .all()
        .map_err(MediaError::from)?;
    let images = dir.join(IMAGES_DIR);
    std::fs::create_dir_all(&images)?;
    let mut lines = String::new();
    for m in &all {
        let bytes = lib
            .inner
            .files
            .original(&m.id)
            .await
            .map_err(MediaError::from)?;
        let file = format!("{IMAGES_DIR}/{}.{}", m.id, extension(m.format));
        std::fs::write(dir.join(&file), &bytes)?;
        lines.push_str(&json!({"id": m.id.as_str(), "file": file, "alt": m.alt}).to_string());
        lines.push('\n');
    }
    std::fs::write(dir.join(MEDIA_FILE), lines)?;
    Ok(all.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_relative_paths_inside_the_directory_are_files() {
        for ok in ["images/a.jpg", "a.png", "x/y/z.webp"] {
            assert!(local_path(ok).is_some(), "{ok}");
        }
        for bad in [
            "../a.jpg",
            "images/../../etc/passwd",
            "/etc/passwd",
            "https://cdn.example.com/a.jpg",
            "C:\\a.jpg",
            "",
            "./a.jpg",
        ] {
            assert!(local_path(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn rewriting_replaces_stored_paths_only() {
        let mut images = ImportedImages::default();
        let id = MediaId::of_digest(&[7; 32]);
        images.by_path.insert("images/a.jpg".into(), id.clone());
        let line = r#"{"id":"p1","images":["images/a.jpg","https://x/y.jpg"]}"#;
        let out: Value = serde_json::from_str(&images.rewrite(line)).unwrap();
        assert_eq!(out["images"], json!([id.as_str(), "https://x/y.jpg"]));
        assert_eq!(images.rewrite("not json"), "not json");
    }
}
