//! `GET /search` with PostgreSQL full-text search: the `searchVector`
//! tsvector (GIN-indexed), `to_tsquery('english', …)` and `ts_rank`.
//!
//! The request is parsed by shopd's own parser (same 400/422 answers) and the
//! body has shopd's shape: the list envelope with `meta.relaxed`, per-hit
//! `highlight {title, description}` and `facets {brand, category, price}`.
//! What differs, by design of the Postgres design: matching is the english
//! text-search configuration (stemming and stop words, no typo tolerance and
//! no prefix matching), ranking is `ts_rank` with shopd's field weights, and
//! highlights come from `ts_headline` (HTML-escaped like shopd's). Browsing
//! (no words) answers exactly as shopd does. The query words are shopd's
//! separators rule (any non-alphanumeric character splits), all required;
//! when that finds nothing and there are several words, any word
//! (`meta.relaxed: true`), as shopd does.
//!
//! Four statements, pipelined: the page, the total with the price buckets,
//! the brand facet and the category facet (ancestors included).

use crate::db::{Db, internal};
use crate::listing::{ItemRow, Order, Where};
use serde::Serialize;
use shopd::api::error::ApiError;
use shopd::catalog::json::{self, ProductItem};
use shopd::domain::listing::{PageMeta, ProductSort};
use shopd::domain::search::{PRICE_BUCKETS, SearchQuery, SearchSort};
use shopd::search::highlight;
use tokio_postgres::Row;

/// Brands shown in the brand facet (shopd's `BRAND_FACET_SIZE`).
const BRAND_FACET_SIZE: i64 = 20;
/// `ts_rank` weights {D, C, B, A}: shopd's boosts 0.5, 1.5, 2, 4, over 4.
const RANK_WEIGHTS: &str = "'{0.125, 0.375, 0.5, 1.0}'";
/// Markers `ts_headline` puts around matches; the text is HTML-escaped
/// afterwards and the markers become `<mark>` tags. Private-use characters,
/// so no product text contains them.
const START: char = '\u{E000}';
const STOP: char = '\u{E001}';

#[derive(Serialize)]
struct Highlight {
    title: String,
    description: String,
}

#[derive(Serialize)]
struct SearchItem<'a> {
    #[serde(flatten)]
    item: ProductItem<'a>,
    highlight: Highlight,
}

#[derive(Serialize)]
struct FacetValue {
    id: String,
    title: String,
    count: u64,
}

#[derive(Serialize)]
struct PriceFacet {
    min: f64,
    max: Option<f64>,
    count: u64,
}

#[derive(Serialize)]
struct Facets {
    brand: Vec<FacetValue>,
    category: Vec<FacetValue>,
    price: Vec<PriceFacet>,
}

#[derive(Serialize)]
struct SearchMeta {
    #[serde(flatten)]
    page: PageMeta,
    relaxed: bool,
}

#[derive(Serialize)]
struct SearchBody<'a> {
    data: Vec<SearchItem<'a>>,
    meta: SearchMeta,
    facets: Facets,
}

/// The words of a query: runs of alphanumeric characters, lowercased.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn price_facets(counts: &[u64]) -> Vec<PriceFacet> {
    PRICE_BUCKETS
        .iter()
        .zip(counts)
        .map(|((lo, hi), count)| PriceFacet {
            min: *lo as f64 / 100.0,
            max: hi.map(|h| h as f64 / 100.0),
            count: *count,
        })
        .collect()
}

/// What the four statements found.
struct Found {
    items: Vec<ItemRow>,
    highlights: Vec<Option<(String, String)>>,
    total: u64,
    prices: Vec<u64>,
    brands: Vec<FacetValue>,
    categories: Vec<FacetValue>,
}

