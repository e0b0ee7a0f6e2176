//! Whole-database copies and replicated commits: what replication and
//! backups need from storage.
//!
//! - [`Store::dump`] reads every row of every table from **one** read
//!   transaction (a consistent copy that never blocks the writer) and hands
//!   it out in parts, each a sequence of `wal` redo records.
//! - [`build`] makes a new database file from such parts.
//! - [`Store::apply_replicated`] applies a leader's commits on a follower,
//!   in one local transaction, and tells the commit listener what changed,
//!   like a local commit would.
//!
//! # Invariants
//! - A dump reflects exactly one committed position (`meta`), which it
//!   reports; its parts replayed into an empty file give that state.
//! - Replicated commits apply in position order with no gap, all or
//!   nothing; afterwards the store's position is the last one's.

use super::txn::{ChangeSet, Commit};
use super::{Store, meta, wal};
use crate::store::error::{StoreError, StoreResult};
use redb::{Database, ReadableDatabase};
use std::path::Path;

/// What a dump holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DumpInfo {
    /// The position the dump reflects.
    pub position: u64,
    /// The search generation it reflects.
    pub generation: u64,
    /// Rows per table.
    pub rows: Vec<(String, u64)>,
}

/// One commit of a leader, as a follower applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReplicatedCommit {
    pub position: u64,
    pub generation: u64,
    pub changes: ChangeSet,
    /// The commit's table changes (`wal` redo format).
    pub redo: Vec<u8>,
}

impl Store {
    /// Dumps every table from one read transaction. `part` receives the
    /// rows in chunks of about `chunk` bytes (`wal` redo records); returns
    /// the position and rows the dump holds. Writers are never blocked.
    pub(crate) fn dump(
        &self,
        chunk: usize,
        part: &mut dyn FnMut(Vec<u8>) -> StoreResult<()>,
    ) -> StoreResult<DumpInfo> {
        let txn = self.db()?.begin_read()?;
        let meta::Facts {
            position,
            generation,
            ..
        } = meta::Facts::read(&txn)?;
        let mut buf = Vec::with_capacity(chunk.min(64 << 20) + 4096);
        let rows = crate::store::schema::dump(&txn, &mut |table, key, value| {
            wal::push_redo(&mut buf, table, key, Some(value));
            if buf.len() >= chunk {
                part(std::mem::take(&mut buf))?;
            }
            Ok(())
        })?;
        if !buf.is_empty() {
            part(buf)?;
        }
        Ok(DumpInfo {
            position,
            generation,
            rows: rows.into_iter().map(|(t, n)| (t.to_string(), n)).collect(),
        })
    }

    /// Applies a leader's commits, which must follow this store's position
    /// without a gap, in one durable local transaction; then tells the
    /// commit listener (search, caches) what they changed. Nothing changes
    /// on `Err`. Returns the merged commit (`None` for no commits).
    pub(crate) fn apply_replicated(
        &self,
        commits: &[ReplicatedCommit],
    ) -> StoreResult<Option<Commit>> {
        let Some(last) = commits.last() else {
            return Ok(None);
        };
        let txn = self.db()?.begin_write()?;
        let at = meta::Facts::in_write(&txn)?.position;
        let token = meta::taxonomy_token(&txn.open_table(meta::META)?)?;
        for (i, c) in commits.iter().enumerate() {
            if c.position != at + 1 + i as u64 {
                let _ = txn.abort();
                return Err(StoreError::Replication(format!(
                    "commit {} does not follow position {}",
                    c.position,
                    at + i as u64
                )));
            }
            if let Err(e) = wal::replay(&txn, &c.redo) {
                let _ = txn.abort();
                return Err(StoreError::Replication(format!(
                    "commit {} could not be applied: {e}",
                    c.position
                )));
            }
        }
        let now = meta::Facts::in_write(&txn)?.position;
        if now != last.position {
            let _ = txn.abort();
            return Err(StoreError::Replication(format!(
                "after applying up to {} the data says position {now}",
                last.position
            )));
        }
        let taxonomy_changed = commits.iter().any(|c| {
            !c.changes.catalog.brands.is_empty()
                || !c.changes.catalog.categories.is_empty()
                || !c.changes.catalog.media.is_empty()
        });
        // A leader that predates the token does not renew it.
        if taxonomy_changed && let Err(e) = meta::ensure_taxonomy_token_renewed(&txn, token) {
            let _ = txn.abort();
            return Err(e);
        }
        txn.commit()?;
        self.inner
            .position
            .store(last.position, std::sync::atomic::Ordering::Release);
        let mut changes = ChangeSet::default();
        for c in commits {
            changes.merge(c.changes.clone());
        }
        let commit = Commit {
            generation: last.generation,
            position: last.position,
            changes,
            redo: None,
        };
        self.notify(&commit);
        Ok(Some(commit))
    }
}

