//! Python bindings for tcpkit: the native module `tcpkit._native`.
//!
//! This layer only translates between Python objects and the Rust
//! `tcpkit::stack::Stack` API: times arrive as float seconds and become
//! integer microseconds, handles leave as plain integers,
//! and core errors become Python exceptions. No protocol logic lives here.
//! The friendly API (`tcpkit.Stack`, `Connection`, events as objects) is
//! the pure-Python layer in `tcpkit/__init__.py`.

use std::net::{IpAddr, SocketAddr};

use pyo3::exceptions::{
    PyBlockingIOError, PyConnectionRefusedError, PyConnectionResetError, PyTimeoutError,
    PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString, PyTuple};

use tcpkit::stack::Congestion;
use tcpkit::stack::{
    Config, ConnHandle, ConnOption, Error, ListenAddr, ListenerHandle, PacketError,
    Stack as CoreStack, UdpHandle,
};
use tcpkit::{Duration, Instant};

/// Largest single `recv`/`recv_from` read; callers loop for more.
const MAX_READ: usize = 4 << 20;
/// Room for the largest IP packet (IPv6 jumbograms aside).
const MAX_PACKET: usize = 65_535 + 40;

/// Raise `tcpkit.Error` (defined in Python so that both layers share it).
fn tcpkit_error(py: Python<'_>, class: &str, msg: &str, code: u32) -> PyErr {
    let made = (|| -> PyResult<PyErr> {
        let cls = py.import("tcpkit._errors")?.getattr(class)?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("code", code)?;
        let value = cls.call((msg,), Some(&kwargs))?;
        Ok(PyErr::from_value(value))
    })();
    made.unwrap_or_else(|e| e)
}

/// Core error -> Python exception (table in python/README.md).
fn to_py_err(py: Python<'_>, e: Error) -> PyErr {
    let msg = e.description();
    match e {
        Error::WouldBlock => PyBlockingIOError::new_err(msg),
        Error::InvalidArgument => PyValueError::new_err(msg),
        Error::Refused => PyConnectionRefusedError::new_err(msg),
        Error::Reset => PyConnectionResetError::new_err(msg),
        Error::TimedOut => PyTimeoutError::new_err(msg),
        _ => tcpkit_error(py, "Error", msg, e.code()),
    }
}

fn parse_ip(host: &str) -> PyResult<IpAddr> {
    host.parse::<IpAddr>()
        .map_err(|_| PyValueError::new_err(format!("not an IP address literal: {host:?}")))
}

fn endpoint_tuple<'py>(py: Python<'py>, addr: SocketAddr) -> PyResult<Bound<'py, PyTuple>> {
    (addr.ip().to_string(), addr.port()).into_pyobject(py)
}

fn option_from_code(code: u32) -> PyResult<ConnOption> {
    Ok(match code {
        1 => ConnOption::NoDelay,
        2 => ConnOption::KeepAliveIdleUs,
        3 => ConnOption::KeepAliveIntervalUs,
        4 => ConnOption::KeepAliveCount,
        5 => ConnOption::UserTimeoutUs,
        6 => ConnOption::SendBuffer,
        7 => ConnOption::RecvBuffer,
        8 => ConnOption::Congestion,
        9 => ConnOption::UserData,
        _ => return Err(PyValueError::new_err(format!("unknown option {code}"))),
    })
}

/// Run `f` on the bytes of a bytes-like object: `bytes` and `bytearray`
/// without copying, anything else with the buffer protocol (memoryview, ...)
/// through one copy (the abi3 limited API before 3.11 has no buffer access).
fn with_bytes<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
    if let Ok(b) = obj.downcast::<PyBytes>() {
        return Ok(f(b.as_bytes()));
    }
    if let Ok(b) = obj.downcast::<PyByteArray>() {
        // SAFETY: we hold the GIL and `f` runs no Python code, so nothing can
        // resize or write the bytearray while the slice lives.
        return Ok(f(unsafe { b.as_bytes() }));
    }
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "a bytes-like object is required, not 'str'",
        ));
    }
    // memoryview(obj) accepts exactly the buffer-protocol objects (bytes(5)
    // would make five zero bytes from an int).
    let copied = PyModule::import(obj.py(), "builtins")
        .and_then(|b| b.getattr("memoryview"))
        .and_then(|mv| mv.call1((obj,)))
        .and_then(|view| view.call_method0("tobytes"))
        .and_then(|b| b.downcast_into::<PyBytes>().map_err(PyErr::from))
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "a bytes-like object is required, not {:?}",
                obj.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
    Ok(f(copied.as_bytes()))
}

