//! Read use cases: each opens one snapshot and renders one JSON body, with
//! the cache tags of everything the body shows (see `cached`).

use super::cached::tag;
use super::json::{
    self, BrandFull, BrandRef, CategoryDetail, CategoryFull, CategoryNode, CategoryRef, Data,
    Paged, ProductItem, ReviewItem,
};
use super::{Catalog, CatalogResult, not_found};
use crate::cache::{Computed, Tag};
use crate::domain::listing::{PageRequest, ProductQuery, RatingSummary};
use crate::store::{CategoryView, ProductView, Rec, ReviewerRec, Taxonomy};
use std::collections::HashMap;

fn sort_categories(v: &mut [CategoryView<'_>]) {
    v.sort_by(|a, b| a.title().cmp(b.title()).then_with(|| a.id().cmp(b.id())));
}

/// List items for products, joining brands and categories from the
/// snapshot's taxonomy, and the tags of what they show.
pub(super) fn product_items<'a>(
    views: &[ProductView<'a>],
    ratings: &[RatingSummary],
    taxonomy: &'a Taxonomy,
    tags: &mut Vec<Tag>,
) -> Vec<ProductItem<'a>> {
    let mut items = Vec::with_capacity(views.len());
    for (p, rating) in views.iter().zip(ratings) {
        let brand = taxonomy.brand(p.brand_id());
        if brand.is_some() {
            tags.push(tag::brand(p.brand_id()));
        }
        let mut cats = Vec::new();
        for c in p.category_ids() {
            if let Some(c) = taxonomy.category(c) {
                tags.push(tag::category(c.id.as_str()));
                cats.push(CategoryRef::of(c));
            }
        }
        let media = json::product_images(p.images().take(1), taxonomy);
        tags.extend(media.iter().map(|m| tag::media(&m.id)));
        items.push(ProductItem::new(
            *p,
            brand.map(BrandRef::of),
            cats,
            *rating,
            media,
        ));
    }
    items
}

impl Catalog {
    /// `GET /products/{id}`.
    pub(crate) fn product_detail(&self, id: &str) -> CatalogResult<Computed> {
        const NEWEST_REVIEWS: usize = 10;
        let txn = self.store.read()?;
        let rec = txn
            .catalog()
            .product(id)?
            .ok_or_else(|| not_found("product", id))?;
        let p = rec.view()?;
        let taxonomy = txn.catalog().taxonomy()?;
        let brand = taxonomy.brand(p.brand_id()).map(BrandFull::of);
        let cats = p
            .category_ids()
            .filter_map(|c| taxonomy.category(c))
            .map(CategoryFull::of)
            .collect();
        let rating = txn.catalog().rating(id)?;
        let review_recs = txn.catalog().reviews_of(id, 0, NEWEST_REVIEWS)?;
        let review_views = review_recs
            .iter()
            .map(|r| r.view())
            .collect::<Result<Vec<_>, _>>()?;
        let user_recs = review_views
            .iter()
            .map(|r| txn.catalog().reviewer(r.user_id()))
            .collect::<Result<Vec<Option<Rec<ReviewerRec>>>, _>>()?;
        let mut reviews = Vec::with_capacity(review_views.len());
        for (r, u) in review_views.iter().zip(&user_recs) {
            reviews.push(ReviewItem::new(
                *r,
                u.as_ref().map(|r| r.view()).transpose()?,
            ));
        }
        let media = json::product_images(p.images(), &taxonomy);
        let mut tags = vec![tag::product(id), tag::brand(p.brand_id())];
        tags.extend(p.category_ids().map(tag::category));
        tags.extend(media.iter().map(|m| tag::media(&m.id)));
        tags.extend(review_views.iter().map(|r| tag::reviewer(r.user_id())));
        Ok(Computed {
            body: json::product_detail(p, brand, cats, reviews, rating, media),
            tags,
            meta: 0,
        })
    }

    /// `GET /products`.
    pub fn list_products(&self, q: &ProductQuery) -> CatalogResult<Computed> {
        let txn = self.store.read()?;
        let page = txn.catalog().list_products(
            &q.filter,
            q.sort,
            q.page.offset(),
            q.page.limit() as usize,
        )?;
        let mut recs = Vec::with_capacity(page.hits.len());
        let mut ratings = Vec::with_capacity(page.hits.len());
        for hit in &page.hits {
            // A hit and its record come from the same snapshot; a missing
            // record would mean a broken index, so it is skipped, not shown.
            if let Some(r) = txn.catalog().product(&hit.id)? {
                recs.push(r);
                ratings.push(hit.rating);
            }
        }
        let views = recs
            .iter()
            .map(|r| r.view())
            .collect::<Result<Vec<_>, _>>()?;
        let taxonomy = txn.catalog().taxonomy()?;
        let mut tags = vec![tag::list_scope(&q.filter)];
        let items = product_items(&views, &ratings, &taxonomy, &mut tags);
        Ok(Computed {
            body: json::to_vec(&Paged {
                data: items,
                meta: q.page.meta(page.total),
            }),
            tags,
            meta: 0,
        })
    }

