//! Object storage: a directory or an S3-compatible bucket behind one API
//! (`object_store`), for what shopd keeps outside its database — backups
//! and product images.
//!
//! # Invariants
//! - A directory target is created owner-only (the process umask is 077,
//!   see `startup`), so are the files written into it.
//! - S3 credentials, region and endpoint come from the usual `AWS_*`
//!   variables (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` or
//!   `AWS_ENDPOINT` for an S3-compatible server; plain HTTP only when the
//!   endpoint says `http://`). Nothing here logs them.

use crate::config::backups::Target;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OpenError(pub String);

/// The store behind `target` and the prefix every path goes under.
pub fn open(target: &Target) -> Result<(Arc<dyn ObjectStore>, ObjectPath), OpenError> {
    match target {
        Target::Dir(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| OpenError(format!("creating {}: {e}", dir.display())))?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| OpenError(e.to_string()))?;
            Ok((Arc::new(fs), ObjectPath::from("")))
        }
        Target::S3 { bucket, prefix } => {
            let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
            for var in ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"] {
                if let Ok(url) = std::env::var(var) {
                    b = b
                        .with_endpoint(url.clone())
                        .with_allow_http(url.starts_with("http://"));
                    break;
                }
            }
            let s3 = b.build().map_err(|e| OpenError(e.to_string()))?;
            Ok((Arc::new(s3), ObjectPath::from(prefix.as_str())))
        }
    }
}

/// `prefix/part/part/…`.
pub fn child(prefix: &ObjectPath, parts: &[&str]) -> ObjectPath {
    let mut p = prefix.clone();
    for part in parts {
        p = p.clone().join(*part);
    }
    p
}