/// Float seconds (the caller's monotonic clock) -> the stack's integer
/// microseconds, to the nearest (halves up), exactly as `tcpkit.to_micros`.
fn instant_from_secs(now: f64) -> PyResult<Instant> {
    let us = (now * 1e6 + 0.5).floor();
    // NaN is in no range, so it fails too.
    if !(0.0..18_446_744_073_709_551_616.0).contains(&us) {
        return Err(PyValueError::new_err(format!(
            "time must be a finite, non-negative number of seconds, got {now}"
        )));
    }
    Ok(Instant::from_micros(us as u64))
}

fn us(v: Duration) -> u64 {
    v.as_micros()
}

fn dur(v: u64) -> Duration {
    Duration::from_micros(v)
}

/// `tcpkit_config` field names and values of a Config, as a dict.
fn config_to_dict<'py>(py: Python<'py>, c: &Config) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("mtu", c.mtu)?;
    d.set_item("isn_secret", PyBytes::new(py, &c.isn_secret))?;
    d.set_item("send_buffer", c.send_buffer)?;
    d.set_item("recv_buffer", c.recv_buffer)?;
    d.set_item("max_connections", c.max_connections)?;
    d.set_item("syn_backlog", c.syn_backlog)?;
    d.set_item("time_wait_us", us(c.time_wait))?;
    d.set_item("fin_wait2_timeout_us", us(c.fin_wait2_timeout))?;
    d.set_item("initial_rto_us", us(c.initial_rto))?;
    d.set_item("min_rto_us", us(c.min_rto))?;
    d.set_item("max_rto_us", us(c.max_rto))?;
    d.set_item("max_retries", c.max_retries)?;
    d.set_item("delayed_ack_us", us(c.delayed_ack))?;
    d.set_item("initial_cwnd_segments", c.initial_cwnd_segments)?;
    let cc: u32 = match c.congestion {
        Congestion::NewReno => 1,
        Congestion::Cubic => 2,
    };
    d.set_item("congestion", cc)?;
    d.set_item("enable_sack", c.enable_sack)?;
    d.set_item("enable_timestamps", c.enable_timestamps)?;
    d.set_item("enable_window_scale", c.enable_window_scale)?;
    d.set_item("accept_any_destination", c.accept_any_destination)?;
    Ok(d)
}

