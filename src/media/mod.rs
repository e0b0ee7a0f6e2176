//! The media service: product images uploaded by staff, checked and
//! decoded safely, resized into variants in the background, and served.
//!
//! # How an upload goes
//! 1. Its SHA-256 names it ([`MediaId`]); bytes already stored answer with
//!    the existing record (nothing is decoded again).
//! 2. Under the decode limit (at most `decoders` at once, `waiting` more
//!    queued, [`MediaError::Busy`] beyond): the checks of [`codec`], a full
//!    decode, and the first variant (480 px WebP), so a storefront can show
//!    the image from the moment the upload is answered.
//! 3. The original and that variant are stored ([`files`]), then the record
//!    and the `media` queue's job for the other variants are written in one
//!    write: a crash before it leaves unreferenced files (collected), never a
//!    record without its bytes.
//!
//! # Variants
//! The `media_variants` job makes WebP and JPEG of every size first, then
//! enqueues itself again for AVIF (an order of magnitude slower). Each
//! variant's bit is set only after its bytes are stored. A request for a
//! variant not made yet gets the best one that is ([`Media::choose`]),
//! never a 404.
//!
//! # Followers
//! A follower has the leader's records (replicated with the rest of the
//! store) but not its files: the first request for a variant it lacks
//! fetches it from the leader's public URL and keeps it
//! (`MediaSettings::leader`); a leader out of reach makes that request a
//! 503, never a wrong image.
//!
//! # Garbage collection
//! The periodic `media_gc` job marks images no product shows with the time
//! it first found them unused, and removes those unused for longer than the
//! grace period (default 24 h), record first, files after.

pub mod codec;
mod files;
mod jobs;
pub mod transfer;

use crate::config::media::MediaSettings;
use crate::domain::Timestamp;
use crate::domain::job::NewJob;
use crate::domain::media::{Encoding, Media, MediaId, SIZES, Variant, VariantRequest};
use crate::store::{Store, StoreError};
use bytes::Bytes;
use codec::CodecError;
use files::{Files, FilesError};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