impl Store {
    /// Replaces every table with the parts of a dump, in one durable local
    /// transaction (readers see the old data until it commits), then tells
    /// the commit listener that everything changed: every product before
    /// or after is re-indexed, every cached body is stale. A running
    /// follower that fell behind its leader's log re-bootstraps this way.
    pub(crate) fn replace_all(
        &self,
        parts: &mut dyn Iterator<Item = StoreResult<Vec<u8>>>,
    ) -> StoreResult<Commit> {
        let txn = self.db()?.begin_write()?;
        let result = (|| {
            let mut products = product_ids(&txn)?;
            let token = meta::taxonomy_token(&txn.open_table(meta::META)?)?;
            crate::store::schema::clear_all(&txn)?;
            for part in parts {
                wal::replay(&txn, &part?)?;
            }
            // The same token with other records (a leader that predates it,
            // or a stranger) must not let readers keep the old taxonomy.
            meta::ensure_taxonomy_token_renewed(&txn, token)?;
            products.extend(product_ids(&txn)?);
            let facts = meta::Facts::in_write(&txn)?;
            Ok::<_, StoreError>((products, facts.position, facts.generation))
        })();
        let (products, position, generation) = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = txn.abort();
                return Err(e);
            }
        };
        txn.commit()?;
        self.inner
            .position
            .store(position, std::sync::atomic::Ordering::Release);
        let mut changes = ChangeSet {
            replaced: true,
            ..ChangeSet::default()
        };
        changes.catalog.lists = true;
        changes.catalog.search_products = products;
        changes.search_settings.synonyms = Some(self.read()?.search_settings().synonyms()?);
        let commit = Commit {
            generation,
            position,
            changes,
            redo: None,
        };
        self.notify(&commit);
        Ok(commit)
    }
}

fn product_ids(txn: &redb::WriteTransaction) -> StoreResult<std::collections::BTreeSet<String>> {
    let t = txn.open_table(crate::store::catalog::tables::PRODUCTS)?;
    let mut ids = std::collections::BTreeSet::new();
    for row in redb::ReadableTable::iter(&t)? {
        ids.insert(row?.0.value().to_string());
    }
    Ok(ids)
}

