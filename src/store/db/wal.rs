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
//! A record is `magic ‖ seq ‖ len ‖ xxh3(seq ‖ payload) ‖ payload`.
//!
//! A record that is short or fails its checksum is a *torn tail* only when
//! no valid record follows it anywhere in the file: an append cut short by
//! a crash, never acknowledged, and ignored. When a valid record with a
//! batch the database does not already hold follows it, the damage is in
//! the middle of acknowledged history: the start stops with
//! [`StoreError::LogDamaged`] (the file, the offset, how to restore), and
//! nothing is replayed or changed, unless the operator passes
//! `--accept-log-loss` ([`Recovery::AcceptLoss`]), which keeps the batches
//! before the damage and discards the rest.
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
//! - A refused write does not come back: a batch whose append, sync or
//!   commit fails is taken back out of the log ([`Wal::take_back`]:
//!   truncated to the last acknowledged length, and synced) before any of
//!   its writes is answered. When even that fails, the answer is
//!   [`StoreError::OutcomeUnknown`], never a plain refusal.

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
    /// Records appended without `fdatasync` since the last one.
    unsynced: bool,
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
            unsynced: false,
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

    /// Appends one batch's record; with `sync`, `fdatasync`s the file (which
    /// also covers every earlier unsynced record). On `Err` the record has
    /// been taken back ([`Wal::take_back`]; `OutcomeUnknown` when that
    /// failed too), and the log must not be used again.
    pub(crate) fn append(&mut self, seq: u64, payload: &[u8], sync: bool) -> StoreResult<()> {
        let mut record = Vec::with_capacity(HEADER + payload.len());
        record.extend_from_slice(&MAGIC.to_le_bytes());
        record.extend_from_slice(&seq.to_le_bytes());
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&checksum(seq, payload).to_le_bytes());
        record.extend_from_slice(payload);
        let appended = faults::check(&self.faults, FaultPlan::write)
            .and_then(|()| self.file.write_all_at(&record, self.len))
            .and_then(|()| {
                if sync {
                    faults::check(&self.faults, FaultPlan::sync)?;
                    self.file.sync_data()
                } else {
                    Ok(())
                }
            })
            .map_err(|e| io(&self.path, e));
        if let Err(e) = appended {
            return Err(self.take_back(self.len, e));
        }
        self.len += record.len() as u64;
        self.unsynced = !sync;
        Ok(())
    }

    /// `fdatasync`s records appended without it (relaxed batches), so that
    /// they survive a power cut; nothing to do when there are none.
    pub(crate) fn sync(&mut self) -> StoreResult<()> {
        if !self.unsynced {
            return Ok(());
        }
        faults::check(&self.faults, FaultPlan::sync)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| io(&self.path, e))?;
        self.unsynced = false;
        Ok(())
    }

    /// Takes back every record after `len` (a batch that failed after it
    /// was appended: its sync or its commit), so that a refused write is
    /// not replayed by the next start: truncates the file to `len` and
    /// syncs that. Returns the error to answer: `cause` when the record is
    /// gone for good, [`StoreError::OutcomeUnknown`] when taking it back
    /// failed too (the batch may or may not be replayed).
    pub(crate) fn take_back(&mut self, len: u64, cause: StoreError) -> StoreError {
        // Shrinking needs no space: only the sync is subject to faults.
        let undone = self
            .file
            .set_len(len)
            .and_then(|()| faults::check(&self.faults, FaultPlan::sync))
            .and_then(|()| self.file.sync_all());
        match undone {
            Ok(()) => {
                self.len = len;
                cause
            }
            Err(e) => {
                tracing::error!(error = %e, "taking a failed batch back out of the write-ahead log failed");
                StoreError::OutcomeUnknown(format!(
                    "{cause}; taking the batch back out of the log failed too ({e})"
                ))
            }
        }
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
        self.unsynced = false;
        Ok(())
    }
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("write-ahead log {}: {e}", path.display()))
}

/// What opening does with a log damaged in the middle (see the module
/// docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Recovery {
    /// Refuse to start ([`StoreError::LogDamaged`]).
    #[default]
    Strict,
    /// Replay the batches before the damage, discard the rest (acknowledged
    /// writes among them are lost): `--accept-log-loss`.
    AcceptLoss,
}

