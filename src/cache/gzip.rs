//! The gzip form cached bodies are kept in.
//!
//! Bodies of [`MIN_BYTES`] or more are stored gzipped, once, when they are
//! rendered: JSON shrinks about fivefold, so the same capacity holds about
//! five times the entries, and a client that accepts gzip (every browser)
//! is sent the stored bytes as they are, with no compressor per response.
//! A client that does not is sent them inflated, which is cheaper than
//! compressing was.

use libdeflater::{CompressionLvl, Compressor, Decompressor};
use std::cell::RefCell;

/// Bodies shorter than this are stored (and sent) as they are: gzip would
/// save a few bytes at most.
pub(crate) const MIN_BYTES: usize = 1024;

/// zlib's default trade-off: a body is compressed once and sent many times.
const LEVEL: i32 = 6;

thread_local! {
    /// libdeflate's compressor and decompressor, one pair per thread (they
    /// take `&mut self`).
    static CODEC: RefCell<(Compressor, Decompressor)> = RefCell::new((
        Compressor::new(CompressionLvl::new(LEVEL).unwrap_or_default()),
        Decompressor::new(),
    ));
}

/// `plain` gzipped.
pub fn compress(plain: &[u8]) -> Vec<u8> {
    CODEC.with_borrow_mut(|(c, _)| {
        let mut out = vec![0; c.gzip_compress_bound(plain.len())];
        // The bound is enough by libdeflate's contract.
        let n = c
            .gzip_compress(plain, &mut out)
            .expect("gzip within its bound");
        out.truncate(n);
        out
    })
}

/// The body `gz` holds; fails only on bytes [`compress`] did not make.
///
/// libdeflate inflates a whole buffer at once, faster than flate2's
/// streaming decoders: this runs for every cached answer sent to a client
/// that does not accept gzip.
pub(crate) fn inflate(gz: &[u8]) -> std::io::Result<Vec<u8>> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not gzip");
    // gzip's trailer ends with the body's length (mod 2^32); bodies here
    // are far smaller, and deflate expands at most ~1,000-fold.
    let Some(at) = gz.len().checked_sub(4) else {
        return Err(bad());
    };
    let len = u32::from_le_bytes([gz[at], gz[at + 1], gz[at + 2], gz[at + 3]]) as usize;
    if len > 1032 * gz.len() {
        return Err(bad());
    }
    let mut out = vec![0; len];
    CODEC.with_borrow_mut(|(_, d)| match d.gzip_decompress(gz, &mut out) {
        Ok(n) if n == len => Ok(out),
        _ => Err(bad()),
    })
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
