//! The response cache's unit tests.

use super::*;
use std::convert::Infallible;
use std::sync::atomic::AtomicUsize;

fn body(s: &str, tags: &[Tag]) -> Result<Computed, Infallible> {
    Ok(Computed {
        body: s.as_bytes().to_vec(),
        tags: tags.to_vec(),
        meta: 0,
    })
}

/// The kinds these tests use, with the plans' TTLs (as the catalogue
/// registers them), the lists' TTL given.
const DETAIL: Kind = Kind(0);
const LIST: Kind = Kind(1);
const SEARCH: Kind = Kind(2);
const BRANDS: Kind = Kind(3);

fn kinds_with_list_ttl(list: Duration) -> Kinds {
    let mut k = Kinds::default();
    assert_eq!(
        k.register("product_detail", Duration::from_secs(1800)),
        DETAIL
    );
    assert_eq!(k.register("product_list", list), LIST);
    assert_eq!(k.register("search", Duration::from_secs(600)), SEARCH);
    assert_eq!(k.register("brands", Duration::from_secs(3600)), BRANDS);
    k
}

fn kinds() -> Kinds {
    kinds_with_list_ttl(Duration::from_secs(600))
}

fn cache() -> ResponseCache {
    ResponseCache::new(1 << 20, kinds())
}

#[tokio::test]
async fn hit_until_a_tag_is_invalidated() {
    let c = cache();
    let t = Tag::new("product", "p1");
    let other = Tag::new("product", "p2");
    let a = c
        .get_or_compute(DETAIL, "p1", Wanted::Gzip, || body("v1", &[t]))
        .await
        .unwrap();
    assert!(a.computed);
    let b = c
        .get_or_compute(DETAIL, "p1", Wanted::Gzip, || body("v2", &[t]))
        .await
        .unwrap();
    assert!(!b.computed);
    assert_eq!(&b.plain()[..], b"v1");
    c.invalidate([other]);
    let b = c
        .get_or_compute(DETAIL, "p1", Wanted::Gzip, || body("v2", &[t]))
        .await
        .unwrap();
    assert_eq!(&b.plain()[..], b"v1", "another tag leaves it alone");
    c.invalidate([t]);
    let b = c
        .get_or_compute(DETAIL, "p1", Wanted::Gzip, || body("v2", &[t]))
        .await
        .unwrap();
    assert!(b.computed);
    assert_eq!(&b.plain()[..], b"v2");
    let s = c.stats()[DETAIL.index()];
    assert_eq!((s.hits, s.misses, s.entries), (2, 2, 1));
}

#[tokio::test]
async fn a_computation_overlapping_a_write_is_not_stored() {
    let c = cache();
    let t = Tag::new("product", "p1");
    let a = c
        .get_or_compute(DETAIL, "p1", Wanted::Gzip, || {
            // A write commits and invalidates while this reads an older
            // snapshot.
            c.invalidate([t]);
            body("old", &[t])
        })
        .await
        .unwrap();
    assert_eq!(&a.plain()[..], b"old");
    let b = c
        .get_or_compute(DETAIL, "p1", Wanted::Gzip, || body("new", &[t]))
        .await
        .unwrap();
    assert!(b.computed, "the overlapping value must not be served");
    assert_eq!(&b.plain()[..], b"new");
}

