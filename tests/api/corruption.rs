//! Damaged database files, through the real binary: flipped bytes in the
//! records or in the file's header stop the start with an error that names
//! the file and says how to restore it — never a crash, never a server that
//! answers from damaged data.

use crate::helpers::fixture_dir;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn shopd(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shopd"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A data dir holding the fixture catalogue, closed cleanly.
fn imported() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = shopd(dir.path(), &["import", fixture_dir().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// `shopd reindex` opens the database as `serve` does and exits: its
/// answer on a damaged file.
fn open_fails_clearly(data: &Path, what: &str) {
    let out = shopd(data, &["reindex"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{what}: opened a damaged file:\n{stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: an error exit, not a crash:\n{stderr}"
    );
    let db = data.join("shopd.redb");
    assert!(
        stderr.contains(&db.display().to_string()),
        "{what}: the error names the file:\n{stderr}"
    );
    assert!(
        stderr.contains("is damaged") && stderr.contains("shopd backup restore"),
        "{what}: the error says what to do:\n{stderr}"
    );
}

#[test]
fn flipped_bytes_in_records_or_header_stop_the_start_with_a_clear_error() {
    let clean = imported();
    let db = clean.path().join("shopd.redb");
    let bytes = std::fs::read(&db).unwrap();
    // It opens while intact.
    let out = shopd(clean.path(), &["reindex"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes_after = std::fs::read(&db).unwrap();

    // One byte of a live record: every copy of a product's title in the
    // file gets one bit flipped (a price or a title silently changed).
    let needle = b"prod-000042";
    let mut damaged = bytes_after.clone();
    let mut hits = 0;
    for i in 0..damaged.len().saturating_sub(needle.len()) {
        if &damaged[i..i + needle.len()] == needle {
            damaged[i + needle.len() - 1] ^= 0x01;
            hits += 1;
        }
    }
    assert!(hits > 0, "the file holds the record");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shopd.redb"), &damaged).unwrap();
    open_fails_clearly(dir.path(), "a flipped bit in a record");

    // The file's header.
    let mut damaged = bytes_after.clone();
    for b in &mut damaged[8..64] {
        *b ^= 0x5a;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shopd.redb"), &damaged).unwrap();
    open_fails_clearly(dir.path(), "a garbled header");

    // A file cut short.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shopd.redb"), &bytes[..bytes.len() / 2]).unwrap();
    open_fails_clearly(dir.path(), "a truncated file");
}
