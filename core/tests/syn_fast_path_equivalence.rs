//! The fixed-offset parse of the SYN option layout (stack/packet.rs
//! `parse_tcp_deferred_syn`: data offset 10; MSS; SACK-permitted or NOP
//! NOP, timestamps; NOP, window scale) must act exactly as the general
//! parser. Each SYN below goes to two identical listening stacks in two
//! encodings of the same options:
//!  - in that layout (what tcpkit and Linux send), read at fixed offsets;
//!  - with the NOP + window scale word moved to the front (the same
//!    option words, so the same data offset and checksum), which only the
//!    general parser reads.
//!
//! The SYNs start from one a client stack really sent and get random
//! changes: sequence and ACK numbers, flags, window, MSS, shift (above 14
//! too), SACK-permitted or not, TSval/TSecr, ports, addresses, payload,
//! checksum, cut and padded buffers. The results, every counter, every
//! packet each stack sends (SYN-ACKs, SYN-cookie SYN-ACKs, RSTs) and the
//! connections the listener accepts must agree.

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{Config, Counters, ListenAddr, ListenerHandle, PacketError, Stack};
use tcpkit::{Duration, Instant};
use util::*;

/// A SYN's parts, changed at will, then encoded either way.
#[derive(Clone, Debug)]
struct Syn {
    ip: [u8; 20],
    /// The fixed TCP header (20 bytes).
    tcp: [u8; 20],
    mss: u16,
    sack_permitted: bool,
    /// TSval, TSecr.
    ts: [u8; 8],
    shift: u8,
    payload: Vec<u8>,
    tcp_csum_delta: u16,
    cut: usize,
    pad: usize,
}

impl Syn {
    /// From a SYN a stack sent (IPv4, the SYN layout).
    fn from(buf: &[u8]) -> Syn {
        assert_eq!(buf[32] >> 4, 10, "data offset 10");
        assert_eq!(buf[40..42], [2, 4], "MSS first");
        assert_eq!(buf[46..48], [8, 10], "timestamps");
        assert_eq!(buf[56..59], [1, 3, 3], "NOP, window scale last");
        Syn {
            ip: buf[..20].try_into().expect("ip"),
            tcp: buf[20..40].try_into().expect("tcp"),
            mss: u16::from_be_bytes([buf[42], buf[43]]),
            sack_permitted: buf[44..46] == [4, 2],
            ts: buf[48..56].try_into().expect("ts"),
            shift: buf[59],
            payload: buf[60..].to_vec(),
            tcp_csum_delta: 0,
            cut: 0,
            pad: 0,
        }
    }

