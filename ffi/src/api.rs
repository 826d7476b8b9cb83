//! The extern "C" functions. Each one checks its pointers, converts its
//! arguments (crate::convert), calls the core stack once, and converts the
//! result back. No protocol logic lives here.
//!
//! Rules common to every function (see the header's top comment):
//! - A NULL pointer argument returns `TCPKIT_ERR_NULL`.
//! - Outputs are written only on success, except `TCPKIT_ERR_BUFFER_TOO_SMALL`,
//!   which writes the size needed to `*out_len`.
//! - A stack is used by one thread at a time.

use core::ffi::{c_char, CStr};
use core::net::IpAddr;

use crate::backend::{ConnHandle, Error, ListenerHandle, Stack, UdpHandle};
use crate::boundary::{check_null, guard, tcpkit_stack, try_c, with_stack};
use crate::convert::{self, FixedStr};
use crate::types::*;
use tcpkit::time::Instant;

/// Borrows a C input buffer. NULL is `TCPKIT_ERR_NULL`; a length Rust cannot
/// address is `TCPKIT_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes that outlive `'a`.
unsafe fn in_buf<'a>(p: *const u8, len: usize) -> Result<&'a [u8], tcpkit_result> {
    if p.is_null() {
        return Err(TCPKIT_ERR_NULL);
    }
    if len > isize::MAX as usize {
        return Err(TCPKIT_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL, length checked, readable per the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts(p, len) })
}

/// Borrows a C output buffer; same rules as `in_buf`.
///
/// # Safety
/// `p` is NULL or points to `len` writable bytes, not aliased, that outlive `'a`.
unsafe fn out_buf<'a>(p: *mut u8, len: usize) -> Result<&'a mut [u8], tcpkit_result> {
    if p.is_null() {
        return Err(TCPKIT_ERR_NULL);
    }
    if len > isize::MAX as usize {
        return Err(TCPKIT_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL, length checked, writable and unaliased per the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts_mut(p, len) })
}

/// Writes `v` through a caller's out pointer (already checked non-NULL).
///
/// # Safety
/// `p` is non-NULL, aligned and writable for one `T`.
unsafe fn put<T>(p: *mut T, v: T) {
    // SAFETY: per this function's contract.
    unsafe { p.write(v) }
}

/// Converts a stack error to its code, writing the needed size for
/// `BufferTooSmall` through `out_len`.
///
/// # Safety
/// `out_len` is non-NULL and writable.
unsafe fn fail_with_len(e: Error, out_len: *mut usize) -> tcpkit_result {
    if let Error::BufferTooSmall { needed } = e {
        // SAFETY: per this function's contract.
        unsafe { put(out_len, needed) };
    }
    convert::error_code(&e)
}

/// Maps a unit result to a code.
fn code(r: Result<(), Error>) -> tcpkit_result {
    match r {
        Ok(()) => TCPKIT_OK,
        Err(e) => convert::error_code(&e),
    }
}

/// The library version, e.g. "0.1.0". A static string; never free it.
#[no_mangle]
pub extern "C" fn tcpkit_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    // Nothing here can panic; the boundary is kept so that every extern body has one.
    std::panic::catch_unwind(|| VERSION)
        .unwrap_or(c"unknown")
        .as_ptr()
}

/// A short English description of a result code: a static string, never
/// NULL, never to be freed; "unknown result" for a value not defined here.
#[no_mangle]
pub extern "C" fn tcpkit_result_str(r: tcpkit_result) -> *const c_char {
    std::panic::catch_unwind(|| convert::result_str(r))
        .unwrap_or(c"unknown result")
        .as_ptr()
}

/// Writes the default configuration to `*out`: the defaults documented on
/// each `tcpkit_config` field, an all-zero `isn_secret` (filled from the OS
/// by `tcpkit_stack_new`) and zero `reserved`. Does nothing if `out` is NULL.
///
/// # Safety
/// `out` is NULL or points to a writable `tcpkit_config`.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_config_default(out: *mut tcpkit_config) {
    guard(|| {
        check_null!(out);
        let c = convert::config_to_c(&crate::backend::Config::default());
        // SAFETY: non-NULL, writable per the contract.
        unsafe { put(out, c) };
        TCPKIT_OK
    });
}

