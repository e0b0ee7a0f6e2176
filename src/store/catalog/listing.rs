//! Product list queries answered from the indexes.
//!
//! # Cost
//! A page reads `offset + limit` index entries (key and 26-byte payload; never
//! a product record) from at most four ranges, merged:
//! - the filters on category and brand pick a scope (`index::Scope`), so they
//!   cost nothing per entry;
//! - `isAvailable` picks one availability partition, absent it merges both;
//! - `featured` and `newest` share the `BY_CREATED` index: `featured` reads the
//!   featured partition before the other, `newest` merges them;
//! - `price_desc` reads `BY_PRICE` backwards, restoring `id asc` within equal
//!   prices by buffering each run of equal prices.
//!
//! A price range with a price sort is a sub-range. With another sort it is a
//! filter on the payload; when few products match (`upper² ≤ need·scope`,
//! with `upper` the range widened to whole dollars and counted from buckets),
//! the planner instead collects the matches from the price sub-range, which
//! also gives the exact total, and orders only the first `need` of them. This
//! bounds the work by about `sqrt(need·scope)` entries.
//!
//! `meta.total` comes from counters (`PRODUCT_COUNTS`): O(1) without a price
//! range; with one, a sum of at most ~9 buckets per decimal level plus exact
//! entries in the sub-dollar edges (brand scopes scan their price range).

use super::index::{self as keys, IndexKind, Payload, Scope};
use super::read::CatalogReader;
use super::tables::{BY_PRICE, PRODUCT_COUNTS};
use crate::domain::Price;
use crate::domain::listing::{ProductFilter, ProductSort, RatingSummary};
use crate::store::error::StoreResult;
use crate::store::keys::{prefix_end, time_desc};
use redb::ReadOnlyTable;
use std::collections::VecDeque;

/// One product of a list page: its id and its rating aggregate (from the index
/// payload, so rendering needs no extra lookup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductHit {
    pub id: String,
    pub rating: RatingSummary,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductPage {
    pub hits: Vec<ProductHit>,
    pub total: u64,
}

/// Which of the two fetch strategies to use for a price range with a
/// non-price sort. `Auto` in production; tests force each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Auto,
    ScanSortIndex,
    GatherPriceRange,
}

type IndexTable = ReadOnlyTable<&'static [u8], &'static [u8]>;

/// The comparison key of an entry under `sort`: smaller comes first. Ends with
/// the id, so equal keys mean the same product.
fn merge_key(sort: ProductSort, p: &Payload, id: &[u8]) -> MergeKey {
    let mut k = MergeKey::new();
    match sort {
        ProductSort::Featured => {
            k.push(!p.featured as u8);
            k.extend_from_slice(&time_desc(p.created_at));
        }
        ProductSort::Newest => k.extend_from_slice(&time_desc(p.created_at)),
        ProductSort::PriceAsc => k.extend_from_slice(&p.price.to_be_bytes()),
        ProductSort::PriceDesc => k.extend_from_slice(&(!p.price).to_be_bytes()),
        ProductSort::Rating => k.extend_from_slice(&p.rating.order_key()),
    }
    k.extend_from_slice(id);
    k
}

/// Sort key and id inline: every index entry a page reads makes one, and a
/// heap allocation each was a measurable part of an uncached list page.
/// (Ids are at most `MAX_ID_LEN` = 64 bytes; a longer one spills.)
type MergeKey = smallvec::SmallVec<[u8; 88]>;

struct Item {
    key: MergeKey,
    id_len: usize,
    rating: RatingSummary,
}

impl Item {
    fn new(sort: ProductSort, p: &Payload, id: &[u8]) -> Item {
        Item {
            key: merge_key(sort, p, id),
            id_len: id.len(),
            rating: p.rating,
        }
    }

    fn into_hit(self) -> ProductHit {
        let id = &self.key[self.key.len() - self.id_len..];
        ProductHit {
            id: String::from_utf8_lossy(id).into_owned(),
            rating: self.rating,
        }
    }
}

/// One key range of one index, yielding items in `sort` order.
struct Stream {
    range: redb::Range<'static, &'static [u8], &'static [u8]>,
    sort: ProductSort,
    id_at: usize,
    /// Inclusive price bounds checked on the payload (ranges of other indexes).
    price: Option<(u64, u64)>,
    /// `price_desc` only: read backwards, re-reverse each run of equal prices.
    backwards: bool,
    run: VecDeque<Item>,
    carry: Option<(u64, Item)>,
}

