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
