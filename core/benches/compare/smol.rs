//! The smoltcp side: two `Interface`s (medium IP) in one thread joined by a
//! direct in-memory wire whose packet buffers are pooled and reused, virtual time.

use std::cell::RefCell;
use std::collections::VecDeque;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint};

use super::{live_heap, median, pattern, Clock};

const A: IpAddress = IpAddress::v4(192, 0, 2, 1);
const B: IpAddress = IpAddress::v4(192, 0, 2, 2);
const PORT: u16 = 80;

/// Both directions of the link and the pool of packet buffers.
pub struct Wire {
    /// `q[i]`: packets waiting for host `i`.
    q: [VecDeque<Vec<u8>>; 2],
    pool: Vec<Vec<u8>>,
}

pub struct Port<'a> {
    wire: &'a RefCell<Wire>,
    side: usize,
    mtu: usize,
}

pub struct Rx<'a> {
    wire: &'a RefCell<Wire>,
    pkt: Vec<u8>,
}

pub struct Tx<'a> {
    wire: &'a RefCell<Wire>,
    to: usize,
}

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.pkt);
        self.wire.borrow_mut().pool.push(self.pkt);
        r
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = self.wire.borrow_mut().pool.pop().unwrap_or_default();
        // Reused buffers are MTU-sized after warm-up: no clearing per packet.
        if buf.len() < len {
            buf.resize(len, 0);
        } else {
            buf.truncate(len);
        }
        let r = f(&mut buf);
        self.wire.borrow_mut().q[self.to].push_back(buf);
        r
    }
}

impl Device for Port<'_> {
    type RxToken<'a>
        = Rx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a>
    where
        Self: 'a;

    fn receive(&mut self, _t: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let pkt = self.wire.borrow_mut().q[self.side].pop_front()?;
        Some((
            Rx {
                wire: self.wire,
                pkt,
            },
            Tx {
                wire: self.wire,
                to: 1 - self.side,
            },
        ))
    }

    fn transmit(&mut self, _t: Instant) -> Option<Tx<'_>> {
        Some(Tx {
            wire: self.wire,
            to: 1 - self.side,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps
    }
}

pub struct Host {
    iface: Interface,
    pub sockets: SocketSet<'static>,
}

pub struct Pair {
    wire: RefCell<Wire>,
    pub hosts: [Host; 2],
    pub now: Instant,
    mtu: usize,
}

fn host(addr: IpAddress, seed: u64, wire: &RefCell<Wire>, side: usize, mtu: usize) -> Host {
    let mut cfg = Config::new(HardwareAddress::Ip);
    cfg.random_seed = seed;
    let mut port = Port { wire, side, mtu };
    let mut iface = Interface::new(cfg, &mut port, Instant::from_millis(1000));
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(addr, 24));
    });
    Host {
        iface,
        sockets: SocketSet::new(Vec::new()),
    }
}

pub fn socket(buffer: usize) -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; buffer]),
        tcp::SocketBuffer::new(vec![0u8; buffer]),
    );
    s.set_keep_alive(None);
    s
}

impl Pair {
    pub fn new(mtu: usize) -> Pair {
        let wire = RefCell::new(Wire {
            q: [VecDeque::new(), VecDeque::new()],
            pool: Vec::new(),
        });
        let hosts = [host(A, 1, &wire, 0, mtu), host(B, 2, &wire, 1, mtu)];
        Pair {
            wire,
            hosts,
            now: Instant::from_millis(1000),
            mtu,
        }
    }

    fn poll(&mut self, i: usize) {
        let mut port = Port {
            wire: &self.wire,
            side: i,
            mtu: self.mtu,
        };
        let h = &mut self.hosts[i];
        h.iface.poll(self.now, &mut port, &mut h.sockets);
    }

    fn queued(&self) -> usize {
        let w = self.wire.borrow();
        w.q[0].len() + w.q[1].len()
    }

