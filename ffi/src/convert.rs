//! Marshalling between the C types and the core's Rust types. Pure functions,
//! no pointers: everything here is unit-tested in Rust.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::fmt::Write as _;

use crate::backend::{
    Config, Congestion, ConnInfo, ConnOption, Counters, Error, Event, ListenAddr, PacketError,
    State,
};
use crate::types::*;
use tcpkit::time::Duration;

/// The C result for a stack error (`BufferTooSmall`'s size is handled by the
/// caller). The numbers live in core (`Error::code`); the ffi tests check that
/// they equal the header's constants.
pub fn error_code(e: &Error) -> tcpkit_result {
    e.code()
}

/// The C result for a rejected packet.
pub fn packet_error_code(e: &PacketError) -> tcpkit_result {
    e.code()
}

/// Static text for a result code; "unknown result" for values not defined in the header.
pub fn result_str(r: tcpkit_result) -> &'static core::ffi::CStr {
    match r {
        TCPKIT_OK => c"ok",
        TCPKIT_WOULD_BLOCK => c"would block",
        TCPKIT_ERR_NULL => c"null pointer argument",
        TCPKIT_ERR_INVALID_ARGUMENT => c"invalid argument",
        TCPKIT_ERR_INVALID_HANDLE => c"invalid handle",
        TCPKIT_ERR_MALFORMED => c"malformed packet",
        TCPKIT_ERR_CHECKSUM => c"bad checksum",
        TCPKIT_ERR_NOT_FOR_US => c"packet not for this stack",
        TCPKIT_ERR_BUFFER_TOO_SMALL => c"buffer too small",
        TCPKIT_ERR_INVALID_STATE => c"invalid state",
        TCPKIT_ERR_ADDR_IN_USE => c"address in use",
        TCPKIT_ERR_NO_PORTS => c"no free ephemeral port",
        TCPKIT_ERR_LIMIT => c"resource limit reached",
        TCPKIT_ERR_REFUSED => c"connection refused",
        TCPKIT_ERR_RESET => c"connection reset",
        TCPKIT_ERR_TIMED_OUT => c"connection timed out",
        TCPKIT_ERR_CLOSED => c"connection closed",
        TCPKIT_ERR_ADDR_NOT_AVAILABLE => c"no local address of that family",
        TCPKIT_ERR_PANIC => c"internal panic (stack poisoned)",
        _ => c"unknown result",
    }
}

/// A C boolean (0 or 1) as `bool`; anything else is invalid.
fn flag(v: u8) -> Result<bool, tcpkit_result> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(TCPKIT_ERR_INVALID_ARGUMENT),
    }
}

/// A `tcpkit_congestion` value as the core's enum.
pub fn congestion_from_c(v: tcpkit_congestion) -> Result<Congestion, tcpkit_result> {
    match v {
        TCPKIT_CC_NEWRENO => Ok(Congestion::NewReno),
        TCPKIT_CC_CUBIC => Ok(Congestion::Cubic),
        _ => Err(TCPKIT_ERR_INVALID_ARGUMENT),
    }
}

/// The core's congestion enum as its C value.
pub fn congestion_to_c(c: Congestion) -> tcpkit_congestion {
    match c {
        Congestion::NewReno => TCPKIT_CC_NEWRENO,
        Congestion::Cubic => TCPKIT_CC_CUBIC,
    }
}

/// A `tcpkit_option` value as the core's enum.
pub fn option_from_c(v: tcpkit_option) -> Result<ConnOption, tcpkit_result> {
    ConnOption::from_u32(v).ok_or(TCPKIT_ERR_INVALID_ARGUMENT)
}