/// Builds a new database file at `path` (which must not exist) from the
/// parts of a dump, in order; the file is durable when this returns.
pub(crate) fn build(
    path: &Path,
    parts: &mut dyn Iterator<Item = StoreResult<Vec<u8>>>,
) -> StoreResult<()> {
    if path.exists() {
        return Err(StoreError::Replication(format!(
            "{} already exists",
            path.display()
        )));
    }
    let db = Database::create(path).map_err(|source| StoreError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let txn = db.begin_write()?;
    crate::store::schema::create_all(&txn)?;
    txn.commit()?;
    for part in parts {
        let part = part?;
        let mut txn = db.begin_write()?;
        txn.set_durability(redb::Durability::None)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        wal::replay(&txn, &part)?;
        txn.commit()?;
    }
    // One durable commit (of nothing) makes every part durable.
    db.begin_write()?.commit()?;
    let schema = meta::Facts::committed(&db)?.schema;
    if schema != meta::SCHEMA_VERSION {
        return Err(StoreError::Schema {
            found: schema,
            supported: meta::SCHEMA_VERSION,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Brand, Id};
    use crate::store::{CommitSink, StoreOptions};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Commit>>);

    impl CommitSink for Recorder {
        fn committed(&self, c: &Commit) {
            self.0.lock().unwrap().push(c.clone());
        }
    }

    fn recording(rec: &Arc<Recorder>) -> StoreOptions {
        StoreOptions {
            sink: rec.clone(),
            ..StoreOptions::default()
        }
    }

    fn brand(store: &Store, id: &str, title: &str) {
        let b = Brand {
            id: Id::parse(id).unwrap(),
            title: title.into(),
            description: String::new(),
            logo: None,
        };
        store
            .write_blocking(move |tx| tx.catalog().put_brand(&b))
            .unwrap();
    }

    fn rows(store: &Store) -> Vec<u8> {
        let mut all = Vec::new();
        store
            .dump(usize::MAX, &mut |p| {
                all.extend(p);
                Ok(())
            })
            .unwrap();
        all
    }

    fn replicated(c: &Commit) -> ReplicatedCommit {
        ReplicatedCommit {
            position: c.position,
            generation: c.generation,
            changes: c.changes.clone(),
            redo: c.redo.as_ref().unwrap().to_vec(),
        }
    }

    #[test]
    fn a_dump_rebuilds_and_commits_replay_to_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let rec = Arc::new(Recorder::default());
        let leader = Store::open_with(&dir.path().join("l.redb"), recording(&rec)).unwrap();
        brand(&leader, "b1", "Acme");
        // A copy at this point, in small parts.
        let mut parts = Vec::new();
        let info = leader
            .dump(64, &mut |p| {
                parts.push(p);
                Ok(())
            })
            .unwrap();
        assert!(parts.len() > 1);
        assert_eq!(info.position, leader.position());
        let copy_path = dir.path().join("f.redb");
        build(&copy_path, &mut parts.into_iter().map(Ok)).unwrap();
        let follower = Store::open(&copy_path).unwrap();
        assert_eq!(follower.position(), info.position);
        assert_eq!(rows(&follower), rows(&leader));
        // Later commits, replayed in order, give the leader's rows again.
        rec.0.lock().unwrap().clear();
        brand(&leader, "b2", "Bolt");
        brand(&leader, "b1", "Acme Renamed");
        let commits: Vec<ReplicatedCommit> = rec.0.lock().unwrap().iter().map(replicated).collect();
        assert_eq!(commits.len(), 2);
        // The follower's shared taxonomy, built before the commits arrive.
        let joined = follower.read().unwrap().catalog().taxonomy().unwrap();
        assert_eq!(joined.brand("b1").unwrap().title, "Acme");
        // A gap is refused and changes nothing.
        assert!(follower.apply_replicated(&commits[1..]).is_err());
        assert_eq!(follower.position(), info.position);
        let applied = follower.apply_replicated(&commits).unwrap().unwrap();
        assert_eq!(applied.position, leader.position());
        assert!(applied.changes.catalog.brands.contains("b2"));
        assert_eq!(rows(&follower), rows(&leader));
        // The leader's commits renewed the taxonomy token (their rows are
        // equal, token included); the follower's readers join the new titles.
        let joined = follower.read().unwrap().catalog().taxonomy().unwrap();
        assert_eq!(joined.brand("b1").unwrap().title, "Acme Renamed");
        assert_eq!(joined.brand("b2").unwrap().title, "Bolt");
        // Applying them again is a gap too (they are behind).
        assert!(follower.apply_replicated(&commits).is_err());
        // Writes of its own are refused once read-only.
        follower.set_read_only();
        let b = Brand {
            id: Id::parse("b3").unwrap(),
            title: "Own".into(),
            description: String::new(),
            logo: None,
        };
        assert!(matches!(
            follower.write_blocking(move |tx| tx.catalog().put_brand(&b)),
            Err(StoreError::ReadOnly)
        ));
    }

    #[test]
    fn replace_all_swaps_every_row_and_reports_everything_changed() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(&dir.path().join("a.redb")).unwrap();
        let rec = Arc::new(Recorder::default());
        let b = Store::open_with(&dir.path().join("b.redb"), recording(&rec)).unwrap();
        brand(&a, "b1", "Acme");
        brand(&b, "zz", "Other");
        brand(&b, "zy", "Other 2");
        let mut parts = Vec::new();
        a.dump(1 << 20, &mut |p| {
            parts.push(p);
            Ok(())
        })
        .unwrap();
        rec.0.lock().unwrap().clear();
        assert!(
            b.read()
                .unwrap()
                .catalog()
                .taxonomy()
                .unwrap()
                .brand("zz")
                .is_some()
        );
        let commit = b.replace_all(&mut parts.into_iter().map(Ok)).unwrap();
        assert!(commit.changes.replaced);
        assert_eq!(commit.position, a.position());
        assert_eq!(b.position(), a.position());
        assert_eq!(rows(&b), rows(&a));
        assert_eq!(rec.0.lock().unwrap().len(), 1);
        let joined = b.read().unwrap().catalog().taxonomy().unwrap();
        assert!(joined.brand("zz").is_none());
        assert_eq!(joined.brand("b1").unwrap().title, "Acme");
    }
}
