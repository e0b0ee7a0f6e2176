//! Errors of the storage layer. Nothing here is the user's fault: every
//! variant maps to a 5xx (or a failed CLI command) with its chain logged.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage engine error")]
    Engine(#[from] redb::Error),
    #[error("database file {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: redb::DatabaseError,
    },
    #[error("corrupt {table} record {key:?}: {reason}")]
    Corrupt {
        table: &'static str,
        key: String,
        reason: String,
    },
    /// The database file (or its log) fails its checks at open: flipped or
    /// lost bytes. Nothing is served from it.
    #[error(
        "the database file {path} is damaged ({detail}); shopd will not serve from it. \
         Restore the latest backup into an empty data dir with \
         `shopd backup restore SRC --data-dir DIR` (`shopd backup list SRC` shows the backups), \
         or start this node as a follower of a healthy leader"
    )]
    Damaged { path: String, detail: String },
    /// The write-ahead log is damaged before records of acknowledged
    /// batches: replaying past the damage would drop them silently.
    #[error(
        "the write-ahead log {path} is damaged at byte {offset}, and {batches_after} acknowledged \
         batch(es) follow the damage; shopd will not start from it. Restore the latest backup into \
         an empty data dir with `shopd backup restore SRC --data-dir DIR` (`shopd backup list SRC` \
         shows the backups), start this node as a follower of a healthy leader, or, to keep the \
         batches before the damage and lose those after it, start once with --accept-log-loss"
    )]
    LogDamaged {
        path: String,
        offset: u64,
        batches_after: u64,
    },
    #[error("database schema version {found} is not supported (this build reads {supported})")]
    Schema { found: u64, supported: u64 },
    /// Writes cannot be made durable now (the writer stopped, a commit
    /// failed); reads may still work.
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    /// A write failed after it reached the log, and taking it back failed
    /// too: it may or may not be there after a restart.
    #[error("the write's outcome is unknown: {0}")]
    OutcomeUnknown(String),
    /// This store is a follower's copy: writes go to the leader.
    #[error("this server is a read-only follower; writes go to the leader")]
    ReadOnly,
    /// Replicated data could not be applied (a gap, a bad checksum, a
    /// malformed batch or snapshot); nothing was changed.
    #[error("replication: {0}")]
    Replication(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Engine(e.into())
            }
        }
    )*};
}

from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

pub type StoreResult<T> = Result<T, StoreError>;
