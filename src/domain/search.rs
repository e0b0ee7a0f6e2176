//! What a product search asks for and what the index holds per product.

use super::FieldErrors;
use super::listing::{PageRequest, ProductFilter, RatingSummary};
use serde::Serialize;

/// Longest accepted query text, in characters.
pub(crate) const MAX_QUERY_CHARS: usize = 200;

/// Search orders. `Relevance` without query text is the `featured` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchSort {
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
    Rating,
}

impl SearchSort {
    pub(crate) const ALL: [SearchSort; 5] = [
        SearchSort::Relevance,
        SearchSort::PriceAsc,
        SearchSort::PriceDesc,
        SearchSort::Newest,
        SearchSort::Rating,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SearchSort::Relevance => "relevance",
            SearchSort::PriceAsc => "price_asc",
            SearchSort::PriceDesc => "price_desc",
            SearchSort::Newest => "newest",
            SearchSort::Rating => "rating",
        }
    }
}

/// A whole search request. `text` is plain words, never query syntax.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchQuery {
    pub text: String,
    pub filter: ProductFilter,
    pub sort: SearchSort,
    pub page: PageRequest,
}

/// Search-as-you-type (`GET /search/suggest`): the text typed so far and
/// how many products to show. `text` is plain words, never query syntax.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SuggestQuery {
    pub text: String,
    /// Invariant: `1..=SuggestQuery::MAX_LIMIT`.
    pub limit: u32,
}

impl SuggestQuery {
    pub const DEFAULT_LIMIT: u32 = 5;
    pub const MAX_LIMIT: u32 = 10;
}

/// Price facet buckets in cents: `[lo, hi)`, the last one open-ended.
pub const PRICE_BUCKETS: [(u64, Option<u64>); 6] = [
    (0, Some(2_500)),
    (2_500, Some(5_000)),
    (5_000, Some(10_000)),
    (10_000, Some(25_000)),
    (25_000, Some(50_000)),
    (50_000, None),
];

/// The bucket of a price.
pub(crate) fn price_bucket(cents: u64) -> usize {
    PRICE_BUCKETS
        .iter()
        .position(|(_, hi)| hi.is_none_or(|h| cents < h))
        .unwrap_or(PRICE_BUCKETS.len() - 1)
}

/// Everything the search index holds about one product. Built by the catalog
/// from stored records; the index never reads the store itself.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SearchDoc {
    pub id: String,
    pub title: String,
    pub description: String,
    pub keywords: Vec<String>,
    pub brand_id: String,
    pub brand_title: String,
    /// The product's categories and all their ancestors.
    pub category_ids: Vec<String>,
    /// Titles of the product's own categories and their ancestors.
    pub category_titles: Vec<String>,
    pub price: u64,
    pub created_at: i64,
    pub available: bool,
    pub featured: bool,
    pub rating: RatingSummary,
}

/// Admin-editable synonym groups: any word of a group also finds the others.
/// Invariant: every term is one lowercase word; groups have 2+ terms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Synonyms {
    pub groups: Vec<Vec<String>>,
}

impl Synonyms {
    pub(crate) const MAX_GROUPS: usize = 1_000;
    pub(crate) const MAX_TERMS: usize = 20;

    /// Validates groups from JSON: `{"groups": [["tv", "television"], …]}`.
    pub(crate) fn parse(v: &serde_json::Value) -> Result<Synonyms, FieldErrors> {
        let mut errors = FieldErrors::new();
        let Some(obj) = v.as_object() else {
            errors.push("body", "must be an object with a 'groups' array");
            return Err(errors);
        };
        for k in obj.keys().filter(|k| *k != "groups") {
            errors.push(k.clone(), "unknown field");
        }
        let Some(groups) = obj.get("groups").and_then(|g| g.as_array()) else {
            errors.push(
                "groups",
                "is required and must be an array of arrays of words",
            );
            return Err(errors);
        };
        if groups.len() > Self::MAX_GROUPS {
            errors.push(
                "groups",
                format!("must have at most {} groups", Self::MAX_GROUPS),
            );
        }
        let mut out = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            let field = format!("groups[{i}]");
            let Some(terms) = g.as_array() else {
                errors.push(field, "must be an array of words");
                continue;
            };
            if terms.len() < 2 || terms.len() > Self::MAX_TERMS {
                errors.push(field, format!("must have 2 to {} words", Self::MAX_TERMS));
                continue;
            }
            let mut group = Vec::new();
            for t in terms {
                match t.as_str().map(str::trim) {
                    Some(w)
                        if !w.is_empty()
                            && w.chars().count() <= 64
                            && w.chars().all(char::is_alphanumeric) =>
                    {
                        let w = w.to_lowercase();
                        if !group.contains(&w) {
                            group.push(w);
                        }
                    }
                    _ => {
                        errors.push(
                            field.clone(),
                            "words must be single words of letters and digits (1–64)",
                        );
                        break;
                    }
                }
            }
            if group.len() >= 2 {
                out.push(group);
            }
        }
        errors.into_result(Synonyms { groups: out })
    }

    /// The other words of every group containing `word` (lowercase).
    pub(crate) fn expand<'a>(&'a self, word: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.groups
            .iter()
            .filter(move |g| g.iter().any(|t| t == word))
            .flat_map(move |g| g.iter().filter(move |t| *t != word).map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_price() {
        assert_eq!(price_bucket(0), 0);
        assert_eq!(price_bucket(2_499), 0);
        assert_eq!(price_bucket(2_500), 1);
        assert_eq!(price_bucket(49_999), 4);
        assert_eq!(price_bucket(50_000), 5);
        assert_eq!(price_bucket(u64::MAX), 5);
    }

    #[test]
    fn synonyms_validate_and_expand() {
        let s = Synonyms::parse(
            &serde_json::json!({"groups": [["TV", "television"], ["sofa", "couch", "settee"]]}),
        )
        .unwrap();
        assert_eq!(s.expand("tv").collect::<Vec<_>>(), ["television"]);
        assert_eq!(s.expand("couch").collect::<Vec<_>>(), ["sofa", "settee"]);
        let e = Synonyms::parse(&serde_json::json!({"groups": [["one"], ["a b", "c"]], "x": 1}))
            .unwrap_err();
        assert_eq!(e.as_slice().len(), 3);
    }
}
