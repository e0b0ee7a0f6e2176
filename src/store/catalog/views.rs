//! Read-only views over archived records, for the read path.
//!
//! Views borrow straight from the stored bytes (see `crate::store::codec`): building a
//! response from a view copies only what the JSON writer copies. They expose
//! plain `&str`, numbers and domain value types, so nothing above the store
//! sees rkyv.

use super::records::{
    ArchivedBrandV1, ArchivedCategoryV1, ArchivedProductV1, ArchivedReviewV1, ArchivedUserV1,
    BrandRec, CategoryRec, ProductRec, ReviewRec, ReviewerRec,
};
use crate::domain::Timestamp;
use crate::store::codec::Rec;
use crate::store::error::StoreResult;

fn ts(ms: i64) -> Timestamp {
    // Records are validated when written; a value outside the supported range
    // can only come from a foreign writer, and shows as the epoch.
    Timestamp::from_millis(ms).unwrap_or(Timestamp::EPOCH)
}

#[derive(Clone, Copy)]
pub struct ProductView<'a>(pub(crate) &'a ArchivedProductV1);

impl<'a> ProductView<'a> {
    pub(crate) fn id(self) -> &'a str {
        self.0.id.as_str()
    }
    pub fn title(self) -> &'a str {
        self.0.title.as_str()
    }
    pub(crate) fn description(self) -> &'a str {
        self.0.description.as_str()
    }
    pub(crate) fn images(self) -> impl ExactSizeIterator<Item = &'a str> + Clone {
        self.0.images.iter().map(|s| s.as_str())
    }
    pub(crate) fn keywords(self) -> impl ExactSizeIterator<Item = &'a str> + Clone {
        self.0.keywords.iter().map(|s| s.as_str())
    }
    pub fn price_cents(self) -> u64 {
        self.0.price_cents.to_native()
    }
    pub(crate) fn discount(self) -> f64 {
        self.0.discount.to_native()
    }
    pub(crate) fn stock(self) -> u32 {
        self.0.stock.to_native()
    }
    pub(crate) fn is_physical(self) -> bool {
        self.0.is_physical
    }
    pub(crate) fn is_available(self) -> bool {
        self.0.is_available
    }
    pub(crate) fn is_featured(self) -> bool {
        self.0.is_featured
    }
    pub(crate) fn brand_id(self) -> &'a str {
        self.0.brand_id.as_str()
    }
    pub(crate) fn category_ids(self) -> impl ExactSizeIterator<Item = &'a str> + Clone {
        self.0.category_ids.iter().map(|s| s.as_str())
    }
    pub(crate) fn created_at(self) -> Timestamp {
        ts(self.0.created_at_ms.to_native())
    }
    pub(crate) fn updated_at(self) -> Timestamp {
        ts(self.0.updated_at_ms.to_native())
    }
}

#[derive(Clone, Copy)]
pub struct BrandView<'a>(&'a ArchivedBrandV1);

impl<'a> BrandView<'a> {
    pub(crate) fn id(self) -> &'a str {
        self.0.id.as_str()
    }
    pub(crate) fn title(self) -> &'a str {
        self.0.title.as_str()
    }
    pub(crate) fn description(self) -> &'a str {
        self.0.description.as_str()
    }
    pub(crate) fn logo(self) -> Option<&'a str> {
        self.0.logo.as_ref().map(|s| s.as_str())
    }
}

#[derive(Clone, Copy)]
pub struct CategoryView<'a>(&'a ArchivedCategoryV1);

impl<'a> CategoryView<'a> {
    pub(crate) fn id(self) -> &'a str {
        self.0.id.as_str()
    }
    pub(crate) fn title(self) -> &'a str {
        self.0.title.as_str()
    }
    pub(crate) fn description(self) -> &'a str {
        self.0.description.as_str()
    }
    pub(crate) fn parent_id(self) -> Option<&'a str> {
        self.0.parent_id.as_ref().map(|s| s.as_str())
    }
}

#[derive(Clone, Copy)]
pub struct ReviewView<'a>(&'a ArchivedReviewV1);

impl<'a> ReviewView<'a> {
    pub(crate) fn id(self) -> &'a str {
        self.0.id.as_str()
    }
    pub(crate) fn user_id(self) -> &'a str {
        self.0.user_id.as_str()
    }
    pub(crate) fn rating(self) -> u8 {
        self.0.rating
    }
    pub(crate) fn text(self) -> &'a str {
        self.0.text.as_str()
    }
    pub(crate) fn created_at(self) -> Timestamp {
        ts(self.0.created_at_ms.to_native())
    }
}

#[derive(Clone, Copy)]
pub struct ReviewerView<'a>(&'a ArchivedUserV1);

impl<'a> ReviewerView<'a> {
    pub(crate) fn name(self) -> &'a str {
        self.0.name.as_str()
    }
}

macro_rules! view {
    ($rec:ty, $view:ident) => {
        impl Rec<$rec> {
            /// Validated zero-copy view of this record.
            pub fn view(&self) -> StoreResult<$view<'_>> {
                Ok($view(self.archived()?))
            }
        }
    };
}

view!(ProductRec, ProductView);
view!(BrandRec, BrandView);
view!(CategoryRec, CategoryView);
view!(ReviewRec, ReviewView);
view!(ReviewerRec, ReviewerView);
