//! Replication and backups: read-only followers kept current from a
//! leader, and copies of the whole shop in a directory or S3.
//!
//! - [`log`]: the leader's bounded log of recent commits and the wire
//!   format of a change batch.
//! - [`artifact`]: a snapshot — every table from one read transaction, as
//!   checksummed parts and a manifest — and installing one into an empty
//!   data dir with its search index built.
//! - [`follower`]: bootstrapping from a leader's snapshot and the loop
//!   that applies its change batches.
//! - [`backup`]: the same artefact kept in a directory or an S3 bucket.
//!
//! # Roles and invariants
//! - Every `shopd serve` is a leader; with a replication token it serves
//!   snapshots and change batches. With `--follow URL` it is a follower: its
//!   store is read-only, it runs no job workers, and it changes only by
//!   applying the leader's commits, in position order, one local
//!   transaction per fetched batch, through the same commit listener as a
//!   local write (search index, response cache).
//! - A follower's position is the leader's position it reflects: at
//!   position `P` its tables equal the leader's at `P`.
//! - Replication is asynchronous: a leader acknowledges a write without
//!   waiting for followers; losing the leader loses what no follower
//!   fetched yet (at most one interval of writes, plus any lag).
//! - A follower never has what its leader could lose: the leader ships a
//!   commit (in a change batch or a snapshot) only once it survives a power
//!   cut. A relaxed write (a job lease, an attempt's result, an API key's
//!   last use) is acknowledged before its log record is fsynced; it is
//!   shipped with the next synced write or checkpoint (at most
//!   `--checkpoint-every` later). So a leader restarted after any crash
//!   still holds every commit its followers hold, and their positions
//!   mean the same rows.

pub(crate) mod artifact;
pub mod backup;
pub(crate) mod follower;
pub(crate) mod log;

use crate::config::backups::BackupSettings;
use crate::config::data_dir::DataDir;
use crate::config::replication::ReplicationSettings;
use crate::store::{Commit, Store};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    /// The leader cannot answer from its log: the follower must bootstrap
    /// again.
    #[error(
        "the leader's log no longer holds commits after position {since} (it starts at {start}); bootstrap again"
    )]
    Truncated { since: u64, start: u64 },
    /// The follower says it is ahead of the leader (a leader restored from
    /// an older backup): bootstrap again.
    #[error("position {since} is ahead of the leader's {head}")]
    Ahead { since: u64, head: u64 },
    /// A snapshot or batch failed its checks; nothing was changed.
    #[error("rejected: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Remote(String),
    #[error("no snapshot part named {0}")]
    NoSuchPart(String),
}

pub(crate) type ReplicationResult<T> = Result<T, ReplicationError>;

/// The replication service: this process's role, and what the API asks of
/// it. Cheap to clone.
#[derive(Clone)]
pub struct Replication {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    settings: ReplicationSettings,
    backups: BackupSettings,
    data_dir: PathBuf,
    /// The leader's log and the position waiters (what commits feed).
    feed: Feed,
    /// The leader's snapshots, made on demand and reused while followable.
    snapshots: tokio::sync::Mutex<Option<artifact::Manifest>>,
    /// The follower's state (`None` on a leader).
    follower: Option<Arc<follower::FollowerState>>,
    /// Followers seen by this leader: peer address → (position asked
    /// from, when). For the admin overview.
    seen: std::sync::Mutex<std::collections::HashMap<String, (u64, std::time::Instant)>>,
    /// What scheduled backups have done (`/metrics`).
    backup_health: Arc<backup::BackupHealth>,
}

/// A follower as its leader last saw it.
#[derive(Debug, Clone)]
pub(crate) struct SeenFollower {
    /// The peer address of its connection.
    pub name: String,
    /// Seconds since it last asked: it then received every commit up to
    /// that moment (when they fit one batch), so its data is about this
    /// old.
    pub lag_secs: f64,
}

/// The replication part of what a commit sets off (`services::
/// CommitDispatch`): a leader's log of recent commits, when it serves
/// followers, and the position that requests wait for
/// (`X-Min-Generation`). Made before the store opens, and holds no store;
/// cheap to clone.
#[derive(Clone)]
pub struct Feed {
    inner: Arc<FeedInner>,
}

struct FeedInner {
    /// `None` on a follower or with replication off.
    log: Option<log::ChangeLog>,
    /// The committed position, for requests that wait for one.
    position: tokio::sync::watch::Sender<u64>,
    /// The last position that survives a power cut: followers are served
    /// commits up to here only, so a leader that loses unsynced commits
    /// (relaxed writes, a power cut) never has shipped them.
    synced: std::sync::atomic::AtomicU64,
}

