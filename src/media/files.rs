//! Where image bytes live: an object store (a directory by default, or an
//! S3-compatible bucket; one code path), under content-addressed paths, and
//! the served variants kept in memory.
//!
//! Layout: `PREFIX/<hh>/<id>/original` and `PREFIX/<hh>/<id>/<size>.<ext>`,
//! `<hh>` the first two hex digits of the id (256 fan-out directories, so no
//! directory holds more than a few thousand images at 1M products).
//!
//! # Invariants
//! - Objects are written whole (the directory store writes a temporary
//!   file and renames it; S3 puts are atomic): a reader sees all of a file
//!   or none of it.
//! - A variant's bytes never change under its path (a pure function of the
//!   original), so the in-memory copy never goes stale; only deleting the
//!   media drops it.

use crate::config::backups::Target;
use crate::domain::media::{ID_PREFIX, MediaId, Variant};
use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;

#[derive(Clone)]
pub(crate) struct Files {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    /// Served variants: (media id, variant bit) → bytes.
    hot: Arc<quick_cache::sync::Cache<(MediaId, u16), Bytes, ByLength>>,
}

#[derive(Clone)]
pub(crate) struct ByLength;

impl quick_cache::Weighter<(MediaId, u16), Bytes> for ByLength {
    fn weight(&self, _: &(MediaId, u16), v: &Bytes) -> u64 {
        v.len() as u64 + 64
    }
}

#[derive(Debug, thiserror::Error)]
#[error("image storage: {0}")]
pub struct FilesError(pub String);

fn failed(e: impl std::fmt::Display) -> FilesError {
    FilesError(e.to_string())
}

impl Files {
    pub(crate) fn open(target: &Target, cache_bytes: u64) -> Result<Files, FilesError> {
        let (store, prefix) = crate::objects::open(target).map_err(failed)?;
        // ~40 KB per variant on average.
        let items = (cache_bytes / 40_000).max(16) as usize;
        Ok(Files {
            store,
            prefix,
            hot: Arc::new(quick_cache::sync::Cache::with_weighter(
                items,
                cache_bytes.max(1),
                ByLength,
            )),
        })
    }

    fn dir(&self, id: &MediaId) -> ObjectPath {
        let hex = &id.as_str()[ID_PREFIX.len()..];
        crate::objects::child(&self.prefix, &[&hex[..2], id.as_str()])
    }

    fn path(&self, id: &MediaId, name: &str) -> ObjectPath {
        self.dir(id).join(name)
    }

    pub(crate) async fn put(
        &self,
        id: &MediaId,
        name: &str,
        bytes: Bytes,
    ) -> Result<(), FilesError> {
        self.store
            .put(&self.path(id, name), PutPayload::from(bytes))
            .await
            .map_err(failed)?;
        Ok(())
    }

    pub(crate) async fn get(&self, id: &MediaId, name: &str) -> Result<Bytes, FilesError> {
        let got = self.store.get(&self.path(id, name)).await.map_err(failed)?;
        got.bytes().await.map_err(failed)
    }

    pub(crate) async fn put_original(&self, id: &MediaId, bytes: Bytes) -> Result<(), FilesError> {
        self.put(id, "original", bytes).await
    }

    pub(crate) async fn original(&self, id: &MediaId) -> Result<Bytes, FilesError> {
        self.get(id, "original").await
    }

    pub(crate) async fn put_variant(
        &self,
        id: &MediaId,
        v: Variant,
        bytes: Bytes,
    ) -> Result<(), FilesError> {
        self.put(id, &v.file_name(), bytes).await
    }

    /// A variant's bytes, from memory when it was served lately; `None`
    /// when the store has no such file (a follower that has not fetched
    /// it yet).
    pub(crate) async fn variant(
        &self,
        id: &MediaId,
        v: Variant,
    ) -> Result<Option<Bytes>, FilesError> {
        let key = (id.clone(), v.bit());
        if let Some(b) = self.hot.get(&key) {
            return Ok(Some(b));
        }
        let got = match self.store.get(&self.path(id, &v.file_name())).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(failed(e)),
        };
        let bytes = got.bytes().await.map_err(failed)?;
        self.hot.insert(key, bytes.clone());
        Ok(Some(bytes))
    }

    /// Removes every file of `id` (a missing one is no error).
    pub(crate) async fn delete(&self, id: &MediaId) -> Result<(), FilesError> {
        for v in crate::domain::media::Variant::every() {
            self.hot.remove(&(id.clone(), v.bit()));
        }
        let dir = self.dir(id);
        let mut listed = self.store.list(Some(&dir));
        let mut paths = Vec::new();
        while let Some(meta) = listed.next().await {
            paths.push(meta.map_err(failed)?.location);
        }
        for p in paths {
            match self.store.delete(&p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(failed(e)),
            }
        }
        Ok(())
    }
}
