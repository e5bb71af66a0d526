//! A connection that breaks off a response at an exact byte: the fault layer arms it with "K
//! bytes of the body", and the connection lets the next response's headers and K bytes of its
//! body reach the socket, then closes the socket (a cut) or stops writing (a stall). The bytes
//! before the break are on the wire when it happens, whatever the machine's load: nothing
//! waits on a timer for the server to flush them.
//!
//! HTTP/1.1 answers one request at a time on a connection, so the first blank line written
//! after arming ends the armed response's headers.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What the next response on a connection does after `body` bytes of its body.
#[derive(Debug, Clone, Copy)]
struct Plan {
    body: usize,
    stall: bool,
    /// How much of the blank line ending the headers ("\r\n\r\n") was seen: 4 once the
    /// body has begun.
    matched: usize,
}

impl Plan {
    fn in_body(&self) -> bool {
        self.matched == END.len()
    }
}

const END: &[u8; 4] = b"\r\n\r\n";

/// The arming handle of one connection, shared by the connection and the fault layer.
#[derive(Debug, Default)]
pub struct Breaker(Mutex<Option<Plan>>);

impl Breaker {
    /// The next response on this connection sends its headers and `body` bytes of its body,
    /// then the socket is closed (`stall` false) or goes silent (`stall` true).
    pub fn arm(&self, body: usize, stall: bool) {
        *self.0.lock().unwrap() = Some(Plan {
            body,
            stall,
            matched: 0,
        });
    }
}

/// `inner` with a [`Breaker`].
pub struct Breakable<S> {
    inner: S,
    breaker: Arc<Breaker>,
    /// The break happened: later writes fail (cut) or wait forever (stall).
    broken: Option<bool>,
}

impl<S> Breakable<S> {
    pub fn new(inner: S, breaker: Arc<Breaker>) -> Self {
        Self {
            inner,
            breaker,
            broken: None,
        }
    }
}

/// How many bytes of `buf` may be written under `plan`: up to the end of the headers, then up
/// to the body allowance.
fn allowed(plan: &Plan, buf: &[u8]) -> usize {
    let mut matched = plan.matched;
    let mut at = 0;
    while matched < END.len() {
        let Some(&b) = buf.get(at) else {
            return buf.len();
        };
        at += 1;
        matched = advance(matched, b);
    }
    at + plan.body.min(buf.len() - at)
}

/// One byte further in matching "\r\n\r\n".
fn advance(matched: usize, b: u8) -> usize {
    if b == END[matched] {
        matched + 1
    } else if b == b'\r' {
        1
    } else {
        0
    }
}

/// Accounts for `written` bytes of `buf` having gone out under `plan`.
fn consume(plan: &mut Plan, buf: &[u8]) {
    let mut rest = buf;
    while !plan.in_body() {
        let Some((&b, tail)) = rest.split_first() else {
            return;
        };
        rest = tail;
        plan.matched = advance(plan.matched, b);
    }
    plan.body -= rest.len();
}

impl<S: AsyncRead + Unpin> AsyncRead for Breakable<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Breakable<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match this.broken {
            Some(true) => return Poll::Pending,
            Some(false) => return Poll::Ready(Err(io::Error::other("fault: response cut"))),
            None => {}
        }
        let plan = *this.breaker.0.lock().unwrap();
        let Some(plan) = plan else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        let n = allowed(&plan, buf);
        if n == 0 && !buf.is_empty() {
            // The allowance is spent: the break. A cut closes our side of the socket (the
            // client reads the bytes sent, then the end); a stall just never writes again.
            this.breaker.0.lock().unwrap().take();
            this.broken = Some(plan.stall);
            if plan.stall {
                return Poll::Pending;
            }
            let _ = Pin::new(&mut this.inner).poll_shutdown(cx);
            return Poll::Ready(Err(io::Error::other("fault: response cut")));
        }
        let written = std::task::ready!(Pin::new(&mut this.inner).poll_write(cx, &buf[..n]))?;
        if let Some(plan) = this.breaker.0.lock().unwrap().as_mut() {
            consume(plan, &buf[..written]);
        }
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(body: usize) -> Plan {
        Plan {
            body,
            stall: false,
            matched: 0,
        }
    }

    #[test]
    fn headers_then_exactly_the_allowance() {
        let response = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789";
        let head = response.len() - 10;
        assert_eq!(allowed(&plan(4), response), head + 4);
        // Written in pieces, the blank line split between two writes.
        let mut p = plan(4);
        let (a, b) = response.split_at(head - 2);
        assert_eq!(allowed(&p, a), a.len());
        consume(&mut p, a);
        assert!(!p.in_body());
        assert_eq!(allowed(&p, b), 2 + 4);
        consume(&mut p, &b[..2 + 3]);
        assert!(p.in_body());
        assert_eq!(p.body, 1);
        assert_eq!(allowed(&p, &b[5..]), 1);
        consume(&mut p, &b[5..6]);
        assert_eq!(allowed(&p, &b[6..]), 0);
    }

    #[test]
    fn a_lone_crlf_in_a_header_is_not_the_end() {
        let p = plan(0);
        assert_eq!(allowed(&p, b"a: b\r\nc: d\r\n\r\nBODY"), 14);
        assert_eq!(allowed(&p, b"x\r\r\n\r\nB"), 6);
    }
}
