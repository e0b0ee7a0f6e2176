//! The JSON shapes of catalogue responses, borrowed from store views.
//!
//! These structs hold `&str`s pointing into archived records, so rendering a
//! response copies bytes once, into the output buffer. Field names follow the
//! public format: camelCase, prices as decimals, times as RFC 3339.
//!
//! The same structs describe themselves to the OpenAPI document
//! (`utoipa::ToSchema`; `api::openapi` composes the envelopes), and a contract
//! test validates real responses against that description.

use crate::domain::listing::{PageMeta, RatingSummary};
use crate::domain::{Brand, Category, Timestamp};
use crate::store::{BrandView, CategoryView, ProductView, ReviewView, ReviewerView};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

/// Serializes a cloneable iterator as a JSON array without collecting it.
pub struct Seq<I>(pub I);

impl<I> Serialize for Seq<I>
where
    I: Iterator + Clone,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone())
    }
}

/// `{"data": …}`
#[derive(Serialize)]
pub struct Data<T> {
    pub data: T,
}

/// `{"data": […], "meta": {…}}`
#[derive(Serialize)]
pub struct Paged<T> {
    pub data: T,
    pub meta: PageMeta,
}

pub fn to_vec<T: Serialize>(value: &T) -> Vec<u8> {
    // Our DTOs hold strings, numbers and booleans only (finite floats):
    // serializing them to memory cannot fail.
    sonic_rs::to_vec(value).expect("response DTOs always serialize")
}

fn cents(c: u64) -> f64 {
    c as f64 / 100.0
}

#[derive(Serialize, ToSchema)]
pub struct BrandRef<'a> {
    pub id: &'a str,
    pub title: &'a str,
    #[schema(required = true)]
    pub logo: Option<&'a str>,
}

