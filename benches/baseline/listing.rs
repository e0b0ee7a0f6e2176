//! SQL for product lists (and the search, which filters and pages the same
//! way): the WHERE clause of a [`ProductFilter`], the ORDER BY of each sort,
//! and the page query that joins brand and categories to the page's rows
//! only.
//!
//! Statements are built per filter combination with numbered parameters, as
//! an ORM's query builder does; each distinct text is prepared once per
//! connection. shopd's orders, reproduced exactly:
//! - `featured`: isFeatured desc, createdAt desc, id;
//! - `newest`: createdAt desc, id;
//! - `price_asc` / `price_desc`: price, id;
//! - `rating`: exact mean desc (unrated last), reviewCount desc, id;
//! - search `relevance` with words: ts_rank desc, id.
//!
//! `id` is `COLLATE "C"`, so ties break bytewise like shopd's keys.

use crate::db::{Param, internal, timestamp};
use shopd::api::error::ApiError;
use shopd::catalog::json::{BrandRef, CategoryRef, ProductItem};
use shopd::domain::listing::{ProductFilter, ProductSort, RatingSummary};
use shopd::domain::{Price, Timestamp};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

/// A sort order of the page query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Sort(ProductSort),
    /// Full-text rank (the `rank` column), best first.
    Rank,
}

