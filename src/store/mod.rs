//! Storage: one redb file of rkyv records, secondary indexes and counters,
//! shared by every area, with one write path.
//!
//! This module owns every byte on disk and must not know about HTTP, caching
//! or search. Layout:
//! - [`db`]: the core every area shares — the [`Store`] handle, the writer
//!   thread and its group commit, the write transaction, undo, the
//!   write-ahead log and checkpoints, snapshots, the `meta` table, read
//!   transactions.
//! - [`schema`]: every table of every area, in one list (creation, replay,
//!   dumps read it).
//! - [`codec`]: how a record is stored (`[version] ‖ rkyv archive`) and read
//!   zero-copy; [`keys`]: byte layouts shared by composite keys; [`error`].
//! - The areas, each with its tables, records, reads and its part of a
//!   write: [`catalog`] (records, list indexes, counters, rating
//!   aggregates, the in-memory taxonomy), [`orders`] (carts, orders,
//!   discount codes, payments, the customer's profile), [`accounts`],
//!   [`jobs`] (records, due/lease/retention index, counts) and
//!   [`search_settings`] (synonyms, query analytics).
//!
//! Reads are shaped like writes: a read transaction hands out each area's
//! reader (`read.catalog()`, `read.orders()`, …) as a write transaction
//! hands out its writer (`tx.catalog()`, `tx.orders()`, …).
//!
//! # Invariants
//! - Every write goes through [`Store::write`] (or [`Store::write_alone`]
//!   for a bulk import): one closure, run in a redb transaction shared with
//!   the other writes of its batch, undone alone if it fails, and
//!   acknowledged only once durable: its batch's redo record is synced to
//!   the write-ahead log (`shopd.redb.wal`) before the batch's redb commit
//!   (`Durability::None`) makes it visible; checkpoints (a durable redb
//!   commit, then an empty log) follow every 10 s of writes.
//! - After each commit that kept a write, the store's one [`CommitSink`]
//!   is told what changed, before any write of the commit is acknowledged.
//! - Readers see committed snapshots only ([`ReadTxn`]); a list page, its
//!   total and the records it shows come from the same snapshot.
//! - `docs/design/storage.md` is the authority on tables, records and the
//!   on-disk format.

pub(crate) mod accounts;
pub mod catalog;
pub mod codec;
pub mod db;
pub(crate) mod error;
pub(crate) mod jobs;
pub(crate) mod keys;
pub(crate) mod media;
pub(crate) mod orders;
pub(crate) mod schema;
pub(crate) mod search_settings;
#[cfg(test)]
pub(crate) mod test_records;

pub use catalog::export::{ExportRecord, RecordTable};
pub use catalog::listing::{Plan, ProductHit, ProductPage};
pub use catalog::read::TableCounts;
pub use catalog::records::{BrandRec, CategoryRec, ProductRec, ReviewRec, ReviewerRec};
pub(crate) use catalog::taxonomy::Taxonomy;
pub(crate) use catalog::views::{BrandView, CategoryView, ProductView, ReviewView, ReviewerView};
pub(crate) use catalog::write::CatalogWriter;
pub use codec::{Rec, Record};
pub(crate) use db::meta::SCHEMA_VERSION;
pub(crate) use db::read::ReadTxn;
pub(crate) use db::txn::{ChangeSet, Commit, WriteTxn};
pub use db::wal::Recovery;
pub(crate) use db::writer::CommitSink;
pub use db::{Store, StoreOptions, lookups_on_this_thread, wal_path};
pub use error::{StoreError, StoreResult};
pub(crate) use jobs::{Discard, Enqueued, JobsChanges, Retry};
