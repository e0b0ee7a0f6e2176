//! The write-ahead log: durability at the cost of one sequential append per
//! batch, instead of rewriting every B-tree page a batch touched.
//!
//! A batch of writes commits to redb without an fsync (`Durability::None`:
//! visible to readers, kept in memory and the OS page cache). What makes it
//! durable is its redo record here: every table change its kept writes made
//! (see `undo`), appended to `shopd.redb.wal` beside the database and synced
//! with `fdatasync` **before** the batch becomes visible and before any of
//! its writes is acknowledged. Every 10 seconds while writes come (the
//! writer's `CHECKPOINT_EVERY`), when the log reaches 64 MiB, and at
//! shutdown, the writer makes a durable redb commit — a checkpoint — and
//! empties the log.
//!
//! # Recovery
//! Opening the store replays, on top of the last durable redb state, every
//! logged batch with a sequence number above the one that state recorded
//! (`meta` key `"wal_seq"`), in order, then checkpoints and empties the log.
//! A record is `magic ‖ seq ‖ len ‖ xxh3(seq ‖ payload) ‖ payload`; replay
//! stops at the first record that is short or fails its checksum (a torn
//! tail: that batch was never acknowledged).
//!
//! # Invariants
//! - A batch is acknowledged only after its record is synced.
//! - Readers never see a batch whose record is not synced (the redb commit
//!   comes after the sync).
//! - Sequence numbers grow by one per batch and survive restarts (`wal_seq`
//!   is written in every batch's transaction).
//! - Every table a write can change is listed in the schema
//!   (`store::schema`): the store refuses to open any other table for a
//!   logged write.
//! - After a failed append or a failed commit, the writer accepts no more
//!   writes until the process restarts (a failed fsync must never be
//!   retried as if the data were safe).

use super::faults::{self, FaultPlan};
use super::meta::META;
use crate::store::error::{StoreError, StoreResult};
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MAGIC: u32 = 0x4C41_5753; // "SWAL"
const HEADER: usize = 4 + 8 + 4 + 8;

/// Appends one change to `out`: `name_len u8 ‖ name ‖ key_len u32 ‖ key ‖
/// (0 | 1 ‖ value_len u32 ‖ value)` (0: removed).
pub(crate) fn push_redo(out: &mut Vec<u8>, table: &str, key: &[u8], value: Option<&[u8]>) {
    out.push(table.len() as u8);
    out.extend_from_slice(table.as_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    match value {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
        }
    }
}

/// Replays one batch's redo bytes (or a snapshot part) into `txn`.
pub(crate) fn replay(txn: &redb::WriteTransaction, mut payload: &[u8]) -> StoreResult<()> {
    fn take<'a>(p: &mut &'a [u8], n: usize) -> StoreResult<&'a [u8]> {
        if p.len() < n {
            return Err(StoreError::Unavailable(
                "a write-ahead log record is malformed".into(),
            ));
        }
        let (a, b) = p.split_at(n);
        *p = b;
        Ok(a)
    }
    fn u32_at(p: &mut &[u8]) -> StoreResult<usize> {
        let b = take(p, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    while !payload.is_empty() {
        let n = take(&mut payload, 1)?[0] as usize;
        let table = std::str::from_utf8(take(&mut payload, n)?).map_err(|_| {
            StoreError::Unavailable("a write-ahead log record names no table".into())
        })?;
        let k = u32_at(&mut payload)?;
        let key = take(&mut payload, k)?;
        let value = match take(&mut payload, 1)?[0] {
            0 => None,
            _ => {
                let v = u32_at(&mut payload)?;
                Some(take(&mut payload, v)?)
            }
        };
        crate::store::schema::apply(txn, table, key, value)?;
    }
    Ok(())
}

fn checksum(seq: u64, payload: &[u8]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    h.digest()
}

/// The log file, open for appending.
pub(crate) struct Wal {
    file: File,
    path: PathBuf,
    /// Injected failures (tests only; see `faults`).
    faults: Option<Arc<FaultPlan>>,
    /// Bytes of valid records (where the next one goes).
    len: u64,
}

impl Wal {
    /// The log beside the database file `db`.
    pub(crate) fn path_for(db: &Path) -> PathBuf {
        let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".wal");
        db.with_file_name(name)
    }

    /// Opens (creating) the log, empty.
    fn open_empty(path: &Path, faults: Option<Arc<FaultPlan>>) -> StoreResult<Wal> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        let mut wal = Wal {
            file,
            path: path.to_path_buf(),
            faults,
            len: 0,
        };
        wal.truncate()?;
        if let Some(dir) = path.parent()
            && let Ok(d) = File::open(dir)
        {
            // The log's directory entry survives a crash.
            let _ = d.sync_all();
        }
        Ok(wal)
    }

    /// Appends and syncs one batch. On `Err` the batch is not durable and
    /// the log must not be used again.
    /// Appends one batch's record; with `sync`, `fdatasync`s the file (which
    /// also covers every earlier unsynced record).
    pub(crate) fn append(&mut self, seq: u64, payload: &[u8], sync: bool) -> StoreResult<()> {
        let mut record = Vec::with_capacity(HEADER + payload.len());
        record.extend_from_slice(&MAGIC.to_le_bytes());
        record.extend_from_slice(&seq.to_le_bytes());
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&checksum(seq, payload).to_le_bytes());
        record.extend_from_slice(payload);
        faults::check(&self.faults, FaultPlan::write)
            .and_then(|()| self.file.write_all_at(&record, self.len))
            .and_then(|()| {
                if sync {
                    faults::check(&self.faults, FaultPlan::sync)?;
                    self.file.sync_data()
                } else {
                    Ok(())
                }
            })
            .map_err(|e| io(&self.path, e))?;
        self.len += record.len() as u64;
        Ok(())
    }

    /// Bytes in the log.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Empties the log (after a checkpoint made its records redundant).
    pub(crate) fn truncate(&mut self) -> StoreResult<()> {
        faults::check(&self.faults, FaultPlan::write)
            .and_then(|()| self.file.set_len(0))
            .and_then(|()| faults::check(&self.faults, FaultPlan::sync))
            .and_then(|()| self.file.sync_all())
            .map_err(|e| io(&self.path, e))?;
        self.len = 0;
        Ok(())
    }
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("write-ahead log {}: {e}", path.display()))
}