impl Order {
    /// `ORDER BY` terms over the row alias `a`.
    pub fn terms(self, a: &str) -> String {
        match self {
            Order::Sort(ProductSort::Featured) => {
                format!(r#"{a}."isFeatured" DESC, {a}."createdAt" DESC, {a}.id"#)
            }
            Order::Sort(ProductSort::Newest) => format!(r#"{a}."createdAt" DESC, {a}.id"#),
            Order::Sort(ProductSort::PriceAsc) => format!("{a}.price, {a}.id"),
            Order::Sort(ProductSort::PriceDesc) => format!("{a}.price DESC, {a}.id"),
            Order::Sort(ProductSort::Rating) => {
                format!(r#"{a}."ratingKey" DESC NULLS LAST, {a}."reviewCount" DESC, {a}.id"#)
            }
            // `rank` is the page's output column: unqualified, it names the
            // alias inside the page and the page's column outside.
            Order::Rank => format!("rank DESC, {a}.id"),
        }
    }
}

/// A WHERE clause over `"Product" p` and its parameters ($1, $2, … in order).
#[derive(Default)]
pub struct Where {
    ctes: Vec<String>,
    conds: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Where {
    /// The conditions of `f` (the caller handles `matches_nothing`).
    pub fn new(f: &ProductFilter) -> Where {
        let mut w = Where::default();
        if let Some(c) = &f.category {
            // The category and its descendants; UNION stops at a cycle.
            let p = w.param(c.as_str().to_string());
            w.ctes.push(format!(
                r#"sub(id) AS (SELECT id FROM "Category" WHERE id = {p}
                    UNION SELECT c.id FROM "Category" c JOIN sub ON c."parentId" = sub.id)"#
            ));
            w.conds.push(
                r#"p.id IN (SELECT pc."productId" FROM "ProductCategory" pc
                    WHERE pc."categoryId" IN (SELECT id FROM sub))"#
                    .into(),
            );
        }
        if let Some(b) = &f.brand {
            let p = w.param(b.as_str().to_string());
            w.conds.push(format!(r#"p."brandId" = {p}"#));
        }
        if let Some(a) = f.available {
            let p = w.param(a);
            w.conds.push(format!(r#"p."isAvailable" = {p}"#));
        }
        if let Some(lo) = f.min_price {
            let p = w.param(cents(lo));
            w.conds.push(format!("p.price >= {p}"));
        }
        if let Some(hi) = f.max_price {
            let p = w.param(cents(hi));
            w.conds.push(format!("p.price <= {p}"));
        }
        w
    }

    /// Adds a parameter; returns its placeholder.
    pub fn param(&mut self, v: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(v));
        format!("${}", self.params.len())
    }

    pub fn cond(&mut self, cond: String) {
        self.conds.push(cond);
    }

    /// `WITH RECURSIVE …` (or nothing).
    pub fn with(&self) -> String {
        if self.ctes.is_empty() {
            String::new()
        } else {
            format!("WITH RECURSIVE {}\n", self.ctes.join(",\n"))
        }
    }

    /// `WHERE …` (or nothing).
    pub fn clause(&self) -> String {
        if self.conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conds.join(" AND "))
        }
    }

    pub fn params(&self) -> Vec<Param<'_>> {
        self.params
            .iter()
            .map(|p| p.as_ref() as Param<'_>)
            .collect()
    }

    /// `SELECT count(*)` of the matching products (the plans' `count({where})`).
    pub fn count_sql(&self) -> String {
        format!(
            r#"{}SELECT count(*) FROM "Product" p {}"#,
            self.with(),
            self.clause()
        )
    }

    /// One page of matching products in `order`, with brand and categories
    /// joined to the page's rows only. `extra` adds columns over the page
    /// alias `pg` (search highlights); `rank` is selected as `rank` when given;
    /// `description` only when asked (search highlights and snippets need it,
    /// list items never show it). Adds the LIMIT and OFFSET parameters.
    pub fn page_sql(
        &mut self,
        order: Order,
        rank: Option<&str>,
        description: bool,
        extra: &str,
        limit: u32,
        offset: u64,
    ) -> String {
        let limit = self.param(limit as i64);
        let offset = self.param(offset as i64);
        let rank = rank.map_or(String::new(), |r| format!(", {r} AS rank"));
        let description = if description { " p.description," } else { "" };
        let page = format!(
            r#"page AS (
  SELECT p.id, p.title,{description} p.price, p.discount, p.stock, p."isAvailable",
         p."isFeatured", p.images[1] AS image, p."brandId", p."reviewCount", p."ratingSum",
         p."ratingKey", p."createdAt"{rank}
  FROM "Product" p {clause}
  ORDER BY {inner} LIMIT {limit} OFFSET {offset})"#,
            clause = self.clause(),
            inner = order.terms("p"),
        );
        let mut ctes = self.ctes.clone();
        ctes.push(page);
        format!(
            r#"WITH RECURSIVE {ctes}
SELECT pg.*, b.id AS "brandRef", b.title AS "brandTitle", b.logo AS "brandLogo",
       cats.ids AS "categoryIds", cats.titles AS "categoryTitles"{extra}
FROM page pg
LEFT JOIN "Brand" b ON b.id = pg."brandId"
LEFT JOIN LATERAL (
  SELECT array_agg(c.id ORDER BY pc.position) AS ids,
         array_agg(c.title ORDER BY pc.position) AS titles
  FROM "ProductCategory" pc JOIN "Category" c ON c.id = pc."categoryId"
  WHERE pc."productId" = pg.id) cats ON true
ORDER BY {outer}"#,
            ctes = ctes.join(",\n"),
            outer = order.terms("pg"),
        )
    }
}

fn cents(p: Price) -> i64 {
    // Prices are at most Price::MAX_CENTS (< 10^9).
    p.cents() as i64
}

/// One row of the page query, owned, for rendering as shopd's list item.
pub struct ItemRow {
    pub id: String,
    pub title: String,
    /// Empty unless the page query selected it (search only).
    pub description: String,
    price: i64,
    discount: f64,
    stock: i32,
    available: bool,
    featured: bool,
    image: Option<String>,
    brand: Option<(String, String, Option<String>)>,
    category_ids: Vec<String>,
    category_titles: Vec<String>,
    rating: RatingSummary,
    created_at: Timestamp,
}

impl ItemRow {
    pub fn from_row(r: &Row) -> Result<ItemRow, ApiError> {
        let get = |e: tokio_postgres::Error| internal(e, "reading a product row");
        let brand_ref: Option<String> = r.try_get("brandRef").map_err(get)?;
        Ok(ItemRow {
            id: r.try_get("id").map_err(get)?,
            title: r.try_get("title").map_err(get)?,
            description: if r.columns().iter().any(|c| c.name() == "description") {
                r.try_get("description").map_err(get)?
            } else {
                String::new()
            },
            price: r.try_get("price").map_err(get)?,
            discount: r.try_get("discount").map_err(get)?,
            stock: r.try_get("stock").map_err(get)?,
            available: r.try_get("isAvailable").map_err(get)?,
            featured: r.try_get("isFeatured").map_err(get)?,
            image: r.try_get("image").map_err(get)?,
            brand: match brand_ref {
                Some(id) => Some((
                    id,
                    r.try_get("brandTitle").map_err(get)?,
                    r.try_get("brandLogo").map_err(get)?,
                )),
                None => None,
            },
            category_ids: r
                .try_get::<_, Option<Vec<String>>>("categoryIds")
                .map_err(get)?
                .unwrap_or_default(),
            category_titles: r
                .try_get::<_, Option<Vec<String>>>("categoryTitles")
                .map_err(get)?
                .unwrap_or_default(),
            rating: rating(
                r.try_get("reviewCount").map_err(get)?,
                r.try_get("ratingSum").map_err(get)?,
            ),
            created_at: timestamp(r.try_get("createdAt").map_err(get)?)?,
        })
    }

    /// The page's first images that are uploaded images.
    pub fn media_ids(rows: &[ItemRow]) -> Vec<String> {
        crate::media::ids_in(rows.iter().filter_map(|r| r.image.as_deref()))
    }

    /// shopd's list item, borrowing from this row.
    /// `media`: the rows of the page's images (see `media::by_ids`).
    pub fn item(
        &self,
        media: &std::collections::HashMap<String, shopd::domain::media::Media>,
    ) -> ProductItem<'_> {
        ProductItem {
            id: &self.id,
            title: &self.title,
            price: price(self.price),
            discount: self.discount,
            stock: self.stock.max(0) as u32,
            is_available: self.available,
            is_featured: self.featured,
            image: self.image.as_deref(),
            media: crate::media::entries(self.image.as_deref().into_iter(), media),
            brand: self.brand.as_ref().map(|(id, title, logo)| BrandRef {
                id,
                title,
                logo: logo.as_deref(),
            }),
            categories: self
                .category_ids
                .iter()
                .zip(&self.category_titles)
                .map(|(id, title)| CategoryRef { id, title })
                .collect(),
            avg_rating: self.rating.average(),
            review_count: self.rating.count,
            created_at: self.created_at,
        }
    }
}

/// A stored price (cents) as shopd's JSON decimal.
pub fn price(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// The review aggregate columns as shopd's summary.
pub fn rating(count: i32, sum: i32) -> RatingSummary {
    RatingSummary {
        count: count.max(0) as u32,
        sum: sum.max(0) as u32,
    }
}
