//! The leader's log of recent commits, and the change-batch wire format.
//!
//! The log holds every commit after its `base` position, in order, each
//! with its table changes (redo bytes) and change set, bounded by bytes and
//! age: the oldest go first. A follower at position `P` can be served from
//! the log while `base <= P <= head`; further behind, it bootstraps from a
//! snapshot. A commit without redo bytes (a bulk import) cannot be
//! shipped: the log restarts after it, so followers bootstrap again.
//!
//! # Wire format of a change batch
//! `"SRCB" ‖ version u8 ‖ head u64 ‖ count u32 ‖ count × (position u64 ‖
//! generation u64 ‖ changes_len u32 ‖ changes (JSON) ‖ redo_len u32 ‖ redo)
//! ‖ sha256 of everything before` (integers little-endian). A follower
//! checks the digest before it reads anything.

use super::{ReplicationError, ReplicationResult};
use crate::store::Commit;
use crate::store::db::snapshot::ReplicatedCommit;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MAGIC: &[u8; 4] = b"SRCB";
const VERSION: u8 = 1;

struct Entry {
    position: u64,
    generation: u64,
    at: Instant,
    changes: Vec<u8>,
    redo: Arc<Vec<u8>>,
}

impl Entry {
    fn bytes(&self) -> u64 {
        (self.changes.len() + self.redo.len() + 24) as u64
    }
}

struct State {
    /// Commits after this position are in `entries`.
    base: u64,
    entries: VecDeque<Entry>,
    bytes: u64,
}

impl State {
    fn head(&self) -> u64 {
        self.entries.back().map_or(self.base, |e| e.position)
    }

    fn evict(&mut self, max_bytes: u64, max_age: Duration) {
        while let Some(front) = self.entries.front() {
            if self.bytes <= max_bytes && front.at.elapsed() <= max_age {
                break;
            }
            self.bytes -= front.bytes();
            self.base = front.position;
            self.entries.pop_front();
        }
    }
}

/// The log; shared by the writer thread (pushes) and request handlers.
pub(crate) struct ChangeLog {
    state: Mutex<State>,
    max_bytes: u64,
    max_age: Duration,
}

impl ChangeLog {
    /// An empty log at `position` (the store's, when the leader starts).
    pub(crate) fn new(position: u64, max_bytes: u64, max_age: Duration) -> ChangeLog {
        ChangeLog {
            state: Mutex::new(State {
                base: position,
                entries: VecDeque::new(),
                bytes: 0,
            }),
            max_bytes,
            max_age,
        }
    }

