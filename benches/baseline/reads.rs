//! Read use cases: SQL in, shopd's JSON body out (rendered with shopd's own
//! response types, `shopd::catalog::json`, so field names, order and number
//! formatting are the same by construction). One pooled connection per
//! request; independent statements are pipelined.

use crate::db::{Db, Param, internal, timestamp};
use crate::listing::{ItemRow, Order, Where, price, rating};
use shopd::api::error::ApiError;
use shopd::catalog::CatalogError;
use shopd::catalog::json::{
    self, BrandFull, CategoryDetail, CategoryFull, CategoryNode, Data, Paged, ProductDetail,
    ProductItem, ReviewItem, Seq, UserRef,
};
use shopd::domain::Timestamp;
use shopd::domain::listing::{PageRequest, ProductQuery};
use std::collections::{HashMap, HashSet};
use tokio_postgres::Row;

/// How many reviews a product detail embeds (shopd's `NEWEST_REVIEWS`).
const NEWEST_REVIEWS: i64 = 10;

pub fn not_found(kind: &'static str, id: &str) -> ApiError {
    ApiError::from(CatalogError::NotFound {
        kind,
        id: id.to_string(),
    })
}

fn col<'r, T: tokio_postgres::types::FromSql<'r>>(r: &'r Row, name: &str) -> Result<T, ApiError> {
    r.try_get(name).map_err(|e| internal(e, name))
}

fn count(r: &Row) -> Result<u64, ApiError> {
    Ok(col::<i64>(r, "count")?.max(0) as u64)
}

/// `GET /products`: the page and `count(*)`, pipelined.
pub async fn list_products(db: &Db, q: &ProductQuery) -> Result<Vec<u8>, ApiError> {
    if q.filter.matches_nothing {
        // An id no record can have: nothing matches (shopd answers the same
        // without reading).
        return Ok(json::to_vec(&Paged {
            data: Vec::<ProductItem>::new(),
            meta: q.page.meta(0),
        }));
    }
    let mut w = Where::new(&q.filter);
    let count_sql = w.count_sql();
    let count_params = w.params().len();
    let page_sql = w.page_sql(
        Order::Sort(q.sort),
        None,
        false,
        "",
        q.page.limit(),
        q.page.offset(),
    );
    let params = w.params();
    let client = db.conn().await?;
    let sql = db.sql(&client);
    let (rows, total) = tokio::try_join!(
        sql.query(&page_sql, &params),
        sql.query_one(&count_sql, &params[..count_params]),
    )?;
    let items = rows
        .iter()
        .map(ItemRow::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let media = crate::media::by_ids(db, &ItemRow::media_ids(&items)).await?;
    Ok(json::to_vec(&Paged {
        data: items.iter().map(|i| i.item(&media)).collect::<Vec<_>>(),
        meta: q.page.meta(count(&total)?),
    }))
}

struct ReviewRow {
    id: String,
    rating: i16,
    text: String,
    created_at: Timestamp,
    user_id: String,
    user_name: Option<String>,
}

impl ReviewRow {
    fn from_row(r: &Row) -> Result<ReviewRow, ApiError> {
        Ok(ReviewRow {
            id: col(r, "id")?,
            rating: col(r, "rating")?,
            text: col(r, "text")?,
            created_at: timestamp(col(r, "createdAt")?)?,
            user_id: col(r, "userId")?,
            user_name: col(r, "name")?,
        })
    }

    fn item(&self) -> ReviewItem<'_> {
        ReviewItem {
            id: &self.id,
            rating: self.rating.clamp(0, 255) as u8,
            text: &self.text,
            created_at: self.created_at,
            user: UserRef {
                id: &self.user_id,
                name: self.user_name.as_deref(),
            },
        }
    }
}

/// Newest first; equal times by id descending (shopd reads its
/// `productId ‖ createdAt ‖ reviewId` index backwards).
const REVIEWS_SQL: &str = r#"
SELECT r.id, r.rating, r.text, r."createdAt", r."userId", u.name
FROM "ProductReview" r LEFT JOIN "User" u ON u.id = r."userId"
WHERE r."productId" = $1
ORDER BY r."createdAt" DESC, r.id DESC
LIMIT $2 OFFSET $3"#;

const DETAIL_SQL: &str = r#"
SELECT p.id, p.title, p.description, p.images, p.keywords, p.price, p.discount, p.stock,
       p."isPhysical", p."isAvailable", p."isFeatured", p."brandId", p."createdAt", p."updatedAt",
       p."reviewCount", p."ratingSum",
       b.id AS "brandRef", b.title AS "brandTitle", b.description AS "brandDescription",
       b.logo AS "brandLogo",
       cats.ids AS "categoryIds", cats.titles AS "categoryTitles",
       cats.descriptions AS "categoryDescriptions"
