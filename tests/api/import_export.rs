//! `shopd import` / `shopd export`: bad lines, strict mode, round trips.

use crate::helpers::{fixture_dir, spawn_in};
use shopd::catalog::Catalog;
use shopd::catalog::import::{ImportOptions, NoProgress, sources_from_dir};
use shopd::store::Store;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn shopd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shopd"))
        .args(args)
        .env_remove("SHOPD_ADMIN_TOKEN")
        .output()
        .expect("shopd runs")
}

fn write(dir: &Path, file: &str, lines: &[&str]) {
    std::fs::write(dir.join(file), lines.join("\n") + "\n").unwrap();
}

/// A small catalogue with one bad line of each kind.
fn files_with_bad_lines(dir: &Path) {
    write(
        dir,
        "brands.jsonl",
        &[
            r#"{"id":"b1","title":"Acme","description":"","logo":null}"#,
            r#"{"id":"b2","title":""}"#,
        ],
    );
    write(
        dir,
        "categories.jsonl",
        &[
            r#"{"id":"child","title":"Child","parentId":"root"}"#,
            r#"{"id":"root","title":"Root","parentId":null}"#,
            r#"{"id":"orphan","title":"Orphan","parentId":"missing"}"#,
        ],
    );
    write(
        dir,
        "users.jsonl",
        &[r#"{"id":"u1","email":"u1@example.com","name":"U One"}"#],
    );
    write(
        dir,
        "products.jsonl",
        &[
            r#"{"id":"p1","title":"Good","price":10.5,"brandId":"b1","categoryIds":["child"]}"#,
            r#"{"id":"p2","title":"Bad JSON","price":"#,
            r#"{"id":"p3","title":"No price","brandId":"b1"}"#,
            r#"{"id":"p4","title":"Unknown brand","price":1,"brandId":"b9"}"#,
            "",
            r#"{"id":"p5","title":"Unknown category","price":1,"brandId":"b1","categoryIds":["nope"]}"#,
            r#"{"id":"p6","title":"Second good","price":3,"brandId":"b1"}"#,
        ],
    );
    write(
        dir,
        "reviews.jsonl",
        &[
            r#"{"id":"r1","productId":"p1","userId":"u1","rating":5,"text":"ok"}"#,
            r#"{"id":"r2","productId":"p404","userId":"u1","rating":5,"text":"ok"}"#,
            r#"{"id":"r3","productId":"p1","userId":"u1","rating":9}"#,
        ],
    );
}

#[test]
fn import_skips_bad_lines_and_names_file_and_line() {
    let input = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    files_with_bad_lines(input.path());
    let out = shopd(&[
        "--data-dir",
        data.path().to_str().unwrap(),
        "import",
        input.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    for expected in [
        "brands.jsonl:2: title: must not be empty",
        "categories.jsonl:3: parentId",
        "products.jsonl:2: bad JSON",
        "products.jsonl:3: price: is required",
        "products.jsonl:4: brandId: unknown brand 'b9'",
        "products.jsonl:6: categoryIds: unknown category 'nope'",
        "reviews.jsonl:2: productId: unknown product 'p404'",
        "reviews.jsonl:3: rating",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(
        stdout.contains("imported 7 record(s), skipped 8 bad line(s)"),
        "{stdout}"
    );

    let catalog = Catalog::offline(Store::open(&data.path().join("shopd.redb")).unwrap());
    let counts = catalog.store().read().unwrap().catalog().counts().unwrap();
    assert_eq!(
        (
            counts.brands,
            counts.categories,
            counts.products,
            counts.reviews,
            counts.reviewers
        ),
        (1, 2, 2, 1, 1)
    );
    // the child listed before its parent was still imported under it
    let body: serde_json::Value =
        serde_json::from_slice(&catalog.category("root").unwrap().body).unwrap();
    assert_eq!(body["data"]["children"][0]["id"], "child");
}

#[test]
fn strict_import_aborts_with_nothing_written() {
    let input = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    files_with_bad_lines(input.path());
    let out = shopd(&[
        "--data-dir",
        data.path().to_str().unwrap(),
        "import",
        "--strict",
        input.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("products.jsonl:4: brandId: unknown brand 'b9'"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    let store = Store::open(&data.path().join("shopd.redb")).unwrap();
    let counts = store.read().unwrap().catalog().counts().unwrap();
    assert_eq!(counts, shopd::store::TableCounts::default());
}

#[test]
fn export_reproduces_the_imported_files_byte_for_byte() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let catalog = Catalog::offline(Store::open(&data.path().join("shopd.redb")).unwrap());
    let report = catalog
        .import(
            sources_from_dir(&fixture_dir()).unwrap(),
            ImportOptions::default(),
            &NoProgress,
        )
        .unwrap();
    assert_eq!(report.skipped(), 0);
    catalog.export(out.path()).unwrap();
    for f in shopd::catalog::import::FILES {
        let a = std::fs::read(fixture_dir().join(f)).unwrap();
        let b = std::fs::read(out.path().join(f)).unwrap();
        assert!(a == b, "{f} differs after import → export");
    }
}

/// Paths whose answers must be identical between two catalogues.
const PATHS: &[&str] = &[
    "/api/v1/products?limit=100",
    "/api/v1/products?sort=rating&page=3&limit=50",
    "/api/v1/products?sort=price_desc&category=cat-002&isAvailable=true",
    "/api/v1/products?sort=newest&brand=brand-0004&minPrice=10&maxPrice=300",
    "/api/v1/products/prod-000100",
    "/api/v1/products/prod-000777/reviews?limit=5",
    "/api/v1/brands?page=2&limit=25",
    "/api/v1/brands/brand-0042",
    "/api/v1/categories",
    "/api/v1/categories/cat-003",
];

async fn answers(dir: Arc<tempfile::TempDir>) -> Vec<(u16, Vec<u8>)> {
    let app = spawn_in(dir, false).await;
    let mut out = Vec::new();
    for p in PATHS {
        let res = app.get(p).await;
        out.push((res.status().as_u16(), res.bytes().await.unwrap().to_vec()));
    }
    app.stop().await;
    out
}

#[tokio::test]
async fn import_export_import_and_reimport_give_identical_answers() {
    let first = Arc::new(tempfile::tempdir().unwrap());
    let second = Arc::new(tempfile::tempdir().unwrap());
    let exported = tempfile::tempdir().unwrap();
    {
        let a = Catalog::offline(Store::open(&first.path().join("shopd.redb")).unwrap());
        a.import(
            sources_from_dir(&fixture_dir()).unwrap(),
            ImportOptions::default(),
            &NoProgress,
        )
        .unwrap();
        a.export(exported.path()).unwrap();
        let b = Catalog::offline(Store::open(&second.path().join("shopd.redb")).unwrap());
        b.import(
            sources_from_dir(exported.path()).unwrap(),
            ImportOptions { strict: true },
            &NoProgress,
        )
        .unwrap();
        // importing the same files again changes nothing
        b.import(
            sources_from_dir(exported.path()).unwrap(),
            ImportOptions { strict: true },
            &NoProgress,
        )
        .unwrap();
        let counts = b.store().read().unwrap().catalog().counts().unwrap();
        assert_eq!((counts.products, counts.reviews), (1000, 2851));
    }
    let a = answers(first).await;
    let b = answers(second).await;
    for (i, p) in PATHS.iter().enumerate() {
        assert_eq!(a[i].0, 200, "{p}");
        assert!(
            a[i] == b[i],
            "{p} differs between the original and the re-imported catalogue"
        );
    }
}

/// `shopd gen --images`, `shopd import` of its image files, `shopd
/// export` of them, and an import of the export: the same images, the same
/// bytes, the same products' media.
#[tokio::test]
async fn images_travel_through_gen_import_and_export_by_their_digest() {
    let work = tempfile::tempdir().unwrap();
    let generated = work.path().join("gen");
    let first = Arc::new(tempfile::tempdir().unwrap());
    let second = Arc::new(tempfile::tempdir().unwrap());
    let exported = work.path().join("export");
    let gen_dir = generated.to_str().unwrap();
    let out = shopd(&[
        "gen",
        "--products",
        "40",
        "--brands",
        "5",
        "--categories",
        "20",
        "--users",
        "10",
        "--images",
        "3",
        gen_dir,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(generated.join("images")).unwrap().count(),
        3
    );
    // A path that leaves the directory is a link, never a file read.
    let products = std::fs::read_to_string(generated.join("products.jsonl")).unwrap();
    let products = products.replacen("images/gen-0002.jpg", "../gen/images/gen-0002.jpg", 1);
    std::fs::write(generated.join("products.jsonl"), products).unwrap();
    for (data, from) in [(&first, gen_dir), (&second, exported.to_str().unwrap())] {
        let out = shopd(&[
            "--data-dir",
            data.path().to_str().unwrap(),
            "import",
            "--strict",
            from,
        ]);
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("3  image file(s) stored"), "{text}");
        if data.path() == first.path() {
            let out = shopd(&[
                "--data-dir",
                data.path().to_str().unwrap(),
                "export",
                exported.to_str().unwrap(),
            ]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let listed = std::fs::read_to_string(exported.join("media.jsonl")).unwrap();
            assert_eq!(listed.lines().count(), 3, "{listed}");
        }
    }
    let mut media = Vec::new();
    for data in [first, second] {
        let app = spawn_in(data, false).await;
        let (status, p) = app.get_json("/api/v1/products?limit=100").await;
        assert_eq!(status, 200);
        let mut ids: Vec<String> = p["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["media"][0]["id"].as_str().map(String::from))
            .collect();
        assert_eq!(
            ids.len(),
            39,
            "every product but the one with a path outside shows its image"
        );
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 3);
        let res = app.get(&format!("/media/{}/480.webp", ids[0])).await;
        assert_eq!(res.status(), 200);
        media.push((ids, res.bytes().await.unwrap()));
        app.stop().await;
    }
    assert_eq!(media[0], media[1]);
}