/// Fills `secret` from the OS when it is all zero (getrandom(2)).
fn fill_secret(secret: &mut [u8; 32]) -> Result<(), tcpkit_result> {
    if secret.iter().any(|b| *b != 0) {
        return Ok(());
    }
    let mut filled = 0usize;
    while filled < secret.len() {
        let rest = secret.get_mut(filled..).unwrap_or_default();
        // SAFETY: `rest` is a valid writable buffer of `rest.len()` bytes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(TCPKIT_ERR_LIMIT);
        }
        filled = filled.saturating_add(n.unsigned_abs());
    }
    Ok(())
}

/// Creates a stack. `cfg` NULL means defaults. An all-zero `isn_secret` is
/// filled from the OS's randomness. Writes `*out` only on success; free it
/// with `tcpkit_stack_free`. `TCPKIT_ERR_INVALID_ARGUMENT` for a config value
/// that cannot work (unknown enum, boolean not 0/1, MTU below 576, ...).
///
/// # Safety
/// `cfg` is NULL or points to a readable `tcpkit_config`; `out` points to a
/// writable `tcpkit_stack *`.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_stack_new(
    cfg: *const tcpkit_config,
    out: *mut *mut tcpkit_stack,
) -> tcpkit_result {
    guard(|| {
        check_null!(out);
        // SAFETY: NULL or a readable config per the contract.
        let mut config = match unsafe { cfg.as_ref() } {
            Some(c) => try_c!(convert::config_from_c(c)),
            None => crate::backend::Config::default(),
        };
        try_c!(fill_secret(&mut config.isn_secret));
        let inner = match Stack::new(config) {
            Ok(s) => s,
            Err(e) => return convert::error_code(&e),
        };
        let boxed = Box::new(tcpkit_stack {
            inner,
            poisoned: false,
        });
        // SAFETY: `out` is non-NULL and writable per the contract.
        unsafe { put(out, Box::into_raw(boxed)) };
        TCPKIT_OK
    })
}

/// Frees a stack and every connection in it (no packets are sent). NULL is
/// fine. Works on a poisoned stack. Handles of this stack become invalid.
///
/// # Safety
/// `s` is NULL or a pointer from `tcpkit_stack_new` not yet freed; it must
/// not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_stack_free(s: *mut tcpkit_stack) {
    if s.is_null() {
        return;
    }
    // SAFETY: `s` came from Box::into_raw in tcpkit_stack_new and is freed once.
    let boxed = unsafe { Box::from_raw(s) };
    // A panicking Drop must not unwind into C; the memory is then leaked.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(boxed)));
}

/// Adds a local address, text like "192.0.2.2" or "2001:db8::2".
/// `TCPKIT_ERR_INVALID_ARGUMENT` for text that is not an IP address.
///
/// # Safety
/// `s` is a live stack; `ip` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_stack_add_address(
    s: *mut tcpkit_stack,
    ip: *const c_char,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(ip);
        // SAFETY: non-NULL and NUL-terminated per the contract.
        let text = unsafe { CStr::from_ptr(ip) };
        let Ok(addr) = text.to_str().map(str::parse::<IpAddr>) else {
            return TCPKIT_ERR_INVALID_ARGUMENT;
        };
        let Ok(addr) = addr else {
            return TCPKIT_ERR_INVALID_ARGUMENT;
        };
        code(st.add_address(addr))
    })
}

/// Feeds one received IP packet (IPv4 or IPv6, no link header). OK for every
/// well-formed packet addressed to the stack; `TCPKIT_ERR_NOT_FOR_US`,
/// `TCPKIT_ERR_MALFORMED` or `TCPKIT_ERR_CHECKSUM` otherwise (counted, no
/// connection changed). The stack does not keep `pkt` after the call.
///
/// # Safety
/// `s` is a live stack; `pkt` is NULL or points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_stack_feed(
    s: *mut tcpkit_stack,
    now_us: u64,
    pkt: *const u8,
    len: usize,
) -> tcpkit_result {
    with_stack!(s, |st| {
        // SAFETY: per the contract.
        let pkt = try_c!(unsafe { in_buf(pkt, len) });
        match st.feed(Instant::from_micros(now_us), pkt) {
            Ok(()) => TCPKIT_OK,
            Err(e) => convert::packet_error_code(&e),
        }
    })
}

