//! Segments as the connection sees them: parsed input and output to be emitted.

use crate::tcp::SeqNum;
use crate::wire::tcp::{TcpFlags, TcpOptions};

/// An incoming segment, already checksum-verified by the stack.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: TcpFlags,
    /// The raw 16-bit window field, not yet scaled.
    pub window: u16,
    pub options: TcpOptions,
    pub payload: &'a [u8],
}

impl Segment<'_> {
    /// SEG.LEN: payload plus one for each of SYN and FIN (RFC 9293 §3.4).
    pub fn seq_len(&self) -> u32 {
        let data = u32::try_from(self.payload.len()).unwrap_or(u32::MAX);
        data.saturating_add(u32::from(self.flags.syn()))
            .saturating_add(u32::from(self.flags.fin()))
    }
}

/// A segment the connection wants sent; the stack writes the headers.
#[derive(Clone, Copy, Debug)]
pub struct OutSegment<'a> {
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: TcpFlags,
    /// The window field to put on the wire (already scaled down).
    pub window: u16,
    pub options: TcpOptions,
    /// Two slices of the send ring; either may be empty.
    pub payload: (&'a [u8], &'a [u8]),
}

impl OutSegment<'_> {
    /// Payload length in bytes.
    pub fn payload_len(&self) -> usize {
        self.payload.0.len() + self.payload.1.len()
    }
}

/// The options of an outgoing segment as the stack's emitters take them:
/// the common cases by value, anything else written to the caller's
/// `TcpOptions` (so the data path never copies a whole `TcpOptions` out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutOptions {
    /// No options.
    None,
    /// Timestamps (TSval, TSecr) only (RFC 7323 §3.2): nearly every segment.
    Timestamps(u32, u32),
    /// Written to the `TcpOptions` passed to `poll_transmit_head`.
    Spilled,
}

/// `OutSegment` with its options as `OutOptions` (the stack's transmit path).
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutHead<'a> {
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: OutOptions,
    pub payload: (&'a [u8], &'a [u8]),
}

impl<'a> OutHead<'a> {
    /// Payload length in bytes.
    pub fn payload_len(&self) -> usize {
        self.payload.0.len() + self.payload.1.len()
    }

    /// The options as `TcpOptions`; `spill` is what `poll_transmit_head` wrote.
    pub fn tcp_options(&self, spill: &TcpOptions) -> TcpOptions {
        match self.options {
            OutOptions::None => TcpOptions::default(),
            OutOptions::Timestamps(val, ecr) => TcpOptions {
                timestamps: Some((val, ecr)),
                ..TcpOptions::default()
            },
            OutOptions::Spilled => *spill,
        }
    }

    /// The whole segment, options included.
    pub fn into_segment(self, spill: &TcpOptions) -> OutSegment<'a> {
        OutSegment {
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            options: self.tcp_options(spill),
            payload: self.payload,
        }
    }
}

/// The segment's checksum did not verify; it was dropped with no effect
/// (`Connection::handle_segment_unverified`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadChecksum;

/// What `handle_segment` did with a segment, for the stack's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentOutcome {
    /// The segment was processed (fully or in part).
    Accepted,
    /// The segment was dropped (unacceptable, duplicate, or not for this state);
    /// any ACK or RST it calls for is queued for `poll_transmit`.
    Dropped,
    /// A SYN arrived for a connection in TIME-WAIT with a sequence number above
    /// the old one (RFC 9293 §3.10.7.4 note, RFC 6191): the stack may reap this
    /// connection and accept the SYN as a new one.
    ReopenFromTimeWait,
}
