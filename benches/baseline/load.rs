//! `shopd-baseline load --dir DIR`: a shopd JSONL catalogue into PostgreSQL.
//!
//! Every line goes through shopd's own validators (`InputMode::Import`), so
//! the rows hold exactly what `shopd import` would store (prices in cents,
//! defaults, timestamps to the millisecond). A bad line stops the load with
//! `file:line: reason` (shopd's `--strict`); references are checked by the
//! foreign keys. Records are upserted by id like shopd's import: a later line
//! with the same id replaces an earlier one.
//!
//! One transaction: recreate the schema's tables (`schema.sql`, first part),
//! `COPY … FROM STDIN BINARY` each table, compute the review aggregates and
//! search documents in two set-based updates, then build keys, indexes and
//! triggers (second part), commit, and `VACUUM (ANALYZE)`.

use crate::db::to_offset;
use crate::writes::SEARCH_DOCUMENT_ALL;
use anyhow::{Context, bail};
use serde_json::{Map, Value};
use shopd::domain::brand::BrandDraft;
use shopd::domain::category::CategoryDraft;
use shopd::domain::product::ProductDraft;
use shopd::domain::review::ReviewDraft;
use shopd::domain::{
    Brand, Category, Checked, Id, InputMode, Product, Review, Reviewer, Timestamp,
};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{NoTls, Transaction};

const SCHEMA: &str = include_str!("schema.sql");
const POST_LOAD_MARKER: &str = "-- @@ post-load @@";

/// Records in file order, a repeated id replacing the earlier record in place.
struct Upserted<T> {
    items: Vec<T>,
    at: HashMap<String, usize>,
}

impl<T> Upserted<T> {
    fn new() -> Self {
        Upserted {
            items: Vec::new(),
            at: HashMap::new(),
        }
    }

    fn put(&mut self, id: String, item: T) {
        match self.at.get(&id) {
            Some(&i) => self.items[i] = item,
            None => {
                self.at.insert(id, self.items.len());
                self.items.push(item);
            }
        }
    }
}

/// Parses every line of `dir/file` (absent: nothing) with `parse`.
fn read<T>(
    dir: &Path,
    file: &str,
    mut parse: impl FnMut(&Map<String, Value>) -> Result<T, String>,
) -> anyhow::Result<Vec<T>> {
    let path = dir.join(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parsed = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => parse(&map),
            Ok(_) => Err("expected a JSON object".to_string()),
            Err(e) => Err(format!("bad JSON: {e}")),
        };
        match parsed {
            Ok(v) => out.push(v),
            Err(reason) => bail!("{file}:{}: {reason}", i + 1),
        }
    }
    Ok(out)
}

/// A checked draft's value, or its field errors as the reason.
fn checked<T>(c: Checked<T>) -> Result<T, String> {
    if c.errors.is_empty() {
        Ok(c.value)
    } else {
        Err(c.errors.to_string())
    }
}

fn required<T>(v: Option<T>) -> Result<T, String> {
    v.ok_or_else(|| "required fields are missing".to_string())
}

fn id_of(id: Option<Id>) -> Result<Id, String> {
    required(id)
}

struct Catalogue {
    brands: Upserted<Brand>,
    categories: Upserted<Category>,
    users: Upserted<Reviewer>,
    products: Upserted<Product>,
    reviews: Upserted<Review>,
}