/// Writes the next IP packet to send into `buf` and its length to `*out_len`.
/// `TCPKIT_WOULD_BLOCK` when there is none. With `cap` smaller than the
/// packet: `TCPKIT_ERR_BUFFER_TOO_SMALL`, the size needed in `*out_len`, and
/// the packet is kept for the next call. A `cap` of the MTU always suffices.
///
/// # Safety
/// `s` is a live stack; `buf` is NULL or points to `cap` writable bytes;
/// `out_len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_stack_poll_transmit(
    s: *mut tcpkit_stack,
    now_us: u64,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(out_len);
        // SAFETY: per the contract.
        let buf = try_c!(unsafe { out_buf(buf, cap) });
        match st.poll_transmit(Instant::from_micros(now_us), buf) {
            Ok(n) => {
                // SAFETY: checked non-NULL above.
                unsafe { put(out_len, n) };
                TCPKIT_OK
            }
            // SAFETY: checked non-NULL above.
            Err(e) => unsafe { fail_with_len(e, out_len) },
        }
    })
}

/// Takes the next event into `*out`; `TCPKIT_WOULD_BLOCK` when there is none.
///
/// # Safety
/// `s` is a live stack; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_stack_poll_event(
    s: *mut tcpkit_stack,
    out: *mut tcpkit_event,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(out);
        match st.poll_event() {
            Some(e) => {
                // SAFETY: checked non-NULL above.
                unsafe { put(out, convert::event_to_c(&e)) };
                TCPKIT_OK
            }
            None => TCPKIT_WOULD_BLOCK,
        }
    })
}

/// Writes the earliest deadline (same clock as `now_us`) at which
/// `tcpkit_stack_handle_timeout` must be called; `TCPKIT_WOULD_BLOCK` when no
/// timer is armed.
///
/// # Safety
/// `s` is a live stack; `deadline_us` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_stack_next_timeout(
    s: *mut tcpkit_stack,
    deadline_us: *mut u64,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(deadline_us);
        match st.poll_timeout() {
            Some(t) => {
                // SAFETY: checked non-NULL above.
                unsafe { put(deadline_us, t.as_micros()) };
                TCPKIT_OK
            }
            None => TCPKIT_WOULD_BLOCK,
        }
    })
}

/// Runs the timers due at `now_us`. OK also when nothing was due (safe to
/// call spuriously); afterwards the next deadline is later than `now_us`.
///
/// # Safety
/// `s` is a live stack.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_stack_handle_timeout(
    s: *mut tcpkit_stack,
    now_us: u64,
) -> tcpkit_result {
    with_stack!(s, |st| {
        st.handle_timeout(Instant::from_micros(now_us));
        TCPKIT_OK
    })
}

/// Copies the stack-wide counters into `*out`.
///
/// # Safety
/// `s` is a live stack; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_stack_get_counters(
    s: *mut tcpkit_stack,
    out: *mut tcpkit_counters,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(out);
        let c = convert::counters_to_c(st.counters());
        // SAFETY: checked non-NULL above.
        unsafe { put(out, c) };
        TCPKIT_OK
    })
}

/// Parses "192.0.2.1:80", "[2001:db8::1]:80" or "*:80" (family 0, any
/// address: for `tcpkit_listen`) into `*out`. `TCPKIT_ERR_INVALID_ARGUMENT`
/// for anything else (host names, IPv6 zone ids, ports above 65535).
///
/// # Safety
/// `text` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_endpoint_parse(
    text: *const c_char,
    out: *mut tcpkit_endpoint,
) -> tcpkit_result {
    guard(|| {
        check_null!(text, out);
        // SAFETY: non-NULL and NUL-terminated per the contract.
        let Ok(text) = unsafe { CStr::from_ptr(text) }.to_str() else {
            return TCPKIT_ERR_INVALID_ARGUMENT;
        };
        let ep = try_c!(convert::endpoint_parse(text));
        // SAFETY: checked non-NULL above.
        unsafe { put(out, ep) };
        TCPKIT_OK
    })
}