/// The core's defaults as a `tcpkit_config`.
pub fn config_to_c(c: &Config) -> tcpkit_config {
    tcpkit_config {
        mtu: c.mtu,
        isn_secret: c.isn_secret,
        send_buffer: c.send_buffer,
        recv_buffer: c.recv_buffer,
        max_connections: c.max_connections,
        syn_backlog: c.syn_backlog,
        time_wait_us: c.time_wait.as_micros(),
        fin_wait2_timeout_us: c.fin_wait2_timeout.as_micros(),
        initial_rto_us: c.initial_rto.as_micros(),
        min_rto_us: c.min_rto.as_micros(),
        max_rto_us: c.max_rto.as_micros(),
        max_retries: c.max_retries,
        delayed_ack_us: c.delayed_ack.as_micros(),
        initial_cwnd_segments: c.initial_cwnd_segments,
        congestion: congestion_to_c(c.congestion),
        enable_sack: u8::from(c.enable_sack),
        enable_timestamps: u8::from(c.enable_timestamps),
        enable_window_scale: u8::from(c.enable_window_scale),
        accept_any_destination: u8::from(c.accept_any_destination),
        reserved: [0; 64],
    }
}

/// A `tcpkit_config` as the core's `Config` (the secret copied as given;
/// range checks are the core's `Stack::new`).
pub fn config_from_c(c: &tcpkit_config) -> Result<Config, tcpkit_result> {
    Ok(Config {
        mtu: c.mtu,
        isn_secret: c.isn_secret,
        send_buffer: c.send_buffer,
        recv_buffer: c.recv_buffer,
        max_connections: c.max_connections,
        syn_backlog: c.syn_backlog,
        time_wait: Duration::from_micros(c.time_wait_us),
        fin_wait2_timeout: Duration::from_micros(c.fin_wait2_timeout_us),
        initial_rto: Duration::from_micros(c.initial_rto_us),
        min_rto: Duration::from_micros(c.min_rto_us),
        max_rto: Duration::from_micros(c.max_rto_us),
        max_retries: c.max_retries,
        delayed_ack: Duration::from_micros(c.delayed_ack_us),
        initial_cwnd_segments: c.initial_cwnd_segments,
        congestion: congestion_from_c(c.congestion)?,
        enable_sack: flag(c.enable_sack)?,
        enable_timestamps: flag(c.enable_timestamps)?,
        enable_window_scale: flag(c.enable_window_scale)?,
        accept_any_destination: flag(c.accept_any_destination)?,
        // Not in tcpkit_config (CONTRACT.md): the core's default.
        ..Config::default()
    })
}

/// A socket address as a `tcpkit_endpoint`.
pub fn endpoint_from_socket(a: &SocketAddr) -> tcpkit_endpoint {
    let mut addr = [0u8; 16];
    let family = match a.ip() {
        IpAddr::V4(v4) => {
            addr[..4].copy_from_slice(&v4.octets());
            4
        }
        IpAddr::V6(v6) => {
            addr = v6.octets();
            6
        }
    };
    tcpkit_endpoint {
        family,
        addr,
        port: a.port(),
    }
}

/// The IP address of an endpoint of family 4 or 6 (IPv4 needs addr[4..16] zero).
fn endpoint_ip(e: &tcpkit_endpoint) -> Result<IpAddr, tcpkit_result> {
    match e.family {
        4 => {
            let (v4, rest) = e.addr.split_at(4);
            if rest.iter().any(|b| *b != 0) {
                return Err(TCPKIT_ERR_INVALID_ARGUMENT);
            }
            let mut o = [0u8; 4];
            o.copy_from_slice(v4);
            Ok(IpAddr::V4(Ipv4Addr::from(o)))
        }
        6 => Ok(IpAddr::V6(Ipv6Addr::from(e.addr))),
        _ => Err(TCPKIT_ERR_INVALID_ARGUMENT),
    }
}

/// A `tcpkit_endpoint` of family 4 or 6 as a socket address.
pub fn endpoint_to_socket(e: &tcpkit_endpoint) -> Result<SocketAddr, tcpkit_result> {
    Ok(SocketAddr::new(endpoint_ip(e)?, e.port))
}

