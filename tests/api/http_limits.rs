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

    // Past the HTTP parser's own buffer (128 KiB): its own 431, with the
    // envelope too.
    let huge = format!("X-Pad: {}\r\n", "c".repeat(200_000));
    let answer = exchange(port, &get("/api/v1/products", &huge)).await;
    let (status, body) = parse(&answer);
    assert_eq!(status, 431, "{:?}", String::from_utf8_lossy(&answer));
    assert_eq!(body["error"]["code"], "headers_too_large");

    // A target too long for the parser itself (past 64 KiB): the same 414
    // with the envelope as a target just past the limit.
    for n in [70_000, 120_000] {
        let long = format!("/api/v1/products?q={}", "a".repeat(n));
        let (status, body) = parse(&exchange(port, &get(&long, "")).await);
        assert_eq!(status, 414, "{n}");
        assert_eq!(body["error"]["code"], "uri_too_long", "{n}");
    }

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

/// What the HTTP parser itself refuses — raw (unencoded) spaces, quotes,
/// angle brackets, control and non-ASCII bytes in the request line, a
/// malformed header — is a 400 with the error envelope, like every other
/// error, not a bare status.
#[tokio::test]
async fn requests_the_parser_refuses_get_400_with_the_error_envelope() {
    let app = spawn_fixture_with(|_| {}).await;
    let port = port(&app.address);
    let lines: [&[u8]; 6] = [
        b"GET /api/v1/products?q=a b HTTP/1.1\r\nHost: shop\r\n\r\n",
        b"GET /api/v1/products/<script> HTTP/1.1\r\nHost: shop\r\n\r\n",
        b"GET /api/v1/products?q=\xff\xfe HTTP/1.1\r\nHost: shop\r\n\r\n",
        b"GET /api/v1/\x01 HTTP/1.1\r\nHost: shop\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost shop\r\n\r\n",
        b"G\x00T /health HTTP/1.1\r\n\r\n",
    ];
    for request in lines {
        let answer = exchange(port, request).await;
        let (status, body) = parse(&answer);
        assert_eq!(status, 400, "{:?}", String::from_utf8_lossy(request));
        assert_eq!(
            body["error"]["code"],
            "malformed_request",
            "{:?}: {}",
            String::from_utf8_lossy(request),
            String::from_utf8_lossy(&answer)
        );
    }
    app.stop().await;
}

/// An early answer to a client still sending its body is readable: the
/// server does not close on unread bytes (which makes the kernel reset the
/// connection, and the client lose the answer) but lingers, dropping them,
/// until the client closes.
#[tokio::test]
async fn an_early_answer_reaches_a_client_still_sending_its_body() {
    let app = spawn_fixture_with(|_| {}).await;
    let port = port(&app.address);
    for round in 0..20 {
        let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let (mut read, mut write) = s.into_split();
        let sender = tokio::spawn(async move {
            let _ = write
                .write_all(
                    b"POST /api/v1/a<b> HTTP/1.1\r\nHost: shop\r\nContent-Length: 4000000\r\n\r\n",
                )
                .await;
            let chunk = vec![b'y'; 64 * 1024];
            for _ in 0..60 {
                if write.write_all(&chunk).await.is_err() {
                    return false;
                }
            }
            true
        });
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        let closed_cleanly = loop {
            match tokio::time::timeout(Duration::from_secs(10), read.read(&mut buf)).await {
                Ok(Ok(0)) => break true,
                Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
                Ok(Err(e)) => {
                    assert!(
                        !answer.is_empty(),
                        "round {round}: the connection was reset before the answer: {e}"
                    );
                    break false;
                }
                Err(_) => panic!("round {round}: no answer in 10 s"),
            }
        };
        let (status, body) = parse(&answer);
        assert_eq!(status, 400, "round {round}");
        assert_eq!(body["error"]["code"], "malformed_request", "round {round}");
        assert!(closed_cleanly, "round {round}: reset after the answer");
        let _ = sender.await;
    }
    app.stop().await;
}
