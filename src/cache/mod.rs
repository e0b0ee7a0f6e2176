//! An in-process cache of rendered response bodies (quick_cache), with a TTL
//! per kind, invalidation by tags, and one computation per cold key.
//!
//! # Invariants
//! - An entry is served only while it is younger than its kind's TTL and none
//!   of its tags has been bumped since its value was computed. Writers call
//!   [`ResponseCache::invalidate`] after their durable commit and before they
//!   return, so a read that starts after a write was acknowledged never gets a
//!   value computed before it.
//! - A computation that overlapped any invalidation is handed to its caller
//!   but not stored: its snapshot may predate the write ([`Ticket`]).
//! - Concurrent misses on one key wait for the first one's computation
//!   (quick_cache placeholders); they do not compute it again.
//! - Tags live in a fixed table of version counters, indexed by the tag's
//!   hash. Two tags that share a slot only cost an extra miss, never a stale
//!   hit.
//!
//! Capacity is counted in bytes (body, key, tags and a fixed overhead per
//! entry); quick_cache evicts by weight with its CLOCK-Pro-like policy.
//! Bodies of 1 KiB or more are stored gzipped ([`gzip`]), so they count at
//! their compressed size; each entry keeps the hash of its plain body for
//! the HTTP `ETag`. Callers that want a gzipped entry plain
//! ([`Wanted::Plain`]) get it from a second, smaller cache of plain bodies
//! ([`PLAIN_SHARE`] of the capacity) keyed by the entry's content hash, or
//! inflate it and put it there. That cache needs no invalidation: it is
//! only asked after a valid hit, and a hash names one body.

pub mod gzip;

use bytes::Bytes;
use quick_cache::sync::{Cache, EntryAction, EntryResult};
use quick_cache::{DefaultHashBuilder, Equivalent, Lifecycle, Weighter};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// A kind of cached body, registered by the area that caches it
/// ([`Kinds::register`]): each kind has its own TTL and statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kind(u8);

impl Kind {
    fn index(self) -> usize {
        self.0 as usize
    }
}

/// Most kinds one cache serves.
pub(crate) const MAX_KINDS: usize = 16;

/// The kinds a cache serves, each with its name (a metrics label) and TTL:
/// areas register theirs before the cache is made.
#[derive(Debug, Clone, Default)]
pub(crate) struct Kinds {
    names: Vec<&'static str>,
    ttls: Vec<Duration>,
}

impl Kinds {
    /// A new kind named `name` whose entries are served for `ttl`.
    pub(crate) fn register(&mut self, name: &'static str, ttl: Duration) -> Kind {
        // A programming error that the first test of any area shows.
        assert!(self.names.len() < MAX_KINDS, "more than {MAX_KINDS} kinds");
        self.names.push(name);
        self.ttls.push(ttl);
        Kind((self.names.len() - 1) as u8)
    }
}

/// A name for something entries depend on, such as `("product", id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag(u64);

impl Tag {
    pub(crate) fn new(namespace: &str, id: &str) -> Tag {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(namespace.as_bytes());
        h.update(&[0]);
        h.update(id.as_bytes());
        Tag(h.digest())
    }

    fn slot(self) -> usize {
        (self.0 as usize) & (TAG_SLOTS - 1)
    }
}

/// Version counters for tags (a power of two; 512 KiB).
const TAG_SLOTS: usize = 1 << 16;
/// The share of the capacity (1/N) that holds plain forms of gzipped
/// entries, for clients that do not take gzip: the hot ones stay there.
pub(crate) const PLAIN_SHARE: u64 = 8;
/// Bytes an entry costs beyond its body, key and tags.
const ENTRY_OVERHEAD: u64 = 96;

/// A freshly rendered body and what it depends on.
#[derive(Debug, Clone, Default)]
pub struct Computed {
    pub body: Vec<u8>,
    pub tags: Vec<Tag>,
    /// A number the caller wants back on hits (search: the hit total).
    pub meta: u64,
}

/// The form the caller will send a body in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// The client accepts gzip: the stored gzip as it is.
    Gzip,
    /// Plain (the client does not accept gzip, or the caller parses it).
    Plain,
}

/// A body as the cache keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stored {
    /// Short bodies, and every body while caching is off.
    Plain(Bytes),
    /// The gzip of the body ([`gzip::compress`]).
    Gzip(Bytes),
}

/// A body from the cache or from a computation.
#[derive(Debug, Clone)]
pub(crate) struct Served {
    pub body: Stored,
    /// The plain body when at hand (rendered by this call, or from the
    /// plain cache): no need to inflate it.
    rendered: Option<Bytes>,
    /// xxh3 of the plain body, whatever its stored form.
    pub hash: u64,
    pub meta: u64,
    /// True when this call computed it (the tests count computations).
    #[cfg_attr(not(test), allow(dead_code))]
    pub computed: bool,
}