pub async fn search(db: &Db, q: &SearchQuery) -> Result<Vec<u8>, ApiError> {
    let words = words(&q.text);
    let (found, relaxed) = if q.filter.matches_nothing {
        let empty = Found {
            items: Vec::new(),
            highlights: Vec::new(),
            total: 0,
            prices: vec![0; PRICE_BUCKETS.len()],
            brands: Vec::new(),
            categories: Vec::new(),
        };
        (empty, false)
    } else {
        let all = run(db, q, &words, " & ").await?;
        if all.total == 0 && words.len() > 1 {
            (run(db, q, &words, " | ").await?, true)
        } else {
            (all, false)
        }
    };
    let media = crate::media::by_ids(db, &ItemRow::media_ids(&found.items)).await?;
    let data = found
        .items
        .iter()
        .zip(found.highlights)
        .map(|(row, h)| {
            let highlight = match h {
                Some((title, description)) => Highlight {
                    title: marked(&title),
                    description: marked(&description),
                },
                // Without words there is nothing to mark: shopd's own
                // escaping and snippet cut, so browsing answers identically.
                None => {
                    let mut none = highlight::Highlighter::new(&[]);
                    Highlight {
                        title: none.highlight(&row.title),
                        description: none.snippet(&row.description),
                    }
                }
            };
            SearchItem {
                item: row.item(&media),
                highlight,
            }
        })
        .collect();
    Ok(json::to_vec(&SearchBody {
        data,
        meta: SearchMeta {
            page: q.page.meta(found.total),
            relaxed,
        },
        facets: Facets {
            brand: found.brands,
            category: found.categories,
            price: price_facets(&found.prices),
        },
    }))
}

