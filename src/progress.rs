//! Import progress bars (indicatif) and the import summary, for the CLI.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use shopd::catalog::import::{ImportReport, Progress};
use std::sync::Mutex;

/// One byte-based bar per file. Draws only when stderr is a terminal.
pub struct Bars {
    multi: MultiProgress,
    current: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub(crate) fn new() -> Self {
        Bars {
            multi: MultiProgress::new(),
            current: Mutex::new(None),
        }
    }

    pub(crate) fn clear(&self) {
        let _ = self.multi.clear();
    }
}

impl Progress for Bars {
    fn start(&self, file: &str, bytes: u64) {
        let bar = self.multi.add(ProgressBar::new(bytes));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>18} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(file.to_string());
        if let Ok(mut c) = self.current.lock() {
            *c = Some(bar);
        }
    }

    fn advance(&self, bytes: u64) {
        if let Ok(c) = self.current.lock()
            && let Some(bar) = c.as_ref()
        {
            bar.inc(bytes);
        }
    }

    fn finish(&self, _file: &str) {
        if let Ok(mut c) = self.current.lock()
            && let Some(bar) = c.take()
        {
            bar.finish();
        }
    }
}

/// A counting bar (drawn only on a terminal).
pub(crate) fn bar(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "[{{bar:40}}] {{pos:>8}}/{{len:<8}} {unit} {{per_sec:>12}} eta {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

/// Prints per-file counts and the bad lines (to stdout and stderr).
pub(crate) fn print_import(report: &ImportReport) {
    for f in &report.files {
        println!(
            "{:>9} imported  {:>7} skipped  {}",
            f.imported, f.skipped, f.file
        );
    }
    for e in &report.errors {
        eprintln!("{e}");
    }
    let skipped = report.skipped();
    if skipped as usize > report.errors.len() {
        eprintln!(
            "… and {} more bad line(s)",
            skipped as usize - report.errors.len()
        );
    }
    if report.committed {
        println!(
            "imported {} record(s), skipped {} bad line(s)",
            report.imported(),
            skipped
        );
    }
}
