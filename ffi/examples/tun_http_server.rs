//! tun_http_server: the Rust host loop for tcpkit's `Stack` on a Linux TUN
//! device (the "early real peer" of issue 4): the kernel on the other side of
//! the TUN device is the peer, driven by `curl` in examples/tests/run-rust-tun.sh.
//!
//! ```text
//! tun_http_server serve DEVICE [--port P] [--backlog B] [--accept-delay-ms D]
//!                             [--requests K] [--seconds S]
//!     GET /bytes/N -> HTTP/1.0 200 with N bytes of deterministic data
//!     (byte i is byte i % 8 of splitmix64(i / 8), little-endian: the same
//!     bytes as examples/c/tun_http.c), over IPv4 192.0.2.2 and IPv6
//!     2001:db8::2; one request per connection, closed after the response.
//!     Exits 0 after K complete responses (default: never) or S seconds;
//!     B is the listen backlog (accept queue, default 128); D makes the
//!     application accept D ms after the queue became non-empty (a busy
//!     application, so that the accept queue fills).
//! tun_http_server connect DEVICE ADDR:PORT [SECONDS]
//!     opens one connection and prints how it ended within SECONDS (default
//!     10): connected, refused, reset, timed-out or pending.
//! tun_http_server gen N
//!     writes the body of /bytes/N to stdout, so a test can hash it.
//! ```
//!
//! It lives in ffi/examples because the core crate forbids `unsafe`, and ffi
//! already depends on `libc`: opening a TUN device takes one `ioctl`
//! (TUNSETIFF) and waiting takes `poll`, so two small `unsafe` blocks here
//! cost less than a TUN crate and its dependency tree. Everything else is the
//! safe core API: feed, poll_transmit, poll_event, poll_timeout/handle_timeout.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;

use tcpkit::stack::{Config, ConnHandle, Error, EventKind, ListenAddr, Stack};
use tcpkit::Instant;

/// The largest packet the TUN device carries (its default MTU) and the read buffer.
const MTU: usize = 1500;
const READ_BUF: usize = 65536;
/// Longest request head accepted.
const REQ_MAX: usize = 8192;
/// Bytes generated per `send` call.
const CHUNK: usize = 65536;
/// How long the loop keeps running after the last response, so the stack
/// finishes the FIN exchange with the kernel before the process exits.
const LINGER_US: u64 = 1_000_000;

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Body bytes `offset..offset + dst.len()` of any /bytes/N response.
fn fill_data(dst: &mut [u8], offset: u64) {
    for (i, b) in dst.iter_mut().enumerate() {
        let pos = offset + i as u64;
        *b = (splitmix64(pos >> 3) >> ((pos & 7) * 8)) as u8;
    }
}

/// Linux `struct ifreq` as TUNSETIFF reads it: the name, then the flags
/// (a `short`) at the start of the 24-byte union.
#[repr(C)]
struct IfReqFlags {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Opens `/dev/net/tun` as `name`, IFF_TUN | IFF_NO_PI (raw IP packets), non-blocking.
fn tun_open(name: &str) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/dev/net/tun")?;
    let mut req = IfReqFlags {
        name: [0; 16],
        flags: (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short,
        _pad: [0; 22],
    };
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= req.name.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad device name",
        ));
    }
    req.name[..bytes.len()].copy_from_slice(bytes);
    // SAFETY: the fd is open for the call's duration, and `req` is a live,
    // properly aligned 40-byte `struct ifreq` image that TUNSETIFF reads and
    // may write back (the name) within its size; nothing else aliases it.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// Waits until the device is readable or `timeout_ms` passed.