impl Served {
    /// The plain body (inflated when stored gzipped).
    pub(crate) fn plain(&self) -> Bytes {
        match (&self.body, &self.rendered) {
            (Stored::Plain(b), _) | (Stored::Gzip(_), Some(b)) => b.clone(),
            (Stored::Gzip(gz), None) => {
                Bytes::from(gzip::inflate(gz).expect("the cache inflates only what it compressed"))
            }
        }
    }

    /// The body for a client: the stored gzip as it is when the client
    /// accepts gzip (`true` in the answer), else the plain body.
    pub(crate) fn encoded(&self, accepts_gzip: bool) -> (Bytes, bool) {
        match &self.body {
            Stored::Gzip(gz) if accepts_gzip => (gz.clone(), true),
            _ => (self.plain(), false),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    kind: Kind,
    text: Arc<str>,
}

/// A borrowed [`Key`] for lookups without allocating; hashes the same.
#[derive(Hash)]
struct KeyRef<'a> {
    kind: Kind,
    text: &'a str,
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, k: &Key) -> bool {
        self.kind == k.kind && self.text == &*k.text
    }
}

struct Entry {
    body: Stored,
    /// xxh3 of the plain body.
    hash: u64,
    meta: u64,
    /// `(slot, version)` of every tag, read after computing.
    tags: Box<[(u32, u64)]>,
    expires: Instant,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<Key, Arc<Entry>> for ByBytes {
    fn weight(&self, key: &Key, e: &Arc<Entry>) -> u64 {
        let body = match &e.body {
            Stored::Plain(b) | Stored::Gzip(b) => b.len() as u64,
        };
        body + key.text.len() as u64 + 12 * e.tags.len() as u64 + ENTRY_OVERHEAD
    }
}

/// Counts evictions per kind.
#[derive(Clone, Default)]
struct Evictions(Arc<[AtomicU64; MAX_KINDS]>);

impl Lifecycle<Key, Arc<Entry>> for Evictions {
    type RequestState = ();
    fn on_evict(&self, _: &mut (), key: Key, _: Arc<Entry>) {
        self.0[key.kind.index()].fetch_add(1, Relaxed);
    }
}

type Map = Cache<Key, Arc<Entry>, ByBytes, DefaultHashBuilder, Evictions>;

/// A plain body's key: its xxh3 and its gzip's length.
type PlainKey = (u64, u32);

#[derive(Clone)]
struct PlainBytes;

impl Weighter<PlainKey, Bytes> for PlainBytes {
    fn weight(&self, _: &PlainKey, b: &Bytes) -> u64 {
        b.len() as u64 + ENTRY_OVERHEAD
    }
}

/// Plain forms of gzipped entries ([`PLAIN_SHARE`]).
type PlainMap = Cache<PlainKey, Bytes, PlainBytes>;
/// What looking a key up with [`ResponseCache::recheck`] finds.
type Found<'a> =
    EntryResult<'a, Key, Arc<Entry>, ByBytes, DefaultHashBuilder, Evictions, Arc<Entry>>;

#[derive(Default)]
struct Counts {
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Statistics of one kind, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KindStats {
    /// The kind's name.
    pub name: &'static str,
    pub hits: u64,
    /// Computations (misses, expired or invalidated entries).
    pub misses: u64,
    pub evictions: u64,
    pub entries: u64,
    pub bytes: u64,
}

/// The invalidation epoch when a computation began; see the invariants.
#[derive(Debug, Clone, Copy)]
struct Ticket(u64);

/// The response cache; share it behind an `Arc`.
pub struct ResponseCache {
    /// `None`: caching is off; every call computes (and counts a miss).
    map: Option<Map>,
    plain: Option<PlainMap>,
    versions: Box<[AtomicU64]>,
    /// Bumped by every invalidation, before its tags.
    epoch: AtomicU64,
    kinds: Kinds,
    counts: [Counts; MAX_KINDS],
    evictions: Evictions,
}

impl ResponseCache {
    /// A cache of `kinds` holding up to `capacity_bytes`; 0 turns caching
    /// off.
    pub(crate) fn new(capacity_bytes: u64, kinds: Kinds) -> ResponseCache {
        let evictions = Evictions::default();
        let plain_bytes = capacity_bytes / PLAIN_SHARE;
        let plain = (plain_bytes > 0).then(|| {
            let estimated = (plain_bytes / 8192).clamp(16, 1 << 20) as usize;
            PlainMap::with_weighter(estimated, plain_bytes, PlainBytes)
        });
        let map = (capacity_bytes > 0).then(|| {
            let capacity_bytes = capacity_bytes - plain_bytes;
            // Items of ~2 KiB on average sizes the index; it grows if needed.
            let estimated = (capacity_bytes / 2048).clamp(16, 1 << 22) as usize;
            Map::with(
                estimated,
                capacity_bytes,
                ByBytes,
                DefaultHashBuilder::default(),
                evictions.clone(),
            )
        });
        ResponseCache {
            map,
            plain,
            versions: (0..TAG_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            epoch: AtomicU64::new(0),
            kinds,
            counts: Default::default(),
            evictions,
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.map.is_some()
    }

    /// Makes every entry tagged with any of `tags` stale. Call after the
    /// change is durable and before acknowledging it.
    pub(crate) fn invalidate(&self, tags: impl IntoIterator<Item = Tag>) {
        let mut tags = tags.into_iter().peekable();
        // A commit that shows nothing cached (job bookkeeping, sessions)
        // invalidates nothing, and must not make in-flight computations
        // throw their bodies away either.
        if tags.peek().is_none() {
            return;
        }
        self.epoch.fetch_add(1, SeqCst);
        for t in tags {
            self.versions[t.slot()].fetch_add(1, SeqCst);
        }
    }

    /// Makes every entry stale (the whole database was replaced, e.g. a
    /// follower re-bootstrapped from a snapshot).
    pub(crate) fn invalidate_all(&self) {
        self.epoch.fetch_add(1, SeqCst);
        for v in self.versions.iter() {
            v.fetch_add(1, SeqCst);
        }
    }

    fn valid(&self, e: &Entry, now: Instant) -> bool {
        now < e.expires
            && e.tags
                .iter()
                .all(|&(slot, v)| self.versions[slot as usize].load(SeqCst) == v)
    }

    /// Serves a valid entry; a plain caller of a gzipped one takes the
    /// plain cache's copy, or inflates it and leaves a copy there.
    fn hit(&self, kind: Kind, e: &Entry, wanted: Wanted) -> Served {
        self.counts[kind.index()].hits.fetch_add(1, Relaxed);
        let mut rendered = None;
        if wanted == Wanted::Plain
            && let Stored::Gzip(gz) = &e.body
        {
            let key = (e.hash, gz.len() as u32);
            let kept = self.plain.as_ref().and_then(|m| m.get(&key));
            rendered = Some(kept.unwrap_or_else(|| {
                let plain = Bytes::from(
                    gzip::inflate(gz).expect("the cache inflates only what it compressed"),
                );
                if let Some(m) = &self.plain {
                    m.insert(key, plain.clone());
                }
                plain
            }));
        }
        Served {
            body: e.body.clone(),
            rendered,
            hash: e.hash,
            meta: e.meta,
            computed: false,
        }
    }

    /// The body cached for `(kind, key)`, or `compute`'s, which is then
    /// cached. Concurrent callers with the same key wait for one computation.
    /// `compute` must read storage only after it is called (it is what the
    /// stale-insert guard assumes). Errors are returned, not cached.
    pub(crate) async fn get_or_compute<E>(
        &self,
        kind: Kind,
        key: &str,
        wanted: Wanted,
        compute: impl FnOnce() -> Result<Computed, E>,
    ) -> Result<Served, E> {
        let Some(map) = &self.map else {
            return self.compute(kind, wanted, compute).map(|(s, _, _)| s);
        };
        let now = Instant::now();
        if let Some(e) = map.get(&KeyRef { kind, text: key })
            && self.valid(&e, now)
        {
            return Ok(self.hit(kind, &e, wanted));
        }
        let owned = Key {
            kind,
            text: Arc::from(key),
        };
        let found = map.entry_async(&owned, self.recheck(now)).await;
        self.settle(kind, wanted, found, compute)
    }

    /// [`Self::get_or_compute`] for threads outside the async runtime
    /// (warm-up); waits for a concurrent computation by blocking.
    pub(crate) fn get_or_compute_blocking<E>(
        &self,
        kind: Kind,
        key: &str,
        compute: impl FnOnce() -> Result<Computed, E>,
    ) -> Result<Served, E> {
        let Some(map) = &self.map else {
            return self.compute(kind, Wanted::Gzip, compute).map(|(s, _, _)| s);
        };
        let now = Instant::now();
        let owned = Key {
            kind,
            text: Arc::from(key),
        };
        let found = map.entry(&owned, None, self.recheck(now));
        self.settle(kind, Wanted::Gzip, found, compute)
    }

    /// For quick_cache's `entry`: keep a valid entry, or replace a stale or
    /// expired one under a placeholder guard.
    fn recheck(
        &self,
        now: Instant,
    ) -> impl FnOnce(&Key, &mut Arc<Entry>) -> EntryAction<Arc<Entry>> + '_ {
        move |_, e| {
            if self.valid(e, now) {
                EntryAction::Retain(e.clone())
            } else {
                EntryAction::ReplaceWithGuard
            }
        }
    }

    /// A hit, or the computation under the placeholder guard (stored unless
    /// an invalidation overlapped it).
    fn settle<E>(
        &self,
        kind: Kind,
        wanted: Wanted,
        found: Found<'_>,
        compute: impl FnOnce() -> Result<Computed, E>,
    ) -> Result<Served, E> {
        let guard = match found {
            EntryResult::Retained(e) => return Ok(self.hit(kind, &e, wanted)),
            EntryResult::Vacant(g) | EntryResult::Replaced(g, _) => Some(g),
            EntryResult::Removed(..) | EntryResult::Timeout => None,
        };
        let (served, entry, ticket) = self.compute(kind, wanted, compute)?;
        if let Some(g) = guard
            && self.epoch.load(SeqCst) == ticket.0
        {
            let _ = g.insert(entry);
        }
        Ok(served)
    }

    /// Runs `compute` under a ticket and stamps the result's tags; a plain
    /// caller's body also goes to the plain cache.
    fn compute<E>(
        &self,
        kind: Kind,
        wanted: Wanted,
        compute: impl FnOnce() -> Result<Computed, E>,
    ) -> Result<(Served, Arc<Entry>, Ticket), E> {
        self.counts[kind.index()].misses.fetch_add(1, Relaxed);
        let ticket = Ticket(self.epoch.load(SeqCst));
        let c = compute()?;
        // Tag versions matter only to an entry that is kept.
        let mut tags: Vec<(u32, u64)> = match self.map {
            Some(_) => c.tags.iter().map(|t| (t.slot() as u32, 0)).collect(),
            None => Vec::new(),
        };
        tags.sort_unstable();
        tags.dedup();
        for (slot, v) in &mut tags {
            *v = self.versions[*slot as usize].load(SeqCst);
        }
        let hash = xxhash_rust::xxh3::xxh3_64(&c.body);
        let plain = Bytes::from(c.body);
        // Compressing pays only for a body that is kept.
        let (body, rendered) = if self.map.is_some() && plain.len() >= gzip::MIN_BYTES {
            (Stored::Gzip(gzip::compress(&plain).into()), Some(plain))
        } else {
            (Stored::Plain(plain), None)
        };
        if wanted == Wanted::Plain
            && let (Some(m), Some(p), Stored::Gzip(gz)) = (&self.plain, &rendered, &body)
        {
            m.insert((hash, gz.len() as u32), p.clone());
        }
        let entry = Arc::new(Entry {
            body: body.clone(),
            hash,
            meta: c.meta,
            tags: tags.into_boxed_slice(),
            expires: Instant::now() + self.kinds.ttls[kind.index()],
        });
        let served = Served {
            body,
            rendered,
            hash,
            meta: c.meta,
            computed: true,
        };
        Ok((served, entry, ticket))
    }

    /// Hits and misses per kind: a few atomic loads, no walk (the admin
    /// overview's sampler reads them every 2 s).
    pub(crate) fn hit_counts(&self) -> Vec<(&'static str, u64, u64)> {
        self.kinds
            .names
            .iter()
            .zip(&self.counts)
            .map(|(&name, c)| (name, c.hits.load(Relaxed), c.misses.load(Relaxed)))
            .collect()
    }

    /// Per-kind statistics; walks the entries (call at scrape time, not per
    /// request).
    pub(crate) fn stats(&self) -> Vec<KindStats> {
        let mut entries = [0u64; MAX_KINDS];
        let mut bytes = [0u64; MAX_KINDS];
        if let Some(map) = &self.map {
            for (k, e) in map.iter() {
                entries[k.kind.index()] += 1;
                bytes[k.kind.index()] += ByBytes.weight(&k, &e);
            }
        }
        self.kinds
            .names
            .iter()
            .enumerate()
            .map(|(i, &name)| KindStats {
                name,
                hits: self.counts[i].hits.load(Relaxed),
                misses: self.counts[i].misses.load(Relaxed),
                evictions: self.evictions.0[i].load(Relaxed),
                entries: entries[i],
                bytes: bytes[i],
            })
            .collect()
    }

    /// The byte capacity (0 when off).
    pub(crate) fn capacity(&self) -> u64 {
        self.map.as_ref().map_or(0, |m| m.capacity())
            + self.plain.as_ref().map_or(0, |m| m.capacity())
    }

    /// Bytes held by the plain forms of gzipped entries (see
    /// [`PLAIN_SHARE`]); not counted in [`Self::stats`].
    #[cfg(test)]
    pub(crate) fn plain_bytes(&self) -> u64 {
        self.plain.as_ref().map_or(0, |m| m.weight())
    }
}

#[cfg(test)]
mod tests;
