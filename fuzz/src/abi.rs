//! The C ABI fuzz target: a program of C calls decoded from arbitrary bytes,
//! on two stacks joined by a link, with arbitrary handles, lengths, options,
//! endpoints and strings, and NULL pointers. Pointers are either NULL or
//! valid for the length passed (anything else is undefined behaviour by the
//! contract, not a bug). Checks: every result is a documented code and never
//! `TCPKIT_ERR_PANIC`; `TCPKIT_OK` outputs are within their buffers.
//! Shared by `fuzz/fuzz_targets/c_abi.rs` and `ffi/tests/fuzz_abi.rs`.
#![allow(dead_code, clippy::missing_safety_doc)]

use std::ffi::{c_char, CStr};
use std::ptr;

use tcpkit_ffi::*;

/// Reads fuzz bytes; zeros once exhausted.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from(self.u16()) | u32::from(self.u16()) << 16
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

const KNOWN: [tcpkit_result; 20] = [
    TCPKIT_OK,
    TCPKIT_WOULD_BLOCK,
    TCPKIT_ERR_NULL,
    TCPKIT_ERR_INVALID_ARGUMENT,
    TCPKIT_ERR_INVALID_HANDLE,
    TCPKIT_ERR_MALFORMED,
    TCPKIT_ERR_CHECKSUM,
    TCPKIT_ERR_NOT_FOR_US,
    TCPKIT_ERR_BUFFER_TOO_SMALL,
    TCPKIT_ERR_INVALID_STATE,
    TCPKIT_ERR_ADDR_IN_USE,
    TCPKIT_ERR_NO_PORTS,
    TCPKIT_ERR_LIMIT,
    TCPKIT_ERR_REFUSED,
    TCPKIT_ERR_RESET,
    TCPKIT_ERR_TIMED_OUT,
    TCPKIT_ERR_CLOSED,
    TCPKIT_ERR_ADDR_NOT_AVAILABLE,
    TCPKIT_ERR_PANIC,
    TCPKIT_ERR_PANIC,
];

/// Every result is a documented code, and no call panicked inside.
fn check(op: &str, r: tcpkit_result) -> tcpkit_result {
    assert!(KNOWN.contains(&r), "{op}: undocumented result {r}");
    assert_ne!(r, TCPKIT_ERR_PANIC, "{op}: a panic reached the C boundary");
    r
}

struct World {
    stacks: [*mut tcpkit_stack; 2],
    handles: Vec<u64>,
    now: u64,
    stats: Stats,
}

/// What a program achieved (lets tests check the seeds reach deep states).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub accepted: u32,
    pub bytes_sent: usize,
    pub bytes_received: usize,
    pub calls: u32,
}

impl World {
    fn handle(&self, inp: &mut Input) -> u64 {
        let b = inp.u8();
        if b & 3 != 0 && !self.handles.is_empty() {
            let h = self.handles[usize::from(b >> 2) % self.handles.len()];
            // Sometimes a near miss: another generation or kind bit.
            if b & 0x80 != 0 {
                return h ^ (1u64 << (inp.u8() % 64));
            }
            return h;
        }
        match b & 3 {
            0 if b & 4 != 0 => 0,
            _ => inp.u64(),
        }
    }

    fn endpoint(&self, inp: &mut Input) -> tcpkit_endpoint {
        let sel = inp.u8();
        let mut ep = tcpkit_endpoint {
            family: [4, 6, 0, sel][usize::from(sel & 3)],
            addr: [0; 16],
            port: inp.u16(),
        };
        match sel >> 2 & 3 {
            0 => ep.addr[..4].copy_from_slice(&[192, 0, 2, 1 + (sel >> 4 & 1)]),
            1 => {
                ep.addr[..2].copy_from_slice(&[0x20, 0x01]);
                ep.addr[2..4].copy_from_slice(&[0x0d, 0xb8]);
                ep.addr[15] = 1 + (sel >> 4 & 1);
            }
            2 => {}
            _ => {
                for (d, s) in ep.addr.iter_mut().zip(inp.bytes(16)) {
                    *d = *s;
                }
            }
        }
        if sel & 0x20 != 0 {
            ep.port = [80, 0, 443, 7][usize::from(sel >> 6)];
        }
        ep
    }
}