/// Formats an endpoint as `tcpkit_endpoint_parse` reads it, NUL-terminated,
/// into `buf`; `*out_len` gets the length without the NUL. If `cap` is too
/// small (it must hold the NUL too): `TCPKIT_ERR_BUFFER_TOO_SMALL` and
/// `*out_len` = length + 1. `TCPKIT_ENDPOINT_STRLEN` always suffices.
///
/// # Safety
/// `ep` is NULL or readable; `buf` is NULL or points to `cap` writable
/// bytes; `out_len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_endpoint_format(
    ep: *const tcpkit_endpoint,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> tcpkit_result {
    guard(|| {
        check_null!(ep, buf, out_len);
        let mut text = FixedStr::default();
        // SAFETY: non-NULL and readable per the contract.
        try_c!(convert::endpoint_format(unsafe { &*ep }, &mut text));
        let bytes = text.as_bytes();
        let needed = bytes.len().saturating_add(1);
        if cap < needed {
            // SAFETY: checked non-NULL above.
            unsafe { put(out_len, needed) };
            return TCPKIT_ERR_BUFFER_TOO_SMALL;
        }
        // SAFETY: per the contract, `cap` >= `needed` bytes are writable.
        let dst = try_c!(unsafe { out_buf(buf.cast::<u8>(), needed) });
        let (text_part, nul) = dst.split_at_mut(bytes.len());
        text_part.copy_from_slice(bytes);
        nul.fill(0);
        // SAFETY: checked non-NULL above.
        unsafe { put(out_len, bytes.len()) };
        TCPKIT_OK
    })
}

/// Starts listening on `local` (see the header's top comment for wildcard
/// addresses). `backlog` above the maximum is clamped. Writes `*out` only on
/// success; close it with `tcpkit_listener_close`.
///
/// # Safety
/// `s` is a live stack; `local` is NULL or readable; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_listen(
    s: *mut tcpkit_stack,
    local: *const tcpkit_endpoint,
    backlog: u32,
    out: *mut tcpkit_listener,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(local, out);
        // SAFETY: non-NULL and readable per the contract.
        let (addr, port) = try_c!(convert::endpoint_to_listen(unsafe { &*local }));
        match st.listen(addr, port, backlog) {
            Ok(l) => {
                // SAFETY: checked non-NULL above.
                unsafe { put(out, l.raw()) };
                TCPKIT_OK
            }
            Err(e) => convert::error_code(&e),
        }
    })
}

/// Takes the next established connection from a listener's queue;
/// `TCPKIT_WOULD_BLOCK` when it is empty.
///
/// # Safety
/// `s` is a live stack; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_accept(
    s: *mut tcpkit_stack,
    l: tcpkit_listener,
    out: *mut tcpkit_conn,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(out);
        match st.accept(ListenerHandle::from_raw(l)) {
            Ok(c) => {
                // SAFETY: checked non-NULL above.
                unsafe { put(out, c.raw()) };
                TCPKIT_OK
            }
            Err(e) => convert::error_code(&e),
        }
    })
}

/// Closes a listener; connections still waiting in its queue are refused
/// (RST). The handle is invalid afterwards (a second close is
/// `TCPKIT_ERR_INVALID_HANDLE`).
///
/// # Safety
/// `s` is a live stack.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_listener_close(
    s: *mut tcpkit_stack,
    l: tcpkit_listener,
) -> tcpkit_result {
    with_stack!(s, |st| code(st.listener_close(ListenerHandle::from_raw(l))))
}

/// Opens a connection to `remote` from the first-added local address of its
/// family (`TCPKIT_ERR_ADDR_NOT_AVAILABLE` if none), port `local_port` or an
/// ephemeral one when 0. The SYN comes out of `tcpkit_stack_poll_transmit`;
/// `TCPKIT_EVENT_CONNECTED` follows. Writes `*out` only on success.
///
/// # Safety
/// `s` is a live stack; `remote` is NULL or readable; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_connect(
    s: *mut tcpkit_stack,
    now_us: u64,
    remote: *const tcpkit_endpoint,
    local_port: u16,
    out: *mut tcpkit_conn,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(remote, out);
        // SAFETY: non-NULL and readable per the contract.
        let remote = try_c!(convert::endpoint_to_socket(unsafe { &*remote }));
        match st.connect(Instant::from_micros(now_us), remote, local_port) {
            Ok(c) => {
                // SAFETY: checked non-NULL above.
                unsafe { put(out, c.raw()) };
                TCPKIT_OK
            }
            Err(e) => convert::error_code(&e),
        }
    })
}

