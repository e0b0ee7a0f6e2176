//! How records are stored: `[format version: u8] ‖ rkyv archive`, read
//! zero-copy through validated access. Every area's records use this codec.
//!
//! A stored value is written by [`encode_with`] as one rkyv buffer whose first
//! byte is the version, so the archive's alignment padding is relative to the
//! value's start.
//!
//! # Reading without copying, and when we do copy
//! redb hands out value slices at whatever address the page layout gives them
//! (values are packed after the keys of a leaf, so their alignment is
//! effectively random). rkyv's validated `access` needs the buffer aligned for
//! the archived type (8 bytes here, because of `i64`/`u64`/`f64` fields). [`Rec`]
//! therefore checks the pointer and, only when it is misaligned, copies the
//! value into an `AlignedVec` before validating. We never use
//! `access_unchecked` on a redb slice: a torn or foreign value must become an
//! error, not undefined behaviour.
//!
//! Measured (`cargo bench --bench store -- 'get_product|record_access'`, 100K
//! products, 2 cores): redb put every sampled product value at a misaligned
//! address (4096 of 4096; full leaves start their value region at 1 or 4 mod
//! 8), so in practice every read copies. Validated access to a 504-byte product
//! takes ~95 ns aligned and ~108 ns with the copy (+13 ns); a whole get-by-id
//! inside a read transaction is ~0.9–1.0 µs. The `rkyv/unaligned` feature
//! would avoid the copy but changes the stored format globally; not worth 13 ns.
//!
//! # Versions
//! Each record type has a format version. A new layout gets a new `…V2` struct
//! and a new version byte; views dispatch on the byte, so old records keep
//! decoding. `fixtures/golden/` holds v1 records that a test decodes.

use super::error::{StoreError, StoreResult};
use redb::AccessGuard;
use rkyv::Serialize;
use rkyv::rancor;
use rkyv::util::AlignedVec;
use std::marker::PhantomData;

/// Serializes `value` as `[version] ‖ archive` in one buffer.
pub(crate) fn encode_with<T>(version: u8, value: &T) -> Vec<u8>
where
    T: for<'a> Serialize<
        rkyv::api::high::HighSerializer<
            Vec<u8>,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rancor::Error,
        >,
    >,
{
    let mut buf = Vec::with_capacity(256);
    buf.push(version);
    // Serializing plain owned strings, vectors and numbers into a Vec cannot
    // fail (no shared pointers, no size limits); a failure would be a bug.
    rkyv::api::high::to_bytes_in::<_, rancor::Error>(value, buf)
        .expect("serializing a record into memory cannot fail")
}

/// A record type stored in one table.
pub trait Record {
    const TABLE: &'static str;
    const VERSION: u8;
    type Archived: rkyv::Portable
        + for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, rancor::Error>>;
    type Domain;
    fn encode(value: &Self::Domain) -> Vec<u8>;
    fn to_domain(archived: &Self::Archived) -> Result<Self::Domain, String>;
}

/// Declares a record type — a unit struct naming its table, format version,
/// stored struct (`…V1`, rkyv), archived struct and domain type — with its
/// two conversions, the one shape every stored record has:
///
/// ```text
/// record! {
///     pub BrandRec in "brands", version BRAND_V1;
///     BrandV1 as ArchivedBrandV1 <=> Brand;
///     encode(b) { BrandV1 { id: b.id.to_string(), … } }
///     decode(a) { Ok(Brand { id: id(&a.id)?, … }) }
/// }
/// ```
macro_rules! record {
    (
        $vis:vis $name:ident in $table:literal, version $version:expr;
        $stored:ident as $archived:ident <=> $domain:ty;
        encode($value:ident) $encode:block
        decode($a:ident) $decode:block
    ) => {
        $vis struct $name;

        impl $crate::store::codec::Record for $name {
            const TABLE: &'static str = $table;
            const VERSION: u8 = $version;
            type Archived = $archived;
            type Domain = $domain;
            fn encode($value: &$domain) -> Vec<u8> {
                let stored: $stored = $encode;
                $crate::store::codec::encode_with(Self::VERSION, &stored)
            }
            fn to_domain($a: &$archived) -> Result<$domain, String> $decode
        }
    };
}
pub(crate) use record;