    /// `GET /products/{id}/reviews`.
    pub(crate) fn product_reviews(&self, id: &str, page: PageRequest) -> CatalogResult<Computed> {
        let txn = self.store.read()?;
        if txn.catalog().product(id)?.is_none() {
            return Err(not_found("product", id));
        }
        let total = txn.catalog().rating(id)?.count as u64;
        let recs = txn
            .catalog()
            .reviews_of(id, page.offset(), page.limit() as usize)?;
        let views = recs
            .iter()
            .map(|r| r.view())
            .collect::<Result<Vec<_>, _>>()?;
        let users = views
            .iter()
            .map(|r| txn.catalog().reviewer(r.user_id()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut items = Vec::with_capacity(views.len());
        for (r, u) in views.iter().zip(&users) {
            items.push(ReviewItem::new(
                *r,
                u.as_ref().map(|r| r.view()).transpose()?,
            ));
        }
        let mut tags = vec![tag::product(id)];
        tags.extend(views.iter().map(|r| tag::reviewer(r.user_id())));
        Ok(Computed {
            body: json::to_vec(&Paged {
                data: items,
                meta: page.meta(total),
            }),
            tags,
            meta: 0,
        })
    }

    /// `GET /brands`.
    pub(crate) fn list_brands(&self, page: PageRequest) -> CatalogResult<Computed> {
        let txn = self.store.read()?;
        let (recs, total) = txn
            .catalog()
            .brands_page(page.offset(), page.limit() as usize)?;
        let items = recs
            .iter()
            .map(|r| r.view().map(BrandFull::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Computed {
            body: json::to_vec(&Paged {
                data: items,
                meta: page.meta(total),
            }),
            tags: vec![tag::brands()],
            meta: 0,
        })
    }

    /// `GET /brands/{id}`.
    pub(crate) fn brand(&self, id: &str) -> CatalogResult<Computed> {
        let txn = self.store.read()?;
        let rec = txn
            .catalog()
            .brand(id)?
            .ok_or_else(|| not_found("brand", id))?;
        Ok(Computed {
            body: json::to_vec(&Data {
                data: BrandFull::new(rec.view()?),
            }),
            tags: vec![tag::brand(id)],
            meta: 0,
        })
    }

    /// `GET /categories`: the whole forest, siblings by title then id.
    pub(crate) fn category_tree(&self) -> CatalogResult<Computed> {
        let txn = self.store.read()?;
        let recs = txn.catalog().categories()?;
        let views = recs
            .iter()
            .map(|r| r.view())
            .collect::<Result<Vec<_>, _>>()?;
        let known: std::collections::HashSet<&str> = views.iter().map(|c| c.id()).collect();
        let mut children: HashMap<Option<&str>, Vec<CategoryView<'_>>> = HashMap::new();
        for c in &views {
            // A parent that does not exist cannot happen through the API; if it
            // did, the category is shown as a root rather than hidden.
            let parent = c.parent_id().filter(|p| known.contains(p));
            children.entry(parent).or_default().push(*c);
        }
        for v in children.values_mut() {
            sort_categories(v);
        }
        fn build<'a>(
            parent: Option<&'a str>,
            children: &HashMap<Option<&'a str>, Vec<CategoryView<'a>>>,
            depth: usize,
        ) -> Vec<CategoryNode<'a>> {
            let Some(list) = children.get(&parent) else {
                return Vec::new();
            };
            list.iter()
                .map(|c| CategoryNode {
                    id: c.id(),
                    title: c.title(),
                    description: c.description(),
                    // The store refuses cycles; the depth guard keeps a damaged
                    // file from recursing forever.
                    children: if depth < 64 {
                        build(Some(c.id()), children, depth + 1)
                    } else {
                        Vec::new()
                    },
                })
                .collect()
        }
        Ok(Computed {
            body: json::to_vec(&Data {
                data: build(None, &children, 0),
            }),
            tags: vec![tag::categories()],
            meta: 0,
        })
    }

    /// `GET /categories/{id}`.
    pub fn category(&self, id: &str) -> CatalogResult<Computed> {
        let txn = self.store.read()?;
        let rec = txn
            .catalog()
            .category(id)?
            .ok_or_else(|| not_found("category", id))?;
        let c = rec.view()?;
        let child_recs = txn.catalog().children(id)?;
        let mut kids = child_recs
            .iter()
            .map(|r| r.view())
            .collect::<Result<Vec<_>, _>>()?;
        sort_categories(&mut kids);
        let mut tags = vec![tag::category(id)];
        tags.extend(kids.iter().map(|k| tag::category(k.id())));
        Ok(Computed {
            body: json::to_vec(&Data {
                data: CategoryDetail {
                    id: c.id(),
                    title: c.title(),
                    description: c.description(),
                    parent_id: c.parent_id(),
                    children: kids.into_iter().map(CategoryFull::new).collect(),
                },
            }),
            tags,
            meta: 0,
        })
    }
}
