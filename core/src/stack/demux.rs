//! 4-tuple demux: flow key -> connection slot in O(1), through a hashbrown
//! map keyed with SipHash so peers cannot aim collisions (no HashDoS).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

use hashbrown::HashTable;

use super::siphash::siphash13_words;

/// A compact 4-tuple: IPv4 addresses are stored IPv4-mapped (RFC 4291 §2.5.5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub local: [u8; 16],
    pub remote: [u8; 16],
    pub local_port: u16,
    pub remote_port: u16,
}

/// The 16-byte form of an address (IPv4 mapped into IPv6).
pub fn addr16(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => (V4_MAPPED << 32 | u128::from(u32::from(a))).to_be_bytes(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// [`addr16`] as a big-endian integer, for comparing in registers.
#[inline]
fn addr128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => V4_MAPPED << 32 | u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The top 96 bits of an IPv4-mapped address (::ffff:0:0/96).
const V4_MAPPED: u128 = 0xffff;

/// The first 12 bytes of a 16-byte form, and what they are for an
/// IPv4-mapped address, as native-endian words: the test per packet sent
/// is a mask and a compare, without byte swaps.
const MAPPED_MASK: u128 = u128::from_ne_bytes([
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
]);
const MAPPED_PREFIX: u128 =
    u128::from_ne_bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]);

/// True if the 16-byte form is an IPv4-mapped address.
#[inline]
fn is_mapped(b: [u8; 16]) -> bool {
    u128::from_ne_bytes(b) & MAPPED_MASK == MAPPED_PREFIX
}

/// The IPv4 address in the last 4 bytes of a mapped 16-byte form.
#[inline]
fn mapped_v4(b: [u8; 16]) -> Ipv4Addr {
    let [.., w, x, y, z] = b;
    Ipv4Addr::new(w, x, y, z)
}

/// The address back from its 16-byte form (runs per packet sent: plain
/// integer work, no segment-by-segment checks).
pub fn addr_from16(b: [u8; 16]) -> IpAddr {
    if is_mapped(b) {
        IpAddr::V4(mapped_v4(b))
    } else {
        IpAddr::V6(Ipv6Addr::from(b))
    }
}

impl FlowKey {
    pub fn new(local: SocketAddr, remote: SocketAddr) -> Self {
        FlowKey {
            local: addr16(local.ip()),
            remote: addr16(remote.ip()),
            local_port: local.port(),
            remote_port: remote.port(),
        }
    }

    /// `self == FlowKey::new(local, remote)`, compared field by field in
    /// registers: a key built in memory and compared at once is re-read with
    /// wide loads of its fresh narrow stores (a stall per packet).
    #[inline]
    pub fn matches(&self, local: SocketAddr, remote: SocketAddr) -> bool {
        self.local_port == local.port()
            && self.remote_port == remote.port()
            && u128::from_be_bytes(self.local) == addr128(local.ip())
            && u128::from_be_bytes(self.remote) == addr128(remote.ip())
    }

    /// (local, remote) of an IPv4 flow, straight from the key's words.
    #[inline]
    pub fn v4_endpoints(&self) -> Option<(SocketAddrV4, SocketAddrV4)> {
        if !is_mapped(self.local) || !is_mapped(self.remote) {
            return None;
        }
        Some((
            SocketAddrV4::new(mapped_v4(self.local), self.local_port),
            SocketAddrV4::new(mapped_v4(self.remote), self.remote_port),
        ))
    }

    /// True for an IPv6 flow.
    pub fn is_ipv6(&self) -> bool {
        !is_mapped(self.local)
    }

    pub fn local(&self) -> SocketAddr {
        SocketAddr::new(addr_from16(self.local), self.local_port)
    }

    pub fn remote(&self) -> SocketAddr {
        SocketAddr::new(addr_from16(self.remote), self.remote_port)
    }

