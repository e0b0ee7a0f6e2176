//! The follower: bootstrap from the leader's snapshot, then apply its
//! change batches every interval.
//!
//! # Staleness
//! The follower knows it was caught up at time `T` when a fetch sent at `T`
//! returned every commit up to the head the leader reported; its data is
//! then at most `now - T` old. That is the lag it reports
//! (`X-Replica-Lag-Ms`, `/ready`, `/metrics`), and it keeps growing while
//! the leader cannot be reached: a follower whose leader is down keeps
//! serving and says how stale it is.

use super::artifact::{self, Manifest};
use super::log;
use super::{ReplicationError, ReplicationResult};
use crate::config::replication::ReplicationSettings;
use crate::store::Store;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Most bytes asked for in one change batch.
const BATCH_BYTES: usize = 8 << 20;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What the follower knows about itself and its leader (read by `/ready`,
/// `/metrics` and the response headers).
pub(crate) struct FollowerState {
    pub leader: String,
    pub max_lag: Duration,
    /// When the follower was last known to be caught up (Unix ms; 0 never).
    caught_up_at: AtomicU64,
    /// When the leader last answered (Unix ms; 0 never).
    last_contact: AtomicU64,
    /// The leader's position at the last contact.
    leader_head: AtomicU64,
    pub bytes_received: AtomicU64,
    pub commits_applied: AtomicU64,
    pub batches_applied: AtomicU64,
    pub batches_rejected: AtomicU64,
    pub bootstraps: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl FollowerState {
    pub(crate) fn new(settings: &ReplicationSettings) -> FollowerState {
        FollowerState {
            leader: settings.follow.clone().unwrap_or_default(),
            max_lag: settings.follow_max_lag,
            caught_up_at: AtomicU64::new(0),
            last_contact: AtomicU64::new(0),
            leader_head: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            commits_applied: AtomicU64::new(0),
            batches_applied: AtomicU64::new(0),
            batches_rejected: AtomicU64::new(0),
            bootstraps: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    /// Milliseconds the served data may be behind the leader; `None` until
    /// the follower first caught up.
    pub(crate) fn lag_ms(&self) -> Option<u64> {
        match self.caught_up_at.load(Relaxed) {
            0 => None,
            t => Some(now_ms().saturating_sub(t)),
        }
    }

    /// Commits the leader had that this follower had not, at the last
    /// contact.
    pub(crate) fn lag_commits(&self, position: u64) -> u64 {
        self.leader_head.load(Relaxed).saturating_sub(position)
    }

    /// Seconds since the leader last answered; `None` if it never did.
    pub(crate) fn since_contact_secs(&self) -> Option<f64> {
        match self.last_contact.load(Relaxed) {
            0 => None,
            t => Some(now_ms().saturating_sub(t) as f64 / 1000.0),
        }
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// `Ok(lag)` when within the bound, `Err(why)` otherwise (`/ready`).
    pub(crate) fn readiness(&self) -> Result<u64, String> {
        match self.lag_ms() {
            None => Err(format!(
                "not caught up with the leader {} yet{}",
                self.leader,
                self.last_error()
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            )),
            Some(ms) if ms > self.max_lag.as_millis() as u64 => Err(format!(
                "{ms} ms behind the leader {} (bound {} ms){}",
                self.leader,
                self.max_lag.as_millis(),
                self.last_error()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            )),
            Some(ms) => Ok(ms),
        }
    }

    fn failed(&self, e: &ReplicationError) {
        if let Ok(mut l) = self.last_error.lock() {
            *l = Some(e.to_string());
        }
    }

    fn contact(&self, head: u64) {
        self.last_contact.store(now_ms(), Relaxed);
        self.leader_head.store(head, Relaxed);
        if let Ok(mut l) = self.last_error.lock() {
            *l = None;
        }
    }
}

/// The HTTP client a follower (and `backup create --from`) uses.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(600))
        .build()
        .expect("an HTTP client builds")
}

/// A leader's base URL and token.
pub(crate) struct LeaderLink<'a> {
    pub url: &'a str,
    pub token: &'a str,
}

impl LeaderLink<'_> {
    async fn get(
        &self,
        client: &reqwest::Client,
        path: &str,
        timeout: Duration,
    ) -> ReplicationResult<reqwest::Response> {
        let res = client
            .get(format!("{}{path}", self.url))
            .bearer_auth(self.token)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| ReplicationError::Remote(format!("leader {}: {e}", self.url)))?;
        Ok(res)
    }

    async fn bytes(
        &self,
        client: &reqwest::Client,
        path: &str,
        timeout: Duration,
    ) -> ReplicationResult<Vec<u8>> {
        let res = self.get(client, path, timeout).await?;
        let status = res.status();
        let body = res
            .bytes()
            .await
            .map_err(|e| ReplicationError::Remote(format!("leader {}: {e}", self.url)))?;
        if !status.is_success() {
            return Err(ReplicationError::Remote(format!(
                "leader {} answered {status} to {path}: {}",
                self.url,
                String::from_utf8_lossy(&body[..body.len().min(300)])
            )));
        }
        Ok(body.to_vec())
    }

    /// Downloads the leader's current snapshot into `dir` (emptied first),
    /// checking every part; returns its manifest.
    pub(crate) async fn download_snapshot(
        &self,
        client: &reqwest::Client,
        dir: &Path,
    ) -> ReplicationResult<(Manifest, u64)> {
        artifact::fresh_dir(dir).await?;
        let body = self
            .bytes(client, "/replication/snapshot", Duration::from_secs(600))
            .await?;
        let manifest = Manifest::parse(&body)?;
        let mut received = body.len() as u64;
        for part in manifest.all() {
            let path = format!("/replication/snapshot/{}/{}", manifest.position, part.name);
            let bytes = self.bytes(client, &path, Duration::from_secs(600)).await?;
            received += bytes.len() as u64;
            artifact::keep_checked(dir, part, bytes).await?;
        }
        Ok((manifest, received))
    }
}

fn download_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("replication").join("download")
}

