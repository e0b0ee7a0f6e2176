//! The one write transaction every area writes into.
//!
//! A [`WriteTxn`] is handed to each write closure (see [`super::Store::write`]).
//! Each area reaches its own tables through its part: [`WriteTxn::catalog`],
//! [`WriteTxn::search_settings`], [`WriteTxn::jobs`], [`WriteTxn::accounts`], [`WriteTxn::orders`], so an order, its stock decrements and its confirmation job can
//! commit in one redb transaction. Each area reports what it changed in its
//! part of the [`ChangeSet`]; the commit hands the batch's change set to the
//! one commit listener.
//!
//! # One write inside a batch
//! Group commit runs several writes in one redb transaction. Each write is a
//! unit of its own: when it ends well, its changes are kept
//! ([`WriteTxn::finish_write`]); when it fails, its table changes are undone
//! from the undo log and its deferred work and change set are taken back
//! ([`WriteTxn::rollback_write`]). Either way its batch-mates are untouched.
//! Deferred index work runs once for the whole transaction, at commit.

use super::meta;
use super::undo::{Tables, UndoLog};
use super::wal::Wal;
use crate::store::accounts::AccountsWriter;
use crate::store::catalog::write::{CatalogChanges, CatalogWriter, Pending};
use crate::store::error::{StoreError, StoreResult};
use crate::store::jobs::{JobsChanges, JobsWriter};
use crate::store::orders::OrdersWriter;
use crate::store::search_settings::{SearchSettingsChanges, SearchSettingsWriter};

/// What a write (or a whole commit) changed, by area. Serializable: a
/// leader ships it with each commit to its followers.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChangeSet {
    pub catalog: CatalogChanges,
    pub search_settings: SearchSettingsChanges,
    pub jobs: JobsChanges,
    /// Every table was replaced (a follower re-bootstrapped from a
    /// snapshot): every cached body is stale.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replaced: bool,
}

impl ChangeSet {
    pub(crate) fn merge(&mut self, other: ChangeSet) {
        let ChangeSet {
            catalog,
            search_settings,
            jobs,
            replaced,
        } = other;
        self.replaced |= replaced;
        self.catalog.merge(catalog);
        self.search_settings.merge(search_settings);
        self.jobs.merge(jobs);
    }
}

/// A durable commit: what it changed, and the generation it made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    /// The store generation after this commit (see [`meta::META`]).
    pub generation: u64,
    /// The position after this commit: one more than before (see
    /// [`meta::META`]); a commit applied from a leader carries the
    /// leader's.
    pub position: u64,
    pub changes: ChangeSet,
    /// Every table change the commit made, in `wal` redo format: what a
    /// follower replays. `None` for a bulk write that kept no redo bytes
    /// (an import) or a commit applied from a leader.
    pub redo: Option<std::sync::Arc<Vec<u8>>>,
}

pub struct WriteTxn {
    tables: Tables,
    /// Redo bytes of the kept writes so far (see `wal`).
    redo: Vec<u8>,
    /// The catalogue's deferred index work of the write in progress.
    catalog: Pending,
    /// What the write in progress changed.
    changes: ChangeSet,
}

impl WriteTxn {
    /// `undo`: whether writes can be taken back one by one (batched writes);
    /// a transaction of its own does not need it.
    pub(crate) fn new(txn: redb::WriteTransaction, undo: bool) -> WriteTxn {
        WriteTxn {
            tables: Tables {
                txn,
                undo: UndoLog::new(undo),
            },
            redo: Vec::new(),
            catalog: Pending::new(undo),
            changes: ChangeSet::default(),
        }
    }

