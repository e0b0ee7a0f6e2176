//! The indexer thread: applies changes in batched commits and rebuilds.

use super::schema::{self, Fields};
use super::{DocSource, Live, Msg, SearchError, Shared, open_live};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use tantivy::{Index, IndexWriter, Term};

/// How long the first change of a batch waits for more.
const BATCH_WINDOW: Duration = Duration::from_millis(100);
/// Most products per commit.
const BATCH_MAX: usize = 10_000;
/// Products read from the store at a time.
const CHUNK: usize = 1_000;
const WRITER_HEAP: usize = 128 * 1024 * 1024;
/// After a failed build, the first wait before building again; it doubles
/// up to [`RETRY_MAX`] while builds keep failing.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(300);

fn writer(index: &Index) -> tantivy::Result<IndexWriter> {
    index.writer_with_num_threads(2, WRITER_HEAP)
}

fn commit(writer: &mut IndexWriter, generation: u64) -> tantivy::Result<()> {
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&generation.to_string());
    prepared.commit()?;
    Ok(())
}

/// Replaces the documents of `ids` with their current versions.
fn apply(
    writer: &mut IndexWriter,
    fields: &Fields,
    source: &dyn DocSource,
    ids: &[String],
) -> Result<(), SearchError> {
    for chunk in ids.chunks(CHUNK) {
        let docs = source
            .docs(chunk)
            .map_err(|e| SearchError::Source(e.to_string()))?;
        for (id, doc) in docs {
            writer.delete_term(Term::from_field_text(fields.id, &id));
            if let Some(d) = doc {
                writer.add_document(fields.document(&d))?;
            }
        }
    }
    Ok(())
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    dir.with_file_name(name)
}

/// Builds a fresh index from the whole store next to `dir`, then swaps it
/// in. Returns the new index, its live reader, the generation it reflects and
/// the number of documents.
pub(super) fn rebuild(
    dir: &Path,
    source: &dyn DocSource,
    total: u64,
    progress: &dyn Fn(u64, u64),
) -> Result<(Index, Arc<Live>, u64, u64), SearchError> {
    let generation = source
        .generation()
        .map_err(|e| SearchError::Source(e.to_string()))?;
    let tmp = sibling(dir, ".rebuild");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    // Not `create_dir_all`: if the data dir itself is gone, fail (and retry)
    // rather than bring back an empty one.
    std::fs::create_dir(&tmp)?;
    let (schema, fields) = schema::schema();
    let index = Index::create_in_dir(&tmp, schema)?;
    schema::register(&index);
    let mut w = writer(&index)?;
    let mut after: Option<String> = None;
    let mut done = 0u64;
    loop {
        let ids = source
            .ids_after(after.as_deref(), CHUNK)
            .map_err(|e| SearchError::Source(e.to_string()))?;
        let Some(last) = ids.last().cloned() else {
            break;
        };
        for (_, doc) in source
            .docs(&ids)
            .map_err(|e| SearchError::Source(e.to_string()))?
        {
            if let Some(d) = doc {
                w.add_document(fields.document(&d))?;
                done += 1;
            }
        }
        progress(done, total);
        after = Some(last);
    }
    commit(&mut w, generation)?;
    w.wait_merging_threads()?;
    drop(index);
    // Swap: the old directory moves aside (open readers keep their mmaps).
    let old = sibling(dir, ".old");
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    if dir.exists() {
        std::fs::rename(dir, &old)?;
    }
    std::fs::rename(&tmp, dir)?;
    if old.exists() {
        let _ = std::fs::remove_dir_all(&old);
    }
    let (index, live, _) = open_live(dir)?;
    Ok((index, live, generation, done))
}