/// The valid records of the log at `path`, in order: `(seq, payload)`.
fn read_records(path: &Path) -> StoreResult<Vec<(u64, Vec<u8>)>> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes).map_err(|e| io(path, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path, e)),
    }
    let mut out = Vec::new();
    let mut at = 0usize;
    while bytes.len() - at >= HEADER {
        let h = &bytes[at..at + HEADER];
        let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&h[4..12]);
        let seq = u64::from_le_bytes(seq);
        let len = u32::from_le_bytes([h[12], h[13], h[14], h[15]]) as usize;
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&h[16..24]);
        let start = at + HEADER;
        if magic != MAGIC || bytes.len() - start < len {
            break;
        }
        let payload = &bytes[start..start + len];
        if checksum(seq, payload) != u64::from_le_bytes(sum) {
            break;
        }
        out.push((seq, payload.to_vec()));
        at = start + len;
    }
    if at < bytes.len() {
        tracing::warn!(
            valid_bytes = at,
            file_bytes = bytes.len(),
            "the write-ahead log ends with an incomplete record (a batch that was never acknowledged); ignoring it"
        );
    }
    Ok(out)
}

/// The sequence number the durable state reflects.
fn durable_seq(db: &redb::Database) -> StoreResult<u64> {
    use redb::ReadableDatabase;
    let txn = db.begin_read()?;
    let meta = txn.open_table(META)?;
    Ok(meta.get(super::meta::WAL_SEQ)?.map_or(0, |g| g.value()))
}

/// Replays the log at `path` into `db`, checkpoints, and returns the empty
/// log with the last sequence number used.
pub(crate) fn recover(
    db: &redb::Database,
    path: &Path,
    faults: Option<Arc<FaultPlan>>,
) -> StoreResult<(Wal, u64)> {
    let mut seq = durable_seq(db)?;
    let records = read_records(path)?;
    let pending: Vec<&(u64, Vec<u8>)> = records.iter().filter(|(s, _)| *s > seq).collect();
    if !pending.is_empty() {
        let started = std::time::Instant::now();
        let txn = db.begin_write()?;
        for (s, payload) in &pending {
            if *s != seq + 1 {
                return Err(StoreError::Unavailable(format!(
                    "the write-ahead log skips from batch {seq} to {s}"
                )));
            }
            replay(&txn, payload)?;
            seq = *s;
        }
        txn.open_table(META)?.insert(super::meta::WAL_SEQ, seq)?;
        txn.commit()?;
        tracing::info!(
            batches = pending.len(),
            last = seq,
            millis = started.elapsed().as_millis() as u64,
            "replayed the write-ahead log"
        );
    }
    let wal = Wal::open_empty(path, faults)?;
    Ok((wal, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_stops_at_a_torn_or_corrupt_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wal");
        let mut wal = Wal::open_empty(&path, None).unwrap();
        let mut a = Vec::new();
        push_redo(&mut a, "meta", b"k", Some(&7u64.to_le_bytes()));
        wal.append(1, &a, true).unwrap();
        wal.append(2, &a, false).unwrap();
        let full = std::fs::read(&path).unwrap();
        assert_eq!(read_records(&path).unwrap().len(), 2);
        // a torn tail: the second record cut short
        std::fs::write(&path, &full[..full.len() - 3]).unwrap();
        assert_eq!(read_records(&path).unwrap(), vec![(1, a.clone())]);
        // a flipped byte in the second record's payload
        let mut bad = full.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(read_records(&path).unwrap(), vec![(1, a)]);
    }
}
