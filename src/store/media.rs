//! Product images' records: one row per uploaded image (its id, digest,
//! format, size, alt text, which variants exist, when garbage collection
//! found it unused). The image bytes themselves are not here: the media
//! service keeps them in an object store (a directory or a bucket), under
//! paths made from the id.
//!
//! # Invariants
//! - A media record is written only after its original's bytes are stored,
//!   and its `made` bits only after the variant's bytes are: a record never
//!   promises bytes that are not there.
//! - Every write of a media record is reported in
//!   [`CatalogChanges::media`]: product reads show media (alt text, size),
//!   so the in-memory taxonomy and the cached bodies that show it follow.

use super::catalog::write::CatalogChanges;
use super::codec::{Record, decode};
use super::db::read::ReadTxn;
use super::db::undo::Tables;
use super::error::StoreResult;
use crate::domain::Timestamp;
use crate::domain::media::{Media, MediaId, SourceFormat};
use crate::store::codec::record;
use redb::{ReadableTable, TableDefinition};
use rkyv::{Archive, Deserialize, Serialize};

/// Media id → versioned rkyv `MediaV1`.
pub(crate) const MEDIA: TableDefinition<&str, &[u8]> = TableDefinition::new("media");

pub(crate) const MEDIA_V1: u8 = 1;

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct MediaV1 {
    pub sha256: String,
    pub format: u8,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub alt: String,
    pub created_ms: i64,
    pub made: u16,
    pub unused_since_ms: Option<i64>,
}

record! {
    pub(crate) MediaRec in "media", version MEDIA_V1;
    MediaV1 as ArchivedMediaV1 <=> MediaParts;
    encode(m) {
        MediaV1 {
            sha256: m.sha256.clone(),
            format: m.format.code(),
            width: m.width,
            height: m.height,
            bytes: m.bytes,
            alt: m.alt.clone(),
            created_ms: m.created_at.millis(),
            made: m.made,
            unused_since_ms: m.unused_since.map(Timestamp::millis),
        }
    }
    decode(a) {
        let ms = |x: i64| Timestamp::from_millis(x);
        Ok(MediaParts {
            sha256: a.sha256.as_str().to_string(),
            format: SourceFormat::from_code(a.format).ok_or("unknown source format")?,
            width: a.width.to_native(),
            height: a.height.to_native(),
            bytes: a.bytes.to_native(),
            alt: a.alt.as_str().to_string(),
            created_at: ms(a.created_ms.to_native())?,
            made: a.made.to_native(),
            unused_since: a
                .unused_since_ms
                .as_ref()
                .map(|x| ms(x.to_native()))
                .transpose()?,
        })
    }
}

/// A media record without its key (the id).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MediaParts {
    pub sha256: String,
    pub format: SourceFormat,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub alt: String,
    pub created_at: Timestamp,
    pub made: u16,
    pub unused_since: Option<Timestamp>,
}

impl MediaParts {
    fn of(m: &Media) -> MediaParts {
        MediaParts {
            sha256: m.sha256.clone(),
            format: m.format,
            width: m.width,
            height: m.height,
            bytes: m.bytes,
            alt: m.alt.clone(),
            created_at: m.created_at,
            made: m.made,
            unused_since: m.unused_since,
        }
    }

    fn with_id(self, id: MediaId) -> Media {
        Media {
            id,
            sha256: self.sha256,
            format: self.format,
            width: self.width,
            height: self.height,
            bytes: self.bytes,
            alt: self.alt,
            created_at: self.created_at,
            made: self.made,
            unused_since: self.unused_since,
        }
    }
}

fn parse_key(k: &str) -> StoreResult<MediaId> {
    MediaId::parse(k).map_err(|reason| crate::store::StoreError::Corrupt {
        table: "media",
        key: k.to_string(),
        reason,
    })
}

/// Media records as a read transaction sees them (`read.media()`).
pub(crate) struct MediaReader<'r> {
    txn: &'r redb::ReadTransaction,
}

impl ReadTxn {
    pub(crate) fn media(&self) -> MediaReader<'_> {
        MediaReader { txn: &self.txn }
    }
}

impl MediaReader<'_> {
    pub(crate) fn get(&self, id: &MediaId) -> StoreResult<Option<Media>> {
        let t = self.txn.open_table(MEDIA)?;
        match t.get(id.as_str())? {
            Some(g) => Ok(Some(
                decode::<MediaRec>(g.value(), id.as_str())?.with_id(id.clone()),
            )),
            None => Ok(None),
        }
    }

    /// Every media record, by id.
    pub(crate) fn all(&self) -> StoreResult<Vec<Media>> {
        let t = self.txn.open_table(MEDIA)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            let id = parse_key(k.value())?;
            out.push(decode::<MediaRec>(v.value(), k.value())?.with_id(id));
        }
        Ok(out)
    }
}

/// Every media record of `txn` (the taxonomy's part), by id.
pub(crate) fn read_all(txn: &redb::ReadTransaction) -> StoreResult<Vec<Media>> {
    MediaReader { txn }.all()
}

/// The media part of a write transaction.
pub(crate) struct MediaWriter<'w> {
    pub(crate) tables: &'w Tables,
    pub(crate) changes: &'w mut CatalogChanges,
}

impl MediaWriter<'_> {
    pub(crate) fn get(&self, id: &MediaId) -> StoreResult<Option<Media>> {
        let t = self.tables.open(MEDIA)?;
        let found = t.get(id.as_str())?;
        match found {
            Some(g) => Ok(Some(
                decode::<MediaRec>(g.value(), id.as_str())?.with_id(id.clone()),
            )),
            None => Ok(None),
        }
    }

    /// Writes `m` whole: a new image or new alt text, which product reads
    /// show.
    pub(crate) fn put(&mut self, m: &Media) -> StoreResult<()> {
        self.put_quietly(m)?;
        self.changes.media.insert(m.id.as_str().to_string());
        Ok(())
    }

    /// Writes `m` whole when only what product reads do not show changed
    /// (`made`, `unused_since`): no cached body or taxonomy is renewed for
    /// it, so the taxonomy's copies of those two fields may be older.
    pub(crate) fn put_quietly(&mut self, m: &Media) -> StoreResult<()> {
        let bytes = MediaRec::encode(&MediaParts::of(m));
        self.tables
            .open(MEDIA)?
            .insert(m.id.as_str(), bytes.as_slice())?;
        Ok(())
    }

    /// Removes the record; whether there was one.
    pub(crate) fn delete(&mut self, id: &MediaId) -> StoreResult<bool> {
        let gone = self.tables.open(MEDIA)?.remove(id.as_str())?;
        if gone {
            self.changes.media.insert(id.as_str().to_string());
        }
        Ok(gone)
    }
}
