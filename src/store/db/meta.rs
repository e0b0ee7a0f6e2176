//! Facts about the whole database file: its layout version and its
//! generation.

use super::undo::Tables;
use crate::store::error::StoreResult;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

/// `"schema"` → layout version of this whole file; `"generation"` → number
/// of committed transactions that changed what the search index shows (a
/// product, or a brand/category title it carries; the search index records
/// the generation it reflects, see `search`); `"wal_seq"` → the last
/// write-ahead log batch included; `"checkpoints"` → durable commits made
/// only to checkpoint the log; `"position"` → number of committed
/// transactions that changed anything (the replication position: a
/// follower that applied a leader's commits up to `P` holds exactly the
/// leader's data at `P`; served as `X-Generation`); `"taxonomy"` → a
/// random token renewed by every commit that writes a brand or category
/// record (the stamp of the in-memory taxonomy, see
/// `catalog::taxonomy`).
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The layout version this build reads and writes.
pub(crate) const SCHEMA_VERSION: u64 = 1;

const SCHEMA: &str = "schema";
const GENERATION: &str = "generation";
/// The last write-ahead log batch this state includes (see `wal`).
pub(crate) const WAL_SEQ: &str = "wal_seq";
/// Durable commits made to checkpoint the log.
const CHECKPOINTS: &str = "checkpoints";
/// Commits that changed anything (see [`META`]).
const POSITION: &str = "position";
/// The taxonomy's token (see [`META`]).
const TAXONOMY: &str = "taxonomy";

/// Records the schema version in a new file; `Ok(Some(found))` when the file
/// holds another version.
pub(crate) fn check_schema(txn: &redb::WriteTransaction) -> StoreResult<Option<u64>> {
    let mut meta = txn.open_table(META)?;
    let found = meta.get(SCHEMA)?.map(|g| g.value());
    match found {
        None => {
            meta.insert(SCHEMA, SCHEMA_VERSION)?;
            Ok(None)
        }
        Some(v) if v == SCHEMA_VERSION => Ok(None),
        Some(v) => Ok(Some(v)),
    }
}

/// The facts about the whole file a transaction sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    pub schema: u64,
    pub generation: u64,
    pub position: u64,
}

impl Facts {
    fn of(meta: &impl ReadableTable<&'static str, u64>) -> StoreResult<Facts> {
        let get =
            |key| Ok::<_, crate::store::error::StoreError>(meta.get(key)?.map_or(0, |g| g.value()));
        Ok(Facts {
            schema: get(SCHEMA)?,
            generation: get(GENERATION)?,
            position: get(POSITION)?,
        })
    }

    /// What a read transaction sees.
    pub(crate) fn read(txn: &redb::ReadTransaction) -> StoreResult<Facts> {
        Facts::of(&txn.open_table(META)?)
    }

    /// What a write transaction sees (its own changes included).
    pub(crate) fn in_write(txn: &redb::WriteTransaction) -> StoreResult<Facts> {
        Facts::of(&txn.open_table(META)?)
    }

    /// The committed facts of `db`.
    pub(crate) fn committed(db: &redb::Database) -> StoreResult<Facts> {
        Facts::read(&db.begin_read()?)
    }
}

/// The generation this transaction commits: one more than the last when
/// `bump`, else unchanged.
pub(crate) fn next_generation(tables: &Tables, bump: bool) -> StoreResult<u64> {
    let mut meta = tables.open(META)?;
    let current = meta.get(GENERATION)?.map_or(0, |g| g.value());
    if !bump {
        return Ok(current);
    }
    meta.insert(GENERATION, current + 1)?;
    Ok(current + 1)
}

/// The position this transaction commits: one more than the last.
pub(crate) fn next_position(tables: &Tables) -> StoreResult<u64> {
    let mut meta = tables.open(META)?;
    let next = meta.get(POSITION)?.map_or(0, |g| g.value()) + 1;
    meta.insert(POSITION, next)?;
    Ok(next)
}

/// The taxonomy token a transaction sees (0 in a file that never had one).
pub(crate) fn taxonomy_token(meta: &impl ReadableTable<&'static str, u64>) -> StoreResult<u64> {
    Ok(meta.get(TAXONOMY)?.map_or(0, |g| g.value()))
}

/// A token unlike `old` and unlike "none" (0). Random rather than counted,
/// so that two different taxonomies never share a token, whatever file or
/// leader they came from.
fn fresh_token(old: u64) -> u64 {
    loop {
        let token = rand::random::<u64>();
        if token != 0 && token != old {
            return token;
        }
    }
}

/// Gives the taxonomy a new token in this transaction: readers of the
/// snapshot it commits will not take an in-memory taxonomy built before.
pub(crate) fn renew_taxonomy_token(tables: &Tables) -> StoreResult<()> {
    let mut meta = tables.open(META)?;
    let old = meta.get(TAXONOMY)?.map_or(0, |g| g.value());
    meta.insert(TAXONOMY, fresh_token(old))?;
    Ok(())
}

/// [`renew_taxonomy_token`] for a transaction that applies someone else's
/// changes (replication), unless they renewed it already (`before`: the
/// token when the transaction began).
pub(crate) fn ensure_taxonomy_token_renewed(
    txn: &redb::WriteTransaction,
    before: u64,
) -> StoreResult<()> {
    let mut meta = txn.open_table(META)?;
    if taxonomy_token(&meta)? == before {
        meta.insert(TAXONOMY, fresh_token(before))?;
    }
    Ok(())
}

/// Records the batch sequence number a transaction commits.
pub(crate) fn set_wal_seq(tables: &Tables, seq: u64) -> StoreResult<()> {
    tables.open(META)?.insert(WAL_SEQ, seq)?;
    Ok(())
}

/// A durable commit that changes nothing else: every non-durable commit
/// before it becomes durable.
pub(crate) fn checkpoint(db: &redb::Database) -> StoreResult<()> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        let n = meta.get(CHECKPOINTS)?.map_or(0, |g| g.value());
        meta.insert(CHECKPOINTS, n + 1)?;
    }
    txn.commit()?;
    Ok(())
}
