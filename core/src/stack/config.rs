//! Stack configuration: the fields of `tcpkit_config` (CONTRACT.md) with
//! their documented defaults, and validation.

use super::Error;
use crate::time::Duration;

pub use crate::tcp::cc::Congestion;

/// Smallest IPv4 MTU every host must accept (RFC 791: 576 octets).
pub const MIN_MTU_V4: u32 = 576;
/// Smallest IPv6 link MTU (RFC 8200 §5: 1280 octets).
pub const MIN_MTU_V6: u32 = 1280;
/// Largest IP packet the stack builds (IPv4 total length is 16 bits).
pub const MAX_MTU: u32 = 65535;
/// Largest per-connection buffer (bytes): 1 GiB, the most window scale 14 can advertise.
pub const MAX_BUFFER: u32 = 1 << 30;
/// Largest SYN backlog / accept backlog per listener; larger values are clamped.
pub const MAX_BACKLOG: u32 = 65535;
/// Smallest buffer that can hold one segment of data (bytes).
pub const MIN_BUFFER: u32 = 536;

/// Stack configuration. Field names follow `tcpkit_config`; the `*_us`
/// fields are [`Duration`]s here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Link MTU in bytes (IP header included). Default 1500. At least 576
    /// (IPv4, RFC 791); IPv6 needs at least 1280 (RFC 8200), so an MTU
    /// below 1280 disables IPv6 addresses (`add_address` refuses them).
    pub mtu: u32,
    /// Key for ISNs (RFC 6528), SYN cookies, ephemeral ports (RFC 6056) and
    /// the demux hash. Used as given: the core has no randomness, so the host
    /// must fill it from the OS (the C and Python layers do when it is all zero).
    pub isn_secret: [u8; 32],
    /// Per-connection send buffer limit in bytes. Default 256 KiB.
    pub send_buffer: u32,
    /// Per-connection receive buffer limit in bytes. Default 256 KiB.
    pub recv_buffer: u32,
    /// Most connections (all states, orphans and TIME-WAIT included). Default 1048576.
    pub max_connections: u32,
    /// Half-open connections per listener before SYN cookies are used. Default 128.
    pub syn_backlog: u32,
    /// TIME-WAIT duration: 2×MSL with MSL = 30 s (Linux's choice), so 60 s.
    pub time_wait: Duration,
    /// How long an orphaned connection may sit in FIN-WAIT-2. Default 60 s.
    pub fin_wait2_timeout: Duration,
    /// Initial RTO (RFC 6298 §2.1: 1 s).
    pub initial_rto: Duration,
    /// Lower RTO bound. Default 200 ms (Linux), below RFC 6298's 1 s (§2.4 allows it).
    pub min_rto: Duration,
    /// Upper RTO bound. Default 60 s (RFC 6298 §2.5 allows a maximum of at least 60 s).
    pub max_rto: Duration,
    /// Retransmissions of one segment before the connection times out. Default 15 (Linux tcp_retries2).
    pub max_retries: u32,
    /// Delayed ACK timer (RFC 9293 §3.8.6.3 says < 0.5 s). Default 40 ms.
    pub delayed_ack: Duration,
    /// Initial congestion window in segments (RFC 6928). Default 10.
    pub initial_cwnd_segments: u32,
    /// Congestion controller. Default Cubic (RFC 9438).
    pub congestion: Congestion,
    /// HyStart++ (RFC 9406): leave the initial slow start on an RTT increase. Default on.
    pub hystart: bool,
    /// Offer and accept SACK (RFC 2018). Default on.
    pub enable_sack: bool,
    /// Offer and accept timestamps (RFC 7323). Default on.
    pub enable_timestamps: bool,
    /// Offer and accept window scaling (RFC 7323). Default on.
    pub enable_window_scale: bool,
    /// tun2socks mode: listeners on the any-address accept connections to
    /// any destination address (and a port-0 listener to any port). Default off.
    pub accept_any_destination: bool,
    /// Most orphans: connections the application closed that the stack is
    /// still finishing (FIN-WAIT-1/2, CLOSING, LAST-ACK, TIME-WAIT), like
    /// Linux's `tcp_max_orphans`. At the cap, `close` aborts instead (RST, the
    /// connection is freed at once) and `Counters::orphans_aborted` counts it.
    /// 0: every close of a live connection aborts. Default 262144 (a quarter
    /// of the default `max_connections`).
    pub max_orphans: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mtu: 1500,
            isn_secret: [0; 32],
            send_buffer: 256 * 1024,
            recv_buffer: 256 * 1024,
            max_connections: 1_048_576,
            syn_backlog: 128,
            time_wait: Duration::from_secs(60),
            fin_wait2_timeout: Duration::from_secs(60),
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            max_retries: 15,
            delayed_ack: Duration::from_millis(40),
            initial_cwnd_segments: 10,
            congestion: Congestion::Cubic,
            hystart: true,
            enable_sack: true,
            enable_timestamps: true,
            enable_window_scale: true,
            accept_any_destination: false,
            max_orphans: 262_144,
        }
    }
}

