//! The catalogue's storage: brands, categories, products, reviews and their
//! authors, the product list indexes and their counters, and rating
//! aggregates.
//!
//! The authority on the layout is [`tables`] (what each key means),
//! [`index`] (how list index keys and counters are laid out) and [`records`]
//! (how values are encoded and versioned); docs/design/storage.md describes them.
//! Writes go through [`write::CatalogWriter`], the catalogue's part of the
//! shared write transaction; reads are methods of `ReadTxn` ([`read`],
//! [`listing`]) returning zero-copy [`views`], and [`taxonomy`]: brands and
//! categories decoded in memory for joins, stamped per snapshot.

pub(crate) mod export;
pub(crate) mod index;
pub(crate) mod listing;
pub(crate) mod read;
pub mod records;
pub(crate) mod tables;
pub(crate) mod taxonomy;
pub(crate) mod views;
pub(crate) mod write;