    /// Polls both hosts until no packet is in flight and neither sent one.
    pub fn settle(&mut self) {
        loop {
            self.poll(0);
            self.poll(1);
            if self.queued() == 0 {
                // One more round: a poll with nothing received may still send.
                self.poll(0);
                self.poll(1);
                if self.queued() == 0 {
                    return;
                }
            }
        }
    }

    /// Jumps virtual time to the next deadline of either host; false if none.
    pub fn jump(&mut self) -> bool {
        let next = [0, 1]
            .iter()
            .filter_map(|&i| {
                let h = &mut self.hosts[i];
                h.iface.poll_at(self.now, &h.sockets)
            })
            .min();
        match next {
            Some(t) => {
                self.now = self.now.max(t);
                self.poll(0);
                self.poll(1);
                true
            }
            None => false,
        }
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.settle();
    }

    pub fn run_until(&mut self, mut done: impl FnMut(&mut Pair) -> bool) {
        for _ in 0..10_000 {
            self.settle();
            if done(self) {
                return;
            }
            assert!(self.jump(), "smoltcp pair stalled with no deadline");
        }
        panic!("smoltcp pair: condition never held");
    }

    pub fn sock(&mut self, i: usize, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.hosts[i].sockets.get_mut::<tcp::Socket>(h)
    }

    pub fn connect(&mut self, c: SocketHandle, local_port: u16) {
        let h = &mut self.hosts[0];
        let cx = h.iface.context();
        h.sockets
            .get_mut::<tcp::Socket>(c)
            .connect(cx, IpEndpoint::new(B, PORT), local_port)
            .expect("smoltcp connect");
    }
}

/// Bulk transfer a -> b of `bytes`; Gbit/s of payload.
pub fn bulk(mtu: usize, bytes: usize) -> f64 {
    let mut p = Pair::new(mtu);
    let c = p.hosts[0].sockets.add(socket(256 * 1024));
    let s = p.hosts[1].sockets.add(socket(256 * 1024));
    p.sock(1, s).listen(PORT).expect("listen");
    p.connect(c, 40000);
    p.run_until(|p| p.sock(0, c).may_send() && p.sock(1, s).may_recv());
    let app = pattern(64 * 1024);
    let mut rbuf = vec![0u8; 64 * 1024];
    let (mut sent, mut recvd) = (0usize, 0usize);
    let t0 = Clock::start();
    while recvd < bytes {
        let mut progress = p.queued() != 0;
        while sent < bytes {
            let off = sent % app.len();
            let end = app.len().min(off + bytes - sent);
            match p.sock(0, c).send_slice(&app[off..end]) {
                Ok(n) if n > 0 => {
                    sent += n;
                    progress = true;
                }
                _ => break,
            }
        }
        p.poll(0);
        p.poll(1);
        progress |= p.queued() != 0;
        while let Ok(n) = p.sock(1, s).recv_slice(&mut rbuf) {
            if n == 0 {
                break;
            }
            let want = app[(recvd + n - 1) % app.len()];
            assert_eq!(rbuf[n - 1], want, "smoltcp delivered wrong data");
            recvd += n;
            progress = true;
        }
        if !progress {
            // A poll with nothing queued can still send (window update, ACK).
            p.poll(1);
            p.poll(0);
            if p.queued() == 0 {
                assert!(p.jump(), "smoltcp bulk stalled");
            }
        }
    }
    bytes as f64 * 8.0 / t0.secs() / 1e9
}

