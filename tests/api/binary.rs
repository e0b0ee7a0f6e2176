//! The real binary: JSON logs carry the request id, SIGTERM shuts down
//! gracefully and closes storage.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn serve_logs_json_with_request_ids_and_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shopd"))
        .args([
            "--data-dir",
            data.path().to_str().unwrap(),
            "--log-format",
            "json",
        ])
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "1",
        ])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let port = loop {
        let line = rx
            .recv_timeout(deadline - Instant::now())
            .expect("server starts");
        let v: serde_json::Value = serde_json::from_str(&line).expect("every log line is JSON");
        lines.push(line);
        if v["fields"]["message"] == "shopd listening" {
            break v["fields"]["port"].as_u64().unwrap();
        }
    };
    let client = reqwest::Client::new();
    let res = client
        .get(format!("http://127.0.0.1:{port}/api/v1/products?limit=1"))
        .header("X-Request-Id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body["meta"]["total"], 1000,
        "the demo catalogue was imported"
    );

    // The demo made a bootstrap admin key, where it said, long enough, and
    // only its owner may read it — or anything else shopd wrote.
    let token_file = data.path().join("admin.token");
    let token = std::fs::read_to_string(&token_file).unwrap();
    let token = token.trim();
    assert!(token.len() >= 32, "{token:?}");
    let res = client
        .patch(format!(
            "http://127.0.0.1:{port}/api/v1/products/prod-000007"
        ))
        .bearer_auth(token)
        .json(&serde_json::json!({"price": 19.99}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    crate::common::files::assert_owner_only(data.path());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    lines.extend(rx.try_iter());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("admin.token") && l.contains("demo")),
        "the log says where the demo's admin key is"
    );
    let request_line = lines
        .iter()
        .find(|l| l.contains("request finished") && l.contains("trace-me-42"))
        .unwrap_or_else(|| panic!("no request log with the id in:\n{}", lines.join("\n")));
    let v: serde_json::Value = serde_json::from_str(request_line).unwrap();
    assert_eq!(v["span"]["request_id"], "trace-me-42");
    assert!(
        lines.iter().any(|l| l.contains("storage closed")),
        "{}",
        lines.join("\n")
    );
}

/// `shopd admin create --password-stdin` on a data dir, run twice.
fn admin_create(data: &std::path::Path, email: &str, password: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_shopd"))
        .args(["--data-dir", data.to_str().unwrap()])
        .args(["admin", "create", "--email", email, "--role", "admin"])
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn admin_create_bootstraps_an_admin_who_can_sign_in() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let password = "a long admin passphrase";
    let out = admin_create(dir.path(), "Owner@Example.com", password);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("created admin owner@example.com"),
        "{stdout}"
    );
    assert!(!stdout.contains(password) && !stderr.contains(password));

    // The same email again: refused, nothing changes.
    let again = admin_create(dir.path(), "owner@example.com", "another passphrase");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{again:?}"
    );
    // A short password: refused with the rule.
    let short = admin_create(dir.path(), "ops@example.com", "short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8"));

    let config = crate::helpers::test_config(dir.path(), false);
    let app = crate::helpers::spawn_with(dir.clone(), config).await;
    let pair = crate::accounts::login(&app, "owner@example.com", password).await;
    assert_eq!(pair["user"]["role"], "admin");
    let (status, v) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/admin/users",
            pair["accessToken"].as_str(),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["meta"]["total"], 1);
}
