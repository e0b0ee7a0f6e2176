//! Brands, categories and product images' records held decoded in memory,
//! for joining them into product lists and details without a b-tree lookup
//! per product.
//!
//! A list page shows each product's brand and categories. Reading them from
//! redb cost two to three gets per product, twice as many as the products
//! themselves; they are a few thousand small records that change rarely, so
//! the store keeps one decoded copy in memory.
//!
//! # Invariants
//! - A [`Taxonomy`] is built from one snapshot and stamped with that
//!   snapshot's token (`meta`, key `"taxonomy"`); every commit that writes a
//!   brand or category record renews the token in the same transaction
//!   (`WriteTxn::prepare`, and replication's apply and replace).
//! - [`CatalogReader::taxonomy`] hands out the shared copy only when its token is
//!   the token of the reader's own snapshot; otherwise it builds one from
//!   that snapshot (and shares it). So a page never joins records from two
//!   different commits, exactly as when every join was a get.
//! - Nothing is persisted: a process builds its first copy on first use.

use super::read::CatalogReader;
use super::records::{BrandRec, CategoryRec};
use super::tables::{BRANDS, CATEGORIES};
use crate::domain::media::Media;
use crate::domain::{Brand, Category};
use crate::store::codec::decode;
use crate::store::db::meta;
use crate::store::error::StoreResult;
use arc_swap::ArcSwapOption;
use redb::ReadableTable;
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

/// Every brand and category of one snapshot, by id.
#[derive(Debug, Default)]
pub(crate) struct Taxonomy {
    token: u64,
    brands: HashMap<Box<str>, Brand>,
    categories: HashMap<Box<str>, Category>,
    /// Product images, for showing their alt text and size beside the
    /// products that use them.
    media: HashMap<Box<str>, Media>,
}

impl Taxonomy {
    pub(crate) fn brand(&self, id: &str) -> Option<&Brand> {
        self.brands.get(id)
    }

    pub(crate) fn category(&self, id: &str) -> Option<&Category> {
        self.categories.get(id)
    }

    pub(crate) fn media(&self, id: &str) -> Option<&Media> {
        self.media.get(id)
    }

    #[cfg(test)]
    pub(crate) fn brand_count(&self) -> usize {
        self.brands.len()
    }

    #[cfg(test)]
    pub(crate) fn category_count(&self) -> usize {
        self.categories.len()
    }
}

/// The shared copy, replaced whole when a reader finds it stale.
pub(crate) type TaxonomySlot = Arc<ArcSwapOption<Taxonomy>>;