fn wait_readable(file: &File, timeout_ms: i32) -> io::Result<()> {
    let mut pfd = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd that lives across the call, and the count is 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

/// Microseconds since the program started: the stack's monotonic clock.
struct Clock(std::time::Instant);

impl Clock {
    fn now(&self) -> Instant {
        Instant::from_micros(self.0.elapsed().as_micros() as u64)
    }
}

/// One HTTP/1.0 exchange: read the request head, then send head + body.
#[derive(Debug, Default)]
struct Exchange {
    req: Vec<u8>,
    head: Vec<u8>,
    head_sent: usize,
    body_len: u64,
    body_sent: u64,
    responding: bool,
}

/// What `pump` left the connection in.
#[derive(Debug, PartialEq, Eq)]
enum Pump {
    /// Waiting for the peer (more request) or for room to send.
    Blocked,
    /// The whole response is queued: close gracefully.
    Done,
    /// The request was bad, or the connection failed: abort.
    Failed,
}

impl Exchange {
    /// Parses the request head once it is complete.
    fn start_response(&mut self) {
        let line = self.req.split(|&b| b == b'\r').next().unwrap_or(&[]);
        let line = String::from_utf8_lossy(line);
        let mut words = line.split(' ');
        let n = match (words.next(), words.next()) {
            (Some("GET"), Some(path)) => path
                .strip_prefix("/bytes/")
                .and_then(|n| n.parse::<u64>().ok()),
            _ => None,
        };
        let (status, len) = match n {
            Some(n) => ("200 OK", n),
            None => ("404 Not Found", 0),
        };
        self.body_len = len;
        self.head = format!(
            "HTTP/1.0 {status}\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\n\
             Connection: close\r\nServer: tcpkit-tun_http_server\r\n\r\n"
        )
        .into_bytes();
        self.responding = true;
    }

    /// Moves the exchange as far as the stack lets it.
    fn pump(&mut self, s: &mut Stack, c: ConnHandle, chunk: &mut [u8]) -> Pump {
        while !self.responding {
            let mut buf = [0u8; 2048];
            match s.recv(c, &mut buf) {
                Ok(0) => return Pump::Failed, // end of stream before a whole request
                Ok(n) => self.req.extend_from_slice(&buf[..n]),
                Err(Error::WouldBlock) => return Pump::Blocked,
                Err(_) => return Pump::Failed,
            }
            if self.req.windows(4).any(|w| w == b"\r\n\r\n") {
                self.start_response();
            } else if self.req.len() > REQ_MAX {
                return Pump::Failed;
            }
        }
        loop {
            let r = if self.head_sent < self.head.len() {
                let r = s.send(c, &self.head[self.head_sent..]);
                if let Ok(n) = r {
                    self.head_sent += n;
                }
                r
            } else if self.body_sent < self.body_len {
                let n = (self.body_len - self.body_sent).min(chunk.len() as u64) as usize;
                let part = &mut chunk[..n];
                fill_data(part, self.body_sent);
                let r = s.send(c, part);
                if let Ok(n) = r {
                    self.body_sent += n as u64;
                }
                r
            } else {
                return Pump::Done;
            };
            match r {
                Ok(_) => {}
                Err(Error::WouldBlock) => return Pump::Blocked,
                Err(_) => return Pump::Failed,
            }
        }
    }
}

struct Options {
    device: String,
    port: u16,
    requests: Option<u64>,
    seconds: Option<u64>,
    backlog: u32,
    accept_delay_ms: u64,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let device = args.first().ok_or("missing DEVICE")?.clone();
    let mut o = Options {
        device,
        port: 80,
        requests: None,
        seconds: None,
        backlog: 128,
        accept_delay_ms: 0,
    };
    let mut it = args.iter().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |_| format!("bad value for {flag}: {value}");
        match flag.as_str() {
            "--port" => o.port = value.parse().map_err(bad)?,
            "--requests" => o.requests = Some(value.parse().map_err(bad)?),
            "--seconds" => o.seconds = Some(value.parse().map_err(bad)?),
            "--backlog" => o.backlog = value.parse().map_err(bad)?,
            "--accept-delay-ms" => o.accept_delay_ms = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(o)
}

/// A stack with the example addresses, its ISN secret from the OS (the core
/// takes it from the host; see `Config::isn_secret`).
fn new_stack() -> io::Result<Stack> {
    let mut secret = [0u8; 32];
    File::open("/dev/urandom")?.read_exact(&mut secret)?;
    let config = Config {
        isn_secret: secret,
        ..Config::default()
    };
    let mut s = Stack::new(config).map_err(|e| io::Error::other(format!("{e:?}")))?;
    for a in ["192.0.2.2", "2001:db8::2"] {
        let ip = a.parse().map_err(io::Error::other)?;
        s.add_address(ip)
            .map_err(|e| io::Error::other(format!("{a}: {e:?}")))?;
    }
    Ok(s)
}

/// Writes every packet the stack has to the device. A full device queue
/// (EAGAIN / ENOBUFS) drops the packet, as a link would; TCP recovers.
fn flush(tun: &mut File, s: &mut Stack, clock: &Clock, buf: &mut [u8]) -> io::Result<()> {
    loop {
        let n = match s.poll_transmit(clock.now(), buf) {
            Ok(n) => n,
            Err(Error::WouldBlock) => return Ok(()),
            Err(e) => return Err(io::Error::other(format!("poll_transmit: {e:?}"))),
        };
        if let Err(e) = tun.write(&buf[..n]) {
            if e.kind() != io::ErrorKind::WouldBlock && e.raw_os_error() != Some(libc::ENOBUFS) {
                return Err(e);
            }
        }
    }
}

/// One turn of the host loop's input side: sleep until a packet arrives or
/// the stack's next deadline (at most 100 ms), feed what the device has (at
/// most 256 packets, so output gets its turn), then run due timers.
fn wait_and_feed(tun: &mut File, s: &mut Stack, clock: &Clock, rbuf: &mut [u8]) -> io::Result<()> {
    let now = clock.now().as_micros();
    let wait_us = s
        .poll_timeout()
        .map_or(100_000, |d| d.as_micros().saturating_sub(now))
        .min(100_000);
    wait_readable(tun, wait_us.div_ceil(1000) as i32)?;
    for _ in 0..256 {
        match tun.read(rbuf) {
            // Router solicitations and other traffic not for us are normal here.
            Ok(n) if n > 0 => {
                let _ = s.feed(clock.now(), &rbuf[..n]);
            }
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let now = clock.now();
    if s.poll_timeout().is_some_and(|d| d <= now) {
        s.handle_timeout(now);
    }
    Ok(())
}

fn serve(o: &Options) -> io::Result<()> {
    let mut tun = tun_open(&o.device)?;
    let mut s = new_stack()?;
    let clock = Clock(std::time::Instant::now());
    let listener = s
        .listen(ListenAddr::Any, o.port, o.backlog)
        .map_err(|e| io::Error::other(format!("listen: {e:?}")))?;
    eprintln!(
        "tun_http_server: serving on {}, 192.0.2.2:{p} and [2001:db8::2]:{p}",
        o.device,
        p = o.port
    );
    let end = o
        .seconds
        .map(|sec| clock.now().as_micros() + sec * 1_000_000);
    let mut conns: HashMap<u64, Exchange> = HashMap::new();
    let mut rbuf = vec![0u8; READ_BUF];
    let mut tbuf = vec![0u8; MTU];
    let mut chunk = vec![0u8; CHUNK];
    let mut served = 0u64;
    let mut failed = 0u64;
    let mut linger_until: Option<u64> = None;
    let mut accept_at: Option<u64> = None;
    loop {
        let now = clock.now().as_micros();
        if end.is_some_and(|e| now >= e) || linger_until.is_some_and(|l| now >= l) {
            break;
        }
        wait_and_feed(&mut tun, &mut s, &clock, &mut rbuf)?;
        while let Some(ev) = s.poll_event() {
            let c = ConnHandle::from_raw(ev.handle);
            let pump = match ev.kind {
                EventKind::Acceptable => {
                    // A busy application (--accept-delay-ms) accepts later.
                    let at = clock.now().as_micros() + o.accept_delay_ms * 1000;
                    accept_at.get_or_insert(at);
                    continue;
                }
                EventKind::Closed => Pump::Failed,
                _ => match conns.get_mut(&ev.handle) {
                    Some(x) => x.pump(&mut s, c, &mut chunk),
                    None => continue,
                },
            };
            finish(&mut s, &mut conns, c, pump, &mut served, &mut failed);
        }
        if accept_at.is_some_and(|t| clock.now().as_micros() >= t) {
            accept_at = None;
            while let Ok(c) = s.accept(listener) {
                let mut x = Exchange::default();
                let p = x.pump(&mut s, c, &mut chunk);
                conns.insert(c.raw(), x);
                finish(&mut s, &mut conns, c, p, &mut served, &mut failed);
            }
        }
        flush(&mut tun, &mut s, &clock, &mut tbuf)?;
        if linger_until.is_none() && o.requests.is_some_and(|k| served >= k) {
            linger_until = Some(clock.now().as_micros() + LINGER_US);
        }
    }
    let c = s.counters();
    eprintln!(
        "tun_http_server: {served} responses, {failed} failed; packets in {} out {}, \
         rst_sent {}, dropped malformed {} checksum {} not_for_us {}; accept queue full: \
         SYNs dropped {}, completing ACKs dropped {}",
        c.packets_in,
        c.packets_out,
        c.rst_sent,
        c.dropped_malformed,
        c.dropped_checksum,
        c.dropped_not_for_us,
        c.dropped_listen_overflow,
        c.listen_overflows
    );
    if failed > 0 || o.requests.is_some_and(|k| served < k) {
        return Err(io::Error::other("not every request was answered"));
    }
    Ok(())
}

/// Closes a finished exchange (gracefully after a whole response, else abort).
fn finish(
    s: &mut Stack,
    conns: &mut HashMap<u64, Exchange>,
    c: ConnHandle,
    pump: Pump,
    served: &mut u64,
    failed: &mut u64,
) {
    match pump {
        Pump::Blocked => {}
        Pump::Done => {
            // Queued data still goes out, then FIN (the stack finishes it alone).
            let _ = s.close(c);
            conns.remove(&c.raw());
            *served += 1;
        }
        Pump::Failed => {
            let _ = s.abort(c);
            if conns.remove(&c.raw()).is_some() {
                *failed += 1;
            }
        }
    }
}

fn gen(n: u64) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut chunk = vec![0u8; CHUNK];
    let mut off = 0u64;
    while off < n {
        let k = (n - off).min(CHUNK as u64) as usize;
        fill_data(&mut chunk[..k], off);
        out.write_all(&chunk[..k])?;
        off += k as u64;
    }
    out.flush()
}

/// Opens one connection to `remote` and reports how it ends within
/// `seconds`: "connected", "refused", "reset", "timed-out" or "pending".
/// The kernel side answers with RST, or with ICMP when a route forbids
/// the destination (RFC 1122 §4.2.3.9 hard errors end SYN-SENT at once).
fn probe_connect(device: &str, remote: &str, seconds: u64) -> io::Result<()> {
    let remote: std::net::SocketAddr = remote
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ADDR:PORT or [V6]:PORT"))?;
    let mut tun = tun_open(device)?;
    let mut s = new_stack()?;
    let clock = Clock(std::time::Instant::now());
    let c = s
        .connect(clock.now(), remote, 0)
        .map_err(|e| io::Error::other(format!("connect: {e:?}")))?;
    let mut rbuf = vec![0u8; READ_BUF];
    let mut tbuf = vec![0u8; MTU];
    let end = seconds * 1_000_000;
    let mut outcome = "pending";
    flush(&mut tun, &mut s, &clock, &mut tbuf)?;
    while outcome == "pending" && clock.now().as_micros() < end {
        wait_and_feed(&mut tun, &mut s, &clock, &mut rbuf)?;
        while let Some(ev) = s.poll_event() {
            match (ev.kind, ev.reason) {
                (EventKind::Connected, _) => outcome = "connected",
                (EventKind::Closed, Some(Error::Refused)) => outcome = "refused",
                (EventKind::Closed, Some(Error::Reset)) => outcome = "reset",
                (EventKind::Closed, Some(Error::TimedOut)) => outcome = "timed-out",
                (EventKind::Closed, _) => outcome = "closed",
                _ => {}
            }
        }
        flush(&mut tun, &mut s, &clock, &mut tbuf)?;
    }
    let _ = s.abort(c);
    flush(&mut tun, &mut s, &clock, &mut tbuf)?;
    let c = s.counters();
    eprintln!(
        "tun_http_server: connect {remote}: {outcome} after {} ms (ICMP in {}, delivered {}, ignored {})",
        clock.now().as_micros() / 1000,
        c.icmp_in,
        c.icmp_errors_delivered,
        c.icmp_errors_ignored
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("serve") => match parse_options(&args[1..]) {
            Ok(o) => serve(&o),
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidInput, e)),
        },
        Some("connect") => match (args.get(1), args.get(2)) {
            (Some(dev), Some(remote)) => {
                let secs = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(10);
                probe_connect(dev, remote, secs)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "connect DEVICE ADDR:PORT [SECONDS]",
            )),
        },
        Some("gen") => match args.get(1).and_then(|n| n.parse().ok()) {
            Some(n) => gen(n),
            None => Err(io::Error::new(io::ErrorKind::InvalidInput, "gen N")),
        },
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "usage: tun_http_server serve DEVICE [--port P] [--backlog B] [--accept-delay-ms D]\n\
             \x20                             [--requests K] [--seconds S]\n\
             \x20      tun_http_server connect DEVICE ADDR:PORT [SECONDS]\n\
             \x20      tun_http_server gen N",
        )),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tun_http_server: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator matches examples/c/tun_http.c: splitmix64 words, little-endian.
    #[test]
    fn data_is_splitmix64_words_little_endian() {
        let mut a = [0u8; 24];
        fill_data(&mut a, 0);
        for w in 0..3u64 {
            let want = splitmix64(w).to_le_bytes();
            assert_eq!(&a[w as usize * 8..w as usize * 8 + 8], &want);
        }
        // Any offset gives the same bytes as the whole stream.
        let mut b = [0u8; 13];
        fill_data(&mut b, 5);
        assert_eq!(&b[..], &a[5..18]);
    }

    #[test]
    fn request_line_parsing() {
        let mut x = Exchange {
            req: b"GET /bytes/123 HTTP/1.0\r\nHost: x\r\n\r\n".to_vec(),
            ..Exchange::default()
        };
        x.start_response();
        assert_eq!(x.body_len, 123);
        assert!(x
            .head
            .starts_with(b"HTTP/1.0 200 OK\r\nContent-Length: 123\r\n"));
        let mut y = Exchange {
            req: b"GET /other HTTP/1.0\r\n\r\n".to_vec(),
            ..Exchange::default()
        };
        y.start_response();
        assert_eq!(y.body_len, 0);
        assert!(y.head.starts_with(b"HTTP/1.0 404"));
    }
}
