//! A client connection as the HTTP parser sees it: the TCP stream, with
//! what the parser cannot do itself.
//!
//! - **Its own refusals get the error envelope.** actix-http answers a
//!   request it cannot parse (a raw space, quote, `<`, control or
//!   non-ASCII byte in the request line, a malformed header, a head past
//!   its buffer, a client that never finishes its head) with a bare 400,
//!   431 or 408 and no body. Those answers are recognised as they are
//!   written — the application never answers a 4xx without a body — and
//!   replaced by the same status with the JSON envelope every other error
//!   has; a 400 for a request line longer than the URI limit becomes the
//!   414 `uri_too_long` a shorter over-long target gets.
//! - **A closing connection lingers.** When the server closes after an
//!   early answer while the client is still sending (a body it will not
//!   read), closing at once makes the kernel reset the connection, and the
//!   client may lose the answer before it reads it. So a connection the
//!   server lets go of before the client closed it is handed to a small
//!   task that shuts down the sending side, then reads and drops what still
//!   arrives until the client closes, for at most [`LINGER`] — as nginx's
//!   `lingering_close` does. (actix-http drops a connection after a parse
//!   error without shutting it down, so this happens on drop.)
//!
//! Invariant: bytes are passed through unchanged except one whole bodiless
//! error answer, which is never interleaved with other output.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How long a closing connection keeps reading what the client still sends.
pub(crate) const LINGER: Duration = Duration::from_secs(1);

/// Most bytes dropped while lingering.
const LINGER_BYTES: usize = 1 << 20;

/// The limits the replacement answers name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_uri_bytes: usize,
    pub max_header_bytes: usize,
}

/// A TCP connection with the behaviour in the module docs.
pub(crate) struct Connection {
    /// `None` only while dropping.
    io: Option<TcpStream>,
    limits: Limits,
    /// A replacement answer being written, and how much of it is out.
    pending: Vec<u8>,
    sent: usize,
    /// Reading a request head (until its blank line), the length of the
    /// line being read and the head's longest line so far.
    in_head: bool,
    line: usize,
    longest: usize,
    /// The client closed its side.
    eof: bool,
}

impl Connection {
    pub(crate) fn new(io: TcpStream, limits: Limits) -> Connection {
        Connection {
            io: Some(io),
            limits,
            pending: Vec::new(),
            sent: 0,
            in_head: true,
            line: 0,
            longest: 0,
            eof: false,
        }
    }

    fn io(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(self.io.as_mut().expect("the stream is there until drop"))
    }

    /// Notes the lines of a request head (for a 414 of an over-long
    /// target); a body is not looked at.
    fn saw(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while self.in_head {
            match memchr::memchr(b'\n', rest) {
                None => {
                    self.line += rest.len();
                    return;
                }
                Some(i) => {
                    // With its `\r`; the blank line that ends a head is
                    // at most that (no header line is one byte long).
                    let len = self.line + i;
                    if len <= 1 {
                        self.in_head = false;
                    } else {
                        self.longest = self.longest.max(len);
                    }
                    self.line = 0;
                    rest = &rest[i + 1..];
                }
            }
        }
    }