FROM "Product" p
LEFT JOIN "Brand" b ON b.id = p."brandId"
LEFT JOIN LATERAL (
  SELECT array_agg(c.id ORDER BY pc.position) AS ids,
         array_agg(c.title ORDER BY pc.position) AS titles,
         array_agg(c.description ORDER BY pc.position) AS descriptions
  FROM "ProductCategory" pc JOIN "Category" c ON c.id = pc."categoryId"
  WHERE pc."productId" = p.id) cats ON true
WHERE p.id = $1"#;

/// `GET /products/{id}` (also the body of a product write): the product with
/// brand and categories, and its newest reviews, pipelined.
pub async fn product_detail(db: &Db, id: &str) -> Result<Vec<u8>, ApiError> {
    let client = db.conn().await?;
    let sql = db.sql(&client);
    let (by_id, newest): (&[Param], &[Param]) = (&[&id], &[&id, &NEWEST_REVIEWS, &0i64]);
    let (product, reviews) = tokio::try_join!(
        sql.query_opt(DETAIL_SQL, by_id),
        sql.query(REVIEWS_SQL, newest),
    )?;
    let p = product.ok_or_else(|| not_found("product", id))?;
    let reviews = reviews
        .iter()
        .map(ReviewRow::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let images: Vec<String> = col(&p, "images")?;
    let media =
        crate::media::by_ids(db, &crate::media::ids_in(images.iter().map(String::as_str))).await?;
    let keywords: Vec<String> = col(&p, "keywords")?;
    let category_ids: Vec<String> = col::<Option<_>>(&p, "categoryIds")?.unwrap_or_default();
    let category_titles: Vec<String> = col::<Option<_>>(&p, "categoryTitles")?.unwrap_or_default();
    let category_descriptions: Vec<String> =
        col::<Option<_>>(&p, "categoryDescriptions")?.unwrap_or_default();
    let brand_ref: Option<String> = col(&p, "brandRef")?;
    let brand_title: Option<String> = col(&p, "brandTitle")?;
    let brand_description: Option<String> = col(&p, "brandDescription")?;
    let brand_logo: Option<String> = col(&p, "brandLogo")?;
    let pid: String = col(&p, "id")?;
    let title: String = col(&p, "title")?;
    let description: String = col(&p, "description")?;
    let brand_id: String = col(&p, "brandId")?;
    let r = rating(col(&p, "reviewCount")?, col(&p, "ratingSum")?);
    let body = ProductDetail {
        id: &pid,
        title: &title,
        description: &description,
        images: Seq(images.iter().map(String::as_str)),
        media: crate::media::entries(images.iter().map(String::as_str), &media),
        keywords: Seq(keywords.iter().map(String::as_str)),
        price: price(col(&p, "price")?),
        discount: col(&p, "discount")?,
        stock: col::<i32>(&p, "stock")?.max(0) as u32,
        is_physical: col(&p, "isPhysical")?,
        is_available: col(&p, "isAvailable")?,
        is_featured: col(&p, "isFeatured")?,
        brand_id: &brand_id,
        category_ids: Seq(category_ids.iter().map(String::as_str)),
        created_at: timestamp(col(&p, "createdAt")?)?,
        updated_at: timestamp(col(&p, "updatedAt")?)?,
        brand: brand_ref.as_deref().map(|id| BrandFull {
            id,
            title: brand_title.as_deref().unwrap_or_default(),
            description: brand_description.as_deref().unwrap_or_default(),
            logo: brand_logo.as_deref(),
        }),
        categories: category_ids
            .iter()
            .zip(&category_titles)
            .zip(&category_descriptions)
            .map(|((id, title), description)| CategoryFull {
                id,
                title,
                description,
            })
            .collect(),
        reviews: reviews.iter().map(ReviewRow::item).collect(),
        avg_rating: r.average(),
        review_count: r.count,
    };
    Ok(json::to_vec(&Data { data: body }))
}

/// `GET /products/{id}/reviews`: whether the product exists with its review
/// count (`reviewCount`, kept on the product row by a trigger, so no
/// `count(*)` over the reviews), and the page, pipelined.
pub async fn product_reviews(db: &Db, id: &str, page: PageRequest) -> Result<Vec<u8>, ApiError> {
    let client = db.conn().await?;
    let sql = db.sql(&client);
    let limit = page.limit() as i64;
    let offset = page.offset() as i64;
    let (by_id, window): (&[Param], &[Param]) = (&[&id], &[&id, &limit, &offset]);
    let (total, rows) = tokio::try_join!(
        sql.query_opt(
            r#"SELECT p."reviewCount"::bigint AS count FROM "Product" p WHERE p.id = $1"#,
            by_id,
        ),
        sql.query(REVIEWS_SQL, window),
    )?;
    let total = total.ok_or_else(|| not_found("product", id))?;
    let reviews = rows
        .iter()
        .map(ReviewRow::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json::to_vec(&Paged {
        data: reviews.iter().map(ReviewRow::item).collect::<Vec<_>>(),
        meta: page.meta(count(&total)?),
    }))
}

struct BrandRow {
    id: String,
    title: String,
    description: String,
    logo: Option<String>,
}

impl BrandRow {
    fn from_row(r: &Row) -> Result<BrandRow, ApiError> {
        Ok(BrandRow {
            id: col(r, "id")?,
            title: col(r, "title")?,
            description: col(r, "description")?,
            logo: col(r, "logo")?,
        })
    }

    fn full(&self) -> BrandFull<'_> {
        BrandFull {
            id: &self.id,
            title: &self.title,
            description: &self.description,
            logo: self.logo.as_deref(),
        }
    }
}