    /// Keyed hash for the demux table, one SipHash-1-3 call, no per-byte
    /// work: an IPv4 flow as the two words of [`FlowKey::v4_prf_words`],
    /// any other as the 36-byte key in four words and a final word (ports
    /// plus length byte).
    #[inline]
    pub fn demux_hash(&self, k0: u64, k1: u64) -> u64 {
        if let Some((word, last)) = self.v4_prf_words() {
            return siphash13_words(k0, k1, &[word], last);
        }
        let l = u128::from_le_bytes(self.local);
        let r = u128::from_le_bytes(self.remote);
        let words = [l as u64, (l >> 64) as u64, r as u64, (r >> 64) as u64];
        let ports = u64::from(self.local_port) | u64::from(self.remote_port) << 16;
        siphash13_words(k0, k1, &words, ports | (36u64 << 56))
    }

    /// An IPv4 flow (both addresses IPv4-mapped) as SipHash message words:
    /// its 12 bytes (local address, remote address, local port, remote
    /// port, big-endian), i.e. one word and the final word with the length
    /// byte 12 — two compressions instead of the five of the 36-byte form.
    /// The length byte keeps the two forms' inputs distinct.
    #[inline]
    pub fn v4_prf_words(&self) -> Option<(u64, u64)> {
        let (l, r) = (
            u128::from_be_bytes(self.local),
            u128::from_be_bytes(self.remote),
        );
        if l >> 32 != V4_MAPPED || r >> 32 != V4_MAPPED {
            return None;
        }
        let [a, b, c, d] = (l as u32).to_be_bytes();
        let [e, f, g, h] = (r as u32).to_be_bytes();
        let [p0, p1] = self.local_port.to_be_bytes();
        let [p2, p3] = self.remote_port.to_be_bytes();
        let word = u64::from_le_bytes([a, b, c, d, e, f, g, h]);
        let last = u64::from(u32::from_le_bytes([p0, p1, p2, p3])) | (12u64 << 56);
        Some((word, last))
    }

    /// The bytes [`FlowKey::v4_prf_words`] or [`FlowKey::prf_words`] stand
    /// for, and how many of them (tests compare with a byte-wise SipHash).
    #[cfg(test)]
    pub fn prf_bytes(&self) -> ([u8; 36], usize) {
        let b = self.to_bytes();
        if self.v4_prf_words().is_none() {
            return (b, 36);
        }
        let mut out = [0u8; 36];
        out[..4].copy_from_slice(&b[12..16]);
        out[4..8].copy_from_slice(&b[28..32]);
        out[8..12].copy_from_slice(&b[32..36]);
        (out, 12)
    }

    /// [`FlowKey::to_bytes`] as SipHash message words (four little-endian
    /// words and the final word with the length byte), so a word-based
    /// SipHash gives the same value as hashing the bytes.
    pub fn prf_words(&self) -> ([u64; 4], u64) {
        let l = u128::from_le_bytes(self.local);
        let r = u128::from_le_bytes(self.remote);
        let ports = u32::from_le_bytes({
            let [a, b] = self.local_port.to_be_bytes();
            let [c, d] = self.remote_port.to_be_bytes();
            [a, b, c, d]
        });
        (
            [l as u64, (l >> 64) as u64, r as u64, (r >> 64) as u64],
            u64::from(ports) | (36u64 << 56),
        )
    }

    /// The key as bytes, for keyed hashing (ISN, cookies).
    pub fn to_bytes(&self) -> [u8; 36] {
        let mut b = [0u8; 36];
        b[..16].copy_from_slice(&self.local);
        b[16..32].copy_from_slice(&self.remote);
        b[32..34].copy_from_slice(&self.local_port.to_be_bytes());
        b[34..36].copy_from_slice(&self.remote_port.to_be_bytes());
        b
    }
}

