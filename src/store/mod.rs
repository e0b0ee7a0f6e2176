//! The catalogue's storage: one redb file of rkyv records, secondary indexes
//! and counters.
//!
//! This module owns every byte on disk and must not know about HTTP, caching
//! or search. The authority on the layout is [`tables`] (what each key means)
//! and [`records`] (how values are encoded and versioned); README "Design"
//! summarises both.
//!
//! # Invariants
//! - One write is one redb transaction covering the record, its indexes,
//!   counters and aggregates ([`write::WriteTxn`]); it is acknowledged only
//!   after a durable commit (`Durability::Immediate`, redb's default).
//! - Readers see committed snapshots only ([`read::ReadTxn`]); a list page,
//!   its total and the records it shows come from the same snapshot.
//! - Only `WriteTxn` writes the tables.

pub mod error;
pub mod keys;
pub mod listing;
pub mod read;
pub mod records;
pub mod tables;
pub mod views;
pub mod write;

pub use error::{StoreError, StoreResult};
pub use listing::{Plan, ProductHit, ProductPage};
pub use read::{QueryCounts, ReadTxn, TableCounts};
pub use records::{BrandRec, CategoryRec, ProductRec, Rec, Record, ReviewRec, UserRec};
pub use views::{BrandView, CategoryView, ProductView, ReviewView, UserView};
pub use write::{Changed, CommitInfo, WriteTxn};

use redb::{Database, ReadableDatabase, ReadableTable};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Called after every durable commit that changed something readers can
/// see, on the writer's thread, before the write returns.
pub type CommitHook = Arc<dyn Fn(&CommitInfo) + Send + Sync>;

thread_local! {
    /// Read transactions begun on this thread, ever.
    static LOOKUPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Read transactions begun on the calling thread so far: one per consistent
/// snapshot a request reads, the store's counterpart of a database query.
/// The difference across a piece of work is what that work cost.
pub fn lookups_on_this_thread() -> u64 {
    LOOKUPS.with(|c| c.get())
}

/// Handle to the open database; cheap to clone, shared by all workers.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    path: PathBuf,
    on_commit: Arc<std::sync::RwLock<Vec<CommitHook>>>,
}

/// Which table an export walks.
#[derive(Debug, Clone, Copy)]
pub enum RecordTable {
    Brands,
    Categories,
    Products,
    Reviews,
    Users,
}

impl Store {
    /// Opens (creating if needed) the database file at `path`, creates missing
    /// tables and checks the schema version.
    pub fn open(path: &Path) -> StoreResult<Store> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Engine(redb::Error::Io(e)))?;
        }
        let db = Database::create(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let txn = db.begin_write()?;
        {
            use tables::*;
            let mut meta = txn.open_table(META)?;
            let found = meta.get("schema")?.map(|g| g.value());
            match found {
                None => {
                    meta.insert("schema", SCHEMA_VERSION)?;
                }
                Some(v) if v == SCHEMA_VERSION => {}
                Some(v) => {
                    return Err(StoreError::Schema {
                        found: v,
                        supported: SCHEMA_VERSION,
                    });
                }
            }
            txn.open_table(BRANDS)?;
            txn.open_table(CATEGORIES)?;
            txn.open_table(PRODUCTS)?;
            txn.open_table(REVIEWS)?;
            txn.open_table(USERS)?;
            txn.open_table(PRODUCT_RATINGS)?;
            txn.open_table(REVIEWS_BY_PRODUCT)?;
            txn.open_table(BRANDS_BY_TITLE)?;
            txn.open_table(CATEGORY_CHILDREN)?;
            txn.open_table(BY_CREATED)?;
            txn.open_table(BY_PRICE)?;
            txn.open_table(BY_RATING)?;
            txn.open_table(PRODUCT_COUNTS)?;
            txn.open_table(SEARCH_SYNONYMS)?;
            txn.open_table(SEARCH_QUERIES)?;
        }
        txn.commit()?;
        Ok(Store {
            db: Arc::new(db),
            path: path.to_path_buf(),
            on_commit: Arc::default(),
        })
    }

    /// Adds a function told about every commit that changed something (the
    /// search indexer, the response cache). Hooks run in the order added.
    pub fn add_commit_hook(&self, hook: CommitHook) {
        if let Ok(mut h) = self.on_commit.write() {
            h.push(hook);
        }
    }

    /// The current generation (see `tables::META`).
    pub fn generation(&self) -> StoreResult<u64> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(tables::META)?;
        Ok(meta.get("generation")?.map_or(0, |g| g.value()))
    }

    /// Closes the database if this is the last handle; otherwise hands the
    /// handle back (someone still uses it).
    pub fn close(self) -> Result<StoreResult<()>, Store> {
        match Arc::try_unwrap(self.db) {
            Ok(db) => Ok(db.close().map_err(|source| StoreError::Open {
                path: self.path.display().to_string(),
                source,
            })),
            Err(db) => Err(Store {
                db,
                path: self.path,
                on_commit: self.on_commit,
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A consistent snapshot for reading.
    pub fn read(&self) -> StoreResult<ReadTxn> {
        LOOKUPS.with(|c| c.set(c.get() + 1));
        Ok(ReadTxn::new(self.db.begin_read()?))
    }

    /// Runs `f` in a write transaction and commits durably if it returns
    /// `Ok`; on `Err` nothing is written. Blocks: call from a blocking thread.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut WriteTxn) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut txn = WriteTxn::new(self.db.begin_write().map_err(StoreError::from)?);
        let out = f(&mut txn)?;
        let info = txn.commit()?;
        if !info.is_empty() {
            let hooks = self.on_commit.read().map(|h| h.clone()).unwrap_or_default();
            for hook in hooks {
                hook(&info);
            }
        }
        Ok(out)
    }

    /// Calls `f` for every record of `table`, in id order, as owned values.
    pub fn export<E: From<StoreError>>(
        &self,
        table: RecordTable,
        mut f: impl FnMut(ExportRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        let txn = self.read()?;
        use tables::*;
        match table {
            RecordTable::Brands => {
                txn.for_each::<BrandRec, E>(BRANDS, |b| f(ExportRecord::Brand(b)))
            }
            RecordTable::Categories => {
                txn.for_each::<CategoryRec, E>(CATEGORIES, |c| f(ExportRecord::Category(c)))
            }
            RecordTable::Products => {
                txn.for_each::<ProductRec, E>(PRODUCTS, |p| f(ExportRecord::Product(p)))
            }
            RecordTable::Reviews => {
                txn.for_each::<ReviewRec, E>(REVIEWS, |r| f(ExportRecord::Review(r)))
            }
            RecordTable::Users => txn.for_each::<UserRec, E>(USERS, |u| f(ExportRecord::User(u))),
        }
    }
}

/// One record handed out by [`Store::export`].
pub enum ExportRecord {
    Brand(crate::domain::Brand),
    Category(crate::domain::Category),
    Product(crate::domain::Product),
    Review(crate::domain::Review),
    User(crate::domain::User),
}