/// Like `tcpkit_connect` with both endpoints named (local port 0: ephemeral).
///
/// # Safety
/// `s` is a live stack; `local`, `remote` are NULL or readable; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_connect_from(
    s: *mut tcpkit_stack,
    now_us: u64,
    local: *const tcpkit_endpoint,
    remote: *const tcpkit_endpoint,
    out: *mut tcpkit_conn,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(local, remote, out);
        // SAFETY: non-NULL and readable per the contract.
        let local = try_c!(convert::endpoint_to_socket(unsafe { &*local }));
        // SAFETY: non-NULL and readable per the contract.
        let remote = try_c!(convert::endpoint_to_socket(unsafe { &*remote }));
        match st.connect_from(Instant::from_micros(now_us), local, remote) {
            Ok(c) => {
                // SAFETY: checked non-NULL above.
                unsafe { put(out, c.raw()) };
                TCPKIT_OK
            }
            Err(e) => convert::error_code(&e),
        }
    })
}

/// Queues data: OK with `*out_written` >= 1 (a prefix of `data` was copied),
/// or `TCPKIT_WOULD_BLOCK` when the send buffer is full (`TCPKIT_EVENT_WRITABLE`
/// follows). Data sent before the handshake completes is queued.
/// `TCPKIT_ERR_CLOSED` after `tcpkit_shutdown`.
///
/// # Safety
/// `s` is a live stack; `data` is NULL or points to `len` readable bytes;
/// `out_written` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_send(
    s: *mut tcpkit_stack,
    c: tcpkit_conn,
    data: *const u8,
    len: usize,
    out_written: *mut usize,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(out_written);
        // SAFETY: per the contract.
        let data = try_c!(unsafe { in_buf(data, len) });
        match st.send(ConnHandle::from_raw(c), data) {
            Ok(n) => {
                // SAFETY: checked non-NULL above.
                unsafe { put(out_written, n) };
                TCPKIT_OK
            }
            Err(e) => convert::error_code(&e),
        }
    })
}

/// Reads received data: OK with bytes, OK with `*out_read` = 0 only at end
/// of stream, or `TCPKIT_WOULD_BLOCK` (`TCPKIT_EVENT_READABLE` follows).
/// `cap` 0 is `TCPKIT_ERR_INVALID_ARGUMENT`. After a reset, data already
/// received is returned first, then `TCPKIT_ERR_RESET`.
///
/// # Safety
/// `s` is a live stack; `buf` is NULL or points to `cap` writable bytes;
/// `out_read` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_recv(
    s: *mut tcpkit_stack,
    c: tcpkit_conn,
    buf: *mut u8,
    cap: usize,
    out_read: *mut usize,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(out_read);
        // SAFETY: per the contract.
        let buf = try_c!(unsafe { out_buf(buf, cap) });
        if buf.is_empty() {
            // CONTRACT: a zero-capacity read could not tell data from end of stream.
            return TCPKIT_ERR_INVALID_ARGUMENT;
        }
        match st.recv(ConnHandle::from_raw(c), buf) {
            Ok(n) => {
                // SAFETY: checked non-NULL above.
                unsafe { put(out_read, n) };
                TCPKIT_OK
            }
            Err(e) => convert::error_code(&e),
        }
    })
}

/// Closes our sending side (FIN after the queued data); receiving continues.
///
/// # Safety
/// `s` is a live stack.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_shutdown(s: *mut tcpkit_stack, c: tcpkit_conn) -> tcpkit_result {
    with_stack!(s, |st| code(st.shutdown(ConnHandle::from_raw(c))))
}

