//! The named schemas of the routes' answers (`s::…` in the route table):
//! each a function that registers its shape in the document's [`Schemas`].

use crate::api::openapi::describe::{PageMeta, Schemas, object};
use crate::catalog::json::{
    BrandFull, CategoryDetail, CategoryNode, ProductDetail, ProductItem, ReviewItem,
};
use crate::catalog::search::{Facets, SearchItem, SuggestBody};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AllOfBuilder, ArrayBuilder, ObjectBuilder, Schema, Type};

/// `ProductDetail` with any iterator: the schema does not depend on it.
type Detail = ProductDetail<
    'static,
    std::iter::Empty<&'static str>,
    std::iter::Empty<&'static str>,
    std::iter::Empty<&'static str>,
>;

pub(crate) fn any(_: &mut Schemas) -> RefOr<Schema> {
    ObjectBuilder::new().into()
}
pub(crate) fn job_page(s: &mut Schemas) -> RefOr<Schema> {
    s.page_of::<crate::api::dto::jobs::JobView>("JobPage")
}
pub(crate) fn job(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<crate::api::dto::jobs::JobView>("JobAnswer")
}
pub(crate) fn job_stats(s: &mut Schemas) -> RefOr<Schema> {
    s.of::<crate::api::dto::jobs::JobStats>()
}
pub(crate) fn enqueued(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<crate::api::dto::jobs::Enqueued>("EnqueuedAnswer")
}
pub(crate) fn tokens(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<crate::api::dto::accounts::Tokens>("TokensAnswer")
}
pub(crate) fn accepted(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<crate::api::dto::accounts::Accepted>("AcceptedAnswer")
}
pub(crate) fn user(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<crate::api::dto::accounts::UserView>("UserAnswer")
}
pub(crate) fn user_page(s: &mut Schemas) -> RefOr<Schema> {
    s.page_of::<crate::api::dto::accounts::UserView>("UserPage")
}
pub(crate) fn api_key(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<crate::api::dto::accounts::KeyView>("ApiKeyAnswer")
}
pub(crate) fn api_keys(s: &mut Schemas) -> RefOr<Schema> {
    let item = s.of::<crate::api::dto::accounts::KeyView>();
    s.named(
        "ApiKeyList",
        object()
            .property("data", ArrayBuilder::new().items(item))
            .required("data"),
    )
}
pub(crate) fn cart(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<crate::api::dto::orders::CartView>("CartAnswer")
}
pub(crate) fn order(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<crate::api::dto::orders::OrderView>("OrderAnswer")
}
pub(crate) fn order_page(s: &mut Schemas) -> RefOr<Schema> {
    s.page_of::<crate::api::dto::orders::OrderView>("OrderPage")
}
pub(crate) fn discount(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<crate::api::dto::orders::DiscountView>("DiscountCodeAnswer")
}
pub(crate) fn discounts(s: &mut Schemas) -> RefOr<Schema> {
    list::<crate::api::dto::orders::DiscountView>(s, "DiscountCodeList")
}
pub(crate) fn webhook(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<crate::api::dto::orders::WebhookAnswer>("WebhookAnswer")
}
pub(crate) fn address(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<crate::api::dto::profile::SavedAddressView>("AddressAnswer")
}
pub(crate) fn addresses(s: &mut Schemas) -> RefOr<Schema> {
    list::<crate::api::dto::profile::SavedAddressView>(s, "AddressList")
}
pub(crate) fn wishlist(s: &mut Schemas) -> RefOr<Schema> {
    list::<crate::api::dto::profile::WishView>(s, "Wishlist")
}
pub(crate) fn notifications(s: &mut Schemas) -> RefOr<Schema> {
    list::<crate::api::dto::profile::NotificationView>(s, "NotificationList")
}
/// `{"data": [T]}` as `name`.
fn list<T: utoipa::ToSchema>(s: &mut Schemas, name: &str) -> RefOr<Schema> {
    let item = s.of::<T>();
    s.named(
        name,
        object()
            .property("data", ArrayBuilder::new().items(item))
            .required("data"),
    )
}
pub(crate) fn health(s: &mut Schemas) -> RefOr<Schema> {
    s.of::<crate::api::dto::probes::Health>()
}
pub(crate) fn readiness(s: &mut Schemas) -> RefOr<Schema> {
    s.of::<crate::api::dto::probes::Readiness>()
}
pub(crate) fn product_page(s: &mut Schemas) -> RefOr<Schema> {
    s.page_of::<ProductItem>("ProductPage")
}
pub(crate) fn product_detail(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<Detail>("ProductAnswer")
}
pub(crate) fn review_page(s: &mut Schemas) -> RefOr<Schema> {
    s.page_of::<ReviewItem>("ReviewPage")
}
pub(crate) fn review(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<ReviewItem>("ReviewAnswer")
}
pub(crate) fn brand_page(s: &mut Schemas) -> RefOr<Schema> {
    s.page_of::<BrandFull>("BrandPage")
}
pub(crate) fn brand(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<BrandFull>("BrandAnswer")
}
pub(crate) fn category_tree(s: &mut Schemas) -> RefOr<Schema> {
    let node = s.of::<CategoryNode>();
    s.named(
        "CategoryTree",
        object()
            .property("data", ArrayBuilder::new().items(node))
            .required("data"),
    )
}
pub(crate) fn category(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<CategoryDetail>("CategoryAnswer")
}
pub(crate) fn synonyms(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<Synonyms>("SynonymsAnswer")
}
pub(crate) fn analytics(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<SearchAnalytics>("SearchAnalyticsAnswer")
}
pub(crate) fn search(s: &mut Schemas) -> RefOr<Schema> {
    let item = s.of::<SearchItem>();
    let page = s.of::<PageMeta>();
    let facets = s.of::<Facets>();
    let meta = AllOfBuilder::new().item(page).item(
        object()
            .property(
                "relaxed",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some("No product had every word: hits have some of them")),
            )
            .required("relaxed"),
    );
    s.named(
        "SearchPage",
        object()
            .property("data", ArrayBuilder::new().items(item))
            .property("meta", meta)
            .property("facets", facets)
            .required("data")
            .required("meta")
            .required("facets"),
    )
}

pub(crate) fn suggest(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<SuggestBody>("SuggestAnswer")
}

/// Synonym groups as stored (`domain::search::Synonyms`): lowercase words.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Synonyms {
    groups: Vec<Vec<String>>,
}

/// `GET /search/analytics` (rendered by `Catalog::search_analytics`).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
struct SearchAnalytics {
    top_queries: Vec<QueryCount>,
    zero_hit_queries: Vec<QueryCount>,
}

/// A normalized query (lowercase, single-spaced) and how often it was asked.
#[derive(ToSchema)]
#[allow(dead_code)]
struct QueryCount {
    query: String,
    count: u64,
}
pub(crate) fn media(s: &mut Schemas) -> RefOr<Schema> {
    s.data_of::<crate::api::dto::media::MediaView>("MediaAnswer")
}
