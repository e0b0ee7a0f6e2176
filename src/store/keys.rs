//! Byte layouts shared by every area's keys.
//!
//! Every layout here sorts bytewise in the order its reader needs. Numbers are
//! big-endian; signed times have their sign bit flipped so that they sort
//! numerically; "descending" fields are bitwise complemented. Ids never
//! contain `\0` (see [`crate::domain::Id`]), so `id ‖ \0` ends an id inside a
//! composite key.

/// Appends `id ‖ \0`.
pub(crate) fn push_id(out: &mut Vec<u8>, id: &str) {
    out.extend_from_slice(id.as_bytes());
    out.push(0);
}

/// Milliseconds as 8 bytes that sort in time order.
pub(crate) fn time_asc(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

/// Milliseconds as 8 bytes that sort newest first.
pub(crate) fn time_desc(ms: i64) -> [u8; 8] {
    (!((ms as u64) ^ (1 << 63))).to_be_bytes()
}

/// `[lo, hi)` covering every key that starts with `prefix`.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    // An all-0xFF prefix never occurs (scopes start with an ASCII tag).
    vec![0xFF; prefix.len() + 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_sort_numerically() {
        assert!(time_asc(-5) < time_asc(3));
        assert!(time_desc(10) < time_desc(-3));
    }

    #[test]
    fn prefix_end_bounds_exactly_the_keys_with_the_prefix() {
        let lo = b"ab\0".to_vec();
        let hi = prefix_end(&lo);
        assert!(b"ab\0zzz".as_slice() < hi.as_slice());
        assert!(b"ab\x01".as_slice() >= hi.as_slice());
        assert_eq!(prefix_end(&[0x61, 0xFF]), vec![0x62]);
    }
}