    /// Empties the log at `position` (the store opened there): followers
    /// further behind bootstrap.
    pub(crate) fn restart(&self, position: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.entries.clear();
            s.bytes = 0;
            s.base = position;
        }
    }

    /// Adds a commit (on the writer thread, before it is acknowledged).
    pub(crate) fn push(&self, commit: &Commit) {
        let Ok(mut s) = self.state.lock() else { return };
        let Some(redo) = &commit.redo else {
            // Nothing to ship: followers must bootstrap past this commit.
            s.entries.clear();
            s.bytes = 0;
            s.base = commit.position;
            return;
        };
        if commit.position != s.head() + 1 {
            tracing::warn!(
                position = commit.position,
                head = s.head(),
                "replication log: a commit out of order; restarting the log"
            );
            s.entries.clear();
            s.bytes = 0;
            s.base = commit.position;
            return;
        }
        let entry = Entry {
            position: commit.position,
            generation: commit.generation,
            at: Instant::now(),
            changes: serde_json::to_vec(&commit.changes).unwrap_or_default(),
            redo: redo.clone(),
        };
        s.bytes += entry.bytes();
        s.entries.push_back(entry);
        s.evict(self.max_bytes, self.max_age);
    }

    /// Whether a follower at `position` can be served from the log.
    pub(crate) fn covers(&self, position: u64) -> bool {
        self.state.lock().is_ok_and(|mut s| {
            s.evict(self.max_bytes, self.max_age);
            s.base <= position && position <= s.head()
        })
    }

    /// (entries, bytes) held.
    pub(crate) fn size(&self) -> (usize, u64) {
        self.state
            .lock()
            .map_or((0, 0), |s| (s.entries.len(), s.bytes))
    }

    /// The encoded batch of the commits after `since` up to `synced` (the
    /// last position that survives a power cut), at most about `max_bytes`
    /// (always at least one commit when there is one). The batch's head is
    /// the last position a follower may have now.
    pub(crate) fn batch_since(
        &self,
        since: u64,
        max_bytes: usize,
        synced: u64,
    ) -> ReplicationResult<Vec<u8>> {
        let Ok(mut s) = self.state.lock() else {
            return Err(ReplicationError::Io("replication log lock poisoned".into()));
        };
        s.evict(self.max_bytes, self.max_age);
        let last = s.head();
        if since > last {
            return Err(ReplicationError::Ahead { since, head: last });
        }
        let head = last.min(synced).max(since);
        if since < s.base {
            return Err(ReplicationError::Truncated {
                since,
                start: s.base,
            });
        }
        let skip = (since - s.base) as usize;
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&head.to_le_bytes());
        let count_at = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
        let mut count = 0u32;
        for e in s
            .entries
            .iter()
            .skip(skip)
            .take_while(|e| e.position <= head)
        {
            if count > 0 && out.len() + e.bytes() as usize > max_bytes {
                break;
            }
            out.extend_from_slice(&e.position.to_le_bytes());
            out.extend_from_slice(&e.generation.to_le_bytes());
            out.extend_from_slice(&(e.changes.len() as u32).to_le_bytes());
            out.extend_from_slice(&e.changes);
            out.extend_from_slice(&(e.redo.len() as u32).to_le_bytes());
            out.extend_from_slice(&e.redo);
            count += 1;
        }
        out[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
        drop(s);
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        Ok(out)
    }
}

/// A decoded change batch.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The leader's position when it answered.
    pub head: u64,
    pub commits: Vec<ReplicatedCommit>,
}

