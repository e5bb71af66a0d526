//! The TCP socket under a request, reached from its addresses: the one place that knows an
//! operating system's socket options.
//!
//! A request body is judged by the watchdog ([`super::watchdog`]) by when the connection takes
//! its bytes. Left alone, a socket takes megabytes at once into the kernel's send buffer and
//! then wakes its writer only when about a third of it has drained, which on a slow link is
//! many seconds: a connection that moves every second looks stalled. `TCP_NOTSENT_LOWAT`
//! caps the bytes a socket holds that are not yet on the wire, so the socket takes a little
//! each time the link sends a little, and "taken" follows what the connection delivers.
//!
//! The SDK's HTTP client opens its sockets itself and exposes neither the socket nor a hook
//! for its options; it does tell the addresses of the connection a request went out on. So
//! the socket is found among the process's own descriptors by its local and remote address,
//! a pair no other live socket has.
//!
//! Linux only (`/proc/self/fd`); elsewhere nothing is capped and the watchdog's limits stay
//! as they were (a slow link may then be judged stalled).

use std::net::SocketAddr;

/// Unsent bytes a connection may hold: small enough that a 50 KB/s link empties it in a
/// couple of seconds (the writer is woken each time), large enough that a fast link never waits
/// for the writer (Apple and Cloudflare run web traffic with 16-128 KiB).
pub const UNSENT_AT_MOST: u32 = 128 * 1024;

/// The socket a request went out on, found by its two addresses.
#[derive(Debug)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // never found there
pub struct Connection {
    #[cfg(target_os = "linux")]
    fd: std::os::fd::RawFd,
    local: SocketAddr,
    peer: SocketAddr,
}

/// What a connection has delivered: every byte written to it is either acknowledged by the
/// peer (it has them) or waiting (not yet sent, or sent and not acknowledged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // never asked there
pub struct Delivery {
    /// Bytes the peer has acknowledged since the connection opened.
    pub acked: u64,
    /// Some bytes written are not acknowledged yet.
    pub waiting: bool,
}

/// Caps the unsent bytes of this process's TCP socket from `local` to `peer` at `bytes`, and
/// returns it for [`Connection::delivery`]. `None` when no such socket was found, or on a
/// platform without the options.
#[cfg(target_os = "linux")]
pub fn cap_unsent(
    local: SocketAddr,
    peer: SocketAddr,
    bytes: u32,
) -> std::io::Result<Option<Connection>> {
    use std::os::fd::RawFd;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let Some(fd) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RawFd>().ok())
        else {
            continue;
        };
        let connection = Connection { fd, local, peer };
        if let Some(fd) = connection.socket() {
            socket2::SockRef::from(&fd).set_tcp_notsent_lowat(bytes)?;
            return Ok(Some(connection));
        }
    }
    Ok(None)
}

#[cfg(target_os = "linux")]
impl Connection {
    /// The descriptor, if it is still the connection's socket (a descriptor is reused once
    /// closed: its addresses tell).
    fn socket(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        #[allow(unsafe_code)]
        // SAFETY: the descriptor is only asked for its addresses (harmless on any descriptor,
        // an error on one that is not a socket or was closed meanwhile), and used further only
        // when they are the connection's: that pair of addresses belongs to one live socket.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd) };
        let socket = socket2::SockRef::from(&fd);
        let address = |a: std::io::Result<socket2::SockAddr>| a.ok().and_then(|a| a.as_socket());
        (address(socket.local_addr()) == Some(self.local)
            && address(socket.peer_addr()) == Some(self.peer))
        .then_some(fd)
    }

    /// What the connection has delivered so far (`TCP_INFO`); `None` once it is closed.
    pub fn delivery(&self) -> Option<Delivery> {
        use std::os::fd::AsRawFd;
        let fd = self.socket()?;
        // SAFETY: `tcp_info` is plain integers, for which zeroes are valid.
        #[allow(unsafe_code)]
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::tcp_info>()).ok()?;
        #[allow(unsafe_code)]
        // SAFETY: the kernel writes at most `len` bytes into `info`, which has that many.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&raw mut info).cast(),
                &raw mut len,
            )
        };
        // Kernels before 4.6 have no `tcpi_notsent_bytes`: a shorter answer is no answer.
        let needed = std::mem::offset_of!(libc::tcp_info, tcpi_notsent_bytes) + 4;
        if rc != 0 || (len as usize) < needed {
            return None;
        }
        Some(Delivery {
            acked: info.tcpi_bytes_acked,
            waiting: info.tcpi_notsent_bytes > 0 || info.tcpi_unacked > 0,
        })
    }
}

#[cfg(not(target_os = "linux"))]
pub fn cap_unsent(
    _local: SocketAddr,
    _peer: SocketAddr,
    _bytes: u32,
) -> std::io::Result<Option<Connection>> {
    Ok(None)
}

#[cfg(not(target_os = "linux"))]
impl Connection {
    pub fn delivery(&self) -> Option<Delivery> {
        None
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_connections_socket_is_found_and_capped() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let (local, peer) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        let connection = cap_unsent(local, peer, 64 * 1024).unwrap().unwrap();
        let lowat = socket2::SockRef::from(&client).tcp_notsent_lowat().unwrap();
        assert_eq!(lowat, 64 * 1024);
        // The server's end has the same two addresses the other way round: it is not taken.
        let server_lowat = socket2::SockRef::from(&server).tcp_notsent_lowat().unwrap();
        assert_ne!(server_lowat, 64 * 1024);
        // No socket has these.
        let nowhere: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert!(cap_unsent(local, nowhere, 1).unwrap().is_none());
        // Nothing written: nothing waiting.
        let before = connection.delivery().unwrap();
        assert!(!before.waiting);
        use std::io::Write;
        (&client).write_all(&[1; 1000]).unwrap();
        // Loopback acknowledges whether or not the server reads: the bytes are acknowledged
        // or still waiting, never lost from the count.
        let after = connection.delivery().unwrap();
        assert!(
            after.acked == before.acked + 1000 || after.waiting,
            "{after:?}"
        );
        drop(client);
        assert_eq!(connection.delivery(), None);
    }
}
