//! Admin product writes, each one transaction, checked the way shopd checks
//! them and in the same order (so the same request gets the same error):
//! - create: field errors → 422, unknown `brandId`/`categoryIds` → 404, a
//!   taken `id` → 409, then the insert;
//! - update: unknown product → 404 first, then field errors → 422, then
//!   unknown references → 404, then the update (`updatedAt` = now);
//! - delete: unknown product → 404; reviews and category links go with it
//!   (`ON DELETE CASCADE`).
//!
//! The route invalidates the cache tags after the commit, as the plans do.

use crate::db::{Db, Sql, internal, internal_msg, timestamp, to_offset};
use deadpool_postgres::GenericClient;
use shopd::api::error::ApiError;
use shopd::catalog::CatalogError;
use shopd::domain::product::ProductDraft;
use shopd::domain::{Checked, Discount, FieldErrors, Id, Price, Product, Timestamp};
use tokio_postgres::Row;

/// Recomputes one product's search document ($1) from its title, keywords,
/// brand title, the titles of its categories and their ancestors, and its
/// description.
pub const SEARCH_DOCUMENT_ONE: &str = r#"
WITH RECURSIVE lineage(id) AS (
  SELECT pc."categoryId" FROM "ProductCategory" pc WHERE pc."productId" = $1
  UNION SELECT c."parentId" FROM lineage l JOIN "Category" c ON c.id = l.id
        WHERE c."parentId" IS NOT NULL)
UPDATE "Product" p
SET "searchVector" = product_document(p.title, p.keywords,
      concat_ws(' ', b.title, (SELECT string_agg(c.title, ' ' ORDER BY c.id)
                               FROM lineage l JOIN "Category" c ON c.id = l.id)),
      p.description)
FROM "Brand" b
WHERE p.id = $1 AND b.id = p."brandId""#;

/// The same for every product (after a bulk load).
pub const SEARCH_DOCUMENT_ALL: &str = r#"
WITH RECURSIVE lineage(cat, anc) AS (
  SELECT id, id FROM "Category"
  UNION SELECT l.cat, c."parentId" FROM lineage l JOIN "Category" c ON c.id = l.anc
        WHERE c."parentId" IS NOT NULL),
facets AS (
  SELECT s.id, string_agg(s.title, ' ' ORDER BY s.cat) AS titles
  FROM (SELECT DISTINCT pc."productId" AS id, l.anc AS cat, c.title
        FROM "ProductCategory" pc JOIN lineage l ON l.cat = pc."categoryId"
        JOIN "Category" c ON c.id = l.anc) s
  GROUP BY s.id)
UPDATE "Product" p
SET "searchVector" = product_document(p.title, p.keywords, concat_ws(' ', b.title, f.titles),
                                      p.description)
FROM "Product" q JOIN "Brand" b ON b.id = q."brandId" LEFT JOIN facets f ON f.id = q.id
WHERE q.id = p.id"#;

const INSERT_PRODUCT: &str = r#"
INSERT INTO "Product" (id, title, description, images, keywords, price, discount, stock,
                       "isPhysical", "isAvailable", "isFeatured", "brandId", "createdAt", "updatedAt")
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (id) DO NOTHING"#;

const UPDATE_PRODUCT: &str = r#"
UPDATE "Product" SET title = $2, description = $3, images = $4, keywords = $5, price = $6,
       discount = $7, stock = $8, "isPhysical" = $9, "isAvailable" = $10, "isFeatured" = $11,
       "brandId" = $12, "createdAt" = $13, "updatedAt" = $14
WHERE id = $1"#;

const INSERT_CATEGORIES: &str = r#"
INSERT INTO "ProductCategory" ("productId", "categoryId", position)
SELECT $1, t.c, (t.n - 1)::smallint FROM unnest($2::text[]) WITH ORDINALITY AS t(c, n)"#;

fn validation(errors: FieldErrors) -> ApiError {
    ApiError::from(CatalogError::Validation(errors))
}

/// The draft's own errors (422), then the records it names (404).
async fn check_draft<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    d: &ProductDraft,
    errors: FieldErrors,
) -> Result<(), ApiError> {
    if !errors.is_empty() {
        return Err(validation(errors));
    }
    let mut missing = FieldErrors::new();
    check_refs(sql, d, &mut missing).await?;
    if !missing.is_empty() {
        return Err(ApiError::from(CatalogError::Missing(missing)));
    }
    Ok(())
}