/// A listen endpoint as (address selector, port): all-zero address with
/// family 4 is every IPv4 address, with family 6 or 0 every address.
pub fn endpoint_to_listen(e: &tcpkit_endpoint) -> Result<(ListenAddr, u16), tcpkit_result> {
    let any = e.addr.iter().all(|b| *b == 0);
    let sel = match (e.family, any) {
        (4, true) => ListenAddr::AnyV4,
        (0 | 6, true) => ListenAddr::Any,
        (0, false) => return Err(TCPKIT_ERR_INVALID_ARGUMENT),
        _ => ListenAddr::Exact(endpoint_ip(e)?),
    };
    Ok((sel, e.port))
}

/// Parses "192.0.2.1:80", "[2001:db8::1]:80", or "*:80" (family 0: any).
pub fn endpoint_parse(text: &str) -> Result<tcpkit_endpoint, tcpkit_result> {
    if let Some(port) = text.strip_prefix("*:") {
        let port = parse_port(port)?;
        return Ok(tcpkit_endpoint {
            family: 0,
            addr: [0; 16],
            port,
        });
    }
    match text.parse::<SocketAddr>() {
        Ok(SocketAddr::V6(v6)) if v6.scope_id() != 0 || v6.flowinfo() != 0 => {
            Err(TCPKIT_ERR_INVALID_ARGUMENT)
        }
        Ok(a) => Ok(endpoint_from_socket(&a)),
        Err(_) => Err(TCPKIT_ERR_INVALID_ARGUMENT),
    }
}

/// A decimal port 0..=65535 without sign or padding surprises.
fn parse_port(s: &str) -> Result<u16, tcpkit_result> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TCPKIT_ERR_INVALID_ARGUMENT);
    }
    s.parse::<u16>().map_err(|_| TCPKIT_ERR_INVALID_ARGUMENT)
}

/// Formats an endpoint as `endpoint_parse` reads it, into a fixed buffer
/// (no allocation). Returns the text length (no NUL).
pub fn endpoint_format(e: &tcpkit_endpoint, out: &mut FixedStr) -> Result<(), tcpkit_result> {
    let r = match e.family {
        0 if e.addr.iter().all(|b| *b == 0) => write!(out, "*:{}", e.port),
        0 => return Err(TCPKIT_ERR_INVALID_ARGUMENT),
        _ => match endpoint_ip(e)? {
            IpAddr::V4(v4) => write!(out, "{}", SocketAddrV4::new(v4, e.port)),
            IpAddr::V6(v6) => write!(out, "{}", SocketAddrV6::new(v6, e.port, 0, 0)),
        },
    };
    r.map_err(|_| TCPKIT_ERR_INVALID_ARGUMENT)
}

/// A stack-allocated string buffer of `TCPKIT_ENDPOINT_STRLEN` bytes.
#[derive(Debug)]
pub struct FixedStr {
    buf: [u8; TCPKIT_ENDPOINT_STRLEN],
    len: usize,
}

impl Default for FixedStr {
    fn default() -> Self {
        FixedStr {
            buf: [0; TCPKIT_ENDPOINT_STRLEN],
            len: 0,
        }
    }
}

impl FixedStr {
    /// The text written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl std::fmt::Write for FixedStr {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(std::fmt::Error)?;
        // Keep one byte for the C string's NUL.
        if end >= self.buf.len() {
            return Err(std::fmt::Error);
        }
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The core's state as its C value (the core's discriminants are the C values).
pub fn state_to_c(s: State) -> tcpkit_state {
    s as tcpkit_state
}

/// A core event as a `tcpkit_event`.
pub fn event_to_c(e: &Event) -> tcpkit_event {
    tcpkit_event {
        kind: e.kind as tcpkit_event_kind,
        handle: e.handle,
        reason: e.reason.as_ref().map_or(TCPKIT_OK, error_code),
        user_data: e.user_data,
    }
}

