//! Scheduled backups (`--backup-to`, `--backup-every`) as `/metrics` shows
//! them to the alerting rules: when the newest backup in the target was
//! taken (kept across a restart, learned from the target), the interval,
//! and how many runs failed.

use crate::helpers::{TestApp, spawn_with, test_config};
use shopd::config::backups::Target;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Waits up to `secs` for `name` to satisfy `ok`; its value then.
async fn wait_for(app: &TestApp, name: &str, secs: u64, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = app.metric_if_present(name).await.filter(|v| ok(*v)) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{name} not as expected after {secs} s: {:?}",
            app.metric_if_present(name).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn backups_in(target: &Path) -> usize {
    std::fs::read_dir(target).map_or(0, |d| d.count())
}

#[tokio::test]
async fn scheduled_backups_show_the_newest_and_the_failures_in_metrics() {
    const WEEK: u64 = 7 * 86_400;
    let target = tempfile::tempdir().unwrap();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let config = |dir: &Path, to: &Path| {
        let mut c = test_config(dir, true);
        c.backups.to = Some(Target::Dir(to.to_path_buf()));
        c.backups.every = Duration::from_secs(WEEK);
        c
    };
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64;
    let app = spawn_with(dir.clone(), config(dir.path(), target.path())).await;
    // The first run is due at start.
    let newest = wait_for(
        &app,
        "shopd_backup_last_success_timestamp_seconds",
        60,
        |_| true,
    )
    .await;
    assert!(newest >= before.floor() - 1.0, "{newest} < {before}");
    assert_eq!(backups_in(target.path()), 1);
    assert_eq!(
        app.metric_if_present("shopd_backup_interval_seconds").await,
        Some(WEEK as f64)
    );
    assert_eq!(
        app.metric_if_present("shopd_backup_failures_total").await,
        Some(0.0)
    );
    let dir = app.stop().await;

    // Restarted with no maintenance worker (so no new run can be what
    // shows), the newest backup is learned from the target, not forgotten.
    let mut restarted = config(dir.path(), target.path());
    for q in &mut restarted.jobs.queues {
        if q.name == "maintenance" {
            q.concurrency = 0;
        }
    }
    let app = spawn_with(dir.clone(), restarted).await;
    let again = wait_for(
        &app,
        "shopd_backup_last_success_timestamp_seconds",
        10,
        |_| true,
    )
    .await;
    assert_eq!(again, newest);
    assert_eq!(backups_in(target.path()), 1);
    app.stop().await;

    // A target that cannot be written (under a regular file): each run
    // fails and is counted, and no backup is claimed.
    let file = tempfile::NamedTempFile::new().unwrap();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let app = spawn_with(
        dir.clone(),
        config(dir.path(), &file.path().join("backups")),
    )
    .await;
    wait_for(&app, "shopd_backup_failures_total", 60, |v| v >= 1.0).await;
    assert_eq!(
        app.metric_if_present("shopd_backup_last_success_timestamp_seconds")
            .await,
        None
    );
    app.stop().await;
}
