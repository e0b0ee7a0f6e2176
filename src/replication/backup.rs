//! Backups: the snapshot artefact kept in a directory or an S3-compatible
//! bucket, through `object_store` (one API for both; S3 credentials,
//! region and endpoint come from the usual `AWS_*` variables).
//!
//! Layout: `PREFIX/<id>/manifest.json` and its parts, `<id>` =
//! `20261202T150405Z-p<position>` (sorts by time). The manifest is uploaded
//! last, so a backup without one is incomplete and is not listed.

use super::artifact::{self, MANIFEST, Manifest};
use super::{ReplicationError, ReplicationResult};
use crate::config::backups::Target;
use crate::store::Store;
use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicI64, AtomicU64};
/// One backup found in a target.
#[derive(Debug, Clone)]
pub struct BackupEntry {
    pub id: String,
    pub manifest: Manifest,
}

fn remote(e: impl std::fmt::Display) -> ReplicationError {
    ReplicationError::Remote(e.to_string())
}

/// Opening a backup target through object_store.
trait Open {
    fn open(&self) -> ReplicationResult<(Arc<dyn ObjectStore>, ObjectPath)>;
}

impl Open for Target {
    fn open(&self) -> ReplicationResult<(Arc<dyn ObjectStore>, ObjectPath)> {
        crate::objects::open(self).map_err(remote)
    }
}

use crate::objects::child;

/// The image files of every backup: content-addressed paths never
/// rewritten, so all backups share one copy of each (`PREFIX/media/…`).
const MEDIA: &str = "media";