/// Connection info as a `tcpkit_conn_info`.
pub fn conn_info_to_c(i: &ConnInfo) -> tcpkit_conn_info {
    tcpkit_conn_info {
        state: state_to_c(i.tcp.state),
        local: endpoint_from_socket(&i.local),
        remote: endpoint_from_socket(&i.remote),
        mss: i.tcp.mss,
        srtt_us: i.tcp.srtt_us,
        rttvar_us: i.tcp.rttvar_us,
        rto_us: i.tcp.rto_us,
        cwnd: i.tcp.cwnd,
        ssthresh: i.tcp.ssthresh,
        snd_wnd: i.tcp.snd_wnd,
        rcv_wnd: i.tcp.rcv_wnd,
        bytes_sent: i.tcp.bytes_sent,
        bytes_acked: i.tcp.bytes_acked,
        bytes_received: i.tcp.bytes_received,
        bytes_unsent: i.tcp.bytes_unsent,
        bytes_unacked: i.tcp.bytes_unacked,
        bytes_readable: i.tcp.bytes_readable,
        segs_sent: i.tcp.segs_sent,
        segs_received: i.tcp.segs_received,
        segs_retransmitted: i.tcp.segs_retransmitted,
        timeouts: i.tcp.timeouts,
        sack_recoveries: i.tcp.sack_recoveries,
        reserved: [0; 64],
    }
}

