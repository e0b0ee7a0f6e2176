//! `shopd export`: the catalogue as JSONL files, in the import format.
//!
//! Each file is written to `NAME.tmp` and renamed into place, so a reader never
//! sees half a file. Records come out in id order from one snapshot per table.

use super::Catalog;
use super::import::FILES;
use crate::store::{ExportRecord, RecordTable, StoreError};
use std::io::{self, BufWriter, Write};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Lines written per file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    pub files: Vec<(String, u64)>,
}

fn table_of(file: &str) -> RecordTable {
    match file {
        "brands.jsonl" => RecordTable::Brands,
        "categories.jsonl" => RecordTable::Categories,
        "users.jsonl" => RecordTable::Reviewers,
        "products.jsonl" => RecordTable::Products,
        _ => RecordTable::Reviews,
    }
}

/// Writes one record as a JSON line.
pub(crate) fn write_record(out: &mut impl Write, rec: &ExportRecord) -> io::Result<()> {
    match rec {
        ExportRecord::Brand(b) => serde_json::to_writer(&mut *out, b),
        ExportRecord::Category(c) => serde_json::to_writer(&mut *out, c),
        ExportRecord::Product(p) => serde_json::to_writer(&mut *out, p),
        ExportRecord::Review(r) => serde_json::to_writer(&mut *out, r),
        ExportRecord::Reviewer(u) => serde_json::to_writer(&mut *out, u),
    }
    .map_err(io::Error::other)?;
    out.write_all(b"\n")
}

impl Catalog {
    pub fn export(&self, dir: &Path) -> Result<ExportReport, ExportError> {
        let io_err = |file: &str| {
            let file = file.to_string();
            move |source| ExportError::Io {
                file: file.clone(),
                source,
            }
        };
        std::fs::create_dir_all(dir).map_err(io_err(&dir.display().to_string()))?;
        let mut report = ExportReport::default();
        for file in FILES {
            let tmp = dir.join(format!("{file}.tmp"));
            let f = std::fs::File::create(&tmp).map_err(io_err(file))?;
            let mut out = BufWriter::with_capacity(1 << 16, f);
            let mut n = 0u64;
            self.store.export(table_of(file), |rec| {
                n += 1;
                write_record(&mut out, &rec).map_err(io_err(file))
            })?;
            let f = out.into_inner().map_err(|e| io_err(file)(e.into_error()))?;
            f.sync_all().map_err(io_err(file))?;
            std::fs::rename(&tmp, dir.join(file)).map_err(io_err(file))?;
            report.files.push((file.to_string(), n));
        }
        Ok(report)
    }
}
