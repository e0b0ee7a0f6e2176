//! The snapshot artefact: every table of the store from one read
//! transaction, as parts of `wal` redo records, the shop's signing keys,
//! and a manifest that names and checksums them. Followers bootstrap from
//! it; backups are the same thing in a directory or a bucket.
//!
//! Layout of one artefact (a directory, or an object prefix):
//! `manifest.json`, `part-00000.bin` …, `file-jwt.keys`, `file-links.key`.
//! The manifest is written last: an artefact without one is incomplete.
//!
//! # Invariants
//! - Every part is checked against the manifest's size and SHA-256 as it
//!   is received (download, restore), before anything is built from it; a
//!   mismatch changes nothing.
//! - [`install`] builds the database **and its search index** in a staging
//!   directory, syncs them, and only then moves them into the data dir; a
//!   crash before that leaves the data dir without a database (bootstrap
//!   starts again), never with half of one.

use super::{ReplicationError, ReplicationResult};
use crate::catalog::Catalog;
use crate::store::db::snapshot;
use crate::store::{SCHEMA_VERSION, Store, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) const MANIFEST: &str = "manifest.json";
pub(crate) const FORMAT: &str = "shopd-snapshot";
pub(crate) const VERSION: u32 = 1;
/// Bytes of rows per part (about).
pub(crate) const PART_BYTES: usize = 16 << 20;
/// The data dir's secret files a copy carries: the signing keys of access
/// tokens and of guest order links (a follower checks tokens the leader
/// issued; a restored shop keeps its customers' links working).
const FILES: &[&str] = &["jwt.keys", "links.key"];

/// What an artefact holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// The leader position the data reflects (`X-Generation`).
    pub position: u64,
    /// The search generation it reflects.
    pub generation: u64,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub schema_version: u64,
    pub parts: Vec<PartInfo>,
    pub files: Vec<PartInfo>,
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
    /// Bytes of all parts and files.
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartInfo {
    pub name: String,
    pub bytes: u64,
    /// Lowercase hex.
    pub sha256: String,
}

impl Manifest {
    /// A name for this artefact that sorts by time: `20261202T150405Z-p42`.
    pub fn id(&self) -> String {
        let compact: String = self
            .created_at
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(15)
            .collect();
        format!("{compact}Z-p{}", self.position)
    }

    /// Every part and file, in install order.
    pub(crate) fn all(&self) -> impl Iterator<Item = &PartInfo> {
        self.parts.iter().chain(self.files.iter())
    }

    /// Checks that this build can use the artefact.
    pub(crate) fn check(&self) -> ReplicationResult<()> {
        if self.format != FORMAT || self.version != VERSION {
            return Err(ReplicationError::Corrupt(format!(
                "not a shopd snapshot this build reads (format {} version {})",
                self.format, self.version
            )));
        }
        if self.schema_version != SCHEMA_VERSION {
            return Err(ReplicationError::Corrupt(format!(
                "snapshot schema version {} (this build reads {SCHEMA_VERSION})",
                self.schema_version
            )));
        }
        if let Some(p) = self.all().find(|p| !is_part_name(&p.name)) {
            return Err(ReplicationError::Corrupt(format!(
                "snapshot names an unexpected part '{}'",
                p.name
            )));
        }
        Ok(())
    }

    /// Parses and checks a manifest.
    pub(crate) fn parse(bytes: &[u8]) -> ReplicationResult<Manifest> {
        let m: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| ReplicationError::Corrupt(format!("snapshot manifest: {e}")))?;
        m.check()?;
        Ok(m)
    }
}

/// The directory name of the snapshot at `position`.
pub(crate) fn dir_name(position: u64) -> String {
    format!("{position:016}")
}

/// Whether `name` can be a part of an artefact (guards paths built from it).
pub(crate) fn is_part_name(name: &str) -> bool {
    let part = name
        .strip_prefix("part-")
        .and_then(|n| n.strip_suffix(".bin"))
        .is_some_and(|n| n.len() == 5 && n.bytes().all(|b| b.is_ascii_digit()));
    part || FILES.iter().any(|f| name.strip_prefix("file-") == Some(f))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks one part's bytes against the manifest.
pub(crate) fn verify(info: &PartInfo, bytes: &[u8]) -> ReplicationResult<()> {
    if bytes.len() as u64 != info.bytes {
        return Err(ReplicationError::Corrupt(format!(
            "snapshot part {} has {} bytes, the manifest says {}",
            info.name,
            bytes.len(),
            info.bytes
        )));
    }
    if hex(&Sha256::digest(bytes)) != info.sha256 {
        return Err(ReplicationError::Corrupt(format!(
            "snapshot part {} fails its SHA-256 check",
            info.name
        )));
    }
    Ok(())
}

fn io(what: &str, path: &Path, e: std::io::Error) -> ReplicationError {
    ReplicationError::Io(format!("{what} {}: {e}", path.display()))
}

/// Writes `bytes` to `path` and syncs it.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> ReplicationResult<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| io("creating", path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io("writing", path, e))
}