/// Adds an error for every reference in `d` that names nothing (shopd's
/// `check_product_refs`: brand first, then categories in the given order).
async fn check_refs<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    d: &ProductDraft,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    if let Some(b) = &d.brand_id
        && sql
            .query_opt(r#"SELECT 1 FROM "Brand" WHERE id = $1"#, &[&b.as_str()])
            .await?
            .is_none()
    {
        errors.push("brandId", format!("unknown brand '{b}'"));
    }
    if let Some(cats) = d.category_ids.as_ref().filter(|c| !c.is_empty()) {
        let ids: Vec<&str> = cats.iter().map(Id::as_str).collect();
        let found = sql
            .query(r#"SELECT id FROM "Category" WHERE id = ANY($1)"#, &[&ids])
            .await?
            .iter()
            .map(|r| r.try_get::<_, String>(0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| internal(e, "reading category ids"))?;
        for c in cats {
            if !found.iter().any(|f| f == c.as_str()) {
                errors.push("categoryIds", format!("unknown category '{c}'"));
            }
        }
    }
    // Uploaded images a product names (shopd: `unknown image`).
    let wanted: Vec<String> = crate::media::ids_in(d.images.iter().flatten().map(String::as_str));
    if !wanted.is_empty() {
        let found = sql
            .query(r#"SELECT id FROM "Media" WHERE id = ANY($1)"#, &[&wanted])
            .await?
            .iter()
            .map(|r| r.try_get::<_, String>(0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| internal(e, "reading media ids"))?;
        for m in &wanted {
            if !found.contains(m) {
                errors.push("images", format!("unknown image '{m}'"));
            }
        }
    }
    Ok(())
}

async fn write_categories<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    p: &Product,
) -> Result<(), ApiError> {
    let ids: Vec<&str> = p.category_ids.iter().map(Id::as_str).collect();
    sql.execute(INSERT_CATEGORIES, &[&p.id.as_str(), &ids])
        .await?;
    Ok(())
}

/// The product's columns in statement order ($1 = id … $14 = updatedAt).
struct Columns {
    images: Vec<String>,
    keywords: Vec<String>,
    price: i64,
    stock: i32,
    created: time::OffsetDateTime,
    updated: time::OffsetDateTime,
}

impl Columns {
    fn of(p: &Product) -> Columns {
        Columns {
            images: p.images.clone(),
            keywords: p.keywords.clone(),
            price: p.price.cents() as i64,
            stock: p.stock as i32,
            created: to_offset(p.created_at),
            updated: to_offset(p.updated_at),
        }
    }
}

macro_rules! product_params {
    ($p:expr, $c:expr) => {
        [
            &$p.id.as_str() as &(dyn tokio_postgres::types::ToSql + Sync),
            &$p.title,
            &$p.description,
            &$c.images,
            &$c.keywords,
            &$c.price,
            &$p.discount.value(),
            &$c.stock,
            &$p.is_physical,
            &$p.is_available,
            &$p.is_featured,
            &$p.brand_id.as_str(),
            &$c.created,
            &$c.updated,
        ]
    };
}

/// `POST /products`: the new product's id.
pub async fn create_product(db: &Db, input: Checked<ProductDraft>) -> Result<String, ApiError> {
    let Checked { value: d, errors } = input;
    let mut client = db.conn().await?;
    db.metrics().statement();
    let tx = client
        .transaction()
        .await
        .map_err(|e| internal(e, "BEGIN"))?;
    let sql = db.sql(&tx);
    check_draft(&sql, &d, errors).await?;
    let exists = |id: String| {
        let sql = &sql;
        async move {
            Ok::<_, ApiError>(
                sql.query_opt(r#"SELECT 1 FROM "Product" WHERE id = $1"#, &[&id])
                    .await?
                    .is_some(),
            )
        }
    };
    let id = match d.id.clone() {
        Some(id) if exists(id.as_str().to_string()).await? => {
            return Err(duplicate(id.as_str()));
        }
        Some(id) => id,
        None => loop {
            let id = Id::generate("p");
            if !exists(id.as_str().to_string()).await? {
                break id;
            }
        },
    };
    let p = d
        .into_product(id, Timestamp::now())
        .ok_or_else(missing_required)?;
    let c = Columns::of(&p);
    if sql.execute(INSERT_PRODUCT, &product_params!(p, c)).await? == 0 {
        // Created by a concurrent request since the check above.
        return Err(duplicate(p.id.as_str()));
    }
    write_categories(&sql, &p).await?;
    sql.execute(SEARCH_DOCUMENT_ONE, &[&p.id.as_str()]).await?;
    db.metrics().statement();
    tx.commit().await.map_err(|e| internal(e, "COMMIT"))?;
    Ok(p.id.into_string())
}

fn duplicate(id: &str) -> ApiError {
    ApiError::from(CatalogError::Duplicate {
        kind: "product",
        id: id.to_string(),
    })
}

fn missing_required() -> ApiError {
    let mut e = FieldErrors::new();
    e.push("body", "required fields are missing");
    validation(e)
}

const SELECT_FOR_UPDATE: &str = r#"
SELECT p.id, p.title, p.description, p.images, p.keywords, p.price, p.discount, p.stock,
       p."isPhysical", p."isAvailable", p."isFeatured", p."brandId", p."createdAt", p."updatedAt",
       ARRAY(SELECT pc."categoryId" FROM "ProductCategory" pc
             WHERE pc."productId" = p.id ORDER BY pc.position) AS "categoryIds"
FROM "Product" p WHERE p.id = $1 FOR UPDATE"#;

/// A stored row as shopd's domain product (so shopd's own `apply_to` patches it).
fn product(r: &Row) -> Result<Product, ApiError> {
    fn id(s: String) -> Result<Id, ApiError> {
        Id::parse(&s).map_err(|e| internal_msg(e, "a stored id"))
    }
    let get = |e: tokio_postgres::Error| internal(e, "reading a product row");
    let cents: i64 = r.try_get("price").map_err(get)?;
    let stock: i32 = r.try_get("stock").map_err(get)?;
    Ok(Product {
        id: id(r.try_get("id").map_err(get)?)?,
        title: r.try_get("title").map_err(get)?,
        description: r.try_get("description").map_err(get)?,
        images: r.try_get("images").map_err(get)?,
        keywords: r.try_get("keywords").map_err(get)?,
        price: Price::from_cents(cents.max(0) as u64).map_err(|e| internal_msg(e, "price"))?,
        discount: Discount::new(r.try_get("discount").map_err(get)?)
            .map_err(|e| internal_msg(e, "discount"))?,
        stock: stock.max(0) as u32,
        is_physical: r.try_get("isPhysical").map_err(get)?,
        is_available: r.try_get("isAvailable").map_err(get)?,
        is_featured: r.try_get("isFeatured").map_err(get)?,
        brand_id: id(r.try_get("brandId").map_err(get)?)?,
        category_ids: r
            .try_get::<_, Vec<String>>("categoryIds")
            .map_err(get)?
            .into_iter()
            .map(id)
            .collect::<Result<_, _>>()?,
        created_at: timestamp(r.try_get("createdAt").map_err(get)?)?,
        updated_at: timestamp(r.try_get("updatedAt").map_err(get)?)?,
    })
}

/// `PATCH /products/{id}`.
pub async fn update_product(
    db: &Db,
    id: &str,
    input: Checked<ProductDraft>,
) -> Result<(), ApiError> {
    let Checked { value: d, errors } = input;
    let mut client = db.conn().await?;
    db.metrics().statement();
    let tx = client
        .transaction()
        .await
        .map_err(|e| internal(e, "BEGIN"))?;
    let sql = db.sql(&tx);
    let row = sql
        .query_opt(SELECT_FOR_UPDATE, &[&id])
        .await?
        .ok_or_else(|| crate::reads::not_found("product", id))?;
    let mut p = product(&row)?;
    check_draft(&sql, &d, errors).await?;
    let categories_changed = d.category_ids.is_some();
    d.apply_to(&mut p, Timestamp::now());
    let c = Columns::of(&p);
    sql.execute(UPDATE_PRODUCT, &product_params!(p, c)).await?;
    if categories_changed {
        sql.execute(
            r#"DELETE FROM "ProductCategory" WHERE "productId" = $1"#,
            &[&id],
        )
        .await?;
        write_categories(&sql, &p).await?;
    }
    sql.execute(SEARCH_DOCUMENT_ONE, &[&id]).await?;
    db.metrics().statement();
    tx.commit().await.map_err(|e| internal(e, "COMMIT"))?;
    Ok(())
}

/// `DELETE /products/{id}`: one statement, so no explicit transaction.
pub async fn delete_product(db: &Db, id: &str) -> Result<(), ApiError> {
    let client = db.conn().await?;
    let n = db
        .sql(&client)
        .execute(r#"DELETE FROM "Product" WHERE id = $1"#, &[&id])
        .await?;
    if n == 0 {
        return Err(crate::reads::not_found("product", id));
    }
    Ok(())
}