impl Stream {
    fn decode(&self, k: &[u8], v: &[u8]) -> Option<(Payload, Item)> {
        let p = Payload::decode(v)?;
        let id = k.get(self.id_at..)?;
        Some((p, Item::new(self.sort, &p, id)))
    }

    fn next(&mut self) -> StoreResult<Option<Item>> {
        if !self.backwards {
            while let Some(entry) = self.range.next() {
                let (k, v) = entry?;
                let Some((p, item)) = self.decode(k.value(), v.value()) else {
                    continue;
                };
                if let Some((lo, hi)) = self.price
                    && !(lo..=hi).contains(&p.price)
                {
                    continue;
                }
                return Ok(Some(item));
            }
            return Ok(None);
        }
        if let Some(item) = self.run.pop_front() {
            return Ok(Some(item));
        }
        // Collect the next run of equal prices (read in id-descending order).
        let mut run_price = None;
        if let Some((price, item)) = self.carry.take() {
            run_price = Some(price);
            self.run.push_front(item);
        }
        while let Some(entry) = self.range.next_back() {
            let (k, v) = entry?;
            let Some((p, item)) = self.decode(k.value(), v.value()) else {
                continue;
            };
            match run_price {
                None => {
                    run_price = Some(p.price);
                    self.run.push_front(item);
                }
                Some(rp) if rp == p.price => self.run.push_front(item),
                Some(_) => {
                    self.carry = Some((p.price, item));
                    break;
                }
            }
        }
        Ok(self.run.pop_front())
    }
}

/// k-way merge of streams by item key (k ≤ 4, so a linear scan of heads).
struct Merge {
    streams: Vec<Stream>,
    heads: Vec<Option<Item>>,
}

impl Merge {
    fn new(mut streams: Vec<Stream>) -> StoreResult<Merge> {
        let heads = streams
            .iter_mut()
            .map(Stream::next)
            .collect::<Result<_, _>>()?;
        Ok(Merge { streams, heads })
    }

    fn next(&mut self) -> StoreResult<Option<Item>> {
        let mut best: Option<usize> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if let Some(h) = h
                && best.is_none_or(|b| self.heads[b].as_ref().is_some_and(|bh| h.key < bh.key))
            {
                best = Some(i);
            }
        }
        let Some(i) = best else { return Ok(None) };
        let next = self.streams[i].next()?;
        Ok(std::mem::replace(&mut self.heads[i], next))
    }
}

