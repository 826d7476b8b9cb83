# Sourced by run-kernel.sh and run-rust-tun.sh: the namespace both start
# from. Needs NS (the namespace name) and IN (the `ip netns exec "$NS"`
# prefix) set by the caller, who also deletes the namespace on exit.

# Creates $NS with loopback up and the TUN device tk0 holding the
# documentation-range addresses 192.0.2.1/24 and 2001:db8::1/64.
tun_namespace_up() {
  ip netns add "$NS" || return 1
  "${IN[@]}" ip link set lo up
  "${IN[@]}" ip tuntap add dev tk0 mode tun
  "${IN[@]}" ip addr add 192.0.2.1/24 dev tk0
  "${IN[@]}" ip -6 addr add 2001:db8::1/64 dev tk0 nodad
  "${IN[@]}" ip link set tk0 up
}
