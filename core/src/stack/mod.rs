//! Many connections: demux, listeners, ICMP, UDP, timers, events. (being written)