    /// `general`: the window-scale word first, which the fixed-offset
    /// parser does not take.
    fn encode(&self, general: bool) -> Vec<u8> {
        let [m0, m1] = self.mss.to_be_bytes();
        let mss = [2, 4, m0, m1];
        let sack: [u8; 2] = if self.sack_permitted { [4, 2] } else { [1, 1] };
        let ts = [&sack[..], &[8, 10], &self.ts].concat();
        let ws = [1, 3, 3, self.shift];
        let opts = if general {
            [&ws[..], &mss, &ts].concat()
        } else {
            [&mss[..], &ts, &ws].concat()
        };
        let mut tcp = [&self.tcp[..], &opts, &self.payload].concat();
        tcp[12] = (10 << 4) | (tcp[12] & 0x0f);
        tcp[16..18].copy_from_slice(&[0, 0]);
        let (src, dst) = (&self.ip[12..16], &self.ip[16..20]);
        let pseudo = sum16(src, sum16(dst, 6 + tcp.len() as u32));
        let c = !fold(sum16(&tcp, pseudo));
        tcp[16..18].copy_from_slice(&(c ^ self.tcp_csum_delta).to_be_bytes());
        let mut ip = self.ip.to_vec();
        ip[2..4].copy_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
        ip[10..12].copy_from_slice(&[0, 0]);
        let c = !fold(sum16(&ip, 0));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let mut out = [ip, tcp].concat();
        out.truncate(out.len().saturating_sub(self.cut));
        out.resize(out.len() + self.pad, 0x5a);
        out
    }
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// One to three random changes to the SYN.
fn mutate(base: &Syn, rng: &mut Rng) -> Syn {
    let mut p = base.clone();
    for _ in 0..=rng.below(3) {
        match rng.below(13) {
            0 => {
                let seq = get_u32(&p.tcp, 4);
                set_u32(&mut p.tcp, 4, seq.wrapping_add(rng.next_u64() as u32));
            }
            1 => set_u32(&mut p.tcp, 8, rng.next_u64() as u32),
            2 => {
                // Mostly SYN with or without ACK, sometimes anything.
                p.tcp[13] = match rng.below(4) {
                    0 => 0x02,
                    1 => 0x12,
                    _ => rng.next_u64() as u8,
                };
            }
            3 => p.tcp[14..16].copy_from_slice(&(rng.next_u64() as u16).to_be_bytes()),
            4 => {
                p.mss = match rng.below(3) {
                    0 => 0,
                    1 => rng.below(600) as u16,
                    _ => rng.next_u64() as u16,
                }
            }
            5 => p.shift = rng.below(256) as u8,
            6 => p.sack_permitted = !p.sack_permitted,
            7 => {
                let r = rng.next_u64();
                p.ts.copy_from_slice(&r.to_be_bytes());
            }
            8 => {
                // The source port (a new 4-tuple, or an existing one) or a
                // destination port with or without a listener.
                if rng.below(2) == 0 {
                    let port = 40_000 + rng.below(64) as u16;
                    p.tcp[0..2].copy_from_slice(&port.to_be_bytes());
                } else {
                    let port = 79 + rng.below(3) as u16;
                    p.tcp[2..4].copy_from_slice(&port.to_be_bytes());
                }
            }
            9 => {
                let len = [0, 1, 7, 100][rng.below(4) as usize];
                p.payload = pattern(len, rng.next_u64() as u32);
            }
            10 => p.tcp_csum_delta = 1 << rng.below(16),
            // A cut or padded buffer, not both: padding after a cut would
            // stand in for different option bytes in the two encodings.
            11 => match rng.below(2) {
                0 => (p.cut, p.pad) = (rng.below(44) as usize, 0),
                _ => (p.cut, p.pad) = (0, rng.below(20) as usize),
            },
            _ => {
                // Another source address (a new 4-tuple).
                p.ip[15] = [1, 7, 9, 200][rng.below(4) as usize];
            }
        }
    }
    p
}

/// What a stack did with a packet, for comparing.
#[derive(Debug, PartialEq)]
struct Seen {
    result: Result<(), PacketError>,
    counters: Counters,
    sent: Vec<Vec<u8>>,
    accepted: usize,
}

fn feed(s: &mut Stack, l: ListenerHandle, now: Instant, pkt: &[u8]) -> Seen {
    let result = s.feed(now, pkt);
    let mut sent = Vec::new();
    let mut buf = vec![0u8; 4000];
    while let Ok(n) = s.poll_transmit(now, &mut buf) {
        sent.push(buf[..n].to_vec());
    }
    let mut accepted = 0;
    while let Ok(c) = s.accept(l) {
        accepted += 1;
        let _ = s.close(c);
    }
    drain(s);
    Seen {
        result,
        counters: *s.counters(),
        sent,
        accepted,
    }
}

/// A SYN a client stack sent to 192.0.2.2:80, and a listening stack.
fn setup(cfg: &Config) -> (Stack, ListenerHandle, Vec<u8>, Instant) {
    let mut p = Pair::with(cfg.clone(), cfg.clone());
    let l = p.b.listen(ListenAddr::Any, 80, 4).expect("listen");
    p.a.connect(p.now, sa(B4, 80), 40_000).expect("connect");
    let mut buf = vec![0u8; 2000];
    let n = p.a.poll_transmit(p.now, &mut buf).expect("a SYN");
    buf.truncate(n);
    (p.b, l, buf, p.now)
}

#[test]
fn syn_fast_parse_acts_as_the_general_parse() {
    let cfg = Config {
        syn_backlog: 8,
        ..config(5)
    };
    let (mut fast, l, syn, mut now) = setup(&cfg);
    let (mut general, l2, syn2, _) = setup(&cfg);
    assert_eq!(l, l2);
    assert_eq!(syn, syn2, "the setup is deterministic");
    let base = Syn::from(&syn);
    assert!(base.sack_permitted && base.shift <= 14 && base.payload.is_empty());
    let mut rng = Rng(0x5eed_0005);
    let (mut syn_acks, mut ok) = (0, 0);
    for i in 0..5000 {
        let p = if i == 0 {
            base.clone()
        } else {
            mutate(&base, &mut rng)
        };
        let a = feed(&mut fast, l, now, &p.encode(false));
        let b = feed(&mut general, l, now, &p.encode(true));
        assert_eq!(a, b, "packet {i}: {p:?}");
        ok += usize::from(a.result.is_ok());
        syn_acks += a.sent.iter().filter(|s| s[33] == 0x12).count();
        if rng.below(40) == 0 {
            now += Duration::from_millis(rng.below(5000));
            fast.handle_timeout(now);
            general.handle_timeout(now);
        }
    }
    // Most SYNs parsed, and many were answered (half-open entries and
    // SYN cookies once the backlog was full).
    let k = fast.counters();
    assert!(ok > 2500 && syn_acks > 800, "{ok} {syn_acks}");
    assert!(k.syn_cookies_sent > 10, "{}", k.syn_cookies_sent);
    assert!(k.dropped_checksum > 50, "{}", k.dropped_checksum);
}