/// Checks and decodes a change batch; any flipped bit is an error.
pub(crate) fn decode(bytes: &[u8]) -> ReplicationResult<Batch> {
    let bad = |why: &str| ReplicationError::Corrupt(format!("change batch: {why}"));
    if bytes.len() < 4 + 1 + 8 + 4 + 32 {
        return Err(bad("too short"));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body)[..] != *digest {
        return Err(bad("checksum mismatch"));
    }
    if &body[..4] != MAGIC || body[4] != VERSION {
        return Err(bad("unknown format"));
    }
    let mut r = Reader { b: &body[5..] };
    let head = r.u64()?;
    let count = r.u32()?;
    let mut commits = Vec::with_capacity(count.min(1 << 16) as usize);
    for _ in 0..count {
        let position = r.u64()?;
        let generation = r.u64()?;
        let n = r.u32()? as usize;
        let changes = serde_json::from_slice(r.take(n)?)
            .map_err(|e| bad(&format!("change set of commit {position}: {e}")))?;
        let n = r.u32()? as usize;
        let redo = r.take(n)?.to_vec();
        commits.push(ReplicatedCommit {
            position,
            generation,
            changes,
            redo,
        });
    }
    if !r.b.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(Batch { head, commits })
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> ReplicationResult<&'a [u8]> {
        if self.b.len() < n {
            return Err(ReplicationError::Corrupt("change batch: truncated".into()));
        }
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(a)
    }
    fn u64(&mut self) -> ReplicationResult<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn u32(&mut self) -> ReplicationResult<u32> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(position: u64, redo: &[u8]) -> Commit {
        Commit {
            generation: position,
            position,
            changes: Default::default(),
            redo: Some(Arc::new(redo.to_vec())),
        }
    }

    #[test]
    fn serves_what_it_holds_and_refuses_the_rest() {
        let log = ChangeLog::new(10, 1 << 20, Duration::from_secs(60));
        for p in 11..=15 {
            log.push(&commit(p, &[p as u8; 10]));
        }
        let b = decode(&log.batch_since(12, 1 << 20, u64::MAX).unwrap()).unwrap();
        assert_eq!(b.head, 15);
        assert_eq!(
            b.commits.iter().map(|c| c.position).collect::<Vec<_>>(),
            vec![13, 14, 15]
        );
        assert_eq!(b.commits[0].redo, vec![13u8; 10]);
        assert!(
            decode(&log.batch_since(15, 1 << 20, u64::MAX).unwrap())
                .unwrap()
                .commits
                .is_empty()
        );
        assert!(matches!(
            log.batch_since(9, 1 << 20, u64::MAX),
            Err(ReplicationError::Truncated { .. })
        ));
        assert!(matches!(
            log.batch_since(16, 1 << 20, u64::MAX),
            Err(ReplicationError::Ahead { .. })
        ));
        // A size cap still returns one commit, and follows on.
        let b = decode(&log.batch_since(10, 1, u64::MAX).unwrap()).unwrap();
        assert_eq!(b.commits.len(), 1);
        // An import (no redo) restarts the log.
        log.push(&Commit {
            position: 16,
            ..Commit::default()
        });
        assert!(matches!(
            log.batch_since(15, 1 << 20, u64::MAX),
            Err(ReplicationError::Truncated { .. })
        ));
        assert!(log.covers(16));
    }

    #[test]
    fn ships_only_what_survives_a_power_cut() {
        let log = ChangeLog::new(10, 1 << 20, Duration::from_secs(60));
        for p in 11..=15 {
            log.push(&commit(p, &[p as u8; 10]));
        }
        // 14 and 15 are relaxed commits whose records are not fsynced yet.
        let b = decode(&log.batch_since(10, 1 << 20, 13).unwrap()).unwrap();
        assert_eq!(b.head, 13);
        assert_eq!(
            b.commits.iter().map(|c| c.position).collect::<Vec<_>>(),
            vec![11, 12, 13]
        );
        let b = decode(&log.batch_since(13, 1 << 20, 13).unwrap()).unwrap();
        assert!(b.commits.is_empty());
        assert_eq!(b.head, 13);
        let b = decode(&log.batch_since(13, 1 << 20, 15).unwrap()).unwrap();
        assert_eq!(b.commits.len(), 2);
    }

    #[test]
    fn evicts_past_its_byte_bound() {
        let log = ChangeLog::new(0, 200, Duration::from_secs(60));
        for p in 1..=10 {
            log.push(&commit(p, &[0u8; 40]));
        }
        assert!(!log.covers(0));
        assert!(log.covers(10));
        assert!(log.size().1 <= 200);
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let log = ChangeLog::new(0, 1 << 20, Duration::from_secs(60));
        log.push(&commit(1, b"abc"));
        let good = log.batch_since(0, 1 << 20, u64::MAX).unwrap();
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[i] ^= 1 << bit;
                assert!(decode(&bad).is_err(), "byte {i} bit {bit}");
            }
        }
        assert!(decode(&good[..good.len() - 1]).is_err());
    }

    /// Fuzz targets of the change-batch decoder (run longer by
    /// `benches/fuzz.sh`): any bytes decode or fail, never panic, and a
    /// batch changed anywhere never decodes.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            crate::domain::fuzzing::config(1024)
        }

        fn batch() -> Vec<u8> {
            let log = ChangeLog::new(0, 1 << 20, Duration::from_secs(60));
            for p in 1..=4 {
                log.push(&commit(p, &[p as u8; 30]));
            }
            log.batch_since(0, 1 << 20, u64::MAX).unwrap()
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn decoding_arbitrary_bytes_returns(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
                let _ = decode(&bytes);
            }

            #[test]
            fn a_changed_batch_never_decodes(
                edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0..3u8), 1..4),
            ) {
                let good = batch();
                let mut bytes = good.clone();
                for (at, byte, kind) in edits {
                    let at = at % (bytes.len() + 1);
                    match kind {
                        0 if at < bytes.len() => bytes[at] ^= byte | 1,
                        1 => bytes.insert(at, byte),
                        _ => bytes.truncate(at),
                    }
                }
                prop_assume!(bytes != good);
                prop_assert!(decode(&bytes).is_err());
            }
        }
    }
}