fn set_config_field(c: &mut Config, key: &str, v: &Bound<'_, PyAny>) -> PyResult<()> {
    let bad = |what: &str| PyValueError::new_err(format!("config {key}: {what}"));
    let u32v = || -> PyResult<u32> {
        v.extract::<u32>()
            .map_err(|_| bad("expected an int in 0..2**32"))
    };
    let u64v = || -> PyResult<u64> {
        v.extract::<u64>()
            .map_err(|_| bad("expected an int in 0..2**64"))
    };
    let boolv = || -> PyResult<bool> {
        match v.extract::<u64>() {
            Ok(0) => Ok(false),
            Ok(1) => Ok(true),
            _ => Err(bad("expected a bool (or 0/1)")),
        }
    };
    match key {
        "mtu" => c.mtu = u32v()?,
        "isn_secret" => {
            let secret: Vec<u8> = with_bytes(v, |b| b.to_vec())?;
            c.isn_secret = secret
                .as_slice()
                .try_into()
                .map_err(|_| bad("expected 32 bytes"))?;
        }
        "send_buffer" => c.send_buffer = u32v()?,
        "recv_buffer" => c.recv_buffer = u32v()?,
        "max_connections" => c.max_connections = u32v()?,
        "syn_backlog" => c.syn_backlog = u32v()?,
        "time_wait_us" => c.time_wait = dur(u64v()?),
        "fin_wait2_timeout_us" => c.fin_wait2_timeout = dur(u64v()?),
        "initial_rto_us" => c.initial_rto = dur(u64v()?),
        "min_rto_us" => c.min_rto = dur(u64v()?),
        "max_rto_us" => c.max_rto = dur(u64v()?),
        "max_retries" => c.max_retries = u32v()?,
        "delayed_ack_us" => c.delayed_ack = dur(u64v()?),
        "initial_cwnd_segments" => c.initial_cwnd_segments = u32v()?,
        "congestion" => {
            c.congestion = match u32v()? {
                1 => Congestion::NewReno,
                2 => Congestion::Cubic,
                _ => return Err(bad("expected 1 (NEWRENO) or 2 (CUBIC)")),
            }
        }
        "enable_sack" => c.enable_sack = boolv()?,
        "enable_timestamps" => c.enable_timestamps = boolv()?,
        "enable_window_scale" => c.enable_window_scale = boolv()?,
        "accept_any_destination" => c.accept_any_destination = boolv()?,
        _ => return Err(PyTypeError::new_err(format!("unknown config key {key:?}"))),
    }
    Ok(())
}

/// The default `tcpkit_config` as a dict of field name -> value.
#[pyfunction]
fn config_default(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    config_to_dict(py, &Config::default())
}

/// Low-level stack: integer microseconds in, integer handles out.
///
/// Use `tcpkit.Stack`, which wraps this with float times, objects and
/// events; this class is its implementation.
#[pyclass(module = "tcpkit._native")]
struct Stack {
    inner: CoreStack,
    /// Reused buffer for poll_transmit/recv: no allocation per call.
    scratch: Vec<u8>,
    /// Reused while draining `transmit` without the GIL.
    out_data: Vec<u8>,
    out_lens: Vec<usize>,
}