/// A batch's record as read: `(seq, redo payload)`.
type Record = (u64, Vec<u8>);

/// The log as read: its valid records up to the first bad one, in order.
#[derive(Debug, PartialEq)]
struct LogContents {
    records: Vec<Record>,
    /// The first bad record: its offset and the valid records found after
    /// it (`(offset, seq)`); none when the file ends cleanly.
    damage: Option<(u64, Vec<(u64, u64)>)>,
    file_bytes: u64,
}

/// The record at `at` of `bytes`, if it is whole and its checksum holds:
/// `(seq, payload range end)`.
fn record_at(bytes: &[u8], at: usize) -> Option<(u64, &[u8], usize)> {
    let h = bytes.get(at..at.checked_add(HEADER)?)?;
    let magic = u32::from_le_bytes(h[0..4].try_into().ok()?);
    if magic != MAGIC {
        return None;
    }
    let seq = u64::from_le_bytes(h[4..12].try_into().ok()?);
    let len = u32::from_le_bytes(h[12..16].try_into().ok()?) as usize;
    let sum = u64::from_le_bytes(h[16..24].try_into().ok()?);
    let start = at + HEADER;
    let payload = bytes.get(start..start.checked_add(len)?)?;
    (checksum(seq, payload) == sum).then_some((seq, payload, start + len))
}

/// The log at `path` (see [`LogContents`]).
fn read_records(path: &Path) -> StoreResult<LogContents> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes).map_err(|e| io(path, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(path, e)),
    }
    let mut records = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let Some((seq, payload, next)) = record_at(&bytes, at) else {
            break;
        };
        records.push((seq, payload.to_vec()));
        at = next;
    }
    let damage = (at < bytes.len()).then(|| {
        // Every whole, valid record after the bad one, wherever it starts.
        let mut after = Vec::new();
        let mut i = at + 1;
        while i + HEADER <= bytes.len() {
            match record_at(&bytes, i) {
                Some((seq, _, next)) => {
                    after.push((i as u64, seq));
                    i = next;
                }
                None => i += 1,
            }
        }
        (at as u64, after)
    });
    Ok(LogContents {
        records,
        damage,
        file_bytes: bytes.len() as u64,
    })
}

