//! Stored record formats and zero-copy views over them.
//!
//! A stored value is `[format version: u8] ‖ rkyv archive`, written by
//! [`encode`] as one rkyv buffer whose first byte is the version, so the
//! archive's alignment padding is relative to the value's start.
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
use crate::domain::review::Rating;
use crate::domain::{Brand, Category, Discount, Id, Price, Product, Review, Timestamp, User};
use redb::AccessGuard;
use rkyv::rancor;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};
use std::marker::PhantomData;

pub const BRAND_V1: u8 = 1;
pub const CATEGORY_V1: u8 = 1;
pub const PRODUCT_V1: u8 = 1;
pub const REVIEW_V1: u8 = 1;
pub const USER_V1: u8 = 1;
pub const SYNONYMS_V1: u8 = 1;

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct BrandV1 {
    pub id: String,
    pub title: String,
    pub description: String,
    pub logo: Option<String>,
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct CategoryV1 {
    pub id: String,
    pub title: String,
    pub description: String,
    pub parent_id: Option<String>,
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct ProductV1 {
    pub id: String,
    pub title: String,
    pub description: String,
    pub images: Vec<String>,
    pub keywords: Vec<String>,
    pub price_cents: u64,
    pub discount: f64,
    pub stock: u32,
    pub is_physical: bool,
    pub is_available: bool,
    pub is_featured: bool,
    pub brand_id: String,
    pub category_ids: Vec<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct ReviewV1 {
    pub id: String,
    pub product_id: String,
    pub user_id: String,
    pub rating: u8,
    pub text: String,
    pub created_at_ms: i64,
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct UserV1 {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at_ms: i64,
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct SynonymsV1 {
    pub groups: Vec<Vec<String>>,
}

/// Serializes `value` as `[version] ‖ archive` in one buffer.
fn encode_with<T>(version: u8, value: &T) -> Vec<u8>
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
    pub fn archived(&self) -> StoreResult<&R::Archived> {
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

fn id(s: &rkyv::string::ArchivedString) -> Result<Id, String> {
    Id::parse(s.as_str()).map_err(|e| format!("bad id {:?}: {e}", s.as_str()))
}

fn ts(ms: i64) -> Result<Timestamp, String> {
    Timestamp::from_millis(ms)
}

fn strings(v: &rkyv::vec::ArchivedVec<rkyv::string::ArchivedString>) -> Vec<String> {
    v.iter().map(|s| s.as_str().to_string()).collect()
}

pub struct BrandRec;
pub struct CategoryRec;
pub struct ProductRec;
pub struct ReviewRec;
pub struct UserRec;
pub struct SynonymsRec;

impl Record for SynonymsRec {
    const TABLE: &'static str = "search_synonyms";
    const VERSION: u8 = SYNONYMS_V1;
    type Archived = ArchivedSynonymsV1;
    type Domain = crate::domain::search::Synonyms;
    fn encode(s: &Self::Domain) -> Vec<u8> {
        encode_with(
            Self::VERSION,
            &SynonymsV1 {
                groups: s.groups.clone(),
            },
        )
    }
    fn to_domain(a: &ArchivedSynonymsV1) -> Result<Self::Domain, String> {
        Ok(crate::domain::search::Synonyms {
            groups: a
                .groups
                .iter()
                .map(|g| g.iter().map(|t| t.as_str().to_string()).collect())
                .collect(),
        })
    }
}

impl Record for BrandRec {
    const TABLE: &'static str = "brands";
    const VERSION: u8 = BRAND_V1;
    type Archived = ArchivedBrandV1;
    type Domain = Brand;
    fn encode(b: &Brand) -> Vec<u8> {
        encode_with(
            Self::VERSION,
            &BrandV1 {
                id: b.id.to_string(),
                title: b.title.clone(),
                description: b.description.clone(),
                logo: b.logo.clone(),
            },
        )
    }
    fn to_domain(a: &ArchivedBrandV1) -> Result<Brand, String> {
        Ok(Brand {
            id: id(&a.id)?,
            title: a.title.to_string(),
            description: a.description.to_string(),
            logo: a.logo.as_ref().map(|s| s.to_string()),
        })
    }
}

impl Record for CategoryRec {
    const TABLE: &'static str = "categories";
    const VERSION: u8 = CATEGORY_V1;
    type Archived = ArchivedCategoryV1;
    type Domain = Category;
    fn encode(c: &Category) -> Vec<u8> {
        encode_with(
            Self::VERSION,
            &CategoryV1 {
                id: c.id.to_string(),
                title: c.title.clone(),
                description: c.description.clone(),
                parent_id: c.parent_id.as_ref().map(Id::to_string),
            },
        )
    }
    fn to_domain(a: &ArchivedCategoryV1) -> Result<Category, String> {
        Ok(Category {
            id: id(&a.id)?,
            title: a.title.to_string(),
            description: a.description.to_string(),
            parent_id: a.parent_id.as_ref().map(id).transpose()?,
        })
    }
}

impl Record for ProductRec {
    const TABLE: &'static str = "products";
    const VERSION: u8 = PRODUCT_V1;
    type Archived = ArchivedProductV1;
    type Domain = Product;
    fn encode(p: &Product) -> Vec<u8> {
        encode_with(
            Self::VERSION,
            &ProductV1 {
                id: p.id.to_string(),
                title: p.title.clone(),
                description: p.description.clone(),
                images: p.images.clone(),
                keywords: p.keywords.clone(),
                price_cents: p.price.cents(),
                discount: p.discount.value(),
                stock: p.stock,
                is_physical: p.is_physical,
                is_available: p.is_available,
                is_featured: p.is_featured,
                brand_id: p.brand_id.to_string(),
                category_ids: p.category_ids.iter().map(Id::to_string).collect(),
                created_at_ms: p.created_at.millis(),
                updated_at_ms: p.updated_at.millis(),
            },
        )
    }
    fn to_domain(a: &ArchivedProductV1) -> Result<Product, String> {
        Ok(Product {
            id: id(&a.id)?,
            title: a.title.to_string(),
            description: a.description.to_string(),
            images: strings(&a.images),
            keywords: strings(&a.keywords),
            price: Price::from_cents(a.price_cents.to_native())?,
            discount: Discount::new(a.discount.to_native())?,
            stock: a.stock.to_native(),
            is_physical: a.is_physical,
            is_available: a.is_available,
            is_featured: a.is_featured,
            brand_id: id(&a.brand_id)?,
            category_ids: a.category_ids.iter().map(id).collect::<Result<_, _>>()?,
            created_at: ts(a.created_at_ms.to_native())?,
            updated_at: ts(a.updated_at_ms.to_native())?,
        })
    }
}

impl Record for ReviewRec {
    const TABLE: &'static str = "reviews";
    const VERSION: u8 = REVIEW_V1;
    type Archived = ArchivedReviewV1;
    type Domain = Review;
    fn encode(r: &Review) -> Vec<u8> {
        encode_with(
            Self::VERSION,
            &ReviewV1 {
                id: r.id.to_string(),
                product_id: r.product_id.to_string(),
                user_id: r.user_id.to_string(),
                rating: r.rating.get(),
                text: r.text.clone(),
                created_at_ms: r.created_at.millis(),
            },
        )
    }
    fn to_domain(a: &ArchivedReviewV1) -> Result<Review, String> {
        Ok(Review {
            id: id(&a.id)?,
            product_id: id(&a.product_id)?,
            user_id: id(&a.user_id)?,
            rating: Rating::new(a.rating as u64)?,
            text: a.text.to_string(),
            created_at: ts(a.created_at_ms.to_native())?,
        })
    }
}

impl Record for UserRec {
    const TABLE: &'static str = "users";
    const VERSION: u8 = USER_V1;
    type Archived = ArchivedUserV1;
    type Domain = User;
    fn encode(u: &User) -> Vec<u8> {
        encode_with(
            Self::VERSION,
            &UserV1 {
                id: u.id.to_string(),
                email: u.email.clone(),
                name: u.name.clone(),
                created_at_ms: u.created_at.millis(),
            },
        )
    }
    fn to_domain(a: &ArchivedUserV1) -> Result<User, String> {
        Ok(User {
            id: id(&a.id)?,
            email: a.email.to_string(),
            name: a.name.to_string(),
            created_at: ts(a.created_at_ms.to_native())?,
        })
    }
}
