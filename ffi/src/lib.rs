//! C ABI for tcpkit (being written).
