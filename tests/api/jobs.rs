//! The job queue and email end to end: a real server, a real SMTP server
//! (aiosmtpd) on loopback, the admin API over HTTP.

use crate::helpers::{TestApp, spawn_fixture_with};
use crate::smtp::{Mode, SmtpServer, free_port};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shopd::config::{Config, Secret};
use std::time::{Duration, Instant};

/// Short retries so failure paths finish within a test.
pub(crate) fn fast(c: &mut Config, smtp_url: Option<String>) {
    c.mail.smtp_url = smtp_url.map(Secret::new);
    for q in &mut c.jobs.queues {
        q.backoff = Duration::from_millis(40);
        q.max_attempts = 3;
        q.timeout = Duration::from_secs(5);
    }
}

pub(crate) async fn send_test(app: &TestApp, body: Value) -> u64 {
    let (status, v) = app
        .admin(Method::POST, "/api/v1/admin/notifications/test", Some(body))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    v["data"]["jobId"].as_u64().expect("a job id")
}

/// Polls the job until `done(job)` or panics after `within`.
pub(crate) async fn wait_job(
    app: &TestApp,
    id: u64,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (status, v) = app
            .admin(Method::GET, &format!("/api/v1/admin/jobs/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        if done(&v["data"]) {
            return v["data"].clone();
        }
        assert!(Instant::now() < deadline, "job {id} never got there: {v}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_test_mail_reaches_a_real_smtp_server_with_both_parts_escaped_and_a_stable_message_id() {
    let smtp = SmtpServer::start(Mode::Accept);
    let url = smtp.url();
    let app = spawn_fixture_with(|c| fast(c, Some(url))).await;
    let id = send_test(
        &app,
        json!({"to": "owner@example.com", "subject": "Hello <b>&", "message": "<script>x</script> & more"}),
    )
    .await;
    let job = wait_job(&app, id, Duration::from_secs(20), |j| j["state"] == "done").await;
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["queue"], "notifications");
    let messages = smtp.wait_for(1, Duration::from_secs(5));
    assert_eq!(messages.len(), 1);
    let (rcpt, raw) = &messages[0];
    assert_eq!(rcpt.trim(), "owner@example.com");
    let unfolded = raw.replace("\r\n", "\n");
    assert!(unfolded.contains("To: owner@example.com"), "{raw}");
    assert!(unfolded.contains("Subject: Hello <b>&"), "{raw}");
    assert!(
        unfolded.contains(&format!("Message-ID: <job-{id}@shopd>")),
        "{raw}"
    );
    assert!(unfolded.contains("multipart/alternative"), "{raw}");
    assert!(unfolded.contains("Content-Type: text/plain"), "{raw}");
    assert!(unfolded.contains("Content-Type: text/html"), "{raw}");
    // Text as written; HTML escaped (both parts are 7-bit here, so plain).
    assert!(unfolded.contains("<script>x</script> & more"), "{raw}");
    let html = unfolded.split("Content-Type: text/html").nth(1).unwrap();
    assert!(html.contains("&lt;script&gt;x&lt;"), "{raw}");
    assert!(html.contains("&amp; more"), "{raw}");
    assert!(!html.contains("<script>"), "{raw}");

    let (status, stats) = app
        .admin(Method::GET, "/api/v1/admin/jobs/stats", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let n = stats["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "notifications")
        .unwrap()
        .clone();
    assert_eq!(n["done"], 1, "{stats}");
    assert_eq!(n["processedTotal"], 1, "{stats}");
    assert!(stats["mailTransport"].as_str().unwrap().contains("(plain)"));
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("shopd_jobs_processed_total{queue=\"notifications\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("shopd_jobs{queue=\"notifications\",state=\"done\"} 1"));
}

#[tokio::test]
async fn answers_4xx_and_5xx_are_retried_with_backoff_then_dead_and_admins_can_retry_or_discard() {
    for mode in [Mode::Reject4xx, Mode::Reject5xx] {
        let smtp = SmtpServer::start(mode);
        let url = smtp.url();
        let app = spawn_fixture_with(|c| {
            fast(c, Some(url));
            c.mail.breaker_failures = 100; // this test is about retries
        })
        .await;
        let id = send_test(&app, json!({"to": "a@example.com"})).await;
        let job = wait_job(&app, id, Duration::from_secs(20), |j| j["state"] == "dead").await;
        assert_eq!(job["attempts"], 3, "{job}");
        let err = job["lastError"].as_str().unwrap();
        assert!(err.contains("SMTP"), "{err}");
        assert!(job["finishedAt"].is_string());
        let (_, list) = app
            .admin(
                Method::GET,
                "/api/v1/admin/jobs?state=dead&queue=notifications",
                None,
            )
            .await;
        assert_eq!(list["meta"]["total"], 1, "{list}");
        assert_eq!(list["data"][0]["id"], id);
        let (_, stats) = app
            .admin(Method::GET, "/api/v1/admin/jobs/stats", None)
            .await;
        let n = &stats["data"][1];
        assert_eq!(n["queue"], "notifications");
        assert_eq!(n["failedTotal"], 3, "{stats}");

        // Retry: queued again with fresh attempts (and fails again here).
        let (status, v) = app
            .admin(
                Method::POST,
                &format!("/api/v1/admin/jobs/{id}/retry"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["data"]["attempts"], 0);
        wait_job(&app, id, Duration::from_secs(20), |j| {
            j["state"] == "dead" && j["attempts"] == 3
        })
        .await;
        // A done or queued job cannot be retried; a dead one can be discarded.
        let (status, v) = app
            .admin(Method::DELETE, &format!("/api/v1/admin/jobs/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{v}");
        let (status, v) = app
            .admin(Method::GET, &format!("/api/v1/admin/jobs/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
        assert_eq!(v["error"]["code"], "not_found");
        assert!(smtp.messages().is_empty());
    }
}

#[tokio::test]
async fn the_breaker_opens_postpones_without_spending_attempts_and_closes_after_a_probe() {
    // Nothing listens on the port at first: connections are refused.
    let port = free_port();
    let app = spawn_fixture_with(|c| {
        fast(c, Some(format!("smtp://127.0.0.1:{port}?tls=none")));
        for q in &mut c.jobs.queues {
            q.max_attempts = 10;
        }
        c.mail.breaker_failures = 2;
        c.mail.breaker_open = std::time::Duration::from_secs(2);
    })
    .await;
    let first = send_test(&app, json!({"to": "a@example.com"})).await;
    // Two failed attempts open the circuit.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = app.get("/metrics").await.text().await.unwrap();
        if metrics.contains("shopd_mail_breaker_state 1") {
            break;
        }
        assert!(Instant::now() < deadline, "breaker never opened: {metrics}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (status, ready) = app.get_json("/ready").await;
    assert_eq!(status, StatusCode::OK, "degraded mail keeps the shop ready");
    assert!(
        ready["checks"]["mail"]
            .as_str()
            .unwrap()
            .starts_with("degraded"),
        "{ready}"
    );
    // While open, new mail is postponed, not attempted.
    let second = send_test(&app, json!({"to": "b@example.com"})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, j) = app
        .admin(Method::GET, &format!("/api/v1/admin/jobs/{second}"), None)
        .await;
    assert_eq!(
        j["data"]["attempts"], 0,
        "postponed without an attempt: {j}"
    );
    assert_eq!(j["data"]["state"], "queued", "{j}");
    let (_, j1) = app
        .admin(Method::GET, &format!("/api/v1/admin/jobs/{first}"), None)
        .await;
    let spent = j1["data"]["attempts"].as_u64().unwrap();
    assert_eq!(spent, 2, "only the failures that opened it: {j1}");

    // The server comes up; after the open period one probe succeeds, the
    // circuit closes and both messages go out.
    let smtp = SmtpServer::start_on(Mode::Accept, port);
    for id in [first, second] {
        wait_job(&app, id, Duration::from_secs(30), |j| j["state"] == "done").await;
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("shopd_mail_breaker_state 0"), "{metrics}");
    assert!(
        metrics.contains("shopd_mail_breaker_opened_total 1"),
        "{metrics}"
    );
    let mut to: Vec<String> = smtp
        .wait_for(2, Duration::from_secs(5))
        .into_iter()
        .map(|(r, _)| r.trim().to_string())
        .collect();
    to.sort();
    assert_eq!(to, ["a@example.com", "b@example.com"]);
}

#[tokio::test]
async fn without_smtp_mail_lands_in_the_outbox_and_bad_input_is_a_clear_error() {
    let app = spawn_fixture_with(|c| fast(c, None)).await;
    let id = send_test(&app, json!({"to": "x@example.com"})).await;
    wait_job(&app, id, Duration::from_secs(20), |j| j["state"] == "done").await;
    let outbox = app.dir.path().join("outbox");
    let files: Vec<_> = std::fs::read_dir(&outbox).unwrap().collect();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    assert!(raw.contains(&format!("<job-{id}@shopd>")), "{raw}");

    for (body, field) in [
        (json!({}), "to"),
        (json!({"to": "not an address"}), "to"),
        (json!({"to": "a@example.com", "subject": 5}), "subject"),
        (json!({"to": "a@example.com", "extra": 1}), "extra"),
    ] {
        let (status, v) = app
            .admin(Method::POST, "/api/v1/admin/notifications/test", Some(body))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"]["fields"][0]["field"], field, "{v}");
    }
    for path in [
        "/api/v1/admin/jobs?state=sleeping",
        "/api/v1/admin/jobs?limit=0",
    ] {
        let (status, v) = app.admin(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
    }
    let (status, _) = app.admin(Method::GET, "/api/v1/admin/jobs/abc", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A done job is neither retryable nor running.
    let (status, v) = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/jobs/{id}/retry"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "job_not_retryable");
    // The periodic prune job ran at startup and scheduled its next run;
    // discarding that one schedules it again (the schedule never ends).
    let path = "/api/v1/admin/jobs?kind=prune&state=queued";
    let deadline = Instant::now() + Duration::from_secs(20);
    let next = loop {
        let (_, list) = app.admin(Method::GET, path, None).await;
        if list["meta"]["total"] == 1 {
            break list["data"][0]["id"].as_u64().unwrap();
        }
        assert!(Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let (status, _) = app
        .admin(Method::DELETE, &format!("/api/v1/admin/jobs/{next}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = app.admin(Method::GET, path, None).await;
    assert_eq!(list["meta"]["total"], 1, "{list}");
    assert_ne!(list["data"][0]["id"], next, "{list}");
    // Without credentials: 401 and nothing about jobs.
    let res = app.get("/api/v1/admin/jobs").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