/// Stack counters as a `tcpkit_counters`.
pub fn counters_to_c(c: &Counters) -> tcpkit_counters {
    tcpkit_counters {
        packets_in: c.packets_in,
        packets_out: c.packets_out,
        bytes_in: c.bytes_in,
        bytes_out: c.bytes_out,
        dropped_malformed: c.dropped_malformed,
        dropped_checksum: c.dropped_checksum,
        dropped_not_for_us: c.dropped_not_for_us,
        dropped_no_listener: c.dropped_no_listener,
        syn_cookies_sent: c.syn_cookies_sent,
        syn_cookies_accepted: c.syn_cookies_accepted,
        rst_sent: c.rst_sent,
        challenge_acks_sent: c.challenge_acks_sent,
        connections_opened: c.connections_opened,
        connections_closed: c.connections_closed,
        connections_active: c.connections_active,
        reserved: [0; 128],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(e: &tcpkit_endpoint) -> Result<String, tcpkit_result> {
        let mut s = FixedStr::default();
        endpoint_format(e, &mut s)?;
        Ok(String::from_utf8_lossy(s.as_bytes()).into_owned())
    }

    #[test]
    fn endpoint_parse_v4_and_v6() {
        let e = endpoint_parse("192.0.2.1:80").unwrap_or_default();
        assert_eq!(e.family, 4);
        assert_eq!(&e.addr[..4], &[192, 0, 2, 1]);
        assert!(e.addr[4..].iter().all(|b| *b == 0));
        assert_eq!(e.port, 80);
        let e = endpoint_parse("[2001:db8::1]:443").unwrap_or_default();
        assert_eq!(e.family, 6);
        assert_eq!(
            e.addr,
            "2001:db8::1"
                .parse::<Ipv6Addr>()
                .map(|a| a.octets())
                .unwrap_or_default()
        );
        assert_eq!(e.port, 443);
        let e = endpoint_parse("*:8080").unwrap_or_default();
        assert_eq!((e.family, e.addr, e.port), (0, [0; 16], 8080));
    }

    #[test]
    fn endpoint_parse_rejects_garbage() {
        for bad in [
            "",
            "1.2.3.4",
            "1.2.3.4:",
            "1.2.3.4:65536",
            "1.2.3.4:-1",
            "1.2.3.4:+1",
            "2001:db8::1:80",
            "[2001:db8::1]",
            "[fe80::1%2]:80",
            "*:",
            "*:x",
            "256.0.0.1:1",
            "host:80",
            " 1.2.3.4:80",
        ] {
            assert_eq!(
                endpoint_parse(bad),
                Err(TCPKIT_ERR_INVALID_ARGUMENT),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn endpoint_format_round_trips() {
        for text in [
            "192.0.2.1:80",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "[2001:db8::1]:80",
            "[::]:0",
            "[::ffff:192.0.2.1]:1",
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
            "*:9",
        ] {
            let e = endpoint_parse(text).unwrap_or_default();
            assert_eq!(fmt(&e).as_deref(), Ok(text));
        }
    }

    #[test]
    fn endpoint_format_longest_fits_and_bad_family_fails() {
        let e = tcpkit_endpoint {
            family: 6,
            addr: [0xff; 16],
            port: 65535,
        };
        let s = fmt(&e).unwrap_or_default();
        assert!(s.len() < TCPKIT_ENDPOINT_STRLEN, "{s}");
        let bad = tcpkit_endpoint { family: 5, ..e };
        assert_eq!(fmt(&bad), Err(TCPKIT_ERR_INVALID_ARGUMENT));
        let v4_junk = tcpkit_endpoint {
            family: 4,
            addr: [1; 16],
            port: 1,
        };
        assert_eq!(fmt(&v4_junk), Err(TCPKIT_ERR_INVALID_ARGUMENT));
        assert_eq!(
            endpoint_to_socket(&v4_junk),
            Err(TCPKIT_ERR_INVALID_ARGUMENT)
        );
    }

    #[test]
    fn listen_endpoints_select_families() {
        let mut e = tcpkit_endpoint {
            port: 7,
            ..Default::default()
        };
        assert_eq!(endpoint_to_listen(&e), Ok((ListenAddr::Any, 7)));
        e.family = 6;
        assert_eq!(endpoint_to_listen(&e), Ok((ListenAddr::Any, 7)));
        e.family = 4;
        assert_eq!(endpoint_to_listen(&e), Ok((ListenAddr::AnyV4, 7)));
        e.addr[0] = 10;
        assert_eq!(
            endpoint_to_listen(&e),
            Ok((ListenAddr::Exact(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0))), 7))
        );
        e.family = 0;
        assert_eq!(endpoint_to_listen(&e), Err(TCPKIT_ERR_INVALID_ARGUMENT));
        e.family = 9;
        assert_eq!(endpoint_to_listen(&e), Err(TCPKIT_ERR_INVALID_ARGUMENT));
    }

    #[test]
    fn result_strings_are_distinct_and_unknown_is_named() {
        let known: Vec<tcpkit_result> = (0..=115)
            .chain([199])
            .filter(|r| *r <= 1 || *r >= 100)
            .collect();
        let mut seen = std::collections::HashSet::new();
        for r in &known {
            let s = result_str(*r).to_str().unwrap_or_default();
            assert_ne!(s, "unknown result", "{r}");
            assert!(seen.insert(s), "duplicate text for {r}");
        }
        for r in [2, 99, 116, 198, 200, u32::MAX] {
            assert_eq!(result_str(r).to_bytes(), b"unknown result");
        }
    }

    #[test]
    fn every_stack_error_maps_to_its_code() {
        let cases = [
            (Error::WouldBlock, TCPKIT_WOULD_BLOCK),
            (Error::InvalidArgument, TCPKIT_ERR_INVALID_ARGUMENT),
            (Error::InvalidHandle, TCPKIT_ERR_INVALID_HANDLE),
            (Error::InvalidState, TCPKIT_ERR_INVALID_STATE),
            (Error::AddrInUse, TCPKIT_ERR_ADDR_IN_USE),
            (Error::NoPorts, TCPKIT_ERR_NO_PORTS),
            (Error::Limit, TCPKIT_ERR_LIMIT),
            (Error::Refused, TCPKIT_ERR_REFUSED),
            (Error::Reset, TCPKIT_ERR_RESET),
            (Error::TimedOut, TCPKIT_ERR_TIMED_OUT),
            (Error::Closed, TCPKIT_ERR_CLOSED),
            (Error::AddrNotAvailable, TCPKIT_ERR_ADDR_NOT_AVAILABLE),
            (
                Error::BufferTooSmall { needed: 9 },
                TCPKIT_ERR_BUFFER_TOO_SMALL,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(error_code(&e), code, "{e:?}");
        }
        assert_eq!(
            packet_error_code(&PacketError::Malformed),
            TCPKIT_ERR_MALFORMED
        );
        assert_eq!(
            packet_error_code(&PacketError::Checksum),
            TCPKIT_ERR_CHECKSUM
        );
        assert_eq!(
            packet_error_code(&PacketError::NotForUs),
            TCPKIT_ERR_NOT_FOR_US
        );
    }

    #[test]
    fn config_round_trips_and_rejects_bad_enums() {
        let core = Config::default();
        let c = config_to_c(&core);
        assert_eq!(c.mtu, 1500);
        assert_eq!(c.max_connections, 1_048_576);
        assert_eq!(c.delayed_ack_us, 40_000);
        assert_eq!(c.initial_cwnd_segments, 10);
        assert_eq!(c.congestion, TCPKIT_CC_CUBIC);
        assert_eq!(
            (c.enable_sack, c.enable_timestamps, c.enable_window_scale),
            (1, 1, 1)
        );
        // The defaults the header documents on each field.
        assert_eq!(
            (c.send_buffer, c.recv_buffer, c.syn_backlog),
            (262_144, 262_144, 128)
        );
        assert_eq!(
            (c.time_wait_us, c.fin_wait2_timeout_us),
            (60_000_000, 60_000_000)
        );
        assert_eq!(
            (c.initial_rto_us, c.min_rto_us, c.max_rto_us),
            (1_000_000, 200_000, 60_000_000)
        );
        assert_eq!((c.max_retries, c.accept_any_destination), (15, 0));
        assert_eq!(config_from_c(&c), Ok(core.clone()));
        let mut changed = c;
        changed.mtu = 9000;
        changed.isn_secret = [7; 32];
        changed.min_rto_us = 12_345;
        changed.congestion = TCPKIT_CC_NEWRENO;
        changed.accept_any_destination = 1;
        let back = config_from_c(&changed).unwrap_or_default();
        assert_eq!(back.mtu, 9000);
        assert_eq!(back.isn_secret, [7; 32]);
        assert_eq!(back.min_rto, Duration::from_micros(12_345));
        assert_eq!(back.congestion, Congestion::NewReno);
        assert!(back.accept_any_destination);
        assert_eq!(config_to_c(&back), changed);
        for f in [
            |c: &mut tcpkit_config| c.congestion = 0,
            |c: &mut tcpkit_config| c.congestion = 3,
            |c: &mut tcpkit_config| c.enable_sack = 2,
            |c: &mut tcpkit_config| c.accept_any_destination = 255,
        ] {
            let mut bad = c;
            f(&mut bad);
            assert_eq!(config_from_c(&bad), Err(TCPKIT_ERR_INVALID_ARGUMENT));
        }
    }

    #[test]
    fn options_map_and_unknown_is_invalid() {
        assert_eq!(option_from_c(TCPKIT_OPT_NODELAY), Ok(ConnOption::NoDelay));
        assert_eq!(
            option_from_c(TCPKIT_OPT_USER_DATA),
            Ok(ConnOption::UserData)
        );
        for v in 1..=9 {
            assert!(option_from_c(v).is_ok(), "{v}");
        }
        for v in [0, 10, u32::MAX] {
            assert_eq!(option_from_c(v), Err(TCPKIT_ERR_INVALID_ARGUMENT));
        }
    }
}
