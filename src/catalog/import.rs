//! `shopd import`: JSONL files into the catalogue, in one transaction.
//!
//! Files are read in dependency order (brands, categories, users, products,
//! reviews); any may be absent. Each line is parsed with the same validators as
//! the API and checked against what is already stored *and* what earlier lines
//! wrote. A bad line is reported as `file:line: reason`. By default bad lines
//! are skipped; with `strict`, every line is still checked but nothing is
//! committed if any is bad. Records are upserted by id, so importing the same
//! files twice leaves the same catalogue.
//!
//! The whole import is one write transaction: it is atomic (a crash leaves the
//! old catalogue), and each product's index entries are written once, after
//! its reviews. Its cost is memory for the dirty pages until commit.

use super::Catalog;
use super::writes::{check_parent, check_product_refs, check_review_refs};
use crate::domain::account::Account;
use crate::domain::brand::BrandDraft;
use crate::domain::category::CategoryDraft;
use crate::domain::product::ProductDraft;
use crate::domain::review::ReviewDraft;
use crate::domain::{FieldErrors, Id, InputMode, Reviewer, Timestamp};
use crate::store::{CatalogWriter, StoreError};
use serde_json::{Map, Value};
use std::fmt;
use std::io::{self, BufRead};
use std::path::Path;

/// The files an import reads, in the order it reads them.
pub const FILES: [&str; 5] = [
    "brands.jsonl",
    "categories.jsonl",
    "users.jsonl",
    "products.jsonl",
    "reviews.jsonl",
];

/// One input file.
pub struct ImportSource {
    pub file: String,
    pub reader: Box<dyn BufRead + Send>,
    /// Size in bytes, for progress.
    pub len: u64,
}

/// Opens whichever of [`FILES`] exist in `dir`.
pub fn sources_from_dir(dir: &Path) -> io::Result<Vec<ImportSource>> {
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} is not a directory", dir.display()),
        ));
    }
    let mut out = Vec::new();
    for name in FILES {
        let path = dir.join(name);
        match std::fs::File::open(&path) {
            Ok(f) => {
                let len = f.metadata()?.len();
                out.push(ImportSource {
                    file: name.to_string(),
                    reader: Box::new(io::BufReader::with_capacity(1 << 16, f)),
                    len,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        }
    }
    Ok(out)
}

/// Receives progress; the CLI draws bars, tests pass [`NoProgress`].
pub trait Progress {
    fn start(&self, file: &str, bytes: u64);
    fn advance(&self, bytes: u64);
    fn finish(&self, file: &str);
}

pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self, _: &str) {}
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Abort with nothing written when any line is bad.
    pub strict: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileReport {
    pub file: String,
    pub imported: u64,
    pub skipped: u64,
}

/// What an import did. `errors` keeps the first [`MAX_REPORTED`] bad lines;
/// `skipped` counts all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub files: Vec<FileReport>,
    pub errors: Vec<LineError>,
    pub committed: bool,
}

pub(crate) const MAX_REPORTED: usize = 1000;

impl ImportReport {
    pub fn skipped(&self) -> u64 {
        self.files.iter().map(|f| f.skipped).sum()
    }
    pub fn imported(&self) -> u64 {
        self.files.iter().map(|f| f.imported).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{} bad line(s); nothing was imported (strict mode)", .0.skipped())]
    Rejected(ImportReport),
}

/// Per-import state: the report being built and the options.
struct Run<'a> {
    report: ImportReport,
    progress: &'a dyn Progress,
    now: Timestamp,
    /// Review authors imported: each becomes an unclaimed account.
    reviewers: Vec<Reviewer>,
}

