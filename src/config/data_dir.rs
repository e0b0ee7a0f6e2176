//! [`DataDir`]: where shopd keeps everything it writes, and the name of
//! each file and folder in it. A leaf type: the one place those names are
//! spelled.

use std::path::{Path, PathBuf};

/// The data directory (`--data-dir`, default `./data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir(PathBuf);

/// The default data directory.
pub(crate) const DEFAULT_DATA_DIR: &str = "./data";

impl DataDir {
    pub(crate) fn new(path: impl Into<PathBuf>) -> DataDir {
        DataDir(path.into())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The database file, `shopd.redb` (its write-ahead log is
    /// `shopd.redb.wal` beside it).
    pub fn database(&self) -> PathBuf {
        database_path(&self.0)
    }

    /// The search index, `search/`.
    pub fn search(&self) -> PathBuf {
        self.0.join("search")
    }

    /// Mail written as `.eml` files when no SMTP server is configured.
    pub(crate) fn outbox(&self) -> PathBuf {
        self.0.join("outbox")
    }

    /// Mail template overrides.
    pub(crate) fn templates(&self) -> PathBuf {
        self.0.join("templates")
    }

    /// The JWT signing keys (unless `--jwt-key-file` names another file).
    pub(crate) fn jwt_keys(&self) -> PathBuf {
        self.0.join("jwt.keys")
    }

    /// The key that signs guests' order links.
    pub(crate) fn links_key(&self) -> PathBuf {
        self.0.join("links.key")
    }
}

/// The database file inside `data_dir`.
pub(crate) fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("shopd.redb")
}
