//! smoltcp as a peer endpoint on the simulator's links: a `Device` over
//! in-memory packet queues, an `Interface` with medium IP, and one TCP socket
//! running a checked transfer, as client or server.
//!
//! Known limit of the peer (smoltcp 0.12.0, not of the simulator): as a
//! *sender* it can stall for good after a lost or reordered segment. After a
//! retransmission it parks its timer in Idle (fixed upstream after 0.12.0,
//! smoltcp PRs #1018/#1020), and its duplicate-ACK counter fires fast
//! retransmit only when it equals exactly 3, so a lost retransmission is never
//! repaired; the connection then ends only by the user timeout. Lossy
//! scenarios therefore use smoltcp as the receiver of the bulk data.
//!
//! Shared test support: include with `#[path = "support/smoltcp_peer.rs"] mod smoltcp_peer;`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration as SDuration, Instant as SInstant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

use tcpkit::sim::{EndpointStats, PatternSink, PatternSource, Status};
use tcpkit::Instant;

/// Packets in and out of a smoltcp interface, as plain queues.
pub struct QueueDevice {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: VecDeque<Vec<u8>>,
    pub mtu: usize,
}

pub struct QueueRx(Vec<u8>);
pub struct QueueTx<'a>(&'a mut VecDeque<Vec<u8>>);

impl RxToken for QueueRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for QueueTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut v = vec![0u8; len];
        let r = f(&mut v);
        self.0.push_back(v);
        r
    }
}

impl Device for QueueDevice {
    type RxToken<'a> = QueueRx;
    type TxToken<'a> = QueueTx<'a>;

    fn receive(&mut self, _t: SInstant) -> Option<(QueueRx, QueueTx<'_>)> {
        let p = self.rx.pop_front()?;
        Some((QueueRx(p), QueueTx(&mut self.tx)))
    }

    fn transmit(&mut self, _t: SInstant) -> Option<QueueTx<'_>> {
        Some(QueueTx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps
    }
}

/// Which side of the connection smoltcp plays.
#[derive(Clone, Copy, Debug)]
pub enum Role {
    Client { remote: SocketAddr, local_port: u16 },
    Server { port: u16 },
}

pub use tcpkit::sim::Transfer;

#[derive(Clone, Copy, Debug)]
pub struct SmolConfig {
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub mtu: usize,
    pub buffer: usize,
    /// smoltcp aborts the connection after this long without progress.
    pub user_timeout: SDuration,
    pub role: Role,
    pub transfer: Transfer,
    pub random_seed: u64,
}

pub fn to_smol(t: Instant) -> SInstant {
    SInstant::from_micros(i64::try_from(t.as_micros()).unwrap_or(i64::MAX))
}

pub fn from_smol(t: SInstant) -> Instant {
    Instant::from_micros(u64::try_from(t.total_micros()).unwrap_or(0))
}

pub struct SmolEndpoint {
    iface: Interface,
    dev: QueueDevice,
    sockets: SocketSet<'static>,
    handle: SocketHandle,
    cfg: SmolConfig,
    src: PatternSource,
    sink: PatternSink,
    started: bool,
    connected: bool,
    fin_sent: bool,
    rx_complete_at: Option<Instant>,
    status: Status,
    buf: Vec<u8>,
}