impl Stack {
    /// One packet into `self.scratch`; Ok(None) when there is nothing to send.
    fn poll_into_scratch(&mut self, now: Instant) -> Result<Option<usize>, Error> {
        loop {
            match self.inner.poll_transmit(now, &mut self.scratch) {
                Ok(n) => return Ok(Some(n)),
                Err(Error::WouldBlock) => return Ok(None),
                Err(Error::BufferTooSmall { needed }) if needed > self.scratch.len() => {
                    self.scratch.resize(needed, 0);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn ensure_scratch(&mut self, n: usize) {
        if self.scratch.len() < n {
            self.scratch.resize(n, 0);
        }
    }
}

#[pymethods]
impl Stack {
    /// Create a stack with these addresses and `tcpkit_config` fields.
    #[new]
    fn new(py: Python<'_>, addresses: Vec<String>, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let mut cfg = Config::default();
        for (k, v) in config.iter() {
            let key: String = k.extract()?;
            set_config_field(&mut cfg, &key, &v)?;
        }
        let mut inner = CoreStack::new(cfg).map_err(|e| to_py_err(py, e))?;
        for a in &addresses {
            inner
                .add_address(parse_ip(a)?)
                .map_err(|e| to_py_err(py, e))?;
        }
        Ok(Stack {
            inner,
            scratch: vec![0; MAX_PACKET],
            out_data: Vec::new(),
            out_lens: Vec::new(),
        })
    }

    /// Add an IP address the stack answers for.
    fn add_address(&mut self, py: Python<'_>, address: &str) -> PyResult<()> {
        let ip = parse_ip(address)?;
        self.inner.add_address(ip).map_err(|e| to_py_err(py, e))
    }

    /// Feed one packet: True for us, False not for us, PacketError if bad.
    fn feed(&mut self, py: Python<'_>, packet: &Bound<'_, PyAny>, now: f64) -> PyResult<bool> {
        let now = instant_from_secs(now)?;
        let r = with_bytes(packet, |b| self.inner.feed(now, b))?;
        match r {
            Ok(()) => Ok(true),
            Err(PacketError::NotForUs) => Ok(false),
            Err(PacketError::Malformed) => {
                Err(tcpkit_error(py, "PacketError", "malformed packet", 103))
            }
            Err(PacketError::Checksum) => Err(tcpkit_error(py, "PacketError", "bad checksum", 104)),
        }
    }

    /// Feed many packets; returns how many were for us. Bad packets are
    /// counted by the stack and skipped. The GIL is released while feeding
    /// when every packet is a `bytes` object (immutable, safe to share).
    fn feed_many(
        &mut self,
        py: Python<'_>,
        packets: &Bound<'_, PyAny>,
        now: f64,
    ) -> PyResult<usize> {
        let now = instant_from_secs(now)?;
        let items: Vec<Bound<'_, PyAny>> = packets.try_iter()?.collect::<PyResult<_>>()?;
        let all_bytes = items.iter().all(|p| p.is_exact_instance_of::<PyBytes>());
        if all_bytes {
            let slices: Vec<&[u8]> = items
                .iter()
                .filter_map(|p| p.downcast::<PyBytes>().ok().map(|b| b.as_bytes()))
                .collect();
            let inner = &mut self.inner;
            Ok(py.allow_threads(move || {
                slices.iter().filter(|s| inner.feed(now, s).is_ok()).count()
            }))
        } else {
            let mut ok = 0;
            for p in &items {
                if with_bytes(p, |b| self.inner.feed(now, b))?.is_ok() {
                    ok += 1;
                }
            }
            Ok(ok)
        }
    }

    /// The next packet to send, or None.
    fn poll_transmit<'py>(
        &mut self,
        py: Python<'py>,
        now: f64,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let now = instant_from_secs(now)?;
        match self.poll_into_scratch(now).map_err(|e| to_py_err(py, e))? {
            Some(n) => Ok(Some(PyBytes::new(
                py,
                self.scratch.get(..n).unwrap_or_default(),
            ))),
            None => Ok(None),
        }
    }

    /// Every packet to send now (drains poll_transmit without the GIL).
    fn transmit<'py>(&mut self, py: Python<'py>, now: f64) -> PyResult<Bound<'py, PyList>> {
        let now = instant_from_secs(now)?;
        self.out_data.clear();
        self.out_lens.clear();
        // The common idle case costs no GIL round trip: only when there is a
        // first packet is the rest drained with the GIL released.
        let Some(first) = self.poll_into_scratch(now).map_err(|e| to_py_err(py, e))? else {
            return Ok(PyList::empty(py));
        };
        self.out_data
            .extend_from_slice(self.scratch.get(..first).unwrap_or_default());
        self.out_lens.push(first);
        let this = &mut *self;
        let result = py.allow_threads(|| -> Result<(), Error> {
            while let Some(n) = this.poll_into_scratch(now)? {
                this.out_data
                    .extend_from_slice(this.scratch.get(..n).unwrap_or_default());
                this.out_lens.push(n);
            }
            Ok(())
        });
        let list = PyList::empty(py);
        let mut off = 0usize;
        for &n in &self.out_lens {
            let end = off.saturating_add(n);
            list.append(PyBytes::new(
                py,
                self.out_data.get(off..end).unwrap_or_default(),
            ))?;
            off = end;
        }
        result.map_err(|e| to_py_err(py, e))?;
        Ok(list)
    }

    /// The next event as (kind, handle, reason_code, user_data), or None.
    fn poll_event(&mut self) -> Option<(u32, u64, u32, u64)> {
        self.inner.poll_event().map(|ev| {
            (
                ev.kind as u32,
                ev.handle,
                ev.reason.map(|e| e.code()).unwrap_or(0),
                ev.user_data,
            )
        })
    }

    /// Every pending event, as poll_event tuples.
    fn events(&mut self) -> Vec<(u32, u64, u32, u64)> {
        let mut v = Vec::new();
        while let Some(ev) = self.poll_event() {
            v.push(ev);
        }
        v
    }

    /// The next deadline in microseconds, or None.
    fn next_timeout_us(&self) -> Option<u64> {
        self.inner.poll_timeout().map(Instant::as_micros)
    }

    /// Run the timers due at `now` (seconds).
    fn handle_timeout(&mut self, now: f64) -> PyResult<()> {
        self.inner.handle_timeout(instant_from_secs(now)?);
        Ok(())
    }

    /// Stack-wide counters as a dict.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.inner.counters();
        let d = PyDict::new(py);
        for (k, v) in [
            ("packets_in", c.packets_in),
            ("packets_out", c.packets_out),
            ("bytes_in", c.bytes_in),
            ("bytes_out", c.bytes_out),
            ("dropped_malformed", c.dropped_malformed),
            ("dropped_checksum", c.dropped_checksum),
            ("dropped_not_for_us", c.dropped_not_for_us),
            ("dropped_no_listener", c.dropped_no_listener),
            ("syn_cookies_sent", c.syn_cookies_sent),
            ("syn_cookies_accepted", c.syn_cookies_accepted),
            ("rst_sent", c.rst_sent),
            ("challenge_acks_sent", c.challenge_acks_sent),
            ("connections_opened", c.connections_opened),
            ("connections_closed", c.connections_closed),
            ("connections_active", c.connections_active),
        ] {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// Listen; address None = every v4 and v6 address, "0.0.0.0" = every v4.
    #[pyo3(signature = (address, port, backlog))]
    fn listen(
        &mut self,
        py: Python<'_>,
        address: Option<&str>,
        port: u16,
        backlog: u32,
    ) -> PyResult<u64> {
        let addr = match address {
            None => ListenAddr::Any,
            Some(a) => match parse_ip(a)? {
                IpAddr::V4(v4) if v4.is_unspecified() => ListenAddr::AnyV4,
                IpAddr::V6(v6) if v6.is_unspecified() => ListenAddr::Any,
                ip => ListenAddr::Exact(ip),
            },
        };
        self.inner
            .listen(addr, port, backlog)
            .map(ListenerHandle::raw)
            .map_err(|e| to_py_err(py, e))
    }

    /// The next connection waiting on a listener, or None.
    fn accept(&mut self, py: Python<'_>, listener: u64) -> PyResult<Option<u64>> {
        match self.inner.accept(ListenerHandle::from_raw(listener)) {
            Ok(c) => Ok(Some(c.raw())),
            Err(Error::WouldBlock) => Ok(None),
            Err(e) => Err(to_py_err(py, e)),
        }
    }

    /// Close a listener.
    fn listener_close(&mut self, py: Python<'_>, listener: u64) -> PyResult<()> {
        self.inner
            .listener_close(ListenerHandle::from_raw(listener))
            .map_err(|e| to_py_err(py, e))
    }

    /// Active open from the first address of the remote's family.
    fn connect(
        &mut self,
        py: Python<'_>,
        now: f64,
        host: &str,
        port: u16,
        local_port: u16,
    ) -> PyResult<u64> {
        let remote = SocketAddr::new(parse_ip(host)?, port);
        self.inner
            .connect(instant_from_secs(now)?, remote, local_port)
            .map(ConnHandle::raw)
            .map_err(|e| to_py_err(py, e))
    }

    /// Active open from a named local address and port.
    fn connect_from(
        &mut self,
        py: Python<'_>,
        now: f64,
        local_host: &str,
        local_port: u16,
        host: &str,
        port: u16,
    ) -> PyResult<u64> {
        let local = SocketAddr::new(parse_ip(local_host)?, local_port);
        let remote = SocketAddr::new(parse_ip(host)?, port);
        self.inner
            .connect_from(instant_from_secs(now)?, local, remote)
            .map(ConnHandle::raw)
            .map_err(|e| to_py_err(py, e))
    }

    /// Queue data; BlockingIOError when there is no room.
    fn send(&mut self, py: Python<'_>, conn: u64, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        let c = ConnHandle::from_raw(conn);
        let r = with_bytes(data, |b| {
            if b.is_empty() {
                // Nothing to queue; still report a dead or stale handle.
                self.inner.state(c).map(|_| 0)
            } else {
                self.inner.send(c, b)
            }
        })?;
        r.map_err(|e| to_py_err(py, e))
    }

    /// Read up to max_bytes: None nothing yet, b"" end of stream.
    fn recv<'py>(
        &mut self,
        py: Python<'py>,
        conn: u64,
        max_bytes: usize,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        if max_bytes == 0 {
            return Err(PyValueError::new_err("max_bytes must be positive"));
        }
        let n = max_bytes.min(MAX_READ);
        self.ensure_scratch(n);
        let buf = self.scratch.get_mut(..n).unwrap_or_default();
        match self.inner.recv(ConnHandle::from_raw(conn), buf) {
            Ok(k) => Ok(Some(PyBytes::new(
                py,
                self.scratch.get(..k).unwrap_or_default(),
            ))),
            Err(Error::WouldBlock) => Ok(None),
            Err(e) => Err(to_py_err(py, e)),
        }
    }

    /// Half-close: FIN after queued data.
    fn shutdown(&mut self, py: Python<'_>, conn: u64) -> PyResult<()> {
        self.inner
            .shutdown(ConnHandle::from_raw(conn))
            .map_err(|e| to_py_err(py, e))
    }

    /// Close and release the handle.
    fn close(&mut self, py: Python<'_>, conn: u64) -> PyResult<()> {
        self.inner
            .close(ConnHandle::from_raw(conn))
            .map_err(|e| to_py_err(py, e))
    }

    /// Reset and release the handle.
    fn abort(&mut self, py: Python<'_>, conn: u64) -> PyResult<()> {
        self.inner
            .abort(ConnHandle::from_raw(conn))
            .map_err(|e| to_py_err(py, e))
    }

    /// The TCP state as its C value.
    fn state(&self, py: Python<'_>, conn: u64) -> PyResult<u32> {
        self.inner
            .state(ConnHandle::from_raw(conn))
            .map(|s| s as u32)
            .map_err(|e| to_py_err(py, e))
    }

    /// `tcpkit_conn_info` fields as a dict (state as int, endpoints as tuples).
    fn info<'py>(&self, py: Python<'py>, conn: u64) -> PyResult<Bound<'py, PyDict>> {
        let i = self
            .inner
            .info(ConnHandle::from_raw(conn))
            .map_err(|e| to_py_err(py, e))?;
        let d = PyDict::new(py);
        d.set_item("state", i.tcp.state as u32)?;
        d.set_item("local", endpoint_tuple(py, i.local)?)?;
        d.set_item("remote", endpoint_tuple(py, i.remote)?)?;
        d.set_item("mss", i.tcp.mss)?;
        for (k, v) in [
            ("srtt_us", i.tcp.srtt_us),
            ("rttvar_us", i.tcp.rttvar_us),
            ("rto_us", i.tcp.rto_us),
            ("cwnd", i.tcp.cwnd),
            ("ssthresh", i.tcp.ssthresh),
            ("snd_wnd", i.tcp.snd_wnd),
            ("rcv_wnd", i.tcp.rcv_wnd),
            ("bytes_sent", i.tcp.bytes_sent),
            ("bytes_acked", i.tcp.bytes_acked),
            ("bytes_received", i.tcp.bytes_received),
            ("bytes_unsent", i.tcp.bytes_unsent),
            ("bytes_unacked", i.tcp.bytes_unacked),
            ("bytes_readable", i.tcp.bytes_readable),
            ("segs_sent", i.tcp.segs_sent),
            ("segs_received", i.tcp.segs_received),
            ("segs_retransmitted", i.tcp.segs_retransmitted),
            ("timeouts", i.tcp.timeouts),
            ("sack_recoveries", i.tcp.sack_recoveries),
        ] {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// Local (host, port) of a connection.
    fn local<'py>(&self, py: Python<'py>, conn: u64) -> PyResult<Bound<'py, PyTuple>> {
        let a = self
            .inner
            .local_endpoint(ConnHandle::from_raw(conn))
            .map_err(|e| to_py_err(py, e))?;
        endpoint_tuple(py, a)
    }

    /// Remote (host, port) of a connection.
    fn remote<'py>(&self, py: Python<'py>, conn: u64) -> PyResult<Bound<'py, PyTuple>> {
        let a = self
            .inner
            .remote_endpoint(ConnHandle::from_raw(conn))
            .map_err(|e| to_py_err(py, e))?;
        endpoint_tuple(py, a)
    }

    /// Set a per-connection option (C value of tcpkit_option).
    fn set_option(&mut self, py: Python<'_>, conn: u64, option: u32, value: u64) -> PyResult<()> {
        let opt = option_from_code(option)?;
        self.inner
            .set_option(ConnHandle::from_raw(conn), opt, value)
            .map_err(|e| to_py_err(py, e))
    }

    /// Read a per-connection option.
    fn get_option(&self, py: Python<'_>, conn: u64, option: u32) -> PyResult<u64> {
        let opt = option_from_code(option)?;
        self.inner
            .get_option(ConnHandle::from_raw(conn), opt)
            .map_err(|e| to_py_err(py, e))
    }

    /// Bind a UDP socket.
    fn udp_bind(&mut self, py: Python<'_>, host: &str, port: u16) -> PyResult<u64> {
        let local = SocketAddr::new(parse_ip(host)?, port);
        self.inner
            .udp_bind(local)
            .map(UdpHandle::raw)
            .map_err(|e| to_py_err(py, e))
    }

    /// Send one datagram.
    fn udp_send_to(
        &mut self,
        py: Python<'_>,
        now: f64,
        udp: u64,
        data: &Bound<'_, PyAny>,
        host: &str,
        port: u16,
    ) -> PyResult<()> {
        let to = SocketAddr::new(parse_ip(host)?, port);
        let now = instant_from_secs(now)?;
        let r = with_bytes(data, |b| {
            self.inner.udp_send_to(now, UdpHandle::from_raw(udp), to, b)
        })?;
        r.map_err(|e| to_py_err(py, e))
    }

    /// The next datagram and its sender, or None.
    fn udp_recv_from<'py>(
        &mut self,
        py: Python<'py>,
        udp: u64,
        max_bytes: usize,
    ) -> PyResult<Option<(Bound<'py, PyBytes>, Bound<'py, PyTuple>)>> {
        if max_bytes == 0 {
            return Err(PyValueError::new_err("max_bytes must be positive"));
        }
        let n = max_bytes.min(MAX_PACKET);
        self.ensure_scratch(n);
        let buf = self.scratch.get_mut(..n).unwrap_or_default();
        match self.inner.udp_recv_from(UdpHandle::from_raw(udp), buf) {
            Ok((k, from)) => Ok(Some((
                PyBytes::new(py, self.scratch.get(..k).unwrap_or_default()),
                endpoint_tuple(py, from)?,
            ))),
            Err(Error::WouldBlock) => Ok(None),
            Err(e) => Err(to_py_err(py, e)),
        }
    }

    /// Close a UDP socket.
    fn udp_close(&mut self, py: Python<'_>, udp: u64) -> PyResult<()> {
        self.inner
            .udp_close(UdpHandle::from_raw(udp))
            .map_err(|e| to_py_err(py, e))
    }
}

/// tcpkit's native core for Python: the low-level `Stack` (integer
/// microseconds, integer handles). Use the `tcpkit` package instead.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Stack>()?;
    m.add_function(wrap_pyfunction!(config_default, m)?)?;
    Ok(())
}