/// Closes the connection and releases the handle: queued data is still sent
/// and the FIN exchange finishes on its own; with unread received data an RST
/// is sent instead (RFC 2525). OK also on a connection that has already
/// ended. The handle is invalid afterwards and no more events name it.
///
/// # Safety
/// `s` is a live stack.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_close(s: *mut tcpkit_stack, c: tcpkit_conn) -> tcpkit_result {
    with_stack!(s, |st| code(st.close(ConnHandle::from_raw(c))))
}

/// Resets the connection (RST if synchronized) and releases the handle. OK
/// also on a connection that has already ended.
///
/// # Safety
/// `s` is a live stack.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_abort(s: *mut tcpkit_stack, c: tcpkit_conn) -> tcpkit_result {
    with_stack!(s, |st| code(st.abort(ConnHandle::from_raw(c))))
}

/// Writes the connection's RFC 9293 state to `*out`.
///
/// # Safety
/// `s` is a live stack; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_conn_state(
    s: *mut tcpkit_stack,
    c: tcpkit_conn,
    out: *mut tcpkit_state,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(out);
        match st.state(ConnHandle::from_raw(c)) {
            Ok(state) => {
                // SAFETY: checked non-NULL above.
                unsafe { put(out, convert::state_to_c(state)) };
                TCPKIT_OK
            }
            Err(e) => convert::error_code(&e),
        }
    })
}

/// Copies a snapshot of the connection's state and statistics into `*out`.
///
/// # Safety
/// `s` is a live stack; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_conn_get_info(
    s: *mut tcpkit_stack,
    c: tcpkit_conn,
    out: *mut tcpkit_conn_info,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(out);
        match st.info(ConnHandle::from_raw(c)) {
            Ok(info) => {
                // SAFETY: checked non-NULL above.
                unsafe { put(out, convert::conn_info_to_c(&info)) };
                TCPKIT_OK
            }
            Err(e) => convert::error_code(&e),
        }
    })
}

/// Sets a per-connection option (`TCPKIT_OPT_*`). Unknown options and
/// out-of-range values are `TCPKIT_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `s` is a live stack.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_conn_set_option(
    s: *mut tcpkit_stack,
    c: tcpkit_conn,
    opt: tcpkit_option,
    value: u64,
) -> tcpkit_result {
    with_stack!(s, |st| {
        let opt = try_c!(convert::option_from_c(opt));
        code(st.set_option(ConnHandle::from_raw(c), opt, value))
    })
}

/// Reads a per-connection option into `*out`.
///
/// # Safety
/// `s` is a live stack; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_conn_get_option(
    s: *mut tcpkit_stack,
    c: tcpkit_conn,
    opt: tcpkit_option,
    out: *mut u64,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(out);
        let opt = try_c!(convert::option_from_c(opt));
        match st.get_option(ConnHandle::from_raw(c), opt) {
            Ok(v) => {
                // SAFETY: checked non-NULL above.
                unsafe { put(out, v) };
                TCPKIT_OK
            }
            Err(e) => convert::error_code(&e),
        }
    })
}

/// Binds a UDP socket to `local` (family 4 or 6; port 0: ephemeral).
///
/// # Safety
/// `s` is a live stack; `local` is NULL or readable; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_udp_bind(
    s: *mut tcpkit_stack,
    local: *const tcpkit_endpoint,
    out: *mut tcpkit_udp,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(local, out);
        // SAFETY: non-NULL and readable per the contract.
        let local = try_c!(convert::endpoint_to_socket(unsafe { &*local }));
        match st.udp_bind(local) {
            Ok(u) => {
                // SAFETY: checked non-NULL above.
                unsafe { put(out, u.raw()) };
                TCPKIT_OK
            }
            Err(e) => convert::error_code(&e),
        }
    })
}

/// Sends one datagram to `to`; it comes out of `tcpkit_stack_poll_transmit`.
///
/// # Safety
/// `s` is a live stack; `to` is NULL or readable; `data` is NULL or points
/// to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_udp_send_to(
    s: *mut tcpkit_stack,
    now_us: u64,
    u: tcpkit_udp,
    to: *const tcpkit_endpoint,
    data: *const u8,
    len: usize,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(to);
        // SAFETY: non-NULL and readable per the contract.
        let to = try_c!(convert::endpoint_to_socket(unsafe { &*to }));
        // SAFETY: per the contract.
        let data = try_c!(unsafe { in_buf(data, len) });
        code(st.udp_send_to(
            Instant::from_micros(now_us),
            UdpHandle::from_raw(u),
            to,
            data,
        ))
    })
}

