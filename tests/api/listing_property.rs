//! Property: for random small catalogues, random writes and random list
//! queries, the index-driven answer (page and total) equals a brute-force
//! filter-and-sort over all products — under every query plan.

use crate::reference::{RefFilter, RefProduct, Reference, SORTS};
use proptest::prelude::*;
use shopd::domain::listing::{ProductFilter, ProductSort, RatingSummary};
use shopd::domain::review::Rating;
use shopd::domain::{Brand, Category, Discount, Id, Price, Product, Review, Reviewer, Timestamp};
use shopd::store::{Plan, Store};

const CATEGORIES: [(&str, Option<&str>); 7] = [
    ("r0", None),
    ("r1", None),
    ("l0", Some("r0")),
    ("l1", Some("r0")),
    ("l2", Some("r1")),
    ("l3", Some("r1")),
    ("d0", Some("l0")),
];
const BRANDS: [&str; 3] = ["b0", "b1", "b2"];

#[derive(Debug, Clone)]
struct GenProduct {
    price: u64,
    created: i64,
    featured: bool,
    available: bool,
    brand: usize,
    categories: Vec<usize>,
    ratings: Vec<u8>,
}

#[derive(Debug, Clone)]
enum Mutation {
    Update(usize, GenProduct),
    Delete(usize),
    Review(usize, u8),
    Move(usize, usize),
}

#[derive(Debug, Clone)]
struct Query {
    category: Option<usize>,
    brand: Option<usize>,
    available: Option<bool>,
    min: Option<u64>,
    max: Option<u64>,
    sort: usize,
    offset: u64,
    limit: usize,
}

fn price() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..3_000u64,
        0..200_000u64,
        0..=999_999_999u64,
        Just(1_000u64),
        Just(1_050u64)
    ]
}

fn product() -> impl Strategy<Value = GenProduct> {
    (
        price(),
        0..6i64,
        any::<bool>(),
        any::<bool>(),
        0..BRANDS.len(),
        proptest::sample::subsequence((0..CATEGORIES.len()).collect::<Vec<_>>(), 0..=3),
        proptest::collection::vec(1..=5u8, 0..4),
    )
        .prop_map(
            |(price, created, featured, available, brand, categories, ratings)| GenProduct {
                price,
                created: created * 1000,
                featured,
                available,
                brand,
                categories,
                ratings,
            },
        )
}

fn mutation(n: usize) -> impl Strategy<Value = Mutation> {
    let n = n.max(1);
    prop_oneof![
        (0..n, product()).prop_map(|(i, p)| Mutation::Update(i, p)),
        (0..n).prop_map(Mutation::Delete),
        (0..n, 1..=5u8).prop_map(|(i, r)| Mutation::Review(i, r)),
        // move a leaf (2..=6) under another category that is not below it
        (2..CATEGORIES.len(), 0..2usize).prop_map(|(c, root)| Mutation::Move(c, root)),
    ]
}

fn query() -> impl Strategy<Value = Query> {
    (
        proptest::option::of(0..CATEGORIES.len() + 1),
        proptest::option::of(0..BRANDS.len() + 1),
        proptest::option::of(any::<bool>()),
        proptest::option::of(price()),
        proptest::option::of(price()),
        0..SORTS.len(),
        0..25u64,
        1..8usize,
    )
        .prop_map(
            |(category, brand, available, min, max, sort, offset, limit)| Query {
                category,
                brand,
                available,
                min,
                max,
                sort,
                offset,
                limit,
            },
        )
}

fn id(s: &str) -> Id {
    Id::parse(s).unwrap()
}

fn to_product(i: usize, g: &GenProduct) -> Product {
    Product {
        id: id(&format!("p{i:02}")),
        title: format!("Product {i}"),
        description: String::new(),
        images: vec![],
        keywords: vec![],
        price: Price::from_cents(g.price).unwrap(),
        discount: Discount::NONE,
        stock: 1,
        is_physical: true,
        is_available: g.available,
        is_featured: g.featured,
        brand_id: id(BRANDS[g.brand]),
        category_ids: g.categories.iter().map(|&c| id(CATEGORIES[c].0)).collect(),
        created_at: Timestamp::from_millis(g.created).unwrap(),
        updated_at: Timestamp::from_millis(g.created).unwrap(),
    }
}

