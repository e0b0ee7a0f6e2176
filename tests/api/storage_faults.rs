//! A full or failing disk, through the real server: injected `ENOSPC` and
//! `EIO` (`store::faults`, a redb `StorageBackend` and the write-ahead log
//! sharing one plan). A write that cannot be made durable gets 503
//! `storage_unavailable`, is not visible, and does not come back after a
//! restart (or, when even taking it back out of the log fails, 503
//! `write_outcome_unknown`); reads keep working; the server refuses every
//! later write until it restarts, and `/ready` says why; a restart once the
//! disk works keeps every acknowledged write. A checkpoint that fails while
//! serving does the same.

use crate::helpers::{code, spawn_with_faults, test_config};
use reqwest::{Method, StatusCode};
use serde_json::json;
use shopd::store::db::faults::{EIO, ENOSPC, FaultPlan};
use std::sync::Arc;
use std::time::Duration;

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

async fn disk_fails_then_restart(
    fail: impl Fn(&FaultPlan),
    answer: &str,
    change: impl Fn(&mut shopd::config::Config),
) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let plan = FaultPlan::new();
    let mut config = test_config(dir.path(), true);
    change(&mut config);
    let app = spawn_with_faults(dir.clone(), config, Some(plan.clone())).await;
    for i in 0..5 {
        let (s, body) = create(&app, &format!("kept-{i}")).await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }

    // Past any checkpoint the writes above set off (and, with a short
    // interval, so long that the next batch is itself a checkpoint).
    tokio::time::sleep(Duration::from_millis(50)).await;
    fail(&plan);
    let (s, body) = create(&app, "refused").await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, answer),
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
    assert_eq!(
        app.metric_if_present("shopd_store_writes_stopped").await,
        Some(1.0)
    );
    let dir = app.stop().await;

    // Restarted on the working disk: every acknowledged write is there, the
    // refused ones are not, and writes work again.
    let app = spawn_with_faults(dir.clone(), test_config(dir.path(), true), None).await;
    for i in 0..5 {
        let (s, _) = app.get_json(&format!("/api/v1/products/kept-{i}")).await;
        assert_eq!(s, StatusCode::OK, "kept-{i} lost");
    }
    let (s, refused) = app.get_json("/api/v1/products/refused").await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "a refused write came back: {refused}"
    );
    let (s, _) = app.get_json("/api/v1/products/after").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = create(&app, "again").await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(app.get("/ready").await.status(), StatusCode::OK);
    assert_eq!(
        app.metric_if_present("shopd_store_writes_stopped").await,
        Some(0.0)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_full_disk_refuses_the_write_keeps_reads_and_loses_nothing_acknowledged() {
    disk_fails_then_restart(
        |plan| plan.fail_writes_after(0, ENOSPC),
        "storage_unavailable",
        |_| {},
    )
    .await;
}

#[tokio::test]
async fn a_write_refused_after_a_failed_fsync_does_not_come_back() {
    // The record is in the log when its fsync fails: it is taken back out.
    disk_fails_then_restart(
        |plan| plan.fail_one_sync_after(0, EIO),
        "storage_unavailable",
        |_| {},
    )
    .await;
}

#[tokio::test]
async fn a_write_whose_commit_fails_after_its_log_sync_does_not_come_back() {
    // Every batch a checkpoint: the database file's write fails after the
    // record is synced to the log.
    disk_fails_then_restart(
        |plan| plan.fail_db_writes_after(0, EIO),
        "storage_unavailable",
        |c| c.storage.checkpoint_every = Duration::from_millis(10),
    )
    .await;
}

#[tokio::test]
async fn when_the_log_cannot_be_taken_back_the_answer_says_the_outcome_is_unknown() {
    // Every fsync fails, the take-back's too: the answer cannot promise the
    // write is gone, so it says the outcome is unknown, not "not saved".
    // Here the truncation reached the page cache before its fsync failed,
    // so the process that restarts does not replay it; after a power cut
    // the disk could hold either length.
    disk_fails_then_restart(
        |plan| plan.fail_syncs_after(0, EIO),
        "write_outcome_unknown",
        |_| {},
    )
    .await;
}

#[tokio::test]
async fn a_failed_checkpoint_stops_writes_keeps_reads_and_loses_nothing_acknowledged() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let plan = FaultPlan::new();
    let mut config = test_config(dir.path(), true);
    config.storage.checkpoint_every = Duration::from_secs(2);
    let app = spawn_with_faults(dir.clone(), config, Some(plan.clone())).await;
    // More than the interval since the store opened: this batch is itself
    // a checkpoint, so the next one, right after it, is in the log only.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (s, _) = create(&app, "before").await;
    assert_eq!(s, StatusCode::CREATED);
    // The database file's fsync fails from now on; the log's works, so the
    // next write is acknowledged, and the checkpoint 2 s later fails.
    plan.fail_db_syncs_after(0, EIO);
    let (s, body) = create(&app, "logged").await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let why = loop {
        let ready = app.get("/ready").await;
        if ready.status() == StatusCode::SERVICE_UNAVAILABLE {
            let body: serde_json::Value = ready.json().await.unwrap();
            break body["checks"]["storage"].as_str().unwrap().to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint failed in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(why.contains("storage failure"), "{why}");
    assert!(plan.injected() > 0);
    let (s, body) = create(&app, "refused").await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
        "{body}"
    );
    for id in ["before", "logged"] {
        let (s, _) = app.get_json(&format!("/api/v1/products/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{id}: reads must keep working");
    }
    let dir = app.stop().await;

    let app = spawn_with_faults(dir.clone(), test_config(dir.path(), true), None).await;
    for id in ["before", "logged"] {
        let (s, _) = app.get_json(&format!("/api/v1/products/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{id} lost");
    }
    let (s, _) = app.get_json("/api/v1/products/refused").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/ready").await.status(), StatusCode::OK);
    app.stop().await;
}
