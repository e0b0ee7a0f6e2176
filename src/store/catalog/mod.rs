//! The catalogue's storage: brands, categories, products, reviews and their
//! authors, the product list indexes and their counters, and rating
//! aggregates.
//!
//! The authority on the layout is [`tables`] (what each key means),
//! [`index`] (how list index keys and counters are laid out) and [`records`]
//! (how values are encoded and versioned); README "Design" summarises them.
//! Writes go through [`write::CatalogWriter`], the catalogue's part of the
//! shared write transaction; reads are methods of `ReadTxn` ([`read`],
//! [`listing`]) returning zero-copy [`views`].

pub mod index;
pub mod listing;
pub mod read;
pub mod records;
pub mod tables;
pub mod views;
pub mod write;