/// Creates a stack through the C ABI with a config the input may bend.
unsafe fn new_stack(inp: &mut Input, seed: u8, addrs: [&CStr; 2]) -> *mut tcpkit_stack {
    // SAFETY: a plain-data struct of integers and byte arrays.
    let mut cfg: tcpkit_config = unsafe { std::mem::zeroed() };
    unsafe { tcpkit_config_default(&mut cfg) };
    cfg.isn_secret = [seed; 32];
    match inp.u8() % 8 {
        0 => cfg.mtu = u32::from(inp.u16()),
        1 => cfg.send_buffer = inp.u32(),
        2 => cfg.recv_buffer = inp.u32(),
        3 => cfg.max_connections = u32::from(inp.u8()),
        4 => cfg.syn_backlog = u32::from(inp.u8()),
        _ => {}
    }
    let mut s = ptr::null_mut();
    let r = check("stack_new", unsafe { tcpkit_stack_new(&cfg, &mut s) });
    if r != TCPKIT_OK {
        assert!(s.is_null(), "failed stack_new left a stack");
        unsafe { tcpkit_config_default(&mut cfg) };
        cfg.isn_secret = [seed; 32];
        assert_eq!(unsafe { tcpkit_stack_new(&cfg, &mut s) }, TCPKIT_OK);
    }
    for a in addrs {
        check("add_address", unsafe {
            tcpkit_stack_add_address(s, a.as_ptr())
        });
    }
    s
}

/// The C ABI target body.
pub fn c_abi(data: &[u8]) {
    let _ = c_abi_stats(data);
}

/// [`c_abi`], returning what the program achieved.
pub fn c_abi_stats(data: &[u8]) -> Stats {
    let mut inp = Input(data);
    // SAFETY: every pointer passed below is NULL or valid for the length given.
    unsafe {
        let a = new_stack(&mut inp, 3, [c"192.0.2.1", c"2001:db8::1"]);
        let b = new_stack(&mut inp, 4, [c"192.0.2.2", c"2001:db8::2"]);
        let mut w = World {
            stacks: [a, b],
            handles: Vec::new(),
            now: 1_000_000,
            stats: Stats::default(),
        };
        let mut buf = vec![0u8; 70_000];
        let mut steps = 0;
        while !inp.is_empty() && steps < 400 {
            steps += 1;
            run_op(&mut w, &mut inp, &mut buf);
        }
        tcpkit_stack_free(w.stacks[0]);
        tcpkit_stack_free(w.stacks[1]);
        tcpkit_stack_free(ptr::null_mut());
        w.stats.calls = steps;
        w.stats
    }
}