/// Takes the next received datagram into `buf` (`*out_len` bytes, 0 for an
/// empty datagram) and its sender into `*from`; `TCPKIT_WOULD_BLOCK` when
/// none. A datagram longer than `cap` is truncated to `cap` bytes and the
/// rest discarded, like recvfrom(2); `cap` 0 is `TCPKIT_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `s` is a live stack; `buf` is NULL or points to `cap` writable bytes;
/// `out_len` and `from` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_udp_recv_from(
    s: *mut tcpkit_stack,
    u: tcpkit_udp,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    from: *mut tcpkit_endpoint,
) -> tcpkit_result {
    with_stack!(s, |st| {
        check_null!(out_len, from);
        // SAFETY: per the contract.
        let buf = try_c!(unsafe { out_buf(buf, cap) });
        match st.udp_recv_from(UdpHandle::from_raw(u), buf) {
            Ok((n, addr)) => {
                // SAFETY: checked non-NULL above.
                unsafe { put(out_len, n) };
                // SAFETY: checked non-NULL above.
                unsafe { put(from, convert::endpoint_from_socket(&addr)) };
                TCPKIT_OK
            }
            // SAFETY: checked non-NULL above.
            Err(e) => unsafe { fail_with_len(e, out_len) },
        }
    })
}

/// Closes a UDP socket; the handle is invalid afterwards.
///
/// # Safety
/// `s` is a live stack.
#[no_mangle]
pub unsafe extern "C" fn tcpkit_udp_close(s: *mut tcpkit_stack, u: tcpkit_udp) -> tcpkit_result {
    with_stack!(s, |st| code(st.udp_close(UdpHandle::from_raw(u))))
}

#[cfg(test)]
#[allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]
mod tests {
    use super::*;
    use core::ptr;

    fn new_stack() -> *mut tcpkit_stack {
        let mut s: *mut tcpkit_stack = ptr::null_mut();
        // SAFETY: valid out pointer, NULL config.
        assert_eq!(unsafe { tcpkit_stack_new(ptr::null(), &mut s) }, TCPKIT_OK);
        assert!(!s.is_null());
        s
    }

    #[test]
    fn panic_in_a_call_poisons_the_stack_and_free_still_works() {
        let s = new_stack();
        let mut ev = tcpkit_event::default();
        // SAFETY: live stack, valid out pointer.
        assert_eq!(
            unsafe { tcpkit_stack_poll_event(s, &mut ev) },
            TCPKIT_WOULD_BLOCK
        );
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        // The same boundary every extern fn uses, with a body that panics.
        let r = with_stack!(s, |st| {
            let _ = st;
            panic!("simulated bug")
        });
        std::panic::set_hook(hook);
        assert_eq!(r, TCPKIT_ERR_PANIC);
        // SAFETY: live (poisoned) stack, valid out pointers.
        unsafe {
            assert_eq!(tcpkit_stack_poll_event(s, &mut ev), TCPKIT_ERR_PANIC);
            assert_eq!(tcpkit_stack_handle_timeout(s, 0), TCPKIT_ERR_PANIC);
            assert_eq!(
                tcpkit_stack_add_address(s, c"192.0.2.2".as_ptr()),
                TCPKIT_ERR_PANIC
            );
            tcpkit_stack_free(s);
        }
    }