/// Writes `bytes` to `path` without syncing: a part that only lives until
/// it is installed or uploaded (a crash before that starts the work over,
/// and every part is checked against the manifest before it is used).
pub(crate) fn write_part(path: &Path, bytes: &[u8]) -> ReplicationResult<()> {
    std::fs::write(path, bytes).map_err(|e| io("writing", path, e))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn info(name: String, bytes: &[u8]) -> PartInfo {
    PartInfo {
        name,
        bytes: bytes.len() as u64,
        sha256: hex(&Sha256::digest(bytes)),
    }
}

/// Writes a snapshot of `store` (and the secret files of `data_dir`) into
/// the empty or new directory `dir`, manifest last.
pub(crate) fn produce(store: &Store, data_dir: &Path, dir: &Path) -> ReplicationResult<Manifest> {
    std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
    let mut parts = Vec::new();
    let dump = store.dump(PART_BYTES, &mut |bytes| {
        let name = format!("part-{:05}.bin", parts.len());
        write_part(&dir.join(&name), &bytes).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        parts.push(info(name, &bytes));
        Ok(())
    })?;
    let mut files = Vec::new();
    for f in FILES {
        if let Ok(bytes) = std::fs::read(data_dir.join(f)) {
            let name = format!("file-{f}");
            write_part(&dir.join(&name), &bytes)?;
            files.push(info(name, &bytes));
        }
    }
    let created_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let bytes = parts.iter().chain(files.iter()).map(|p| p.bytes).sum();
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        position: dump.position,
        generation: dump.generation,
        created_at,
        schema_version: SCHEMA_VERSION,
        parts,
        files,
        rows: dump.rows.into_iter().collect(),
        bytes,
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    write_part(&dir.join(MANIFEST), &json)?;
    Ok(manifest)
}

/// A leader's snapshot kept under `root/<position>/`: made in a temporary
/// directory, then renamed; older ones beyond the newest two are removed.
pub(crate) fn produce_in(
    store: &Store,
    data_dir: &Path,
    root: &Path,
) -> ReplicationResult<Manifest> {
    std::fs::create_dir_all(root).map_err(|e| io("creating", root, e))?;
    let tmp = root.join(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let started = std::time::Instant::now();
    let manifest = produce(store, data_dir, &tmp)?;
    let dir = root.join(dir_name(manifest.position));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).map_err(|e| io("renaming", &tmp, e))?;
    sync_dir(root);
    tracing::info!(
        position = manifest.position,
        bytes = manifest.bytes,
        ms = started.elapsed().as_millis() as u64,
        "made a replication snapshot"
    );
    let mut old: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p != &dir)
                .collect()
        })
        .unwrap_or_default();
    old.sort();
    let keep_from = old.len().saturating_sub(1);
    for p in &old[..keep_from] {
        let _ = std::fs::remove_dir_all(p);
    }
    Ok(manifest)
}

/// An empty `dir` for the parts of one artefact (whatever an earlier,
/// interrupted attempt left there is removed).
pub(crate) async fn fresh_dir(dir: &Path) -> ReplicationResult<()> {
    let _ = tokio::fs::remove_dir_all(dir).await;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io("creating", dir, e))
}

/// Checks one received part against the manifest ([`verify`]) and keeps
/// it in `dir` until it is installed: nothing unchecked is ever stored.
pub(crate) async fn keep_checked(
    dir: &Path,
    part: &PartInfo,
    bytes: Vec<u8>,
) -> ReplicationResult<()> {
    verify(part, &bytes)?;
    let file = dir.join(&part.name);
    tokio::task::spawn_blocking(move || write_part(&file, &bytes))
        .await
        .map_err(|e| ReplicationError::Io(e.to_string()))?
}

/// The rows of the manifest's parts kept in `dir` by [`keep_checked`], in
/// order; a part whose size changed on disk since is refused.
pub(crate) fn kept_parts<'a>(
    manifest: &'a Manifest,
    dir: &'a Path,
) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> + 'a {
    manifest.parts.iter().map(move |p| {
        let bytes = std::fs::read(dir.join(&p.name))
            .map_err(|e| StoreError::Unavailable(format!("reading {}: {e}", p.name)))?;
        if bytes.len() as u64 != p.bytes {
            return Err(StoreError::Replication(format!(
                "snapshot part {} changed on disk since it was checked",
                p.name
            )));
        }
        Ok(bytes)
    })
}