impl CatalogReader<'_> {
    /// The brands and categories of this snapshot.
    ///
    /// Costs one `meta` get when the shared copy is current; after a commit
    /// that changed brands or categories, the first reader of the new
    /// snapshot decodes them all (0.8 ms for 1,000 brands and 200
    /// categories).
    pub(crate) fn taxonomy(&self) -> StoreResult<Arc<Taxonomy>> {
        let token = meta::taxonomy_token(&self.txn.open_table(meta::META)?)?;
        if let Some(shared) = self.taxonomy_slot.load_full()
            && shared.token == token
        {
            return Ok(shared);
        }
        let built = Arc::new(self.build_taxonomy(token)?);
        self.taxonomy_slot.store(Some(built.clone()));
        Ok(built)
    }

    fn build_taxonomy(&self, token: u64) -> StoreResult<Taxonomy> {
        let start = std::time::Instant::now();
        let mut brands = HashMap::default();
        for row in self.txn.open_table(BRANDS)?.iter()? {
            let (k, v) = row?;
            let brand = decode::<BrandRec>(v.value(), k.value())?;
            brands.insert(k.value().into(), brand);
        }
        let mut categories = HashMap::default();
        for row in self.txn.open_table(CATEGORIES)?.iter()? {
            let (k, v) = row?;
            let category = decode::<CategoryRec>(v.value(), k.value())?;
            categories.insert(k.value().into(), category);
        }
        let media = crate::store::media::read_all(self.txn)?
            .into_iter()
            .map(|m| (m.id.as_str().into(), m))
            .collect();
        tracing::debug!(
            brands = brands.len(),
            categories = categories.len(),
            micros = start.elapsed().as_micros() as u64,
            "taxonomy built"
        );
        Ok(Taxonomy {
            token,
            brands,
            categories,
            media,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;
    use crate::store::db::meta;
    use crate::store::test_records::{brand, category, product};
    use redb::ReadableDatabase;
    use std::sync::Arc;

    fn title_of(store: &Store, b: &str) -> Option<String> {
        let t = store.read().unwrap().catalog().taxonomy().unwrap();
        t.brand(b).map(|b| b.title.clone())
    }

    #[test]
    fn each_snapshot_joins_its_own_brands_and_categories() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.redb")).unwrap();
        assert_eq!(
            store
                .read()
                .unwrap()
                .catalog()
                .taxonomy()
                .unwrap()
                .brand_count(),
            0
        );
        store
            .write_blocking(|tx| {
                let mut c = tx.catalog();
                c.put_brand(&brand("b1", "Acme"))?;
                c.put_category(&category("c1", "Tools"))
            })
            .unwrap();
        let before = store.read().unwrap();
        let shared = before.catalog().taxonomy().unwrap();
        assert_eq!(shared.brand("b1").unwrap().title, "Acme");
        assert_eq!(shared.category("c1").unwrap().title, "Tools");

        // A write that touches no brand or category keeps the shared copy.
        store
            .write_blocking(|tx| tx.catalog().put_product(&product("p1", 1_000)))
            .unwrap();
        let after_product = store.read().unwrap().catalog().taxonomy().unwrap();
        assert!(Arc::ptr_eq(&shared, &after_product));

        // A rename: new snapshots see it at once; the snapshot opened
        // before still joins the old title, even after a newer copy was
        // shared.
        store
            .write_blocking(|tx| tx.catalog().put_brand(&brand("b1", "Bolt")))
            .unwrap();
        assert_eq!(title_of(&store, "b1").as_deref(), Some("Bolt"));
        assert_eq!(
            before
                .catalog()
                .taxonomy()
                .unwrap()
                .brand("b1")
                .unwrap()
                .title,
            "Acme"
        );
        assert_eq!(title_of(&store, "b1").as_deref(), Some("Bolt"));

        // Categories and deletes too.
        store
            .write_blocking(|tx| {
                let mut c = tx.catalog();
                c.put_category(&category("c1", "Hand tools"))?;
                c.put_brand(&brand("b2", "Crate"))?;
                c.delete_brand("b2").map(|_| ())
            })
            .unwrap();
        let now = store.read().unwrap().catalog().taxonomy().unwrap();
        assert_eq!(now.category("c1").unwrap().title, "Hand tools");
        assert!(now.brand("b2").is_none());
        assert_eq!((now.brand_count(), now.category_count()), (1, 1));
    }

    #[test]
    fn a_reopened_file_and_a_failed_write_keep_the_right_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.redb");
        let store = Store::open(&path).unwrap();
        store
            .write_blocking(|tx| tx.catalog().put_brand(&brand("b1", "Acme")))
            .unwrap();
        let shared = store.read().unwrap().catalog().taxonomy().unwrap();
        // A write that renames and then fails is undone: nothing changed.
        let failed: Result<(), crate::store::StoreError> = store.write_blocking(|tx| {
            tx.catalog().put_brand(&brand("b1", "Never"))?;
            Err(crate::store::StoreError::Unavailable("refused".into()))
        });
        assert!(failed.is_err());
        let again = store.read().unwrap().catalog().taxonomy().unwrap();
        assert!(
            Arc::ptr_eq(&shared, &again),
            "an undone write renews nothing"
        );
        assert_eq!(again.brand("b1").unwrap().title, "Acme");
        drop((shared, again));
        store.close().unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(title_of(&store, "b1").as_deref(), Some("Acme"));
    }

    #[test]
    fn replicated_changes_renew_the_token_only_when_the_leader_did_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.redb")).unwrap();
        let db = &*store.db().unwrap();
        let token = |db: &redb::Database| {
            let txn = db.begin_read().unwrap();
            meta::taxonomy_token(&txn.open_table(meta::META).unwrap()).unwrap()
        };
        assert_eq!(token(db), 0, "a new file has no token");
        let txn = db.begin_write().unwrap();
        meta::ensure_taxonomy_token_renewed(&txn, 0).unwrap();
        txn.commit().unwrap();
        let renewed = token(db);
        assert_ne!(renewed, 0, "unchanged since the transaction began: renewed");
        // A transaction whose applied bytes changed the token keeps theirs.
        let txn = db.begin_write().unwrap();
        meta::ensure_taxonomy_token_renewed(&txn, renewed - 1).unwrap();
        txn.commit().unwrap();
        assert_eq!(token(db), renewed);
    }
}
