//! What search keeps in storage besides the catalogue: the synonym groups
//! and query analytics. Owns its two tables; the search index itself lives
//! in `search` (tantivy), not here.

use super::codec::{Record, decode};
use super::db::read::ReadTxn;
use super::db::undo::Tables;
use super::error::StoreResult;
use crate::domain::search::Synonyms;
use crate::store::codec::record;
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};
use rkyv::{Archive, Deserialize, Serialize};

/// `"v1"` → versioned rkyv `SynonymsV1`: the search synonym groups.
pub(crate) const SEARCH_SYNONYMS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("search_synonyms");

/// Normalized search text → (times searched, times with zero hits). Bounded:
/// writers prune the least searched entries beyond [`MAX_TRACKED_QUERIES`].
pub(crate) const SEARCH_QUERIES: TableDefinition<&str, (u64, u64)> =
    TableDefinition::new("search_queries");

pub(crate) const MAX_TRACKED_QUERIES: u64 = 10_000;

pub(crate) const SYNONYMS_V1: u8 = 1;

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct SynonymsV1 {
    pub groups: Vec<Vec<String>>,
}

record! {
    pub(crate) SynonymsRec in "search_synonyms", version SYNONYMS_V1;
    SynonymsV1 as ArchivedSynonymsV1 <=> Synonyms;
    encode(s) {
        SynonymsV1 {
            groups: s.groups.clone(),
        }
    }
    decode(a) {
        Ok(Synonyms {
            groups: a
                .groups
                .iter()
                .map(|g| g.iter().map(|t| t.as_str().to_string()).collect())
                .collect(),
        })
    }
}

/// What a write changed in the search settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchSettingsChanges {
    /// The synonym groups, when they were replaced (the last value wins).
    pub synonyms: Option<Synonyms>,
}

impl SearchSettingsChanges {
    pub(crate) fn merge(&mut self, other: SearchSettingsChanges) {
        if other.synonyms.is_some() {
            self.synonyms = other.synonyms;
        }
    }
}

/// Search analytics as stored: `(text, count)` pairs, most first.
#[derive(Debug, Default)]
pub(crate) struct QueryCounts {
    /// Most searched texts.
    pub all: Vec<(String, u64)>,
    /// Most searched texts that found nothing.
    pub zero: Vec<(String, u64)>,
}

/// The search settings as a read transaction sees them (`read.search_settings()`).
pub(crate) struct SearchSettingsReader<'r> {
    txn: &'r redb::ReadTransaction,
}

impl ReadTxn {
    /// Synonym groups and query analytics.
    pub(crate) fn search_settings(&self) -> SearchSettingsReader<'_> {
        SearchSettingsReader { txn: &self.txn }
    }
}

impl SearchSettingsReader<'_> {
    /// The search synonym groups (empty when never set).
    pub(crate) fn synonyms(&self) -> StoreResult<Synonyms> {
        let t = self.txn.open_table(SEARCH_SYNONYMS)?;
        match t.get("v1")? {
            Some(g) => decode::<SynonymsRec>(g.value(), "v1"),
            None => Ok(Default::default()),
        }
    }

    /// The `limit` most searched texts and the `limit` most searched texts
    /// that found nothing, each `(text, count)`, most first.
    pub(crate) fn top_queries(&self, limit: usize) -> StoreResult<QueryCounts> {
        let t = self.txn.open_table(SEARCH_QUERIES)?;
        let mut all = Vec::new();
        let mut zero = Vec::new();
        for item in t.iter()? {
            let (k, v) = item?;
            let (n, z) = v.value();
            all.push((k.value().to_string(), n));
            if z > 0 {
                zero.push((k.value().to_string(), z));
            }
        }
        let order =
            |a: &(String, u64), b: &(String, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0));
        all.sort_by(order);
        zero.sort_by(order);
        all.truncate(limit);
        zero.truncate(limit);
        Ok(QueryCounts { all, zero })
    }
}

/// The search settings' part of a write transaction.
pub(crate) struct SearchSettingsWriter<'w> {
    pub(crate) tables: &'w Tables,
    pub(crate) changes: &'w mut SearchSettingsChanges,
}

impl SearchSettingsWriter<'_> {
    /// Replaces the search synonym groups.
    pub(crate) fn put_synonyms(&mut self, s: &Synonyms) -> StoreResult<()> {
        self.changes.synonyms = Some(s.clone());
        let bytes = SynonymsRec::encode(s);
        self.tables
            .open(SEARCH_SYNONYMS)?
            .insert("v1", bytes.as_slice())?;
        Ok(())
    }

    /// Adds `(text, searches, zero-hit searches)` to the query statistics,
    /// then prunes the least searched entries beyond the bound.
    pub(crate) fn record_queries(&mut self, counts: &[(String, u64, u64)]) -> StoreResult<()> {
        let mut t = self.tables.open(SEARCH_QUERIES)?;
        for (text, n, zero) in counts {
            let (a, b) = t.get(text.as_str())?.map_or((0, 0), |g| g.value());
            t.insert(text.as_str(), (a + n, b + zero))?;
        }
        let len = t.len()?;
        if len > MAX_TRACKED_QUERIES {
            let mut all: Vec<(u64, String)> = Vec::with_capacity(len as usize);
            for item in t.iter()? {
                let (k, v) = item?;
                all.push((v.value().0, k.value().to_string()));
            }
            all.sort();
            for (_, text) in all.iter().take((len - MAX_TRACKED_QUERIES) as usize) {
                t.remove(text.as_str())?;
            }
        }
        Ok(())
    }
}