impl Run<'_> {
    fn bad(&mut self, file: &str, line: u64, reason: String) {
        if let Some(f) = self.report.files.last_mut() {
            f.skipped += 1;
        }
        if self.report.errors.len() < MAX_REPORTED {
            self.report.errors.push(LineError {
                file: file.to_string(),
                line,
                reason,
            });
        }
    }

    fn ok(&mut self) {
        if let Some(f) = self.report.files.last_mut() {
            f.imported += 1;
        }
    }

    /// Reads `src` on a second thread, which splits lines, parses JSON and
    /// runs `parse` (the validators) in batches; this thread then calls
    /// `apply` for each parsed line in order, or records the line as bad.
    /// Parsing thus overlaps with the writes.
    fn each_line<T: Send>(
        &mut self,
        src: &mut ImportSource,
        parse: impl Fn(&Map<String, Value>) -> T + Sync,
        mut apply: impl FnMut(&mut Self, u64, T) -> Result<(), ImportError>,
    ) -> Result<(), ImportError> {
        const BATCH: usize = 1024;
        let file = src.file.clone();
        let reader = &mut src.reader;
        let parse = &parse;
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Batch<T>>>(4);
            scope.spawn(move || {
                let mut buf = String::new();
                let mut line_no = 0u64;
                let mut batch = Batch::default();
                loop {
                    buf.clear();
                    let n = match reader.read_line(&mut buf) {
                        Ok(n) => n,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    };
                    if n == 0 {
                        break;
                    }
                    line_no += 1;
                    batch.bytes += n as u64;
                    let text = buf.trim();
                    if !text.is_empty() {
                        batch.lines.push(match serde_json::from_str::<Value>(text) {
                            Ok(Value::Object(map)) => Line::Parsed(line_no, parse(&map)),
                            Ok(_) => Line::Bad(line_no, "expected a JSON object".into()),
                            Err(e) => Line::Bad(line_no, format!("bad JSON: {e}")),
                        });
                    }
                    if batch.lines.len() >= BATCH
                        && tx.send(Ok(std::mem::take(&mut batch))).is_err()
                    {
                        return; // the writer stopped
                    }
                }
                let _ = tx.send(Ok(batch));
            });
            for batch in rx {
                let batch = batch.map_err(|source| ImportError::Io {
                    file: file.clone(),
                    source,
                })?;
                self.progress.advance(batch.bytes);
                for line in batch.lines {
                    match line {
                        Line::Parsed(n, value) => apply(self, n, value)?,
                        Line::Bad(n, reason) => self.bad(&file, n, reason),
                    }
                }
            }
            Ok(())
        })
    }
}

/// One line as the reader thread hands it over.
enum Line<T> {
    Parsed(u64, T),
    Bad(u64, String),
}

struct Batch<T> {
    lines: Vec<Line<T>>,
    bytes: u64,
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Batch {
            lines: Vec::new(),
            bytes: 0,
        }
    }
}

fn reason(errors: &FieldErrors) -> String {
    errors.to_string()
}

fn required_id(id: Option<Id>) -> Id {
    // Import mode makes `id` required; callers reach here only without errors.
    id.unwrap_or_else(|| Id::generate("x"))
}

impl Catalog {
    /// Imports `sources` in one transaction. See the module docs.
    pub fn import(
        &self,
        sources: Vec<ImportSource>,
        options: ImportOptions,
        progress: &dyn Progress,
    ) -> Result<ImportReport, ImportError> {
        let mut run = Run {
            report: ImportReport::default(),
            progress,
            now: Timestamp::now(),
            reviewers: Vec::new(),
        };
        let mut sources = sources;
        sources.sort_by_key(|s| {
            FILES
                .iter()
                .position(|f| *f == s.file)
                .unwrap_or(FILES.len())
        });
        let result = self.store.write_alone(|tx| {
            import_files(&mut run, &mut tx.catalog(), &mut sources)?;
            if options.strict && run.report.skipped() > 0 {
                return Err(ImportError::Rejected(std::mem::take(&mut run.report)));
            }
            // Review authors become accounts nobody has claimed yet (same id
            // and email); an id or email that already has one is left alone.
            let mut accounts = tx.accounts();
            for r in &run.reviewers {
                if let Some(a) = Account::unclaimed(r) {
                    accounts.insert_account(&a)?;
                }
            }
            Ok(())
        });
        result?;
        run.report.committed = true;
        Ok(run.report)
    }
}

fn import_files(
    run: &mut Run<'_>,
    w: &mut CatalogWriter,
    sources: &mut [ImportSource],
) -> Result<(), ImportError> {
    for src in sources.iter_mut() {
        run.report.files.push(FileReport {
            file: src.file.clone(),
            ..FileReport::default()
        });
        run.progress.start(&src.file, src.len);
        match src.file.as_str() {
            "brands.jsonl" => import_brands(run, w, src)?,
            "categories.jsonl" => import_categories(run, w, src)?,
            "users.jsonl" => import_reviewers(run, w, src)?,
            "products.jsonl" => import_products(run, w, src)?,
            "reviews.jsonl" => import_reviews(run, w, src)?,
            _ => {}
        }
        run.progress.finish(&src.file);
    }
    Ok(())
}

fn import_brands(
    run: &mut Run<'_>,
    w: &mut CatalogWriter,
    src: &mut ImportSource,
) -> Result<(), ImportError> {
    run.each_line(
        src,
        |map| BrandDraft::parse(map, InputMode::Import),
        |run, line, c| {
            if !c.errors.is_empty() {
                run.bad("brands.jsonl", line, reason(&c.errors));
                return Ok(());
            }
            let id = required_id(c.value.id.clone());
            w.put_brand(&c.value.into_brand(id))?;
            run.ok();
            Ok(())
        },
    )
}

