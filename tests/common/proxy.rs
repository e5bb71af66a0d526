//! An HTTP proxy for the tests, on 127.0.0.1:0: CONNECT tunnels (for `https://` endpoints) and
//! absolute-form forwarding (for `http://` ones), one thread per connection. It records every
//! request it passes on (`CONNECT host:port`, `PUT http://host:port/path`) and can demand
//! credentials or refuse everything, as corporate proxies do.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// How the proxy treats requests.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Passes everything on.
    Open,
    /// Demands `Proxy-Authorization: Basic` with these (decoded) credentials; 407 otherwise.
    Auth { user: String, password: String },
    /// Answers every request with 403, as a proxy whose rules forbid the destination.
    Refuse,
}

pub struct TestProxy {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl TestProxy {
    pub fn start(mode: Mode) -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log2, stop2) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (mode, log) = (mode.clone(), log2.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &mode, &log);
                });
            }
        });
        TestProxy { addr, log, stop }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://USERINFO@127.0.0.1:PORT` (`userinfo` as it goes in the URL, percent-encoded).
    pub fn url_with(&self, userinfo: &str) -> String {
        format!("http://{userinfo}@{}", self.addr)
    }

    /// What passed through (or was refused): one line per request, in order.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// A port nothing listens on: a proxy that is down.
pub fn dead_proxy_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

fn serve(conn: TcpStream, mode: &Mode, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut client = conn;
    let head = read_head(&mut reader)?;
    let Some(request_line) = head.first() else {
        return Ok(());
    };
    let mut parts = request_line.split(' ');
    let (method, target, version) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or("HTTP/1.1").to_owned(),
    );
    let auth = header(&head, "proxy-authorization");
    match mode {
        Mode::Refuse => {
            log.lock()
                .unwrap()
                .push(format!("REFUSED {method} {target}"));
            let body = "Access denied";
            write!(
                client,
                "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            return Ok(());
        }
        Mode::Auth { user, password } => {
            let expected = format!("Basic {}", base64(format!("{user}:{password}").as_bytes()));
            if auth.as_deref() != Some(expected.as_str()) {
                log.lock().unwrap().push(format!("407 {method} {target}"));
                client.write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )?;
                return Ok(());
            }
        }
        Mode::Open => {}
    }
    if method == "CONNECT" {
        log.lock().unwrap().push(format!("CONNECT {target}"));
        let upstream = connect(&target)?;
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        let leftover = reader.buffer().to_vec();
        return splice(client, upstream, leftover);
    }
    // Forwarding: http://host:port/path -> /path on host:port, one request per connection.
    let Some(rest) = target.strip_prefix("http://") else {
        client.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    log.lock().unwrap().push(format!("{method} {target}"));
    let (hostport, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut upstream = connect(hostport)?;
    let mut out = format!("{method} {path} {version}\r\n");
    for line in &head[1..] {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !matches!(
            name.as_str(),
            "proxy-authorization" | "proxy-connection" | "connection" | "keep-alive"
        ) {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    upstream.write_all(out.as_bytes())?;
    // The body goes up on its own thread: with `Expect: 100-continue` it only starts once the
    // interim answer has come back down.
    let length: u64 = header(&head, "content-length")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut up = upstream.try_clone()?;
    let body = std::thread::spawn(move || {
        let _ = std::io::copy(&mut reader.take(length), &mut up);
    });
    let mut down = BufReader::new(upstream);
    loop {
        let head = read_head(&mut down)?;
        let interim = head
            .first()
            .is_some_and(|l| l.split(' ').nth(1).is_some_and(|s| s.starts_with('1')));
        let mut text = String::new();
        for line in &head {
            if !interim && line.to_ascii_lowercase().starts_with("connection:") {
                continue;
            }
            text.push_str(line);
            text.push_str("\r\n");
        }
        if !interim {
            text.push_str("Connection: close\r\n");
        }
        text.push_str("\r\n");
        client.write_all(text.as_bytes())?;
        if !interim {
            break;
        }
    }
    std::io::copy(&mut down, &mut client)?;
    let _ = client.shutdown(Shutdown::Both);
    let _ = body.join();
    Ok(())
}

/// Copies both ways until either side closes.
/// Connects to `host:port`, with every name under `.localhost` on the loopback address
/// (RFC 6761), as some resolvers do and this machine's may not: a test can then address a
/// bucket by host name (`BUCKET.localhost`) through the proxy.
fn connect(hostport: &str) -> std::io::Result<TcpStream> {
    match hostport.rsplit_once(':') {
        Some((host, port)) if host.ends_with(".localhost") => {
            let port: u16 = port.parse().map_err(std::io::Error::other)?;
            TcpStream::connect(("127.0.0.1", port))
        }
        _ => TcpStream::connect(hostport),
    }
}

fn splice(client: TcpStream, upstream: TcpStream, leftover: Vec<u8>) -> std::io::Result<()> {
    let (mut c_read, mut u_write) = (client.try_clone()?, upstream.try_clone()?);
    let up = std::thread::spawn(move || {
        let _ = u_write.write_all(&leftover);
        let _ = std::io::copy(&mut c_read, &mut u_write);
        let _ = u_write.shutdown(Shutdown::Write);
    });
    let (mut u_read, mut c_write) = (upstream, client);
    let _ = std::io::copy(&mut u_read, &mut c_write);
    let _ = c_write.shutdown(Shutdown::Both);
    let _ = up.join();
    Ok(())
}

/// The lines of a request or response head, without their CRLFs.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            return Ok(lines);
        }
        lines.push(line);
    }
}

fn header(head: &[String], name: &str) -> Option<String> {
    head.iter().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