/// The batches of `log` to replay over a database at `durable` (the last
/// batch it holds), or the error that stops the start.
fn to_replay(
    path: &Path,
    log: LogContents,
    durable: u64,
    recovery: Recovery,
) -> StoreResult<(Vec<Record>, bool)> {
    let mut lossy = false;
    if let Some((offset, after)) = &log.damage {
        let lost: Vec<u64> = after
            .iter()
            .map(|(_, seq)| *seq)
            .filter(|seq| *seq > durable)
            .collect();
        if lost.is_empty() {
            tracing::warn!(
                valid_bytes = offset,
                file_bytes = log.file_bytes,
                "the write-ahead log ends with an incomplete record (a batch that was never acknowledged); ignoring it"
            );
        } else if recovery == Recovery::AcceptLoss {
            lossy = true;
            tracing::error!(
                offset,
                lost_batches = lost.len(),
                first_lost = lost[0],
                "the write-ahead log is damaged in the middle; --accept-log-loss: replaying the batches before the damage and discarding {} later ones",
                lost.len()
            );
        } else {
            return Err(StoreError::LogDamaged {
                path: path.display().to_string(),
                offset: *offset,
                batches_after: lost.len() as u64,
            });
        }
    }
    let records = log
        .records
        .into_iter()
        .filter(|(s, _)| *s > durable)
        .collect();
    Ok((records, lossy))
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
    recovery: Recovery,
) -> StoreResult<(Wal, u64)> {
    let mut seq = durable_seq(db)?;
    let (pending, lossy) = to_replay(path, read_records(path)?, seq, recovery)?;
    if lossy {
        // What is discarded stays readable beside the database.
        let mut kept = path.as_os_str().to_os_string();
        kept.push(".damaged");
        std::fs::copy(path, &kept).map_err(|e| io(path, e))?;
        tracing::error!(copy = %Path::new(&kept).display(), "the damaged log is kept as a copy");
    }
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

    fn redo(v: u64) -> Vec<u8> {
        let mut a = Vec::new();
        push_redo(&mut a, "meta", b"k", Some(&v.to_le_bytes()));
        a
    }

    /// A log of batches 1..=n; returns its bytes and each record's offset.
    fn log_of(path: &Path, n: u64) -> (Vec<u8>, Vec<u64>) {
        let mut wal = Wal::open_empty(path, None).unwrap();
        let mut offsets = Vec::new();
        for seq in 1..=n {
            offsets.push(wal.len());
            wal.append(seq, &redo(seq), true).unwrap();
        }
        (std::fs::read(path).unwrap(), offsets)
    }

    fn replayed(path: &Path, durable: u64, recovery: Recovery) -> StoreResult<Vec<u64>> {
        let (records, _) = to_replay(path, read_records(path)?, durable, recovery)?;
        Ok(records.into_iter().map(|(s, _)| s).collect())
    }

    #[test]
    fn replay_stops_at_a_torn_or_corrupt_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wal");
        let (full, _) = log_of(&path, 2);
        assert_eq!(replayed(&path, 0, Recovery::Strict).unwrap(), [1, 2]);
        // a torn tail: the second record cut short
        std::fs::write(&path, &full[..full.len() - 3]).unwrap();
        assert_eq!(replayed(&path, 0, Recovery::Strict).unwrap(), [1]);
        // a flipped byte in the last record's payload
        let mut bad = full.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(replayed(&path, 0, Recovery::Strict).unwrap(), [1]);
    }

    #[test]
    fn damage_before_acknowledged_batches_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wal");
        let (full, offsets) = log_of(&path, 5);
        // Flip a byte in the payload of batch 2, and, separately, in its
        // header's length: either way 3, 4 and 5 follow, valid.
        for at in [offsets[1] as usize + HEADER, offsets[1] as usize + 12] {
            let mut bad = full.clone();
            bad[at] ^= 0x40;
            std::fs::write(&path, &bad).unwrap();
            match replayed(&path, 0, Recovery::Strict) {
                Err(StoreError::LogDamaged {
                    offset,
                    batches_after,
                    ..
                }) => assert_eq!((offset, batches_after), (offsets[1], 3)),
                other => panic!("damage at {at}: {other:?}"),
            }
            let message = replayed(&path, 0, Recovery::Strict)
                .unwrap_err()
                .to_string();
            for part in ["x.wal", "shopd backup restore", "--accept-log-loss"] {
                assert!(message.contains(part), "{part}: {message}");
            }
            // The operator accepts the loss: what precedes the damage.
            assert_eq!(replayed(&path, 0, Recovery::AcceptLoss).unwrap(), [1]);
            // Batches the database already holds are no loss.
            assert_eq!(
                replayed(&path, 5, Recovery::Strict).unwrap(),
                Vec::<u64>::new()
            );
            // Batch 5 is not held yet: still a loss.
            assert!(replayed(&path, 4, Recovery::Strict).is_err());
        }
        // Zeros over the middle (a lost page): the same.
        let mut zeroed = full.clone();
        zeroed[offsets[2] as usize..offsets[3] as usize].fill(0);
        std::fs::write(&path, &zeroed).unwrap();
        assert!(matches!(
            replayed(&path, 0, Recovery::Strict),
            Err(StoreError::LogDamaged {
                batches_after: 2,
                ..
            })
        ));
    }

    #[test]
    fn recovery_with_accepted_loss_keeps_a_copy_of_the_damaged_log() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("x.redb")).unwrap();
        {
            let txn = db.begin_write().unwrap();
            crate::store::schema::create_all(&txn).unwrap();
            txn.commit().unwrap();
        }
        let path = dir.path().join("x.redb.wal");
        let (mut bad, offsets) = log_of(&path, 3);
        bad[offsets[1] as usize + HEADER] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        let e = recover(&db, &path, None, Recovery::Strict).err().unwrap();
        assert!(matches!(e, StoreError::LogDamaged { .. }), "{e}");
        // Refusing changed nothing: the log is as it was.
        assert_eq!(std::fs::read(&path).unwrap(), bad);
        let (wal, seq) = recover(&db, &path, None, Recovery::AcceptLoss).unwrap();
        assert_eq!((seq, wal.len()), (1, 0));
        assert_eq!(
            std::fs::read(dir.path().join("x.redb.wal.damaged")).unwrap(),
            bad
        );
    }

    #[test]
    fn a_record_whose_sync_fails_is_taken_back_out_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wal");
        let plan = FaultPlan::new();
        let mut wal = Wal::open_empty(&path, Some(plan.clone())).unwrap();
        wal.append(1, &redo(1), true).unwrap();
        let kept = wal.len();
        plan.fail_one_sync_after(0, faults::EIO);
        let e = wal.append(2, &redo(2), true).unwrap_err();
        assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), kept);
        assert_eq!(replayed(&path, 0, Recovery::Strict).unwrap(), [1]);
        // When taking it back fails too, the outcome is unknown.
        plan.fail_syncs_after(0, faults::EIO);
        let e = wal.append(2, &redo(2), true).unwrap_err();
        assert!(matches!(e, StoreError::OutcomeUnknown(_)), "{e}");
    }

    /// Fuzz targets of the log's readers (run longer by `benches/fuzz.sh`):
    /// whatever the bytes, reading answers records or an error, never a
    /// panic, and never a record that was not written.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            crate::domain::fuzzing::config(1024)
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn the_log_reader_returns_for_arbitrary_bytes(
                bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                durable in 0u64..8,
            ) {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("x.wal");
                std::fs::write(&path, &bytes).unwrap();
                let log = read_records(&path).unwrap();
                let _ = to_replay(&path, log, durable, Recovery::Strict);
            }

            #[test]
            fn a_damaged_log_yields_only_records_that_were_written(
                edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0..3u8), 1..6),
            ) {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("x.wal");
                let (mut bytes, _) = log_of(&path, 6);
                let written: Vec<(u64, Vec<u8>)> = (1..=6).map(|s| (s, redo(s))).collect();
                for (at, byte, kind) in edits {
                    let at = at % (bytes.len() + 1);
                    match kind {
                        0 if at < bytes.len() => bytes[at] ^= byte | 1,
                        1 => bytes.insert(at, byte),
                        _ => bytes.truncate(at),
                    }
                }
                std::fs::write(&path, &bytes).unwrap();
                let log = read_records(&path).unwrap();
                // The readable prefix is written records, in order.
                prop_assert!(log.records.len() <= written.len());
                prop_assert_eq!(&log.records[..], &written[..log.records.len()]);
                match to_replay(&path, log, 0, Recovery::Strict) {
                    Ok((records, _)) => {
                        prop_assert_eq!(&records[..], &written[..records.len()]);
                    }
                    Err(e) => prop_assert!(matches!(e, StoreError::LogDamaged { .. }), "{}", e),
                }
            }

            #[test]
            fn replaying_arbitrary_redo_bytes_applies_or_refuses(
                payload in prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..512),
                    // Well-formed changes with any key and value bytes, to
                    // tables of every key and value type.
                    proptest::collection::vec(
                        (
                            proptest::sample::select(vec![
                                "meta", "products", "product_ratings", "idx_by_price",
                                "product_counts", "job_counts", "jobs_sched", "commerce_seq",
                                "orders_by_number", "discount_uses", "search_queries", "users",
                            ]),
                            proptest::collection::vec(any::<u8>(), 0..24),
                            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..24)),
                        ),
                        1..4,
                    )
                    .prop_map(|changes| {
                        let mut out = Vec::new();
                        for (table, key, value) in changes {
                            push_redo(&mut out, table, &key, value.as_deref());
                        }
                        out
                    }),
                    Just(redo(7)).prop_flat_map(|r| {
                        let n = r.len();
                        (Just(r), 0..n, any::<u8>()).prop_map(|(mut r, at, b)| {
                            r[at] ^= b | 1;
                            r
                        })
                    }),
                ],
            ) {
                let dir = tempfile::tempdir().unwrap();
                let db = redb::Database::create(dir.path().join("x.redb")).unwrap();
                let txn = db.begin_write().unwrap();
                crate::store::schema::create_all(&txn).unwrap();
                let _ = replay(&txn, &payload);
                txn.abort().unwrap();
            }
        }
    }
}
