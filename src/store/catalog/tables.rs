//! Every redb table of the catalogue and what its keys mean.
//!
//! Writers: only [`super::write::CatalogWriter`] opens these tables for
//! writing, and it keeps every derived table (indexes, counters, aggregates)
//! consistent with the record tables inside the same transaction.
//!
//! Key notation: `‖` is concatenation, `\0` a zero byte terminating an id, `BE`
//! big-endian. Ids never contain `\0` (see [`crate::domain::Id`]).

use redb::TableDefinition;

/// `id` → versioned rkyv `BrandV1` record (see `codec`).
pub(crate) const BRANDS: TableDefinition<&str, &[u8]> = TableDefinition::new("brands");
/// `id` → versioned rkyv `CategoryV1` record.
pub(crate) const CATEGORIES: TableDefinition<&str, &[u8]> = TableDefinition::new("categories");
/// `id` → versioned rkyv `ProductV1` record.
pub(crate) const PRODUCTS: TableDefinition<&str, &[u8]> = TableDefinition::new("products");
/// `id` → versioned rkyv `ReviewV1` record.
pub(crate) const REVIEWS: TableDefinition<&str, &[u8]> = TableDefinition::new("reviews");
/// `id` → versioned rkyv `UserV1` record: a review author ([`crate::domain::Reviewer`]).
pub(crate) const REVIEWERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");

/// Review `id` → the review's record as it was when staff hid it
/// (`ReviewRec` bytes). A hidden review is in no other table and counts in
/// no aggregate; showing it puts it back.
pub(crate) const HIDDEN_REVIEWS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("hidden_reviews");

/// Product `id` → (review count, rating sum). Absent = no reviews. Updated in
/// the transaction that writes or deletes a review.
pub(crate) const PRODUCT_RATINGS: TableDefinition<&str, (u32, u32)> =
    TableDefinition::new("product_ratings");

/// `product_id ‖ \0 ‖ created_at(i64 BE, sign-flipped) ‖ review_id` → `()`.
/// Read backwards for "newest first, then id desc".
pub(crate) const REVIEWS_BY_PRODUCT: TableDefinition<&[u8], ()> =
    TableDefinition::new("reviews_by_product");

/// `title ‖ \0 ‖ brand_id` → `()`: brands by title, then id.
pub(crate) const BRANDS_BY_TITLE: TableDefinition<&[u8], ()> =
    TableDefinition::new("brands_by_title");

/// `parent_id ‖ \0 ‖ child_id` → `()`; roots have the empty parent id.
pub(crate) const CATEGORY_CHILDREN: TableDefinition<&[u8], ()> =
    TableDefinition::new("category_children");

/// Product list indexes. Key: `scope ‖ available(u8) ‖ sort key ‖ product_id`,
/// value: the 26-byte [`super::index::Payload`]. One entry per product per
/// scope it belongs to (see `index::Scope`). Sort keys:
/// - `BY_CREATED`: `featured(u8) ‖ !created_at(BE)` (serves `featured` and `newest`)
/// - `BY_PRICE`: `price_cents(u64 BE)` (serves `price_asc`, and `price_desc` read backwards)
/// - `BY_RATING`: `RatingSummary::order_key()` (serves `rating`)
pub(crate) const BY_CREATED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("idx_by_created");
pub(crate) const BY_PRICE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("idx_by_price");
pub(crate) const BY_RATING: TableDefinition<&[u8], &[u8]> = TableDefinition::new("idx_by_rating");

/// `scope ‖ available(u8) ‖ level(u8) ‖ bucket(u64 BE)` → number of products.
/// Level 0, bucket 0: all products of the partition. Levels 2..=8 (only for
/// the `all` and category scopes): products whose price in cents lies in
/// `[bucket·10^level, (bucket+1)·10^level)`. Zero counts are deleted.
pub(crate) const PRODUCT_COUNTS: TableDefinition<&[u8], u64> =
    TableDefinition::new("product_counts");
