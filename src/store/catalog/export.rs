//! Export: every record of a catalogue table as owned domain values, in id
//! order (`shopd export`, benchmarks).

use super::records::{BrandRec, CategoryRec, ProductRec, ReviewRec, ReviewerRec};
use super::tables::{BRANDS, CATEGORIES, PRODUCTS, REVIEWERS, REVIEWS};
use crate::store::Store;
use crate::store::error::StoreError;

/// Which table an export walks.
#[derive(Debug, Clone, Copy)]
pub enum RecordTable {
    Brands,
    Categories,
    Products,
    Reviews,
    Reviewers,
}

/// One record handed out by [`Store::export`].
pub enum ExportRecord {
    Brand(crate::domain::Brand),
    Category(crate::domain::Category),
    Product(crate::domain::Product),
    Review(crate::domain::Review),
    Reviewer(crate::domain::Reviewer),
}

impl Store {
    /// Calls `f` for every record of `table`, in id order, as owned values.
    pub fn export<E: From<StoreError>>(
        &self,
        table: RecordTable,
        mut f: impl FnMut(ExportRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        let txn = self.read()?;
        match table {
            RecordTable::Brands => txn
                .catalog()
                .for_each::<BrandRec, E>(BRANDS, |b| f(ExportRecord::Brand(b))),
            RecordTable::Categories => txn
                .catalog()
                .for_each::<CategoryRec, E>(CATEGORIES, |c| f(ExportRecord::Category(c))),
            RecordTable::Products => txn
                .catalog()
                .for_each::<ProductRec, E>(PRODUCTS, |p| f(ExportRecord::Product(p))),
            RecordTable::Reviews => txn
                .catalog()
                .for_each::<ReviewRec, E>(REVIEWS, |r| f(ExportRecord::Review(r))),
            RecordTable::Reviewers => txn
                .catalog()
                .for_each::<ReviewerRec, E>(REVIEWERS, |u| f(ExportRecord::Reviewer(u))),
        }
    }
}