fn category_name(i: usize) -> String {
    CATEGORIES
        .get(i)
        .map_or("unknown".to_string(), |c| c.0.to_string())
}

fn check(store: &Store, reference: &Reference, q: &Query) -> Result<(), TestCaseError> {
    let sort = SORTS[q.sort];
    let filter = ProductFilter {
        category: q.category.map(|c| id(&category_name(c))),
        brand: q
            .brand
            .map(|b| id(BRANDS.get(b).copied().unwrap_or("unknown"))),
        available: q.available,
        min_price: q.min.map(|p| Price::from_cents(p).unwrap()),
        max_price: q.max.map(|p| Price::from_cents(p).unwrap()),
        matches_nothing: false,
    };
    let rf = RefFilter {
        category: filter.category.as_ref().map(|c| c.to_string()),
        brand: filter.brand.as_ref().map(|b| b.to_string()),
        available: q.available,
        min: q.min,
        max: q.max,
    };
    let all = reference.query(&rf, sort);
    let expected: Vec<(String, u32, u32)> = all
        .iter()
        .skip(q.offset as usize)
        .take(q.limit)
        .map(|p| (p.id.clone(), p.count, p.sum))
        .collect();
    let txn = store.read().unwrap();
    for plan in [Plan::Auto, Plan::ScanSortIndex, Plan::GatherPriceRange] {
        let page = txn
            .catalog()
            .list_products_with(
                &filter,
                ProductSort::parse(sort).unwrap(),
                q.offset,
                q.limit,
                plan,
            )
            .unwrap();
        let got: Vec<(String, u32, u32)> = page
            .hits
            .iter()
            .map(|h| (h.id.clone(), h.rating.count, h.rating.sum))
            .collect();
        prop_assert_eq!(
            page.total,
            all.len() as u64,
            "total for {:?} plan {:?}",
            q,
            plan
        );
        prop_assert_eq!(&got, &expected, "page for {:?} plan {:?}", q, plan);
    }
    Ok(())
}

