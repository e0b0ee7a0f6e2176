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

    /// Product images (originals and variants) when kept in the data dir.
    pub fn media(&self) -> PathBuf {
        self.0.join("media")
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

    /// Why this directory is readable by others than its owner (its mode
    /// lets group or others in), if it is: a warning in the log and in
    /// `/ready`, not a failure (a deployment may mean it).
    pub fn exposure(&self) -> Option<String> {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&self.0).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "the data dir {} has mode {mode:o}: other users of this machine may read the \
                 shop's data and keys; chmod -R go-rwx {}",
                self.0.display(),
                self.0.display()
            )
        })
    }

    /// The demo's bootstrap admin token (`serve --demo` without one).
    pub fn admin_token(&self) -> PathBuf {
        self.0.join("admin.token")
    }

    /// The key that seals mails' secret values at rest (`jobs::sealed`).
    pub(crate) fn mail_key(&self) -> PathBuf {
        self.0.join("mail.key")
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
