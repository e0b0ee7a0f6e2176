//! Products: what the shop sells.

use super::fields::{Checked, Fields, Presence, array, boolean, free_text, link, text_line, uint};
use super::{Discount, Id, InputMode, Price, Timestamp, limits};
use serde::Serialize;
use serde_json::{Map, Value};

/// A stored product. `brand_id` and every `category_ids` entry name existing
/// records (the catalog use case checks this inside the write transaction);
/// `category_ids` holds no duplicates.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: Id,
    pub title: String,
    pub description: String,
    pub images: Vec<String>,
    pub keywords: Vec<String>,
    #[serde(serialize_with = "ser_price")]
    pub price: Price,
    #[serde(serialize_with = "ser_discount")]
    pub discount: Discount,
    pub stock: u32,
    pub is_physical: bool,
    pub is_available: bool,
    pub is_featured: bool,
    pub brand_id: Id,
    pub category_ids: Vec<Id>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn ser_price<S: serde::Serializer>(p: &Price, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(p.as_decimal())
}

fn ser_discount<S: serde::Serializer>(d: &Discount, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.value())
}

/// The fields of a product write; `None` means "not sent".
#[derive(Debug, Clone, Default)]
pub struct ProductDraft {
    pub id: Option<Id>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub images: Option<Vec<String>>,
    pub keywords: Option<Vec<String>>,
    pub price: Option<Price>,
    pub discount: Option<Discount>,
    pub stock: Option<u32>,
    pub is_physical: Option<bool>,
    pub is_available: Option<bool>,
    pub is_featured: Option<bool>,
    pub brand_id: Option<Id>,
    pub category_ids: Option<Vec<Id>>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
}

fn category_ids(v: &Value) -> Result<Vec<Id>, String> {
    let ids = array(v, limits::CATEGORIES_PER_PRODUCT, Id::from_json)?;
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            return Err(format!("repeats category '{id}'"));
        }
    }
    Ok(ids)
}

impl ProductDraft {
    pub fn parse(map: &Map<String, Value>, mode: InputMode) -> Checked<ProductDraft> {
        let mut f = Fields::new(map);
        let (id, stamps) = mode.read_identity(&mut f, &["createdAt", "updatedAt"]);
        let required = mode.presence();
        let opt = Presence::Optional;
        let draft = ProductDraft {
            id,
            title: f.get("title", required, |v| text_line(v, limits::TITLE)),
            description: f.get("description", opt, |v| free_text(v, limits::DESCRIPTION)),
            images: f.get("images", opt, |v| {
                array(v, limits::IMAGES, |x| {
                    // A media id, or the path of one of its variants (as
                    // reads show them), is kept as the id.
                    let s = link(x, limits::URL)?;
                    Ok(super::media::MediaId::referenced_by(&s)
                        .map_or(s, |m| m.as_str().to_string()))
                })
            }),
            keywords: f.get("keywords", opt, |v| {
                array(v, limits::KEYWORDS, |x| text_line(x, limits::KEYWORD))
            }),
            price: f.get("price", required, Price::from_json),
            discount: f.get("discount", opt, Discount::from_json),
            stock: f.get("stock", opt, |v| uint(v, limits::STOCK).map(|n| n as u32)),
            is_physical: f.get("isPhysical", opt, boolean),
            is_available: f.get("isAvailable", opt, boolean),
            is_featured: f.get("isFeatured", opt, boolean),
            brand_id: f.get("brandId", required, Id::from_json),
            category_ids: f.get("categoryIds", opt, category_ids),
            created_at: stamps[0],
            updated_at: stamps[1],
        };
        Checked {
            value: draft,
            errors: f.finish(),
        }
    }

    /// A new product from a create or import draft that parsed without errors.
    /// Returns `None` when a required field is missing (the parse reported it).
    pub fn into_product(self, id: Id, now: Timestamp) -> Option<Product> {
        let created_at = self.created_at.unwrap_or(now);
        Some(Product {
            id,
            title: self.title?,
            description: self.description.unwrap_or_default(),
            images: self.images.unwrap_or_default(),
            keywords: self.keywords.unwrap_or_default(),
            price: self.price?,
            discount: self.discount.unwrap_or(Discount::NONE),
            stock: self.stock.unwrap_or(0),
            is_physical: self.is_physical.unwrap_or(true),
            is_available: self.is_available.unwrap_or(true),
            is_featured: self.is_featured.unwrap_or(false),
            brand_id: self.brand_id?,
            category_ids: self.category_ids.unwrap_or_default(),
            created_at,
            updated_at: self.updated_at.unwrap_or(created_at),
        })
    }

    /// Applies a patch draft; `updated_at` becomes `now`.
    pub fn apply_to(self, p: &mut Product, now: Timestamp) {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { p.$f = v; } )* };
        }
        set!(
            title,
            description,
            images,
            keywords,
            price,
            discount,
            stock,
            is_physical,
            is_available,
            is_featured,
            brand_id,
            category_ids
        );
        p.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_reports_all_bad_fields() {
        let v = json!({"title": "", "price": -3, "discount": 2, "categoryIds": ["a", "a"], "createdAt": "x"});
        let checked = ProductDraft::parse(v.as_object().unwrap(), InputMode::Create);
        let fields: Vec<_> = checked
            .errors
            .as_slice()
            .iter()
            .map(|e| e.field.clone())
            .collect();
        assert_eq!(
            fields,
            [
                "createdAt",
                "title",
                "price",
                "discount",
                "brandId",
                "categoryIds"
            ]
        );
    }

    #[test]
    fn import_keeps_timestamps_and_defaults() {
        let v = json!({"id": "p1", "title": "Lamp", "price": 12.5, "brandId": "b1",
                       "createdAt": "2024-01-01T00:00:00Z"});
        let checked = ProductDraft::parse(v.as_object().unwrap(), InputMode::Import);
        assert!(checked.errors.is_empty(), "{}", checked.errors);
        let id = checked.value.id.clone().unwrap();
        let p = checked.value.into_product(id, Timestamp::now()).unwrap();
        assert_eq!(p.price.cents(), 1250);
        assert_eq!(p.updated_at, p.created_at);
        assert!(p.is_available && p.is_physical && !p.is_featured);
    }
}