unsafe fn run_op(w: &mut World, inp: &mut Input, buf: &mut [u8]) {
    let op = inp.u8();
    let si = usize::from(op >> 7);
    let s = w.stacks[si];
    let other = w.stacks[1 - si];
    let null = inp.u8() == 0xff; // pass NULL where a pointer goes
    let mut out_len = 0usize;
    let out_len_p: *mut usize = if null { ptr::null_mut() } else { &mut out_len };
    unsafe {
        match op & 0x1f {
            0 => {
                let n = usize::from(inp.u16()) % 1600;
                let pkt = inp.bytes(n).to_vec();
                let p = if null { ptr::null() } else { pkt.as_ptr() };
                let r = check("feed", tcpkit_stack_feed(s, w.now, p, pkt.len()));
                if null && !pkt.is_empty() {
                    assert_eq!(r, TCPKIT_ERR_NULL);
                }
            }
            1..=3 => {
                // The link: move packets from s to the other stack.
                for _ in 0..64 {
                    let cap = if op & 3 == 1 {
                        usize::from(inp.u16()) % 2000
                    } else {
                        buf.len()
                    };
                    let r = check(
                        "poll_transmit",
                        tcpkit_stack_poll_transmit(s, w.now, buf.as_mut_ptr(), cap, out_len_p),
                    );
                    if r != TCPKIT_OK {
                        if r == TCPKIT_ERR_BUFFER_TOO_SMALL {
                            assert!(out_len > cap, "needed {out_len} <= cap {cap}");
                        }
                        break;
                    }
                    assert!(out_len <= cap, "wrote past cap");
                    check(
                        "feed",
                        tcpkit_stack_feed(other, w.now, buf.as_ptr(), out_len),
                    );
                }
            }
            4 => {
                let mut ev = tcpkit_event::default();
                let p: *mut tcpkit_event = if null { ptr::null_mut() } else { &mut ev };
                while check("poll_event", tcpkit_stack_poll_event(s, p)) == TCPKIT_OK {
                    if ev.kind == TCPKIT_EVENT_ACCEPTABLE || ev.handle != 0 {
                        w.handles.push(ev.handle);
                    }
                    assert!((1..=6).contains(&ev.kind), "event kind {}", ev.kind);
                }
            }
            5 => {
                let mut d = 0u64;
                let p: *mut u64 = if null { ptr::null_mut() } else { &mut d };
                let r = check("next_timeout", tcpkit_stack_next_timeout(s, p));
                w.now = if r == TCPKIT_OK && inp.u8() & 1 == 0 {
                    w.now.max(d)
                } else {
                    w.now + u64::from(inp.u16()) * 100
                };
                check("handle_timeout", tcpkit_stack_handle_timeout(s, w.now));
            }
            6 => {
                let mut c: tcpkit_counters = std::mem::zeroed();
                let p: *mut tcpkit_counters = if null { ptr::null_mut() } else { &mut c };
                check("get_counters", tcpkit_stack_get_counters(s, p));
            }
            7 => {
                let n = usize::from(inp.u8()) % 80;
                let mut text: Vec<u8> = inp
                    .bytes(n)
                    .iter()
                    .map(|b| if *b == 0 { b'1' } else { *b })
                    .collect();
                text.push(0);
                let mut ep = tcpkit_endpoint::default();
                let tp = if null {
                    ptr::null()
                } else {
                    text.as_ptr().cast::<c_char>()
                };
                let r = check("endpoint_parse", tcpkit_endpoint_parse(tp, &mut ep));
                if r == TCPKIT_OK {
                    // What parses formats, and the formatted text parses back to it.
                    let mut out = [0 as c_char; TCPKIT_ENDPOINT_STRLEN];
                    let mut len = 0usize;
                    assert_eq!(
                        tcpkit_endpoint_format(&ep, out.as_mut_ptr(), out.len(), &mut len),
                        TCPKIT_OK
                    );
                    assert!(len < out.len());
                    let mut back = tcpkit_endpoint::default();
                    assert_eq!(tcpkit_endpoint_parse(out.as_ptr(), &mut back), TCPKIT_OK);
                    assert_eq!(back, ep, "endpoint format/parse round trip");
                }
            }
            8 => {
                let ep = w.endpoint(inp);
                let cap = usize::from(inp.u8()) % 80;
                let mut out = vec![0 as c_char; cap.max(1)];
                let bp = if null {
                    ptr::null_mut()
                } else {
                    out.as_mut_ptr()
                };
                let r = check(
                    "endpoint_format",
                    tcpkit_endpoint_format(&ep, bp, cap, &mut out_len),
                );
                if r == TCPKIT_OK {
                    assert!(out_len < cap, "formatted {out_len} bytes into {cap}");
                    assert_eq!(out[out_len], 0, "not NUL-terminated");
                }
            }
            9 => {
                let ep = w.endpoint(inp);
                let backlog = inp.u32();
                let mut l = 0u64;
                let r = check("listen", tcpkit_listen(s, &ep, backlog, &mut l));
                if r == TCPKIT_OK {
                    assert_ne!(l, 0);
                    w.handles.push(l);
                }
            }
            10 => {
                let h = w.handle(inp);
                let mut c = 0u64;
                let p: *mut u64 = if null { ptr::null_mut() } else { &mut c };
                if check("accept", tcpkit_accept(s, h, p)) == TCPKIT_OK {
                    w.stats.accepted += 1;
                    w.handles.push(c);
                }
            }
            11 => {
                let h = w.handle(inp);
                check("listener_close", tcpkit_listener_close(s, h));
            }
            12 => {
                let ep = w.endpoint(inp);
                let port = inp.u16();
                let mut c = 0u64;
                if check("connect", tcpkit_connect(s, w.now, &ep, port, &mut c)) == TCPKIT_OK {
                    w.handles.push(c);
                }
            }
            13 => {
                let l = w.endpoint(inp);
                let r = w.endpoint(inp);
                let mut c = 0u64;
                if check(
                    "connect_from",
                    tcpkit_connect_from(s, w.now, &l, &r, &mut c),
                ) == TCPKIT_OK
                {
                    w.handles.push(c);
                }
            }
            14 => {
                let h = w.handle(inp);
                let n = usize::from(inp.u16());
                let data = vec![0x5au8; n];
                let dp = if null { ptr::null() } else { data.as_ptr() };
                let mut written = 0usize;
                if check("send", tcpkit_send(s, h, dp, n, &mut written)) == TCPKIT_OK {
                    assert!(written <= n);
                    w.stats.bytes_sent += written;
                }
            }
            15 => {
                let h = w.handle(inp);
                let cap = usize::from(inp.u16()) % buf.len();
                let bp = if null {
                    ptr::null_mut()
                } else {
                    buf.as_mut_ptr()
                };
                let mut read = 0usize;
                if check("recv", tcpkit_recv(s, h, bp, cap, &mut read)) == TCPKIT_OK {
                    assert!(read <= cap);
                    w.stats.bytes_received += read;
                }
            }
            16 => {
                let h = w.handle(inp);
                match inp.u8() % 3 {
                    0 => check("shutdown", tcpkit_shutdown(s, h)),
                    1 => check("close", tcpkit_close(s, h)),
                    _ => check("abort", tcpkit_abort(s, h)),
                };
            }
            17 => {
                let h = w.handle(inp);
                let mut st = 0u32;
                if check("conn_state", tcpkit_conn_state(s, h, &mut st)) == TCPKIT_OK {
                    assert!(st <= TCPKIT_STATE_TIME_WAIT);
                }
                let mut info: tcpkit_conn_info = std::mem::zeroed();
                let p: *mut tcpkit_conn_info = if null { ptr::null_mut() } else { &mut info };
                check("conn_get_info", tcpkit_conn_get_info(s, h, p));
            }
            18 => {
                let h = w.handle(inp);
                let opt = u32::from(inp.u8() % 12);
                let v = match inp.u8() % 4 {
                    0 => 0,
                    1 => u64::MAX,
                    2 => u64::from(inp.u32()),
                    _ => inp.u64(),
                };
                check("set_option", tcpkit_conn_set_option(s, h, opt, v));
                let mut got = 0u64;
                let p: *mut u64 = if null { ptr::null_mut() } else { &mut got };
                check("get_option", tcpkit_conn_get_option(s, h, opt, p));
            }
            19 => {
                let ep = w.endpoint(inp);
                let mut u = 0u64;
                if check("udp_bind", tcpkit_udp_bind(s, &ep, &mut u)) == TCPKIT_OK {
                    w.handles.push(u);
                }
            }
            20 => {
                let h = w.handle(inp);
                let to = w.endpoint(inp);
                let n = usize::from(inp.u16()) % 70_000;
                let data = vec![7u8; n];
                let dp = if null { ptr::null() } else { data.as_ptr() };
                check("udp_send_to", tcpkit_udp_send_to(s, w.now, h, &to, dp, n));
            }
            21 => {
                let h = w.handle(inp);
                let cap = usize::from(inp.u16()) % buf.len();
                let mut from = tcpkit_endpoint::default();
                let r = check(
                    "udp_recv_from",
                    tcpkit_udp_recv_from(s, h, buf.as_mut_ptr(), cap, out_len_p, &mut from),
                );
                if r == TCPKIT_OK {
                    assert!(out_len <= cap);
                }
            }
            22 => {
                let h = w.handle(inp);
                check("udp_close", tcpkit_udp_close(s, h));
            }
            23 => {
                let n = usize::from(inp.u8()) % 64;
                let mut text: Vec<u8> = inp
                    .bytes(n)
                    .iter()
                    .map(|b| if *b == 0 { b':' } else { *b })
                    .collect();
                text.push(0);
                check(
                    "add_address",
                    tcpkit_stack_add_address(s, text.as_ptr().cast()),
                );
            }
            24 => {
                let r = inp.u32();
                let p = tcpkit_result_str(r);
                assert!(!p.is_null());
                assert!(!CStr::from_ptr(p).to_bytes().is_empty());
                assert!(!tcpkit_version().is_null());
            }
            25 => {
                // NULL stack everywhere it can go.
                assert_eq!(
                    tcpkit_stack_feed(ptr::null_mut(), 0, ptr::null(), 0),
                    TCPKIT_ERR_NULL
                );
                assert_eq!(tcpkit_close(ptr::null_mut(), 1), TCPKIT_ERR_NULL);
            }
            _ => {
                // A burst of link traffic both ways with time passing.
                for _ in 0..4 {
                    for (from, to) in [(0usize, 1usize), (1, 0)] {
                        while tcpkit_stack_poll_transmit(
                            w.stacks[from],
                            w.now,
                            buf.as_mut_ptr(),
                            buf.len(),
                            &mut out_len,
                        ) == TCPKIT_OK
                        {
                            check(
                                "feed",
                                tcpkit_stack_feed(w.stacks[to], w.now, buf.as_ptr(), out_len),
                            );
                        }
                    }
                    w.now += 10_000;
                    for st in w.stacks {
                        check("handle_timeout", tcpkit_stack_handle_timeout(st, w.now));
                    }
                }
            }
        }
    }
}
