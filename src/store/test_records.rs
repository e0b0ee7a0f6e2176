//! Small domain records for the store's unit tests.

use crate::domain::{Brand, Category, Discount, Id, Price, Product, Timestamp};

pub(crate) fn id(s: &str) -> Id {
    Id::parse(s).unwrap()
}

pub(crate) fn brand(i: &str, title: &str) -> Brand {
    Brand {
        id: id(i),
        title: title.into(),
        description: String::new(),
        logo: None,
    }
}

pub(crate) fn category(i: &str, title: &str) -> Category {
    Category {
        id: id(i),
        title: title.into(),
        description: String::new(),
        parent_id: None,
    }
}

/// A product of brand `b1` in category `c1`.
pub(crate) fn product(i: &str, cents: u64) -> Product {
    let t = Timestamp::from_millis(1_000).unwrap();
    Product {
        id: id(i),
        title: format!("Product {i}"),
        description: String::new(),
        images: vec![],
        keywords: vec![],
        price: Price::from_cents(cents).unwrap(),
        discount: Discount::new(0.0).unwrap(),
        stock: 1,
        is_physical: true,
        is_available: true,
        is_featured: false,
        brand_id: id("b1"),
        category_ids: vec![id("c1")],
        created_at: t,
        updated_at: t,
    }
}