fn read_catalogue(dir: &Path) -> anyhow::Result<Catalogue> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let now = Timestamp::now();
    let mut c = Catalogue {
        brands: Upserted::new(),
        categories: Upserted::new(),
        users: Upserted::new(),
        products: Upserted::new(),
        reviews: Upserted::new(),
    };
    for b in read(dir, "brands.jsonl", |m| {
        let d = checked(BrandDraft::parse(m, InputMode::Import))?;
        let id = id_of(d.id.clone())?;
        Ok(d.into_brand(id))
    })? {
        c.brands.put(b.id.as_str().to_string(), b);
    }
    for x in read(dir, "categories.jsonl", |m| {
        let d = checked(CategoryDraft::parse(m, InputMode::Import))?;
        let id = id_of(d.id.clone())?;
        Ok(d.into_category(id))
    })? {
        c.categories.put(x.id.as_str().to_string(), x);
    }
    for u in read(dir, "users.jsonl", |m| {
        required(checked(Reviewer::parse(m, InputMode::Import, now))?)
    })? {
        c.users.put(u.id.as_str().to_string(), u);
    }
    for p in read(dir, "products.jsonl", |m| {
        let d = checked(ProductDraft::parse(m, InputMode::Import))?;
        let id = id_of(d.id.clone())?;
        required(d.into_product(id, now))
    })? {
        c.products.put(p.id.as_str().to_string(), p);
    }
    for r in read(dir, "reviews.jsonl", |m| {
        let d = checked(ReviewDraft::parse(m, InputMode::Import))?;
        let id = id_of(d.id.clone())?;
        let product = id_of(d.product_id.clone())?;
        required(d.into_review(id, product, now))
    })? {
        c.reviews.put(r.id.as_str().to_string(), r);
    }
    Ok(c)
}

type Writer = std::pin::Pin<Box<BinaryCopyInWriter>>;

/// Starts `COPY table (columns) FROM STDIN BINARY`.
async fn copy_in(
    tx: &Transaction<'_>,
    table: &str,
    columns: &[(&str, Type)],
) -> anyhow::Result<Writer> {
    let names: Vec<String> = columns.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    let types: Vec<Type> = columns.iter().map(|(_, t)| t.clone()).collect();
    let sink = tx
        .copy_in(&format!(
            "COPY \"{table}\" ({}) FROM STDIN BINARY",
            names.join(", ")
        ))
        .await
        .with_context(|| format!("starting COPY into {table}"))?;
    Ok(Box::pin(BinaryCopyInWriter::new(sink, &types)))
}

async fn row(w: &mut Writer, table: &str, values: &[&(dyn ToSql + Sync)]) -> anyhow::Result<()> {
    w.as_mut()
        .write(values)
        .await
        .with_context(|| format!("COPY into {table}"))
}

async fn finish(mut w: Writer, table: &str) -> anyhow::Result<u64> {
    w.as_mut()
        .finish()
        .await
        .with_context(|| format!("finishing COPY into {table}"))
}

