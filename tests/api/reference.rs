//! A brute-force oracle for product lists: filter and sort all products in
//! memory, straight from the documented rules, sharing no code with the store.

use shopd::domain::Timestamp;
use std::cmp::Ordering;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct RefProduct {
    pub id: String,
    pub price: u64,
    pub created: i64,
    pub featured: bool,
    pub available: bool,
    pub brand: String,
    pub categories: Vec<String>,
    pub count: u32,
    pub sum: u32,
}

#[derive(Debug, Clone, Default)]
pub struct RefFilter {
    pub category: Option<String>,
    pub brand: Option<String>,
    pub available: Option<bool>,
    pub min: Option<u64>,
    pub max: Option<u64>,
}

impl RefFilter {
    /// The same filter as query-string parameters.
    pub fn query_string(&self) -> String {
        let mut q = Vec::new();
        if let Some(c) = &self.category {
            q.push(format!("category={c}"));
        }
        if let Some(b) = &self.brand {
            q.push(format!("brand={b}"));
        }
        if let Some(a) = self.available {
            q.push(format!("isAvailable={a}"));
        }
        if let Some(m) = self.min {
            q.push(format!("minPrice={}.{:02}", m / 100, m % 100));
        }
        if let Some(m) = self.max {
            q.push(format!("maxPrice={}.{:02}", m / 100, m % 100));
        }
        q.join("&")
    }
}

#[derive(Debug, Clone, Default)]
pub struct Reference {
    pub products: Vec<RefProduct>,
    /// category id → parent id
    pub parents: HashMap<String, Option<String>>,
}

pub const SORTS: [&str; 5] = ["featured", "price_asc", "price_desc", "newest", "rating"];

/// The documented order of `sort`; ties end with id ascending.
pub fn compare(sort: &str, a: &RefProduct, b: &RefProduct) -> Ordering {
    let by = match sort {
        "featured" => b.featured.cmp(&a.featured).then(b.created.cmp(&a.created)),
        "price_asc" => a.price.cmp(&b.price),
        "price_desc" => b.price.cmp(&a.price),
        "newest" => b.created.cmp(&a.created),
        "rating" => {
            // rated first; exact mean desc (cross-multiplied); count desc
            (a.count == 0)
                .cmp(&(b.count == 0))
                .then((b.sum as u64 * a.count as u64).cmp(&(a.sum as u64 * b.count as u64)))
                .then(b.count.cmp(&a.count))
        }
        other => panic!("unknown sort {other}"),
    };
    by.then_with(|| a.id.cmp(&b.id))
}

impl Reference {
    pub fn load_fixture() -> Reference {
        let lines = super::helpers::fixture_lines;
        let mut r = Reference::default();
        for c in lines("categories.jsonl") {
            r.parents.insert(
                c["id"].as_str().unwrap().into(),
                c["parentId"].as_str().map(String::from),
            );
        }
        let mut index = HashMap::new();
        for p in lines("products.jsonl") {
            index.insert(p["id"].as_str().unwrap().to_string(), r.products.len());
            r.products.push(RefProduct {
                id: p["id"].as_str().unwrap().into(),
                price: (p["price"].as_f64().unwrap() * 100.0).round() as u64,
                created: Timestamp::parse(p["createdAt"].as_str().unwrap())
                    .unwrap()
                    .millis(),
                featured: p["isFeatured"].as_bool().unwrap(),
                available: p["isAvailable"].as_bool().unwrap(),
                brand: p["brandId"].as_str().unwrap().into(),
                categories: p["categoryIds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
                    .collect(),
                count: 0,
                sum: 0,
            });
        }
        for rv in lines("reviews.jsonl") {
            let i = index[rv["productId"].as_str().unwrap()];
            r.products[i].count += 1;
            r.products[i].sum += rv["rating"].as_u64().unwrap() as u32;
        }
        r
    }

    pub fn under<'a>(&'a self, mut c: &'a str, ancestor: &str) -> bool {
        for _ in 0..64 {
            if c == ancestor {
                return true;
            }
            match self.parents.get(c) {
                Some(Some(p)) => c = p,
                _ => return false,
            }
        }
        false
    }

    pub fn matches(&self, p: &RefProduct, f: &RefFilter) -> bool {
        f.category
            .as_ref()
            .is_none_or(|c| p.categories.iter().any(|pc| self.under(pc, c)))
            && f.brand.as_ref().is_none_or(|b| &p.brand == b)
            && f.available.is_none_or(|a| p.available == a)
            && f.min.is_none_or(|m| p.price >= m)
            && f.max.is_none_or(|m| p.price <= m)
    }

    pub fn query(&self, f: &RefFilter, sort: &str) -> Vec<&RefProduct> {
        let mut v: Vec<&RefProduct> = self
            .products
            .iter()
            .filter(|p| self.matches(p, f))
            .collect();
        v.sort_by(|a, b| compare(sort, a, b));
        v
    }

    pub fn ids(&self, f: &RefFilter, sort: &str, offset: usize, limit: usize) -> Vec<String> {
        self.query(f, sort)
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|p| p.id.clone())
            .collect()
    }
}