impl CatalogReader<'_> {
    /// One page of products matching `filter` in `sort` order, and how many
    /// match in all.
    pub fn list_products(
        &self,
        filter: &ProductFilter,
        sort: ProductSort,
        offset: u64,
        limit: usize,
    ) -> StoreResult<ProductPage> {
        self.list_products_with(filter, sort, offset, limit, Plan::Auto)
    }

    pub fn list_products_with(
        &self,
        filter: &ProductFilter,
        sort: ProductSort,
        offset: u64,
        limit: usize,
        plan: Plan,
    ) -> StoreResult<ProductPage> {
        if filter.matches_nothing {
            return Ok(ProductPage::default());
        }
        let scope = match (&filter.category, &filter.brand) {
            (None, None) => Scope::All,
            (Some(c), None) => Scope::Category(c.as_str()),
            (None, Some(b)) => Scope::Brand(b.as_str()),
            (Some(c), Some(b)) => Scope::CategoryBrand(c.as_str(), b.as_str()),
        };
        let partitions: Vec<Vec<u8>> = match filter.available {
            Some(a) => vec![scope.partition(a)],
            None => vec![scope.partition(true), scope.partition(false)],
        };
        let price = match (filter.min_price, filter.max_price) {
            (None, None) => None,
            (lo, hi) => Some((
                lo.map_or(0, Price::cents),
                hi.map_or(Price::MAX_CENTS, Price::cents),
            )),
        };
        if let Some((lo, hi)) = price
            && lo > hi
        {
            return Ok(ProductPage::default());
        }

        let counts = self.txn.open_table(PRODUCT_COUNTS)?;
        let mut scope_size = 0;
        for part in &partitions {
            scope_size += counter(&counts, part, keys::TOTAL_LEVEL, 0)?;
        }
        let need = offset.saturating_add(limit as u64);
        let price_sort = matches!(sort, ProductSort::PriceAsc | ProductSort::PriceDesc);

        // A price range with another sort: when few products match, collect
        // them from the price sub-range (which also counts them). The choice
        // uses an upper bound (the range widened to whole dollars, counted from
        // buckets only), so a selective range is not scanned twice.
        // Only a price range reads it (opening a table is a lookup too).
        let by_price = match price {
            Some(_) => Some(self.txn.open_table(BY_PRICE)?),
            None => None,
        };
        if let (Some((lo, hi)), Some(by_price)) = (price, &by_price)
            && !price_sort
            && limit > 0
        {
            let gather = match plan {
                Plan::GatherPriceRange => true,
                Plan::ScanSortIndex => false,
                Plan::Auto => {
                    let upper = if scope.has_price_buckets() {
                        let (wlo, whi) =
                            (lo / 100 * 100, (hi / 100 * 100 + 99).min(Price::MAX_CENTS));
                        let mut n = 0;
                        for part in &partitions {
                            n += count_price_range(&counts, by_price, part, wlo, whi)?;
                        }
                        n
                    } else {
                        scope_size
                    };
                    (upper as u128) * (upper as u128) <= need as u128 * scope_size as u128
                }
            };
            if gather {
                return self.gather(by_price, &partitions, sort, lo, hi, offset, limit);
            }
        }

        let total = match (price, &by_price) {
            (Some((lo, hi)), Some(by_price)) => {
                let mut n = 0;
                for part in &partitions {
                    n += if scope.has_price_buckets() {
                        count_price_range(&counts, by_price, part, lo, hi)?
                    } else {
                        count_exact(by_price, part, lo, hi + 1)?
                    };
                }
                n
            }
            _ => scope_size,
        };
        if total == 0 || offset >= total || limit == 0 {
            return Ok(ProductPage {
                hits: Vec::new(),
                total,
            });
        }
        let mut merge = Merge::new(self.streams(&partitions, sort, price)?)?;
        let mut hits = Vec::with_capacity(limit);
        let mut seen = 0u64;
        while let Some(item) = merge.next()? {
            if seen >= offset {
                hits.push(item.into_hit());
                if hits.len() == limit {
                    break;
                }
            }
            seen += 1;
        }
        Ok(ProductPage { hits, total })
    }

    fn streams(
        &self,
        partitions: &[Vec<u8>],
        sort: ProductSort,
        price: Option<(u64, u64)>,
    ) -> StoreResult<Vec<Stream>> {
        let kind = match sort {
            ProductSort::Featured | ProductSort::Newest => IndexKind::Created,
            ProductSort::PriceAsc | ProductSort::PriceDesc => IndexKind::Price,
            ProductSort::Rating => IndexKind::Rating,
        };
        let table: IndexTable = self.txn.open_table(kind.table())?;
        // `BY_CREATED` keys start with the featured flag: one stream per flag,
        // so that each stream is in (created desc, id) order and the merge key
        // decides whether featured products come first.
        let parts: Vec<(Vec<u8>, usize)> = partitions
            .iter()
            .flat_map(|part| {
                let id_at = part.len() + kind.sort_key_len();
                if kind == IndexKind::Created {
                    let mut featured = part.clone();
                    featured.push(1);
                    let mut plain = part.clone();
                    plain.push(0);
                    vec![(featured, id_at), (plain, id_at)]
                } else {
                    vec![(part.clone(), id_at)]
                }
            })
            .collect();
        let mut out = Vec::new();
        for (part, id_at) in &parts {
            let (part, id_at) = (part, *id_at);
            let (lo, hi, payload_price) = match (kind, price) {
                (IndexKind::Price, Some((lo, hi))) => {
                    let mut a = part.clone();
                    a.extend_from_slice(&lo.to_be_bytes());
                    let mut b = part.clone();
                    b.extend_from_slice(&(hi + 1).to_be_bytes());
                    (a, b, None)
                }
                _ => (part.clone(), prefix_end(part), price),
            };
            out.push(Stream {
                range: table.range::<&[u8]>(lo.as_slice()..hi.as_slice())?,
                sort,
                id_at,
                price: payload_price,
                backwards: sort == ProductSort::PriceDesc,
                run: VecDeque::new(),
                carry: None,
            });
        }
        Ok(out)
    }

    /// All matches of a price sub-range, ordered in memory: the page and the
    /// exact total. Used when the range is selective enough that scanning the
    /// sort index would read more entries.
    #[allow(clippy::too_many_arguments)]
    fn gather(
        &self,
        by_price: &IndexTable,
        partitions: &[Vec<u8>],
        sort: ProductSort,
        lo: u64,
        hi: u64,
        offset: u64,
        limit: usize,
    ) -> StoreResult<ProductPage> {
        let mut items = Vec::new();
        for part in partitions {
            let id_at = part.len() + IndexKind::Price.sort_key_len();
            let (a, b) = price_bounds(part, lo, hi + 1);
            for entry in by_price.range::<&[u8]>(a.as_slice()..b.as_slice())? {
                let (k, v) = entry?;
                if let (Some(p), Some(id)) = (Payload::decode(v.value()), k.value().get(id_at..)) {
                    items.push(Item::new(sort, &p, id));
                }
            }
        }
        let total = items.len() as u64;
        // Only the first `offset + limit` need ordering.
        let need = (offset as usize).saturating_add(limit).min(items.len());
        if need == 0 {
            return Ok(ProductPage {
                hits: Vec::new(),
                total,
            });
        }
        if need < items.len() {
            items.select_nth_unstable_by(need - 1, |a, b| a.key.cmp(&b.key));
            items.truncate(need);
        }
        items.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        let hits = items
            .into_iter()
            .skip(offset as usize)
            .take(limit)
            .map(Item::into_hit)
            .collect();
        Ok(ProductPage { hits, total })
    }
}

