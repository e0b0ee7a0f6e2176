//! What a product list asks for: filters, sort order and page window.

use super::{Id, Price};
use serde::Serialize;

/// Product list orders. Every order ends with `id` ascending, so pages are
/// deterministic and never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProductSort {
    /// isFeatured desc, createdAt desc, id asc.
    Featured,
    /// price asc, id asc.
    PriceAsc,
    /// price desc, id asc.
    PriceDesc,
    /// createdAt desc, id asc.
    Newest,
    /// exact mean rating desc (unrated last), reviewCount desc, id asc.
    Rating,
}

impl ProductSort {
    pub const ALL: [ProductSort; 5] = [
        ProductSort::Featured,
        ProductSort::PriceAsc,
        ProductSort::PriceDesc,
        ProductSort::Newest,
        ProductSort::Rating,
    ];

    pub fn parse(s: &str) -> Option<ProductSort> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProductSort::Featured => "featured",
            ProductSort::PriceAsc => "price_asc",
            ProductSort::PriceDesc => "price_desc",
            ProductSort::Newest => "newest",
            ProductSort::Rating => "rating",
        }
    }
}

/// Product list filters; all present filters must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProductFilter {
    /// The category or any of its descendants.
    pub category: Option<Id>,
    pub brand: Option<Id>,
    pub available: Option<bool>,
    /// Inclusive bounds. Invariant (checked by the parser): min <= max.
    pub min_price: Option<Price>,
    pub max_price: Option<Price>,
    /// A filter named something that cannot exist (an id with characters ids
    /// never have): the answer is empty, not an error.
    pub matches_nothing: bool,
}

/// A page window. Invariant: `page >= 1`, `1 <= limit <= MAX_LIMIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageRequest {
    page: u32,
    limit: u32,
}

impl PageRequest {
    pub(crate) const DEFAULT_LIMIT: u32 = 20;
    pub(crate) const MAX_LIMIT: u32 = 100;
    /// Deep pages cost O(offset) index reads; this bound keeps one request cheap.
    pub(crate) const MAX_PAGE: u32 = 100_000;

    pub fn new(page: u32, limit: u32) -> Result<PageRequest, (&'static str, String)> {
        if page == 0 || page > Self::MAX_PAGE {
            return Err(("page", format!("must be from 1 to {}", Self::MAX_PAGE)));
        }
        if limit == 0 || limit > Self::MAX_LIMIT {
            return Err(("limit", format!("must be from 1 to {}", Self::MAX_LIMIT)));
        }
        Ok(PageRequest { page, limit })
    }

    pub(crate) fn first(limit: u32) -> PageRequest {
        PageRequest {
            page: 1,
            limit: limit.clamp(1, Self::MAX_LIMIT),
        }
    }

    pub fn page(self) -> u32 {
        self.page
    }

    pub fn limit(self) -> u32 {
        self.limit
    }

    pub fn offset(self) -> u64 {
        (self.page as u64 - 1) * self.limit as u64
    }

    pub fn meta(self, total: u64) -> PageMeta {
        let total_pages = total.div_ceil(self.limit as u64);
        PageMeta {
            page: self.page,
            limit: self.limit,
            total,
            total_pages,
            has_next: (self.page as u64) < total_pages,
            has_prev: self.page > 1,
        }
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest::first(Self::DEFAULT_LIMIT)
    }
}

/// The `meta` object of every paginated answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    pub page: u32,
    pub limit: u32,
    pub total: u64,
    pub total_pages: u64,
    pub has_next: bool,
    pub has_prev: bool,
}

/// Review aggregate of one product: how many reviews and the sum of their
/// ratings. Kept exact so the mean can be ordered exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RatingSummary {
    pub count: u32,
    pub sum: u32,
}

impl RatingSummary {
    /// The mean rounded half away from zero to one decimal; `None` when unrated.
    pub fn average(self) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let (sum, count) = (self.sum as u64, self.count as u64);
        let tenths = (sum * 20 + count) / (2 * count);
        Some(tenths as f64 / 10.0)
    }

    /// A key whose ascending order is the `rating` sort order: rated before
    /// unrated, higher exact mean first, then more reviews first.
    ///
    /// The mean is `sum/count` scaled by 2^40 and truncated. Two different
    /// means with counts below 2^20 differ by at least 2^-40, so they never
    /// collapse to the same key; equal means always share one.
    pub fn order_key(self) -> [u8; 13] {
        let mut k = [0u8; 13];
        if self.count == 0 {
            k[0] = 1;
            return k;
        }
        let mean = ((self.sum as u128) << 40) / self.count as u128;
        k[1..9].copy_from_slice(&(!(mean as u64)).to_be_bytes());
        k[9..13].copy_from_slice(&(!self.count).to_be_bytes());
        k
    }
}

/// A whole product list request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProductQuery {
    pub filter: ProductFilter,
    pub sort: ProductSort,
    pub page: PageRequest,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_covers_edges() {
        let m = PageRequest::new(3, 10).unwrap().meta(25);
        assert_eq!((m.total_pages, m.has_next, m.has_prev), (3, false, true));
        let m = PageRequest::new(9, 10).unwrap().meta(25);
        assert_eq!((m.total_pages, m.has_next), (3, false));
        let m = PageRequest::new(1, 10).unwrap().meta(0);
        assert_eq!((m.total_pages, m.has_next, m.has_prev), (0, false, false));
        assert!(PageRequest::new(1, 101).is_err() && PageRequest::new(0, 1).is_err());
    }

    #[test]
    fn average_rounds_half_up() {
        let r = |count, sum| RatingSummary { count, sum }.average();
        assert_eq!(r(4, 17), Some(4.3)); // 4.25
        assert_eq!(r(3, 13), Some(4.3)); // 4.333
        assert_eq!(r(0, 0), None);
    }

    #[test]
    fn order_key_orders_exact_means() {
        let k = |count, sum| RatingSummary { count, sum }.order_key();
        // 4.5 (2 reviews) > 4.333 > unrated; equal means: more reviews first.
        assert!(k(2, 9) < k(3, 13));
        assert!(k(3, 13) < k(0, 0));
        assert!(k(4, 18) < k(2, 9));
        // near-equal means stay distinct: 667/1000 vs 2/3
        assert_ne!(k(3, 2), k(1_000, 667));
        assert!(k(1_000, 667) < k(3, 2));
    }
}