pub use jobs::{KIND_GC, KIND_VARIANTS};

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("no image {0}")]
    NotFound(String),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("the image is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("too many images are being decoded; retry in a few seconds")]
    Busy,
    #[error("the image is shown by {} product(s): {}; remove it from them first", .products.len(), .products.join(", "))]
    InUse { products: Vec<String> },
    #[error("alt: {0}")]
    Alt(String),
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type MediaResult<T> = Result<T, MediaError>;

/// A variant as served.
pub struct Served {
    pub bytes: Bytes,
    pub variant: Variant,
    /// Whether this is what the URL will always answer (false: a stand-in
    /// until a better variant is made; not to be cached for long).
    pub is_final: bool,
}

/// The media service; cheap to clone.
#[derive(Clone)]
pub struct MediaLibrary {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    store: Store,
    files: Files,
    settings: MediaSettings,
    decoders: Semaphore,
    waiting: AtomicUsize,
    /// The `media` queue's job settings; kind and payload filled per job.
    template: NewJob,
    /// A follower fetches variants it lacks from its leader.
    client: reqwest::Client,
}

impl MediaLibrary {
    /// Over `store`, keeping bytes where `settings` says; `template` is a
    /// job of the `media` queue (from the job service).
    pub(crate) fn new(
        store: Store,
        settings: MediaSettings,
        template: NewJob,
    ) -> Result<MediaLibrary, FilesError> {
        let files = Files::open(&settings.store, settings.cache_bytes)?;
        Ok(MediaLibrary {
            inner: Arc::new(Inner {
                store,
                files,
                decoders: Semaphore::new(settings.decoders),
                waiting: AtomicUsize::new(0),
                settings,
                template,
                client: reqwest::Client::builder()
                    .connect_timeout(std::time::Duration::from_secs(3))
                    .timeout(std::time::Duration::from_secs(30))
                    .build()
                    .map_err(|e| FilesError(e.to_string()))?,
            }),
        })
    }

    pub fn settings(&self) -> &MediaSettings {
        &self.inner.settings
    }

    /// Stores an uploaded image: `(record, created)`; identical bytes give
    /// the stored record (`created` false). Its other variants are made by
    /// the `media` queue.
    pub async fn upload(&self, bytes: Bytes, alt: Option<String>) -> MediaResult<(Media, bool)> {
        self.store_upload(bytes, alt, true).await
    }

    /// [`MediaLibrary::upload`], then the WebP and JPEG variants made
    /// before it answers and no job left behind; no AVIF (the demo's
    /// photos: a demo start must take seconds and end with nothing
    /// running, and AVIF takes ten times as long).
    pub async fn upload_without_avif(
        &self,
        bytes: Bytes,
        alt: Option<String>,
    ) -> MediaResult<(Media, bool)> {
        let (m, created) = self.store_upload(bytes, alt, false).await?;
        let missing: Vec<Variant> = Variant::every()
            .filter(|v| v.encoding != Encoding::Avif && !m.has(*v))
            .collect();
        self.inner.make(&m, &missing).await?;
        Ok((self.get(&m.id)?, created))
    }

    async fn store_upload(
        &self,
        bytes: Bytes,
        alt: Option<String>,
        enqueue: bool,
    ) -> MediaResult<(Media, bool)> {
        let limit = self.inner.settings.max_bytes;
        if bytes.len() as u64 > limit {
            return Err(MediaError::TooLarge { limit });
        }
        let alt = check_alt(alt.unwrap_or_default())?;
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        let id = MediaId::of_digest(&digest);
        if let Some(m) = self.inner.store.read()?.media().get(&id)? {
            return Ok((m, false));
        }
        let max_pixels = self.inner.settings.max_pixels;
        let input = bytes.clone();
        let first = Variant {
            size: 1,
            encoding: Encoding::Webp,
        };
        let (format, width, height, preview) = self
            .inner
            .decode(move || {
                let d = codec::decode(&input, max_pixels)?;
                let px = codec::resize(&d, None, first.size)?;
                let preview = codec::encode(&px, first.encoding)?;
                Ok((d.format, d.width(), d.height(), preview))
            })
            .await?;
        self.inner.files.put_original(&id, bytes.clone()).await?;
        self.inner
            .files
            .put_variant(&id, first, Bytes::from(preview))
            .await?;
        let media = Media {
            id: id.clone(),
            sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
            format,
            width,
            height,
            bytes: bytes.len() as u64,
            alt,
            created_at: Timestamp::now(),
            made: first.bit(),
            unused_since: None,
        };
        let job = self.inner.job(&id, jobs::Phase::Fast);
        let written = media.clone();
        let stored = self
            .inner
            .store
            .write(move |tx| {
                if let Some(existing) = tx.media().get(&written.id)? {
                    // Uploaded twice at once: the first write won.
                    return Ok((existing, false));
                }
                tx.media().put(&written)?;
                if enqueue {
                    tx.jobs().enqueue(job, Timestamp::now())?;
                }
                Ok::<_, StoreError>((written, true))
            })
            .await?;
        Ok(stored)
    }

    pub fn get(&self, id: &MediaId) -> MediaResult<Media> {
        self.inner
            .store
            .read()?
            .media()
            .get(id)?
            .ok_or_else(|| MediaError::NotFound(id.to_string()))
    }

    /// Replaces the alt text.
    pub async fn set_alt(&self, id: &MediaId, alt: String) -> MediaResult<Media> {
        let alt = check_alt(alt)?;
        let id = id.clone();
        self.inner
            .store
            .write(move |tx| {
                let Some(mut m) = tx.media().get(&id)? else {
                    return Ok(Err(MediaError::NotFound(id.to_string())));
                };
                if m.alt != alt {
                    m.alt = alt;
                    tx.media().put(&m)?;
                }
                Ok::<_, StoreError>(Ok(m))
            })
            .await?
    }

    /// The products showing `id`, in id order.
    pub fn used_by(&self, id: &MediaId) -> MediaResult<Vec<String>> {
        let mut products = Vec::new();
        self.inner
            .store
            .read()?
            .catalog()
            .for_each_image(|product, image| {
                if MediaId::referenced_by(image).as_ref() == Some(id)
                    && products.last().is_none_or(|p: &String| p != product)
                {
                    products.push(product.to_string());
                }
            })?;
        Ok(products)
    }

    /// Deletes an image no product shows (409 otherwise), record first.
    pub async fn delete(&self, id: &MediaId) -> MediaResult<()> {
        self.get(id)?;
        let products = self.used_by(id)?;
        if !products.is_empty() {
            return Err(MediaError::InUse { products });
        }
        let gone = id.clone();
        self.inner
            .store
            .write(move |tx| tx.media().delete(&gone))
            .await?;
        self.inner.files.delete(id).await?;
        Ok(())
    }

    /// The variant to serve for `want` to a client taking `accepted`
    /// (`domain::media::accepted`).
    pub async fn variant(
        &self,
        id: &MediaId,
        want: VariantRequest,
        accepted: [f32; 3],
    ) -> MediaResult<Served> {
        let m = self.get(id)?;
        let (variant, is_final) = match m.choose(want, accepted) {
            Some(found) => found,
            None => {
                // Nothing made (a record from before the first variant was
                // kept): make the asked size now.
                let v = Variant {
                    size: want.size,
                    encoding: want.encoding.unwrap_or(Encoding::Jpeg),
                };
                self.inner.make(&m, &[v]).await?;
                (v, false)
            }
        };
        let bytes = match self.inner.files.variant(id, variant).await? {
            Some(b) => b,
            None => self.inner.fetch_from_leader(id, variant).await?,
        };
        Ok(Served {
            bytes,
            variant,
            is_final,
        })
    }

    /// The job handlers: the `media` queue's variants, and the periodic
    /// collection (with its period).
    pub(crate) fn handlers(
        &self,
    ) -> (
        Arc<dyn crate::jobs::Handler>,
        (std::time::Duration, Arc<dyn crate::jobs::Handler>),
    ) {
        (
            Arc::new(jobs::MakeVariants(self.inner.clone())),
            (
                self.inner.settings.gc_every,
                Arc::new(jobs::Collect(self.inner.clone())),
            ),
        )
    }
}

fn check_alt(alt: String) -> MediaResult<String> {
    crate::domain::media::alt_text(&alt).map_err(MediaError::Alt)
}

impl Inner {
    /// Runs an upload's `work` on a blocking thread once a decoder is free;
    /// `Busy` when `decoders + waiting` uploads are decoding or waiting
    /// already. Background work ([`Inner::decode_later`]) shares the
    /// decoders but is not counted: it never turns an upload away.
    async fn decode<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, CodecError> + Send + 'static,
    ) -> MediaResult<T> {
        if self.waiting.fetch_add(1, Ordering::AcqRel)
            >= self.settings.decoders + self.settings.waiting
        {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(MediaError::Busy);
        }
        let result = self.decode_later(work).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        result
    }

    /// Runs `work` on a blocking thread once one of the decoders is free
    /// (at most `decoders` run at once, uploads and jobs together).
    async fn decode_later<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, CodecError> + Send + 'static,
    ) -> MediaResult<T> {
        let permit = self.decoders.acquire().await;
        let result = tokio::task::spawn_blocking(work).await;
        drop(permit);
        match result {
            Ok(r) => Ok(r?),
            Err(e) => Err(MediaError::Codec(CodecError::Damaged(format!(
                "the decoder stopped: {e}"
            )))),
        }
    }

    /// A follower's read-through: the variant from the leader's public URL,
    /// kept here for the next request. Without a leader (or when the leader
    /// lacks it too) the record promised bytes that are gone: an error.
    async fn fetch_from_leader(&self, id: &MediaId, v: Variant) -> MediaResult<Bytes> {
        let Some(leader) = &self.settings.leader else {
            return Err(MediaError::Files(FilesError(format!(
                "{id}/{} is missing from the media store",
                v.file_name()
            ))));
        };
        let url = format!(
            "{}/media/{id}/{}",
            leader.trim_end_matches('/'),
            v.file_name()
        );
        let failed = |e: String| MediaError::Files(FilesError(format!("fetching {url}: {e}")));
        let res = self
            .client
            .get(&url)
            .header("Accept", v.encoding.mime())
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if !res.status().is_success() {
            return Err(failed(format!("the leader answered {}", res.status())));
        }
        let bytes = res.bytes().await.map_err(|e| failed(e.to_string()))?;
        self.files.put_variant(id, v, bytes.clone()).await?;
        Ok(bytes)
    }

    fn job(&self, id: &MediaId, phase: jobs::Phase) -> NewJob {
        let mut job = self.template.clone();
        job.kind = KIND_VARIANTS.into();
        job.payload = serde_json::json!({ "id": id.as_str(), "phase": phase }).to_string();
        job.unique_key = Some(format!("{KIND_VARIANTS}:{id}:{}", phase.as_str()));
        job.run_at = Timestamp::now();
        job
    }

    /// Makes `variants` of `m` from its original and stores them, then
    /// records them made. Larger sizes first: each smaller one is resized
    /// from the last larger one.
    async fn make(&self, m: &Media, variants: &[Variant]) -> MediaResult<()> {
        if variants.is_empty() {
            return Ok(());
        }
        let original = self.files.original(&m.id).await?;
        let max_pixels = self
            .settings
            .max_pixels
            .max(m.width as u64 * m.height as u64);
        let wanted = variants.to_vec();
        let made = self
            .decode_later(move || {
                let d = codec::decode(&original, max_pixels)?;
                let mut out = Vec::new();
                let mut last: Option<codec::Pixels> = None;
                for size in (0..SIZES.len()).rev() {
                    let here: Vec<Variant> =
                        wanted.iter().copied().filter(|v| v.size == size).collect();
                    if here.is_empty() {
                        continue;
                    }
                    let px = codec::resize(&d, last.as_ref(), size)?;
                    for v in here {
                        out.push((v, codec::encode(&px, v.encoding)?));
                    }
                    last = Some(px);
                }
                Ok(out)
            })
            .await?;
        let mut bits = 0u16;
        for (v, bytes) in made {
            self.files.put_variant(&m.id, v, Bytes::from(bytes)).await?;
            bits |= v.bit();
        }
        let id = m.id.clone();
        self.store
            .write(move |tx| {
                if let Some(mut m) = tx.media().get(&id)? {
                    m.made |= bits;
                    tx.media().put_quietly(&m)?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        Ok(())
    }
}