/// Bootstraps an empty data dir from the leader: download, verify, build
/// the database and search index, move them in. Retries (every interval,
/// at most every 5 s) until it succeeds, so a follower may start before
/// its leader.
pub(crate) async fn bootstrap(
    settings: &ReplicationSettings,
    data_dir: &Path,
) -> ReplicationResult<()> {
    let client = client();
    let (Some(url), Some(token)) = (&settings.follow, &settings.token) else {
        return Err(ReplicationError::Remote("not a follower".into()));
    };
    let link = LeaderLink {
        url,
        token: token.expose(),
    };
    let dir = download_dir(data_dir);
    loop {
        let started = std::time::Instant::now();
        let attempt = async {
            let (manifest, bytes) = link.download_snapshot(&client, &dir).await?;
            let data = data_dir.to_path_buf();
            let parts = dir.clone();
            let m = manifest.clone();
            tokio::task::spawn_blocking(move || artifact::install(&data, &m, &parts))
                .await
                .map_err(|e| ReplicationError::Io(e.to_string()))??;
            Ok::<_, ReplicationError>((manifest, bytes))
        };
        match attempt.await {
            Ok((manifest, bytes)) => {
                let _ = tokio::fs::remove_dir_all(&dir).await;
                tracing::info!(
                    leader = %url,
                    position = manifest.position,
                    bytes,
                    ms = started.elapsed().as_millis() as u64,
                    "bootstrapped from the leader's snapshot"
                );
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(leader = %url, error = %e, "bootstrap failed; retrying");
                tokio::time::sleep(settings.follow_interval.max(Duration::from_millis(500))).await;
            }
        }
    }
}

