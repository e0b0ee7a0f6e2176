//! A man in the middle between a follower and its leader that can flip one
//! bit in what the leader sends: snapshot parts, or change batches.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

#[derive(Default)]
pub struct Faults {
    pub corrupt_parts: AtomicBool,
    pub corrupt_changes: AtomicBool,
    /// Responses corrupted so far.
    pub corrupted: AtomicU64,
    /// Milliseconds each snapshot answer (manifest or part) is held back:
    /// a slow link, so a bootstrap takes long enough to be killed in.
    pub snapshot_delay_ms: AtomicU64,
}

pub struct Proxy {
    pub base: String,
    pub faults: Arc<Faults>,
}

impl Proxy {
    pub fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let faults = Arc::new(Faults::default());
        let f = faults.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().map_while(Result::ok) {
                let f = f.clone();
                std::thread::spawn(move || {
                    let _ = relay(conn, upstream, &f);
                });
            }
        });
        Proxy {
            base: format!("http://127.0.0.1:{port}"),
            faults,
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request (GET, no body) per connection: forwarded with
/// `Connection: close`, the whole answer read, maybe corrupted, returned.
fn relay(mut client: TcpStream, upstream: u16, faults: &Faults) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while find(&head, b"\r\n\r\n").is_none() {
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let end = find(&head, b"\r\n\r\n").unwrap();
    let text = String::from_utf8_lossy(&head[..end]).to_string();
    let path = text.split(' ').nth(1).unwrap_or("").to_string();
    let mut out = String::new();
    for line in text.split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.write_all(out.as_bytes())?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    if path.starts_with("/replication/snapshot") {
        std::thread::sleep(std::time::Duration::from_millis(
            faults.snapshot_delay_ms.load(SeqCst),
        ));
    }
    let corrupt = (path.starts_with("/replication/snapshot/") && faults.corrupt_parts.load(SeqCst))
        || (path.starts_with("/replication/changes") && faults.corrupt_changes.load(SeqCst));
    if corrupt
        && answer.starts_with(b"HTTP/1.1 200")
        && let Some(body) = find(&answer, b"\r\n\r\n").map(|i| i + 4)
        && body < answer.len()
    {
        // A bit in the middle of the body.
        let at = body + (answer.len() - body) / 2;
        answer[at] ^= 0x10;
        faults.corrupted.fetch_add(1, SeqCst);
    }
    // Tell the client this connection ends here.
    let answer = match find(&answer, b"\r\n\r\n") {
        Some(i) => {
            let h = String::from_utf8_lossy(&answer[..i]).to_string();
            let kept: Vec<&str> = h
                .split("\r\n")
                .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                .collect();
            let mut a = format!("{}\r\nconnection: close", kept.join("\r\n")).into_bytes();
            a.extend_from_slice(&answer[i..]);
            a
        }
        None => answer,
    };
    client.write_all(&answer)?;
    client.flush()
}
