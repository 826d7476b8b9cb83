//! A tcpkit [`Stack`] as a simulator endpoint, running one checked transfer
//! as client or server.

use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

use super::data::{PatternSink, PatternSource, Transfer};
use super::net::{Endpoint, EndpointStats, Status};
use super::rng::splitmix64;
use crate::stack::{
    Config, ConnHandle, ConnInfo, Error, EventKind, ListenAddr, ListenerHandle, Stack, State,
};
use crate::time::Instant;

/// Which side of the connection the stack plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Connects to `remote` from an ephemeral port.
    Client { remote: SocketAddr },
    /// Listens on `port` (any address) and serves the first connection.
    Server { port: u16 },
}

/// Reasons a transfer fails at the transport level (the peer vanished, reset
/// or timed out): allowed outcomes under heavy loss, unlike wrong data.
pub const TRANSPORT_FAILURES: [&str; 4] = [
    "connection reset",
    "connection timed out",
    "connection refused",
    "connection closed with an error",
];

/// True for a failure reason in [`TRANSPORT_FAILURES`].
pub fn is_transport_failure(reason: &str) -> bool {
    TRANSPORT_FAILURES.contains(&reason)
}

fn transport_failure_reason(e: Error) -> &'static str {
    match e {
        Error::Reset => "connection reset",
        Error::TimedOut => "connection timed out",
        Error::Refused => "connection refused",
        _ => "connection closed with an error",
    }
}

/// A stack config for simulations: the ISN secret comes from `seed`, so a
/// run is reproducible.
pub fn sim_config(seed: u64, mtu: u32) -> Config {
    let mut secret = [0u8; 32];
    let mut x = seed;
    for chunk in secret.chunks_mut(8) {
        x = splitmix64(x);
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    Config {
        mtu,
        isn_secret: secret,
        ..Config::default()
    }
}

pub struct TcpkitEndpoint {
    stack: Stack,
    role: Role,
    listener: Option<ListenerHandle>,
    conn: Option<ConnHandle>,
    src: PatternSource,
    sink: PatternSink,
    started: bool,
    connected: bool,
    eof: bool,
    fin_sent: bool,
    ended: Option<Option<Error>>,
    rx_complete_at: Option<Instant>,
    last_info: Option<ConnInfo>,
    status: Status,
    feed_errors: u64,
    buf: Vec<u8>,
}

impl core::fmt::Debug for TcpkitEndpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TcpkitEndpoint")
            .field("role", &self.role)
            .field("status", &self.status)
            .field("sent", &self.src.sent())
            .field("received", &self.sink.received())
            .finish()
    }
}