impl Config {
    /// Checks every field; `Error::InvalidArgument` for values that cannot work.
    /// A `syn_backlog` above [`MAX_BACKLOG`] is clamped, not refused (CONTRACT: limits are clamped).
    pub fn validate(&self) -> Result<(), Error> {
        let ok = self.mtu >= MIN_MTU_V4
            && self.mtu <= MAX_MTU
            && (MIN_BUFFER..=MAX_BUFFER).contains(&self.send_buffer)
            && (MIN_BUFFER..=MAX_BUFFER).contains(&self.recv_buffer)
            && self.max_connections >= 1
            && self.syn_backlog >= 1
            && self.min_rto > Duration::ZERO
            && self.min_rto <= self.initial_rto
            && self.initial_rto <= self.max_rto
            && self.max_retries >= 1
            && self.initial_cwnd_segments >= 1
            && self.initial_cwnd_segments <= 1000
            && self.delayed_ack < Duration::from_millis(500)
            && self.time_wait <= Duration::from_secs(3600)
            && self.fin_wait2_timeout > Duration::ZERO;
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidArgument)
        }
    }

    /// The configured SYN backlog, clamped to [`MAX_BACKLOG`].
    pub fn syn_backlog_clamped(&self) -> u32 {
        self.syn_backlog.min(MAX_BACKLOG)
    }

    /// True when the MTU is large enough for IPv6 (RFC 8200 §5).
    pub fn ipv6_capable(&self) -> bool {
        self.mtu >= MIN_MTU_V6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_contract() {
        let c = Config::default();
        assert_eq!(c.mtu, 1500);
        assert_eq!(c.max_connections, 1_048_576);
        assert_eq!(c.initial_cwnd_segments, 10);
        assert_eq!(c.delayed_ack, Duration::from_micros(40_000));
        assert_eq!(c.congestion, Congestion::Cubic);
        assert!(c.enable_sack && c.enable_timestamps && c.enable_window_scale);
        assert!(!c.accept_any_destination);
        assert_eq!(c.time_wait, Duration::from_secs(60));
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn nonsense_is_invalid_argument() {
        let bad: [fn(&mut Config); 8] = [
            |c| c.mtu = 575,
            |c| c.mtu = 70000,
            |c| c.send_buffer = 0,
            |c| c.recv_buffer = u32::MAX,
            |c| c.max_connections = 0,
            |c| c.min_rto = Duration::ZERO,
            |c| c.initial_rto = Duration::from_secs(120),
            |c| c.initial_cwnd_segments = 0,
        ];
        for f in bad {
            let mut c = Config::default();
            f(&mut c);
            assert_eq!(c.validate(), Err(Error::InvalidArgument), "{c:?}");
        }
    }

    #[test]
    fn small_mtu_is_v4_only_and_backlog_is_clamped() {
        let c = Config {
            mtu: 576,
            syn_backlog: u32::MAX,
            ..Config::default()
        };
        assert_eq!(c.validate(), Ok(()));
        assert!(!c.ipv6_capable());
        assert_eq!(c.syn_backlog_clamped(), MAX_BACKLOG);
    }
}
