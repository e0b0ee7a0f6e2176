//! The gzip form cached bodies are kept in.
//!
//! Bodies of [`MIN_BYTES`] or more are stored gzipped, once, when they are
//! rendered: JSON shrinks about fivefold, so the same capacity holds about
//! five times the entries, and a client that accepts gzip (every browser)
//! is sent the stored bytes as they are, with no compressor per response.
//! A client that does not is sent them inflated, which is cheaper than
//! compressing was.

use std::io::{Read, Write};

/// Bodies shorter than this are stored (and sent) as they are: gzip would
/// save a few bytes at most.
pub(crate) const MIN_BYTES: usize = 1024;

/// zlib's default trade-off: a body is compressed once and sent many times.
const LEVEL: u32 = 6;

/// `plain` gzipped.
pub fn compress(plain: &[u8]) -> Vec<u8> {
    let mut out = flate2::write::GzEncoder::new(
        Vec::with_capacity(plain.len() / 4 + 64),
        flate2::Compression::new(LEVEL),
    );
    // Writing to a Vec cannot fail.
    out.write_all(plain).expect("gzip into memory");
    out.finish().expect("gzip into memory")
}

/// The body `gz` holds; fails only on bytes [`compress`] did not make.
pub(crate) fn inflate(gz: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(gz.len() * 6);
    flate2::read::GzDecoder::new(gz).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_survives_the_round_trip_and_json_shrinks() {
        let json = (0..200)
            .map(|i| format!(r#"{{"id":"p{i}","title":"Product {i}","price":"{i}.99"}}"#))
            .collect::<Vec<_>>()
            .join(",");
        let gz = compress(json.as_bytes());
        assert!(gz.len() * 4 < json.len(), "{} of {}", gz.len(), json.len());
        assert_eq!(inflate(&gz).unwrap(), json.as_bytes());
        assert!(inflate(b"not gzip").is_err());
    }
}