async fn copy_all(tx: &Transaction<'_>, c: &Catalogue) -> anyhow::Result<()> {
    use Type as T;
    let mut w = copy_in(
        tx,
        "Brand",
        &[
            ("id", T::TEXT),
            ("title", T::TEXT),
            ("description", T::TEXT),
            ("logo", T::TEXT),
        ],
    )
    .await?;
    for b in &c.brands.items {
        row(
            &mut w,
            "Brand",
            &[&b.id.as_str(), &b.title, &b.description, &b.logo],
        )
        .await?;
    }
    finish(w, "Brand").await?;

    let mut w = copy_in(
        tx,
        "Category",
        &[
            ("id", T::TEXT),
            ("title", T::TEXT),
            ("description", T::TEXT),
            ("parentId", T::TEXT),
        ],
    )
    .await?;
    for x in &c.categories.items {
        let parent = x.parent_id.as_ref().map(Id::as_str);
        row(
            &mut w,
            "Category",
            &[&x.id.as_str(), &x.title, &x.description, &parent],
        )
        .await?;
    }
    finish(w, "Category").await?;

    let mut w = copy_in(
        tx,
        "User",
        &[
            ("id", T::TEXT),
            ("email", T::TEXT),
            ("name", T::TEXT),
            ("createdAt", T::TIMESTAMPTZ),
        ],
    )
    .await?;
    for u in &c.users.items {
        let created = to_offset(u.created_at);
        row(
            &mut w,
            "User",
            &[&u.id.as_str(), &u.email, &u.name, &created],
        )
        .await?;
    }
    finish(w, "User").await?;

    let mut w = copy_in(
        tx,
        "Product",
        &[
            ("id", T::TEXT),
            ("title", T::TEXT),
            ("description", T::TEXT),
            ("images", T::TEXT_ARRAY),
            ("keywords", T::TEXT_ARRAY),
            ("price", T::INT8),
            ("discount", T::FLOAT8),
            ("stock", T::INT4),
            ("isPhysical", T::BOOL),
            ("isAvailable", T::BOOL),
            ("isFeatured", T::BOOL),
            ("brandId", T::TEXT),
            ("createdAt", T::TIMESTAMPTZ),
            ("updatedAt", T::TIMESTAMPTZ),
        ],
    )
    .await?;
    for p in &c.products.items {
        let (price, stock) = (p.price.cents() as i64, p.stock as i32);
        let (created, updated) = (to_offset(p.created_at), to_offset(p.updated_at));
        row(
            &mut w,
            "Product",
            &[
                &p.id.as_str(),
                &p.title,
                &p.description,
                &p.images,
                &p.keywords,
                &price,
                &p.discount.value(),
                &stock,
                &p.is_physical,
                &p.is_available,
                &p.is_featured,
                &p.brand_id.as_str(),
                &created,
                &updated,
            ],
        )
        .await?;
    }
    finish(w, "Product").await?;

    let mut w = copy_in(
        tx,
        "ProductCategory",
        &[
            ("productId", T::TEXT),
            ("categoryId", T::TEXT),
            ("position", T::INT2),
        ],
    )
    .await?;
    for p in &c.products.items {
        for (i, cat) in p.category_ids.iter().enumerate() {
            // At most `limits::CATEGORIES_PER_PRODUCT` (10) per product.
            let position = i as i16;
            row(
                &mut w,
                "ProductCategory",
                &[&p.id.as_str(), &cat.as_str(), &position],
            )
            .await?;
        }
    }
    finish(w, "ProductCategory").await?;

    let mut w = copy_in(
        tx,
        "ProductReview",
        &[
            ("id", T::TEXT),
            ("productId", T::TEXT),
            ("userId", T::TEXT),
            ("rating", T::INT2),
            ("text", T::TEXT),
            ("createdAt", T::TIMESTAMPTZ),
        ],
    )
    .await?;
    for r in &c.reviews.items {
        let rating = r.rating.get() as i16;
        let created = to_offset(r.created_at);
        row(
            &mut w,
            "ProductReview",
            &[
                &r.id.as_str(),
                &r.product_id.as_str(),
                &r.user_id.as_str(),
                &rating,
                &r.text,
                &created,
            ],
        )
        .await?;
    }
    finish(w, "ProductReview").await?;
    Ok(())
}

/// Loads `dir` into the database at `url`, replacing what an earlier load put there.
pub async fn load(dir: &Path, url: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let c = read_catalogue(dir)?;
    let (mut client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("error: PostgreSQL connection: {e}");
        }
    });
    let (tables, post_load) = SCHEMA
        .split_once(POST_LOAD_MARKER)
        .context("schema.sql lacks its post-load marker")?;
    let tx = client.transaction().await.context("BEGIN")?;
    // The DROPs notice what does not exist yet; that is expected.
    tx.batch_execute("SET LOCAL client_min_messages = warning")
        .await
        .context("SET")?;
    tx.batch_execute(tables)
        .await
        .context("creating the tables")?;
    copy_all(&tx, &c).await?;
    tx.batch_execute(
        r#"UPDATE "Product" p SET "reviewCount" = a.n, "ratingSum" = a.s
           FROM (SELECT "productId" AS id, count(*) AS n, sum(rating) AS s
                 FROM "ProductReview" GROUP BY "productId") a
           WHERE a.id = p.id"#,
    )
    .await
    .context("computing the review aggregates")?;
    tx.batch_execute(SEARCH_DOCUMENT_ALL)
        .await
        .context("computing the search documents")?;
    tx.batch_execute(post_load)
        .await
        .context("building keys, indexes and triggers (a bad reference shows up here)")?;
    tx.commit().await.context("COMMIT")?;
    client
        .batch_execute("VACUUM (ANALYZE)")
        .await
        .context("VACUUM (ANALYZE)")?;
    drop(client);
    let _ = driver.await;
    println!(
        "loaded {} brands, {} categories, {} users, {} products, {} reviews from {} in {:.1} s",
        c.brands.items.len(),
        c.categories.items.len(),
        c.users.items.len(),
        c.products.items.len(),
        c.reviews.items.len(),
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
