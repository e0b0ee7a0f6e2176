//! The HTTP edge against oversized and slow clients (`api::request_limits`,
//! `HttpLimits`), over raw TCP so that what the server does with the
//! connection is seen, not what an HTTP client library makes of it:
//! oversized heads get 414/431 with the error envelope, and slow or idle
//! clients are cut off on time while other clients are served.

use super::helpers::{TOKEN, spawn_fixture_with};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The server's whole answer to `request` (the server closes: every
/// request here says `Connection: close` or is refused), within 10 s.
async fn exchange(port: u16, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    // The server may answer (and close) before it has read all of an
    // oversized head: a failed write is fine, the answer is what counts.
    let _ = s.write_all(request).await;
    read_all(&mut s).await
}

async fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "the server neither answered nor closed in 10 s; got {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

/// Status and JSON body of a raw HTTP/1.1 answer.
fn parse(answer: &[u8]) -> (u16, Value) {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn port(address: &str) -> u16 {
    address.rsplit(':').next().unwrap().parse().unwrap()
}

fn get(target: &str, extra_headers: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n{extra_headers}\r\n")
        .into_bytes()
}

#[tokio::test]
async fn oversized_request_heads_get_414_and_431_with_the_error_envelope() {
    let app = spawn_fixture_with(|c| {
        c.http.limits.max_uri_bytes = 1024;
        c.http.limits.max_header_bytes = 4096;
    })
    .await;
    let port = port(&app.address);

    // Within the limits: served.
    let ok = exchange(port, &get("/api/v1/products?q=lamp", "X-Pad: aaaa\r\n")).await;
    assert_eq!(parse(&ok).0, 200);

    let long = format!("/api/v1/products?q={}", "a".repeat(1100));
    let (status, body) = parse(&exchange(port, &get(&long, "")).await);
    assert_eq!(status, 414);
    assert_eq!(body["error"]["code"], "uri_too_long");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("1024"),
        "{body}"
    );

    let heavy = format!("X-Pad: {}\r\n", "b".repeat(5000));
    let (status, body) = parse(&exchange(port, &get("/api/v1/products", &heavy)).await);
    assert_eq!(status, 431);
    assert_eq!(body["error"]["code"], "headers_too_large");

    let many: String = (0..70).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (status, body) = parse(&exchange(port, &get("/api/v1/products", &many)).await);
    assert_eq!(status, 431);
    assert_eq!(body["error"]["code"], "headers_too_large");

    // Past the HTTP parser's own buffer (128 KiB): its bare 431, still a
    // status rather than a silent close.
    let huge = format!("X-Pad: {}\r\n", "c".repeat(200_000));
    let answer = exchange(port, &get("/api/v1/products", &huge)).await;
    assert_eq!(
        parse(&answer).0,
        431,
        "{:?}",
        String::from_utf8_lossy(&answer)
    );

    // Refusals are counted like any other answer and nothing broke.
    let ok = exchange(port, &get("/api/v1/products", "")).await;
    assert_eq!(parse(&ok).0, 200);
    app.stop().await;
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off_while_others_are_served() {
    let app = spawn_fixture_with(|c| {
        c.http.limits.head_timeout = Duration::from_secs(1);
        c.http.limits.body_timeout = Duration::from_secs(1);
        c.http.limits.keep_alive = Duration::from_secs(1);
    })
    .await;
    let port = port(&app.address);

    // 200 slowloris connections: each sends part of a head, then a byte
    // every 200 ms, never finishing it.
    let start = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(b"GET /api/v1/products HTTP/1.1\r\nHost: shop\r\n")
            .await
            .unwrap();
        slow.push(tokio::spawn(async move {
            let mut answer = Vec::new();
            let mut buf = [0u8; 1024];
            loop {
                if s.write_all(b"X").await.is_err() {
                    break;
                }
                match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
                    Err(_) => {}
                }
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "a slow client was still connected after 10 s"
                );
            }
            (start.elapsed(), answer)
        }));
    }

    // Meanwhile other clients are served at once.
    for _ in 0..20 {
        let t = Instant::now();
        let res = app.get("/api/v1/products").await;
        assert_eq!(res.status(), 200);
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "a normal request took {:?} beside the slow clients",
            t.elapsed()
        );
    }

    for task in slow {
        let (after, answer) = task.await.unwrap();
        // actix-http's timers start from a clock it refreshes every
        // 500 ms, so a deadline may come up to half a second early.
        assert!(
            after >= Duration::from_millis(450),
            "cut off after {after:?}, long before the 1 s head timeout"
        );
        // Either the 408 the server sends on the timeout or a plain close.
        if !answer.is_empty() {
            assert_eq!(
                parse(&answer).0,
                408,
                "{:?}",
                String::from_utf8_lossy(&answer)
            );
        }
    }

    // A body that stops arriving: 408 `request_timeout` with the envelope.
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST /api/v1/products HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"id\":"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let t = Instant::now();
    let (status, body) = parse(&read_all(&mut s).await);
    assert_eq!(status, 408);
    assert_eq!(body["error"]["code"], "request_timeout");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());

    // An idle keep-alive connection is closed after the keep-alive time.
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await
        .unwrap();
    let t = Instant::now();
    let answer = read_all(&mut s).await;
    assert_eq!(parse(&answer).0, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(450) && t.elapsed() < Duration::from_secs(5),
        "idle connection closed after {:?} (keep-alive 1 s)",
        t.elapsed()
    );
    app.stop().await;
}