/// The four statements for `words` joined by `op` (`&` all, `|` any).
async fn run(db: &Db, q: &SearchQuery, words: &[String], op: &str) -> Result<Found, ApiError> {
    let mut w = Where::new(&q.filter);
    let tsq = if words.is_empty() {
        None
    } else {
        let p = w.param(words.join(op));
        let tsq = format!("to_tsquery('english', {p})");
        w.cond(format!(r#"p."searchVector" @@ {tsq}"#));
        Some(tsq)
    };
    let order = match (q.sort, &tsq) {
        (SearchSort::Relevance, Some(_)) => Order::Rank,
        (SearchSort::Relevance, None) => Order::Sort(ProductSort::Featured),
        (SearchSort::PriceAsc, _) => Order::Sort(ProductSort::PriceAsc),
        (SearchSort::PriceDesc, _) => Order::Sort(ProductSort::PriceDesc),
        (SearchSort::Newest, _) => Order::Sort(ProductSort::Newest),
        (SearchSort::Rating, _) => Order::Sort(ProductSort::Rating),
    };
    let rank = tsq
        .as_ref()
        .map(|t| format!(r#"ts_rank({RANK_WEIGHTS}, p."searchVector", {t})"#));
    let extra = tsq.as_ref().map_or(String::new(), |t| {
        format!(
            r#",
       ts_headline('english', pg.title, {t}, 'StartSel={START}, StopSel={STOP}, HighlightAll=true') AS "hlTitle",
       ts_headline('english', pg.description, {t},
                   'StartSel={START}, StopSel={STOP}, MaxWords=25, MinWords=12, MaxFragments=1, FragmentDelimiter=" … "') AS "hlDescription""#
        )
    });
    let buckets: Vec<String> = PRICE_BUCKETS
        .iter()
        .enumerate()
        .map(|(i, (lo, hi))| match hi {
            Some(hi) => {
                format!("count(*) FILTER (WHERE p.price >= {lo} AND p.price < {hi}) AS b{i}")
            }
            None => format!("count(*) FILTER (WHERE p.price >= {lo}) AS b{i}"),
        })
        .collect();
    let totals_sql = format!(
        r#"{}SELECT count(*) AS count, {} FROM "Product" p {}"#,
        w.with(),
        buckets.join(", "),
        w.clause()
    );
    let brands_sql = format!(
        r#"{}SELECT p."brandId" AS id, b.title, count(*) AS count
FROM "Product" p JOIN "Brand" b ON b.id = p."brandId" {}
GROUP BY p."brandId", b.title ORDER BY count(*) DESC, p."brandId" LIMIT {BRAND_FACET_SIZE}"#,
        w.with(),
        w.clause()
    );
    let mut facet_w = w.with();
    let lineage = r#"lineage(cat, anc) AS (SELECT id, id FROM "Category"
  UNION SELECT l.cat, c."parentId" FROM lineage l JOIN "Category" c ON c.id = l.anc
        WHERE c."parentId" IS NOT NULL)"#;
    facet_w = if facet_w.is_empty() {
        format!("WITH RECURSIVE {lineage}\n")
    } else {
        format!("{},\n{lineage}\n", facet_w.trim_end())
    };
    let categories_sql = format!(
        r#"{facet_w}SELECT l.anc AS id, c.title, count(DISTINCT p.id) AS count
FROM "Product" p JOIN "ProductCategory" pc ON pc."productId" = p.id
JOIN lineage l ON l.cat = pc."categoryId" JOIN "Category" c ON c.id = l.anc {}
GROUP BY l.anc, c.title ORDER BY count(DISTINCT p.id) DESC, l.anc"#,
        w.clause()
    );
    let n_filter = w.params().len();
    let page_sql = w.page_sql(
        order,
        rank.as_deref(),
        true,
        &extra,
        q.page.limit(),
        q.page.offset(),
    );
    let params = w.params();
    let filter_params = &params[..n_filter];
    let client = db.conn().await?;
    let sql = db.sql(&client);
    let (rows, totals, brands, categories) = tokio::try_join!(
        sql.query(&page_sql, &params),
        sql.query_one(&totals_sql, filter_params),
        sql.query(&brands_sql, filter_params),
        sql.query(&categories_sql, filter_params),
    )?;
    let get = |r: &Row, name: &str| -> Result<i64, ApiError> {
        r.try_get::<_, i64>(name).map_err(|e| internal(e, name))
    };
    let facet = |r: &Row| -> Result<FacetValue, ApiError> {
        Ok(FacetValue {
            id: r.try_get("id").map_err(|e| internal(e, "facet id"))?,
            title: r.try_get("title").map_err(|e| internal(e, "facet title"))?,
            count: get(r, "count")?.max(0) as u64,
        })
    };
    let mut highlights = Vec::with_capacity(rows.len());
    for r in &rows {
        highlights.push(if tsq.is_some() {
            Some((
                r.try_get("hlTitle").map_err(|e| internal(e, "hlTitle"))?,
                r.try_get("hlDescription")
                    .map_err(|e| internal(e, "hlDescription"))?,
            ))
        } else {
            None
        });
    }
    Ok(Found {
        items: rows
            .iter()
            .map(ItemRow::from_row)
            .collect::<Result<Vec<_>, _>>()?,
        highlights,
        total: get(&totals, "count")?.max(0) as u64,
        prices: (0..PRICE_BUCKETS.len())
            .map(|i| get(&totals, &format!("b{i}")).map(|n| n.max(0) as u64))
            .collect::<Result<Vec<_>, _>>()?,
        brands: brands.iter().map(facet).collect::<Result<Vec<_>, _>>()?,
        categories: categories
            .iter()
            .map(facet)
            .collect::<Result<Vec<_>, _>>()?,
    })
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        c => out.push(c),
    }
}

/// A `ts_headline` result, HTML-escaped, its markers turned into `<mark>`.
fn marked(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            START => out.push_str("<mark>"),
            STOP => out.push_str("</mark>"),
            c => escape_into(&mut out, c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_on_anything_not_alphanumeric() {
        assert_eq!(
            words("Chef's knife:X930 (new)"),
            ["chef", "s", "knife", "x930", "new"]
        );
        assert!(words(" & | ! ").is_empty());
    }

    #[test]
    fn highlights_escape_text_and_mark_matches() {
        let t = format!("a <b> {START}lamp{STOP} & co");
        assert_eq!(marked(&t), "a &lt;b&gt; <mark>lamp</mark> &amp; co");
    }
}