/// `GET /brands`: by title, then id.
pub async fn list_brands(db: &Db, page: PageRequest) -> Result<Vec<u8>, ApiError> {
    let client = db.conn().await?;
    let sql = db.sql(&client);
    let limit = page.limit() as i64;
    let offset = page.offset() as i64;
    let window: &[Param] = &[&limit, &offset];
    let (rows, total) = tokio::try_join!(
        sql.query(
            r#"SELECT id, title, description, logo FROM "Brand"
               ORDER BY title, id LIMIT $1 OFFSET $2"#,
            window,
        ),
        sql.query_one(r#"SELECT count(*) FROM "Brand""#, &[]),
    )?;
    let brands = rows
        .iter()
        .map(BrandRow::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json::to_vec(&Paged {
        data: brands.iter().map(BrandRow::full).collect::<Vec<_>>(),
        meta: page.meta(count(&total)?),
    }))
}

/// `GET /brands/{id}`.
pub async fn brand(db: &Db, id: &str) -> Result<Vec<u8>, ApiError> {
    let client = db.conn().await?;
    let row = db
        .sql(&client)
        .query_opt(
            r#"SELECT id, title, description, logo FROM "Brand" WHERE id = $1"#,
            &[&id],
        )
        .await?
        .ok_or_else(|| not_found("brand", id))?;
    let b = BrandRow::from_row(&row)?;
    Ok(json::to_vec(&Data { data: b.full() }))
}

struct CategoryRow {
    id: String,
    title: String,
    description: String,
    parent_id: Option<String>,
}

impl CategoryRow {
    fn from_row(r: &Row) -> Result<CategoryRow, ApiError> {
        Ok(CategoryRow {
            id: col(r, "id")?,
            title: col(r, "title")?,
            description: col(r, "description")?,
            parent_id: col(r, "parentId")?,
        })
    }
}

/// `GET /categories`: the whole forest, siblings by title then id, built
/// from one scan the way shopd builds it (an unknown parent makes a root).
pub async fn category_tree(db: &Db) -> Result<Vec<u8>, ApiError> {
    let client = db.conn().await?;
    let rows = db
        .sql(&client)
        .query(
            r#"SELECT id, title, description, "parentId" FROM "Category""#,
            &[],
        )
        .await?;
    let cats = rows
        .iter()
        .map(CategoryRow::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let known: HashSet<&str> = cats.iter().map(|c| c.id.as_str()).collect();
    let mut children: HashMap<Option<&str>, Vec<&CategoryRow>> = HashMap::new();
    for c in &cats {
        let parent = c.parent_id.as_deref().filter(|p| known.contains(p));
        children.entry(parent).or_default().push(c);
    }
    for v in children.values_mut() {
        v.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.id.cmp(&b.id)));
    }
    fn build<'a>(
        parent: Option<&'a str>,
        children: &HashMap<Option<&'a str>, Vec<&'a CategoryRow>>,
        depth: usize,
    ) -> Vec<CategoryNode<'a>> {
        let Some(list) = children.get(&parent) else {
            return Vec::new();
        };
        list.iter()
            .map(|c| CategoryNode {
                id: &c.id,
                title: &c.title,
                description: &c.description,
                children: if depth < 64 {
                    build(Some(c.id.as_str()), children, depth + 1)
                } else {
                    Vec::new()
                },
            })
            .collect()
    }
    Ok(json::to_vec(&Data {
        data: build(None, &children, 0),
    }))
}

/// `GET /categories/{id}`: the category and its children, pipelined.
pub async fn category(db: &Db, id: &str) -> Result<Vec<u8>, ApiError> {
    let client = db.conn().await?;
    let sql = db.sql(&client);
    let by_id: &[Param] = &[&id];
    let (row, kids) = tokio::try_join!(
        sql.query_opt(
            r#"SELECT id, title, description, "parentId" FROM "Category" WHERE id = $1"#,
            by_id,
        ),
        sql.query(
            r#"SELECT id, title, description, "parentId" FROM "Category"
               WHERE "parentId" = $1 ORDER BY title, id"#,
            by_id,
        ),
    )?;
    let c = CategoryRow::from_row(&row.ok_or_else(|| not_found("category", id))?)?;
    let kids = kids
        .iter()
        .map(CategoryRow::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json::to_vec(&Data {
        data: CategoryDetail {
            id: &c.id,
            title: &c.title,
            description: &c.description,
            parent_id: c.parent_id.as_deref(),
            children: kids
                .iter()
                .map(|k| CategoryFull {
                    id: &k.id,
                    title: &k.title,
                    description: &k.description,
                })
                .collect(),
        },
    }))
}
