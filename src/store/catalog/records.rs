//! The catalogue's stored record formats (see [`crate::store::codec`] for
//! the encoding, alignment and versioning rules they follow).
//!
//! `ReviewerV1` keeps its original name `UserV1` on disk (table `users`): the
//! bytes of a v1 record do not name their type, and `fixtures/golden/` pins
//! them.

use crate::domain::review::Rating;
use crate::domain::{Brand, Category, Discount, Id, Price, Product, Review, Reviewer, Timestamp};
use crate::store::codec::record;
use rkyv::{Archive, Deserialize, Serialize};

pub(crate) const BRAND_V1: u8 = 1;
pub(crate) const CATEGORY_V1: u8 = 1;
pub(crate) const PRODUCT_V1: u8 = 1;
pub(crate) const REVIEW_V1: u8 = 1;
pub(crate) const USER_V1: u8 = 1;

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

fn id(s: &rkyv::string::ArchivedString) -> Result<Id, String> {
    Id::parse(s.as_str()).map_err(|e| format!("bad id {:?}: {e}", s.as_str()))
}

fn ts(ms: i64) -> Result<Timestamp, String> {
    Timestamp::from_millis(ms)
}

fn strings(v: &rkyv::vec::ArchivedVec<rkyv::string::ArchivedString>) -> Vec<String> {
    v.iter().map(|s| s.as_str().to_string()).collect()
}

record! {
    pub BrandRec in "brands", version BRAND_V1;
    BrandV1 as ArchivedBrandV1 <=> Brand;
    encode(b) {
        BrandV1 {
            id: b.id.to_string(),
            title: b.title.clone(),
            description: b.description.clone(),
            logo: b.logo.clone(),
        }
    }
    decode(a) {
        Ok(Brand {
            id: id(&a.id)?,
            title: a.title.to_string(),
            description: a.description.to_string(),
            logo: a.logo.as_ref().map(|s| s.to_string()),
        })
    }
}

record! {
    pub CategoryRec in "categories", version CATEGORY_V1;
    CategoryV1 as ArchivedCategoryV1 <=> Category;
    encode(c) {
        CategoryV1 {
            id: c.id.to_string(),
            title: c.title.clone(),
            description: c.description.clone(),
            parent_id: c.parent_id.as_ref().map(Id::to_string),
        }
    }
    decode(a) {
        Ok(Category {
            id: id(&a.id)?,
            title: a.title.to_string(),
            description: a.description.to_string(),
            parent_id: a.parent_id.as_ref().map(id).transpose()?,
        })
    }
}

record! {
    pub ProductRec in "products", version PRODUCT_V1;
    ProductV1 as ArchivedProductV1 <=> Product;
    encode(p) {
        ProductV1 {
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
        }
    }
    decode(a) {
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

record! {
    pub ReviewRec in "reviews", version REVIEW_V1;
    ReviewV1 as ArchivedReviewV1 <=> Review;
    encode(r) {
        ReviewV1 {
            id: r.id.to_string(),
            product_id: r.product_id.to_string(),
            user_id: r.user_id.to_string(),
            rating: r.rating.get(),
            text: r.text.clone(),
            created_at_ms: r.created_at.millis(),
        }
    }
    decode(a) {
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

record! {
    pub ReviewerRec in "users", version USER_V1;
    UserV1 as ArchivedUserV1 <=> Reviewer;
    encode(u) {
        UserV1 {
            id: u.id.to_string(),
            email: u.email.clone(),
            name: u.name.clone(),
            created_at_ms: u.created_at.millis(),
        }
    }
    decode(a) {
        Ok(Reviewer {
            id: id(&a.id)?,
            email: a.email.to_string(),
            name: a.name.to_string(),
            created_at: ts(a.created_at_ms.to_native())?,
        })
    }
}