impl<'a> BrandRef<'a> {
    pub(crate) fn of(b: &'a Brand) -> Self {
        BrandRef {
            id: b.id.as_str(),
            title: &b.title,
            logo: b.logo.as_deref(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BrandFull<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    #[schema(required = true)]
    pub logo: Option<&'a str>,
}

impl<'a> BrandFull<'a> {
    pub(crate) fn new(b: BrandView<'a>) -> Self {
        BrandFull {
            id: b.id(),
            title: b.title(),
            description: b.description(),
            logo: b.logo(),
        }
    }

    pub(crate) fn of(b: &'a Brand) -> Self {
        BrandFull {
            id: b.id.as_str(),
            title: &b.title,
            description: &b.description,
            logo: b.logo.as_deref(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CategoryRef<'a> {
    pub id: &'a str,
    pub title: &'a str,
}

impl<'a> CategoryRef<'a> {
    pub(crate) fn of(c: &'a Category) -> Self {
        CategoryRef {
            id: c.id.as_str(),
            title: &c.title,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CategoryFull<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
}

impl<'a> CategoryFull<'a> {
    pub(crate) fn new(c: CategoryView<'a>) -> Self {
        CategoryFull {
            id: c.id(),
            title: c.title(),
            description: c.description(),
        }
    }

    pub(crate) fn of(c: &'a Category) -> Self {
        CategoryFull {
            id: c.id.as_str(),
            title: &c.title,
            description: &c.description,
        }
    }
}

/// A node of `GET /categories`.
#[derive(Serialize, ToSchema)]
pub struct CategoryNode<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    #[schema(no_recursion)]
    pub children: Vec<CategoryNode<'a>>,
}

/// `GET /categories/{id}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CategoryDetail<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    #[schema(required = true)]
    pub parent_id: Option<&'a str>,
    pub children: Vec<CategoryFull<'a>>,
}

/// A product image kept by shopd, as product reads show it: what a
/// storefront needs for `<img srcset>` or `<picture>` without another
/// request.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductImage {
    /// The media id (as in `images`).
    pub id: String,
    pub alt: String,
    /// Of the original, upright.
    pub width: u32,
    pub height: u32,
    /// The largest variant, negotiated on `Accept`.
    pub url: String,
    /// Every size, negotiated on `Accept` (`Vary: Accept`).
    pub srcset: String,
    /// Every size per encoding, best first, for `<picture><source>`.
    pub sources: Vec<ImageSource>,
}

/// One `<source>` of a `<picture>`.
#[derive(Serialize, ToSchema)]
pub struct ImageSource {
    /// `image/avif`, `image/webp` or `image/jpeg`.
    #[serde(rename = "type")]
    pub mime: &'static str,
    pub srcset: String,
}

impl ProductImage {
    pub fn of(m: &crate::domain::media::Media) -> ProductImage {
        use crate::domain::media::{Encoding, SIZES};
        ProductImage {
            id: m.id.to_string(),
            alt: m.alt.clone(),
            width: m.width,
            height: m.height,
            url: m.url(SIZES.len() - 1, None),
            srcset: m.srcset(None),
            sources: Encoding::PREFERRED
                .into_iter()
                .map(|e| ImageSource {
                    mime: e.mime(),
                    srcset: m.srcset(Some(e)),
                })
                .collect(),
        }
    }
}

/// The images of `images` that shopd keeps, in order, from the snapshot's
/// taxonomy (entries that are links, or name no image any more, show none).
pub(crate) fn product_images<'i>(
    images: impl Iterator<Item = &'i str>,
    taxonomy: &crate::store::Taxonomy,
) -> Vec<ProductImage> {
    images
        .filter_map(crate::domain::media::MediaId::referenced_by)
        .filter_map(|id| taxonomy.media(id.as_str()))
        .map(ProductImage::of)
        .collect()
}

/// One item of a product list page.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductItem<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub price: f64,
    pub discount: f64,
    pub stock: u32,
    pub is_available: bool,
    pub is_featured: bool,
    #[schema(required = true)]
    pub image: Option<&'a str>,
    /// `image` when shopd keeps it (empty otherwise).
    pub media: Vec<ProductImage>,
    #[schema(required = true)]
    pub brand: Option<BrandRef<'a>>,
    pub categories: Vec<CategoryRef<'a>>,
    #[schema(required = true)]
    pub avg_rating: Option<f64>,
    pub review_count: u32,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl<'a> ProductItem<'a> {
    pub(crate) fn new(
        p: ProductView<'a>,
        brand: Option<BrandRef<'a>>,
        categories: Vec<CategoryRef<'a>>,
        rating: RatingSummary,
        media: Vec<ProductImage>,
    ) -> Self {
        ProductItem {
            media,
            id: p.id(),
            title: p.title(),
            price: cents(p.price_cents()),
            discount: p.discount(),
            stock: p.stock(),
            is_available: p.is_available(),
            is_featured: p.is_featured(),
            image: p.images().next(),
            brand,
            categories,
            avg_rating: rating.average(),
            review_count: rating.count,
            created_at: p.created_at(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserRef<'a> {
    pub id: &'a str,
    #[schema(required = true)]
    pub name: Option<&'a str>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewItem<'a> {
    pub id: &'a str,
    pub rating: u8,
    pub text: &'a str,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    pub user: UserRef<'a>,
}

impl<'a> ReviewItem<'a> {
    pub(crate) fn new(r: ReviewView<'a>, user: Option<ReviewerView<'a>>) -> Self {
        ReviewItem {
            id: r.id(),
            rating: r.rating(),
            text: r.text(),
            created_at: r.created_at(),
            user: UserRef {
                id: r.user_id(),
                name: user.map(|u| u.name()),
            },
        }
    }
}

/// `GET /products/{id}`: every stored field plus joined brand, categories,
/// newest reviews and the rating aggregate.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", bound(serialize = ""))]
#[schema(bound = "")]
pub struct ProductDetail<'a, I, K, C>
where
    I: Iterator<Item = &'a str> + Clone,
    K: Iterator<Item = &'a str> + Clone,
    C: Iterator<Item = &'a str> + Clone,
{
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    /// As written: links, or ids of images shopd keeps (see `media`).
    #[schema(value_type = Vec<String>)]
    pub images: Seq<I>,
    /// The images of `images` that shopd keeps, in order.
    pub media: Vec<ProductImage>,
    #[schema(value_type = Vec<String>)]
    pub keywords: Seq<K>,
    pub price: f64,
    pub discount: f64,
    pub stock: u32,
    pub is_physical: bool,
    pub is_available: bool,
    pub is_featured: bool,
    pub brand_id: &'a str,
    #[schema(value_type = Vec<String>)]
    pub category_ids: Seq<C>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    #[schema(required = true)]
    pub brand: Option<BrandFull<'a>>,
    pub categories: Vec<CategoryFull<'a>>,
    pub reviews: Vec<ReviewItem<'a>>,
    #[schema(required = true)]
    pub avg_rating: Option<f64>,
    pub review_count: u32,
}

pub(crate) fn product_detail<'a>(
    p: ProductView<'a>,
    brand: Option<BrandFull<'a>>,
    categories: Vec<CategoryFull<'a>>,
    reviews: Vec<ReviewItem<'a>>,
    rating: RatingSummary,
    media: Vec<ProductImage>,
) -> Vec<u8> {
    to_vec(&Data {
        data: ProductDetail {
            id: p.id(),
            title: p.title(),
            description: p.description(),
            images: Seq(p.images()),
            media,
            keywords: Seq(p.keywords()),
            price: cents(p.price_cents()),
            discount: p.discount(),
            stock: p.stock(),
            is_physical: p.is_physical(),
            is_available: p.is_available(),
            is_featured: p.is_featured(),
            brand_id: p.brand_id(),
            category_ids: Seq(p.category_ids()),
            created_at: p.created_at(),
            updated_at: p.updated_at(),
            brand,
            categories,
            reviews,
            avg_rating: rating.average(),
            review_count: rating.count,
        },
    })
}