impl Feed {
    /// A leader with a replication token keeps a log; others do not.
    pub(crate) fn new(settings: &ReplicationSettings) -> Feed {
        let log = (settings.follow.is_none() && settings.token.is_some())
            .then(|| log::ChangeLog::new(0, settings.log_bytes, settings.log_age));
        Feed {
            inner: Arc::new(FeedInner {
                log,
                position: tokio::sync::watch::Sender::new(0),
                synced: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// The store opened at `position`: the log starts there.
    pub(crate) fn opened(&self, position: u64) {
        if let Some(log) = &self.inner.log {
            log.restart(position);
        }
        self.inner.position.send_replace(position);
        self.inner
            .synced
            .store(position, std::sync::atomic::Ordering::Release);
    }

    /// Commits up to `position` survive a power cut: followers may have
    /// them.
    pub(crate) fn synced(&self, position: u64) {
        self.inner
            .synced
            .fetch_max(position, std::sync::atomic::Ordering::AcqRel);
    }

    /// A commit joins the log of a leader, and requests waiting for its
    /// position go on.
    pub(crate) fn committed(&self, commit: &Commit) {
        if let Some(log) = &self.inner.log {
            log.push(commit);
        }
        self.inner.position.send_replace(commit.position);
    }
}

/// Followers silent for longer than this are dropped from the list.
const FORGET_FOLLOWER_AFTER: Duration = Duration::from_secs(60);

impl Replication {
    /// The service over `store`, whose commits feed `feed` (made from the
    /// same `settings`).
    pub(crate) fn new(
        store: Store,
        feed: Feed,
        settings: ReplicationSettings,
        backups: BackupSettings,
        data: &DataDir,
    ) -> Replication {
        let follower = settings
            .follow
            .as_ref()
            .map(|_| Arc::new(follower::FollowerState::new(&settings)));
        Replication {
            inner: Arc::new(Inner {
                store,
                settings,
                backups,
                data_dir: data.path().to_path_buf(),
                feed,
                snapshots: tokio::sync::Mutex::new(None),
                follower,
                seen: Default::default(),
                backup_health: Default::default(),
            }),
        }
    }

    pub(crate) fn settings(&self) -> &ReplicationSettings {
        &self.inner.settings
    }

    /// The follower's state, when this process is one.
    pub(crate) fn follower(&self) -> Option<&Arc<follower::FollowerState>> {
        self.inner.follower.as_ref()
    }

    /// Whether the leader side is on (a token is set, not a follower).
    pub(crate) fn serves_followers(&self) -> bool {
        self.inner.feed.inner.log.is_some()
    }

    /// Whether `token` is the replication token (constant time).
    pub(crate) fn token_matches(&self, token: &str) -> bool {
        self.inner
            .settings
            .token
            .as_ref()
            .is_some_and(|t| t.matches(token))
    }

    /// The committed position: what `X-Generation` reports.
    pub(crate) fn position(&self) -> u64 {
        self.inner.store.position()
    }

    /// Waits up to `timeout` for the position to reach `at`; whether it did.
    pub(crate) async fn wait_for(&self, at: u64, timeout: Duration) -> bool {
        if self.position() >= at {
            return true;
        }
        let mut rx = self.inner.feed.inner.position.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|p| *p >= at))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The change batch after position `since` (a leader's `GET
    /// /replication/changes`), at most about `max_bytes`.
    pub(crate) fn changes_since(&self, since: u64, max_bytes: usize) -> ReplicationResult<Vec<u8>> {
        let log = self
            .inner
            .feed
            .inner
            .log
            .as_ref()
            .ok_or_else(|| ReplicationError::Remote("replication is off".into()))?;
        let synced = self
            .inner
            .feed
            .inner
            .synced
            .load(std::sync::atomic::Ordering::Acquire);
        log.batch_since(since, max_bytes, synced)
    }

    /// Records that the follower at `peer` asked for the commits after
    /// `since`.
    pub(crate) fn note_follower(&self, peer: String, since: u64) {
        if let Ok(mut seen) = self.inner.seen.lock() {
            seen.retain(|_, (_, at)| at.elapsed() < FORGET_FOLLOWER_AFTER);
            seen.insert(peer, (since, std::time::Instant::now()));
        }
    }

    /// The followers that asked in the last minute, by peer address.
    pub(crate) fn followers(&self) -> Vec<SeenFollower> {
        let Ok(seen) = self.inner.seen.lock() else {
            return Vec::new();
        };
        let mut all: Vec<SeenFollower> = seen
            .iter()
            .filter(|(_, (_, at))| at.elapsed() < FORGET_FOLLOWER_AFTER)
            .map(|(name, (_, at))| SeenFollower {
                name: name.clone(),
                lag_secs: at.elapsed().as_secs_f64(),
            })
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Bounds of the leader's log, for `/metrics`: (entries, bytes).
    pub(crate) fn log_size(&self) -> Option<(usize, u64)> {
        self.inner.feed.inner.log.as_ref().map(|l| l.size())
    }

    /// A snapshot a follower can bootstrap from: the latest one when its
    /// position is still in the log, else a new one (made on a blocking
    /// thread from one read transaction; writers go on meanwhile).
    pub(crate) async fn snapshot(&self) -> ReplicationResult<artifact::Manifest> {
        let mut latest = self.inner.snapshots.lock().await;
        if let (Some(m), Some(log)) = (latest.as_ref(), &self.inner.feed.inner.log)
            && log.covers(m.position)
            && self
                .snapshot_dir(m.position)
                .join(artifact::MANIFEST)
                .exists()
        {
            return Ok(m.clone());
        }
        let store = self.inner.store.clone();
        let root = self.snapshots_root();
        let data_dir = self.inner.data_dir.clone();
        let manifest =
            tokio::task::spawn_blocking(move || artifact::produce_in(&store, &data_dir, &root))
                .await
                .map_err(|e| ReplicationError::Io(e.to_string()))??;
        // A follower installs it whole: it must hold nothing a power cut
        // could still take from this leader (a relaxed write's unsynced
        // record).
        self.inner.store.sync().await?;
        *latest = Some(manifest.clone());
        Ok(manifest)
    }

    /// The bytes of one part of the snapshot at `position`.
    pub(crate) async fn snapshot_part(
        &self,
        position: u64,
        name: &str,
    ) -> ReplicationResult<Vec<u8>> {
        if !artifact::is_part_name(name) {
            return Err(ReplicationError::NoSuchPart(name.into()));
        }
        let path = self.snapshot_dir(position).join(name);
        tokio::fs::read(&path)
            .await
            .map_err(|_| ReplicationError::NoSuchPart(name.into()))
    }

    fn snapshots_root(&self) -> PathBuf {
        self.inner.data_dir.join("replication").join("snapshots")
    }

    fn snapshot_dir(&self, position: u64) -> PathBuf {
        self.snapshots_root().join(artifact::dir_name(position))
    }

    /// Starts the follower's loop (a follower only).
    pub(crate) fn start_following(&self) -> Option<tokio::task::JoinHandle<()>> {
        let state = self.inner.follower.clone()?;
        let store = self.inner.store.clone();
        let data_dir = self.inner.data_dir.clone();
        let settings = self.inner.settings.clone();
        Some(tokio::spawn(follower::run(
            state, store, data_dir, settings,
        )))
    }

    /// The scheduled-backup job handler, when `--backup-to` is set (a
    /// leader only): the caller registers it with the job queue.
    pub(crate) fn backup_job(
        &self,
    ) -> Option<(std::time::Duration, Arc<dyn crate::jobs::Handler>)> {
        if self.inner.follower.is_some() {
            return None;
        }
        let target = self.inner.backups.to.clone()?;
        Some((
            self.inner.backups.every,
            Arc::new(backup::ScheduledBackup {
                store: self.inner.store.clone(),
                data_dir: self.inner.data_dir.clone(),
                target,
                keep: self.inner.backups.keep,
                media: self.inner.backups.media.clone(),
                health: self.inner.backup_health.clone(),
            }),
        ))
    }

    /// How often scheduled backups run and what they have done, when this
    /// node takes them (`--backup-to`, a leader).
    pub(crate) fn backup_health(&self) -> Option<(Duration, &backup::BackupHealth)> {
        (self.inner.follower.is_none() && self.inner.backups.to.is_some())
            .then(|| (self.inner.backups.every, &*self.inner.backup_health))
    }

    /// Learns when the newest backup already in `--backup-to` was taken, so
    /// that a restart does not forget it (a leader with scheduled backups
    /// only; a target that cannot be listed is logged and left unknown).
    pub(crate) async fn learn_last_backup(&self) {
        let Some(target) = self.backup_health().and(self.inner.backups.to.as_ref()) else {
            return;
        };
        match backup::list(target).await {
            Ok(found) => {
                if let Some(newest) = found.last() {
                    self.inner.backup_health.taken(&newest.manifest);
                }
            }
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "listing the backup target to find the newest backup failed"
            ),
        }
    }
}
