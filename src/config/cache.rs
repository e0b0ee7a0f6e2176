//! The cache section: how many bytes of rendered responses shopd keeps, and
//! the cache classes with their TTLs.
//!
//! A route's [`CacheClass`] decides both how long shopd's own response cache
//! serves a body and what shared caches are told (`Cache-Control`): one
//! number per class, [`CacheSettings::ttl`]. The plans' TTLs are the
//! defaults: product details and reviews 30 min, lists and search 10 min,
//! brands and categories 1 h.
//!
//! `s-maxage` follows from the TTL: a shared cache (a CDN) may keep a copy
//! as long as shopd's own cache would (`s-maxage = TTL`) and serve it while
//! it refetches for as long again (`stale-while-revalidate = 2 × TTL`).
//! shopd's copy is invalidated exactly by every write; a shared cache's is
//! not, so the TTL is also the longest a shared cache shows a changed body.
//! Browsers get no `max-age`: they revalidate with the `ETag` and see a
//! write at once.

use super::layer::{Problems, raw_section};
use std::time::Duration;

/// The default response-cache size.
pub(crate) const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// Longest cache TTL accepted: a day.
const MAX_TTL_SECS: u64 = 24 * 60 * 60;

/// What a cacheable answer is, for how long it may be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheClass {
    /// Product detail and its reviews.
    Detail,
    /// Product lists and search.
    List,
    /// Brands, categories and synonyms.
    Taxonomy,
    /// Probes and admin-only reads: never kept.
    NoStore,
}

/// How long bodies of each class may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttls {
    /// Product detail and reviews pages.
    pub detail: Duration,
    /// Product lists and search.
    pub lists: Duration,
    /// Brands and categories.
    pub taxonomy: Duration,
}

impl Default for Ttls {
    /// The plans' TTLs: 30 min, 10 min, 1 h.
    fn default() -> Self {
        Ttls {
            detail: Duration::from_secs(30 * 60),
            lists: Duration::from_secs(10 * 60),
            taxonomy: Duration::from_secs(60 * 60),
        }
    }
}

impl Ttls {
    /// The TTL of `class`; `None` for [`CacheClass::NoStore`].
    pub(crate) fn of(&self, class: CacheClass) -> Option<Duration> {
        match class {
            CacheClass::Detail => Some(self.detail),
            CacheClass::List => Some(self.lists),
            CacheClass::Taxonomy => Some(self.taxonomy),
            CacheClass::NoStore => None,
        }
    }

    /// The `Cache-Control` of an answer of `class` (see the module docs).
    pub(crate) fn cache_control(&self, class: CacheClass) -> String {
        match self.of(class) {
            Some(ttl) => format!(
                "public, s-maxage={}, stale-while-revalidate={}",
                ttl.as_secs(),
                ttl.as_secs() * 2
            ),
            None => "no-store".into(),
        }
    }
}

raw_section! {
    #[command(next_help_heading = "Response cache")]
    /// The response cache's settings as given.
    pub(crate) struct Raw {
        /// Bytes of rendered responses to keep in memory (default 64 MiB; 0 = off).
        #[arg(long, env = "SHOPD_CACHE_BYTES")]
        pub cache_bytes: Option<u64>,
        /// Seconds a product detail or reviews page may be served from a cache (default 1800).
        #[arg(long, env = "SHOPD_CACHE_TTL_DETAIL")]
        #[serde(rename = "cache_ttl_detail_secs")]
        pub cache_ttl_detail: Option<u64>,
        /// Seconds a product list or search may be served from a cache (default 600).
        #[arg(long, env = "SHOPD_CACHE_TTL_LIST")]
        #[serde(rename = "cache_ttl_list_secs")]
        pub cache_ttl_list: Option<u64>,
        /// Seconds brands and categories may be served from a cache (default 3600).
        #[arg(long, env = "SHOPD_CACHE_TTL_TAXONOMY")]
        #[serde(rename = "cache_ttl_taxonomy_secs")]
        pub cache_ttl_taxonomy: Option<u64>,
    }
}

/// The response cache's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Bytes the response cache may hold; 0 turns it off.
    pub bytes: u64,
    /// How long answers of each class may be kept.
    pub ttls: Ttls,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            bytes: DEFAULT_CACHE_BYTES,
            ttls: Ttls::default(),
        }
    }
}

pub(super) fn resolve(raw: Raw, problems: &mut Problems) -> CacheSettings {
    let bytes = raw.cache_bytes.unwrap_or(DEFAULT_CACHE_BYTES);
    if bytes > 64 * 1024 * 1024 * 1024 {
        problems.push(format!("cache-bytes: {bytes} is more than 64 GiB"));
    }
    let defaults = Ttls::default();
    let mut ttl = |name: &str, given: Option<u64>, default: Duration| match given {
        None => default,
        Some(s) if (1..=MAX_TTL_SECS).contains(&s) => Duration::from_secs(s),
        Some(s) => {
            problems.push(format!(
                "{name}: {s} is not within 1..={MAX_TTL_SECS} seconds"
            ));
            default
        }
    };
    CacheSettings {
        bytes,
        ttls: Ttls {
            detail: ttl("cache-ttl-detail", raw.cache_ttl_detail, defaults.detail),
            lists: ttl("cache-ttl-list", raw.cache_ttl_list, defaults.lists),
            taxonomy: ttl(
                "cache-ttl-taxonomy",
                raw.cache_ttl_taxonomy,
                defaults.taxonomy,
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_gives_one_ttl_to_both_caches() {
        let t = Ttls::default();
        assert_eq!(t.of(CacheClass::List), Some(Duration::from_secs(600)));
        assert_eq!(
            t.cache_control(CacheClass::List),
            "public, s-maxage=600, stale-while-revalidate=1200"
        );
        assert_eq!(
            t.cache_control(CacheClass::Detail),
            "public, s-maxage=1800, stale-while-revalidate=3600"
        );
        assert_eq!(t.cache_control(CacheClass::NoStore), "no-store");
        let short = Ttls {
            lists: Duration::from_secs(30),
            ..t
        };
        assert_eq!(
            short.cache_control(CacheClass::List),
            "public, s-maxage=30, stale-while-revalidate=60"
        );
    }
}