#[tokio::test]
async fn entries_expire_after_their_kinds_ttl() {
    let c = ResponseCache::new(1 << 20, kinds_with_list_ttl(Duration::from_millis(30)));
    c.get_or_compute(LIST, "q", Wanted::Gzip, || body("a", &[]))
        .await
        .unwrap();
    c.get_or_compute(BRANDS, "q", Wanted::Gzip, || body("a", &[]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(40)).await;
    let l = c
        .get_or_compute(LIST, "q", Wanted::Gzip, || body("b", &[]))
        .await
        .unwrap();
    let b = c
        .get_or_compute(BRANDS, "q", Wanted::Gzip, || body("b", &[]))
        .await
        .unwrap();
    assert!(l.computed, "list TTL passed");
    assert!(!b.computed, "brands TTL has not");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_misses_compute_once() {
    let c = Arc::new(cache());
    let runs = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (c, runs) = (c.clone(), runs.clone());
        tasks.push(tokio::spawn(async move {
            c.get_or_compute(SEARCH, "cold", Wanted::Gzip, || {
                runs.fetch_add(1, SeqCst);
                std::thread::sleep(Duration::from_millis(50));
                body("x", &[])
            })
            .await
            .unwrap()
            .plain()
        }));
    }
    for t in tasks {
        assert_eq!(&t.await.unwrap()[..], b"x");
    }
    assert_eq!(runs.load(SeqCst), 1);
}

#[tokio::test]
async fn capacity_is_bytes_and_evictions_are_counted() {
    let c = ResponseCache::new(64 * 1024, kinds());
    let big = "x".repeat(1000);
    for i in 0..500 {
        c.get_or_compute(DETAIL, &i.to_string(), Wanted::Gzip, || body(&big, &[]))
            .await
            .unwrap();
    }
    let s = c.stats()[DETAIL.index()];
    assert!(s.bytes <= 64 * 1024, "{s:?}");
    assert!(s.entries < 500 && s.entries > 20, "{s:?}");
    assert_eq!(s.evictions + s.entries, 500, "{s:?}");
}

#[tokio::test]
async fn long_bodies_are_kept_gzipped_and_weigh_their_compressed_size() {
    let c = ResponseCache::new(64 * 1024, kinds());
    let json = (0..100)
        .map(|i| format!(r#"{{"id":"p{i:04}","title":"Lamp {i}","price":12.5}}"#))
        .collect::<Vec<_>>()
        .join(",");
    let hash = xxhash_rust::xxh3::xxh3_64(json.as_bytes());
    let first = c
        .get_or_compute(LIST, "q", Wanted::Gzip, || body(&json, &[]))
        .await
        .unwrap();
    let hit = c
        .get_or_compute(LIST, "q", Wanted::Gzip, || body("other", &[]))
        .await
        .unwrap();
    assert!(first.computed && !hit.computed);
    for s in [&first, &hit] {
        assert_eq!(s.hash, hash);
        assert_eq!(&s.plain()[..], json.as_bytes());
        let Stored::Gzip(gz) = &s.body else {
            panic!("stored plain: {:?}", s.body)
        };
        assert_eq!(s.encoded(true), (gz.clone(), true));
        assert_eq!(&s.encoded(false).0[..], json.as_bytes());
        assert!(!s.encoded(false).1);
        assert_eq!(gzip::inflate(gz).unwrap(), json.as_bytes());
    }
    let Stored::Gzip(gz) = &hit.body else {
        unreachable!()
    };
    let stats = c.stats()[LIST.index()];
    assert_eq!(stats.bytes, gz.len() as u64 + 1 + ENTRY_OVERHEAD);
    assert!(gz.len() * 4 < json.len(), "{} of {}", gz.len(), json.len());

    // A plain caller inflates once into the plain cache; the next one
    // takes that copy. The gzip entry weighs the same.
    let plain = c
        .get_or_compute(LIST, "q", Wanted::Plain, || body("x", &[]))
        .await
        .unwrap();
    assert!(!plain.computed);
    assert_eq!(&plain.plain()[..], json.as_bytes());
    assert_eq!(c.plain_bytes(), json.len() as u64 + ENTRY_OVERHEAD);
    let again = c
        .get_or_compute(LIST, "q", Wanted::Plain, || body("x", &[]))
        .await
        .unwrap();
    assert_eq!(
        again.encoded(false).0.as_ptr(),
        plain.plain().as_ptr(),
        "kept, not inflated again"
    );
    assert_eq!(again.encoded(true), (gz.clone(), true));
    assert_eq!(
        c.stats()[LIST.index()].bytes,
        gz.len() as u64 + 1 + ENTRY_OVERHEAD
    );
    // The plain copy follows the entry: once a tag is bumped, the
    // entry is recomputed, and its new body has another hash.
    let t = Tag::new("list", "");
    let tagged = c
        .get_or_compute(LIST, "t", Wanted::Plain, || body(&json, &[t]))
        .await
        .unwrap();
    assert!(tagged.computed);
    c.invalidate([t]);
    let newer = format!("{json},{json}");
    let fresh = c
        .get_or_compute(LIST, "t", Wanted::Plain, || body(&newer, &[t]))
        .await
        .unwrap();
    assert!(fresh.computed);
    let hit = c
        .get_or_compute(LIST, "t", Wanted::Plain, || body("x", &[t]))
        .await
        .unwrap();
    assert!(!hit.computed);
    assert_eq!(&hit.plain()[..], newer.as_bytes());

    // Short bodies stay plain; with caching off nothing is compressed.
    let short = c
        .get_or_compute(BRANDS, "b", Wanted::Gzip, || body("{}", &[]))
        .await
        .unwrap();
    assert_eq!(short.body, Stored::Plain(Bytes::from_static(b"{}")));
    let off = ResponseCache::new(0, kinds())
        .get_or_compute(LIST, "q", Wanted::Gzip, || body(&json, &[]))
        .await
        .unwrap();
    assert_eq!(off.body, Stored::Plain(Bytes::from(json.clone())));
    assert_eq!(off.hash, hash);
}

#[tokio::test]
async fn off_computes_every_time() {
    let c = ResponseCache::new(0, kinds());
    for _ in 0..3 {
        let s = c
            .get_or_compute(BRANDS, "", Wanted::Gzip, || body("b", &[]))
            .await
            .unwrap();
        assert!(s.computed);
    }
    assert_eq!(c.stats()[BRANDS.index()].misses, 3);
}