impl TcpkitEndpoint {
    /// A stack owning `addr`, configured by `config`.
    pub fn new(
        config: Config,
        addr: IpAddr,
        role: Role,
        transfer: Transfer,
    ) -> Result<Self, Error> {
        let mut stack = Stack::new(config)?;
        stack.add_address(addr)?;
        Ok(TcpkitEndpoint {
            stack,
            role,
            listener: None,
            conn: None,
            src: PatternSource::new(transfer.tx_seed, transfer.tx_bytes),
            sink: PatternSink::new(transfer.rx_seed, transfer.rx_bytes),
            started: false,
            connected: false,
            eof: false,
            fin_sent: false,
            ended: None,
            rx_complete_at: None,
            last_info: None,
            status: Status::Running,
            feed_errors: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// Last connection snapshot taken while the handle was open.
    pub fn last_info(&self) -> Option<&ConnInfo> {
        self.last_info.as_ref()
    }

    /// Packets the stack refused (malformed, bad checksum, not for us).
    pub fn feed_errors(&self) -> u64 {
        self.feed_errors
    }

    fn start(&mut self, now: Instant) {
        self.started = true;
        let res = match self.role {
            Role::Client { remote } => self.stack.connect(now, remote, 0).map(|c| {
                self.conn = Some(c);
            }),
            Role::Server { port } => self.stack.listen(ListenAddr::Any, port, 16).map(|l| {
                self.listener = Some(l);
            }),
        };
        if res.is_err() {
            self.status = Status::Failed("tcpkit connect/listen failed");
        }
    }

    fn handle_events(&mut self) {
        while let Some(ev) = self.stack.poll_event() {
            match ev.kind {
                EventKind::Acceptable => {
                    if let Some(l) = self.listener {
                        if self.conn.is_none() {
                            self.conn = self.stack.accept(l).ok();
                            self.connected |= self.conn.is_some();
                        }
                    }
                }
                EventKind::Connected => self.connected = true,
                EventKind::PeerClosed => self.eof = true,
                EventKind::Closed => {
                    if Some(ev.handle) == self.conn.map(|c| c.raw()) {
                        self.ended = Some(ev.reason);
                    }
                }
                EventKind::Readable | EventKind::Writable => {}
            }
        }
    }

    fn move_data(&mut self, c: ConnHandle) {
        loop {
            match self.stack.recv(c, &mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.sink.absorb(self.buf.get(..n).unwrap_or_default()),
                Err(_) => break,
            }
        }
        while !self.src.is_done() {
            let chunk = self.src.peek(&mut self.buf);
            match self.stack.send(c, chunk) {
                Ok(n) if n > 0 => self.src.consume(chunk, n),
                _ => break,
            }
        }
        if self.src.is_done() && !self.fin_sent && self.connected {
            self.fin_sent = self.stack.shutdown(c).is_ok();
        }
        if let Ok(info) = self.stack.info(c) {
            self.last_info = Some(info);
        }
    }

    fn update_status(&mut self, now: Instant) {
        if self.rx_complete_at.is_none() && self.sink.is_complete() {
            self.rx_complete_at = Some(now);
        }
        if self.sink.first_error().is_some() {
            self.status = Status::Failed("received bytes differ from the stream sent");
            return;
        }
        let finished = self.src.is_done() && self.fin_sent && self.sink.is_complete() && self.eof;
        let time_wait = self
            .conn
            .is_some_and(|c| self.stack.state(c) == Ok(State::TimeWait));
        match self.ended {
            // A connection that ends with an error fails, whatever the app saw:
            // data it handed over may still be unacknowledged.
            Some(Some(reason)) => self.status = Status::Failed(transport_failure_reason(reason)),
            Some(None) if finished => self.status = Status::Done,
            Some(None) => {
                self.status = Status::Failed("connection closed before the transfer completed")
            }
            // TIME-WAIT: our FIN was acknowledged, so was all our data.
            None if finished && time_wait => self.status = Status::Done,
            None => {}
        }
    }
}

impl Endpoint for TcpkitEndpoint {
    fn feed(&mut self, now: Instant, packet: &[u8]) {
        if self.stack.feed(now, packet).is_err() {
            self.feed_errors += 1;
        }
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.stack.poll_transmit(now, buf).ok()
    }

    fn poll_timeout(&mut self, _now: Instant) -> Option<Instant> {
        self.stack.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.stack.handle_timeout(now);
    }

    fn on_app(&mut self, now: Instant) {
        if !self.started {
            self.start(now);
        }
        self.handle_events();
        if let Some(c) = self.conn {
            self.move_data(c);
        }
        if self.status == Status::Running {
            self.update_status(now);
        }
    }

    fn status(&self) -> Status {
        self.status
    }

    fn stats(&self) -> EndpointStats {
        let info = self.last_info.as_ref();
        EndpointStats {
            bytes_sent: self.src.sent(),
            bytes_received: self.sink.received(),
            retransmissions: info.map_or(0, |i| i.tcp.segs_retransmitted),
            rto_count: info.map_or(0, |i| i.tcp.timeouts),
            tx_hash: self.src.hash(),
            rx_hash: self.sink.hash(),
            rx_complete_at: self.rx_complete_at,
        }
    }

    fn heap_bytes(&self) -> usize {
        let buffered = self.last_info.as_ref().map_or(0, |i| {
            i.tcp.bytes_unsent + i.tcp.bytes_unacked + i.tcp.bytes_readable
        });
        self.stack.table_heap_bytes()
            + self.buf.len()
            + usize::try_from(buffered).unwrap_or(usize::MAX)
    }
}
