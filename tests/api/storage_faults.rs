//! A full or failing disk, through the real server: injected `ENOSPC` and
//! `EIO` (`store::faults`, a redb `StorageBackend` and the write-ahead log
//! sharing one plan). A write that cannot be made durable gets 503
//! `storage_unavailable` and is not visible; reads keep working; the server
//! refuses every later write until it restarts, and `/ready` says why; a
//! restart once the disk works keeps every acknowledged write.

use crate::helpers::{code, spawn_with_faults, test_config};
use reqwest::{Method, StatusCode};
use serde_json::json;
use shopd::store::db::faults::{EIO, ENOSPC, FaultPlan};
use std::sync::Arc;

async fn create(app: &crate::helpers::TestApp, id: &str) -> (StatusCode, serde_json::Value) {
    app.admin(
        Method::POST,
        "/api/v1/products",
        Some(
            json!({"id": id, "title": format!("Faulty {id}"), "price": 2, "brandId": "brand-0001"}),
        ),
    )
    .await
}

async fn disk_fails_then_restart(fail: impl Fn(&FaultPlan)) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let plan = FaultPlan::new();
    let config = test_config(dir.path(), true);
    let app = spawn_with_faults(dir.clone(), config, Some(plan.clone())).await;
    for i in 0..5 {
        let (s, body) = create(&app, &format!("kept-{i}")).await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }

    fail(&plan);
    let (s, body) = create(&app, "refused").await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
        "{body}"
    );
    assert!(plan.injected() > 0);
    // Reads keep working, and nothing of the refused write is visible.
    let (s, _) = app.get_json("/api/v1/products/kept-4").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.get_json("/api/v1/products/refused").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, list) = app
        .get_json("/api/v1/products?brand=brand-0001&limit=100")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!list.to_string().contains("\"refused\""));
    // Fail-stop: a healed disk does not make the server trust its state.
    plan.heal();
    let (s, body) = create(&app, "after").await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable")
    );
    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: serde_json::Value = ready.json().await.unwrap();
    let why = ready["checks"]["storage"].as_str().unwrap();
    assert!(
        why.contains("storage failure") && why.contains("restart"),
        "{ready}"
    );
    let dir = app.stop().await;

    // Restarted on the working disk: every acknowledged write is there, the
    // refused ones are not, and writes work again.
    let app = spawn_with_faults(dir.clone(), test_config(dir.path(), true), None).await;
    for i in 0..5 {
        let (s, _) = app.get_json(&format!("/api/v1/products/kept-{i}")).await;
        assert_eq!(s, StatusCode::OK, "kept-{i} lost");
    }
    let (s, _) = app.get_json("/api/v1/products/after").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = create(&app, "again").await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(app.get("/ready").await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn a_full_disk_refuses_the_write_keeps_reads_and_loses_nothing_acknowledged() {
    disk_fails_then_restart(|plan| plan.fail_writes_after(0, ENOSPC)).await;
}

#[tokio::test]
async fn a_failed_fsync_stops_writes_until_restart() {
    disk_fails_then_restart(|plan| plan.fail_syncs_after(0, EIO)).await;
}