/// Builds the database and search index of the artefact whose parts are
/// in `parts_dir` — each kept there by [`keep_checked`] — and moves them into `data_dir`, which must
/// hold no database. Returns the rows installed.
pub(crate) fn install(
    data_dir: &Path,
    manifest: &Manifest,
    parts_dir: &Path,
) -> ReplicationResult<u64> {
    manifest.check()?;
    let db_path = crate::config::data_dir::database_path(data_dir);
    if db_path.exists() {
        return Err(ReplicationError::Io(format!(
            "{} already holds a database ({}); restore into an empty data dir",
            data_dir.display(),
            db_path.display()
        )));
    }
    let started = std::time::Instant::now();
    let staging = data_dir.join("replication").join("install");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| io("creating", &staging, e))?;
    let staged_db = staging.join("shopd.redb");
    snapshot::build(&staged_db, &mut kept_parts(manifest, parts_dir))?;
    let staged_search = staging.join("search");
    {
        let store = Store::open(&staged_db)?;
        if store.position() != manifest.position {
            return Err(ReplicationError::Corrupt(format!(
                "the snapshot's data is at position {}, its manifest says {}",
                store.position(),
                manifest.position
            )));
        }
        let catalog = Catalog::offline(store);
        catalog
            .reindex(&staged_search, &|_, _| {})
            .map_err(|e| ReplicationError::Io(format!("building the search index: {e}")))?;
        catalog.store().close()?;
    }
    for f in &manifest.files {
        let bytes =
            std::fs::read(parts_dir.join(&f.name)).map_err(|e| io("reading", parts_dir, e))?;
        verify(f, &bytes)?;
        let target = data_dir.join(f.name.trim_start_matches("file-"));
        if !target.exists() {
            write_synced(&target, &bytes)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
    sync_dir(&staging);
    let search = data_dir.join("search");
    if search.exists() {
        std::fs::remove_dir_all(&search).map_err(|e| io("removing", &search, e))?;
    }
    std::fs::rename(&staged_search, &search).map_err(|e| io("moving", &staged_search, e))?;
    let wal = crate::store::wal_path(&db_path);
    let _ = std::fs::remove_file(&wal);
    let _ = std::fs::remove_file(crate::store::wal_path(&staged_db));
    sync_dir(data_dir);
    // The database appears last, in one rename: before it, the data dir
    // holds no database and a restart bootstraps again.
    std::fs::rename(&staged_db, &db_path).map_err(|e| io("moving", &staged_db, e))?;
    sync_dir(data_dir);
    let _ = std::fs::remove_dir_all(&staging);
    let rows = manifest.rows.values().sum();
    tracing::info!(
        position = manifest.position,
        rows,
        ms = started.elapsed().as_millis() as u64,
        "installed a snapshot (database and search index)"
    );
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_part_and_key_file_names_are_parts() {
        assert!(is_part_name("part-00000.bin"));
        assert!(is_part_name("file-jwt.keys"));
        assert!(is_part_name("file-links.key"));
        for bad in [
            "part-0.bin",
            "part-00000.bin/../x",
            "../manifest.json",
            "file-../../etc/passwd",
            "manifest.json",
            "part-abcde.bin",
        ] {
            assert!(!is_part_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_part_must_match_its_size_and_digest() {
        let bytes = b"some rows".to_vec();
        let p = info("part-00000.bin".into(), &bytes);
        assert!(verify(&p, &bytes).is_ok());
        let mut flipped = bytes.clone();
        flipped[3] ^= 0x40;
        let e = verify(&p, &flipped).unwrap_err().to_string();
        assert!(e.contains("SHA-256"), "{e}");
        let e = verify(&p, &bytes[..5]).unwrap_err().to_string();
        assert!(e.contains("bytes"), "{e}");
    }

    #[test]
    fn a_snapshot_installs_into_an_empty_data_dir_with_its_search_index() {
        let dir = tempfile::tempdir().unwrap();
        let leader_dir = dir.path().join("leader");
        let store = Store::open(&crate::config::data_dir::database_path(&leader_dir)).unwrap();
        let catalog = Catalog::offline(store.clone());
        catalog
            .import(
                crate::catalog::demo::sources(),
                crate::catalog::import::ImportOptions { strict: true },
                &crate::catalog::import::NoProgress,
            )
            .unwrap();
        std::fs::write(leader_dir.join("links.key"), b"secret").unwrap();
        let parts = dir.path().join("parts");
        let m = produce(&store, &leader_dir, &parts).unwrap();
        assert_eq!(
            Manifest::parse(&std::fs::read(parts.join(MANIFEST)).unwrap()).unwrap(),
            m
        );
        assert!(m.rows["products"] > 0);
        assert_eq!(m.files.len(), 1);
        let target = dir.path().join("copy");
        install(&target, &m, &parts).unwrap();
        assert_eq!(std::fs::read(target.join("links.key")).unwrap(), b"secret");
        let copy = Store::open(&crate::config::data_dir::database_path(&target)).unwrap();
        assert_eq!(copy.position(), m.position);
        assert_eq!(
            copy.read().unwrap().catalog().counts().unwrap(),
            store.read().unwrap().catalog().counts().unwrap()
        );
        assert!(target.join("search").is_dir());
        // A second install over it is refused.
        let e = install(&target, &m, &parts).unwrap_err().to_string();
        assert!(e.contains("already holds a database"), "{e}");
    }
}