    /// Writes out a pending replacement answer.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let io = Pin::new(self.io.as_mut().expect("the stream is there until drop"));
            let n = ready!(io.poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// The envelope answer for a bare parser answer `head`, if it is one.
    fn replacement(&self, head: &[u8]) -> Option<Vec<u8>> {
        let bare = head.ends_with(b"\r\n\r\n")
            && head
                .windows(b"\r\ncontent-length: 0\r\n".len())
                .any(|w| w.eq_ignore_ascii_case(b"\r\ncontent-length: 0\r\n"));
        if !bare {
            return None;
        }
        let longest = self.longest.max(self.line);
        let (status, code, message) = if head.starts_with(b"HTTP/1.1 400 ") {
            if longest > self.limits.max_uri_bytes {
                (
                    "414 URI Too Long",
                    "uri_too_long",
                    format!(
                        "the request's path and query are longer than {} bytes",
                        self.limits.max_uri_bytes
                    ),
                )
            } else {
                (
                    "400 Bad Request",
                    "malformed_request",
                    "the request is not valid HTTP/1.1: its request line or a header has a byte \
                     HTTP does not allow there (a space, quote, angle bracket, control or non-ASCII \
                     byte must be percent-encoded in the path and query)"
                        .to_string(),
                )
            }
        } else if head.starts_with(b"HTTP/1.1 431 ") {
            (
                "431 Request Header Fields Too Large",
                "headers_too_large",
                format!(
                    "the request's headers are larger than {} bytes",
                    self.limits.max_header_bytes
                ),
            )
        } else if head.starts_with(b"HTTP/1.1 408 ") {
            (
                "408 Request Timeout",
                "request_timeout",
                "the request head did not arrive in time".to_string(),
            )
        } else {
            return None;
        };
        let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
        Some(
            format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 x-content-type-options: nosniff\r\ncache-control: no-store\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let room = buf.remaining() > 0;
        ready!(self.io().poll_read(cx, buf))?;
        let fresh = &buf.filled()[before..];
        if fresh.is_empty() && room {
            self.eof = true;
        }
        if self.in_head {
            self.saw(fresh);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if buf.starts_with(b"HTTP/1.") {
            if let Some(answer) = self.replacement(buf) {
                self.pending = answer;
                self.sent = 0;
                // The parser's answer counts as written; ours follows.
                let _ = self.drain(cx)?;
                return Poll::Ready(Ok(buf.len()));
            }
            // The next request's head starts after this answer.
            self.in_head = true;
            self.line = 0;
            self.longest = 0;
        }
        self.io().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        self.io().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        self.io().poll_shutdown(cx)
    }
}

impl Drop for Connection {
    /// A connection let go of before the client closed it lingers (see the
    /// module docs), on the runtime it was served on.
    fn drop(&mut self) {
        let Some(io) = self.io.take() else { return };
        if self.eof {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(linger(io));
        }
    }
}

/// Shuts down the sending side, then reads and drops what the client still
/// sends until it closes, for at most [`LINGER`] and [`LINGER_BYTES`].
async fn linger(mut io: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = io.shutdown().await;
    let mut scratch = [0u8; 8192];
    let mut dropped = 0;
    let _ = tokio::time::timeout(LINGER, async {
        while dropped < LINGER_BYTES {
            match io.read(&mut scratch).await {
                Ok(0) | Err(_) => return,
                Ok(n) => dropped += n,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pair() -> (Connection, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let limits = Limits {
            max_uri_bytes: 100,
            max_header_bytes: 1000,
        };
        (Connection::new(server, limits), client)
    }

    #[test]
    fn bare_parser_answers_are_replaced_and_others_pass_through() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut conn, mut client) = pair().await;
            let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: x\r\n\r\n";
            assert_eq!(conn.write(bare).await.unwrap(), bare.len());
            let app = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
            conn.write_all(app).await.unwrap();
            conn.shutdown().await.unwrap();
            let mut got = String::new();
            client.read_to_string(&mut got).await.unwrap();
            let (first, rest) = got.split_once("\r\n\r\n").unwrap();
            assert!(first.starts_with("HTTP/1.1 400 Bad Request"), "{got}");
            assert!(first.contains("content-type: application/json"), "{got}");
            assert!(rest.contains(r#""code":"malformed_request""#), "{got}");
            assert!(got.ends_with("HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}"));

            // A request line past the URI limit: 414.
            let (mut conn, mut client) = pair().await;
            client.write_all(&[b'a'; 150]).await.unwrap();
            let mut buf = [0u8; 512];
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0);
            conn.write_all(bare).await.unwrap();
            conn.shutdown().await.unwrap();
            drop(conn);
            let mut got = String::new();
            client.read_to_string(&mut got).await.unwrap();
            assert!(got.starts_with("HTTP/1.1 414 URI Too Long"), "{got}");
            assert!(got.contains(r#""code":"uri_too_long""#), "{got}");
        });
    }
}