/// Flow key -> slot index. The table stores only the 4-byte slot index
/// (5 bytes per bucket with hashbrown's control byte); keys are read from the
/// slots through `key_of`, so the 36-byte key is not stored twice.
#[derive(Debug)]
pub struct Demux {
    table: HashTable<u32>,
    /// SipHash key: secret, so peers cannot aim collisions.
    k0: u64,
    k1: u64,
    /// The last key hashed and its hash. Packets come in trains of one flow,
    /// and a connection's lookup, insert and remove name the same key: they
    /// hash once (a 36-byte compare instead of a SipHash).
    memo: Option<(FlowKey, u64)>,
}

impl Demux {
    pub fn new(k0: u64, k1: u64) -> Self {
        Demux {
            table: HashTable::new(),
            k0,
            k1,
            memo: None,
        }
    }

    fn hash(&mut self, key: &FlowKey) -> u64 {
        match self.memo {
            Some((k, h)) if k == *key => h,
            _ => {
                let h = key.demux_hash(self.k0, self.k1);
                self.memo = Some((*key, h));
                h
            }
        }
    }

    /// The slot holding `key`; `key_of(slot)` gives a slot's key.
    pub fn get(&mut self, key: &FlowKey, key_of: impl Fn(u32) -> Option<FlowKey>) -> Option<u32> {
        let h = self.hash(key);
        self.table
            .find(h, |&i| key_of(i).as_ref() == Some(key))
            .copied()
    }

    /// Inserts; false (and no change) if the key is taken.
    pub fn insert(
        &mut self,
        key: FlowKey,
        slot: u32,
        key_of: impl Fn(u32) -> Option<FlowKey>,
    ) -> bool {
        let h = self.hash(&key);
        if self
            .table
            .find(h, |&i| key_of(i).as_ref() == Some(&key))
            .is_some()
        {
            return false;
        }
        let (k0, k1) = (self.k0, self.k1);
        self.table
            .insert_unique(h, slot, |&i| key_of(i).map_or(0, |k| k.demux_hash(k0, k1)));
        true
    }

