//! Stack-wide counters (CONTRACT.md `tcpkit_counters` and more).

/// Stack-wide counters: the fields of `tcpkit_counters`, then more drop
/// reasons, and work counters so tests can assert per-call work stays flat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets_in: u64,
    pub packets_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub dropped_malformed: u64,
    pub dropped_checksum: u64,
    pub dropped_not_for_us: u64,
    pub dropped_no_listener: u64,
    pub syn_cookies_sent: u64,
    pub syn_cookies_accepted: u64,
    pub rst_sent: u64,
    pub challenge_acks_sent: u64,
    pub connections_opened: u64,
    pub connections_closed: u64,
    pub connections_active: u64,
    // --- beyond tcpkit_counters ---
    /// SYNs dropped: accept queue full, or cookie validation failed.
    pub dropped_listen_overflow: u64,
    /// ACKs that looked like a returning SYN cookie but failed validation.
    pub syn_cookies_failed: u64,
    /// Packets dropped because a UDP socket's queue was full.
    pub dropped_udp_queue_full: u64,
    /// Packets with an IP protocol the stack does not handle.
    pub dropped_unknown_protocol: u64,
    /// Segments dropped because the connection limit was reached.
    pub dropped_connection_limit: u64,
    /// Fragments received / datagrams reassembled / fragments dropped
    /// (overlap RFC 5722, memory cap) / reassemblies timed out.
    pub fragments_in: u64,
    pub fragments_reassembled: u64,
    pub fragments_dropped: u64,
    pub fragments_timed_out: u64,
    /// ICMP / ICMPv6 messages in and out; echo replies; errors delivered to
    /// connections; errors ignored (failed RFC 5927 validation); rate-limited.
    pub icmp_in: u64,
    pub icmp_out: u64,
    pub icmp_echo_replies: u64,
    pub icmp_errors_delivered: u64,
    pub icmp_errors_ignored: u64,
    pub icmp_rate_limited: u64,
    /// Path MTU decreases applied (RFC 1191 / RFC 8201).
    pub pmtu_updates: u64,
    /// UDP datagrams in / out.
    pub udp_in: u64,
    pub udp_out: u64,
    /// Connections reaped while orphaned (closed by the app, finished by the stack).
    pub orphans_reaped: u64,
    /// Connections currently orphaned.
    pub orphans_active: u64,
    /// Work: connections touched (handle_segment / poll_transmit / timers / commands).
    pub work_conn_visits: u64,
    /// Work: timer queue pushes and pops.
    pub work_timer_ops: u64,
    /// Work: demux hash lookups.
    pub work_hash_lookups: u64,
    /// Closes turned into aborts (RST) because `Config::max_orphans` orphans
    /// were still finishing.
    pub orphans_aborted: u64,
    /// Fragment reassemblies evicted by the 64-datagram / 1 MiB cap (also
    /// counted in `fragments_dropped` when the arriving fragment is refused).
    pub fragments_evicted: u64,
    /// Handshake-completing ACKs dropped because the listener's accept queue
    /// was full; the SYN-RECEIVED connection (or cookie) stays, and the peer's
    /// next ACK completes it once there is room (Linux tcp_abort_on_overflow=0).
    pub listen_overflows: u64,
    /// Orphans in TIME-WAIT kept as compact records (a subset of
    /// `orphans_active` and `connections_active`).
    pub time_wait_active: u64,
}