/// A record read from a table: the redb guard, or an aligned copy of it when
/// the guard's bytes are misaligned. Self-contained (`'static`): it keeps its
/// read transaction alive.
pub struct Rec<R: Record> {
    bytes: RecBytes,
    key: Box<str>,
    _r: PhantomData<R>,
}

enum RecBytes {
    Guard(AccessGuard<'static, &'static [u8]>),
    Copy(AlignedVec),
}

impl<R: Record> Rec<R> {
    pub(crate) fn new(key: &str, guard: AccessGuard<'static, &'static [u8]>) -> Self {
        let align = std::mem::align_of::<R::Archived>();
        let bytes = if guard.value().as_ptr().align_offset(align) == 0 {
            RecBytes::Guard(guard)
        } else {
            let mut v = AlignedVec::<16>::with_capacity(guard.value().len());
            v.extend_from_slice(guard.value());
            RecBytes::Copy(v)
        };
        Rec {
            bytes,
            key: key.into(),
            _r: PhantomData,
        }
    }

    /// Whether the stored bytes were misaligned and had to be copied (for
    /// diagnostics and benchmarks).
    pub fn was_copied(&self) -> bool {
        matches!(self.bytes, RecBytes::Copy(_))
    }

    fn raw(&self) -> &[u8] {
        match &self.bytes {
            RecBytes::Guard(g) => g.value(),
            RecBytes::Copy(v) => v.as_slice(),
        }
    }

    /// Validated zero-copy access to the archived record.
    pub(crate) fn archived(&self) -> StoreResult<&R::Archived> {
        access::<R>(self.raw(), &self.key)
    }

    pub fn to_domain(&self) -> StoreResult<R::Domain> {
        R::to_domain(self.archived()?).map_err(|reason| corrupt::<R>(&self.key, reason))
    }
}

fn corrupt<R: Record>(key: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        table: R::TABLE,
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Validates `bytes` (`[version] ‖ archive`, suitably aligned) as an `R`.
pub(crate) fn access<'b, R: Record>(bytes: &'b [u8], key: &str) -> StoreResult<&'b R::Archived> {
    match bytes.first() {
        Some(&v) if v == R::VERSION => rkyv::access::<R::Archived, rancor::Error>(bytes)
            .map_err(|e| corrupt::<R>(key, e.to_string())),
        Some(&v) => Err(corrupt::<R>(key, format!("unknown format version {v}"))),
        None => Err(corrupt::<R>(key, "empty value")),
    }
}

/// Runs `f` on the validated archive in `bytes` (`[version] ‖ archive`, any
/// alignment), copying into an aligned buffer only when `bytes` is misaligned.
pub fn with_archived<R: Record, T>(
    bytes: &[u8],
    key: &str,
    f: impl FnOnce(&R::Archived) -> T,
) -> StoreResult<T> {
    let align = std::mem::align_of::<R::Archived>();
    if bytes.as_ptr().align_offset(align) == 0 {
        Ok(f(access::<R>(bytes, key)?))
    } else {
        let mut v = AlignedVec::<16>::with_capacity(bytes.len());
        v.extend_from_slice(bytes);
        Ok(f(access::<R>(&v, key)?))
    }
}

/// Decodes an owned domain value from bytes of any alignment. For write paths
/// and export, where an owned value is wanted anyway.
pub fn decode<R: Record>(bytes: &[u8], key: &str) -> StoreResult<R::Domain> {
    with_archived::<R, _>(bytes, key, R::to_domain)?.map_err(|reason| corrupt::<R>(key, reason))
}