/// connect + 1 KB + close, TIME-WAIT included; cycles per second.
pub fn cycles(n: usize) -> f64 {
    let mut p = Pair::new(1500);
    let c = p.hosts[0].sockets.add(socket(256 * 1024));
    let s = p.hosts[1].sockets.add(socket(256 * 1024));
    let kb = pattern(1024);
    let mut rbuf = vec![0u8; 4096];
    let t0 = Clock::start();
    for i in 0..n {
        p.sock(1, s).listen(PORT).expect("listen");
        p.connect(c, 40000 + (i % 20000) as u16);
        p.run_until(|p| p.sock(0, c).may_send() && p.sock(1, s).may_recv());
        assert_eq!(p.sock(0, c).send_slice(&kb), Ok(kb.len()));
        p.sock(0, c).close();
        let mut got = 0;
        p.run_until(|p| {
            while let Ok(k) = p.sock(1, s).recv_slice(&mut rbuf) {
                if k == 0 {
                    break;
                }
                got += k;
            }
            got == kb.len() && !p.sock(1, s).may_recv()
        });
        p.sock(1, s).close();
        p.settle();
        // smoltcp's TIME-WAIT is 10 s; run it out like tcpkit's.
        p.advance(Duration::from_secs(61));
        assert_eq!(p.sock(0, c).state(), tcp::State::Closed, "client reaped");
        assert_eq!(p.sock(1, s).state(), tcp::State::Closed, "server closed");
    }
    n as f64 / t0.secs()
}

/// Median ns per 100-byte request/response exchange with `n` connections,
/// and heap bytes per connection end.
pub fn scale(n: usize, runs: usize) -> (f64, f64) {
    let mut handles = Vec::with_capacity(n);
    let before = live_heap();
    let mut p = Pair::new(1500);
    // smoltcp has no listen queue: one listening socket per connection.
    for i in 0..n {
        let c = p.hosts[0].sockets.add(socket(2048));
        let s = p.hosts[1].sockets.add(socket(2048));
        p.sock(1, s).listen(PORT).expect("listen");
        // Ports 1024.. for the client (n <= 64k here).
        p.connect(c, 1024 + i as u16);
        handles.push((c, s));
        if (i + 1) % 1000 == 0 || i + 1 == n {
            p.settle();
        }
    }
    p.run_until(|p| {
        let hs = &p.hosts;
        handles.iter().all(|&(c, s)| {
            hs[0].sockets.get::<tcp::Socket>(c).may_send()
                && hs[1].sockets.get::<tcp::Socket>(s).may_recv()
        })
    });
    let per_end = (live_heap() - before) as f64 / (2 * n) as f64;
    // A SYN goes to any listening socket on the port: pair the ends by port.
    let mut by_port = std::collections::HashMap::with_capacity(n);
    for &(_, s) in &handles {
        let ep = p.hosts[1].sockets.get::<tcp::Socket>(s).remote_endpoint();
        by_port.insert(ep.map(|e| e.port), s);
    }
    let pairs: Vec<(SocketHandle, SocketHandle)> = handles
        .iter()
        .map(|&(c, _)| {
            let port = p.hosts[0]
                .sockets
                .get::<tcp::Socket>(c)
                .local_endpoint()
                .map(|e| e.port);
            (c, by_port[&port])
        })
        .collect();
    let msg = pattern(100);
    let mut buf = vec![0u8; 2048];
    let mut exchange = |p: &mut Pair, (c, s): (SocketHandle, SocketHandle)| {
        assert_eq!(p.sock(0, c).send_slice(&msg), Ok(msg.len()));
        p.settle();
        assert_eq!(p.sock(1, s).recv_slice(&mut buf), Ok(msg.len()));
        assert_eq!(p.sock(1, s).send_slice(&msg), Ok(msg.len()));
        p.settle();
        assert_eq!(p.sock(0, c).recv_slice(&mut buf), Ok(msg.len()));
        p.advance(Duration::from_millis(50));
    };
    for &pair in pairs.iter().take(20) {
        exchange(&mut p, pair);
    }
    // Each exchange costs O(n) here: fewer rounds for large n.
    let rounds = (200_000 / n).clamp(50, 1000);
    let mut t = Vec::with_capacity(runs);
    for run in 0..runs {
        let t0 = Clock::start();
        for r in 0..rounds {
            let k = (run * rounds + r) * 7919 % pairs.len();
            exchange(&mut p, pairs[k]);
        }
        t.push(t0.secs() * 1e9 / rounds as f64);
    }
    (median(t), per_end)
}