/// The follower's loop: fetch what the leader committed since this
/// store's position, apply it, repeat every interval (at once while more
/// is waiting). Runs until the task is aborted.
pub(crate) async fn run(
    state: std::sync::Arc<FollowerState>,
    store: Store,
    data_dir: PathBuf,
    settings: ReplicationSettings,
) {
    let client = client();
    let (Some(url), Some(token)) = (settings.follow.clone(), settings.token.clone()) else {
        return;
    };
    let link = LeaderLink {
        url: &url,
        token: token.expose(),
    };
    let applier = Applier::start(store.clone());
    // Fixed-rate fetches: a fetch starts every interval whatever the last
    // one took, so a commit waits at most one interval plus one apply.
    let mut tick = tokio::time::interval(settings.follow_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut more = true;
    loop {
        if !more {
            tick.tick().await;
        }
        more = false;
        let sent_at = now_ms();
        let since = store.position();
        let path = format!("/replication/changes?since={since}&maxBytes={BATCH_BYTES}");
        let res = match link.get(&client, &path, Duration::from_secs(30)).await {
            Ok(r) => r,
            Err(e) => {
                state.failed(&e);
                continue;
            }
        };
        let status = res.status().as_u16();
        let body = match res.bytes().await {
            Ok(b) => b,
            Err(e) => {
                state.failed(&ReplicationError::Remote(e.to_string()));
                continue;
            }
        };
        state.bytes_received.fetch_add(body.len() as u64, Relaxed);
        match status {
            200 => {}
            410 | 409 => {
                tracing::warn!(
                    since,
                    status,
                    "the leader cannot serve this follower from its log; bootstrapping again"
                );
                match rebootstrap(&state, &link, &client, &store, &data_dir).await {
                    Ok(()) => more = true,
                    Err(e) => {
                        tracing::error!(error = %e, "re-bootstrap failed");
                        state.failed(&e);
                    }
                }
                continue;
            }
            _ => {
                state.failed(&ReplicationError::Remote(format!(
                    "leader {url} answered {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                )));
                continue;
            }
        }
        let batch = match log::decode(&body) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "rejected a change batch; nothing applied");
                state.batches_rejected.fetch_add(1, Relaxed);
                state.failed(&e);
                continue;
            }
        };
        let head = batch.head;
        let n = batch.commits.len() as u64;
        if n > 0 {
            match applier.apply(batch.commits).await {
                Ok(Ok(())) => {
                    state.commits_applied.fetch_add(n, Relaxed);
                    state.batches_applied.fetch_add(1, Relaxed);
                }
                Ok(Err(e)) => {
                    let e = ReplicationError::Store(e);
                    tracing::error!(error = %e, "applying a change batch failed; nothing applied");
                    state.batches_rejected.fetch_add(1, Relaxed);
                    state.failed(&e);
                    continue;
                }
                Err(e) => {
                    state.failed(&e);
                    continue;
                }
            }
        }
        state.contact(head);
        if store.position() >= head {
            state.caught_up_at.store(sent_at, Relaxed);
        } else {
            more = true;
        }
    }
}

/// The thread that applies batches, at a lower CPU priority (nice 10) than
/// the threads serving reads: on a busy machine, reads go first and
/// applying takes the idle time.
struct Applier {
    tx: std::sync::mpsc::Sender<(
        Vec<crate::store::db::snapshot::ReplicatedCommit>,
        tokio::sync::oneshot::Sender<crate::store::StoreResult<()>>,
    )>,
}

impl Applier {
    fn start(store: Store) -> Applier {
        let (tx, rx) = std::sync::mpsc::channel::<(
            Vec<crate::store::db::snapshot::ReplicatedCommit>,
            tokio::sync::oneshot::Sender<crate::store::StoreResult<()>>,
        )>();
        let spawned = std::thread::Builder::new()
            .name("shopd-replica-apply".into())
            .spawn(move || {
                // SAFETY: a plain syscall on the calling thread.
                unsafe {
                    let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                    libc::setpriority(libc::PRIO_PROCESS, tid, 10);
                }
                for (commits, reply) in rx {
                    let _ = reply.send(store.apply_replicated(&commits).map(|_| ()));
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the apply thread");
        }
        Applier { tx }
    }

    /// Applies `commits`; `Err(_)` on the outer level when the thread is gone.
    async fn apply(
        &self,
        commits: Vec<crate::store::db::snapshot::ReplicatedCommit>,
    ) -> Result<crate::store::StoreResult<()>, ReplicationError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send((commits, reply))
            .map_err(|_| ReplicationError::Io("the apply thread has stopped".into()))?;
        rx.await
            .map_err(|_| ReplicationError::Io("the apply thread has stopped".into()))
    }
}

/// Replaces every table with the leader's current snapshot, in place (the
/// follower keeps serving its old data until the replacement commits).
async fn rebootstrap(
    state: &FollowerState,
    link: &LeaderLink<'_>,
    client: &reqwest::Client,
    store: &Store,
    data_dir: &Path,
) -> ReplicationResult<()> {
    let dir = download_dir(data_dir);
    let (manifest, bytes) = link.download_snapshot(client, &dir).await?;
    state.bytes_received.fetch_add(bytes, Relaxed);
    let st = store.clone();
    let m = manifest.clone();
    let parts_dir = dir.clone();
    tokio::task::spawn_blocking(move || st.replace_all(&mut artifact::kept_parts(&m, &parts_dir)))
        .await
        .map_err(|e| ReplicationError::Io(e.to_string()))??;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    state.bootstraps.fetch_add(1, Relaxed);
    tracing::info!(
        position = manifest.position,
        bytes,
        "re-bootstrapped from the leader's snapshot"
    );
    Ok(())
}