/// The path of `location` under `prefix`, as `a/b/c`.
fn relative(location: &ObjectPath, prefix: &ObjectPath) -> Option<String> {
    let parts: Vec<String> = location
        .prefix_match(prefix)?
        .map(|p| p.as_ref().to_string())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

async fn list_under(
    store: &Arc<dyn ObjectStore>,
    under: &ObjectPath,
) -> ReplicationResult<Vec<ObjectPath>> {
    let mut listed = store.list(Some(under));
    let mut out = Vec::new();
    while let Some(o) = listed.next().await {
        match o {
            Ok(meta) => out.push(meta.location),
            Err(object_store::Error::NotFound { .. }) => break,
            Err(e) => return Err(remote(e)),
        }
    }
    Ok(out)
}

/// Copies every object under `from`'s prefix that `to` lacks under its
/// prefix (both content-addressed: a path present holds the same bytes);
/// how many it copied.
async fn copy_missing(
    (from, from_prefix): (&Arc<dyn ObjectStore>, &ObjectPath),
    (to, to_prefix): (&Arc<dyn ObjectStore>, &ObjectPath),
) -> ReplicationResult<usize> {
    let have: std::collections::HashSet<String> = list_under(to, to_prefix)
        .await?
        .iter()
        .filter_map(|p| relative(p, to_prefix))
        .collect();
    let mut copied = 0;
    for location in list_under(from, from_prefix).await? {
        let Some(rel) = relative(&location, from_prefix) else {
            continue;
        };
        if have.contains(&rel) {
            continue;
        }
        let bytes = from
            .get(&location)
            .await
            .map_err(remote)?
            .bytes()
            .await
            .map_err(remote)?;
        let parts: Vec<&str> = rel.split('/').collect();
        to.put(&child(to_prefix, &parts), PutPayload::from(bytes))
            .await
            .map_err(remote)?;
        copied += 1;
    }
    Ok(copied)
}

/// Uploads the artefact in `dir` (described by `manifest`) as a backup:
/// parts first, then the image files it lacks (`media`: the media store),
/// manifest last.
pub(crate) async fn upload(
    target: &Target,
    dir: &Path,
    manifest: &Manifest,
    media: Option<&Target>,
) -> ReplicationResult<String> {
    let (store, prefix) = target.open()?;
    let id = manifest.id();
    if let Some(media) = media {
        let (from, from_prefix) = media.open()?;
        let copied =
            copy_missing((&from, &from_prefix), (&store, &child(&prefix, &[MEDIA]))).await?;
        tracing::info!(copied, "image files backed up");
    }
    for p in manifest.all() {
        let bytes = tokio::fs::read(dir.join(&p.name))
            .await
            .map_err(|e| ReplicationError::Io(format!("reading {}: {e}", p.name)))?;
        store
            .put(&child(&prefix, &[&id, &p.name]), PutPayload::from(bytes))
            .await
            .map_err(remote)?;
    }
    let json = serde_json::to_vec_pretty(manifest).expect("a manifest serializes");
    store
        .put(&child(&prefix, &[&id, MANIFEST]), PutPayload::from(json))
        .await
        .map_err(remote)?;
    Ok(id)
}

/// Backs up `store` (and the secret files of `data_dir`, and the image
/// files of the media store `media`) to `target`.
pub async fn create(
    store: &Store,
    data_dir: &Path,
    target: &Target,
    media: Option<&Target>,
) -> ReplicationResult<BackupEntry> {
    let tmp = tempdir_in(data_dir)?;
    let st = store.clone();
    let data = data_dir.to_path_buf();
    let dir = tmp.clone();
    let manifest = tokio::task::spawn_blocking(move || artifact::produce(&st, &data, &dir))
        .await
        .map_err(|e| ReplicationError::Io(e.to_string()))??;
    let result = upload(target, &tmp, &manifest, media).await;
    let _ = tokio::fs::remove_dir_all(&tmp).await;
    Ok(BackupEntry {
        id: result?,
        manifest,
    })
}

/// Backs up a running leader (`--from URL`) to `target`, through its
/// snapshot endpoint (its records only: image files stay where the leader
/// keeps them).
pub async fn create_from_leader(
    url: &str,
    token: &str,
    scratch: &Path,
    target: &Target,
) -> ReplicationResult<BackupEntry> {
    let link = super::follower::LeaderLink { url, token };
    let dir = scratch.join(format!("shopd-backup-{}", std::process::id()));
    let (manifest, _) = link
        .download_snapshot(&super::follower::client(), &dir)
        .await?;
    let result = upload(target, &dir, &manifest, None).await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    Ok(BackupEntry {
        id: result?,
        manifest,
    })
}

fn tempdir_in(data_dir: &Path) -> ReplicationResult<PathBuf> {
    let dir = data_dir.join("replication").join(format!(
        "backup-{}-{}",
        std::process::id(),
        crate::domain::Timestamp::now().millis()
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| ReplicationError::Io(format!("creating {}: {e}", dir.display())))?;
    Ok(dir)
}

/// The complete backups in `target`, oldest first.
pub async fn list(target: &Target) -> ReplicationResult<Vec<BackupEntry>> {
    let (store, prefix) = target.open()?;
    let listing = store
        .list_with_delimiter(Some(&prefix))
        .await
        .map_err(remote)?;
    let mut out = Vec::new();
    for dir in listing.common_prefixes {
        let Some(id) = dir.filename().map(str::to_string) else {
            continue;
        };
        let manifest = match store.get(&child(&prefix, &[&id, MANIFEST])).await {
            Ok(got) => got.bytes().await.map_err(remote)?,
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(e) => return Err(remote(e)),
        };
        match Manifest::parse(&manifest) {
            Ok(manifest) => out.push(BackupEntry { id, manifest }),
            Err(e) => {
                tracing::warn!(id, error = %e, "skipping a backup whose manifest is unreadable")
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Restores backup `id` (default: the newest) from `target` into the empty
/// data dir `data_dir`, search index included, and the backed-up image
/// files into the media store `media`. Every part is checked before
/// anything is written to the data dir.
pub async fn restore(
    target: &Target,
    id: Option<&str>,
    data_dir: &Path,
    media: &Target,
) -> ReplicationResult<Manifest> {
    let (store, prefix) = target.open()?;
    let all = list(target).await?;
    let chosen = match id {
        Some(id) => all.into_iter().find(|b| b.id == id),
        None => all.into_iter().next_back(),
    }
    .ok_or_else(|| ReplicationError::Io("no such backup (see `shopd backup list`)".into()))?;
    if crate::config::data_dir::database_path(data_dir).exists() {
        return Err(ReplicationError::Io(format!(
            "{} already holds a database; restore into an empty data dir",
            data_dir.display()
        )));
    }
    let dir = data_dir.join("replication").join("download");
    artifact::fresh_dir(&dir).await?;
    for p in chosen.manifest.all() {
        let bytes = store
            .get(&child(&prefix, &[&chosen.id, &p.name]))
            .await
            .map_err(remote)?
            .bytes()
            .await
            .map_err(remote)?;
        artifact::keep_checked(&dir, p, bytes.to_vec()).await?;
    }
    let data = data_dir.to_path_buf();
    let m = chosen.manifest.clone();
    let parts = dir.clone();
    tokio::task::spawn_blocking(move || artifact::install(&data, &m, &parts))
        .await
        .map_err(|e| ReplicationError::Io(e.to_string()))??;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    // The shared image files (also those of newer backups: images the
    // restored records do not name are collected after the grace period).
    let (to, to_prefix) = media.open()?;
    let copied = copy_missing((&store, &child(&prefix, &[MEDIA])), (&to, &to_prefix)).await?;
    tracing::info!(copied, "image files restored");
    Ok(chosen.manifest)
}

/// Deletes all but the newest `keep` backups; returns how many went.
pub(crate) async fn prune(target: &Target, keep: usize) -> ReplicationResult<usize> {
    let (store, prefix) = target.open()?;
    let all = list(target).await?;
    let old = all.len().saturating_sub(keep);
    for b in &all[..old] {
        let under = child(&prefix, &[&b.id]);
        let mut objects = store.list(Some(&under));
        let mut paths = Vec::new();
        while let Some(o) = objects.next().await {
            paths.push(o.map_err(remote)?.location);
        }
        // The manifest first: a half-deleted backup is never listed.
        paths.sort_by_key(|p| p.filename() != Some(MANIFEST));
        for p in paths {
            store.delete(&p).await.map_err(remote)?;
        }
    }
    Ok(old)
}

/// What scheduled backups have done, for `/metrics` and the alerting rules:
/// when the newest backup known in the target was taken, and how many
/// scheduled runs failed since start.
#[derive(Debug, Default)]
pub(crate) struct BackupHealth {
    /// Unix seconds of the newest backup known; 0 while none is.
    newest: AtomicI64,
    failures: AtomicU64,
}

impl BackupHealth {
    /// A backup with this manifest exists in the target.
    pub(crate) fn taken(&self, manifest: &Manifest) {
        match crate::domain::Timestamp::parse(&manifest.created_at) {
            Ok(t) => {
                self.newest.fetch_max(t.millis().div_euclid(1000), Relaxed);
            }
            Err(e) => tracing::warn!(
                created_at = manifest.created_at,
                error = e,
                "a backup's manifest has an unreadable time"
            ),
        }
    }

    /// Unix seconds of the newest backup known, if any.
    pub(crate) fn newest(&self) -> Option<i64> {
        Some(self.newest.load(Relaxed)).filter(|&t| t > 0)
    }

    /// Scheduled runs that failed since start.
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Relaxed)
    }
}

/// The job that takes scheduled backups (`--backup-to`, `--backup-every`,
/// `--backup-keep`): registered with the job queue as a periodic job.
pub(crate) struct ScheduledBackup {
    pub store: Store,
    pub data_dir: PathBuf,
    pub target: Target,
    pub keep: usize,
    /// The media store whose image files go with each backup.
    pub media: Option<Target>,
    pub health: Arc<BackupHealth>,
}

/// The job kind of scheduled backups.
pub(crate) const KIND_BACKUP: &str = "backup";

impl crate::jobs::Handler for ScheduledBackup {
    fn run(&self, _job: crate::domain::job::Job) -> crate::jobs::HandlerFuture {
        let store = self.store.clone();
        let data_dir = self.data_dir.clone();
        let target = self.target.clone();
        let keep = self.keep;
        let media = self.media.clone();
        let health = self.health.clone();
        Box::pin(async move {
            let started = std::time::Instant::now();
            let failed = |e: ReplicationError| {
                health.failures.fetch_add(1, Relaxed);
                crate::jobs::JobError::Failed(e.to_string())
            };
            let b = create(&store, &data_dir, &target, media.as_ref())
                .await
                .map_err(failed)?;
            health.taken(&b.manifest);
            let removed = prune(&target, keep).await.map_err(failed)?;
            tracing::info!(
                id = b.id,
                bytes = b.manifest.bytes,
                removed,
                ms = started.elapsed().as_millis() as u64,
                "scheduled backup taken"
            );
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_directories_or_s3_urls() {
        assert_eq!(
            Target::parse("s3://bucket/a/b/").unwrap(),
            Target::S3 {
                bucket: "bucket".into(),
                prefix: "a/b".into()
            }
        );
        assert_eq!(
            Target::parse("s3://bucket").unwrap(),
            Target::S3 {
                bucket: "bucket".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            Target::parse("/var/backups").unwrap(),
            Target::Dir("/var/backups".into())
        );
        for bad in ["s3://", "gs://bucket", "http://x", ""] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