pub(super) fn run(
    shared: Arc<Shared>,
    source: Arc<dyn DocSource>,
    rx: Receiver<Msg>,
    current: Option<Index>,
) {
    let mut state: Option<(Index, IndexWriter, Fields)> = None;
    let needs_rebuild = current.is_none();
    if let Some(index) = current {
        match writer(&index).and_then(|w| Fields::from_schema(&index.schema()).map(|f| (w, f))) {
            Ok((w, f)) => state = Some((index, w, f)),
            Err(e) => tracing::error!(error = %e, "opening the search index writer failed"),
        }
    }
    if needs_rebuild || state.is_none() {
        state = rebuild_now(&shared, &*source);
    }
    let mut stop = false;
    let mut retry_in = RETRY_FIRST;
    while !stop {
        // Without a writable index (a build failed), build again after a
        // backoff even if nothing changes: a passing fault (a full disk
        // since freed, a lost file) must not leave search down until the
        // next write or restart.
        let first = if state.is_some() {
            retry_in = RETRY_FIRST;
            match rx.recv() {
                Ok(m) => m,
                Err(_) => break,
            }
        } else {
            match rx.recv_timeout(retry_in) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    tracing::info!(
                        after_secs = retry_in.as_secs(),
                        "building the search index again after a failure"
                    );
                    retry_in = (retry_in * 2).min(RETRY_MAX);
                    state = rebuild_now(&shared, &*source);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        };
        let (mut generation, mut ids) = match first {
            Msg::Shutdown => break,
            Msg::Changed(g, v) => (g, v.into_iter().collect::<BTreeSet<_>>()),
        };
        let deadline = Instant::now() + BATCH_WINDOW;
        while ids.len() < BATCH_MAX {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Msg::Changed(g, v)) => {
                    generation = generation.max(g);
                    ids.extend(v);
                }
                Ok(Msg::Shutdown) | Err(RecvTimeoutError::Disconnected) => {
                    stop = true;
                    break;
                }
                Err(RecvTimeoutError::Timeout) => break,
            }
        }
        let ids: Vec<String> = ids.into_iter().collect();
        let Some((_, w, fields)) = state.as_mut() else {
            // No writable index: try to rebuild, which includes these changes.
            state = rebuild_now(&shared, &*source);
            continue;
        };
        let started = Instant::now();
        let result = apply(w, fields, &*source, &ids).and_then(|()| Ok(commit(w, generation)?));
        match result {
            Ok(()) => {
                let live = shared.serving.read().ok().and_then(|s| s.live.clone());
                if let Some(live) = live
                    && let Err(e) = live.reader.reload()
                {
                    tracing::error!(error = %e, "reloading the search reader failed");
                }
                if let Ok(mut s) = shared.serving.write() {
                    s.generation = generation;
                    s.error = None;
                }
                tracing::debug!(
                    products = ids.len(),
                    generation,
                    micros = started.elapsed().as_micros() as u64,
                    "search index committed"
                );
            }
            Err(e) => {
                tracing::error!(dir = %shared.dir.display(), error = %e, "updating the search index failed; rebuilding");
                let _ = w.rollback();
                state = rebuild_now(&shared, &*source);
            }
        }
    }
    if let Some((_, w, _)) = state {
        let _ = w.wait_merging_threads();
    }
}

/// Rebuilds while serving whatever is there, then serves the new index.
fn rebuild_now(shared: &Shared, source: &dyn DocSource) -> Option<(Index, IndexWriter, Fields)> {
    if let Ok(mut s) = shared.serving.write() {
        s.rebuilding = true;
    }
    let started = Instant::now();
    let result =
        rebuild(&shared.dir, source, 0, &|_, _| {}).and_then(|(index, live, generation, n)| {
            let w = writer(&index)?;
            let fields = live.fields;
            if let Ok(mut s) = shared.serving.write() {
                s.live = Some(live);
                s.generation = generation;
                s.rebuilding = false;
                s.error = None;
            }
            tracing::info!(
                documents = n,
                millis = started.elapsed().as_millis() as u64,
                "search index rebuilt"
            );
            Ok((index, w, fields))
        });
    match result {
        Ok(state) => Some(state),
        Err(e) => {
            tracing::error!(dir = %shared.dir.display(), error = %e, "rebuilding the search index failed");
            if let Ok(mut s) = shared.serving.write() {
                s.rebuilding = false;
                s.error = Some(e.to_string());
            }
            None
        }
    }
}