    /// Removes the entry of `slot` (whose key is `key`).
    pub fn remove(&mut self, key: &FlowKey, slot: u32) -> bool {
        let h = self.hash(key);
        match self.table.find_entry(h, |&i| i == slot) {
            Ok(e) => {
                e.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// Points the entry of `slot` (whose key is `key`) at `new_slot`, the
    /// same key: one probe instead of a remove and an insert (a connection
    /// becoming a TIME-WAIT record and back). False if there is no entry.
    pub fn replace(&mut self, key: &FlowKey, slot: u32, new_slot: u32) -> bool {
        let h = self.hash(key);
        match self.table.find_mut(h, |&i| i == slot) {
            Some(v) => {
                *v = new_slot;
                true
            }
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Approximate heap bytes (buckets + control bytes), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.table.capacity() * (core::mem::size_of::<u32>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(ip: [u8; 4], port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)
    }

    /// `v4_endpoints` gives the IPv4 endpoints of a flow, and nothing for IPv6.
    #[test]
    fn v4_endpoints_of_a_key() {
        let (l, r) = (sa([10, 0, 0, 1], 80), sa([192, 0, 2, 9], 40000));
        let v4 = |a: SocketAddr| match a {
            SocketAddr::V4(a) => a,
            SocketAddr::V6(_) => unreachable!(),
        };
        assert_eq!(FlowKey::new(l, r).v4_endpoints(), Some((v4(l), v4(r))));
        let six = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 80);
        assert_eq!(FlowKey::new(six, six).v4_endpoints(), None);
    }

    /// `matches` agrees with building the key and comparing, for IPv4 and
    /// IPv6 flows differing in each field (and an IPv4-mapped IPv6 address,
    /// which is the same key as its IPv4 form).
    #[test]
    fn matches_is_key_equality() {
        let v6 = |last: u16, port: u16| {
            SocketAddr::new(
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)),
                port,
            )
        };
        let mapped = SocketAddr::new(IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped()), 80);
        let ends = [
            sa([10, 0, 0, 1], 80),
            sa([10, 0, 0, 1], 81),
            sa([10, 0, 0, 2], 80),
            sa([1, 0, 0, 10], 80),
            v6(1, 80),
            v6(2, 80),
            v6(1, 81),
            mapped,
        ];
        let mut equal = 0;
        for &a in &ends {
            for &b in &ends {
                let key = FlowKey::new(a, b);
                for &c in &ends {
                    for &d in &ends {
                        let same = key == FlowKey::new(c, d);
                        assert_eq!(key.matches(c, d), same, "{a} {b} / {c} {d}");
                        equal += usize::from(same);
                    }
                }
            }
        }
        // Each pair matches itself, and the mapped address its IPv4 twin.
        assert!(equal > ends.len() * ends.len(), "{equal}");
    }

    #[test]
    fn insert_lookup_remove_and_round_trip() {
        let mut d = Demux::new(1, 2);
        // Slot i holds key i (the stack's slab plays this part).
        let keys: alloc::vec::Vec<FlowKey> = (0..2000u16)
            .map(|p| FlowKey::new(sa([192, 0, 2, 2], 80), sa([192, 0, 2, 1], 10000 + p)))
            .collect();
        let key_of = |i: u32| keys.get(i as usize).copied();
        let k = keys[7];
        assert_eq!(k.local(), sa([192, 0, 2, 2], 80));
        assert_eq!(k.remote(), sa([192, 0, 2, 1], 10007));
        for i in 0..keys.len() as u32 {
            assert!(
                d.insert(keys[i as usize], i, key_of),
                "grows and rehashes through key_of"
            );
        }
        assert!(!d.insert(k, 8, key_of), "an identical 4-tuple is refused");
        assert_eq!(d.get(&k, key_of), Some(7));
        assert_eq!(d.get(&keys[1999], key_of), Some(1999));
        let swapped = FlowKey::new(k.remote(), k.local());
        assert_eq!(d.get(&swapped, key_of), None);
        assert!(d.remove(&k, 7));
        assert!(!d.remove(&k, 7));
        assert_eq!(d.get(&k, key_of), None);
        assert_eq!(d.len(), 1999);
    }

    #[test]
    fn replace_moves_a_key_to_another_slot() {
        let mut d = Demux::new(5, 6);
        // Slots 0..100 hold keys 0..100, and slot 1000 + i holds key i too
        // (a connection and the TIME-WAIT record that replaces it).
        let keys: alloc::vec::Vec<FlowKey> = (0..100u16)
            .map(|p| FlowKey::new(sa([192, 0, 2, 2], 80), sa([192, 0, 2, 1], 20000 + p)))
            .collect();
        let key_of = |i: u32| keys.get((i % 1000) as usize).copied();
        for i in 0..100u32 {
            assert!(d.insert(keys[i as usize], i, key_of));
        }
        let k = keys[42];
        assert!(d.replace(&keys[43], 43, 1043), "memo of another key");
        assert!(d.replace(&k, 42, 1042));
        assert!(!d.replace(&k, 42, 1042), "slot 42 no longer listed");
        assert_eq!(d.get(&k, key_of), Some(1042));
        assert_eq!(d.get(&keys[43], key_of), Some(1043));
        assert_eq!(d.get(&keys[41], key_of), Some(41));
        assert_eq!(d.len(), 100);
        assert!(d.replace(&k, 1042, 42));
        assert_eq!(d.get(&k, key_of), Some(42));
        assert!(d.remove(&k, 42));
        assert_eq!(d.get(&k, key_of), None);
    }

    #[test]
    fn the_hash_memo_only_serves_the_key_it_was_computed_for() {
        let mut d = Demux::new(3, 4);
        let a = FlowKey::new(sa([192, 0, 2, 2], 80), sa([192, 0, 2, 1], 10000));
        let b = FlowKey::new(sa([192, 0, 2, 2], 80), sa([192, 0, 2, 1], 10001));
        for k in [a, a, b, a, b, b] {
            assert_eq!(d.hash(&k), k.demux_hash(3, 4), "{k:?}");
        }
        // Interleaved lookups of two flows find each its own slot.
        let keys = [a, b];
        let key_of = |i: u32| keys.get(i as usize).copied();
        assert!(d.insert(a, 0, key_of));
        assert!(d.insert(b, 1, key_of));
        for _ in 0..3 {
            assert_eq!(d.get(&a, key_of), Some(0));
            assert_eq!(d.get(&b, key_of), Some(1));
        }
        assert!(d.remove(&b, 1));
        assert_eq!(d.get(&a, key_of), Some(0));
        assert_eq!(d.get(&b, key_of), None);
    }

    #[test]
    fn demux_hash_is_keyed_and_covers_every_field() {
        let k = FlowKey::new(sa([192, 0, 2, 2], 80), sa([192, 0, 2, 1], 10000));
        let h = k.demux_hash(1, 2);
        assert_eq!(h, k.demux_hash(1, 2), "deterministic");
        assert_ne!(h, k.demux_hash(1, 3), "the secret key matters");
        let variants = [
            FlowKey::new(sa([192, 0, 2, 3], 80), sa([192, 0, 2, 1], 10000)),
            FlowKey::new(sa([192, 0, 2, 2], 81), sa([192, 0, 2, 1], 10000)),
            FlowKey::new(sa([192, 0, 2, 2], 80), sa([192, 0, 2, 9], 10000)),
            FlowKey::new(sa([192, 0, 2, 2], 80), sa([192, 0, 2, 1], 10001)),
            FlowKey::new(sa([192, 0, 2, 1], 10000), sa([192, 0, 2, 2], 80)),
        ];
        for v in variants {
            assert_ne!(v.demux_hash(1, 2), h, "{v:?}");
        }
    }

    #[test]
    fn v6_and_v4_mapped_are_distinct_families() {
        let v6: IpAddr = "2001:db8::2"
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(addr_from16(addr16(v6)), v6);
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(addr_from16(addr16(v4)), v4);
        // The mapped form is RFC 4291 §2.5.5.2's, as std builds it.
        assert_eq!(
            addr16(v4),
            Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped().octets()
        );
        let k = FlowKey::new(SocketAddr::new(v4, 1), SocketAddr::new(v4, 2));
        assert!(!k.is_ipv6());
        assert!(FlowKey::new(SocketAddr::new(v6, 1), SocketAddr::new(v6, 2)).is_ipv6());
        // An IPv4-compatible (::a.b.c.d) or other v6 address stays IPv6.
        let compat = IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0x0a00, 1));
        assert_eq!(addr_from16(addr16(compat)), compat);
        // Only the whole ::ffff:0:0/96 prefix is IPv4: a v6 address with
        // ffff in the same place, or anything in its first 80 bits, is not.
        for words in [
            [0x2001, 0xdb8, 0, 0, 0, 0xffff, 0xc000, 0x0201],
            [0, 0, 0, 0, 1, 0xffff, 0xc000, 0x0201],
            [0x100, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201],
            [0, 0, 0, 0, 0, 0xfffe, 0xc000, 0x0201],
            [0, 0, 0, 0, 0, 0x7fff, 0xc000, 0x0201],
        ] {
            let [a, b, c, d, e, f, g, h] = words;
            let near = IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h));
            assert_eq!(addr_from16(addr16(near)), near, "{near}");
            let k = FlowKey::new(SocketAddr::new(near, 1), SocketAddr::new(v4, 2));
            assert!(k.is_ipv6(), "{near}");
            assert_eq!(k.v4_endpoints(), None, "{near}");
        }
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        assert_eq!(
            addr_from16(addr16(mapped)),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))
        );
    }
}
