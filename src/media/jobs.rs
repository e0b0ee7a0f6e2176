//! The media service's jobs: `media_variants` (queue `media`) makes an
//! image's variants, fast encodings first; `media_gc` (periodic, queue
//! `maintenance`) removes images no product has shown for the grace period.
//! Both may run twice for one job: every step checks what is there first.

use super::{Inner, MediaError};
use crate::domain::Timestamp;
use crate::domain::job::Job;
use crate::domain::media::{Encoding, MediaId, SIZES, Variant};
use crate::jobs::{Handler, HandlerFuture, JobError};
use std::collections::HashSet;
use std::sync::Arc;

pub const KIND_VARIANTS: &str = "media_variants";
pub const KIND_GC: &str = "media_gc";

/// Which variants a `media_variants` job makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Phase {
    /// WebP and JPEG of every size (tens of milliseconds each).
    Fast,
    /// AVIF of every size (about ten times slower).
    Avif,
}

impl Phase {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Phase::Fast => "fast",
            Phase::Avif => "avif",
        }
    }

    fn encodings(self) -> &'static [Encoding] {
        match self {
            Phase::Fast => &[Encoding::Webp, Encoding::Jpeg],
            Phase::Avif => &[Encoding::Avif],
        }
    }
}

#[derive(serde::Deserialize)]
struct Payload {
    id: String,
    phase: Phase,
}

fn failed(e: MediaError) -> JobError {
    match e {
        MediaError::Codec(c) => JobError::Permanent(c.to_string()),
        MediaError::Busy => JobError::Postpone {
            after: std::time::Duration::from_secs(5),
            reason: "every decoder is busy".into(),
        },
        e => JobError::Failed(e.to_string()),
    }
}

pub(crate) struct MakeVariants(pub(crate) Arc<Inner>);

impl Handler for MakeVariants {
    fn run(&self, job: Job) -> HandlerFuture {
        let inner = self.0.clone();
        Box::pin(async move {
            let p: Payload = serde_json::from_str(&job.payload)
                .map_err(|e| JobError::Permanent(format!("payload: {e}")))?;
            let id = MediaId::parse(&p.id).map_err(JobError::Permanent)?;
            let Some(m) = inner
                .store
                .read()
                .map_err(|e| failed(e.into()))?
                .media()
                .get(&id)
                .map_err(|e| failed(e.into()))?
            else {
                // Deleted since: nothing to make.
                return Ok(());
            };
            let missing: Vec<Variant> = (0..SIZES.len())
                .flat_map(|size| {
                    p.phase
                        .encodings()
                        .iter()
                        .map(move |&encoding| Variant { size, encoding })
                })
                .filter(|v| !m.has(*v))
                .collect();
            inner.make(&m, &missing).await.map_err(failed)?;
            if p.phase == Phase::Fast {
                let next = inner.job(&id, Phase::Avif);
                inner
                    .store
                    .write(move |tx| tx.jobs().enqueue(next, Timestamp::now()).map(|_| ()))
                    .await
                    .map_err(|e| failed(e.into()))?;
            }
            Ok(())
        })
    }
}

pub(crate) struct Collect(pub(crate) Arc<Inner>);

impl Handler for Collect {
    fn run(&self, _job: Job) -> HandlerFuture {
        let inner = self.0.clone();
        Box::pin(async move { collect(&inner).await.map(|_| ()).map_err(failed) })
    }
}

/// One pass of garbage collection; returns how many images it removed.
pub(crate) async fn collect(inner: &Inner) -> Result<usize, MediaError> {
    let now = Timestamp::now();
    let grace = inner.settings.gc_grace.as_millis() as i64;
    let (all, used) = {
        let read = inner.store.read()?;
        let mut used = HashSet::new();
        read.catalog().for_each_image(|_, image| {
            if let Some(id) = MediaId::referenced_by(image) {
                used.insert(id);
            }
        })?;
        (read.media().all()?, used)
    };
    let mut mark = Vec::new();
    let mut unmark = Vec::new();
    let mut remove = Vec::new();
    for m in all {
        match (used.contains(&m.id), m.unused_since) {
            (true, Some(_)) => unmark.push(m.id),
            (true, None) => {}
            (false, None) => mark.push(m.id),
            (false, Some(since)) if now.millis() - since.millis() >= grace => remove.push(m.id),
            (false, Some(_)) => {}
        }
    }
    let to_remove = remove.clone();
    let removed = inner
        .store
        .write(move |tx| {
            let mut media = tx.media();
            for id in &mark {
                if let Some(mut m) = media.get(id)? {
                    m.unused_since = Some(now);
                    media.put_quietly(&m)?;
                }
            }
            for id in &unmark {
                if let Some(mut m) = media.get(id)? {
                    m.unused_since = None;
                    media.put_quietly(&m)?;
                }
            }
            // Removed only if still unused as this write sees the products
            // (a product may have taken the image since the scan).
            let mut used_now = HashSet::new();
            if !to_remove.is_empty() {
                used_now = still_used(tx, &to_remove)?;
            }
            let mut removed = Vec::new();
            for id in &to_remove {
                if !used_now.contains(id) && tx.media().delete(id)? {
                    removed.push(id.clone());
                }
            }
            Ok::<_, crate::store::StoreError>(removed)
        })
        .await?;
    for id in &removed {
        inner.files.delete(id).await?;
    }
    if !removed.is_empty() {
        tracing::info!(removed = removed.len(), "unused images collected");
    }
    Ok(removed.len())
}

/// Which of `ids` a product shows, as the write transaction sees them.
fn still_used(
    tx: &mut crate::store::WriteTxn,
    ids: &[MediaId],
) -> crate::store::StoreResult<HashSet<MediaId>> {
    let wanted: HashSet<&MediaId> = ids.iter().collect();
    let mut used = HashSet::new();
    tx.catalog().for_each_image(|_, image| {
        if let Some(id) = MediaId::referenced_by(image)
            && wanted.contains(&id)
        {
            used.insert(id);
        }
    })?;
    Ok(used)
}
