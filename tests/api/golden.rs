//! Format compatibility: v1 records written by an earlier build (the golden
//! file in fixtures/golden/) still decode to the same values, and today's
//! encoder still writes exactly those bytes (a change needs a new version).
//!
//! Regenerate only on purpose: `SHOPD_BLESS_GOLDEN=1 cargo test golden`.

use shopd::domain::review::Rating;
use shopd::domain::{Brand, Category, Discount, Id, Price, Product, Review, Reviewer, Timestamp};
use shopd::store::codec::decode;
use shopd::store::{BrandRec, CategoryRec, ProductRec, Record, ReviewRec, ReviewerRec};
use std::path::PathBuf;

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden/records-v1.bin")
}

fn id(s: &str) -> Id {
    Id::parse(s).unwrap()
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn samples() -> (Brand, Category, Product, Review, Reviewer) {
    (
        Brand {
            id: id("brand-1"),
            title: "Acme Ünïcode".into(),
            description: "Since 1900.".into(),
            logo: Some("https://x/l.png".into()),
        },
        Category {
            id: id("cat-1-1"),
            title: "Lamps".into(),
            description: String::new(),
            parent_id: Some(id("cat-1")),
        },
        Product {
            id: id("prod-1"),
            title: "Ergonomic Steel Desk Lamp X200".into(),
            description: "Bright.\nWarm.".into(),
            images: vec!["https://x/1.jpg".into(), "https://x/2.jpg".into()],
            keywords: vec!["lamp".into(), "steel".into()],
            price: Price::from_cents(12_999).unwrap(),
            discount: Discount::new(0.15).unwrap(),
            stock: 42,
            is_physical: true,
            is_available: true,
            is_featured: false,
            brand_id: id("brand-1"),
            category_ids: vec![id("cat-1-1"), id("cat-2")],
            created_at: t("2024-05-01T12:00:00.250Z"),
            updated_at: t("2024-06-01T00:00:00Z"),
        },
        Review {
            id: id("rev-1"),
            product_id: id("prod-1"),
            user_id: id("user-1"),
            rating: Rating::new(4).unwrap(),
            text: "Good".into(),
            created_at: t("2024-07-01T08:30:00Z"),
        },
        Reviewer {
            id: id("user-1"),
            email: "a@example.com".into(),
            name: "Ada".into(),
            created_at: t("1999-12-31T23:59:59Z"),
        },
    )
}

fn encode_all() -> Vec<Vec<u8>> {
    let (b, c, p, r, u) = samples();
    vec![
        BrandRec::encode(&b),
        CategoryRec::encode(&c),
        ProductRec::encode(&p),
        ReviewRec::encode(&r),
        ReviewerRec::encode(&u),
    ]
}

/// `[len: u32 LE][bytes]…`
fn read_golden() -> Vec<Vec<u8>> {
    let data = std::fs::read(path()).expect("fixtures/golden/records-v1.bin exists");
    let mut out = Vec::new();
    let mut rest = data.as_slice();
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        out.push(rest[4..4 + len].to_vec());
        rest = &rest[4 + len..];
    }
    out
}

#[test]
fn v1_golden_records_still_decode_and_encode_identically() {
    if std::env::var_os("SHOPD_BLESS_GOLDEN").is_some() {
        let mut data = Vec::new();
        for rec in encode_all() {
            data.extend_from_slice(&(rec.len() as u32).to_le_bytes());
            data.extend_from_slice(&rec);
        }
        std::fs::create_dir_all(path().parent().unwrap()).unwrap();
        std::fs::write(path(), data).unwrap();
    }
    let golden = read_golden();
    assert_eq!(golden.len(), 5);
    assert!(
        golden.iter().all(|r| r[0] == 1),
        "every golden record is format v1"
    );
    let (b, c, p, r, u) = samples();
    // Decode from a deliberately misaligned copy too: redb slices may start anywhere.
    for shift in [0usize, 1, 3] {
        let shifted = |bytes: &Vec<u8>| {
            let mut v = vec![0u8; shift];
            v.extend_from_slice(bytes);
            v
        };
        assert_eq!(
            decode::<BrandRec>(&shifted(&golden[0])[shift..], "k").unwrap(),
            b
        );
        assert_eq!(
            decode::<CategoryRec>(&shifted(&golden[1])[shift..], "k").unwrap(),
            c
        );
        assert_eq!(
            decode::<ProductRec>(&shifted(&golden[2])[shift..], "k").unwrap(),
            p
        );
        assert_eq!(
            decode::<ReviewRec>(&shifted(&golden[3])[shift..], "k").unwrap(),
            r
        );
        assert_eq!(
            decode::<ReviewerRec>(&shifted(&golden[4])[shift..], "k").unwrap(),
            u
        );
    }
    assert_eq!(
        encode_all(),
        golden,
        "the v1 encoding changed: add a v2 format instead"
    );
}

#[test]
fn unknown_versions_and_garbage_are_errors_not_panics() {
    let mut bytes = encode_all().remove(2);
    bytes[0] = 9;
    let err = decode::<ProductRec>(&bytes, "prod-1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown format version 9"), "{err}");
    // invalid UTF-8 inside a string is caught by validation
    let mut bytes = encode_all().remove(2);
    let at = bytes.windows(9).position(|w| w == b"Ergonomic").unwrap();
    bytes[at] = 0xff;
    assert!(decode::<ProductRec>(&bytes, "prod-1").is_err());
    // so is a truncated value
    let bytes = encode_all().remove(2);
    assert!(decode::<ProductRec>(&bytes[..bytes.len() / 2], "prod-1").is_err());
    assert!(decode::<ProductRec>(&[], "prod-1").is_err());
    assert!(decode::<ProductRec>(&[1, 2, 3], "prod-1").is_err());
}