fn price_bounds(part: &[u8], lo: u64, hi_exclusive: u64) -> (Vec<u8>, Vec<u8>) {
    let mut a = part.to_vec();
    a.extend_from_slice(&lo.to_be_bytes());
    let mut b = part.to_vec();
    b.extend_from_slice(&hi_exclusive.to_be_bytes());
    (a, b)
}

fn counter(
    counts: &ReadOnlyTable<&'static [u8], u64>,
    part: &[u8],
    level: u8,
    bucket: u64,
) -> StoreResult<u64> {
    let k = keys::counter_key(part, level, bucket);
    Ok(counts.get(k.as_slice())?.map_or(0, |g| g.value()))
}

/// Products of a partition with price in `[lo, hi)`, by reading index keys.
fn count_exact(by_price: &IndexTable, part: &[u8], lo: u64, hi: u64) -> StoreResult<u64> {
    if lo >= hi {
        return Ok(0);
    }
    let (a, b) = price_bounds(part, lo, hi);
    let mut n = 0;
    for entry in by_price.range::<&[u8]>(a.as_slice()..b.as_slice())? {
        entry?;
        n += 1;
    }
    Ok(n)
}

/// Sum of bucket counters of `level` covering `[lo, hi)` (both multiples of
/// the bucket width).
fn count_buckets(
    counts: &ReadOnlyTable<&'static [u8], u64>,
    part: &[u8],
    level: u8,
    lo: u64,
    hi: u64,
) -> StoreResult<u64> {
    if lo >= hi {
        return Ok(0);
    }
    let w = keys::pow10(level);
    let a = keys::counter_key(part, level, lo / w);
    let b = keys::counter_key(part, level, hi / w);
    let mut n = 0;
    for entry in counts.range::<&[u8]>(a.as_slice()..b.as_slice())? {
        n += entry?.1.value();
    }
    Ok(n)
}

/// Products of a partition with price in `[lo, hi]`, from bucket counters:
/// climb the decimal levels while the range still spans whole buckets of the
/// next level, counting the ragged edges at the current level (exact index
/// entries below one dollar), then count the middle at the top level reached.
fn count_price_range(
    counts: &ReadOnlyTable<&'static [u8], u64>,
    by_price: &IndexTable,
    part: &[u8],
    lo: u64,
    hi: u64,
) -> StoreResult<u64> {
    let (mut a, mut b) = (lo, hi + 1);
    let mut level = 0u8;
    let mut n = 0;
    let edge = |level: u8, x: u64, y: u64| -> StoreResult<u64> {
        if level == 0 {
            count_exact(by_price, part, x, y)
        } else {
            count_buckets(counts, part, level, x, y)
        }
    };
    loop {
        let next = if level == 0 {
            keys::FIRST_BUCKET_LEVEL
        } else {
            level + 1
        };
        if next > keys::LAST_BUCKET_LEVEL {
            break;
        }
        let w = keys::pow10(next);
        let a_up = a.div_ceil(w) * w;
        let b_down = b / w * w;
        if a_up >= b_down {
            break;
        }
        n += edge(level, a, a_up)? + edge(level, b_down, b)?;
        a = a_up;
        b = b_down;
        level = next;
    }
    Ok(n + edge(level, a, b)?)
}