impl SmolEndpoint {
    pub fn new(cfg: SmolConfig) -> Self {
        let mut dev = QueueDevice {
            rx: VecDeque::new(),
            tx: VecDeque::new(),
            mtu: cfg.mtu,
        };
        let mut icfg = Config::new(HardwareAddress::Ip);
        // Distinct ISNs per host (smoltcp derives them from this seed).
        icfg.random_seed = cfg.random_seed;
        let mut iface = Interface::new(icfg, &mut dev, SInstant::from_micros(0));
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::from(cfg.addr), cfg.prefix_len));
        });
        let rx = tcp::SocketBuffer::new(vec![0u8; cfg.buffer]);
        let tx = tcp::SocketBuffer::new(vec![0u8; cfg.buffer]);
        let mut sock = tcp::Socket::new(rx, tx);
        sock.set_timeout(Some(cfg.user_timeout));
        // No keep-alive: smoltcp's probe carries one garbage byte at SND.NXT-1,
        // which a peer still missing that byte would take as data.
        sock.set_keep_alive(None);
        let mut sockets = SocketSet::new(Vec::new());
        let handle = sockets.add(sock);
        let t = cfg.transfer;
        SmolEndpoint {
            iface,
            dev,
            sockets,
            handle,
            cfg,
            src: PatternSource::new(t.tx_seed, t.tx_bytes),
            sink: PatternSink::new(t.rx_seed, t.rx_bytes),
            started: false,
            connected: false,
            fin_sent: false,
            rx_complete_at: None,
            status: Status::Running,
            buf: vec![0u8; 64 * 1024],
        }
    }

    pub fn sink(&self) -> &PatternSink {
        &self.sink
    }

    pub fn source(&self) -> &PatternSource {
        &self.src
    }

    pub fn state(&self) -> tcp::State {
        self.sockets.get::<tcp::Socket>(self.handle).state()
    }

    fn start(&mut self) {
        self.started = true;
        let sock = self.sockets.get_mut::<tcp::Socket>(self.handle);
        let res = match self.cfg.role {
            Role::Client { remote, local_port } => sock
                .connect(self.iface.context(), remote, local_port)
                .map_err(|_| "smoltcp connect failed"),
            Role::Server { port } => sock.listen(port).map_err(|_| "smoltcp listen failed"),
        };
        if let Err(e) = res {
            self.status = Status::Failed(e);
        }
    }

    fn run_app(&mut self, now: Instant) {
        let sock = self.sockets.get_mut::<tcp::Socket>(self.handle);
        let state = sock.state();
        if !matches!(
            state,
            tcp::State::Closed | tcp::State::Listen | tcp::State::SynSent | tcp::State::SynReceived
        ) {
            self.connected = true;
        }
        while sock.can_recv() {
            match sock.recv_slice(&mut self.buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.sink.absorb(&self.buf[..n]),
            }
        }
        while sock.can_send() && !self.src.is_done() {
            let chunk = self.src.peek(&mut self.buf);
            match sock.send_slice(chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.src.consume(chunk, n),
            }
        }
        if self.src.is_done()
            && !self.fin_sent
            && matches!(state, tcp::State::Established | tcp::State::CloseWait)
        {
            sock.close();
            self.fin_sent = true;
        }
        if self.rx_complete_at.is_none() && self.sink.is_complete() {
            self.rx_complete_at = Some(now);
        }
        if self.sink.first_error().is_some() {
            self.status = Status::Failed("received bytes differ from the stream sent");
            return;
        }
        let closed = matches!(state, tcp::State::Closed | tcp::State::TimeWait);
        if closed && self.status == Status::Running {
            self.status = if !self.connected {
                Status::Failed("connection never established")
            } else if self.fin_sent && self.src.is_done() && self.sink.is_complete() {
                Status::Done
            } else {
                Status::Failed("connection closed before the transfer completed")
            };
        }
    }

    fn poll(&mut self, now: Instant) {
        self.iface
            .poll(to_smol(now), &mut self.dev, &mut self.sockets);
    }
}

impl tcpkit::sim::Endpoint for SmolEndpoint {
    fn feed(&mut self, _now: Instant, packet: &[u8]) {
        self.dev.rx.push_back(packet.to_vec());
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.dev.tx.is_empty() {
            self.poll(now);
        }
        let p = self.dev.tx.pop_front()?;
        let out = buf.get_mut(..p.len())?;
        out.copy_from_slice(&p);
        Some(p.len())
    }

    fn poll_timeout(&mut self, now: Instant) -> Option<Instant> {
        if !self.dev.rx.is_empty() || !self.dev.tx.is_empty() {
            return Some(now);
        }
        self.iface
            .poll_at(to_smol(now), &self.sockets)
            .map(from_smol)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.poll(now);
    }

    fn on_app(&mut self, now: Instant) {
        if !self.started {
            self.start();
        }
        self.poll(now);
        self.run_app(now);
    }

    fn status(&self) -> Status {
        self.status
    }

    fn stats(&self) -> EndpointStats {
        EndpointStats {
            bytes_sent: self.src.sent(),
            bytes_received: self.sink.received(),
            retransmissions: 0,
            rto_count: 0,
            tx_hash: self.src.hash(),
            rx_hash: self.sink.hash(),
            rx_complete_at: self.rx_complete_at,
        }
    }