    /// The catalogue's tables: records, list indexes, counters, ratings.
    pub fn catalog(&mut self) -> CatalogWriter<'_> {
        CatalogWriter {
            tables: &self.tables,
            pending: &mut self.catalog,
            changes: &mut self.changes.catalog,
        }
    }

    /// Search synonyms and query analytics.
    pub(crate) fn search_settings(&mut self) -> SearchSettingsWriter<'_> {
        SearchSettingsWriter {
            tables: &self.tables,
            changes: &mut self.changes.search_settings,
        }
    }

    /// The job queue: enqueue inside this write (the outbox), lease and
    /// finish jobs.
    pub fn jobs(&mut self) -> JobsWriter<'_> {
        JobsWriter {
            tables: &self.tables,
            changes: &mut self.changes.jobs,
        }
    }

    /// Product images' records.
    pub(crate) fn media(&mut self) -> crate::store::media::MediaWriter<'_> {
        crate::store::media::MediaWriter {
            tables: &self.tables,
            changes: &mut self.changes.catalog,
        }
    }

    /// Accounts, sign-in sessions, refresh and mailed tokens, API keys.
    pub(crate) fn accounts(&mut self) -> AccountsWriter<'_> {
        AccountsWriter {
            tables: &self.tables,
        }
    }

    /// Carts, addresses, wishlists, orders, discount codes, idempotency
    /// keys, payment events, notifications.
    pub(crate) fn orders(&mut self) -> OrdersWriter<'_> {
        OrdersWriter {
            tables: &self.tables,
        }
    }

    /// Ends the write in progress well: its changes are kept; returns what
    /// it changed (without what its deferred index work will report when
    /// the transaction commits). On `Err` the caller rolls back.
    pub(crate) fn finish_write(&mut self) -> StoreResult<ChangeSet> {
        self.catalog.keep();
        self.tables.undo.keep(&mut self.redo);
        Ok(std::mem::take(&mut self.changes))
    }

    /// Takes the write in progress back: every table as it was when the write
    /// began, its deferred work and changes dropped. An `Err` means the
    /// transaction itself is unusable.
    pub(crate) fn rollback_write(&mut self) -> StoreResult<()> {
        self.catalog.undo();
        self.changes = ChangeSet::default();
        self.tables.undo.undo(&self.tables.txn)
    }

    /// Finishes the transaction's own work before it is logged: the
    /// deferred index work of every kept write (once, sorted; it reports the
    /// list scopes of the products' final states into `changes`), the
    /// generation, the position and, for a logged batch, its sequence
    /// number. Returns `(generation, position)`. Nothing is durable or
    /// visible yet: on `Err`, abort.
    pub(crate) fn prepare(
        &mut self,
        changes: &mut ChangeSet,
        seq: Option<u64>,
    ) -> StoreResult<(u64, u64)> {
        self.catalog().flush()?;
        changes.merge(std::mem::take(&mut self.changes));
        // The generation counts commits that change what search shows.
        let generation =
            meta::next_generation(&self.tables, !changes.catalog.search_products.is_empty())?;
        let position = meta::next_position(&self.tables)?;
        if !changes.catalog.brands.is_empty()
            || !changes.catalog.categories.is_empty()
            || !changes.catalog.media.is_empty()
        {
            meta::renew_taxonomy_token(&self.tables)?;
        }
        if let Some(seq) = seq {
            meta::set_wal_seq(&self.tables, seq)?;
        }
        self.tables.undo.keep(&mut self.redo);
        Ok((generation, position))
    }

    /// Commits a prepared transaction. With `wal` (a batch of the writer),
    /// its redo record is appended to the write-ahead log and synced first,
    /// and the redb commit is durable only when `durable` (a checkpoint);
    /// without (a transaction of its own), the redb commit is durable.
    /// Either way, when this returns `Ok` the writes survive a crash; on
    /// `Err` they were taken back out of the log ([`Wal::take_back`]) and
    /// will not reappear, unless the error is `OutcomeUnknown`.
    /// `sync = false` (a batch of relaxed writes only) appends the record
    /// without `fdatasync`: it survives the process dying (the OS holds it)
    /// and becomes crash-proof with the next synced batch or checkpoint.
    /// Returns the redo bytes (for replication) when writes were recorded.
    pub(crate) fn commit(
        self,
        wal: Option<(&mut Wal, u64, bool)>,
        durable: bool,
    ) -> StoreResult<Option<std::sync::Arc<Vec<u8>>>> {
        let start = std::time::Instant::now();
        // The log and its length before this batch's record.
        let mut log = None;
        if let Some((wal, seq, sync)) = wal {
            let before = wal.len();
            wal.append(seq, &self.redo, sync)?;
            log = Some((wal, before));
        }
        let logged = log.is_some();
        let recorded = self.tables.undo.recording();
        let redo = self.redo;
        let mut txn = self.tables.txn;
        let committed = if logged && !durable {
            txn.set_durability(redb::Durability::None)
                .map_err(|e| StoreError::Unavailable(e.to_string()))
        } else {
            Ok(())
        }
        .and_then(|()| Ok(txn.commit()?));
        if let Err(e) = committed {
            // The batch is in the log but refused: take it back out, so a
            // restart does not replay it.
            return Err(match log {
                Some((wal, before)) => wal.take_back(before, e),
                None => e,
            });
        }
        tracing::debug!(
            micros = start.elapsed().as_micros() as u64,
            logged,
            durable,
            "write transaction committed"
        );
        // Moved, not copied: the listener gets the bytes the log got.
        Ok(recorded.then(|| std::sync::Arc::new(redo)))
    }

    /// Drops everything this transaction wrote.
    pub(crate) fn abort(self) -> StoreResult<()> {
        self.tables.txn.abort()?;
        Ok(())
    }
}