fn apply_product(reference: &mut Reference, i: usize, g: &GenProduct, keep_ratings: bool) {
    let pid = format!("p{i:02}");
    let (count, sum) = if keep_ratings {
        reference
            .products
            .iter()
            .find(|p| p.id == pid)
            .map_or((0, 0), |p| (p.count, p.sum))
    } else {
        (
            g.ratings.len() as u32,
            g.ratings.iter().map(|&r| r as u32).sum(),
        )
    };
    reference.products.retain(|p| p.id != pid);
    reference.products.push(RefProduct {
        id: pid,
        price: g.price,
        created: g.created,
        featured: g.featured,
        available: g.available,
        brand: BRANDS[g.brand].to_string(),
        categories: g
            .categories
            .iter()
            .map(|&c| CATEGORIES[c].0.to_string())
            .collect(),
        count,
        sum,
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn index_answers_equal_brute_force(
        products in proptest::collection::vec(product(), 0..30),
        mutations in proptest::collection::vec(mutation(30), 0..8),
        queries in proptest::collection::vec(query(), 1..10),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.redb")).unwrap();
        let mut reference = Reference::default();
        let mut review_seq = 0;
        let t0 = Timestamp::from_millis(0).unwrap();
        store.write_alone(|tx| {
            let w = &mut tx.catalog();
            w.put_reviewer(&Reviewer { id: id("u"), email: "u@x.io".into(), name: "U".into(), created_at: t0 })?;
            for b in BRANDS {
                w.put_brand(&Brand { id: id(b), title: b.to_uppercase(), description: String::new(), logo: None })?;
            }
            for (c, parent) in CATEGORIES {
                w.put_category(&Category { id: id(c), title: c.into(), description: String::new(), parent_id: parent.map(id) })?;
                reference.parents.insert(c.into(), parent.map(String::from));
            }
            for (i, g) in products.iter().enumerate() {
                w.put_product(&to_product(i, g))?;
                for &r in &g.ratings {
                    review_seq += 1;
                    w.put_review(&Review {
                        id: id(&format!("r{review_seq}")),
                        product_id: id(&format!("p{i:02}")),
                        user_id: id("u"),
                        rating: Rating::new(r as u64).unwrap(),
                        text: String::new(),
                        created_at: t0,
                    })?;
                }
                apply_product(&mut reference, i, g, false);
            }
            Ok::<_, shopd::store::StoreError>(())
        }).unwrap();
        for q in &queries {
            check(&store, &reference, q)?;
        }

        // Each mutation is its own transaction, as through the API. Whether
        // a product exists is the oracle's answer, not the store's: the
        // store is asked too, and must agree.
        for m in &mutations {
            let target = match m {
                Mutation::Update(i, _) | Mutation::Delete(i) | Mutation::Review(i, _) => {
                    let pid = format!("p{i:02}");
                    let exists = reference.products.iter().any(|p| p.id == pid);
                    Some((pid, exists))
                }
                Mutation::Move(..) => None,
            };
            let exists = target.as_ref().is_some_and(|(_, e)| *e);
            let seq = review_seq + 1;
            let store_says = store.write_alone(|tx| {
                let w = &mut tx.catalog();
                let store_says = match &target {
                    Some((pid, _)) => Some(w.product_exists(pid)?),
                    None => None,
                };
                match m {
                    Mutation::Update(i, g) if exists => w.put_product(&to_product(*i, g))?,
                    Mutation::Delete(i) => {
                        w.delete_product(&format!("p{i:02}"))?;
                    }
                    Mutation::Review(i, r) if exists => w.put_review(&Review {
                        id: id(&format!("r{seq}")),
                        product_id: id(&format!("p{i:02}")),
                        user_id: id("u"),
                        rating: Rating::new(*r as u64).unwrap(),
                        text: String::new(),
                        created_at: t0,
                    })?,
                    Mutation::Move(c, root) => {
                        let (name, _) = CATEGORIES[*c];
                        let mut cat = w.category(name)?.unwrap();
                        cat.parent_id = Some(id(CATEGORIES[*root].0));
                        w.put_category(&cat)?;
                    }
                    Mutation::Update(..) | Mutation::Review(..) => {}
                }
                Ok::<_, shopd::store::StoreError>(store_says)
            }).unwrap();
            prop_assert_eq!(store_says, target.as_ref().map(|(_, e)| *e), "existence before {:?}", m);
            match m {
                Mutation::Update(i, g) if exists => apply_product(&mut reference, *i, g, true),
                Mutation::Delete(i) => {
                    let pid = format!("p{i:02}");
                    reference.products.retain(|p| p.id != pid);
                }
                Mutation::Review(i, r) if exists => {
                    review_seq = seq;
                    let pid = format!("p{i:02}");
                    let p = reference.products.iter_mut().find(|p| p.id == pid).unwrap();
                    p.count += 1;
                    p.sum += *r as u32;
                }
                Mutation::Move(c, root) => {
                    reference.parents.insert(CATEGORIES[*c].0.into(), Some(CATEGORIES[*root].0.into()));
                }
                Mutation::Update(..) | Mutation::Review(..) => {}
            }
        }
        for q in &queries {
            check(&store, &reference, q)?;
        }
    }
}

#[test]
fn rating_summary_matches_the_oracle_order() {
    // The store orders by a fixed-point key; the oracle cross-multiplies.
    let mut pairs = Vec::new();
    for count in 1..40u32 {
        for sum in count..=5 * count {
            pairs.push(RatingSummary { count, sum });
        }
    }
    pairs.push(RatingSummary::default());
    let as_ref = |r: &RatingSummary, i: usize| RefProduct {
        id: format!("{i:05}"),
        price: 0,
        created: 0,
        featured: false,
        available: true,
        brand: String::new(),
        categories: vec![],
        count: r.count,
        sum: r.sum,
    };
    let mut by_key: Vec<(usize, RatingSummary)> = pairs.iter().copied().enumerate().collect();
    by_key.sort_by(|a, b| a.1.order_key().cmp(&b.1.order_key()).then(a.0.cmp(&b.0)));
    let mut by_oracle: Vec<(usize, RatingSummary)> = pairs.iter().copied().enumerate().collect();
    by_oracle.sort_by(|a, b| {
        crate::reference::compare("rating", &as_ref(&a.1, a.0), &as_ref(&b.1, b.0))
    });
    assert_eq!(by_key, by_oracle);
}