    fn heap_bytes(&self) -> usize {
        let queued: usize = self
            .dev
            .rx
            .iter()
            .chain(self.dev.tx.iter())
            .map(Vec::len)
            .sum();
        2 * self.cfg.buffer + self.buf.len() + queued
    }
}

/// Client and server addresses used by the two-host scenarios.
pub const CLIENT_V4: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
pub const SERVER_V4: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));
pub const SERVER_PORT: u16 = 5000;
pub const CLIENT_PORT: u16 = 40000;

/// A smoltcp endpoint config with the usual test defaults.
pub fn smol_config(
    addr: IpAddr,
    mtu: usize,
    buffer: usize,
    role: Role,
    transfer: Transfer,
) -> SmolConfig {
    SmolConfig {
        addr,
        prefix_len: if addr.is_ipv6() { 64 } else { 24 },
        mtu,
        buffer,
        user_timeout: SDuration::from_secs(900),
        role,
        transfer,
        random_seed: tcpkit::sim::rng::splitmix64(transfer.tx_seed),
    }
}

/// smoltcp client -> smoltcp server over `link` both ways.
pub fn smol_smol_network(
    seed: u64,
    link: &tcpkit::sim::LinkConfig,
    buffer: usize,
    transfer: Transfer,
) -> tcpkit::sim::Network {
    let mut net = tcpkit::sim::Network::new();
    let client = smol_config(
        CLIENT_V4,
        link.mtu,
        buffer,
        Role::Client {
            remote: SocketAddr::new(SERVER_V4, SERVER_PORT),
            local_port: CLIENT_PORT,
        },
        transfer,
    );
    let server = smol_config(
        SERVER_V4,
        link.mtu,
        buffer,
        Role::Server { port: SERVER_PORT },
        transfer.mirrored(),
    );
    let c = net.add_endpoint(Box::new(SmolEndpoint::new(client)), &[CLIENT_V4]);
    let s = net.add_endpoint(Box::new(SmolEndpoint::new(server)), &[SERVER_V4]);
    net.connect(c, s, link.clone(), link.clone(), seed);
    net
}

/// Which implementation runs on a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Tcpkit,
    Smoltcp,
}

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Peer::Tcpkit => "tcpkit",
            Peer::Smoltcp => "smoltcp",
        }
    }
}

fn host(
    peer: Peer,
    seed: u64,
    addr: IpAddr,
    mtu: usize,
    buffer: usize,
    client_of: Option<SocketAddr>,
    transfer: Transfer,
) -> Box<dyn tcpkit::sim::Endpoint> {
    match peer {
        Peer::Smoltcp => {
            let role = match client_of {
                Some(remote) => Role::Client {
                    remote,
                    local_port: CLIENT_PORT,
                },
                None => Role::Server { port: SERVER_PORT },
            };
            Box::new(SmolEndpoint::new(smol_config(
                addr, mtu, buffer, role, transfer,
            )))
        }
        Peer::Tcpkit => {
            use tcpkit::sim::stack_ep::{sim_config, Role as TRole, TcpkitEndpoint};
            let mut cfg = sim_config(seed, u32::try_from(mtu).unwrap_or(1500));
            cfg.send_buffer = u32::try_from(buffer).unwrap_or(u32::MAX);
            cfg.recv_buffer = cfg.send_buffer;
            let role = match client_of {
                Some(remote) => TRole::Client { remote },
                None => TRole::Server { port: SERVER_PORT },
            };
            match TcpkitEndpoint::new(cfg, addr, role, transfer) {
                Ok(ep) => Box::new(ep),
                Err(e) => panic!("tcpkit endpoint: {e:?}"),
            }
        }
    }
}

pub const CLIENT_V6: IpAddr = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
pub const SERVER_V6: IpAddr = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));

/// `client` (endpoint 0, CLIENT_V4) connects to `server` (endpoint 1,
/// SERVER_V4); `transfer` is seen from the client.
pub fn pair_network(
    seed: u64,
    client: Peer,
    server: Peer,
    c_to_s: &tcpkit::sim::LinkConfig,
    s_to_c: &tcpkit::sim::LinkConfig,
    buffer: usize,
    transfer: Transfer,
) -> tcpkit::sim::Network {
    pair_network_at(
        seed,
        (client, CLIENT_V4),
        (server, SERVER_V4),
        c_to_s,
        s_to_c,
        buffer,
        transfer,
    )
}