fn import_categories(
    run: &mut Run<'_>,
    w: &mut CatalogWriter,
    src: &mut ImportSource,
) -> Result<(), ImportError> {
    const FILE: &str = "categories.jsonl";
    // Parents may come after their children: parse everything, then insert in
    // rounds, each taking the categories whose parent now exists.
    let mut pending = Vec::new();
    run.each_line(
        src,
        |map| CategoryDraft::parse(map, InputMode::Import),
        |run, line, c| {
            if c.errors.is_empty() {
                let id = required_id(c.value.id.clone());
                pending.push((line, c.value.into_category(id)));
            } else {
                run.bad(FILE, line, reason(&c.errors));
            }
            Ok(())
        },
    )?;
    loop {
        let before = pending.len();
        let mut waiting = Vec::new();
        for (line, cat) in pending {
            let parent_ready = match &cat.parent_id {
                None => true,
                Some(p) => w.category_exists(p.as_str())?,
            };
            if !parent_ready {
                waiting.push((line, cat));
                continue;
            }
            let mut errors = FieldErrors::new();
            let mut missing = FieldErrors::new();
            check_parent(
                w,
                Some(&cat.id),
                cat.parent_id.as_ref(),
                &mut missing,
                &mut errors,
            )?;
            errors.extend(missing);
            if errors.is_empty() {
                w.put_category(&cat)?;
                run.ok();
            } else {
                run.bad(FILE, line, reason(&errors));
            }
        }
        pending = waiting;
        if pending.is_empty() || pending.len() == before {
            break;
        }
    }
    pending.sort_by_key(|(line, _)| *line);
    for (line, cat) in pending {
        let parent = cat.parent_id.map(Id::into_string).unwrap_or_default();
        run.bad(
            FILE,
            line,
            format!("parentId: unknown category '{parent}' (missing, bad, or part of a cycle)"),
        );
    }
    Ok(())
}

fn import_reviewers(
    run: &mut Run<'_>,
    w: &mut CatalogWriter,
    src: &mut ImportSource,
) -> Result<(), ImportError> {
    let now = run.now;
    run.each_line(
        src,
        |map| Reviewer::parse(map, InputMode::Import, now),
        |run, line, c| {
            match c.value {
                Some(u) if c.errors.is_empty() => {
                    w.put_reviewer(&u)?;
                    run.reviewers.push(u);
                    run.ok();
                }
                _ => run.bad("users.jsonl", line, reason(&c.errors)),
            }
            Ok(())
        },
    )
}

fn import_products(
    run: &mut Run<'_>,
    w: &mut CatalogWriter,
    src: &mut ImportSource,
) -> Result<(), ImportError> {
    let now = run.now;
    run.each_line(
        src,
        |map| ProductDraft::parse(map, InputMode::Import),
        |run, line, mut c| {
            check_product_refs(w, &c.value, &mut c.errors)?;
            if !c.errors.is_empty() {
                run.bad("products.jsonl", line, reason(&c.errors));
                return Ok(());
            }
            let id = required_id(c.value.id.clone());
            match c.value.into_product(id, now) {
                Some(p) => {
                    w.put_product(&p)?;
                    run.ok();
                }
                None => run.bad("products.jsonl", line, "required fields are missing".into()),
            }
            Ok(())
        },
    )
}

fn import_reviews(
    run: &mut Run<'_>,
    w: &mut CatalogWriter,
    src: &mut ImportSource,
) -> Result<(), ImportError> {
    let now = run.now;
    run.each_line(
        src,
        |map| ReviewDraft::parse(map, InputMode::Import),
        |run, line, mut c| {
            if let Some(p) = &c.value.product_id
                && !w.product_exists(p.as_str())?
            {
                c.errors.push("productId", format!("unknown product '{p}'"));
            }
            check_review_refs(w, &c.value, &mut c.errors)?;
            if !c.errors.is_empty() {
                run.bad("reviews.jsonl", line, reason(&c.errors));
                return Ok(());
            }
            let id = required_id(c.value.id.clone());
            let pid = required_id(c.value.product_id.clone());
            match c.value.into_review(id, pid, now) {
                Some(r) => {
                    w.put_review(&r)?;
                    run.ok();
                }
                None => run.bad("reviews.jsonl", line, "required fields are missing".into()),
            }
            Ok(())
        },
    )
}