    #[test]
    fn null_pointers_are_err_null_and_outputs_untouched() {
        let s = new_stack();
        let mut out: u64 = 77;
        // SAFETY: NULL and valid pointers only.
        unsafe {
            assert_eq!(
                tcpkit_stack_new(ptr::null(), ptr::null_mut()),
                TCPKIT_ERR_NULL
            );
            assert_eq!(
                tcpkit_stack_feed(ptr::null_mut(), 0, [0u8].as_ptr(), 1),
                TCPKIT_ERR_NULL
            );
            assert_eq!(tcpkit_stack_feed(s, 0, ptr::null(), 0), TCPKIT_ERR_NULL);
            assert_eq!(
                tcpkit_stack_next_timeout(s, ptr::null_mut()),
                TCPKIT_ERR_NULL
            );
            assert_eq!(tcpkit_accept(s, 1, ptr::null_mut()), TCPKIT_ERR_NULL);
            assert_eq!(
                tcpkit_conn_get_option(s, 0, TCPKIT_OPT_NODELAY, &mut out),
                TCPKIT_ERR_INVALID_HANDLE
            );
            assert_eq!(out, 77);
            assert_eq!(
                tcpkit_conn_get_option(s, 0, 99, &mut out),
                TCPKIT_ERR_INVALID_ARGUMENT
            );
            assert_eq!(out, 77);
            tcpkit_stack_free(ptr::null_mut());
            tcpkit_config_default(ptr::null_mut());
            tcpkit_stack_free(s);
        }
    }

    #[test]
    fn stack_new_rejects_bad_config_without_writing_out() {
        let mut cfg = convert::config_to_c(&crate::backend::Config::default());
        cfg.enable_sack = 2;
        let sentinel = 0x10 as *mut tcpkit_stack;
        let mut s = sentinel;
        // SAFETY: valid pointers.
        assert_eq!(
            unsafe { tcpkit_stack_new(&cfg, &mut s) },
            TCPKIT_ERR_INVALID_ARGUMENT
        );
        assert_eq!(s, sentinel);
    }

    #[test]
    fn zero_secret_is_filled_from_the_os() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        assert_eq!(fill_secret(&mut a), Ok(()));
        assert_eq!(fill_secret(&mut b), Ok(()));
        assert_ne!(a, [0u8; 32]);
        assert_ne!(a, b);
        let mut given = [5u8; 32];
        assert_eq!(fill_secret(&mut given), Ok(()));
        assert_eq!(given, [5u8; 32], "a caller's secret is used as given");
    }

    #[test]
    fn endpoint_format_too_small_reports_needed_size() {
        let mut ep = tcpkit_endpoint::default();
        // SAFETY: NUL-terminated text, valid out pointer.
        assert_eq!(
            unsafe { tcpkit_endpoint_parse(c"[2001:db8::1]:80".as_ptr(), &mut ep) },
            TCPKIT_OK
        );
        let mut buf = [0x55 as c_char; 8];
        let mut len = 0usize;
        // SAFETY: buffer of 8 bytes, valid out pointer.
        let r = unsafe { tcpkit_endpoint_format(&ep, buf.as_mut_ptr(), buf.len(), &mut len) };
        assert_eq!(r, TCPKIT_ERR_BUFFER_TOO_SMALL);
        assert_eq!(len, "[2001:db8::1]:80".len() + 1);
        assert!(buf.iter().all(|b| *b == 0x55), "nothing written on failure");
        let mut big = [0 as c_char; TCPKIT_ENDPOINT_STRLEN];
        // SAFETY: buffer of TCPKIT_ENDPOINT_STRLEN bytes, valid out pointer.
        let r = unsafe { tcpkit_endpoint_format(&ep, big.as_mut_ptr(), big.len(), &mut len) };
        assert_eq!(r, TCPKIT_OK);
        // SAFETY: the function NUL-terminated the text.
        let text = unsafe { CStr::from_ptr(big.as_ptr()) };
        assert_eq!(text.to_bytes(), b"[2001:db8::1]:80");
        assert_eq!(len, text.to_bytes().len());
    }

    #[test]
    fn version_and_result_strings_are_static_c_strings() {
        // SAFETY: the library returns static NUL-terminated strings.
        unsafe {
            assert_eq!(
                CStr::from_ptr(tcpkit_version()).to_str(),
                Ok(env!("CARGO_PKG_VERSION"))
            );
            assert_eq!(
                CStr::from_ptr(tcpkit_result_str(12345)).to_bytes(),
                b"unknown result"
            );
            assert_eq!(
                CStr::from_ptr(tcpkit_result_str(TCPKIT_ERR_RESET)).to_bytes(),
                b"connection reset"
            );
        }
    }
}