/// As [`pair_network`], with the hosts' addresses given (IPv4 or IPv6).
pub fn pair_network_at(
    seed: u64,
    (client, c_addr): (Peer, IpAddr),
    (server, s_addr): (Peer, IpAddr),
    c_to_s: &tcpkit::sim::LinkConfig,
    s_to_c: &tcpkit::sim::LinkConfig,
    buffer: usize,
    transfer: Transfer,
) -> tcpkit::sim::Network {
    let mtu = c_to_s.mtu.min(s_to_c.mtu);
    let mut net = tcpkit::sim::Network::new();
    let remote = SocketAddr::new(s_addr, SERVER_PORT);
    let c = net.add_endpoint(
        host(
            client,
            seed ^ 0xC,
            c_addr,
            mtu,
            buffer,
            Some(remote),
            transfer,
        ),
        &[c_addr],
    );
    let s = net.add_endpoint(
        host(
            server,
            seed ^ 0x5,
            s_addr,
            mtu,
            buffer,
            None,
            transfer.mirrored(),
        ),
        &[s_addr],
    );
    net.connect(c, s, c_to_s.clone(), s_to_c.clone(), seed);
    net
}

/// Makes a link lossless (no loss, bursts or corruption; jitter, reordering
/// and duplication stay) for the direction smoltcp sends on: smoltcp 0.12
/// never repairs a lost retransmission, not even of its FIN (module note),
/// so loss there would test smoltcp, not tcpkit.
pub fn lossless_for_smoltcp_sender(link: &mut tcpkit::sim::LinkConfig) {
    link.loss = 0.0;
    link.burst_loss = None;
    link.corrupt = 0.0;
}

/// How a checked run ended, for sweeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every byte delivered intact and every connection closed in order.
    Completed,
    /// A connection failed with a transport reason (timed out, reset) within
    /// the time bound, delivering only correct bytes so far: allowed under
    /// heavy loss (the property is "finishes or fails with a reason").
    FailedWithReason(&'static str),
    /// Anything else: wrong or missing bytes, a stall, the time, memory or
    /// step bound passed. Must never happen.
    Violation,
}

/// Judges a finished run; `intact` says both directions' bytes and hashes matched.
pub fn verdict(out: &tcpkit::sim::Outcome, intact: bool) -> Verdict {
    match *out {
        tcpkit::sim::Outcome::AllDone { .. } if intact => Verdict::Completed,
        tcpkit::sim::Outcome::Failed { reason, .. }
            if tcpkit::sim::stack_ep::is_transport_failure(reason) =>
        {
            Verdict::FailedWithReason(reason)
        }
        _ => Verdict::Violation,
    }
}

/// Simulated time a bulk transfer may take: 4 hours, since 8 MiB at 20% loss
/// each way moves at ~0.02 Mbit/s (about 3000 s).
pub const BULK_TIME_BOUND_MS: u64 = 4 * 3_600_000;

/// Bulk transfer size: `TCPKIT_SIM_BYTES`, else 8 MiB in release builds and
/// 1 MiB in debug builds (where 8 MiB takes minutes).
pub fn bulk_bytes() -> u64 {
    std::env::var("TCPKIT_SIM_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            1 << 20
        } else {
            8 << 20
        })
}

/// The bulk-transfer link: 20 ms RTT, 1 ms jitter, 100 Mbit/s, 1 MiB queue,
/// `loss` each way and 1% reordering when lossy.
pub fn link(loss: f64) -> tcpkit::sim::LinkConfig {
    tcpkit::sim::LinkConfig {
        latency: tcpkit::Duration::from_millis(10),
        jitter: tcpkit::Duration::from_millis(1),
        bandwidth_bps: 100_000_000,
        queue_limit_bytes: 1 << 20,
        loss,
        reorder: if loss > 0.0 { 0.01 } else { 0.0 },
        reorder_delay: tcpkit::Duration::from_millis(3),
        ..tcpkit::sim::LinkConfig::default()
    }
}
